//! The shared cache tier (`OBO_SHARED_CACHE`) against a real DynamoDB-compatible server (moto's,
//! started per test): several interceptors stand for several execution environments over one
//! table. Sealing (tampered, swapped, TTL-rewritten and expired items; another user's token or
//! another secret), what a scan of the table shows, the shared 401 eviction, and a table that is
//! down, hangs or throttles.

#![cfg(feature = "aws")]

mod interceptor_support;
mod sdk_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use interceptor_support::*;
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::interceptor::seal::SealKeys;
use obo_core::interceptor::{Interceptor, InterceptorConfig};
use obo_core::metrics::MetricsSink;
use obo_testkit::TestServer;
use obo_testkit::dynamodb::LocalDynamoDb;
use obo_testkit::tokens::now_secs;
use serde_json::json;

type Item = HashMap<String, AttributeValue>;

/// One table on its own moto server.
struct Table {
    _server: LocalDynamoDb,
    client: aws_sdk_dynamodb::Client,
    sdk: aws_config::SdkConfig,
    name: String,
}

impl Table {
    /// The table as the template creates it: key `k`, on demand, TTL on `ttl`.
    async fn create() -> Self {
        let server = tokio::task::spawn_blocking(LocalDynamoDb::start).await.unwrap();
        let sdk = sdk_support::sdk_config(&server.url()).await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let name = "obo-shared-cache".to_owned();
        client
            .create_table()
            .table_name(&name)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("k")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder().attribute_name("k").key_type(KeyType::Hash).build().unwrap(),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("CreateTable");
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build().unwrap(),
            )
            .send()
            .await
            .expect("UpdateTimeToLive");
        Self { _server: server, client, sdk, name }
    }

    async fn scan(&self) -> Vec<Item> {
        let out = self.client.scan().table_name(&self.name).send().await.expect("Scan");
        out.items().to_vec()
    }

    async fn put(&self, item: Item) {
        self.client.put_item().table_name(&self.name).set_item(Some(item)).send().await.expect("PutItem");
    }
}

/// Metric lines, kept.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl MetricsSink for Lines {
    fn write_line(&self, line: &[u8]) {
        self.0.lock().unwrap().push(String::from_utf8_lossy(line).into_owned());
    }
}

impl Lines {
    /// The `SharedCache` value of the last line.
    fn last_shared(&self) -> Option<String> {
        let line = self.0.lock().unwrap().last().cloned()?;
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        doc["SharedCache"].as_str().map(str::to_owned)
    }
}

/// One execution environment: its own interceptor (local cache, clock), the shared table at
/// `endpoint`, and its metric lines.
async fn environment(
    idp: &FakeIdp,
    table_name: &str,
    sdk: &aws_config::SdkConfig,
    extra: &[(&str, &str)],
) -> (Interceptor, Arc<ManualClock>, Arc<Lines>) {
    let mut env = idp.env();
    env.insert("OBO_SHARED_CACHE".into(), format!("dynamodb:{table_name}"));
    // moto is a Python server on a busy test machine: a deadline it meets (the default, 100 ms,
    // is for DynamoDB in-region).
    env.insert("OBO_SHARED_CACHE_TIMEOUT_MS".into(), "3000".into());
    env.insert("OBO_METRICS".into(), "emf".into());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let config = InterceptorConfig::from_env(&env).expect("valid configuration");
    let clock = ManualClock::at_millis(now_secs() * 1000);
    let shared: SharedClock = clock.clone();
    let lines = Arc::new(Lines::default());
    let interceptor = Interceptor::with_sdk_config(config, sdk, shared).await.expect("interceptor");
    (interceptor.with_metrics_sink(lines.clone()), clock, lines)
}

async fn token(interceptor: &Interceptor, user: &str) -> String {
    let out = interceptor.handle(call_as("crm___lookup", user)).await;
    forwarded_token(&out).unwrap_or_else(|| panic!("not forwarded: {out}"))
}

fn k_of(item: &Item) -> String {
    item["k"].as_s().unwrap().clone()
}

