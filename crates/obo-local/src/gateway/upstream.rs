//! The gateway's hop to a target, as a real MCP client (rmcp): one short session per operation
//! (initialize, the request, close), carrying exactly the `Authorization` the gateway decided on
//! and any headers the interceptor added.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, header::AUTHORIZATION};
use rmcp::ServiceExt;
use rmcp::model::{ErrorCode, ErrorData, Prompt, Resource, ResourceTemplate, Tool};
use rmcp::service::{Peer, RoleClient, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// Why a target call produced no result.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// The target answered with a JSON-RPC error: passed on to the client as is.
    Mcp(ErrorData),
    /// The target refused the credential (`401`/`403` with this `WWW-Authenticate`).
    Refused(String),
    /// Anything else (unreachable, timed out, not MCP); the text holds no header values.
    Failed(String),
}

/// Everything one target offers.
pub(crate) struct Listing {
    pub(crate) tools: Vec<Tool>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
}

/// A list a target does not implement (`method not found`) is an empty one.
fn optional<T>(listed: Result<Vec<T>, ServiceError>) -> Result<Vec<T>, ServiceError> {
    match listed {
        Err(ServiceError::McpError(e)) if e.code == ErrorCode::METHOD_NOT_FOUND => Ok(Vec::new()),
        other => other,
    }
}

/// A client for the targets.
pub(crate) struct Upstream {
    http: reqwest::Client,
    timeout: Duration,
}

impl Upstream {
    /// A client; `timeout` bounds one whole operation (handshake included).
    pub(crate) fn new(timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // As rmcp's own default client: no idle pooling, which avoids delayed-ACK stalls
            // on reused connections whose previous body was not read to the end.
            .pool_max_idle_per_host(0)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(Self { http, timeout })
    }

    /// What target synchronisation lists at `url`, in one session: tools (required), prompts,
    /// resources and resource templates (empty when the target does not offer them).
    pub(crate) async fn list_all(
        &self,
        url: &str,
        authorization: Option<HeaderValue>,
    ) -> Result<Listing, UpstreamError> {
        self.session(url, authorization, Vec::new(), |client| async move {
            let tools = client.list_all_tools().await?;
            let prompts = optional(client.list_all_prompts().await)?;
            let resources = optional(client.list_all_resources().await)?;
            let templates = optional(client.list_all_resource_templates().await)?;
            Ok(Listing { tools, prompts, resources, templates })
        })
        .await
    }

    /// One request at `url` in a session of its own: `operation` runs on the connected client
    /// (`prompts/get`, `resources/read`, `tools/call`, …).
    pub(crate) async fn session<T, F, Fut>(
        &self,
        url: &str,
        authorization: Option<HeaderValue>,
        headers: Vec<(HeaderName, HeaderValue)>,
        operation: F,
    ) -> Result<T, UpstreamError>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let mut custom: HashMap<HeaderName, HeaderValue> = headers.into_iter().collect();
        if let Some(authorization) = authorization {
            custom.insert(AUTHORIZATION, authorization);
        }
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
        let transport = StreamableHttpClientTransport::with_client(self.http.clone(), config);
        let work = async {
            let client = ().serve(transport).await.map_err(|e| match e.auth_challenge() {
                Some(challenge) => UpstreamError::Refused(challenge.to_owned()),
                None => UpstreamError::Failed(format!("MCP handshake failed: {e}")),
            })?;
            let result = operation(client.peer().clone()).await;
            // Ends the session (DELETE) instead of leaving it to the target's idle timeout.
            let _ = client.cancel().await;
            result.map_err(|e| match e {
                ServiceError::McpError(error) => UpstreamError::Mcp(error),
                other => match other.auth_challenge() {
                    Some(challenge) => UpstreamError::Refused(challenge.to_owned()),
                    None => UpstreamError::Failed(other.to_string()),
                },
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| Err(UpstreamError::Failed(format!("no answer within {:?}", self.timeout))))
    }
}
