//! The smallest useful Lambda function in Rust: AWS's `basic-lambda` example reduced to an echo.
//! `make bench` measures it in the same run as the project's functions, as their floor: what
//! the runtime, tokio and the logging set-up cost before any code of ours runs.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) },
    ))
    .await
}
