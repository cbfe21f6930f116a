//! The JWKS cache against a real loopback server: rotation, the refetch rate limit, max age,
//! a server that is down or slow, discovery pinning, and one fetch shared by concurrent misses.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use obo_core::ReasonCode;
use obo_core::clock::ManualClock;
use obo_core::http::HttpClient;
use obo_core::subject::issuer::TrustedIssuer;
use obo_core::subject::jwks::{KeyError, KeyStore, KeyStoreSettings};
use obo_testkit::RsaSigner;
use serde_json::json;

fn store(clock: Arc<ManualClock>, fetch_timeout: Duration) -> KeyStore {
    let settings = KeyStoreSettings { fetch_timeout, ..KeyStoreSettings::default() };
    KeyStore::new(HttpClient::new(fetch_timeout).unwrap(), clock, settings)
}

#[tokio::test]
async fn a_new_kid_triggers_one_refetch_and_is_then_trusted() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger().await;
    let claims = idp.alice_access_claims();
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims)))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 1);
    // Rotation: the IdP publishes a new key and signs with it.
    let rotated = RsaSigner::generate("access-2");
    idp.set_keys(&[&idp.access_key, &rotated]);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&rotated.sign(&claims)))).await.expect("rotated key");
    assert_eq!(idp.jwks_hits(), 2, "exactly one refetch for the new kid");
    // Both keys now verify without further fetches.
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims)))).await.unwrap();
    trigger.handle(m2m_event(OBO_CLIENT, Some(&rotated.sign(&claims)))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let idp = Idp::start().await;
    let (trigger, clock) = idp.trigger().await;
    let claims = idp.alice_access_claims();
    let stranger = RsaSigner::generate("not-published");
    for _ in 0..5 {
        let err = trigger.handle(m2m_event(OBO_CLIENT, Some(&stranger.sign(&claims)))).await.unwrap_err();
        assert_eq!(err.reason, ReasonCode::SubjectUnknownKey);
    }
    assert_eq!(idp.jwks_hits(), 1, "one fetch, then the penalty box");
    clock.advance_secs(9);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&stranger.sign(&claims)))).await.unwrap_err();
    assert_eq!(idp.jwks_hits(), 1);
    clock.advance_secs(1);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&stranger.sign(&claims)))).await.unwrap_err();
    assert_eq!(idp.jwks_hits(), 2, "allowed again after 10 s");
    // Known keys keep working inside the penalty box.
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims)))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn removed_keys_stop_being_trusted_after_max_age() {
    let idp = Idp::start().await;
    let (trigger, clock) = idp.trigger_with(&[("OBO_JWKS_MAX_AGE_SECONDS", "300")]).await;
    let mut claims = idp.alice_access_claims();
    claims["exp"] = json!(NOW + 7200);
    let token = idp.sign_access(&claims);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.unwrap();
    idp.set_keys(&[&idp.id_key]); // the access key is withdrawn
    clock.advance_secs(299);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.expect("still within max age");
    clock.advance_secs(1);
    let err = trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.unwrap_err();
    assert_eq!(err.reason, ReasonCode::SubjectUnknownKey);
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn a_server_that_is_down_fails_closed_and_is_not_hammered() {
    let idp = Idp::start().await;
    idp.set_fault(Fault::Down);
    let (trigger, clock) = idp.trigger().await;
    let token = idp.sign_access(&idp.alice_access_claims());
    for _ in 0..3 {
        let err = trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.unwrap_err();
        assert_eq!(err.reason, ReasonCode::JwksUnavailable);
        assert!(err.reason.retryable());
    }
    assert_eq!(idp.state.discovery_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    idp.set_fault(Fault::None);
    clock.advance_secs(10);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.expect("recovered");
}

#[tokio::test]
async fn a_slow_server_fails_closed_within_the_timeout() {
    let idp = Idp::start().await;
    idp.set_fault(Fault::Slow);
    let (trigger, _clock) = idp.trigger_with(&[("OBO_JWKS_TIMEOUT_MS", "300")]).await;
    let token = idp.sign_access(&idp.alice_access_claims());
    let started = Instant::now();
    let err = trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.unwrap_err();
    assert_eq!(err.reason, ReasonCode::JwksUnavailable);
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let idp = Idp::start().await;
    let clock = ManualClock::at_secs(NOW);
    let keys = Arc::new(store(clock, Duration::from_secs(2)));
    let issuer = TrustedIssuer::parse(&idp.issuer).unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let keys = keys.clone();
            let issuer = issuer.clone();
            tokio::spawn(async move { keys.key(&issuer, "access-1").await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("key found");
    }
    assert_eq!(idp.jwks_hits(), 1);
    assert_eq!(keys.fetch_count(), 1);
}

#[tokio::test]
async fn discovery_is_pinned_to_the_issuer_and_its_host() {
    let idp = Idp::start().await;
    let issuer = TrustedIssuer::parse(&idp.issuer).unwrap();
    for doc in [
        json!({"issuer": "https://evil.example.com/pool", "jwks_uri": format!("{}/.well-known/jwks.json", idp.issuer)}),
        json!({"issuer": idp.issuer, "jwks_uri": "https://evil.example.com/jwks.json"}),
        json!({"issuer": idp.issuer, "jwks_uri": "http://localhost:1/jwks.json"}),
        json!({"issuer": idp.issuer}),
    ] {
        *idp.state.discovery_override.lock().unwrap() = Some(doc.clone());
        let keys = store(ManualClock::at_secs(NOW), Duration::from_secs(1));
        let err = keys.key(&issuer, "access-1").await.unwrap_err();
        assert!(matches!(err, KeyError::Unavailable(_)), "{doc}: {err:?}");
    }
    assert_eq!(idp.jwks_hits(), 0, "no key fetched from anywhere but the pinned issuer");
}

#[tokio::test]
async fn a_failed_prefetch_does_not_stop_the_cold_start() {
    let idp = Idp::start().await;
    idp.set_fault(Fault::Down);
    let (trigger, clock) = idp.trigger().await;
    trigger.prefetch().await; // logs, does not fail
    idp.set_fault(Fault::None);
    clock.advance_secs(10);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&idp.alice_access_claims())))).await.unwrap();
}

#[tokio::test]
async fn prefetch_warms_the_cache() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger().await;
    trigger.prefetch().await;
    assert_eq!(idp.jwks_hits(), 1);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&idp.alice_access_claims())))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 1);
}
