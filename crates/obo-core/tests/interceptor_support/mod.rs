//! A loopback identity provider for the interceptor's tests: a real token endpoint (Cognito's
//! `/oauth2/token` with the pre-token trigger's enrichment, and RFC 8693 token exchange) that
//! checks HTTP Basic client authentication, the form body and the decoded
//! `aws_client_metadata`, signs tokens with real expiries, counts calls, and answers with
//! scripted faults (429, 5xx, slow, OAuth 400s). It also serves OIDC discovery and a JWKS for the
//! users' issuer, for `OBO_VERIFY_INBOUND`.

#![allow(dead_code)]

pub mod aws;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::interceptor::{Interceptor, InterceptorConfig};
use obo_testkit::tokens::{User, access_claims, m2m_claims, now_secs, unique_id};
use obo_testkit::{RsaSigner, TestServer};
use serde_json::{Map, Value, json};

pub const POOL: &str = "us-east-1_Users";
pub const USER_CLIENT: &str = "user-app";
pub const OBO_CLIENT: &str = "obo-m2m";
pub const OBO_SECRET: &str = "obo-secret-value-0123456789";
pub const ACTOR_CLIENT: &str = "actor-m2m";
pub const ACTOR_SECRET: &str = "actor-secret-value-9876543210";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The documented example policy, plus a second OBO target and a denied one.
pub const TARGETS: &str = r#"{
  "crm": {"mode": "obo", "scopes": ["cognito-obo/crm"], "metadata": {"target": "crm"}},
  "billing": {"mode": "obo", "scopes": ["cognito-obo/billing"]},
  "weather": {"mode": "passthrough"},
  "admin": {"mode": "deny"}
}"#;

/// One scripted answer of the token endpoint.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Mint normally (check credentials, enrich like the trigger).
    Mint,
    /// Answer this status, with an optional `Retry-After` (seconds).
    Status(u16, Option<u64>),
    /// An OAuth error with HTTP 400.
    OAuth(&'static str, Option<String>),
    /// Wait, then mint.
    Slow(Duration),
    /// Mint a token without `obo_sub` (the trigger did not run).
    WithoutOboSub,
    /// Mint a token whose `obo_sub` is another user's.
    OtherUser,
    /// Mint a token with the user's `obo_sub` but another issuer's `obo_iss` (the same `sub`
    /// at another identity provider).
    OtherIssuer,
    /// Answer with the user's own token.
    EchoUserToken,
    /// Token exchange: mint a token whose `sub` is another user's.
    ExchangeOtherSub,
    /// Grant one scope more than asked for (an IdP that grants the client's other scopes).
    ExtraScope,
    /// Grant fewer scopes than asked for (an IdP that drops one).
    MissingScope,
    /// Ignore the `audience` asked for (no `aud` in the token).
    IgnoreAudience,
    /// Mint with another `client_id` (not the on-behalf-of client).
    OtherClientId,
}

/// What the endpoint was asked, as it decoded it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub client_id: String,
    pub grant_type: String,
    pub scope: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub subject_sub: Option<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    pub actor_sub: Option<String>,
}

pub struct IdpState {
    pub issuer: Mutex<String>,
    pub m2m_key: RsaSigner,
    pub user_key: RsaSigner,
    pub secret: Mutex<String>,
    pub calls: AtomicUsize,
    pub lifetime_secs: AtomicU64,
    pub script: Mutex<VecDeque<Reply>>,
    pub seen: Mutex<Vec<Seen>>,
}

/// The loopback identity provider.
pub struct FakeIdp {
    pub server: TestServer,
    pub state: Arc<IdpState>,
    /// The users' issuer (`http://127.0.0.1:<port>/us-east-1_Users`).
    pub issuer: String,
}