#[tokio::test]
async fn environments_share_one_token_and_the_table_gives_nothing_away() {
    let idp = FakeIdp::start().await;
    let table = Table::create().await;
    let (a, _, a_lines) = environment(&idp, &table.name, &table.sdk, &[]).await;
    let (b, _, b_lines) = environment(&idp, &table.name, &table.sdk, &[]).await;
    let sub = new_sub();
    let user = idp.user_token(&sub, 3600);

    let minted = token(&a, &user).await;
    assert_eq!(idp.calls(), 1);
    assert_eq!(a_lines.last_shared().as_deref(), Some("stored"));
    assert_eq!(token(&b, &user).await, minted, "the other environment is served from the table");
    assert_eq!(idp.calls(), 1, "no second token request");
    assert_eq!(b_lines.last_shared().as_deref(), Some("hit"));
    assert_eq!(token(&b, &user).await, minted);
    assert_eq!(b_lines.last_shared(), None, "a local hit does not touch the table");

    // Another user is not served this user's token.
    let other = idp.user_token(&new_sub(), 3600);
    assert_ne!(token(&b, &other).await, minted);
    assert_eq!(idp.calls(), 2);

    // The scan: two items of three attributes, nothing in clear.
    let items = table.scan().await;
    assert_eq!(items.len(), 2);
    let cache_key = a.cache_key_for("crm", &user).unwrap();
    let ck = cache_key.as_bytes();
    let hex: String = ck.iter().map(|b| format!("{b:02x}")).collect();
    let claims = claims_of(&minted);
    let mut forbidden: Vec<String> = vec![
        user.clone(),
        minted.clone(),
        sub.clone(),
        OBO_CLIENT.into(),
        OBO_SECRET.into(),
        "cognito-obo/crm".into(),
        "crm".into(),
        URL_SAFE_NO_PAD.encode(ck),
        base64::engine::general_purpose::STANDARD.encode(ck),
        hex,
    ];
    forbidden.extend(user.split('.').chain(minted.split('.')).map(str::to_owned));
    forbidden.extend(claims.values().filter_map(|v| v.as_str()).filter(|v| v.len() > 3).map(str::to_owned));
    for item in &items {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["k", "ttl", "v"]);
        let mut bytes = format!("{item:?}").into_bytes();
        bytes.extend_from_slice(item["v"].as_b().unwrap().as_ref());
        for needle in &forbidden {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} is in the table");
        }
        assert!(!bytes.windows(32).any(|w| w == ck), "the unkeyed cache key is in the table");
    }

    // Finding an item needs the secret; opening it needs the secret and the user's token.
    let keys = SealKeys::derive(OBO_SECRET.as_bytes());
    let item_key = keys.item_key(&cache_key);
    let item = items.iter().find(|i| k_of(i) == URL_SAFE_NO_PAD.encode(item_key.as_bytes())).expect("found");
    let sealed = item["v"].as_b().unwrap().as_ref();
    let ttl: u64 = item["ttl"].as_n().unwrap().parse().unwrap();
    let opened =
        keys.open(&user, &cache_key, &item_key, ttl, sealed).expect("the interceptor's own keys open it");
    assert_eq!(opened.token.expose(), minted);
    assert!(keys.open(&other, &cache_key, &item_key, ttl, sealed).is_err(), "another user's token");
    let thief = SealKeys::derive(b"a stolen user token but not the secret");
    let guessed = thief.item_key(&cache_key);
    assert!(items.iter().all(|i| k_of(i) != URL_SAFE_NO_PAD.encode(guessed.as_bytes())), "cannot find it");
    assert!(thief.open(&user, &cache_key, &item_key, ttl, sealed).is_err(), "cannot open it");
}

