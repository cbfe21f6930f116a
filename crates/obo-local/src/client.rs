//! A real MCP client (rmcp, Streamable HTTP) for the demo and the end-to-end tests.

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{ClientInitializeError, RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;

/// A connected MCP client session.
pub type McpClient = RunningService<RoleClient, ()>;

/// Connects to `url`, sending `Authorization: Bearer <token>` when a token is given.
pub async fn connect(url: &str, token: Option<&str>) -> Result<McpClient, ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    ().serve(StreamableHttpClientTransport::from_config(config)).await
}

/// A `tools/call` request for `name` with the JSON object `arguments`.
pub fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let arguments = match arguments {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(arguments)
}

/// The reason code of a refused request: `error.data.reason` of a JSON-RPC error, or of the
/// short-circuit body the client reports as an unexpected HTTP status (the gateway answers a
/// refusal with the status of its reason, e.g. 403).
pub fn refusal_reason(err: &ServiceError) -> Option<String> {
    if let ServiceError::McpError(e) = err {
        return e.data.as_ref()?.get("reason")?.as_str().map(str::to_owned);
    }
    let text = err.to_string();
    let start = text.find(r#""reason":""#)? + r#""reason":""#.len();
    text[start..].split('"').next().map(str::to_owned)
}
