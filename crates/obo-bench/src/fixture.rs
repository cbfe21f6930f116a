//! What the measurements share: where the binaries are, a user pool with generated users, the
//! local stack on release binaries, and the events the Lambdas receive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use obo_core::Secret;
use obo_local::cognito::{MintOptions, OBO_CLIENT, PoolConfig, PoolUser, USER_CLIENT};
use obo_local::lambda_host::FunctionConfig;
use obo_local::shared_table::SharedCache;
use obo_local::stack::{Stack, StackOptions, target_scope};
use serde_json::{Value, json};

/// Where the binaries measured are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root (for `cargo bench` and the release profile).
    pub workspace: PathBuf,
    /// Release binaries for this machine (`make bench`: the deployed musl build, `make host-build`):
    /// `pre-token`, `interceptor`, and `examples/hello-lambda`.
    pub bin_dir: PathBuf,
    /// `make build` output (the deployed arm64 musl build): `<name>/bootstrap`.
    pub lambda_dir: PathBuf,
    /// Cargo's target directory (criterion writes under it).
    pub target_dir: PathBuf,
}

impl Paths {
    /// The defaults for a workspace: `target/release`, `target/lambda`, honouring `CARGO_TARGET_DIR`.
    pub fn new(workspace: &Path) -> Self {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        Self {
            workspace: workspace.to_path_buf(),
            bin_dir: target_dir.join("release"),
            lambda_dir: target_dir.join("lambda"),
            target_dir,
        }
    }

    /// A host release binary, or an error saying how to build it.
    pub fn binary(&self, name: &str) -> Result<PathBuf, String> {
        Self::existing(self.bin_dir.join(name), "make host-build")
    }

    /// The hello-world Lambda (an example of package `hello-lambda`).
    pub fn hello_lambda(&self) -> Result<PathBuf, String> {
        Self::existing(self.bin_dir.join("examples/hello-lambda"), "make host-build")
    }

    fn existing(path: PathBuf, build: &str) -> Result<PathBuf, String> {
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{} is missing: `{build}` (make bench does it)", path.display()))
        }
    }
}

/// The name of generated user `i` (`user-00001`, …).
pub fn user_name(i: usize) -> String {
    format!("user-{i:05}")
}

/// The demo pool plus `count` generated users (two organizations, alternating).
pub fn pool(count: usize) -> PoolConfig {
    let mut pool = PoolConfig::demo();
    pool.users.extend((1..=count).map(|i| PoolUser {
        username: user_name(i),
        password: Secret::new(format!("Bench-{i}-pw!")),
        sub: format!("00000000-0000-4000-8000-{i:012}"),
        email: Some(format!("{}@bench.example", user_name(i))),
        groups: vec!["crm-users".into()],
        attributes: BTreeMap::from([(
            "custom:org_id".to_owned(),
            if i % 2 == 0 { "acme" } else { "globex" }.to_owned(),
        )]),
        enabled: true,
    }));
    pool
}

/// The local stack on the release binaries with `users` generated users; the Lambdas keep their
/// production defaults (metrics included).
pub async fn stack(paths: &Paths, users: usize) -> Result<Stack, String> {
    stack_with(paths, users, SharedCache::Off).await
}

/// As [`stack`], with the shared cache tier on `shared` (and two interceptor environments when on).
pub async fn stack_with(paths: &Paths, users: usize, shared: SharedCache) -> Result<Stack, String> {
    let mut options = StackOptions::new(&paths.bin_dir);
    paths.binary("pre-token")?;
    paths.binary("interceptor")?;
    options.pool = pool(users);
    if shared != SharedCache::Off {
        options = options.with_shared_cache(shared);
    }
    Stack::start(options).await.map_err(|e| e.to_string())
}

/// A user access token as Cognito issues it to the gateway's user client (not counted as a
/// sign-in, so request counters show only the on-behalf-of traffic).
pub fn user_token(stack: &Stack, username: &str) -> Result<String, String> {
    stack.cognito.mint_access_token(username, &MintOptions::default())
}

