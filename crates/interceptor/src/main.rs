//! AgentCore Gateway REQUEST interceptor (Lambda, `provided.al2023`, built as `bootstrap`).
//!
//! Thin by design: read and validate configuration once, fetch the client secret, then hand every
//! event to [`obo_core::interceptor::Interceptor`]. The event is taken as raw JSON text and
//! parsed by the interceptor itself, so a malformed event becomes a `bad_event` answer without
//! quoting its input, and bodies reach the target byte for byte (never through a
//! `serde_json::Value`, which cannot hold every JSON number). The handler never fails: every
//! rejection is a short-circuit answer for the gateway.

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use obo_core::clock::system_clock;
use obo_core::env::ProcessEnv;
use obo_core::interceptor::{Interceptor, InterceptorConfig};
use obo_core::invocation::InvocationContext;
use serde_json::value::RawValue;

// The deployed build is static musl (its setenv does not leak under lambda_runtime); musl's own
// allocator is slow on the hot path, hence mimalloc (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    obo_core::logging::init();
    let config = match InterceptorConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(err) => obo_core::runtime_api::exit_on_config_error(&err).await,
    };
    // Boxed: the SDK loading futures nest deeply enough to overflow the layout query depth.
    let interceptor = match Box::pin(Interceptor::new(config, system_clock())).await {
        Ok(interceptor) => interceptor,
        Err(err) => obo_core::runtime_api::exit_on_config_error(&err).await,
    };
    interceptor.prefetch().await;
    let interceptor: &'static Interceptor = Box::leak(Box::new(interceptor));
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        let context = InvocationContext::lambda(&event.context.request_id);
        let out = interceptor.handle_invocation(event.payload.get(), context).await;
        // The interceptor always writes valid JSON; `null` only guards the impossible case.
        Ok::<Box<RawValue>, Infallible>(
            RawValue::from_string(out).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }))
    .await
}
