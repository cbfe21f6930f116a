//! The trigger's warm path: the full M2M handler (event JSON in → response JSON out, JWKS
//! cached) beside a bare `jsonwebtoken::decode` of the same token, measured in the same run.
//! Goal: handler ≤ 1.5× the bare decode.
//!
//! `cargo bench -p obo-core --bench trigger_warm`

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use obo_core::clock::system_clock;
use obo_core::trigger::{Trigger, TriggerConfig};
use obo_testkit::RsaSigner;
use obo_testkit::issuer::StaticIssuer;
use obo_testkit::tokens::{User, access_claims, now_secs};
use serde_json::{Map, Value, json};

// The Lambdas' allocator (see their main.rs); `--features system-allocator` measures the target's own.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POOL: &str = "us-east-1_BenchPool";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = RsaSigner::generate("bench-key");
    let (server, trigger, token) = rt.block_on(async {
        let server = StaticIssuer::start(POOL, &[&key]).await;
        let issuer = server.issuer.clone();
        let env: HashMap<String, String> = [
            ("OBO_CALLER_CLIENT_IDS", "obo-m2m"),
            ("OBO_SUBJECT_CLIENT_IDS", "user-app"),
            ("OBO_SUBJECT_ISSUERS", issuer.as_str()),
            ("OBO_CLAIM_MAP", "org_id=org_id"),
            // Driven in-process: no metrics lines in the measurement.
            ("OBO_METRICS", "off"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let trigger = Trigger::new(TriggerConfig::from_env(&env).unwrap(), system_clock()).await.unwrap();
        trigger.prefetch().await;
        let user = User {
            sub: "11111111-aaaa-4aaa-8aaa-111111111111".into(),
            username: "alice".into(),
            groups: vec!["crm-users".into()],
            attributes: Map::new(),
        };
        let mut claims = access_claims(&issuer, "user-app", &user, now_secs() - 60, 3600);
        claims["org_id"] = json!("acme");
        (server, trigger, key.sign(&claims))
    });

    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/pre-token/client-credentials.json")).unwrap();
    event["userPoolId"] = json!(POOL);
    event["callerContext"]["clientId"] = json!("obo-m2m");
    // One target's scope: the sample's two scopes would be refused as a multi-target token.
    event["request"]["scopes"] = json!(["cognito-obo/crm"]);
    event["request"]["clientMetadata"]["onBehalfOfToken"] = json!(token);
    let event_json = serde_json::to_vec(&event).unwrap();
    // Sanity: the handler really enriches.
    let out = rt.block_on(trigger.handle(serde_json::from_slice(&event_json).unwrap())).unwrap();
    assert!(serde_json::to_string(&out).unwrap().contains("obo_sub"));

    let decoding_key = DecodingKey::from_jwk(&serde_json::from_value(key.jwk()).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;

    let mut group = c.benchmark_group("trigger_warm");
    group.bench_function("bare_jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Map<String, Value>>(black_box(token.as_str()), &decoding_key, &validation)
                .unwrap()
        })
    });
    group.bench_function("full_m2m_handler", |b| {
        b.iter(|| {
            let raw: Value = serde_json::from_slice(black_box(&event_json)).unwrap();
            let out = rt.block_on(trigger.handle(raw)).unwrap();
            serde_json::to_vec(&out).unwrap()
        })
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
