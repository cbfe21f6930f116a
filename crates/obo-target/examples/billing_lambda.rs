//! `billing`: an AWS Lambda target behind AgentCore Gateway that acts for the user, built on
//! `obo-target` (the local stack's demo Lambda target; docs/lambda-targets.md).
//!
//! The gateway invokes it with the tool's arguments as the event and the tool name in the client
//! context; the interceptor (`"deliver": {"argument": "_obo_token"}`) put a token minted for this
//! target into the arguments. [`TargetVerifier::verify_lambda_call`] checks that token as a header
//! would be checked and hands back the other arguments and the user. The event is never logged:
//! it carries the token.
//!
//! Configuration: `BILLING_ISSUER` (the user pool's issuer), `BILLING_CLIENT_ID` (the
//! on-behalf-of machine client), `BILLING_SCOPE` (this target's own scope).

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use obo_core::env::{ConfigError, Env, ProcessEnv};
use obo_target::{LambdaToolCall, TargetConfig, TargetVerifier};
use serde_json::{Value, json};

fn config() -> Result<TargetConfig, ConfigError> {
    let env = Env::new(&ProcessEnv);
    let required = |name: &str| env.string(name).ok_or_else(|| ConfigError::new(name, "is not set"));
    TargetConfig::new(
        &required("BILLING_ISSUER")?,
        &required("BILLING_CLIENT_ID")?,
        &required("BILLING_SCOPE")?,
    )
}

/// What a tool answers for the verified user: the invoices of the user's organisation.
fn answer(call: &LambdaToolCall) -> Result<Value, Diagnostic> {
    let who = &call.identity;
    let org = who.org_id.as_deref().unwrap_or("-");
    let acting_for = json!({"user": who.user_sub, "username": who.username, "org_id": who.org_id});
    match call.tool.as_str() {
        "list_invoices" => {
            let status = call.arguments.get("status").and_then(Value::as_str).unwrap_or("open");
            Ok(json!({
                "acting_for": acting_for,
                "invoices": [{"id": format!("INV-{org}-0001"), "org_id": org, "status": status}],
            }))
        }
        "whoami" => Ok(json!({"acting_for": acting_for})),
        other => Err(Diagnostic {
            error_type: "unknown_tool".into(),
            error_message: format!("billing has no tool {other:?}"),
        }),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    obo_core::logging::init();
    let verifier = match config().and_then(TargetVerifier::new) {
        Ok(verifier) => verifier,
        Err(err) => obo_core::runtime_api::exit_on_config_error(&err).await,
    };
    verifier.prefetch().await;
    let verifier: &'static TargetVerifier = Box::leak(Box::new(verifier));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (payload, context) = event.into_parts();
        let custom = context.client_context.as_ref().map(|c| &c.custom);
        match verifier.verify_lambda_call(payload, custom).await {
            Ok(call) => {
                tracing::info!(tool = %call.tool, user = %call.identity.user_sub, "billing tool call");
                answer(&call)
            }
            // The reason code is the error type; the message never holds the token.
            Err(rejection) => {
                tracing::warn!(reason = rejection.reason.as_str(), "billing refused the call");
                Err(Diagnostic {
                    error_type: rejection.reason.as_str().into(),
                    error_message: rejection.message,
                })
            }
        }
    }))
    .await
}
