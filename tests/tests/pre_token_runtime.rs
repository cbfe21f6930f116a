//! The real `pre-token` binary under AWS's own Runtime Interface Emulator: it speaks the Lambda
//! Runtime API, reports rejections as function errors led by the reason code, reports
//! configuration errors at cold start, and at TRACE never logs a token.

use obo_e2e::{RieFunction, binary};
use obo_testkit::RsaSigner;
use obo_testkit::issuer::StaticIssuer;
use obo_testkit::tokens::{User, access_claims, now_secs};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_E2ePool";

fn alice() -> User {
    User {
        sub: "11111111-aaaa-4aaa-8aaa-111111111111".into(),
        username: "alice".into(),
        groups: vec!["crm-users".into()],
        attributes: Default::default(),
    }
}

#[tokio::test]
async fn the_trigger_answers_through_the_runtime_api_and_never_logs_tokens() {
    let key = RsaSigner::generate("k1");
    let idp = StaticIssuer::start(POOL, &[&key]).await;
    let function = RieFunction::start(
        &binary("pre-token"),
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("RUST_LOG", "trace"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("OBO_CALLER_CLIENT_IDS", "obo-m2m"),
            ("OBO_SUBJECT_CLIENT_IDS", "user-app"),
            ("OBO_SUBJECT_ISSUERS", &idp.issuer),
        ],
    );
    let now = now_secs();
    let good = key.sign(&access_claims(&idp.issuer, "user-app", &alice(), now - 10, 3600));
    let expired = key.sign(&access_claims(&idp.issuer, "user-app", &alice(), now - 7200, 3600));

    let ok: Value = serde_json::from_str(
        &function.invoke(&obo_e2e::client_credentials_event(POOL, "obo-m2m", &good)).await,
    )
    .unwrap();
    let added =
        &ok["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"];
    assert_eq!(added["obo_sub"], "11111111-aaaa-4aaa-8aaa-111111111111", "{ok}");

    let rejected: Value = serde_json::from_str(
        &function.invoke(&obo_e2e::client_credentials_event(POOL, "obo-m2m", &expired)).await,
    )
    .unwrap();
    assert_eq!(rejected["errorType"], "subject_expired", "{rejected}");
    assert!(rejected["errorMessage"].as_str().unwrap().starts_with("subject_expired: "), "{rejected}");

    let odd = json!({"triggerSource": ["input-value-7f3a"], "request": "input-value-9c1d"});
    let malformed: Value = serde_json::from_str(&function.invoke(&odd).await).unwrap();
    assert_eq!(malformed["errorType"], "bad_event", "{malformed}");
    assert!(
        !malformed.to_string().contains("input-value"),
        "the error does not quote the input: {malformed}"
    );

    let output = function.output();
    assert!(output.contains("pre-token trigger answered"), "{output}");
    for token in [&good, &expired] {
        for part in token.split('.').skip(1) {
            assert!(!output.contains(part), "a token part reached the function's output");
        }
    }
}

#[tokio::test]
async fn a_configuration_error_stops_the_cold_start_naming_the_variable() {
    let function = RieFunction::start(&binary("pre-token"), &[("OBO_LEEWAY_SECONDS", "9999")]);
    let answer = function.invoke(&json!({})).await;
    let output = function.output();
    assert!(
        answer.contains("OBO_LEEWAY_SECONDS") || output.contains("OBO_LEEWAY_SECONDS"),
        "answer: {answer}\noutput: {output}"
    );
    assert!(output.contains("\"reason\":\"misconfigured\"") || output.contains("misconfigured"), "{output}");
}
