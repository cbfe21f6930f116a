//! The demo MCP targets behind the gateway emulator, built on rmcp's Streamable HTTP server:
//!
//! - [`crm`] acts on behalf of users: its tools validate the enriched machine token themselves
//!   (with `obo-target`) and answer with the user and organization they act for;
//! - [`weather`] is a plain (passthrough) target that needs no user identity.
//!
//! Each target records every `Authorization` value it receives ([`AuthorizationLog`]) and, when
//! given a verifier, refuses at the HTTP layer anything but a valid service token for it (a user
//! token sent straight to it included), so `tools/list` works with the gateway's own credential.

pub mod crm;
mod guard;
mod record;
pub mod weather;

use std::sync::Arc;

use axum::Router;
use obo_target::TargetVerifier;
use obo_testkit::TestServer;
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use record::AuthorizationLog;

/// A running demo target on a loopback port; dropping it stops the server and its sessions.
#[derive(Debug)]
pub struct TargetHandle {
    name: &'static str,
    server: TestServer,
    cancel: CancellationToken,
    log: AuthorizationLog,
}

impl TargetHandle {
    /// The target's name (the gateway's tool prefix by convention).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        self.server.url("/mcp")
    }

    /// Every `Authorization` value this target has received.
    pub fn authorizations(&self) -> &AuthorizationLog {
        &self.log
    }
}

impl Drop for TargetHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Serves an rmcp server at `/mcp` behind the recording (and, with a verifier, service-token)
/// guard.
async fn serve<S, F>(name: &'static str, factory: F, verifier: Option<Arc<TargetVerifier>>) -> TargetHandle
where
    S: ServerHandler,
    F: Fn() -> S + Send + Sync + 'static,
{
    let cancel = CancellationToken::new();
    let config = StreamableHttpServerConfig::default().with_cancellation_token(cancel.child_token());
    let service =
        StreamableHttpService::new(move || Ok(factory()), Arc::new(LocalSessionManager::default()), config);
    let log = AuthorizationLog::default();
    let state = guard::Guard { name, log: log.clone(), verifier };
    let router = Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(state, guard::guard));
    let server = TestServer::start(router).await;
    tracing::info!(target_name = %name, url = %server.url("/mcp"), "demo target listening");
    TargetHandle { name, server, cancel, log }
}
