//! The AgentCore Gateway emulator: an MCP Streamable HTTP endpoint at `/mcp` that does what
//! AgentCore Gateway does for MCP targets, so the real interceptor Lambda runs as in AWS:
//!
//! - validates the user's bearer token like a `CUSTOM_JWT` authorizer (OIDC discovery URL,
//!   allowed clients / audiences; `401` with `WWW-Authenticate` otherwise);
//! - for every JSON-RPC request, invokes the REQUEST interceptor with the documented input
//!   (`passRequestHeaders: true`, lower-cased header names) and applies its output:
//!   `transformedGatewayRequest` (body, headers; a returned `Authorization` overrides the
//!   target's credential) or `transformedGatewayResponse` (answered as is, no target called);
//! - answers `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` from
//!   a catalog synced with each target's own credential, tool and prompt names prefixed
//!   `<target>___`, resource URIs unprefixed (AgentCore's naming rules); routes `tools/call` and
//!   `prompts/get` by that prefix (removed before forwarding) and `resources/read` by URI;
//! - invokes Lambda targets with the tool's arguments as the event and the documented client
//!   context (`bedrockAgentCoreToolName`, …), never with a header.
//!
//! It answers JSON (never SSE), issues an `Mcp-Session-Id` without enforcing it, and turns an
//! interceptor failure (function error, timeout, crash) into a JSON-RPC error. See
//! `docs/local-gateway.md` for the differences from AgentCore.

mod authorizer;
mod credentials;
mod handler;
mod interceptor;
mod jsonrpc;
mod lambda_target;
mod routing;
mod upstream;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use obo_core::clock::system_clock;
use obo_core::env::ConfigError;
use obo_core::http::{HttpClient, checked_url};
use obo_core::subject::jwks::{KeyStore, KeyStoreSettings};
use obo_testkit::TestServer;

pub use credentials::ClientCredentials;
pub use lambda_target::{GATEWAY_ID, LambdaTarget, client_context};
pub use routing::PREFIX_SEPARATOR;

use crate::invoke::Invoke;

/// A target behind the gateway.
#[derive(Debug, Clone)]
pub struct GatewayTarget {
    /// The name, used as tool prefix (`<name>___<tool>`); must not contain `___`.
    pub name: String,
    /// The target's MCP endpoint (https, or http on loopback).
    pub url: String,
    /// The gateway's own credential for it (tool sync, and calls the interceptor leaves
    /// without `Authorization`); `None` sends no `Authorization`.
    pub credential: Option<ClientCredentials>,
    /// A Lambda target instead of an MCP server (`url` and `credential` then unused).
    pub lambda: Option<LambdaTarget>,
}

impl GatewayTarget {
    /// A target without credential.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self { name: name.into(), url: url.into(), credential: None, lambda: None }
    }

    /// A Lambda target: `function` runs each tool call, `tools` is the target's tool schema.
    pub fn lambda(name: impl Into<String>, function: Arc<dyn Invoke>, tools: Vec<rmcp::model::Tool>) -> Self {
        let lambda = LambdaTarget { function, tools, timeout: Duration::from_secs(30) };
        Self { name: name.into(), url: String::new(), credential: None, lambda: Some(lambda) }
    }

    /// With a client_credentials credential.
    pub fn with_credential(mut self, credential: ClientCredentials) -> Self {
        self.credential = Some(credential);
        self
    }
}

/// The gateway's configuration.
#[derive(Clone)]
pub struct GatewayConfig {
    /// The authorizer's OIDC discovery URL, `<issuer>/.well-known/openid-configuration`.
    pub discovery_url: String,
    /// Accepted `client_id` values of user tokens (AgentCore `allowedClients`).
    pub allowed_clients: Vec<String>,
    /// Accepted `aud` values (AgentCore `allowedAudience`).
    pub allowed_audiences: Vec<String>,
    /// Claims that must have these string values (AgentCore `customClaims`, `STRING` `EQUALS`):
    /// how the client of a provider that names it in `azp` or `cid` is checked.
    pub custom_claims: Vec<(String, String)>,
    /// The targets, in tool-list order.
    pub targets: Vec<GatewayTarget>,
    /// The REQUEST interceptor, if any.
    pub interceptor: Option<Arc<dyn Invoke>>,
    /// How long the interceptor may take.
    pub interceptor_timeout: Duration,
    /// Whether the interceptor sees the request headers (`passRequestHeaders`).
    pub pass_request_headers: bool,
    /// How long one target operation may take (handshake included).
    pub target_timeout: Duration,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("discovery_url", &self.discovery_url)
            .field("allowed_clients", &self.allowed_clients)
            .field("allowed_audiences", &self.allowed_audiences)
            .field("custom_claims", &self.custom_claims)
            .field("targets", &self.targets)
            .field("interceptor", &self.interceptor.is_some())
            .field("interceptor_timeout", &self.interceptor_timeout)
            .field("pass_request_headers", &self.pass_request_headers)
            .field("target_timeout", &self.target_timeout)
            .finish()
    }
}

