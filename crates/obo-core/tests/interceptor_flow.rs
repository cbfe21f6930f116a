//! The interceptor end to end against a real loopback token endpoint: what it forwards, what
//! it asks the identity provider, and how each identity-provider answer reaches the caller.

mod interceptor_support;

use std::time::{Duration, Instant};

use interceptor_support::*;
use serde_json::json;

#[tokio::test]
async fn obo_target_gets_a_minted_token_that_carries_the_user() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let sub = new_sub();
    let user = idp.user_token(&sub, 3600);
    let event = call_as("crm___get_account", &user);
    let body = event["mcp"]["gatewayRequest"]["body"].clone();

    let out = interceptor.handle(event).await;

    assert_eq!(out["interceptorOutputVersion"], "1.0");
    let request = &out["mcp"]["transformedGatewayRequest"];
    assert_eq!(request["body"], body, "the body is forwarded unchanged");
    assert_eq!(request["headers"].as_object().unwrap().len(), 1, "only Authorization is set");
    assert!(out["mcp"].get("transformedGatewayResponse").is_none());
    let minted = forwarded_token(&out).expect("a bearer token");
    assert_ne!(minted, user);
    assert!(!out.to_string().contains(&user), "the user's token never reaches the output");
    let claims = claims_of(&minted);
    assert_eq!(claims["obo_sub"], json!(sub));
    assert_eq!(claims["client_id"], OBO_CLIENT);
    assert_eq!(claims["scope"], "cognito-obo/crm");

    // What the identity provider was asked: Basic auth (checked there), scope, metadata.
    let seen = idp.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].grant_type, "client_credentials");
    assert_eq!(seen[0].scope.as_deref(), Some("cognito-obo/crm"));
    let metadata = seen[0].metadata.as_ref().unwrap();
    assert_eq!(metadata["onBehalfOfToken"], json!(user));
    assert_eq!(metadata["target"], "crm");
    assert_eq!(metadata.len(), 2);
}

#[tokio::test]
async fn policies_pass_through_deny_and_refuse_unlisted_targets() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);

    // Passthrough: the body only, no headers (the user's token is never echoed).
    let out = interceptor.handle(call_as("weather___forecast", &user)).await;
    assert!(out["mcp"]["transformedGatewayRequest"].get("headers").is_none());
    assert_eq!(out["mcp"]["transformedGatewayRequest"]["body"]["params"]["name"], "weather___forecast");

    // No target: initialize, tools/list, notifications.
    for body in [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    ] {
        let mut event = call_as("crm___x", &user);
        event["mcp"]["gatewayRequest"]["body"] = body.clone();
        let out = interceptor.handle(event).await;
        assert_eq!(out["mcp"]["transformedGatewayRequest"], json!({"body": body}));
    }

    let out = interceptor.handle(call_as("admin___drop", &user)).await;
    assert_eq!(short_circuit(&out), Some((403, "target_denied".into(), false)));

    let out = interceptor.handle(call_as("crmm___get_account", &user)).await;
    assert_eq!(short_circuit(&out), Some((403, "target_unlisted".into(), false)));
    let message = out["mcp"]["transformedGatewayResponse"]["body"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"crmm\""), "the refusal names the missing target: {message}");
    assert_eq!(out["mcp"]["transformedGatewayResponse"]["body"]["id"], 7);
    assert_eq!(idp.calls(), 0);

    let (open, _clock) = idp.interceptor(&[("OBO_DEFAULT_MODE", "passthrough")]).await;
    let out = open.handle(call_as("crmm___get_account", &user)).await;
    assert!(out["mcp"]["transformedGatewayRequest"].get("headers").is_none());
}

#[tokio::test]
async fn http_targets_use_the_first_path_segment() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let sub = new_sub();
    let user = idp.user_token(&sub, 3600);
    let body = base64_encode(br#"{"jsonrpc":"2.0","id":"r-1","method":"tools/call"}"#);
    let event = |path: &str, body: &str| {
        json!({"interceptorInputVersion":"1.0","http":{"gatewayRequest":{
            "path": path, "httpMethod":"POST",
            "headers":{"Content-Type":"application/json","Authorization":format!("Bearer {user}")},
            "body": body}}})
    };

    let out = interceptor.handle(event("/crm/invocations", &body)).await;
    let request = &out["http"]["transformedGatewayRequest"];
    assert_eq!(request["body"], json!(body), "the base64 body is forwarded as it came");
    let minted = request["headers"]["Authorization"].as_str().unwrap().strip_prefix("Bearer ").unwrap();
    assert_eq!(claims_of(minted)["obo_sub"], json!(sub));

    let out = interceptor.handle(event("/admin/invocations", &body)).await;
    assert_eq!(short_circuit(&out), Some((403, "target_denied".into(), false)));
    let out = interceptor.handle(event("/crm/invocations", "not base64!")).await;
    assert_eq!(short_circuit(&out), Some((400, "bad_event".into(), false)));
    let out = interceptor.handle(event("/", &body)).await;
    assert!(out["http"]["transformedGatewayRequest"].get("headers").is_none());
}

#[tokio::test]
async fn the_minted_token_must_carry_the_user() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[("OBO_FAILURE_CACHE_SECONDS", "0")]).await;
    let user = idp.user_token(&new_sub(), 3600);
    for reply in [Reply::WithoutOboSub, Reply::OtherUser, Reply::EchoUserToken] {
        idp.script([reply.clone()]);
        let out = interceptor.handle(call_as("crm___get_account", &user)).await;
        assert_eq!(short_circuit(&out), Some((500, "obo_claims_missing".into(), false)), "{reply:?}");
        assert!(out["mcp"].get("transformedGatewayRequest").is_none(), "nothing is forwarded");
        assert!(!out.to_string().contains(&user));
    }
}

