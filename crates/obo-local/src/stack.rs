//! The whole local stack, wired as in AWS: the Cognito emulator with the real `pre-token` binary
//! as its trigger, the demo MCP targets, the demo Lambda target `billing`, the real `interceptor`
//! binary (one execution environment, or several the gateway takes turns with), and the gateway
//! emulator in front; optionally the shared cache tier's table in a local DynamoDB-compatible
//! server. Everything listens on loopback ports chosen by the system.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use obo_core::Secret;
use obo_target::{TargetConfig, TargetVerifier};
use serde_json::json;

use crate::cognito::{CognitoEmulator, PoolConfig};
use crate::cognito::{OBO_CLIENT, RESOURCE_SERVER, TOOL_SYNC_CLIENT, USER_CLIENT};
use crate::gateway::{ClientCredentials, GatewayConfig, GatewayHandle, GatewayTarget};
use crate::invoke::{Invoke, RoundRobin};
use crate::lambda_host::{FunctionConfig, LambdaFunction};
use crate::oidc::{API_AUDIENCE, OidcProvider, WEB_CLIENT};
use crate::shared_table::{SharedCache, SharedTable};
use crate::targets::{TargetHandle, crm, weather};

/// Cognito's fixed wait for a trigger.
pub const TRIGGER_DEADLINE: Duration = Duration::from_secs(5);

/// Why the stack did not start.
#[derive(Debug, thiserror::Error)]
#[error("the local stack did not start: {0}")]
pub struct StackError(String);

fn err(what: &str, e: impl std::fmt::Display) -> StackError {
    StackError(format!("{what}: {e}"))
}

/// What to start and how to configure it.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The `pre-token` Lambda binary.
    pub trigger_binary: PathBuf,
    /// The `interceptor` Lambda binary.
    pub interceptor_binary: PathBuf,
    /// The demo Lambda target `billing` (`obo-target`'s example `billing_lambda`).
    pub billing_binary: PathBuf,
    /// Users, app clients and scopes of the emulated pool.
    pub pool: PoolConfig,
    /// Variables added to (or replacing) the trigger's defaults; `{issuer}` in a value stands
    /// for the emulated pool's issuer URL (its port is known only once it runs).
    pub trigger_env: Vec<(String, String)>,
    /// Variables added to (or replacing) the interceptor's defaults; `{issuer}` as above.
    pub interceptor_env: Vec<(String, String)>,
    /// App clients whose user tokens the gateway's authorizer accepts.
    pub gateway_allowed_clients: Vec<String>,
    /// How long the trigger may take (Cognito: 5 s).
    pub trigger_deadline: Duration,
    /// How long the interceptor may take.
    pub interceptor_deadline: Duration,
    /// More on-behalf-of targets, already listening, as `(name, MCP URL)` (e.g. a Python MCP
    /// server): each gets the scope `cognito-obo/<name>` (granted to the on-behalf-of and
    /// tool-sync clients), an `obo` entry in the interceptor's `OBO_TARGETS` and the gateway's
    /// tool-sync credential, like `crm`.
    pub extra_targets: Vec<(String, String)>,
    /// The Cognito emulator's loopback port (0: any free port). A target started before the
    /// stack knows the issuer from it: `http://127.0.0.1:<port>/<poolId>`.
    pub cognito_port: u16,
    /// Users sign in with a standard OpenID provider shaped like Auth0 ([`OidcProvider`]) instead
    /// of the pool: the gateway's authorizer and both Lambdas trust that provider (profile
    /// `auth0`), and the pool only mints the on-behalf-of tokens.
    pub external_idp: bool,
    /// Execution environments of the interceptor (at least 1): each a process of the real
    /// binary with its own cache; the gateway invokes them in turn ([`RoundRobin`]).
    pub interceptor_environments: usize,
    /// The shared cache tier (`OBO_SHARED_CACHE`), off by default.
    pub shared_cache: SharedCache,
}

impl StackOptions {
    /// The demo stack with the Lambda binaries found in `bin_dir` (e.g. `target/debug`).
    pub fn new(bin_dir: &Path) -> Self {
        Self {
            trigger_binary: bin_dir.join("pre-token"),
            interceptor_binary: bin_dir.join("interceptor"),
            billing_binary: bin_dir.join("examples").join("billing_lambda"),
            pool: PoolConfig::demo(),
            trigger_env: Vec::new(),
            interceptor_env: Vec::new(),
            gateway_allowed_clients: vec![USER_CLIENT.to_owned()],
            trigger_deadline: TRIGGER_DEADLINE,
            interceptor_deadline: Duration::from_secs(10),
            extra_targets: Vec::new(),
            cognito_port: 0,
            external_idp: false,
            interceptor_environments: 1,
            shared_cache: SharedCache::Off,
        }
    }

