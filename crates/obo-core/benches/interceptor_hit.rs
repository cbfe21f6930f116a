//! The whole interceptor handler on a cache hit: a 2 KB `tools/call` event (JSON text) in,
//! the output JSON text out. Goal: ≤ 50 µs. The token endpoint (loopback) is called once, to
//! fill the cache; the clock is simulated so the entry never expires during the run. Its floor,
//! in the same run: parsing the same event and serialising a JSON answer.

use std::collections::HashMap;
use std::hint::black_box;

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::interceptor::{Interceptor, InterceptorConfig};
use obo_testkit::tokens::{User, access_claims, m2m_claims, now_secs};
use obo_testkit::{RsaSigner, TestServer};
use serde_json::{Map, Value, json};

// The Lambdas' allocator (see their main.rs); `--features system-allocator` measures the target's own.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUB: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
/// The user token's issuer, which the minted token must name in `obo_iss`.
const USER_ISSUER: &str = "https://issuer.example/pool";

/// A token endpoint that mints like Cognito with the trigger (`obo_iss`, `obo_sub`), without checks.
async fn start_endpoint() -> TestServer {
    let key = std::sync::Arc::new(RsaSigner::generate("m2m"));
    let router =
        Router::new().route(
            "/oauth2/token",
            post(move || {
                let mut claims = m2m_claims(
                    "https://issuer.example",
                    "obo-m2m",
                    &["cognito-obo/crm".into()],
                    now_secs(),
                    3600,
                );
                claims["obo_iss"] = json!(USER_ISSUER);
                claims["obo_sub"] = json!(SUB);
                let token = key.sign(&claims);
                async move {
                    axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
                }
            }),
        );
    TestServer::start(router).await
}

fn event_text(user_token: &str) -> String {
    let mut event = json!({
        "interceptorInputVersion": "1.0",
        "mcp": {
            "rawGatewayRequest": {"body": ""},
            "gatewayRequest": {
                "path": "/mcp",
                "httpMethod": "POST",
                "headers": {
                    "accept": "application/json, text/event-stream",
                    "authorization": format!("Bearer {user_token}"),
                    "mcp-session-id": "6f1c1d2e-9a57-4f0e-8d35-7c1e2f3a4b5c",
                    "user-agent": "bench-client/1.0",
                },
                "body": {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                         "params": {"name": "crm___get_account", "arguments": {"account": "A-42", "note": ""}}}
            }
        }
    });
    let raw = event["mcp"]["gatewayRequest"]["body"].to_string();
    event["mcp"]["rawGatewayRequest"]["body"] = json!(raw);
    let pad = 2048usize.saturating_sub(event.to_string().len());
    event["mcp"]["gatewayRequest"]["body"]["params"]["arguments"]["note"] = json!("n".repeat(pad));
    event.to_string()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(start_endpoint());
    let env: HashMap<String, String> = [
        (
            "OBO_TARGETS",
            r#"{"crm":{"mode":"obo","scopes":["cognito-obo/crm"],"metadata":{"target":"crm"}}}"#.to_owned(),
        ),
        ("OBO_CLIENT_ID", "obo-m2m".to_owned()),
        ("OBO_TOKEN_ENDPOINT", server.url("/oauth2/token")),
        ("OBO_CLIENT_SECRET", "bench-secret".to_owned()),
        // Driven in-process: no metrics lines in the measurement.
        ("OBO_METRICS", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = InterceptorConfig::from_env(&env).unwrap();
    let clock: SharedClock = ManualClock::at_secs(now_secs());
    let interceptor = rt.block_on(Interceptor::new(config, clock)).unwrap();

    let user = User {
        sub: SUB.into(),
        username: "alice".into(),
        groups: vec!["crm-users".into()],
        attributes: Map::new(),
    };
    let token = RsaSigner::generate("user").sign(&access_claims(USER_ISSUER, "app", &user, now_secs(), 3600));
    let text = event_text(&token);
    assert!((2000..2200).contains(&text.len()), "event is {} bytes", text.len());
    // As the Lambda binary does: JSON text in, JSON text out (bodies copied, never re-parsed).
    let run = |text: &str| -> String { rt.block_on(interceptor.handle_json(text)) };
    let warm = run(&text);
    assert!(warm.contains("\"Authorization\":\"Bearer "), "{warm}");

    c.bench_function("interceptor_cache_hit_2kb", |b| b.iter(|| run(black_box(&text))));
    // The floor any handler pays: parsing the same event and serialising a JSON answer.
    c.bench_function("interceptor_floor_json_2kb", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&text)).unwrap().to_string())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