#[tokio::test]
async fn tampered_swapped_ttl_rewritten_and_expired_items_are_refused() {
    let idp = FakeIdp::start().await;
    let table = Table::create().await;
    let (a, _, _) = environment(&idp, &table.name, &table.sdk, &[]).await;
    let alice = idp.user_token(&new_sub(), 3600);
    let bob = idp.user_token(&new_sub(), 3600);
    let alice_token = token(&a, &alice).await;
    let bob_token = token(&a, &bob).await;
    assert_eq!(idp.calls(), 2);
    let items = table.scan().await;
    let keys = SealKeys::derive(OBO_SECRET.as_bytes());
    let key_of =
        |user: &str| URL_SAFE_NO_PAD.encode(keys.item_key(&a.cache_key_for("crm", user).unwrap()).as_bytes());
    let alice_item = items.iter().find(|i| k_of(i) == key_of(&alice)).unwrap().clone();
    let bob_item = items.iter().find(|i| k_of(i) == key_of(&bob)).unwrap().clone();

    // Each case: rewrite the table, then a fresh environment must mint rather than trust it.
    let mut calls = idp.calls();
    let mut fresh_env = async |expect_status: &str| {
        let (env, _, lines) = environment(&idp, &table.name, &table.sdk, &[]).await;
        let got = token(&env, &bob).await;
        calls += 1;
        assert_eq!(idp.calls(), calls, "minted again ({expect_status})");
        assert_ne!(got, alice_token);
        assert_ne!(got, bob_token);
        assert_eq!(lines.last_shared().as_deref(), Some(expect_status));
        got
    };

    // Swapped: Alice's sealed value under Bob's key (with its TTL).
    let mut swapped = alice_item.clone();
    swapped.insert("k".into(), bob_item["k"].clone());
    table.put(swapped).await;
    fresh_env("unopenable").await;

    // Tampered: one bit of the sealed value flipped.
    let mut tampered = bob_item.clone();
    let mut v = bob_item["v"].as_b().unwrap().as_ref().to_vec();
    let last = v.len() - 1;
    v[last] ^= 1;
    tampered.insert("v".into(), AttributeValue::B(Blob::new(v)));
    table.put(tampered).await;
    fresh_env("unopenable").await;

    // TTL rewritten: the original value with a TTL a day later.
    let mut stretched = bob_item.clone();
    let ttl: u64 = bob_item["ttl"].as_n().unwrap().parse().unwrap();
    stretched.insert("ttl".into(), AttributeValue::N((ttl + 86_400).to_string()));
    table.put(stretched).await;
    fresh_env("unopenable").await;

    // Expired: the original item, intact, read by an environment past OBO_CACHE_MAX_AGE_SECONDS
    // (DynamoDB deletes on TTL only eventually; the sealed mint time decides).
    table.put(bob_item.clone()).await;
    let (late, clock, lines) = environment(&idp, &table.name, &table.sdk, &[]).await;
    clock.advance_secs(601);
    let got = token(&late, &bob).await;
    assert_ne!(got, bob_token);
    assert_eq!(idp.calls(), calls + 1);
    assert_eq!(lines.last_shared().as_deref(), Some("stored"), "expired: minted and replaced");
    // A shorter max age in another environment is enforced from the sealed mint time too.
    let (strict, clock, lines) =
        environment(&idp, &table.name, &table.sdk, &[("OBO_CACHE_MAX_AGE_SECONDS", "60")]).await;
    clock.advance_secs(601 + 61);
    token(&strict, &bob).await;
    assert_eq!(idp.calls(), calls + 2);
    assert_eq!(lines.last_shared().as_deref(), Some("lost"), "the live item is not replaced");
    assert_eq!(table.scan().await.len(), 2);
}

