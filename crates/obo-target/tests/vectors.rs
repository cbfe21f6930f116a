//! TargetVerifier against the shared vectors (`tests/vectors/obo-target.json`): the same tokens
//! and verdicts drive the Python example's tests (`examples/python/test_vectors.py`), so the
//! verifiers cannot drift. The tokens name a fixed issuer and are checked at the vectors' fixed
//! instant, with the vectors' JWKS installed in the key cache.

use std::sync::Arc;
use std::time::Duration;

use obo_core::clock::ManualClock;
use obo_core::http::HttpClient;
use obo_core::subject::issuer::TrustedIssuer;
use obo_core::subject::jwks::{KeySet, KeyStore, KeyStoreSettings};
use obo_target::{TargetConfig, TargetVerifier};
use serde_json::{Value, json};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/obo-target.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the shared vectors")).expect("vectors JSON")
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().expect("a list").iter().map(|v| v.as_str().expect("a string").to_owned()).collect()
}

/// The verifier of the vectors' configuration, with a row's own additions (`case.config`).
fn verifier(doc: &Value, case: &Value) -> TargetVerifier {
    let config = &doc["config"];
    let text = |name: &str| config[name].as_str().expect(name).to_owned();
    assert_eq!(strings(&config["algorithms"]), ["RS256"], "the defaults of TargetConfig::new");
    assert_eq!(config["leeway_secs"], 30);
    let extra = |name: &str| case["config"].get(name).map(strings).unwrap_or_default();
    for key in case["config"].as_object().into_iter().flat_map(|o| o.keys()) {
        assert!(["allowed_obo_issuers", "scope_group"].contains(&key.as_str()), "unknown row config {key}");
    }
    let target = TargetConfig::new(&text("issuer"), &text("obo_client_id"), &text("scope"))
        .expect("vector config")
        .with_service_clients(strings(&config["service_client_ids"]))
        .with_user_issuers(extra("allowed_obo_issuers"))
        .with_scope_group(extra("scope_group"))
        .expect("row scope group")
        .with_org_claim(text("org_claim"));
    let clock = ManualClock::at_secs(doc["now"].as_u64().expect("now"));
    let http = HttpClient::new(Duration::from_secs(1)).expect("http client");
    let keys = Arc::new(KeyStore::new(http, clock.clone(), KeyStoreSettings::default()));
    let jwks = KeySet::parse(doc["jwks"].to_string().as_bytes()).expect("vector JWKS");
    keys.install(&TrustedIssuer::parse(&text("issuer")).expect("issuer"), jwks);
    TargetVerifier::with_key_store(target, keys, clock)
}

async fn outcome(verifier: &TargetVerifier, case: &Value) -> Value {
    let token = case["token"].as_str().expect("token");
    let result = if case["check"] == "service" {
        verifier.verify_service(token).await.map(|s| json!({"verdict": "accept", "client_id": s.client_id}))
    } else {
        verifier.verify_obo(token).await.map(|who| {
            json!({
                "verdict": "accept",
                "user_issuer": who.user_issuer,
                "user_sub": who.user_sub,
                "username": who.username,
                "org_id": who.org_id,
                "groups": who.groups,
                "user_client_id": who.user_client_id,
                "obo_exp": who.obo_exp,
                "client_id": who.token.client_id,
            })
        })
    };
    result.unwrap_or_else(|rejection| json!({"verdict": "reject", "reason": rejection.reason.as_str()}))
}

#[tokio::test]
async fn every_shared_vector_gets_its_verdict() {
    let doc = vectors();
    let cases = doc["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let got = outcome(&verifier(&doc, case), case).await;
        if got != case["expect"] {
            failures.push(format!("{name}: expected {}, got {got}", case["expect"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 40, "only {} vectors", cases.len());
}

#[tokio::test]
async fn the_vectors_cover_both_verdicts_for_every_check() {
    let doc = vectors();
    let cases = doc["cases"].as_array().expect("cases");
    for check in ["obo", "service"] {
        for verdict in ["accept", "reject"] {
            assert!(
                cases.iter().any(|c| c["check"] == check && c["expect"]["verdict"] == verdict),
                "no {check} vector with verdict {verdict}"
            );
        }
    }
}