#[tokio::test]
async fn expired_or_missing_user_tokens_never_reach_the_identity_provider() {
    let idp = FakeIdp::start().await;
    let (interceptor, clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 60);
    clock.advance_secs(61);
    let out = interceptor.handle(call_as("crm___get_account", &user)).await;
    assert_eq!(short_circuit(&out), Some((401, "subject_expired".into(), false)));

    let out = interceptor.handle(call("crm___get_account", None)).await;
    assert_eq!(short_circuit(&out), Some((401, "subject_missing".into(), false)));
    let message = out["mcp"]["transformedGatewayResponse"]["body"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("passRequestHeaders"), "{message}");
    assert_eq!(idp.calls(), 0);
}

#[tokio::test]
async fn trigger_failures_map_to_their_reason_or_obo_denied() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[("OBO_FAILURE_CACHE_SECONDS", "0")]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let with_code = "PreTokenGenerationV3_0 failed with error subject_bad_signature: the token's signature does not verify.";
    let cases = [
        (Reply::OAuth("invalid_request", Some(with_code.into())), (401, "subject_bad_signature", false)),
        (Reply::OAuth("invalid_request", None), (403, "obo_denied", false)),
        (Reply::OAuth("invalid_request", Some("something else".into())), (403, "obo_denied", false)),
        (Reply::OAuth("invalid_scope", None), (500, "misconfigured", false)),
    ];
    for (reply, (status, reason, retryable)) in cases {
        let before = idp.calls();
        idp.script([reply]);
        let out = interceptor.handle(call_as("crm___get_account", &user)).await;
        assert_eq!(short_circuit(&out), Some((status, reason.into(), retryable)));
        assert_eq!(idp.calls(), before + 1, "a 400 is never retried");
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_within_the_budget() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[("OBO_FAILURE_CACHE_SECONDS", "0")]).await;
    let user = idp.user_token(&new_sub(), 3600);

    idp.script([Reply::Status(429, None), Reply::Status(500, None)]);
    let out = interceptor.handle(call_as("crm___get_account", &user)).await;
    assert!(forwarded_token(&out).is_some(), "{out}");
    assert_eq!(idp.calls(), 3);

    // Retry-After is honoured.
    idp.script([Reply::Status(429, Some(1))]);
    let started = Instant::now();
    let out = interceptor.handle(call_as("billing___invoice", &user)).await;
    assert!(forwarded_token(&out).is_some());
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(idp.calls(), 5);

    // At most two retries.
    let user2 = idp.user_token(&new_sub(), 3600);
    idp.script([Reply::Status(503, None), Reply::Status(503, None), Reply::Status(503, None)]);
    let out = interceptor.handle(call_as("crm___get_account", &user2)).await;
    assert_eq!(short_circuit(&out), Some((503, "idp_unavailable".into(), true)));
    assert_eq!(idp.calls(), 8);

    // A Retry-After beyond the budget ends the attempts.
    idp.script([Reply::Status(429, Some(30))]);
    let started = Instant::now();
    let out = interceptor.handle(call_as("crm___get_account", &user2)).await;
    assert_eq!(short_circuit(&out), Some((503, "idp_throttled".into(), true)));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(idp.calls(), 9);
}

#[tokio::test]
async fn a_timed_out_attempt_is_not_retried() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[("OBO_ATTEMPT_TIMEOUT_MS", "300")]).await;
    let user = idp.user_token(&new_sub(), 3600);
    idp.script([Reply::Slow(Duration::from_secs(2))]);
    let started = Instant::now();
    let out = interceptor.handle(call_as("crm___get_account", &user)).await;
    assert_eq!(short_circuit(&out), Some((503, "idp_unavailable".into(), true)));
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(idp.calls(), 1);
}

#[tokio::test]
async fn unreachable_endpoints_are_retried_then_reported() {
    let idp = FakeIdp::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let endpoint = format!("http://{closed}/oauth2/token");
    let (interceptor, _clock) = idp.interceptor(&[("OBO_TOKEN_ENDPOINT", &endpoint)]).await;
    let out = interceptor.handle(call_as("crm___get_account", &idp.user_token(&new_sub(), 3600))).await;
    assert_eq!(short_circuit(&out), Some((503, "idp_unavailable".into(), true)));
}

#[tokio::test]
async fn a_wrong_literal_secret_is_reported_as_client_rejected() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[("OBO_CLIENT_SECRET", "wrong")]).await;
    let out = interceptor.handle(call_as("crm___get_account", &idp.user_token(&new_sub(), 3600))).await;
    assert_eq!(short_circuit(&out), Some((500, "idp_client_rejected".into(), false)));
    assert_eq!(idp.calls(), 1, "a literal secret cannot be refetched");
    assert!(!out.to_string().contains("wrong"));
}

#[tokio::test]
async fn the_gateway_may_retry_the_interceptor() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let event = call_as("crm___get_account", &idp.user_token(&new_sub(), 3600));
    let first = interceptor.handle(event.clone()).await;
    let second = interceptor.handle(event).await;
    assert_eq!(first, second);
    assert_eq!(idp.calls(), 1);
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
