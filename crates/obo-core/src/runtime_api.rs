//! The one Lambda Runtime API call the runtime crate does not offer: reporting a failed cold
//! start (`POST /2018-06-01/runtime/init/error`), so that a configuration error reaches the
//! caller as `Runtime.InitError` with the variable's name, instead of a bare exit status.

use crate::env::ConfigError;

/// Logs the configuration error, reports it to the Runtime API (when there is one) and exits.
pub async fn exit_on_config_error(err: &ConfigError) -> ! {
    tracing::error!(
        reason = "misconfigured",
        variable = %err.variable,
        problem = %err.problem,
        "cold start failed: invalid configuration"
    );
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        let body = serde_json::json!({
            "errorType": "Runtime.InitError.misconfigured",
            "errorMessage": format!("misconfigured: {err}"),
        });
        let _ = reqwest::Client::new()
            .post(format!("http://{api}/2018-06-01/runtime/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError.misconfigured")
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await;
    }
    std::process::exit(1)
}
