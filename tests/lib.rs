//! Support for the end-to-end tests in `tests/tests/`: where the built binaries are, and AWS's
//! Lambda Runtime Interface Emulator (from the `aws-sam-cli` wheel) for running them as Lambda
//! runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// AWS's documented client_credentials event (`events/pre-token/client-credentials.json`) for
/// `pool_id`, from the machine client `caller`, carrying `token` as `onBehalfOfToken`, asking for
/// one target's scope (the sample's two scopes would be refused as a multi-target token).
pub fn client_credentials_event(pool_id: &str, caller: &str, token: &str) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../events/pre-token/client-credentials.json"))
            .expect("sample event");
    event["userPoolId"] = pool_id.into();
    event["callerContext"]["clientId"] = caller.into();
    event["request"]["scopes"] = serde_json::json!(["cognito-obo/crm"]);
    event["request"]["clientMetadata"]["onBehalfOfToken"] = token.into();
    event
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A binary of the workspace (`make test` builds them first): the debug build, or the one in the
/// target directory's subdirectory `OBO_E2E_PROFILE` (e.g. `release`, or
/// `x86_64-unknown-linux-musl/release`: the deployed build, `make test-rie-release`).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let profile = std::env::var("OBO_E2E_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target.join(profile).join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`; `make test` does it)",
        path.display()
    );
    path
}

/// The Python interpreter of the examples' virtual environment (`make python-examples` makes
/// it under the target directory, with `examples/python/requirements.txt`), or `OBO_PYTHON`.
pub fn example_python() -> PathBuf {
    let path = std::env::var_os("OBO_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("py-examples/bin/python")
    });
    assert!(
        path.is_file(),
        "{} is missing: `make python-examples` installs the Python examples' dependencies (make test does it) or set OBO_PYTHON",
        path.display()
    );
    path
}

/// The Runtime Interface Emulator shipped inside the `aws-sam-cli` wheel
/// (`samcli/local/rapid/aws-lambda-rie-x86_64`), or `OBO_RIE` if set.
pub fn runtime_interface_emulator() -> PathBuf {
    if let Some(path) = std::env::var_os("OBO_RIE") {
        return PathBuf::from(path);
    }
    let out = Command::new("python3")
        .args(["-c", "import samcli, os; print(os.path.dirname(samcli.__file__))"])
        .output()
        .expect("python3 runs");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "x86_64" };
    let path = PathBuf::from(dir).join("local/rapid").join(format!("aws-lambda-rie-{arch}"));
    assert!(
        path.is_file(),
        "AWS's Runtime Interface Emulator was not found: `pip install aws-sam-cli` (make test does it) or set OBO_RIE"
    );
    path
}

/// A Lambda binary running under AWS's Runtime Interface Emulator on a loopback port. The
/// emulator and the function are killed when this is dropped.
pub struct RieFunction {
    // The emulator always serves its internal Runtime API on 127.0.0.1:9001, so one runs at a time.
    _exclusive: std::sync::MutexGuard<'static, ()>,
    child: std::process::Child,
    port: u16,
    log_path: PathBuf,
    _dir: TempDir,
}

impl RieFunction {
    /// Starts `bootstrap` under the emulator with `env` added to the function's environment.
    pub fn start(bootstrap: &Path, env: &[(&str, &str)]) -> Self {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let exclusive = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = TempDir::new("rie");
        let log_path = dir.0.join("output.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let port = free_port();
        let mut command = Command::new(runtime_interface_emulator());
        command
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg(bootstrap)
            .current_dir(&dir.0)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY")
            .env("AWS_SECRET_ACCESS_KEY", "local-only-secret")
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start the Runtime Interface Emulator");
        Self { _exclusive: exclusive, child, port, log_path, _dir: dir }
    }

    /// Invokes the function with `event` and returns the raw response body.
    pub async fn invoke(&self, event: &serde_json::Value) -> String {
        let url = format!("http://127.0.0.1:{}/2015-03-31/functions/function/invocations", self.port);
        let client = reqwest::Client::new();
        for attempt in 0..100 {
            match client.post(&url).body(event.to_string()).send().await {
                Ok(response) => return response.text().await.expect("response body"),
                Err(err) if err.is_connect() && attempt < 99 => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await
                }
                Err(err) => {
                    let mut chain = String::new();
                    let mut source: Option<&dyn std::error::Error> = Some(&err);
                    while let Some(e) = source {
                        chain.push_str(&format!(" / {e}"));
                        source = e.source();
                    }
                    panic!("invoke failed{chain}\n--- output ---\n{}", self.output())
                }
            }
        }
        unreachable!()
    }

    /// Everything the emulator and the function wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for RieFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory under the system's temp dir.
    pub fn new(prefix: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("obo-{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
