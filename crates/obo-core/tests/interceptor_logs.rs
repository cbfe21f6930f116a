//! At TRACE, with JSON logs, the interceptor's lines carry target, mode, cache status, reason and
//! latency, and never a token, any part of one, the client secret, or a caller-chosen target name.

mod interceptor_support;
mod trace_logs;

use interceptor_support::*;
use obo_core::invocation::InvocationContext;
use serde_json::{Value, json};

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

#[tokio::test]
async fn no_token_or_secret_reaches_the_logs_at_trace() {
    let capture = trace_logs::capture_json_at_trace();

    let idp = FakeIdp::start().await;
    let (interceptor, clock) = idp.interceptor(&[]).await;
    let alice = idp.user_token(&new_sub(), 3600);
    let bob = idp.user_token(&new_sub(), 60);
    let mut minted = Vec::new();

    // Success (a Lambda invocation: its request id is logged), then a cache hit.
    let first = call_as("crm___get_account", &alice).to_string();
    let out = interceptor.handle_invocation(&first, InvocationContext::lambda(REQUEST_ID)).await;
    minted.push(forwarded_token(&serde_json::from_str(&out).unwrap()).unwrap());
    let out = interceptor.handle(call_as("crm___get_account", &alice)).await;
    minted.push(forwarded_token(&out).unwrap());
    // Failures from the identity provider, retried and not.
    let code = "PreTokenGenerationV3_0 failed with error subject_revoked: signed out.";
    idp.script([Reply::Status(500, None), Reply::OAuth("invalid_request", Some(code.into()))]);
    interceptor.handle(call_as("billing___x", &alice)).await;
    idp.script([Reply::WithoutOboSub]);
    interceptor.handle(call_as("crm___x", &bob)).await;
    // Policy and input failures.
    interceptor.handle(call_as("weather___x", &alice)).await;
    interceptor.handle(call_as("admin___x", &alice)).await;
    interceptor.handle(call_as("secret-project___x", &alice)).await;
    interceptor.handle(call(&format!("crm___{alice}"), Some(&format!("Basic {alice}")))).await;
    let mut ambiguous = call_as("crm___x", &alice);
    ambiguous["mcp"]["gatewayRequest"]["headers"]["Authorization"] = json!(format!("Bearer {alice}"));
    interceptor.handle(ambiguous).await;
    clock.advance_secs(120);
    interceptor.handle(call_as("billing___x", &bob)).await;
    // A wrong secret.
    let (wrong, _clock) = idp.interceptor(&[("OBO_CLIENT_SECRET", "wrong-secret-value-42")]).await;
    wrong.handle(call_as("crm___x", &alice)).await;

    // Resource requests: only the URI's scheme is logged.
    let mut read = call_as("crm___x", &alice);
    read["mcp"]["gatewayRequest"]["body"] = json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "crm://accounts/private-acct-42"}});
    interceptor.handle(read).await;

    // An unknown method is refused; a caller-chosen method is logged only when it looks like one.
    let mut odd = call_as("crm___x", &alice);
    odd["mcp"]["gatewayRequest"]["body"] = json!({"jsonrpc": "2.0", "id": 4, "method": format!("x {alice}")});
    interceptor.handle(odd).await;

    let logs = capture.text();
    assert!(logs.contains(r#""uri_scheme":"crm""#), "the scheme is logged");
    let mut forbidden: Vec<String> = vec![
        OBO_SECRET.into(),
        "wrong-secret-value-42".into(),
        "secret-project".into(),
        "private-acct-42".into(),
    ];
    for token in [&alice, &bob].into_iter().chain(&minted) {
        forbidden.push(token.clone());
        // Every part of a token (header, payload, signature) is forbidden on its own too.
        forbidden.extend(token.split('.').filter(|p| p.len() > 16).map(str::to_owned));
    }
    for secret in &forbidden {
        assert!(!logs.contains(secret.as_str()), "the logs hold a secret or token part: {secret}");
    }
    assert!(!logs.contains("Basic "), "no Authorization value is logged");

    let lines: Vec<Value> = logs.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let answered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with("interceptor ")))
        .collect();
    assert_eq!(answered.len(), 13, "one line per invocation:\n{logs}");
    let has = |pred: &dyn Fn(&Value) -> bool| answered.iter().any(|l| pred(l));
    assert!(has(&|l| l["gateway_target"] == "crm"
        && l["mode"] == "obo"
        && l["cache"] == "miss"
        && l["outcome"] == "forwarded"));
    assert!(has(&|l| l["gateway_target"] == "crm" && l["cache"] == "hit" && l["latency_us"].is_u64()));
    assert!(has(&|l| l["gateway_target"] == "billing" && l["reason"] == "subject_revoked"));
    assert!(has(&|l| l["method"] == "-invalid-" && l["reason"] == "method_not_supported"));
    assert!(has(&|l| l["gateway_target"] == "crm" && l["reason"] == "obo_claims_missing"));
    assert!(has(&|l| l["gateway_target"] == "unlisted" && l["reason"] == "target_unlisted"));
    assert!(has(&|l| l["gateway_target"] == "admin" && l["reason"] == "target_denied"));
    assert!(has(&|l| l["reason"] == "subject_ambiguous"));
    assert!(has(&|l| l["reason"] == "subject_expired"));
    assert!(has(&|l| l["reason"] == "idp_client_rejected"));
    assert!(has(&|l| l["outcome"] == "passthrough" && l["gateway_target"] == "weather"));
    assert!(has(&|l| l["gateway_target"] == "crm" && l["cache"] == "miss" && l["idp_attempts"] == 1));
    // Powertools-like keys: the environment's first line says `cold_start` (two interceptors
    // here), and the Lambda request id is a top-level key.
    let cold: Vec<&&Value> = answered.iter().filter(|l| l["cold_start"] == true).collect();
    assert_eq!(cold.len(), 2, "{cold:?}");
    assert!(answered.iter().all(|l| l["cold_start"].is_boolean()));
    assert_eq!(cold[0]["function_request_id"], REQUEST_ID);
    assert_eq!(answered.iter().filter(|l| l.get("function_request_id").is_some()).count(), 1);
    assert!(lines.iter().any(|l| l["message"] == "token request failed"
        && l["idp_status"] == 500
        && l["span"]["gateway_target"] == "billing"));
}
