//! Hostile and odd inputs: each gets the documented short-circuit or pass-through, none panics,
//! none leaks the user's token, none reaches the identity provider when it should not.

mod interceptor_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use interceptor_support::*;
use serde_json::{Value, json};

/// Runs `event` and checks the universal rules: an interceptor output of version 1.0, no user
/// token anywhere in it, and either a short-circuit or a forward.
async fn run(interceptor: &obo_core::interceptor::Interceptor, event: Value, user: &str) -> Value {
    let out = interceptor.handle(event).await;
    assert_eq!(out["interceptorOutputVersion"], "1.0", "{out}");
    assert!(!out.to_string().contains(user), "the user's token leaked: {out}");
    out
}

fn expect(out: &Value, status: u64, reason: &str) {
    assert_eq!(short_circuit(out), Some((status, reason.to_owned(), false)), "{out}");
}

fn passes_through_without_headers(out: &Value) {
    let request = &out["mcp"]["transformedGatewayRequest"];
    assert!(request.get("body").is_some(), "{out}");
    assert!(request.get("headers").is_none(), "{out}");
}

#[tokio::test]
async fn malformed_events_are_bad_events() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let cases = [
        json!(null),
        json!("text"),
        json!({"interceptorInputVersion": "1.0"}),
        json!({"interceptorInputVersion": "1.0", "mcp": "x"}),
        json!({"interceptorInputVersion": "1.0", "mcp": {}}),
        json!({"interceptorInputVersion": "1.0", "mcp": {"gatewayRequest": {"headers": "x"}}}),
        json!({"mcp": {"gatewayRequest": {}}, "http": {"gatewayRequest": {}}}),
    ];
    for event in cases {
        let out = run(&interceptor, event, &user).await;
        expect(&out, 400, "bad_event");
    }
    assert_eq!(idp.calls(), 0);
}

#[tokio::test]
async fn bodies_that_are_not_json_rpc_are_refused() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    for body in [
        json!("tools/call crm___x"),
        json!(42),
        json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "crm___x"}}]),
        json!({"id": 1, "method": "tools/call", "params": {"name": "crm___x"}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call"}),
    ] {
        let mut event = call_as("crm___x", &user);
        event["mcp"]["gatewayRequest"]["body"] = body;
        expect(&run(&interceptor, event, &user).await, 400, "bad_event");
    }
    assert_eq!(idp.calls(), 0);
}

#[tokio::test]
async fn tool_names_without_a_target_pass_through() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    for name in ["x_amz_bedrock_agentcore_search", "crm", "___crm", ""] {
        passes_through_without_headers(&run(&interceptor, call_as(name, &user), &user).await);
    }
    let out = run(&interceptor, call_as("unknown___tool", &user), &user).await;
    expect(&out, 403, "target_unlisted");
    let long = format!("{}___x", "a".repeat(5000));
    let out = run(&interceptor, call_as(&long, &user), &user).await;
    expect(&out, 403, "target_unlisted");
    assert!(!out.to_string().contains(&"a".repeat(200)), "an odd name is not echoed");
    assert_eq!(idp.calls(), 0);
}

#[tokio::test]
async fn authorization_headers_are_read_in_any_case_and_strictly() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let with_headers = |headers: Value| {
        let mut event = call("crm___x", None);
        event["mcp"]["gatewayRequest"]["headers"] = headers;
        event
    };
    for name in ["Authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"] {
        let out = run(&interceptor, with_headers(json!({ name: format!("bearer {user}") })), &user).await;
        assert!(forwarded_token(&out).is_some(), "{name}");
    }
    let missing = [
        json!({"authorization": user.clone()}),
        json!({"authorization": format!("Basic {user}")}),
        json!({"authorization": "Bearer "}),
        json!({"authorization": ["Bearer", user.clone()]}),
        json!({"x-authorization": format!("Bearer {user}")}),
        json!({}),
        Value::Null,
    ];
    for headers in missing {
        expect(&run(&interceptor, with_headers(headers), &user).await, 401, "subject_missing");
    }
    let mut event = call("crm___x", None);
    event["mcp"]["gatewayRequest"].as_object_mut().unwrap().remove("headers");
    expect(&run(&interceptor, event, &user).await, 401, "subject_missing");
    let two = json!({"Authorization": format!("Bearer {user}"), "authorization": format!("Bearer {user}")});
    expect(&run(&interceptor, with_headers(two), &user).await, 400, "subject_ambiguous");
    let garbage = json!({"authorization": "Bearer not.a.jwt"});
    expect(&run(&interceptor, with_headers(garbage), &user).await, 401, "subject_malformed");
    let huge = json!({"authorization": format!("Bearer {}", "a".repeat(100_000))});
    expect(&run(&interceptor, with_headers(huge), &user).await, 401, "subject_malformed");
    assert_eq!(idp.calls(), 1, "only the well-formed token reached the identity provider");
}

