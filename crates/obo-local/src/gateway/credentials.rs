//! The gateway's own credential for a target, like AgentCore's OAuth target credential
//! provider: a client_credentials token from a token endpoint, cached until shortly before it
//! expires (so tool syncs and passthrough calls do not mint a token each time).

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use obo_core::Secret;
use obo_core::http::{HttpClient, checked_url};
use serde_json::Value;

/// A client_credentials grant at a token endpoint (`POST /oauth2/token`, HTTP Basic client
/// authentication, as Cognito takes it).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The token endpoint, e.g. `http://127.0.0.1:<port>/oauth2/token`.
    pub token_url: String,
    /// The machine app client.
    pub client_id: String,
    /// Its secret (redacted in `Debug`).
    pub client_secret: Secret,
    /// Scopes to ask for; empty asks for all the client's scopes.
    pub scopes: Vec<String>,
}

struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Fetches and caches one target's token; concurrent misses share one fetch.
pub(crate) struct TokenProvider {
    credentials: ClientCredentials,
    url: reqwest::Url,
    http: HttpClient,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenProvider {
    /// A provider; the token URL must be https or loopback http.
    pub(crate) fn new(credentials: ClientCredentials, http: HttpClient) -> Result<Self, String> {
        let url = checked_url(&credentials.token_url).map_err(|e| e.to_string())?;
        Ok(Self { credentials, url, http, cache: tokio::sync::Mutex::new(None) })
    }

    /// A valid access token (cached, or fetched now).
    pub(crate) async fn token(&self) -> Result<Secret, String> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        let margin = Duration::from_secs(60).min(lifetime / 2);
        *cache = Some(Cached { token: token.clone(), refresh_at: Instant::now() + lifetime - margin });
        let (client_id, expires_in) = (&self.credentials.client_id, lifetime.as_secs());
        tracing::info!(client_id = %client_id, expires_in, "gateway credential token fetched");
        Ok(token)
    }

    async fn fetch(&self) -> Result<(Secret, Duration), String> {
        let c = &self.credentials;
        let basic = STANDARD.encode(format!("{}:{}", c.client_id, c.client_secret.expose()));
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|_| "client id or secret is not text")?;
        headers.insert(AUTHORIZATION, value);
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if !c.scopes.is_empty() {
                form.append_pair("scope", &c.scopes.join(" "));
            }
            form.finish()
        };
        let response = self
            .http
            .post_form(&self.url, headers, form, Duration::from_secs(3), 64 * 1024)
            .await
            .map_err(|e| format!("token endpoint: {e}"))?;
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.status != 200 {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("no OAuth error code");
            return Err(format!("token endpoint answered HTTP {} ({error})", response.status));
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or("token endpoint answered without access_token")?;
        let lifetime = body.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
        Ok((Secret::new(token), Duration::from_secs(lifetime)))
    }
}
