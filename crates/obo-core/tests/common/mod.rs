//! A loopback OpenID provider for the trigger's tests: discovery + JWKS served by a real HTTP
//! server, keys that can be rotated, and faults (down, slow) switchable per test.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::trigger::{Trigger, TriggerConfig};
use obo_testkit::tokens::User;
use obo_testkit::{RsaSigner, TestServer};
use serde_json::{Value, json};

/// A fixed "now" for tokens and caches in these tests.
pub const NOW: u64 = 1_800_000_000;
pub const POOL: &str = "us-east-1_TestPool";
pub const USER_CLIENT: &str = "user-app";
pub const OBO_CLIENT: &str = "obo-m2m";
pub const OTHER_M2M: &str = "other-m2m";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Down,
    Slow,
}

pub struct IdpState {
    pub issuer: Mutex<String>,
    pub jwks: Mutex<Value>,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
    pub fault: Mutex<Fault>,
    pub discovery_override: Mutex<Option<Value>>,
}

/// A loopback identity provider with an access-token key and an ID-token key.
pub struct Idp {
    pub server: TestServer,
    pub state: Arc<IdpState>,
    pub access_key: RsaSigner,
    pub id_key: RsaSigner,
    pub issuer: String,
}

async fn discovery(State(s): State<Arc<IdpState>>) -> Response {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if *s.fault.lock().unwrap() == Fault::Down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if let Some(doc) = s.discovery_override.lock().unwrap().clone() {
        return axum::Json(doc).into_response();
    }
    let issuer = s.issuer.lock().unwrap().clone();
    axum::Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/.well-known/jwks.json")}))
        .into_response()
}

async fn jwks(State(s): State<Arc<IdpState>>) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let fault = *s.fault.lock().unwrap();
    match fault {
        Fault::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Fault::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
        Fault::None => {}
    }
    axum::Json(s.jwks.lock().unwrap().clone()).into_response()
}

impl Idp {
    pub async fn start() -> Self {
        let access_key = RsaSigner::generate("access-1");
        let id_key = RsaSigner::generate("id-1");
        let state = Arc::new(IdpState {
            issuer: Mutex::new(String::new()),
            jwks: Mutex::new(obo_testkit::keys::jwks(&[&access_key, &id_key])),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
            fault: Mutex::new(Fault::None),
            discovery_override: Mutex::new(None),
        });
        let router = Router::new()
            .route(&format!("/{POOL}/.well-known/openid-configuration"), get(discovery))
            .route(&format!("/{POOL}/.well-known/jwks.json"), get(jwks))
            .with_state(state.clone());
        let server = TestServer::start(router).await;
        let issuer = server.url(&format!("/{POOL}"));
        *state.issuer.lock().unwrap() = issuer.clone();
        Self { server, state, access_key, id_key, issuer }
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
    }

    pub fn set_keys(&self, keys: &[&RsaSigner]) {
        *self.state.jwks.lock().unwrap() = obo_testkit::keys::jwks(keys);
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Alice's access-token claims, issued at `NOW - 60` for an hour.
    pub fn alice_access_claims(&self) -> Value {
        let mut claims =
            obo_testkit::tokens::access_claims(&self.issuer, USER_CLIENT, &alice(), NOW - 60, 3600);
        claims["org_id"] = json!("acme");
        claims
    }

    pub fn alice_id_claims(&self) -> Value {
        obo_testkit::tokens::id_claims(&self.issuer, USER_CLIENT, &alice(), NOW - 60, 3600)
    }

    pub fn sign_access(&self, claims: &Value) -> String {
        self.access_key.sign(claims)
    }

    /// The base configuration: OBO for `obo-m2m`, user tokens of `user-app` from this issuer.
    pub fn env(&self) -> HashMap<String, String> {
        [
            ("OBO_CALLER_CLIENT_IDS", OBO_CLIENT.to_owned()),
            ("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT.to_owned()),
            ("OBO_SUBJECT_ISSUERS", self.issuer.clone()),
            ("OBO_CLAIM_MAP", "org_id=org_id".to_owned()),
            // Metrics lines would go to the test output; tests/metrics.rs turns them on.
            ("OBO_METRICS", "off".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub async fn trigger(&self) -> (Trigger, Arc<ManualClock>) {
        self.trigger_with(&[]).await
    }

    pub async fn trigger_with(&self, extra: &[(&str, &str)]) -> (Trigger, Arc<ManualClock>) {
        let mut env = self.env();
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = TriggerConfig::from_env(&env).expect("valid test configuration");
        let clock = ManualClock::at_secs(NOW);
        let shared: SharedClock = clock.clone();
        (Trigger::new(config, shared).await.expect("trigger"), clock)
    }
}

pub fn alice() -> User {
    let mut attributes = serde_json::Map::new();
    attributes.insert("email".into(), json!("alice@example.com"));
    attributes.insert("custom:org_id".into(), json!("acme"));
    User {
        sub: "11111111-aaaa-4aaa-8aaa-111111111111".into(),
        username: "alice".into(),
        groups: vec!["crm-users".into()],
        attributes,
    }
}

/// The one scope the test events ask for (a single target's).
pub const CRM_SCOPE: &str = "cognito-obo/crm";

/// The AWS-documented client_credentials event, with our pool, caller, one target's scope (the
/// sample's two scopes of two resource servers would be a multi-target token) and subject token.
pub fn m2m_event(caller: &str, token: Option<&str>) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../../events/pre-token/client-credentials.json")).unwrap();
    event["userPoolId"] = json!(POOL);
    event["callerContext"]["clientId"] = json!(caller);
    event["request"]["scopes"] = json!([CRM_SCOPE]);
    match token {
        Some(t) => event["request"]["clientMetadata"]["onBehalfOfToken"] = json!(t),
        None => {
            event["request"]["clientMetadata"].as_object_mut().unwrap().remove("onBehalfOfToken");
        }
    }
    event
}

/// A user sign-in event carrying an `onBehalfOfToken` (which must be ignored).
pub fn user_event(token: Option<&str>) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../../events/pre-token/authentication.json")).unwrap();
    if let Some(t) = token {
        event["request"]["clientMetadata"] = json!({"onBehalfOfToken": t});
    }
    event
}
