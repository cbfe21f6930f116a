//! Cognito pre-token-generation V3 trigger (Lambda, `provided.al2023`, built as `bootstrap`).
//!
//! Thin by design: read and validate configuration once, warm the JWKS cache, then hand every
//! event to [`obo_core::trigger::Trigger`]. The event is taken as raw JSON and parsed by the
//! trigger itself, so a malformed event becomes `bad_event` without quoting its input.
//!
//! Two binaries run this: `pre-token` (no AWS SDK: small, fast cold start) and `pre-token-lookup`
//! (crate `pre-token-lookup`: the same with the `aws` feature, for `OBO_USER_LOOKUP`).

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use obo_core::Rejection;
use obo_core::clock::system_clock;
use obo_core::env::ProcessEnv;
use obo_core::invocation::InvocationContext;
use obo_core::trigger::{Trigger, TriggerConfig};
use serde_json::Value;

/// A rejection as a Lambda function error: `errorType` is the reason code and `errorMessage`
/// starts with it, which is what Cognito shows the caller
/// (`PreTokenGenerationV3_0 failed with error <code>: <message>`).
struct TriggerError(Rejection);

/// Only the code: `lambda_runtime` logs the error's `Debug` at ERROR beside the trigger's own line.
impl std::fmt::Debug for TriggerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.reason.as_str())
    }
}

impl From<TriggerError> for Diagnostic {
    fn from(err: TriggerError) -> Self {
        Diagnostic { error_type: err.0.reason.as_str().to_owned(), error_message: err.0.to_string() }
    }
}

/// Runs the trigger until the Lambda Runtime API goes away.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    obo_core::logging::init();
    let config = match TriggerConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(err) => obo_core::runtime_api::exit_on_config_error(&err).await,
    };
    let trigger = match Trigger::new(config, system_clock()).await {
        Ok(trigger) => trigger,
        Err(err) => obo_core::runtime_api::exit_on_config_error(&err).await,
    };
    trigger.prefetch().await;
    let trigger: &'static Trigger = Box::leak(Box::new(trigger));
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| async move {
        let context = InvocationContext::lambda(&event.context.request_id);
        trigger.handle_invocation(event.payload, context).await.map_err(TriggerError)
    }))
    .await
}
