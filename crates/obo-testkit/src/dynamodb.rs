//! A real DynamoDB-compatible server for tests and the local stack: moto's server (PyPI
//! `moto[server]`, pinned in the Makefile's `test-tools`), one process per caller on a free
//! loopback port, stopped when dropped. moto rather than dynalite: it implements the TTL API
//! (`UpdateTimeToLive`) the template relies on, and installs from PyPI beside the SAM CLI the
//! tests already need.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to listen (a cold Python start on a busy machine).
const STARTUP: Duration = Duration::from_secs(60);

/// A running moto server; dropping it stops the process.
#[derive(Debug)]
pub struct LocalDynamoDb {
    child: Child,
    addr: SocketAddr,
}

impl LocalDynamoDb {
    /// Starts `python3 -m moto.server` (or `$OBO_MOTO_PYTHON -m moto.server`) on a free loopback
    /// port and waits until it accepts connections. Panics with the fix if moto is missing.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`LocalDynamoDb::start`], with the failure (and its fix) as an error.
    pub fn try_start() -> Result<Self, String> {
        let python = std::env::var("OBO_MOTO_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let port = {
            let probe =
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind loopback: {e}"))?;
            probe.local_addr().map_err(|e| format!("local addr: {e}"))?.port()
        };
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{python} cannot start: {e}"))?;
        let mut server = Self { child, addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)) };
        let started = Instant::now();
        while TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "moto's server exited ({status}): `make test-tools` installs moto[server] (or set OBO_MOTO_PYTHON)"
                ));
            }
            if started.elapsed() > STARTUP {
                return Err(format!("moto's server did not listen within {STARTUP:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the AWS SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalDynamoDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