fn oauth_error(error: &str, description: Option<&str>) -> Response {
    let mut body = json!({"error": error});
    if let Some(d) = description {
        body["error_description"] = json!(d);
    }
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn trigger_failure(code: &str) -> Response {
    let d = format!("PreTokenGenerationV3_0 failed with error {code}: rejected by the test trigger.");
    oauth_error("invalid_request", Some(&d))
}

/// Decodes `Authorization: Basic base64(urlenc(id):urlenc(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let b64 = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(b64).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

fn unverified(token: &str) -> Option<Map<String, Value>> {
    obo_core::subject::jwt::unverified_claims(token, 64 * 1024).ok()
}

async fn token(State(s): State<Arc<IdpState>>, headers: HeaderMap, body: String) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let reply = s.script.lock().unwrap().pop_front().unwrap_or(Reply::Mint);
    match &reply {
        Reply::Status(code, retry_after) => {
            let mut response = StatusCode::from_u16(*code).unwrap().into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
            }
            return response;
        }
        Reply::OAuth(error, description) => return oauth_error(error, description.as_deref()),
        Reply::Slow(delay) => tokio::time::sleep(*delay).await,
        _ => {}
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded")
    {
        return oauth_error("invalid_request", Some("not a form"));
    }
    let Some((client_id, secret)) = basic_credentials(&headers) else {
        return oauth_error("invalid_client", None);
    };
    let expected = match client_id.as_str() {
        OBO_CLIENT => s.secret.lock().unwrap().clone(),
        ACTOR_CLIENT => ACTOR_SECRET.to_owned(),
        _ => return oauth_error("invalid_client", None),
    };
    if secret != expected {
        return oauth_error("invalid_client", None);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let mut seen = Seen {
        client_id: client_id.clone(),
        grant_type: grant_type.clone(),
        scope: form.get("scope").cloned(),
        metadata: None,
        subject_sub: None,
        audience: form.get("audience").cloned(),
        resource: form.get("resource").cloned(),
        actor_sub: None,
    };
    let scopes: Vec<String> =
        seen.scope.as_deref().unwrap_or_default().split(' ').map(str::to_owned).collect();
    let issuer = s.issuer.lock().unwrap().clone();
    let now = now_secs();
    let lifetime = s.lifetime_secs.load(Ordering::SeqCst);
    let mut claims = m2m_claims(&issuer, &client_id, &scopes, now, lifetime);
    match grant_type.as_str() {
        "client_credentials" => {
            if seen.scope.is_none() {
                return oauth_error("invalid_request", Some("scope is required by this test endpoint"));
            }
            if client_id == OBO_CLIENT {
                let Some(raw) = form.get("aws_client_metadata") else {
                    return trigger_failure("subject_missing");
                };
                let Ok(Value::Object(metadata)) = serde_json::from_str::<Value>(raw) else {
                    return oauth_error("invalid_request", Some("aws_client_metadata is not a JSON object"));
                };
                if !metadata.values().all(Value::is_string) {
                    return oauth_error(
                        "invalid_request",
                        Some("aws_client_metadata values must be strings"),
                    );
                }
                let user = metadata.get("onBehalfOfToken").and_then(Value::as_str).and_then(unverified);
                let Some(user) = user else {
                    return trigger_failure("subject_missing");
                };
                let sub = user["sub"].as_str().unwrap_or_default().to_owned();
                seen.subject_sub = Some(sub.clone());
                match reply {
                    Reply::WithoutOboSub => {}
                    Reply::OtherUser => claims["obo_sub"] = json!("someone-else"),
                    Reply::OtherIssuer => {
                        claims["obo_sub"] = json!(sub);
                        claims["obo_iss"] = json!("https://idp.example.org/");
                    }
                    _ => {
                        claims["obo_sub"] = json!(sub);
                        claims["obo_iss"] = user["iss"].clone();
                        claims["obo_username"] = user["username"].clone();
                        if let Some(target) = metadata.get("target") {
                            claims["obo_target"] = target.clone();
                        }
                    }
                }
                seen.metadata = Some(metadata);
            }
        }
        TOKEN_EXCHANGE => {
            let Some(user) = form.get("subject_token").and_then(|t| unverified(t)) else {
                return oauth_error("invalid_grant", None);
            };
            if form.get("subject_token_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:token-type:access_token")
            {
                return oauth_error("invalid_request", Some("subject_token_type"));
            }
            let sub = user["sub"].as_str().unwrap_or_default().to_owned();
            seen.subject_sub = Some(sub.clone());
            claims["sub"] =
                json!(if matches!(reply, Reply::ExchangeOtherSub) { "someone-else" } else { &sub });
            if let Some(actor) = form.get("actor_token") {
                let Some(actor) = unverified(actor) else {
                    return oauth_error("invalid_request", Some("actor_token"));
                };
                seen.actor_sub = actor["sub"].as_str().map(str::to_owned);
                claims["act"] = json!({"sub": actor["sub"]});
            }
        }
        _ => return oauth_error("unsupported_grant_type", None),
    }
    // A compliant identity provider puts the audience asked for in `aud`.
    if let Some(audience) = &seen.audience {
        claims["aud"] = json!(audience);
    }
    match reply {
        Reply::ExtraScope => claims["scope"] = json!(format!("{} other-target/scope", scopes.join(" "))),
        Reply::MissingScope => claims["scope"] = json!(scopes[1..].join(" ")),
        Reply::IgnoreAudience => {
            claims.as_object_mut().map(|c| c.remove("aud"));
        }
        Reply::OtherClientId => claims["client_id"] = json!("another-m2m-client"),
        _ => {}
    }
    let user_token = seen_user_token(&form);
    s.seen.lock().unwrap().push(seen);
    let access_token = match reply {
        Reply::EchoUserToken => user_token.unwrap_or_default(),
        _ => s.m2m_key.sign(&claims),
    };
    let mut body = json!({"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime});
    if grant_type == TOKEN_EXCHANGE {
        body["issued_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
    }
    axum::Json(body).into_response()
}

fn seen_user_token(form: &HashMap<String, String>) -> Option<String> {
    if let Some(t) = form.get("subject_token") {
        return Some(t.clone());
    }
    let metadata: Value = serde_json::from_str(form.get("aws_client_metadata")?).ok()?;
    metadata.get("onBehalfOfToken")?.as_str().map(str::to_owned)
}

async fn discovery(State(s): State<Arc<IdpState>>) -> Response {
    let issuer = s.issuer.lock().unwrap().clone();
    axum::Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/.well-known/jwks.json")}))
        .into_response()
}

async fn jwks(State(s): State<Arc<IdpState>>) -> Response {
    axum::Json(obo_testkit::keys::jwks(&[&s.user_key])).into_response()
}

impl FakeIdp {
    pub async fn start() -> Self {
        let state = Arc::new(IdpState {
            issuer: Mutex::new(String::new()),
            m2m_key: RsaSigner::generate("m2m-1"),
            user_key: RsaSigner::generate("user-1"),
            secret: Mutex::new(OBO_SECRET.to_owned()),
            calls: AtomicUsize::new(0),
            lifetime_secs: AtomicU64::new(3600),
            script: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/oauth2/token", post(token))
            .route(&format!("/{POOL}/.well-known/openid-configuration"), get(discovery))
            .route(&format!("/{POOL}/.well-known/jwks.json"), get(jwks))
            .with_state(state.clone());
        let server = TestServer::start(router).await;
        let issuer = server.url(&format!("/{POOL}"));
        *state.issuer.lock().unwrap() = issuer.clone();
        Self { server, state, issuer }
    }

    pub fn endpoint(&self) -> String {
        self.server.url("/oauth2/token")
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn set_lifetime(&self, secs: u64) {
        self.state.lifetime_secs.store(secs, Ordering::SeqCst);
    }

    /// A user access token as Cognito issues it, valid for `lifetime` seconds from now.
    pub fn user_token(&self, sub: &str, lifetime: u64) -> String {
        let user =
            User { sub: sub.into(), username: format!("user-{sub}"), groups: vec![], attributes: Map::new() };
        self.state.user_key.sign(&access_claims(&self.issuer, USER_CLIENT, &user, now_secs() - 10, lifetime))
    }

    /// The base configuration: the targets above, the loopback endpoint and a literal secret.
    pub fn env(&self) -> HashMap<String, String> {
        [
            ("OBO_TARGETS", TARGETS.to_owned()),
            ("OBO_CLIENT_ID", OBO_CLIENT.to_owned()),
            ("OBO_TOKEN_ENDPOINT", self.endpoint()),
            ("OBO_CLIENT_SECRET", OBO_SECRET.to_owned()),
            ("OBO_ATTEMPT_TIMEOUT_MS", "2000".to_owned()),
            ("OBO_TOTAL_TIMEOUT_MS", "4000".to_owned()),
            // Metrics lines would go to the test output; tests/metrics.rs turns them on.
            ("OBO_METRICS", "off".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// An interceptor over this endpoint, with a manual clock at the real time.
    pub async fn interceptor(&self, extra: &[(&str, &str)]) -> (Interceptor, Arc<ManualClock>) {
        let mut env = self.env();
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = InterceptorConfig::from_env(&env).expect("valid test configuration");
        let clock = ManualClock::at_millis(now_secs() * 1000);
        let shared: SharedClock = clock.clone();
        (Interceptor::new(config, shared).await.expect("interceptor"), clock)
    }
}

/// A random user id.
pub fn new_sub() -> String {
    unique_id()
}

/// An MCP `tools/call` event as the gateway sends it (`passRequestHeaders: true`).
pub fn call(tool: &str, authorization: Option<&str>) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": tool, "arguments": {"account": "A-42"}}});
    let mut headers = json!({"accept": "application/json, text/event-stream", "mcp-session-id": "s-1"});
    if let Some(a) = authorization {
        headers["authorization"] = json!(a);
    }
    json!({
        "interceptorInputVersion": "1.0",
        "mcp": {
            "rawGatewayRequest": {"body": body.to_string()},
            "gatewayRequest": {"path": "/mcp", "httpMethod": "POST", "headers": headers, "body": body}
        }
    })
}

/// A `tools/call` for `tool` with `Bearer <token>`.
pub fn call_as(tool: &str, token: &str) -> Value {
    call(tool, Some(&format!("Bearer {token}")))
}

/// The short-circuit answer's status, reason and retryable flag, if the output is one.
pub fn short_circuit(out: &Value) -> Option<(u64, String, bool)> {
    let flavour = if out.get("http").is_some() { "http" } else { "mcp" };
    let r = out[flavour].get("transformedGatewayResponse")?;
    let body = match &r["body"] {
        Value::String(b64) => serde_json::from_slice(&STANDARD.decode(b64).ok()?).ok()?,
        other => other.clone(),
    };
    Some((
        r["statusCode"].as_u64()?,
        body["error"]["data"]["reason"].as_str()?.to_owned(),
        body["error"]["data"]["retryable"].as_bool()?,
    ))
}

/// The bearer token the output forwards, if any.
pub fn forwarded_token(out: &Value) -> Option<String> {
    let auth = out["mcp"]["transformedGatewayRequest"]["headers"]["Authorization"].as_str()?;
    auth.strip_prefix("Bearer ").map(str::to_owned)
}

/// The claims of a token (unverified; for assertions).
pub fn claims_of(token: &str) -> Map<String, Value> {
    obo_core::subject::jwt::unverified_claims(token, 64 * 1024).unwrap()
}