    /// Runs the shared cache tier on the table `mode` says, with two interceptor environments
    /// (at least) so that one serves what the other minted.
    pub fn with_shared_cache(mut self, mode: SharedCache) -> Self {
        self.shared_cache = mode;
        self.interceptor_environments = self.interceptor_environments.max(2);
        self
    }

    /// Users from the local OpenID provider instead of the pool (see [`StackOptions::external_idp`]).
    pub fn with_external_idp(mut self) -> Self {
        self.external_idp = true;
        self
    }

    /// Adds an on-behalf-of target listening at `url` (see [`StackOptions::extra_targets`]).
    pub fn with_target(mut self, name: &str, url: &str) -> Self {
        self.extra_targets.push((name.to_owned(), url.to_owned()));
        self
    }

    /// Sets a trigger variable.
    pub fn trigger_var(mut self, name: &str, value: &str) -> Self {
        self.trigger_env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets an interceptor variable.
    pub fn interceptor_var(mut self, name: &str, value: &str) -> Self {
        self.interceptor_env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running stack; dropping it stops every server and kills its Lambda processes.
pub struct Stack {
    /// The Cognito user-pool emulator.
    pub cognito: CognitoEmulator,
    /// The real `pre-token` binary under the Runtime API host.
    pub trigger: Arc<LambdaFunction>,
    /// The real `interceptor` binary under the Runtime API host (its first execution environment).
    pub interceptor: Arc<LambdaFunction>,
    /// Every execution environment of the interceptor, `interceptor` first.
    pub interceptors: Vec<Arc<LambdaFunction>>,
    /// The shared cache tier's table, when the stack runs the tier.
    pub shared_table: Option<SharedTable>,
    /// The on-behalf-of demo target.
    pub crm: TargetHandle,
    /// The passthrough demo target.
    pub weather: TargetHandle,
    /// The demo Lambda target (`billing_lambda`), which gets its token as the `_obo_token`
    /// argument.
    pub billing: Arc<LambdaFunction>,
    /// The gateway emulator.
    pub gateway: GatewayHandle,
    /// The OpenID provider users sign in with, when it is not the pool.
    pub oidc: Option<OidcProvider>,
}

/// The scope of a target on the demo resource server.
pub fn target_scope(target: &str) -> String {
    format!("{RESOURCE_SERVER}/{target}")
}

/// Adds the scope of target `name` to the demo resource server and grants it to the
/// on-behalf-of and tool-sync clients.
fn grant_target_scope(pool: &mut PoolConfig, name: &str) {
    if let Some(server) = pool.resource_servers.iter_mut().find(|r| r.identifier == RESOURCE_SERVER) {
        server.scopes.push(name.to_owned());
    }
    for client in
        pool.clients.iter_mut().filter(|c| c.client_id == OBO_CLIENT || c.client_id == TOOL_SYNC_CLIENT)
    {
        client.allowed_oauth_scopes.push(target_scope(name));
    }
}

fn with_issuer(vars: &[(String, String)], issuer: &str) -> Vec<(String, String)> {
    vars.iter().map(|(k, v)| (k.clone(), v.replace("{issuer}", issuer))).collect()
}

fn secret_of(cognito: &CognitoEmulator, client: &str) -> Result<Secret, StackError> {
    cognito.client_secret(client).cloned().ok_or_else(|| StackError(format!("client {client} has no secret")))
}

impl Stack {
    /// Starts everything, in dependency order, and waits until the Lambdas are initialised.
    pub async fn start(options: StackOptions) -> Result<Self, StackError> {
        for binary in [&options.trigger_binary, &options.interceptor_binary, &options.billing_binary] {
            if !binary.is_file() {
                return Err(StackError(format!(
                    "{} is missing: build the Lambdas first (`cargo build --workspace --bins` and `cargo build -p obo-target --example billing_lambda`; `make demo` does both)",
                    binary.display()
                )));
            }
        }
        let mut pool = options.pool.clone();
        grant_target_scope(&mut pool, "billing");
        for (name, _) in &options.extra_targets {
            grant_target_scope(&mut pool, name);
        }
        let cognito = CognitoEmulator::start_on(pool, options.cognito_port)
            .await
            .map_err(|e| err("Cognito emulator", e))?;
        let issuer = cognito.issuer().to_owned();
        let shared_table = SharedTable::start(&options.shared_cache, cognito.region())
            .await
            .map_err(|e| err("the shared cache tier's table", e))?;
        // One value for both Lambdas, as the template does: the interceptor's OBO_TARGETS and the
        // trigger's scope groups (each on-behalf-of target's scopes are one group).
        let mut targets = json!({
            "crm": {"mode": "obo", "scopes": [target_scope("crm")], "metadata": {"target": "crm"}},
            "weather": {"mode": "passthrough", "resource_uris": ["weather://"]},
            "admin": {"mode": "deny"},
            "billing": {"mode": "obo", "scopes": [target_scope("billing")], "metadata": {"target": "billing"},
                "deliver": {"argument": obo_core::delivery::TOKEN_ARGUMENT}},
        });
        for (name, _) in &options.extra_targets {
            targets[name] =
                json!({"mode": "obo", "scopes": [target_scope(name)], "metadata": {"target": name}});
        }
        let targets = targets.to_string();
        let oidc = match options.external_idp {
            true => Some(OidcProvider::start().await),
            false => None,
        };
        // With the external provider, it is the one trusted issuer (its profile), in both Lambdas.
        let external: Vec<(String, String)> = match &oidc {
            Some(oidc) => vec![
                ("OBO_SUBJECT_ISSUERS".into(), String::new()),
                ("OBO_ISSUER_PROFILES".into(), oidc.profiles()),
            ],
            None => Vec::new(),
        };

        let trigger = FunctionConfig::new("pre-token", &options.trigger_binary)
            .envs([
                ("OBO_CALLER_CLIENT_IDS", OBO_CLIENT),
                ("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT),
                ("OBO_SUBJECT_ISSUERS", issuer.as_str()),
                ("OBO_USER_CLAIM_MAP", "org_id=custom:org_id"),
                ("OBO_CLAIM_MAP", "org_id=org_id"),
                ("OBO_SCOPE_GROUPS", targets.as_str()),
                ("AWS_ENDPOINT_URL", cognito.base_url().as_str()),
            ])
            .envs(external.clone())
            .envs(with_issuer(&options.trigger_env, &issuer));
        let trigger = Arc::new(LambdaFunction::start(trigger).await.map_err(|e| err("pre-token", e))?);
        trigger.ready(options.trigger_deadline).await.map_err(|e| err("pre-token cold start", e))?;
        cognito.set_trigger(Some(trigger.clone() as Arc<dyn Invoke>));

        let crm_verifier = TargetConfig::new(&issuer, OBO_CLIENT, &target_scope("crm"))
            .map_err(|e| err("crm configuration", e))?
            .with_service_clients([TOOL_SYNC_CLIENT]);
        let crm_verifier = Arc::new(TargetVerifier::new(crm_verifier).map_err(|e| err("crm verifier", e))?);
        let crm = crm::start(crm_verifier).await;
        let weather = weather::start(None).await;
        let billing = FunctionConfig::new("billing", &options.billing_binary).envs([
            ("BILLING_ISSUER", issuer.clone()),
            ("BILLING_CLIENT_ID", OBO_CLIENT.to_owned()),
            ("BILLING_SCOPE", target_scope("billing")),
        ]);
        let billing = Arc::new(LambdaFunction::start(billing).await.map_err(|e| err("billing", e))?);
        billing.ready(options.interceptor_deadline).await.map_err(|e| err("billing cold start", e))?;

        let obo_secret = secret_of(&cognito, OBO_CLIENT)?;
        let interceptor = FunctionConfig::new("interceptor", &options.interceptor_binary)
            .envs([
                ("OBO_TARGETS", targets.clone()),
                ("OBO_DEFAULT_MODE", "deny".to_owned()),
                ("OBO_TOKEN_ENDPOINT", cognito.token_endpoint()),
                ("OBO_CLIENT_ID", OBO_CLIENT.to_owned()),
                ("OBO_CLIENT_SECRET", obo_secret.expose().to_owned()),
                ("AWS_ENDPOINT_URL", cognito.base_url()),
            ])
            .envs(external.clone())
            .envs(shared_table.iter().flat_map(SharedTable::interceptor_env))
            .envs(with_issuer(&options.interceptor_env, &issuer));
        // Several environments of one function: the same configuration, one process each.
        let mut interceptors = Vec::new();
        for _ in 0..options.interceptor_environments.max(1) {
            let environment =
                LambdaFunction::start(interceptor.clone()).await.map_err(|e| err("interceptor", e))?;
            interceptors.push(Arc::new(environment));
        }
        for environment in &interceptors {
            environment
                .ready(options.interceptor_deadline)
                .await
                .map_err(|e| err("interceptor cold start", e))?;
        }
        let interceptor = interceptors[0].clone();
        let invoked: Arc<dyn Invoke> =
            Arc::new(RoundRobin::new(interceptors.iter().map(|e| e.clone() as Arc<dyn Invoke>).collect()));

        let tool_sync = |scope: String| -> Result<ClientCredentials, StackError> {
            Ok(ClientCredentials {
                token_url: cognito.token_endpoint(),
                client_id: TOOL_SYNC_CLIENT.to_owned(),
                client_secret: secret_of(&cognito, TOOL_SYNC_CLIENT)?,
                scopes: vec![scope],
            })
        };
        // AgentCore checks allowedClients against client_id: the provider names its client in `azp`,
        // so the gateway checks the audience and a custom claim rule instead (as the template does).
        let gateway = match &oidc {
            Some(oidc) => GatewayConfig::new(oidc.discovery_url())
                .with_allowed_audiences([API_AUDIENCE])
                .with_custom_claim("azp", WEB_CLIENT),
            None => GatewayConfig::new(cognito.discovery_url())
                .with_allowed_clients(options.gateway_allowed_clients.iter().cloned()),
        };
        let mut gateway = gateway
            .with_target(
                GatewayTarget::new("crm", crm.mcp_url()).with_credential(tool_sync(target_scope("crm"))?),
            )
            .with_target(
                GatewayTarget::new("weather", weather.mcp_url())
                    .with_credential(tool_sync(target_scope("weather"))?),
            )
            .with_target(GatewayTarget::lambda(
                "billing",
                billing.clone() as Arc<dyn Invoke>,
                billing_tools(),
            ))
            .with_interceptor(invoked);
        for (name, url) in &options.extra_targets {
            gateway = gateway
                .with_target(GatewayTarget::new(name, url).with_credential(tool_sync(target_scope(name))?));
        }
        gateway.interceptor_timeout = options.interceptor_deadline;
        let gateway = crate::gateway::start(gateway).await.map_err(|e| err("gateway", e))?;
        Ok(Self {
            cognito,
            trigger,
            interceptor,
            interceptors,
            shared_table,
            crm,
            weather,
            billing,
            gateway,
            oidc,
        })
    }

    /// The gateway's MCP endpoint.
    pub fn gateway_url(&self) -> String {
        self.gateway.mcp_url()
    }

    /// Every line the Lambdas wrote, as `(function, line)`.
    pub fn lambda_logs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let functions = std::iter::once(&self.trigger).chain(&self.interceptors).chain([&self.billing]);
        for function in functions {
            out.extend(function.logs().into_iter().map(|line| (function.name().to_owned(), line)));
        }
        out
    }

    /// Stops the Lambda processes (servers stop when the stack is dropped).
    pub async fn shutdown(&self) {
        self.trigger.shutdown().await;
        for environment in &self.interceptors {
            environment.shutdown().await;
        }
        self.billing.shutdown().await;
    }
}

/// The `billing` Lambda target's tool schema, as its gateway target configuration declares it.
/// `_obo_token` is not declared: the model never learns of it (docs/lambda-targets.md).
pub fn billing_tools() -> Vec<rmcp::model::Tool> {
    let tools = json!([
        {"name": "list_invoices", "description": "The invoices of the signed-in user's organisation.",
         "inputSchema": {"type": "object", "properties": {
             "status": {"type": "string", "description": "open or paid (default: open)"}}}},
        {"name": "whoami", "description": "Who the billing target acts for.",
         "inputSchema": {"type": "object", "properties": {}}},
    ]);
    serde_json::from_value(tools).expect("the billing tool schema is valid")
}