impl GatewayConfig {
    /// A gateway trusting the issuer of `discovery_url`, with no targets and no interceptor;
    /// headers passed to the interceptor, 10 s interceptor and 30 s target timeouts.
    pub fn new(discovery_url: impl Into<String>) -> Self {
        Self {
            discovery_url: discovery_url.into(),
            allowed_clients: Vec::new(),
            allowed_audiences: Vec::new(),
            custom_claims: Vec::new(),
            targets: Vec::new(),
            interceptor: None,
            interceptor_timeout: Duration::from_secs(10),
            pass_request_headers: true,
            target_timeout: Duration::from_secs(30),
        }
    }

    /// Accepts user tokens of these app clients.
    pub fn with_allowed_clients<I: IntoIterator<Item = S>, S: Into<String>>(mut self, clients: I) -> Self {
        self.allowed_clients.extend(clients.into_iter().map(Into::into));
        self
    }

    /// Accepts user tokens for these audiences (`allowedAudience`).
    pub fn with_allowed_audiences<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        audiences: I,
    ) -> Self {
        self.allowed_audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Requires claim `name` to equal `value` (`customClaims`, `STRING` `EQUALS`).
    pub fn with_custom_claim(mut self, name: &str, value: &str) -> Self {
        self.custom_claims.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a target.
    pub fn with_target(mut self, target: GatewayTarget) -> Self {
        self.targets.push(target);
        self
    }

    /// Sets the REQUEST interceptor.
    pub fn with_interceptor(mut self, interceptor: Arc<dyn Invoke>) -> Self {
        self.interceptor = Some(interceptor);
        self
    }
}

/// Why the gateway could not start or sync.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Listing a target's tools failed.
    #[error("tool sync with target {target} failed: {detail}")]
    ToolSync {
        /// The target.
        target: String,
        /// What went wrong (no credentials in it).
        detail: String,
    },
}

/// A running gateway on a loopback port; dropping it stops it.
pub struct GatewayHandle {
    server: TestServer,
    gateway: Arc<routing::Gateway>,
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle").field("addr", &self.server.addr()).finish_non_exhaustive()
    }
}

impl GatewayHandle {
    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        self.server.url("/mcp")
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Lists every target's tools again (AgentCore's `SynchronizeGatewayTargets`); returns how
    /// many tools the catalog holds. On failure the previous catalog stays.
    pub async fn sync_tools(&self) -> Result<usize, GatewayError> {
        self.gateway.sync_tools().await
    }

    /// The prefixed names of the synced tools.
    pub fn tool_names(&self) -> Vec<String> {
        self.gateway.catalog().tools.iter().map(|t| t.name.to_string()).collect()
    }
}

/// Starts the gateway on a free loopback port: checks the configuration, warms the
/// authorizer's key cache, syncs every target's tools (so targets must be up), then serves.
pub async fn start(config: GatewayConfig) -> Result<GatewayHandle, GatewayError> {
    let http = HttpClient::new(Duration::from_secs(2))
        .map_err(|e| ConfigError::new("http client", e.to_string()))?;
    let clock = system_clock();
    let keys = Arc::new(KeyStore::new(http.clone(), clock.clone(), KeyStoreSettings::default()));
    let authorizer = authorizer::Authorizer::new(
        &config.discovery_url,
        config.allowed_clients,
        config.allowed_audiences,
        config.custom_claims,
        keys,
        clock,
    )?;
    let mut targets: Vec<routing::Target> = Vec::new();
    for target in config.targets {
        let field = format!("targets[{}]", target.name);
        if target.name.is_empty() || target.name.contains(PREFIX_SEPARATOR) {
            return Err(ConfigError::new(
                field,
                format!("a name must be non-empty and without {PREFIX_SEPARATOR}"),
            )
            .into());
        }
        if targets.iter().any(|t| t.name == target.name) {
            return Err(ConfigError::new(field, "is listed twice").into());
        }
        if target.lambda.is_none() {
            checked_url(&target.url).map_err(|e| ConfigError::new(field.clone(), e.to_string()))?;
        }
        let credential = match target.credential {
            Some(c) => Some(
                credentials::TokenProvider::new(c, http.clone()).map_err(|e| ConfigError::new(field, e))?,
            ),
            None => None,
        };
        targets.push(routing::Target {
            name: target.name,
            url: target.url,
            credential,
            lambda: target.lambda,
        });
    }
    let upstream =
        upstream::Upstream::new(config.target_timeout).map_err(|e| ConfigError::new("http client", e))?;
    let gateway = Arc::new(routing::Gateway {
        authorizer,
        targets,
        interceptor: config.interceptor,
        interceptor_timeout: config.interceptor_timeout,
        pass_request_headers: config.pass_request_headers,
        upstream,
        catalog: RwLock::default(),
    });
    gateway.authorizer.prefetch().await;
    gateway.sync_tools().await?;
    let server = TestServer::start(handler::router(gateway.clone())).await;
    tracing::info!(url = %server.url("/mcp"), tools = gateway.catalog().tools.len(), "gateway listening");
    Ok(GatewayHandle { server, gateway })
}
