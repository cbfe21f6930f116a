//! One execution environment: a child process running the function's binary, and the Runtime
//! API endpoint that only this process talks to (as in Lambda, where each environment has its
//! own). A new environment gets a new endpoint, so a stale long-poll of a dead process can never
//! take an event meant for its successor.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use obo_testkit::TestServer;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};

use super::logs::LogStream;
use super::{Common, FunctionConfig, runtime_api};
use crate::invoke::InvokeError;

/// An event waiting for the function's next `GET …/invocation/next`.
pub(super) struct Dispatch {
    pub(super) id: String,
    pub(super) body: Bytes,
    pub(super) deadline_epoch_ms: u64,
    pub(super) trace_id: String,
    /// `Lambda-Runtime-Client-Context`: the client context as JSON text, if the caller set one.
    pub(super) client_context: Option<String>,
}

/// How an invocation ended, as seen from inside the environment.
pub(super) struct Completion {
    pub(super) result: Result<Value, InvokeError>,
    /// From the moment the function took the event to its answer, if it took it.
    pub(super) handler: Option<Duration>,
    /// The environment's init duration, on the first invocation it answered (a cold start).
    pub(super) cold_start_init: Option<Duration>,
}

/// Where the environment is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Status {
    /// Spawned; the runtime has not asked for an event yet.
    Starting,
    /// The runtime finished its init and polls for events.
    Ready,
    /// The process exited, was stopped, or reported an init error; the text says which.
    Gone(String),
}

struct InFlight {
    reply: oneshot::Sender<Completion>,
    received_at: Option<Instant>,
}

#[derive(Default)]
struct Mailbox {
    in_flight: HashMap<String, InFlight>,
    init_duration: Option<Duration>,
    answered_once: bool,
    init_error: Option<String>,
    gone: Option<String>,
    stopped_by_host: bool,
}

/// The state shared by the environment's Runtime API handlers, its process watcher and the
/// function that dispatches invocations into it.
pub(super) struct EnvState {
    pub(super) common: Arc<Common>,
    pub(super) generation: u64,
    pid: Option<u32>,
    spawned_at: Instant,
    queue_tx: mpsc::UnboundedSender<Dispatch>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Dispatch>>,
    mailbox: Mutex<Mailbox>,
    status: watch::Sender<Status>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
}

impl EnvState {
    fn mailbox(&self) -> std::sync::MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The runtime's Invoked-Function-Arn.
    pub(super) fn arn(&self) -> &str {
        &self.common.arn
    }

    /// Queues an invocation; fails at once if the environment is already gone.
    pub(super) fn dispatch(&self, dispatch: Dispatch) -> Result<oneshot::Receiver<Completion>, InvokeError> {
        let (tx, rx) = oneshot::channel();
        let mut mailbox = self.mailbox();
        if let Some(gone) = &mailbox.gone {
            return Err(InvokeError::Crashed(gone.clone()));
        }
        mailbox.in_flight.insert(dispatch.id.clone(), InFlight { reply: tx, received_at: None });
        // The receiver lives as long as this state: sending cannot fail.
        let _ = self.queue_tx.send(dispatch);
        Ok(rx)
    }

    /// Forgets an invocation whose caller stopped waiting (its late answer is refused).
    pub(super) fn abandon(&self, id: &str) {
        self.mailbox().in_flight.remove(id);
    }

    /// The next event for the runtime's long-poll, or `None` once the environment is gone.
    pub(super) async fn next_event(&self) -> Option<Dispatch> {
        self.polled();
        let mut status = self.status.subscribe();
        loop {
            let dispatch = tokio::select! {
                d = async { self.queue_rx.lock().await.recv().await } => d?,
                _ = status.wait_for(|s| matches!(s, Status::Gone(_))) => return None,
            };
            let mut mailbox = self.mailbox();
            // An invocation abandoned while queued is skipped.
            if let Some(in_flight) = mailbox.in_flight.get_mut(&dispatch.id) {
                in_flight.received_at = Some(Instant::now());
                return Some(dispatch);
            }
        }
    }

    fn polled(&self) {
        let mut mailbox = self.mailbox();
        if mailbox.init_duration.is_none() && mailbox.gone.is_none() {
            mailbox.init_duration = Some(self.spawned_at.elapsed());
            self.status.send_replace(Status::Ready);
        }
    }

    /// Delivers an answer; `false` if no such invocation is waiting.
    pub(super) fn complete(&self, id: &str, result: Result<Value, InvokeError>) -> bool {
        let mut mailbox = self.mailbox();
        let Some(in_flight) = mailbox.in_flight.remove(id) else {
            return false;
        };
        let cold_start_init = if mailbox.answered_once { None } else { mailbox.init_duration };
        mailbox.answered_once = true;
        drop(mailbox);
        let handler = in_flight.received_at.map(|t| t.elapsed());
        let _ = in_flight.reply.send(Completion { result, handler, cold_start_init });
        true
    }

