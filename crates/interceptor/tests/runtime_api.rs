//! The real `interceptor` binary under a minimal Lambda Runtime API on loopback: it reads its
//! configuration, fetches the client secret from Secrets Manager and mints through
//! `GetClientToken`, both reached through the per-service endpoint overrides
//! (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`); it answers
//! events through the runtime; a configuration error is reported as an init error naming the
//! variable. Its stdout, at TRACE, holds no token or secret.

#[path = "../../obo-core/tests/interceptor_support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use obo_testkit::TestServer;
use serde_json::{Value, json};
use support::aws::FakeAws;
use support::*;

#[derive(Default)]
struct Runtime {
    events: Mutex<VecDeque<Value>>,
    results: Mutex<Vec<(String, String, Value)>>,
}

async fn next(State(rt): State<Arc<Runtime>>) -> Response {
    loop {
        let event = rt.events.lock().unwrap().pop_front();
        if let Some(event) = event {
            let id = obo_testkit::tokens::unique_id();
            let deadline = (obo_testkit::tokens::now_secs() + 30) * 1000;
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:interceptor".parse().unwrap(),
            );
            return (headers, event.to_string()).into_response();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn record(
    State(rt): State<Arc<Runtime>>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> Response {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.results.lock().unwrap().push((id, kind, value));
    axum::http::StatusCode::ACCEPTED.into_response()
}

async fn init_error(State(rt): State<Arc<Runtime>>, body: String) -> Response {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.results.lock().unwrap().push(("init".into(), "error".into(), value));
    axum::http::StatusCode::ACCEPTED.into_response()
}

async fn start_runtime(events: Vec<Value>) -> (TestServer, Arc<Runtime>) {
    let rt = Arc::new(Runtime { events: Mutex::new(events.into()), results: Mutex::default() });
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(record))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(rt.clone());
    (TestServer::start(router).await, rt)
}

fn spawn(runtime: &TestServer, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interceptor"));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime.addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "interceptor")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().expect("start the interceptor binary")
}

async fn wait_for(rt: &Runtime, count: usize) -> Vec<(String, String, Value)> {
    for _ in 0..600 {
        if rt.results.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rt.results.lock().unwrap().clone()
}

fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut out);
    }
    out
}

#[tokio::test]
async fn the_binary_mints_through_the_sdk_with_endpoint_overrides() {
    let idp = FakeIdp::start().await;
    let aws = FakeAws::start("sm-held-secret", "sm-held-secret").await;
    let sub = new_sub();
    let user = idp.user_token(&sub, 3600);
    let (runtime, rt) = start_runtime(vec![
        call_as("crm___get_account", &user),
        call_as("crm___get_account", &user),
        call_as("nowhere___x", &user),
        json!({"not": "an interceptor event"}),
    ])
    .await;
    let env = [
        ("OBO_TARGETS", TARGETS.to_owned()),
        ("OBO_CLIENT_ID", OBO_CLIENT.to_owned()),
        ("OBO_TOKEN_TRANSPORT", "sdk".to_owned()),
        (
            "OBO_CLIENT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:obo-AbCdEf".to_owned(),
        ),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws.url()),
        ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", aws.url()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local-test-key".to_owned()),
    ];
    let child = spawn(&runtime, &env);
    let results = wait_for(&rt, 4).await;
    let logs = stop(child);
    assert_eq!(results.len(), 4, "{results:?}\n{logs}");
    assert!(results.iter().all(|(_, kind, _)| kind == "response"), "{results:?}");

    let first = &results[0].2;
    let minted = forwarded_token(first).expect("a forwarded token");
    assert_eq!(claims_of(&minted)["obo_sub"], json!(sub));
    assert_eq!(forwarded_token(&results[1].2).as_deref(), Some(minted.as_str()), "cached");
    assert_eq!(aws.token_calls(), 1);
    assert_eq!(aws.get_secret_calls(), 1);
    assert_eq!(short_circuit(&results[2].2), Some((403, "target_unlisted".into(), false)));
    assert_eq!(short_circuit(&results[3].2), Some((400, "bad_event".into(), false)));

    assert!(logs.contains("interceptor answered"), "{logs}");
    for secret in [user.as_str(), minted.as_str(), "sm-held-secret"] {
        assert!(!logs.contains(secret), "stdout holds a token or secret:\n{logs}");
    }
    for part in user.split('.').chain(minted.split('.')) {
        assert!(!logs.contains(part), "stdout holds part of a token");
    }
}

#[tokio::test]
async fn a_configuration_error_is_an_init_error_naming_the_variable() {
    let (runtime, rt) = start_runtime(vec![]).await;
    let env = [("OBO_TARGETS", r#"{"crm":{"mode":"obo"}}"#.to_owned())];
    let mut child = spawn(&runtime, &env);
    let results = wait_for(&rt, 1).await;
    let status = child.wait().expect("the binary exits");
    assert!(!status.success());
    let (_, _, error) = &results[0];
    assert_eq!(error["errorType"], "Runtime.InitError.misconfigured");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("OBO_TARGETS") && message.contains("scopes"), "{message}");
}
