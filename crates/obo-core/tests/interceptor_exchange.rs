//! The experimental `token-exchange` mode (RFC 8693) against a loopback endpoint, with and
//! without an actor token, and `OBO_VERIFY_INBOUND`.

mod interceptor_support;

use interceptor_support::*;
use serde_json::json;

const EXCHANGE_TARGETS: &str = r#"{
  "docs": {"mode": "token-exchange", "scopes": ["docs/read"], "audience": "docs-api",
           "resource": "https://docs.example.com/", "actor_scopes": ["agent/act"]},
  "wiki": {"mode": "token-exchange", "audience": "wiki-api"}
}"#;

async fn exchange_interceptor(idp: &FakeIdp) -> obo_core::interceptor::Interceptor {
    let extra = [
        ("OBO_TARGETS", EXCHANGE_TARGETS),
        ("OBO_ACTOR_CLIENT_ID", ACTOR_CLIENT),
        ("OBO_ACTOR_CLIENT_SECRET", ACTOR_SECRET),
        ("OBO_FAILURE_CACHE_SECONDS", "0"),
    ];
    idp.interceptor(&extra).await.0
}

#[tokio::test]
async fn token_exchange_keeps_the_user_as_subject_and_names_the_actor() {
    let idp = FakeIdp::start().await;
    let interceptor = exchange_interceptor(&idp).await;
    let (alice, bob) = (new_sub(), new_sub());
    for sub in [&alice, &bob] {
        let user = idp.user_token(sub, 3600);
        let out = interceptor.handle(call_as("docs___search", &user)).await;
        let claims = claims_of(&forwarded_token(&out).expect("forwarded"));
        assert_eq!(claims["sub"], json!(sub));
        assert_eq!(claims["act"], json!({"sub": ACTOR_CLIENT}));
        assert!(!out.to_string().contains(&user));
    }
    let seen = idp.seen();
    assert_eq!(seen.len(), 3, "one actor token, shared by both exchanges");
    assert_eq!(
        (seen[0].client_id.as_str(), seen[0].grant_type.as_str()),
        (ACTOR_CLIENT, "client_credentials")
    );
    assert_eq!(seen[0].scope.as_deref(), Some("agent/act"));
    assert!(seen[0].metadata.is_none(), "the actor token carries no user");
    for exchange in &seen[1..] {
        assert_eq!(exchange.client_id, OBO_CLIENT);
        assert_eq!(exchange.grant_type, TOKEN_EXCHANGE);
        assert_eq!(exchange.scope.as_deref(), Some("docs/read"));
        assert_eq!(exchange.audience.as_deref(), Some("docs-api"));
        assert_eq!(exchange.resource.as_deref(), Some("https://docs.example.com/"));
        assert_eq!(exchange.actor_sub.as_deref(), Some(ACTOR_CLIENT));
    }
    assert_eq!(seen[1].subject_sub.as_deref(), Some(alice.as_str()));
    assert_eq!(seen[2].subject_sub.as_deref(), Some(bob.as_str()));

    let user = idp.user_token(&new_sub(), 3600);
    let out = interceptor.handle(call_as("wiki___page", &user)).await;
    assert!(claims_of(&forwarded_token(&out).unwrap()).get("act").is_none());
    assert_eq!(idp.seen().last().unwrap().actor_sub, None);
}

#[tokio::test]
async fn an_exchanged_token_for_another_subject_is_refused() {
    let idp = FakeIdp::start().await;
    let interceptor = exchange_interceptor(&idp).await;
    let user = idp.user_token(&new_sub(), 3600);
    idp.script([Reply::ExchangeOtherSub]);
    let out = interceptor.handle(call_as("wiki___page", &user)).await;
    assert_eq!(short_circuit(&out), Some((500, "obo_claims_missing".into(), false)));
    idp.script([Reply::OAuth("invalid_grant", None)]);
    let out = interceptor.handle(call_as("wiki___page", &user)).await;
    assert_eq!(short_circuit(&out), Some((403, "obo_denied".into(), false)));
}