    /// `POST /runtime/init/error`: the environment is unusable; Lambda stops it.
    pub(super) fn init_failed(&self, error_type: &str, error_message: &str) {
        let message = format!("init error {error_type}: {error_message}");
        self.common.platform(format!("INIT_REPORT Phase: init Status: error Error Type: {error_type}"));
        self.common.count(|c| c.crashes += 1);
        {
            let mut mailbox = self.mailbox();
            mailbox.init_error = Some(message.clone());
        }
        self.gone(message);
        self.stop();
    }

    /// The process ended (on its own, or stopped by the host).
    fn exited(&self, status: std::io::Result<ExitStatus>) {
        let description = match status {
            Ok(status) => format!("Runtime exited with error: {status}"),
            Err(err) => format!("Runtime exited: could not wait for the process ({err})"),
        };
        let (stopped_by_host, init_error) = {
            let mailbox = self.mailbox();
            (mailbox.stopped_by_host, mailbox.init_error.clone())
        };
        if !stopped_by_host {
            self.common.count(|c| c.crashes += 1);
            self.common.platform(format!("RUNTIME_EXIT {description}"));
        }
        self.gone(match init_error {
            Some(init) => format!("{init} ({description})"),
            None => description,
        });
    }

    /// Marks the environment gone and fails every waiting invocation with `message`.
    fn gone(&self, message: String) {
        let waiting: Vec<InFlight> = {
            let mut mailbox = self.mailbox();
            if mailbox.gone.is_some() {
                return;
            }
            mailbox.gone = Some(message.clone());
            mailbox.in_flight.drain().map(|(_, v)| v).collect()
        };
        for in_flight in waiting {
            let handler = in_flight.received_at.map(|t| t.elapsed());
            let result = Err(InvokeError::Crashed(message.clone()));
            let _ = in_flight.reply.send(Completion { result, handler, cold_start_init: None });
        }
        self.status.send_replace(Status::Gone(message));
    }

    /// Stops the process (idempotent).
    pub(super) fn stop(&self) {
        self.mailbox().stopped_by_host = true;
        if let Some(kill) = self.kill.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = kill.send(());
        }
    }

    /// Whether the environment can still take invocations.
    pub(super) fn is_alive(&self) -> bool {
        self.mailbox().gone.is_none()
    }

    /// Watches the status (for waiting until ready or gone).
    pub(super) fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }
}

/// A running environment, owned by its function. Dropping it stops the process and the
/// Runtime API endpoint.
pub(super) struct Environment {
    pub(super) state: Arc<EnvState>,
    api: TestServer,
}

impl Environment {
    /// Starts the Runtime API endpoint, then the process pointed at it.
    pub(super) async fn spawn(
        config: &FunctionConfig,
        common: Arc<Common>,
        generation: u64,
    ) -> Result<Self, InvokeError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| InvokeError::Crashed(format!("could not bind the Runtime API: {e}")))?;
        let api_addr =
            listener.local_addr().map_err(|e| InvokeError::Crashed(format!("Runtime API address: {e}")))?;
        let program = config.program();
        let mut command = Command::new(&program);
        command
            .env_clear()
            .envs(config.variables(api_addr, generation))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = program.parent() {
            command.current_dir(dir);
        }
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| InvokeError::Crashed(format!("could not start {}: {e}", program.display())))?;
        common.count(|c| c.environments += 1);
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (kill_tx, kill_rx) = oneshot::channel();
        let state = Arc::new(EnvState {
            common: common.clone(),
            generation,
            pid: child.id(),
            spawned_at,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            mailbox: Mutex::default(),
            status: watch::channel(Status::Starting).0,
            kill: Mutex::new(Some(kill_tx)),
        });
        if let Some(out) = child.stdout.take() {
            capture(out, LogStream::Stdout, common.clone());
        }
        if let Some(err) = child.stderr.take() {
            capture(err, LogStream::Stderr, common.clone());
        }
        let watcher = state.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            watcher.exited(status);
        });
        let api = TestServer::serve(listener, runtime_api::router(state.clone()));
        Ok(Self { state, api })
    }

    /// The process id, while it runs.
    pub(super) fn pid(&self) -> Option<u32> {
        self.state.pid
    }

    /// The Runtime API endpoint this process talks to.
    pub(super) fn api_addr(&self) -> SocketAddr {
        self.api.addr()
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.state.stop();
    }
}

/// Reads `reader` line by line into the function's log until the process closes it.
fn capture<R: AsyncRead + Unpin + Send + 'static>(reader: R, stream: LogStream, common: Arc<Common>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    common.logs.push(stream, text.trim_end_matches(['\n', '\r']).to_owned());
                }
            }
        }
    });
}