/// The trigger's configuration in the stack (`pre-token` under the Runtime API host).
pub fn trigger_function(stack: &Stack, binary: &Path) -> FunctionConfig {
    FunctionConfig::new("pre-token", binary).envs([
        ("OBO_CALLER_CLIENT_IDS", OBO_CLIENT),
        ("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT),
        ("OBO_SUBJECT_ISSUERS", stack.cognito.issuer()),
        ("OBO_USER_CLAIM_MAP", "org_id=custom:org_id"),
        ("OBO_CLAIM_MAP", "org_id=org_id"),
    ])
}

/// The interceptor's configuration in the stack: `crm` on behalf of users, `weather` passed
/// through, tokens from the Cognito emulator.
pub fn interceptor_function(stack: &Stack, binary: &Path) -> Result<FunctionConfig, String> {
    let secret = stack.cognito.client_secret(OBO_CLIENT).ok_or("the OBO client has no secret")?;
    let targets = json!({
        "crm": {"mode": "obo", "scopes": [target_scope("crm")], "metadata": {"target": "crm"}},
        "weather": {"mode": "passthrough"},
    });
    Ok(FunctionConfig::new("interceptor", binary).envs([
        ("OBO_TARGETS", targets.to_string()),
        ("OBO_TOKEN_ENDPOINT", stack.cognito.token_endpoint()),
        ("OBO_CLIENT_ID", OBO_CLIENT.to_owned()),
        ("OBO_CLIENT_SECRET", secret.expose().to_owned()),
    ]))
}

/// The gateway's REQUEST interceptor input for `tools/call` of `tool` (`<target>___<tool>`).
pub fn tools_call_event(user_token: &str, tool: &str, id: u64) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": {}}});
    json!({
        "interceptorInputVersion": "1.0",
        "mcp": {
            "rawGatewayRequest": {"body": body.to_string()},
            "gatewayRequest": {
                "path": "/mcp",
                "httpMethod": "POST",
                "headers": {
                    "accept": "application/json, text/event-stream",
                    "authorization": format!("Bearer {user_token}"),
                    "content-type": "application/json",
                },
                "body": body,
            }
        }
    })
}

/// Cognito's `TokenGeneration_ClientCredentials` event from the OBO client with `user_token`
/// as `onBehalfOfToken`.
pub fn client_credentials_event(pool_id: &str, user_token: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/pre-token/client-credentials.json"))
            .unwrap_or(Value::Null);
    event["userPoolId"] = json!(pool_id);
    event["callerContext"]["clientId"] = json!(OBO_CLIENT);
    event["request"]["scopes"] = json!([target_scope("crm")]);
    event["request"]["clientMetadata"] = json!({"onBehalfOfToken": user_token, "target": "crm"});
    event
}

/// Whether an interceptor output forwards the request with a minted `Authorization`.
pub fn forwards_with_token(output: &Value) -> bool {
    output["mcp"]["transformedGatewayRequest"]["headers"]["Authorization"]
        .as_str()
        .is_some_and(|v| v.starts_with("Bearer "))
}

/// Peak and current resident memory of a process (`VmHWM`, `VmRSS` in `/proc/<pid>/status`), in
/// bytes.
pub fn memory(pid: u32) -> Result<(u64, u64), String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("pid {pid}: {e}"))?;
    let field = |name: &str| -> Result<u64, String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no {name} for pid {pid}"))
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

/// The `q` quantile (0..=1) of `samples` by the nearest-rank method; 0 when empty.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (q * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut s: Vec<f64> = (1..=100).map(f64::from).rev().collect();
        assert_eq!(
            (quantile(&mut s, 0.5), quantile(&mut s, 0.99), quantile(&mut s, 1.0)),
            (50.0, 99.0, 100.0)
        );
        assert_eq!(quantile(&mut [7.0], 0.99), 7.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
    }

    #[test]
    fn generated_users_are_a_valid_pool() {
        let pool = pool(50);
        pool.validate().unwrap();
        assert_eq!(pool.user(&user_name(50)).unwrap().attributes["custom:org_id"], "acme");
    }

    #[test]
    fn events_have_the_documented_shape() {
        let e = tools_call_event("tok", "crm___whoami", 3);
        assert_eq!(e["mcp"]["gatewayRequest"]["headers"]["authorization"], "Bearer tok");
        assert_eq!(e["mcp"]["gatewayRequest"]["body"]["params"]["name"], "crm___whoami");
        let m2m = client_credentials_event("us-east-1_X", "tok");
        assert_eq!(m2m["triggerSource"], "TokenGeneration_ClientCredentials");
        assert_eq!(m2m["request"]["clientMetadata"]["onBehalfOfToken"], "tok");
        let me = std::process::id();
        let (peak, now) = memory(me).unwrap();
        assert!(peak >= now && now > 0);
    }
}
