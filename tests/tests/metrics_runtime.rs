//! The real Lambda binaries, run by the local Runtime API host, write one CloudWatch Embedded
//! Metric Format line per invocation to stdout (the Lambda log stream), beside their JSON logs:
//! the first one counts the cold start, a rejection carries its reason code, and `OBO_METRICS=off`
//! writes none.

use std::time::Duration;

use obo_e2e::binary;
use obo_local::invoke::Invoke;
use obo_local::lambda_host::{FunctionConfig, LambdaFunction, LogStream};
use obo_testkit::RsaSigner;
use obo_testkit::issuer::StaticIssuer;
use obo_testkit::tokens::{User, access_claims, now_secs};
use serde_json::{Map, Value, json};

const POOL: &str = "us-east-1_MetricsPool";
const DEADLINE: Duration = Duration::from_secs(10);

async fn start(name: &str, env: &[(&str, &str)]) -> LambdaFunction {
    let config = FunctionConfig::new(name, binary(name))
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(env.iter().map(|(k, v)| (*k, *v)));
    let function = LambdaFunction::start(config).await.expect("start the function");
    function.ready(DEADLINE).await.expect("cold start");
    function
}

/// The EMF lines on the function's stdout, once `count` have arrived (pipes are read
/// asynchronously).
async fn emf_lines(function: &LambdaFunction, count: usize) -> Vec<Map<String, Value>> {
    let read = || -> Vec<Map<String, Value>> {
        function
            .log_lines()
            .into_iter()
            .filter(|l| l.stream == LogStream::Stdout && l.text.starts_with("{\"_aws\":"))
            .map(|l| serde_json::from_str(&l.text).expect("an EMF line is a JSON object"))
            .collect()
    };
    for _ in 0..100 {
        let lines = read();
        if lines.len() >= count {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {count} EMF lines; the function wrote:\n{}", function.logs().join("\n"))
}

#[tokio::test]
async fn the_trigger_binary_writes_one_emf_line_per_invocation() {
    let key = RsaSigner::generate("k1");
    let idp = StaticIssuer::start(POOL, &[&key]).await;
    let function = start(
        "pre-token",
        &[
            ("OBO_CALLER_CLIENT_IDS", "obo-m2m"),
            ("OBO_SUBJECT_CLIENT_IDS", "user-app"),
            ("OBO_SUBJECT_ISSUERS", &idp.issuer),
        ],
    )
    .await;
    let user = User {
        sub: "11111111-aaaa-4aaa-8aaa-111111111111".into(),
        username: "alice".into(),
        groups: vec![],
        attributes: Default::default(),
    };
    let now = now_secs();
    let good = key.sign(&access_claims(&idp.issuer, "user-app", &user, now - 10, 3600));
    let expired = key.sign(&access_claims(&idp.issuer, "user-app", &user, now - 7200, 3600));
    function
        .invoke(obo_e2e::client_credentials_event(POOL, "obo-m2m", &good), DEADLINE)
        .await
        .expect("enriched");
    function
        .invoke(obo_e2e::client_credentials_event(POOL, "obo-m2m", &expired), DEADLINE)
        .await
        .expect_err("subject_expired");

    let lines = emf_lines(&function, 2).await;
    assert_eq!(lines.len(), 2, "one line per invocation");
    let (first, second) = (&lines[0], &lines[1]);
    assert_eq!(first["_aws"]["CloudWatchMetrics"][0]["Namespace"], "CognitoObo");
    assert!(first["_aws"]["Timestamp"].as_u64().is_some_and(|t| t / 1000 >= now));
    assert_eq!((&first["Function"], &first["Outcome"]), (&json!("pre-token"), &json!("enriched")));
    assert_eq!(first["ColdStarts"], 1);
    assert_eq!(first["JwksFetches"], 1, "the cold start's prefetch");
    assert_eq!((&second["Outcome"], &second["Reason"]), (&json!("rejected"), &json!("subject_expired")));
    assert_eq!((&second["ColdStarts"], &second["Rejections"]), (&json!(0), &json!(1)));
    assert!(!emf_text(&function).contains("11111111-aaaa"), "no user in a metrics line");
    // Each invocation's log line and metrics line come from one summary: same request id, same
    // cold-start flag.
    for (emf, cold_start) in [(first, true), (second, false)] {
        let request_id = emf["function_request_id"].as_str().expect("the request id in the metrics line");
        let log = summary_line(&function, request_id);
        assert_eq!((&log["cold_start"], &log["outcome"]), (&json!(cold_start), &emf["Outcome"]), "{log:?}");
    }
    assert_ne!(first["function_request_id"], second["function_request_id"]);
    let output = function.logs().join("\n");
    for part in good.split('.').chain(expired.split('.')).skip(1) {
        assert!(!output.contains(part), "a token part reached the function's output");
    }
    function.shutdown().await;
}

/// The JSON log line (not the metrics line) whose top-level `function_request_id` is `request_id`.
fn summary_line(function: &LambdaFunction, request_id: &str) -> Map<String, Value> {
    function
        .logs()
        .iter()
        .filter(|l| !l.starts_with("{\"_aws\":"))
        .filter_map(|l| serde_json::from_str::<Map<String, Value>>(l).ok())
        .find(|l| l.get("function_request_id").and_then(Value::as_str) == Some(request_id))
        .unwrap_or_else(|| panic!("no log line of invocation {request_id}: {:?}", function.logs()))
}

/// The EMF lines' raw text.
fn emf_text(function: &LambdaFunction) -> String {
    function.logs().into_iter().filter(|l| l.starts_with("{\"_aws\":")).collect()
}

#[tokio::test]
async fn the_interceptor_binary_writes_emf_lines_unless_metrics_are_off() {
    let targets = r#"{"weather":{"mode":"passthrough"}}"#;
    let call = json!({
        "interceptorInputVersion": "1.0",
        "mcp": {"gatewayRequest": {"path": "/mcp", "httpMethod": "POST", "headers": {},
            "body": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "caller-chosen-7d1e___x", "arguments": {}}}}}
    });
    let function =
        start("interceptor", &[("OBO_TARGETS", targets), ("OBO_METRICS_NAMESPACE", "Team/Obo")]).await;
    function.invoke(call.clone(), DEADLINE).await.expect("a short-circuit answer");
    let lines = emf_lines(&function, 1).await;
    let line = &lines[0];
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Team/Obo");
    assert_eq!((&line["Function"], &line["Target"]), (&json!("interceptor"), &json!("unlisted")));
    assert_eq!((&line["Reason"], &line["ColdStarts"]), (&json!("target_unlisted"), &json!(1)));
    assert!(!emf_text(&function).contains("caller-chosen"));
    function.shutdown().await;

    let off = start("interceptor", &[("OBO_TARGETS", targets), ("OBO_METRICS", "off")]).await;
    off.invoke(call, DEADLINE).await.expect("a short-circuit answer");
    // The log line of the invocation arrives; no EMF line comes with it.
    for _ in 0..100 {
        if off.logs().iter().any(|l| l.contains("interceptor rejected the request")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(off.logs().iter().any(|l| l.contains("interceptor rejected the request")), "{:?}", off.logs());
    assert_eq!(emf_text(&off), "", "OBO_METRICS=off");
    off.shutdown().await;
}
