//! A local host for real Lambda binaries: it runs a function's binary as a child process and
//! serves the Lambda Runtime API that `lambda_runtime` speaks, so the binaries deployed to AWS
//! run here unchanged (no Docker, no stand-in for the function).
//!
//! As in Lambda, each execution environment (one process) has its own Runtime API endpoint on
//! loopback and handles one invocation at a time; concurrent invocations wait for it. The host
//! enforces each invocation's deadline (the whole wait counts, as Cognito's 5 s do), stops an
//! environment that times out, crashes or fails its init, and starts a new one for the next
//! invocation (a cold start, as in Lambda). Function errors and crashes come back as
//! [`InvokeError`]s; every line the function writes is captured. Processes never outlive the
//! host: dropping a [`LambdaFunction`] stops its process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), obo_local::invoke::InvokeError> {
//! use std::time::Duration;
//! use obo_local::invoke::Invoke;
//! use obo_local::lambda_host::{FunctionConfig, LambdaFunction};
//!
//! let config = FunctionConfig::new("pre-token", "target/debug/pre-token")
//!     .env("OBO_CALLER_CLIENT_IDS", "obo-m2m");
//! let function = LambdaFunction::start(config).await?;
//! function.ready(Duration::from_secs(10)).await?;
//! let answer = function.invoke(serde_json::json!({"triggerSource": "TokenGeneration_Authentication"}),
//!     Duration::from_secs(5)).await;
//! println!("{answer:?}\n{}", function.logs().join("\n"));
//! # Ok(()) }
//! ```

mod config;
mod environment;
mod logs;
mod runtime_api;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::time::{Instant, timeout_at};

use crate::invoke::{BoxFuture, Invocation, Invoke, InvokeError};
use environment::{Completion, Dispatch, Environment, Status};
use logs::LogBuffer;

pub use config::{FAKE_CREDENTIALS, FunctionConfig};
pub use logs::{LogLine, LogStream};

/// The account id in the functions' ARNs.
const ACCOUNT_ID: &str = "000000000000";

/// Lambda's limit on a synchronous invocation's request and response payloads.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Counts over the function's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// Invocations dispatched to an environment.
    pub invocations: u64,
    /// Invocations answered with a function error.
    pub function_errors: u64,
    /// Invocations that ran past their deadline (their environment was stopped).
    pub timeouts: u64,
    /// Environments that exited on their own or reported an init error.
    pub crashes: u64,
    /// Environments started (the first one, then one per restart).
    pub environments: u64,
}

/// One cold start: how long the runtime took to initialise (spawn → first poll for an event),
/// and how long the function then took to answer its first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdStart {
    /// Spawn to the runtime's first `GET …/invocation/next`.
    pub init: Duration,
    /// The first event: taken by the runtime to answered.
    pub first_invocation: Duration,
}

impl ColdStart {
    /// Spawn to first response, without any time the environment sat idle waiting for an event.
    pub fn total(&self) -> Duration {
        self.init + self.first_invocation
    }
}

#[derive(Default)]
struct StatsInner {
    counts: FunctionStats,
    cold_starts: Vec<ColdStart>,
}

/// What a function shares with its environments.
struct Common {
    name: String,
    arn: String,
    memory_mb: u32,
    logs: LogBuffer,
    stats: Mutex<StatsInner>,
}

impl Common {
    fn stats(&self) -> std::sync::MutexGuard<'_, StatsInner> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, update: impl FnOnce(&mut FunctionStats)) {
        update(&mut self.stats().counts);
    }

    fn platform(&self, line: String) {
        self.logs.push(LogStream::Platform, line);
    }
}

/// One hosted function: its configuration, its current execution environment (if any), its
/// logs and statistics. Share it as `Arc<LambdaFunction>` (it is an [`Invoke`]).
pub struct LambdaFunction {
    config: FunctionConfig,
    common: Arc<Common>,
    /// Serialises invocations: one at a time per environment, as in Lambda.
    turn: tokio::sync::Mutex<()>,
    current: tokio::sync::Mutex<Option<Arc<Environment>>>,
    generations: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for LambdaFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaFunction").field("config", &self.config).finish_non_exhaustive()
    }
}