#[tokio::test]
async fn a_401_deletes_the_shared_item_too() {
    let idp = FakeIdp::start().await;
    let table = Table::create().await;
    let (a, _, _) = environment(&idp, &table.name, &table.sdk, &[]).await;
    let (b, _, b_lines) = environment(&idp, &table.name, &table.sdk, &[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let first = token(&a, &user).await;
    assert_eq!(token(&b, &user).await, first);

    let mut response_event = call_as("crm___lookup", &user);
    response_event["mcp"]["gatewayResponse"] =
        json!({"statusCode": 401, "body": {"jsonrpc": "2.0", "id": 7}});
    let out = b.handle(response_event).await;
    assert_eq!(out["mcp"]["transformedGatewayResponse"]["statusCode"], 401);
    assert_eq!(b_lines.last_shared().as_deref(), Some("evicted"));
    assert!(table.scan().await.is_empty(), "the item is gone");

    // A third environment mints anew; the first one still has its local copy (its own cache).
    let (c, _, _) = environment(&idp, &table.name, &table.sdk, &[]).await;
    let second = token(&c, &user).await;
    assert_ne!(second, first);
    assert_eq!(idp.calls(), 2);
    assert_eq!(token(&b, &user).await, second, "b evicted locally, then found the new item");
    assert_eq!(idp.calls(), 2);
}

/// A stand-in DynamoDB that answers every call with `status` and `body` (awsJson1_0 errors).
async fn answering(status: StatusCode, body: &'static str) -> TestServer {
    let router = Router::new().route(
        "/",
        post(move || async move {
            (status, [("content-type", "application/x-amz-json-1.0")], body).into_response()
        }),
    );
    TestServer::start(router).await
}

async fn a_failing_table_is_skipped(endpoint: &str, timeout_ms: &str, expect: &str) -> Duration {
    let idp = FakeIdp::start().await;
    let sdk = sdk_support::sdk_config(endpoint).await;
    let (env, _, lines) =
        environment(&idp, "obo-shared-cache", &sdk, &[("OBO_SHARED_CACHE_TIMEOUT_MS", timeout_ms)]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let started = Instant::now();
    let got = token(&env, &user).await;
    let took = started.elapsed();
    assert!(!got.is_empty());
    assert_eq!(idp.calls(), 1, "minted as without the tier");
    assert_eq!(lines.last_shared().as_deref(), Some(expect));
    // Served from the local cache afterwards, without the table.
    assert_eq!(token(&env, &user).await, got);
    assert_eq!(lines.last_shared(), None);
    took
}

#[tokio::test]
async fn a_throttling_table_is_skipped() {
    let throttling = answering(
        StatusCode::BAD_REQUEST,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
    )
    .await;
    a_failing_table_is_skipped(&throttling.url(""), "3000", "throttled").await;
    let broken = answering(
        StatusCode::BAD_REQUEST,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}"#,
    )
    .await;
    a_failing_table_is_skipped(&broken.url(""), "3000", "error").await;
}

#[tokio::test]
async fn a_table_that_is_down_or_hangs_costs_at_most_its_timeout() {
    // Down: nothing listens.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    a_failing_table_is_skipped(&format!("http://{closed}"), "3000", "error").await;
    // Hangs: accepts, never answers. One lookup, no put: the miss costs one timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let took = a_failing_table_is_skipped(&format!("http://{addr}"), "300", "timeout").await;
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(300 + 1500), "one timeout, not two: {took:?}");
}

#[tokio::test]
async fn the_tier_fails_closed_at_cold_start_without_its_secret_or_the_sdk() {
    let idp = FakeIdp::start().await;
    let mut env = idp.env();
    env.insert("OBO_SHARED_CACHE".into(), "dynamodb:obo-shared-cache".into());
    env.insert("OBO_TARGETS".into(), r#"{"weather":{"mode":"passthrough"}}"#.into());
    let err = InterceptorConfig::from_env(&env).unwrap_err();
    assert_eq!(err.variable, "OBO_SHARED_CACHE");

    let mut env = idp.env();
    env.insert("OBO_SHARED_CACHE".into(), "dynamodb:obo-shared-cache".into());
    let config = InterceptorConfig::from_env(&env).unwrap();
    let secret = obo_core::interceptor::client_secret::ClientSecret::fixed(
        OBO_SECRET.into(),
        obo_core::clock::system_clock(),
    );
    let secrets = obo_core::interceptor::Secrets { client: Arc::new(secret), actor: None };
    let err = Interceptor::with_secrets(config, secrets, obo_core::clock::system_clock()).err().unwrap();
    assert_eq!(err.variable, "OBO_SHARED_CACHE");
}

#[tokio::test]
async fn with_token_caching_off_the_table_is_neither_read_nor_written() {
    let idp = FakeIdp::start().await;
    let table = Table::create().await;
    let (env, _, lines) =
        environment(&idp, &table.name, &table.sdk, &[("OBO_CACHE_MAX_AGE_SECONDS", "0")]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let first = token(&env, &user).await;
    assert_ne!(token(&env, &user).await, first, "minted each time");
    assert_eq!(lines.last_shared(), None);
    assert!(table.scan().await.is_empty());
}
