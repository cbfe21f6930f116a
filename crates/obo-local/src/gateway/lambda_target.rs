//! Lambda targets, as AgentCore Gateway calls them: the tool schema comes from the target's
//! configuration (no listing call), and a `tools/call` invokes the function with the tool's
//! arguments as the event and a client context whose `custom` map names the tool
//! (`bedrockAgentCoreToolName`, `<target>___<tool>`) next to the other keys AWS documents. No
//! HTTP header reaches the function: an `Authorization` the interceptor returns is not passed on
//! (AgentCore invokes Lambda targets with its IAM role).
//!
//! The function's answer becomes the tool result: a JSON string as text, any other JSON value as
//! its JSON text; a function error becomes a result with `isError: true` (the gateway's mapping is
//! not documented; this is the emulator's).

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use rmcp::model::{CallToolRequestParams, Tool};
use serde_json::{Value, json};

use super::jsonrpc::{self, INVALID_PARAMS};
use super::routing::PREFIX_SEPARATOR;
use crate::invoke::{Invoke, InvokeError};

/// The gateway id the emulator puts in every client context.
pub const GATEWAY_ID: &str = "obo-local-gateway";

/// A Lambda function behind the gateway, with the tools its target configuration declares.
#[derive(Clone)]
pub struct LambdaTarget {
    /// The function (e.g. a [`crate::lambda_host::LambdaFunction`]).
    pub function: Arc<dyn Invoke>,
    /// The tool schema of the target configuration (names without the target prefix).
    pub tools: Vec<Tool>,
    /// How long one invocation may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for LambdaTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tools.iter().map(|t| t.name.as_ref()).collect();
        f.debug_struct("LambdaTarget").field("tools", &names).field("timeout", &self.timeout).finish()
    }
}

/// The client context of one invocation (`custom` holds strings only, as Lambda's does).
pub fn client_context(tool_name: &str, target: &str, message_id: &Value) -> Value {
    let message_id = match message_id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    json!({"custom": {
        "bedrockAgentCoreMessageVersion": "1.0",
        "bedrockAgentCoreToolName": tool_name,
        "bedrockAgentCoreGatewayId": GATEWAY_ID,
        "bedrockAgentCoreTargetId": target,
        "bedrockAgentCoreAwsRequestId": obo_testkit::tokens::unique_id(),
        "bedrockAgentCoreMcpMessageId": message_id,
    }})
}

/// Invokes `lambda` for one `tools/call` (params already without the target prefix).
pub(crate) async fn call(
    lambda: &LambdaTarget,
    target: &str,
    id: Value,
    params: CallToolRequestParams,
) -> Response {
    let tool_name = format!("{target}{PREFIX_SEPARATOR}{}", params.name);
    if !lambda.tools.iter().any(|t| t.name == params.name) {
        let message = format!("unknown tool {tool_name:?}");
        return jsonrpc::error(id, INVALID_PARAMS, message, Some(json!({"source": "gateway"})));
    }
    let event = Value::Object(params.arguments.unwrap_or_default());
    let context = client_context(&tool_name, target, &id);
    let result = match lambda.function.invoke_with_client_context(event, context, lambda.timeout).await {
        Ok(Value::String(text)) => json!({"content": [{"type": "text", "text": text}], "isError": false}),
        Ok(value) => json!({"content": [{"type": "text", "text": value.to_string()}], "isError": false}),
        Err(InvokeError::Function { error_type, error_message }) => json!({
            "content": [{"type": "text", "text": format!("{error_type}: {error_message}")}],
            "isError": true,
        }),
        Err(other) => json!({"content": [{"type": "text", "text": other.to_string()}], "isError": true}),
    };
    jsonrpc::result(id, result)
}