impl LambdaFunction {
    /// Starts the function's first environment (its init runs in the background; see
    /// [`LambdaFunction::ready`]). Fails only if the binary cannot be started at all.
    pub async fn start(config: FunctionConfig) -> Result<Self, InvokeError> {
        let arn = format!("arn:aws:lambda:{}:{ACCOUNT_ID}:function:{}", config.region, config.name);
        let common = Arc::new(Common {
            name: config.name.clone(),
            arn,
            memory_mb: config.memory_mb,
            logs: LogBuffer::new(),
            stats: Mutex::default(),
        });
        let function = Self {
            config,
            common,
            turn: tokio::sync::Mutex::new(()),
            current: tokio::sync::Mutex::new(None),
            generations: Default::default(),
        };
        function.environment().await?;
        Ok(function)
    }

    /// Waits until the current environment (started if needed) has finished its init and polls
    /// for events; an init error or an exit comes back as [`InvokeError::Crashed`].
    pub async fn ready(&self, timeout: Duration) -> Result<(), InvokeError> {
        let env = self.environment().await?;
        let mut status = env.state.status();
        match tokio::time::timeout(timeout, status.wait_for(|s| *s != Status::Starting)).await {
            Err(_) => Err(InvokeError::Timeout(timeout)),
            Ok(Err(_)) => Err(InvokeError::Crashed("the execution environment went away".into())),
            Ok(Ok(status)) => match &*status {
                Status::Gone(message) => Err(InvokeError::Crashed(message.clone())),
                _ => Ok(()),
            },
        }
    }

    /// The function name.
    pub fn name(&self) -> &str {
        &self.common.name
    }

    /// The function ARN the runtime sees (`arn:aws:lambda:<region>:000000000000:function:<name>`).
    pub fn arn(&self) -> &str {
        &self.common.arn
    }

    /// The process id of the current environment, if one is running.
    pub async fn pid(&self) -> Option<u32> {
        self.current.lock().await.as_ref().filter(|e| e.state.is_alive()).and_then(|e| e.pid())
    }

    /// The Runtime API address of the current environment, if one is running.
    pub async fn runtime_api_addr(&self) -> Option<SocketAddr> {
        self.current.lock().await.as_ref().filter(|e| e.state.is_alive()).map(|e| e.api_addr())
    }

    /// Every captured line's text, in order (stdout, stderr and the host's platform lines).
    pub fn logs(&self) -> Vec<String> {
        self.common.logs.since(0).into_iter().map(|l| l.text).collect()
    }