#[tokio::test]
async fn a_one_megabyte_body_is_forwarded_untouched() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let blob = "x".repeat(1024 * 1024);
    let mut event = call_as("crm___x", &user);
    event["mcp"]["gatewayRequest"]["body"]["params"]["arguments"] = json!({"blob": blob});
    let out = run(&interceptor, event, &user).await;
    assert!(forwarded_token(&out).is_some());
    assert_eq!(
        out["mcp"]["transformedGatewayRequest"]["body"]["params"]["arguments"]["blob"]
            .as_str()
            .unwrap()
            .len(),
        blob.len()
    );
}

#[tokio::test]
async fn http_bodies_must_be_base64() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let event = |body: Value| {
        json!({"interceptorInputVersion":"1.0","http":{"gatewayRequest":{"path":"/crm/invocations",
            "headers":{"authorization":format!("Bearer {user}")},"body":body}}})
    };
    for body in [json!("%%%not base64%%%"), json!("YQ"), json!({"json": "object"}), json!(12)] {
        let out = run(&interceptor, event(body), &user).await;
        let response = &out["http"]["transformedGatewayResponse"];
        assert_eq!(response["statusCode"], 400);
        let decoded: Value =
            serde_json::from_slice(&STANDARD.decode(response["body"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(decoded["error"]["data"]["reason"], "bad_event");
    }
    assert_eq!(idp.calls(), 0);
}

#[tokio::test]
async fn minted_tokens_of_nobody_or_of_another_user_are_never_forwarded() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let alice = idp.user_token(&new_sub(), 3600);
    let bob = idp.user_token(&new_sub(), 3600);
    let carol = idp.user_token(&new_sub(), 3600);
    idp.script([Reply::WithoutOboSub, Reply::OtherUser, Reply::OtherIssuer]);
    expect(&run(&interceptor, call_as("crm___x", &alice), &alice).await, 500, "obo_claims_missing");
    expect(&run(&interceptor, call_as("crm___x", &bob), &bob).await, 500, "obo_claims_missing");
    // The same `sub` at another identity provider is another user: `obo_iss` is checked too.
    let out = run(&interceptor, call_as("crm___x", &carol), &carol).await;
    expect(&out, 500, "obo_claims_missing");
    assert!(forwarded_token(&out).is_none());
}

#[tokio::test]
async fn minted_tokens_for_more_or_less_than_this_target_or_of_another_client_are_never_forwarded() {
    let idp = FakeIdp::start().await;
    let targets = r#"{"crm": {"mode": "obo", "scopes": ["cognito-obo/crm", "cognito-obo/crm.write"]}}"#;
    let (interceptor, _clock) =
        idp.interceptor(&[("OBO_TARGETS", targets), ("OBO_FAILURE_CACHE_SECONDS", "0")]).await;
    let user = idp.user_token(&new_sub(), 3600);
    // Each reason the minted token is not for this target alone: obo_claims_missing, no token out.
    for (case, reply) in [
        ("a scope more than asked (another target's)", Reply::ExtraScope),
        ("a scope fewer than asked", Reply::MissingScope),
        ("another client_id than OBO_CLIENT_ID", Reply::OtherClientId),
    ] {
        idp.script([reply]);
        let out = run(&interceptor, call_as("crm___x", &user), &user).await;
        assert_eq!(short_circuit(&out), Some((500, "obo_claims_missing".into(), false)), "{case}: {out}");
        assert!(forwarded_token(&out).is_none(), "{case}");
    }
    // The same scopes in another order are the same set.
    let out = run(&interceptor, call_as("crm___x", &user), &user).await;
    let claims = claims_of(&forwarded_token(&out).expect("a token for exactly crm's scopes"));
    assert_eq!(claims["scope"], "cognito-obo/crm cognito-obo/crm.write");
}

#[tokio::test]
async fn user_tokens_without_sub_or_exp_are_refused_before_any_request() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let signer = obo_testkit::RsaSigner::generate("k");
    let no_sub = signer.sign(&json!({"exp": obo_testkit::tokens::now_secs() + 600}));
    let no_exp = signer.sign(&json!({"sub": "u"}));
    let text_exp = signer.sign(&json!({"sub": "u", "exp": "soon"}));
    for token in [no_sub, no_exp, text_exp] {
        expect(&run(&interceptor, call_as("crm___x", &token), &token).await, 401, "subject_claim_invalid");
    }
    assert_eq!(idp.calls(), 0);
}
