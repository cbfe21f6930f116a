//! A real MCP client (rmcp, Streamable HTTP) for the demo and the end-to-end tests.

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{ClientInitializeError, RoleClient, RunningService};
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
