//! AWS Lambda targets of an AgentCore Gateway. The gateway invokes the function with the tool's
//! arguments as the event and names the tool (`<target>___<tool>`) in the client context
//! (`custom["bedrockAgentCoreToolName"]`); no HTTP header reaches it. A target configured in
//! `OBO_TARGETS` with `"deliver": {"argument": "_obo_token"}` gets its on-behalf-of token as the
//! reserved argument `_obo_token`, which the interceptor sets (and removes from every client
//! request).
//!
//! [`TargetVerifier::verify_lambda_call`] takes event and client context apart, verifies the token
//! exactly as [`TargetVerifier::verify_obo`] does for a header, and returns the arguments without
//! the token plus the verified user. Never log the event whole: it carries the token.

use std::collections::HashMap;

use obo_core::delivery::TOKEN_ARGUMENT;
use obo_core::delivery::TOOL_SEPARATOR;
use obo_core::{ReasonCode, Rejection};
use serde_json::{Map, Value};

use crate::verifier::{OboIdentity, TargetVerifier};

/// The client-context key that names the tool (`<target>___<tool>`).
pub const TOOL_NAME_KEY: &str = "bedrockAgentCoreToolName";

/// One verified tool call of a Lambda target.
#[derive(Debug, Clone)]
pub struct LambdaToolCall {
    /// The gateway target the tool was called through (the name's prefix).
    pub target: String,
    /// The tool's own name (after `<target>___`).
    pub tool: String,
    /// The tool's arguments, without `_obo_token`.
    pub arguments: Map<String, Value>,
    /// Who the call acts for.
    pub identity: OboIdentity,
}

fn bad_event(message: &str) -> Rejection {
    Rejection::new(ReasonCode::BadEvent, message)
}

impl TargetVerifier {
    /// Verifies one invocation by the gateway: `event` is the Lambda event (the tool's arguments),
    /// `custom` the client context's `custom` map (`lambda_runtime`:
    /// `context.client_context.as_ref().map(|c| &c.custom)`).
    ///
    /// Refuses, with the reason codes of the header path: a missing tool name or an event that is
    /// not an object (`bad_event`), a missing `_obo_token` (`subject_missing`) or one that is not
    /// a string (`subject_malformed`), and every token [`Self::verify_obo`] refuses. No error
    /// carries the token.
    pub async fn verify_lambda_call(
        &self,
        event: Value,
        custom: Option<&HashMap<String, String>>,
    ) -> Result<LambdaToolCall, Rejection> {
        let name = custom
            .and_then(|c| c.get(TOOL_NAME_KEY))
            .ok_or_else(|| bad_event("the client context names no tool (`bedrockAgentCoreToolName`)"))?;
        let (target, tool) = name
            .split_once(TOOL_SEPARATOR)
            .filter(|(target, tool)| !target.is_empty() && !tool.is_empty())
            .ok_or_else(|| bad_event("the tool name is not `<target>___<tool>`"))?;
        let Value::Object(mut arguments) = event else {
            return Err(bad_event("the event is not a JSON object of tool arguments"));
        };
        let token = match arguments.remove(TOKEN_ARGUMENT) {
            Some(Value::String(token)) => token,
            Some(_) => {
                return Err(Rejection::new(ReasonCode::SubjectMalformed, "`_obo_token` is not a string"));
            }
            None => {
                return Err(Rejection::new(
                    ReasonCode::SubjectMissing,
                    "no `_obo_token` argument: the gateway's interceptor must deliver this target's token as an argument",
                ));
            }
        };
        let identity = self.verify_obo(&token).await?;
        Ok(LambdaToolCall { target: target.to_owned(), tool: tool.to_owned(), arguments, identity })
    }
}
