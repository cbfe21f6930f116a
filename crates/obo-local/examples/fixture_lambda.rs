//! A tiny Lambda function for the Runtime API host's own tests, built on the real
//! `lambda_runtime` so that the host is exercised by the same client the project's binaries use.
//!
//! What it does depends on the event's `action`:
//! - `echo` (default): answers with the event, its pid, timings, the invocation context and the
//!   environment variables named in `vars`;
//! - `error`: a function error `FixtureError` with the event's `message`;
//! - `sleep`: waits `ms` milliseconds, then echoes;
//! - `log`: prints each of `lines` to stdout and to stderr, then echoes;
//! - `exit`: exits the process with `code` (a crash);
//! - `panic`: panics (`lambda_runtime` turns it into a function error).
//!
//! And on its environment: `FIXTURE_INIT=fail` reports an init error the way the project's
//! binaries do (`/runtime/init/error`, then exit); `FIXTURE_INIT=exit` exits without reporting;
//! `FIXTURE_INIT_DELAY_MS` delays the init.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use obo_core::env::ConfigError;
use serde_json::{Map, Value, json};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let started_ms = now_ms();
    let payload = &event.payload;
    let number = |name: &str, default: u64| payload.get(name).and_then(Value::as_u64).unwrap_or(default);
    match payload.get("action").and_then(Value::as_str).unwrap_or("echo") {
        "error" => {
            return Err(Diagnostic {
                error_type: "FixtureError".into(),
                error_message: payload.get("message").and_then(Value::as_str).unwrap_or("failed").into(),
            });
        }
        "sleep" => tokio::time::sleep(Duration::from_millis(number("ms", 100))).await,
        "log" => {
            for line in payload.get("lines").and_then(Value::as_array).into_iter().flatten() {
                let line = line.as_str().unwrap_or_default();
                println!("{line}");
                eprintln!("stderr: {line}");
            }
        }
        "exit" => std::process::exit(number("code", 3) as i32),
        "panic" => panic!("the fixture was asked to panic"),
        _ => {}
    }
    let vars: Map<String, Value> = payload
        .get("vars")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| (name.to_owned(), std::env::var(name).map(Value::String).unwrap_or(Value::Null)))
        .collect();
    let ctx = &event.context;
    Ok(json!({
        "echo": payload,
        "pid": std::process::id(),
        "started_ms": started_ms,
        "ended_ms": now_ms(),
        "context": {
            "request_id": ctx.request_id,
            "deadline": ctx.deadline,
            "invoked_function_arn": ctx.invoked_function_arn,
            "xray_trace_id": ctx.xray_trace_id,
            "function_name": ctx.env_config.function_name,
            "memory": ctx.env_config.memory,
        },
        "vars": vars,
    }))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    match std::env::var("FIXTURE_INIT").as_deref() {
        Ok("fail") => {
            let err = ConfigError::new("FIXTURE_INIT", "the fixture was asked to fail its init");
            obo_core::runtime_api::exit_on_config_error(&err).await
        }
        Ok("exit") => std::process::exit(2),
        _ => {}
    }
    if let Some(ms) = std::env::var("FIXTURE_INIT_DELAY_MS").ok().and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    println!("fixture init done");
    lambda_runtime::run(service_fn(handle)).await
}
