//! The inbound authorizer, like AgentCore Gateway's `CUSTOM_JWT`: keys and issuer from an OIDC
//! discovery URL, then the token's `client_id` among the allowed clients and/or its `aud` among
//! the allowed audiences, and each custom claim rule (`STRING` `EQUALS`). As in AgentCore,
//! allowed clients are compared with `client_id` only: a token naming its client in `azp` (Auth0,
//! Keycloak, Entra) or `cid` (Okta) is refused when allowed clients are set. Anything else is
//! answered `401` with `WWW-Authenticate`.

use std::sync::Arc;

use axum::http::HeaderMap;
use jsonwebtoken::Algorithm;
use obo_core::clock::SharedClock;
use obo_core::env::ConfigError;
use obo_core::subject::issuer::TrustedIssuer;
use obo_core::subject::jwks::KeyStore;
use obo_core::subject::jwt::DEFAULT_MAX_TOKEN_BYTES;
use obo_core::subject::verify::{IssuerPolicy, TokenChecks, TokenVerifier};
use obo_core::{ReasonCode, Rejection};
use obo_target::bearer_token;
use serde_json::{Map, Value};

const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// Checks the user's bearer token on every inbound request.
pub(crate) struct Authorizer {
    verifier: TokenVerifier,
    allowed_clients: Vec<String>,
    allowed_audiences: Vec<String>,
    custom_claims: Vec<(String, String)>,
}

impl Authorizer {
    /// An authorizer for the issuer named by `discovery_url`
    /// (`<issuer>/.well-known/openid-configuration`).
    pub(crate) fn new(
        discovery_url: &str,
        allowed_clients: Vec<String>,
        allowed_audiences: Vec<String>,
        custom_claims: Vec<(String, String)>,
        keys: Arc<KeyStore>,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let issuer = discovery_url
            .strip_suffix(DISCOVERY_SUFFIX)
            .ok_or_else(|| ConfigError::new("discovery_url", format!("must end with {DISCOVERY_SUFFIX}")))?;
        // The issuer is what the discovery document says: with or without a trailing slash (Auth0
        // has one). Both forms are listed; the key store accepts only the one the document names.
        let issuers = [issuer.to_owned(), format!("{issuer}/")]
            .iter()
            .map(|i| TrustedIssuer::parse(i).map_err(|e| ConfigError::new("discovery_url", e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if allowed_clients.is_empty() && allowed_audiences.is_empty() && custom_claims.is_empty() {
            return Err(ConfigError::new(
                "allowed_clients",
                "set allowed clients or allowed audiences (AgentCore requires one)",
            ));
        }
        let checks = TokenChecks {
            issuers: IssuerPolicy::Listed(issuers),
            algorithms: vec![Algorithm::RS256],
            leeway_secs: 30,
            max_age_secs: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        };
        Ok(Self {
            verifier: TokenVerifier::new(checks, keys, clock),
            allowed_clients,
            allowed_audiences,
            custom_claims,
        })
    }

    /// Warms the key cache.
    pub(crate) async fn prefetch(&self) {
        self.verifier.prefetch().await;
    }

    /// The claims of the request's valid user token.
    pub(crate) async fn authorize(&self, headers: &HeaderMap) -> Result<Map<String, Value>, Rejection> {
        let token = bearer_token(headers)?;
        let claims = self.verifier.verify(token, None).await?;
        let not_allowed = |what: &str| {
            Rejection::new(ReasonCode::SubjectClientNotAllowed, format!("the token's {what} is not allowed"))
        };
        if !self.allowed_clients.is_empty() {
            let client = claims.get("client_id").and_then(Value::as_str);
            if !client.is_some_and(|c| self.allowed_clients.iter().any(|a| a == c)) {
                return Err(not_allowed("client_id"));
            }
        }
        if !self.allowed_audiences.is_empty() {
            let allowed =
                |v: &Value| v.as_str().is_some_and(|a| self.allowed_audiences.iter().any(|x| x == a));
            let ok = match claims.get("aud") {
                Some(Value::Array(list)) => list.iter().any(allowed),
                Some(v) => allowed(v),
                None => false,
            };
            if !ok {
                return Err(not_allowed("aud"));
            }
        }
        for (name, value) in &self.custom_claims {
            if claims.get(name).and_then(Value::as_str) != Some(value.as_str()) {
                return Err(not_allowed(name));
            }
        }
        Ok(claims)
    }
}
