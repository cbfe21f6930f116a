//! Test-only issuer shared by `gateway.rs` and `targets.rs`: a loopback user pool stand-in with
//! OIDC discovery, JWKS and a client_credentials token endpoint (real RSA signatures), plus the
//! users and tokens the tests need. It stands in for the Cognito emulator in these tests only.

#![allow(dead_code)]

pub mod double;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json};
use base64::Engine;
use obo_core::clock::system_clock;
use obo_core::http::HttpClient;
use obo_core::subject::jwks::{KeyStore, KeyStoreSettings};
use obo_target::{TargetConfig, TargetVerifier};
use obo_testkit::issuer::StaticIssuer;
use obo_testkit::tokens::{User, access_claims, m2m_claims, now_secs};
use obo_testkit::{RsaSigner, TestServer};
use rmcp::ServiceExt;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

pub const POOL: &str = "us-east-1_TEST";
/// The app client users sign in with (allowed by the gateway's authorizer).
pub const WEB_CLIENT: &str = "web-client";
/// The machine client the interceptor uses to mint on-behalf-of tokens.
pub const OBO_CLIENT: &str = "obo-client";
/// The gateway's tool-sync client for crm.
pub const SYNC_CLIENT: &str = "sync-client";
/// The gateway's credential for weather.
pub const WEATHER_CLIENT: &str = "weather-client";
pub const CRM_SCOPE: &str = "crm/obo";
pub const WEATHER_SCOPE: &str = "weather/read";

/// The loopback issuer (discovery and JWKS) and its token endpoint.
pub struct TestIssuer {
    _issuer: StaticIssuer,
    _token_endpoint: TestServer,
    pub issuer: String,
    pub signer: Arc<RsaSigner>,
    token_url: String,
    token_requests: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct TokenState {
    issuer: String,
    signer: Arc<RsaSigner>,
    clients: Arc<HashMap<&'static str, (&'static str, &'static [&'static str])>>,
    requests: Arc<AtomicUsize>,
}

impl TestIssuer {
    pub async fn start() -> Self {
        let signer = Arc::new(RsaSigner::generate("k1"));
        let static_issuer = StaticIssuer::start(POOL, &[&signer]).await;
        let issuer = static_issuer.issuer.clone();
        let requests = Arc::new(AtomicUsize::new(0));
        let state = TokenState {
            issuer: issuer.clone(),
            signer: signer.clone(),
            clients: Arc::new(HashMap::from([
                (SYNC_CLIENT, ("sync-secret", &[CRM_SCOPE][..])),
                (WEATHER_CLIENT, ("weather-secret", &[WEATHER_SCOPE][..])),
                (OBO_CLIENT, ("obo-secret", &[CRM_SCOPE][..])),
            ])),
            requests: requests.clone(),
        };
        let router = axum::Router::new().route("/oauth2/token", post(token_endpoint).with_state(state));
        let token_endpoint = TestServer::start(router).await;
        Self {
            _issuer: static_issuer,
            token_url: token_endpoint.url("/oauth2/token"),
            _token_endpoint: token_endpoint,
            issuer,
            signer,
            token_requests: requests,
        }
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    pub fn token_url(&self) -> String {
        self.token_url.clone()
    }

    /// How many client_credentials requests the token endpoint has answered.
    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    /// A user's access token, as Cognito issues it for `client`.
    pub fn user_token(&self, user: &User, client: &str) -> String {
        self.signer.sign(&access_claims(&self.issuer, client, user, now_secs(), 3600))
    }

    /// A machine token of `client` with `scopes`, no on-behalf-of claims.
    pub fn m2m_token(&self, client: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.signer.sign(&m2m_claims(&self.issuer, client, &scopes, now_secs(), 3600))
    }

    /// An enriched on-behalf-of token for crm, as the trigger makes it; `extra` overrides.
    pub fn obo_token(&self, user: &User, extra: Value) -> String {
        let mut claims = m2m_claims(&self.issuer, OBO_CLIENT, &[CRM_SCOPE.to_owned()], now_secs(), 3600);
        let obo = json!({"obo_sub": user.sub, "obo_username": user.username, "obo_client_id": WEB_CLIENT,
            "obo_iss": self.issuer, "obo_exp": now_secs() + 600, "obo_groups": user.groups,
            "org_id": user.attributes.get("custom:org_id")});
        for (k, v) in obo.as_object().unwrap().iter().chain(extra.as_object().unwrap()) {
            claims[k] = v.clone();
        }
        self.signer.sign(&claims)
    }

    /// crm's verifier: accepts the OBO client, and the sync client for listing tools.
    pub fn crm_verifier(&self) -> Arc<TargetVerifier> {
        let config = TargetConfig::new(&self.issuer, OBO_CLIENT, CRM_SCOPE)
            .unwrap()
            .with_service_clients([SYNC_CLIENT]);
        Arc::new(TargetVerifier::with_key_store(config, key_store(), system_clock()))
    }

    /// weather's verifier: only the gateway's weather credential.
    pub fn weather_verifier(&self) -> Arc<TargetVerifier> {
        let config = TargetConfig::new(&self.issuer, WEATHER_CLIENT, WEATHER_SCOPE).unwrap();
        Arc::new(TargetVerifier::with_key_store(config, key_store(), system_clock()))
    }
}

fn key_store() -> Arc<KeyStore> {
    let http = HttpClient::new(Duration::from_secs(1)).unwrap();
    Arc::new(KeyStore::new(http, system_clock(), KeyStoreSettings::default()))
}

/// `POST /oauth2/token`, client_credentials with HTTP Basic client authentication.
async fn token_endpoint(
    State(state): State<TokenState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let invalid_client = (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_client"})));
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return invalid_client;
    };
    let Some((expected, allowed)) = state.clients.get(id) else {
        return invalid_client;
    };
    if secret != *expected || form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return invalid_client;
    }
    let asked: Vec<String> = match form.get("scope") {
        Some(s) => s.split(' ').map(str::to_owned).collect(),
        None => allowed.iter().map(|s| (*s).to_owned()).collect(),
    };
    if asked.iter().any(|s| !allowed.contains(&s.as_str())) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_scope"})));
    }
    let token = state.signer.sign(&m2m_claims(&state.issuer, id, &asked, now_secs(), 3600));
    (StatusCode::OK, Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600})))
}

pub fn user(name: &str, org: &str, groups: &[&str]) -> User {
    User {
        sub: format!("sub-{name}"),
        username: name.to_owned(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        attributes: json!({"custom:org_id": org}).as_object().unwrap().clone(),
    }
}

pub fn alice() -> User {
    user("alice", "acme", &["sales"])
}

pub fn bob() -> User {
    user("bob", "globex", &[])
}

/// A real rmcp client at `url`, sending `token` as bearer (or nothing).
pub async fn mcp_client(
    url: &str,
    token: Option<&str>,
) -> Result<RunningService<RoleClient, ()>, rmcp::service::ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    ().serve(StreamableHttpClientTransport::from_config(config)).await
}

/// The tool result's structured content.
pub fn structured(result: &rmcp::model::CallToolResult) -> Value {
    result.structured_content.clone().expect("structured content")
}
