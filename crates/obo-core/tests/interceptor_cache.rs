//! The token cache seen through the interceptor: one exchange per user and target, expiry with
//! skew, single flight, the LRU bound, per-user failure caching and 401 eviction.

mod interceptor_support;

use std::time::Duration;

use interceptor_support::*;
use serde_json::json;

#[tokio::test]
async fn one_user_one_target_is_one_exchange() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let mut tokens = std::collections::HashSet::new();
    for _ in 0..100 {
        let out = interceptor.handle(call_as("crm___get_account", &user)).await;
        tokens.insert(forwarded_token(&out).unwrap());
    }
    assert_eq!(idp.calls(), 1);
    assert_eq!(tokens.len(), 1);
}

#[tokio::test]
async fn distinct_users_and_targets_are_distinct_exchanges() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let (a, b) = (new_sub(), new_sub());
    let (token_a, token_b) = (idp.user_token(&a, 3600), idp.user_token(&b, 3600));
    for _ in 0..3 {
        for (tool, token, sub) in
            [("crm___x", &token_a, &a), ("billing___x", &token_a, &a), ("crm___x", &token_b, &b)]
        {
            let out = interceptor.handle(call_as(tool, token)).await;
            let claims = claims_of(&forwarded_token(&out).unwrap());
            assert_eq!(claims["obo_sub"], json!(sub), "never another user's token");
            let scope = if tool.starts_with("crm") { "cognito-obo/crm" } else { "cognito-obo/billing" };
            assert_eq!(claims["scope"], scope, "never another target's token");
        }
    }
    assert_eq!(idp.calls(), 3);
}

/// `user`'s crm token is served from the cache for exactly `secs`: one exchange for a call now and
/// one just before `secs` have passed, a second exchange at `secs`.
async fn assert_served_for(
    idp: &FakeIdp,
    interceptor: &obo_core::interceptor::Interceptor,
    clock: &obo_core::clock::ManualClock,
    user: &str,
    secs: u64,
) {
    let before = idp.calls();
    let ask = || interceptor.handle(call_as("crm___x", user));
    ask().await;
    clock.advance_secs(secs - 1);
    ask().await;
    assert_eq!(idp.calls(), before + 1);
    clock.advance_secs(1);
    ask().await;
    assert_eq!(idp.calls(), before + 2);
}

#[tokio::test]
async fn the_max_age_bounds_how_long_a_token_is_served_whatever_its_lifetime() {
    let idp = FakeIdp::start().await;
    let (interceptor, clock) = idp.interceptor(&[("OBO_CACHE_MAX_AGE_SECONDS", "120")]).await;
    // An hour-long minted token for an hour-long user token: served 120 s, then minted again (a
    // revoked user is noticed by the next token request).
    idp.set_lifetime(3600);
    let user = idp.user_token(&new_sub(), 3600);
    assert_served_for(&idp, &interceptor, &clock, &user, 120).await;
    // 0 turns token caching off.
    let (uncached, _clock) = idp.interceptor(&[("OBO_CACHE_MAX_AGE_SECONDS", "0")]).await;
    for _ in 0..3 {
        assert!(forwarded_token(&uncached.handle(call_as("crm___x", &user)).await).is_some());
    }
    assert_eq!(idp.calls(), 5);
}

#[tokio::test]
async fn expiry_minus_skew_triggers_a_new_exchange() {
    let idp = FakeIdp::start().await;
    let (interceptor, clock) = idp.interceptor(&[]).await;
    // The minted token lives 600 s: served for 600 − 60 s.
    idp.set_lifetime(600);
    let user = idp.user_token(&new_sub(), 3600);
    assert_served_for(&idp, &interceptor, &clock, &user, 540).await;

    // The user's token expires first (in 290 s): served for 290 − 60 s, then refused outright.
    idp.set_lifetime(3600);
    let (interceptor, clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 300);
    let ask = || interceptor.handle(call_as("crm___x", &user));
    ask().await;
    clock.advance_secs(225);
    ask().await;
    assert_eq!(idp.calls(), 3);
    clock.advance_secs(10);
    assert!(forwarded_token(&ask().await).is_some());
    assert_eq!(idp.calls(), 4);
    clock.advance_secs(60);
    assert_eq!(short_circuit(&ask().await), Some((401, "subject_expired".into(), false)));
    assert_eq!(idp.calls(), 4);
}