#[tokio::test]
async fn an_exchanged_token_without_the_audience_or_scopes_asked_for_is_refused() {
    let idp = FakeIdp::start().await;
    let interceptor = exchange_interceptor(&idp).await;
    // With nothing wrong, the token passes (and the actor token is cached for what follows).
    let user = idp.user_token(&new_sub(), 3600);
    let out = interceptor.handle(call_as("docs___search", &user)).await;
    assert_eq!(claims_of(&forwarded_token(&out).expect("docs"))["aud"], "docs-api");
    // Each reason is obo_claims_missing, and nothing is forwarded.
    for (case, target, reply) in [
        ("aud ignored (audience and scopes asked)", "docs___search", Reply::IgnoreAudience),
        ("aud ignored (audience only asked)", "wiki___page", Reply::IgnoreAudience),
        ("a broader scope than asked", "docs___search", Reply::ExtraScope),
        ("a narrower scope than asked", "docs___search", Reply::MissingScope),
    ] {
        let user = idp.user_token(&new_sub(), 3600);
        idp.script([reply]);
        let out = interceptor.handle(call_as(target, &user)).await;
        assert_eq!(short_circuit(&out), Some((500, "obo_claims_missing".into(), false)), "{case}: {out}");
        assert!(forwarded_token(&out).is_none(), "{case}");
    }
}

#[tokio::test]
async fn verify_inbound_stops_forged_tokens_before_the_identity_provider() {
    let idp = FakeIdp::start().await;
    let extra = [
        ("OBO_VERIFY_INBOUND", "true"),
        ("OBO_SUBJECT_ISSUERS", idp.issuer.as_str()),
        ("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT),
    ];
    let (interceptor, _clock) = idp.interceptor(&extra).await;
    interceptor.prefetch().await;

    let user = idp.user_token(&new_sub(), 3600);
    assert!(forwarded_token(&interceptor.handle(call_as("crm___x", &user)).await).is_some());
    assert_eq!(idp.calls(), 1);

    // Same claims, same kid, another key: a forgery.
    let forger = obo_testkit::RsaSigner::generate("user-1");
    let forged = forger.sign(&claims_of(&user).into());
    for _ in 0..2 {
        let out = interceptor.handle(call_as("crm___x", &forged)).await;
        assert_eq!(short_circuit(&out), Some((401, "subject_bad_signature".into(), false)));
    }
    let mut other_client = claims_of(&user);
    other_client.insert("client_id".into(), json!("some-other-app"));
    let other_client = forger.sign(&other_client.into());
    let out = interceptor.handle(call_as("crm___x", &other_client)).await;
    assert_eq!(short_circuit(&out).unwrap().0, 401);
    assert_eq!(idp.calls(), 1, "no forged token reached the identity provider");
}

/// Two identity providers: the gateway's one `CUSTOM_JWT` authorizer checks only one, so
/// `OBO_VERIFY_INBOUND` is mandatory and covers every request, pass-through targets included.
#[tokio::test]
async fn several_issuers_make_inbound_verification_mandatory_for_every_request() {
    let idp = FakeIdp::start().await;
    let profiles = json!({"https://idp.example.org/": {"profile": "auth0", "audience": "https://crm/api", "clients": ["web"]}})
        .to_string();
    let base = [
        ("OBO_SUBJECT_ISSUERS", idp.issuer.as_str()),
        ("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT),
        ("OBO_ISSUER_PROFILES", profiles.as_str()),
    ];
    let mut env = idp.env();
    env.extend(base.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let err =
        obo_core::interceptor::InterceptorConfig::from_env(&env).expect_err("two providers, no verification");
    assert!(err.to_string().contains("OBO_VERIFY_INBOUND"), "{err}");

    let mut extra = base.to_vec();
    extra.push(("OBO_VERIFY_INBOUND", "true"));
    let (interceptor, _clock) = idp.interceptor(&extra).await;
    let user = idp.user_token(&new_sub(), 3600);
    let forger = obo_testkit::RsaSigner::generate("user-1");
    let forged = forger.sign(&claims_of(&user).into());
    // A pass-through target: the user's token is verified even though nothing is minted.
    let out = interceptor.handle(call_as("weather___now", &user)).await;
    assert!(short_circuit(&out).is_none(), "a valid user passes: {out}");
    let out = interceptor.handle(call_as("weather___now", &forged)).await;
    assert_eq!(short_circuit(&out), Some((401, "subject_bad_signature".into(), false)));
    let out = interceptor.handle(call("weather___now", None)).await;
    assert_eq!(short_circuit(&out).map(|s| s.1), Some("subject_missing".into()));
    assert_eq!(idp.calls(), 0, "nothing minted for pass-through requests");
    // The gateway's own requests (tools/list) too.
    let mut list = call_as("weather___now", &forged);
    let body = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list"});
    list["mcp"]["rawGatewayRequest"]["body"] = json!(body.to_string());
    list["mcp"]["gatewayRequest"]["body"] = body;
    assert_eq!(
        short_circuit(&interceptor.handle(list).await).map(|s| s.1),
        Some("subject_bad_signature".into())
    );
}