    /// Every captured line with its stream.
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.common.logs.since(0)
    }

    /// A position in the log, to read what comes after it with [`LambdaFunction::logs_since`].
    pub fn log_mark(&self) -> usize {
        self.common.logs.end()
    }

    /// The lines captured after `mark`.
    pub fn logs_since(&self, mark: usize) -> Vec<LogLine> {
        self.common.logs.since(mark)
    }

    /// New lines as they are captured (to tail a function live).
    pub fn follow_logs(&self) -> broadcast::Receiver<LogLine> {
        self.common.logs.follow()
    }

    /// The function's counters.
    pub fn stats(&self) -> FunctionStats {
        self.common.stats().counts
    }

    /// Every cold start so far, oldest first (one per environment that answered an event).
    pub fn cold_starts(&self) -> Vec<ColdStart> {
        self.common.stats().cold_starts.clone()
    }

    /// Stops the current environment and waits until its process has exited. The next
    /// invocation starts a new one.
    pub async fn shutdown(&self) {
        let env = self.current.lock().await.take();
        if let Some(env) = env {
            let mut status = env.state.status();
            env.state.stop();
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                status.wait_for(|s| matches!(s, Status::Gone(_))),
            )
            .await;
        }
    }

    /// The current environment, or a new one if there is none or it is gone.
    async fn environment(&self) -> Result<Arc<Environment>, InvokeError> {
        let mut current = self.current.lock().await;
        if let Some(env) = current.as_ref().filter(|e| e.state.is_alive()) {
            return Ok(env.clone());
        }
        let generation = self.generations.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let env = Arc::new(Environment::spawn(&self.config, self.common.clone(), generation).await?);
        *current = Some(env.clone());
        Ok(env)
    }

    /// Stops `env` and forgets it if it is still the current one.
    async fn retire(&self, env: &Environment) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|c| c.state.generation == env.state.generation) {
            *current = None;
        }
        env.state.stop();
    }

    async fn run(
        &self,
        event: Value,
        client_context: Option<&Value>,
        deadline: Duration,
    ) -> Result<Value, InvokeError> {
        let until = Instant::now() + deadline;
        let body = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        if body.len() > MAX_PAYLOAD_BYTES {
            return Err(InvokeError::Function {
                error_type: "RequestTooLarge".into(),
                error_message: format!("the event exceeds {MAX_PAYLOAD_BYTES} bytes"),
            });
        }
        let Ok(_turn) = timeout_at(until, self.turn.lock()).await else {
            return Err(InvokeError::Timeout(deadline));
        };
        let env = match timeout_at(until, self.environment()).await {
            Ok(env) => env?,
            Err(_) => return Err(InvokeError::Timeout(deadline)),
        };
        let id = obo_testkit::tokens::unique_id();
        let remaining = until.saturating_duration_since(Instant::now());
        let dispatch = Dispatch {
            id: id.clone(),
            body,
            deadline_epoch_ms: epoch_millis() + remaining.as_millis() as u64,
            trace_id: trace_id(),
            client_context: client_context.map(Value::to_string),
        };
        self.common.count(|c| c.invocations += 1);
        let reply = env.state.dispatch(dispatch)?;
        self.common.platform(format!("START RequestId: {id} Version: $LATEST"));
        match timeout_at(until, reply).await {
            Ok(Ok(completion)) => self.finish(&id, completion),
            Ok(Err(_)) => Err(InvokeError::Crashed("the execution environment went away".into())),
            Err(_) => {
                env.state.abandon(&id);
                self.retire(&env).await;
                self.common.count(|c| c.timeouts += 1);
                self.common
                    .platform(format!("{id} Task timed out after {:.2} seconds", deadline.as_secs_f64()));
                Err(InvokeError::Timeout(deadline))
            }
        }
    }

    /// Records an answered invocation (platform lines, counters, cold start).
    fn finish(&self, id: &str, completion: Completion) -> Result<Value, InvokeError> {
        let Completion { result, handler, cold_start_init } = completion;
        let handler = handler.unwrap_or_default();
        {
            let mut stats = self.common.stats();
            if matches!(result, Err(InvokeError::Function { .. })) {
                stats.counts.function_errors += 1;
            }
            if let Some(init) = cold_start_init {
                stats.cold_starts.push(ColdStart { init, first_invocation: handler });
            }
        }
        let init = cold_start_init
            .map(|d| format!("\tInit Duration: {:.2} ms", d.as_secs_f64() * 1000.0))
            .unwrap_or_default();
        self.common.platform(format!("END RequestId: {id}"));
        self.common.platform(format!(
            "REPORT RequestId: {id}\tDuration: {:.2} ms\tMemory Size: {} MB{init}",
            handler.as_secs_f64() * 1000.0,
            self.common.memory_mb
        ));
        result
    }
}

impl Invoke for LambdaFunction {
    /// Runs one invocation; `deadline` covers the whole call (queueing and cold start included).
    fn invoke(&self, event: Value, deadline: Duration) -> BoxFuture<'_, Result<Value, InvokeError>> {
        Box::pin(self.run(event, None, deadline))
    }

    /// As [`Invoke::invoke`], with a client context (delivered in `Lambda-Runtime-Client-Context`,
    /// which `lambda_runtime` reads into `Context::client_context`).
    fn invoke_with_client_context(&self, event: Value, context: Value, deadline: Duration) -> Invocation<'_> {
        Box::pin(async move { self.run(event, Some(&context), deadline).await })
    }
}

fn epoch_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// An X-Ray style trace header: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id() -> String {
    let random: String = obo_testkit::tokens::unique_id().chars().filter(char::is_ascii_hexdigit).collect();
    let secs = epoch_millis() / 1000;
    format!("Root=1-{secs:08x}-{};Parent={};Sampled=0", &random[..24], &random[random.len() - 16..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_have_the_xray_shape() {
        let t = trace_id();
        assert!(t.starts_with("Root=1-") && t.ends_with(";Sampled=0"), "{t}");
        assert_eq!(t.len(), "Root=1-".len() + 8 + 1 + 24 + ";Parent=".len() + 16 + ";Sampled=0".len());
    }
}
