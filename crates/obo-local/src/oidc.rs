//! A standard OpenID provider for local runs, shaped like Auth0 (the `auth0` issuer profile):
//! issuer `http://127.0.0.1:<port>/` (with Auth0's trailing slash), discovery, JWKS, and a token
//! endpoint. Users sign in with the password grant (`grant_type=password`, `username`,
//! `password`, `audience`, `client_id`) and get an Auth0-style access token: `sub` `auth0|<id>`,
//! `aud` [API identifier, `<issuer>userinfo`], `azp` the client, and `org_id` when the user
//! belongs to an organization. `grant_type=client_credentials` gives the machine token Auth0
//! gives (`sub` `<client>@clients`, `gty: client-credentials`), for tests that it is refused.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use obo_testkit::{RsaSigner, TestServer};
use serde_json::{Value, json};

/// The API identifier (audience) the local gateway is registered as.
pub const API_AUDIENCE: &str = "https://crm.obo.local/api";
/// The app client users sign in with.
pub const WEB_CLIENT: &str = "LocalWebClient0000000000000000001";
/// A machine client of the same tenant (its tokens must be refused as subjects).
pub const MACHINE_CLIENT: &str = "LocalMachineClient00000000000002";
/// Every local user's password.
pub const PASSWORD: &str = "Passw0rd!local";

/// A user of the local provider.
#[derive(Debug, Clone)]
pub struct OidcUser {
    /// Sign-in name.
    pub username: String,
    /// `sub` (`auth0|…`).
    pub sub: String,
    /// Auth0 Organizations' `org_id`, if the user signs in through one.
    pub org_id: Option<String>,
}

/// The demo users: carol of organization `org_acme`, dave without an organization.
pub fn demo_users() -> Vec<OidcUser> {
    vec![
        OidcUser {
            username: "carol".into(),
            sub: "auth0|65b0c0ffee0000000000ca01".into(),
            org_id: Some("org_acme".into()),
        },
        OidcUser { username: "dave".into(), sub: "auth0|65b0c0ffee0000000000da02".into(), org_id: None },
    ]
}

struct Provider {
    issuer: String,
    key: RsaSigner,
    users: Vec<OidcUser>,
}

/// A running provider; dropping it stops it.
pub struct OidcProvider {
    _server: TestServer,
    state: Arc<Provider>,
}

impl OidcProvider {
    /// Starts the provider on a free loopback port with [`demo_users`].
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let issuer = format!("http://{}/", listener.local_addr().expect("addr"));
        let state =
            Arc::new(Provider { issuer, key: RsaSigner::generate("local-oidc-1"), users: demo_users() });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/oauth/token", post(token))
            .with_state(state.clone());
        Self { _server: TestServer::serve(listener, router), state }
    }

    /// The issuer (`iss`), with the trailing slash.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The discovery URL (the gateway authorizer's `DiscoveryUrl`).
    pub fn discovery_url(&self) -> String {
        format!("{}.well-known/openid-configuration", self.state.issuer)
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}oauth/token", self.state.issuer)
    }

    /// The users.
    pub fn users(&self) -> &[OidcUser] {
        &self.state.users
    }

    /// The `OBO_ISSUER_PROFILES` value that trusts this provider's users of [`WEB_CLIENT`].
    pub fn profiles(&self) -> String {
        json!({self.issuer(): {"profile": "auth0", "audience": API_AUDIENCE, "clients": [WEB_CLIENT]}})
            .to_string()
    }

    /// Signs a user in with the password grant, as a client would; the access token.
    pub async fn sign_in(&self, username: &str) -> Result<String, String> {
        let form = [
            ("grant_type", "password"),
            ("username", username),
            ("password", PASSWORD),
            ("audience", API_AUDIENCE),
            ("client_id", WEB_CLIENT),
            ("scope", "openid profile"),
        ];
        let response = reqwest::Client::new()
            .post(self.token_endpoint())
            .form(&form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        body["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("sign-in refused: {body}"))
    }
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({
        "issuer": p.issuer,
        "jwks_uri": format!("{}.well-known/jwks.json", p.issuer),
        "token_endpoint": format!("{}oauth/token", p.issuer),
        "userinfo_endpoint": format!("{}userinfo", p.issuer),
        "grant_types_supported": ["password", "client_credentials"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(obo_testkit::keys::jwks(&[&p.key]))
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::FORBIDDEN, Json(json!({"error": error}))).into_response()
}

async fn token(
    State(p): State<Arc<Provider>>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let now = obo_testkit::tokens::now_secs();
    let audience = field("audience");
    if audience.is_empty() {
        return oauth_error("access_denied");
    }
    let client = field("client_id");
    let mut claims = match field("grant_type") {
        "password" if client == WEB_CLIENT => {
            let Some(user) = p.users.iter().find(|u| u.username == field("username")) else {
                return oauth_error("invalid_grant");
            };
            if field("password") != PASSWORD {
                return oauth_error("invalid_grant");
            }
            let mut c = json!({"sub": user.sub, "aud": [audience, format!("{}userinfo", p.issuer)],
                "azp": client, "scope": field("scope")});
            if let Some(org) = &user.org_id {
                c["org_id"] = json!(org);
            }
            c
        }
        "client_credentials" if client == MACHINE_CLIENT => {
            json!({"sub": format!("{client}@clients"), "aud": audience, "azp": client, "gty": "client-credentials"})
        }
        _ => return oauth_error("unauthorized_client"),
    };
    claims["iss"] = json!(p.issuer);
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 3600);
    let token = p.key.sign(&claims);
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600})).into_response()
}