#[tokio::test]
async fn concurrent_identical_misses_share_one_exchange() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    idp.script([Reply::Slow(Duration::from_millis(300))]);
    let calls = (0..20).map(|_| interceptor.handle(call_as("crm___get_account", &user)));
    let outs = futures_util::future::join_all(calls).await;
    let tokens: std::collections::HashSet<_> = outs.iter().map(|o| forwarded_token(o).unwrap()).collect();
    assert_eq!(tokens.len(), 1);
    assert_eq!(idp.calls(), 1);
}

#[tokio::test]
async fn the_lru_bound_holds() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[("OBO_CACHE_MAX_ENTRIES", "2")]).await;
    let users: Vec<String> = (0..3).map(|_| idp.user_token(&new_sub(), 3600)).collect();
    for user in &users {
        interceptor.handle(call_as("crm___x", user)).await;
    }
    assert_eq!(interceptor.cache().len(), 2);
    assert_eq!(idp.calls(), 3);
    interceptor.handle(call_as("crm___x", &users[2])).await;
    assert_eq!(idp.calls(), 3, "the most recent entries stay");
    interceptor.handle(call_as("crm___x", &users[0])).await;
    assert_eq!(idp.calls(), 4, "the least recently used entry was pushed out");
    assert_eq!(interceptor.cache().len(), 2);
}

#[tokio::test]
async fn a_failure_is_cached_briefly_and_for_its_user_only() {
    let idp = FakeIdp::start().await;
    let (interceptor, clock) = idp.interceptor(&[]).await;
    let (alice, bob) = (idp.user_token(&new_sub(), 3600), idp.user_token(&new_sub(), 3600));
    let code = "PreTokenGenerationV3_0 failed with error subject_revoked: signed out.";
    idp.script([Reply::OAuth("invalid_request", Some(code.into()))]);
    let expected = Some((401, "subject_revoked".to_owned(), false));
    assert_eq!(short_circuit(&interceptor.handle(call_as("crm___x", &alice)).await), expected);
    assert_eq!(short_circuit(&interceptor.handle(call_as("crm___x", &alice)).await), expected);
    assert_eq!(idp.calls(), 1, "the failure is served from the cache");
    assert!(forwarded_token(&interceptor.handle(call_as("crm___x", &bob)).await).is_some());
    assert_eq!(idp.calls(), 2, "another user is not affected");
    clock.advance_secs(5);
    assert!(forwarded_token(&interceptor.handle(call_as("crm___x", &alice)).await).is_some());
    assert_eq!(idp.calls(), 3, "the failure expired");
}

#[tokio::test]
async fn a_401_from_the_target_evicts_the_token() {
    let idp = FakeIdp::start().await;
    let (interceptor, _clock) = idp.interceptor(&[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let first = forwarded_token(&interceptor.handle(call_as("crm___x", &user)).await).unwrap();

    let target_answer = json!({"statusCode": 200, "headers": {"mcp-session-id": "s-1"},
        "body": {"jsonrpc": "2.0", "id": 7, "result": {}}});
    let mut response_event = call_as("crm___x", &user);
    response_event["mcp"]["gatewayResponse"] = target_answer.clone();
    let out = interceptor.handle(response_event.clone()).await;
    assert_eq!(
        out,
        json!({"interceptorOutputVersion":"1.0","mcp":{"transformedGatewayResponse": target_answer}})
    );
    assert_eq!(interceptor.cache().len(), 1, "a 200 evicts nothing");

    response_event["mcp"]["gatewayResponse"]["statusCode"] = json!(401);
    let out = interceptor.handle(response_event).await;
    assert_eq!(out["mcp"]["transformedGatewayResponse"]["statusCode"], 401, "the response is left as it is");
    assert!(interceptor.cache().is_empty());

    let second = forwarded_token(&interceptor.handle(call_as("crm___x", &user)).await).unwrap();
    assert_ne!(first, second);
    assert_eq!(idp.calls(), 2);
}
