//! The target's checks on top of [`TokenVerifier`] (structure, algorithm, issuer, key,
//! signature, time): a machine token of an allowed client carrying this target's scope and,
//! for calls that act for a user, the on-behalf-of claims with `now < obo_exp`.

use std::sync::Arc;
use std::time::Duration;

use obo_core::clock::{SharedClock, system_clock};
use obo_core::env::ConfigError;
use obo_core::http::HttpClient;
use obo_core::subject::jwks::{KeyStore, KeyStoreSettings};
use obo_core::subject::verify::{IssuerPolicy, TokenChecks, TokenVerifier, numeric_date};
use obo_core::{ReasonCode, Rejection};
use serde_json::{Map, Value};

use crate::config::TargetConfig;

/// A valid machine token presented to this target: enough to list tools, not to act for a user.
#[derive(Debug, Clone)]
pub struct ServiceToken {
    /// The machine app client the token was issued to.
    pub client_id: String,
    /// The token's `exp`.
    pub exp: u64,
    /// All claims of the token.
    pub claims: Map<String, Value>,
}

impl ServiceToken {
    /// The scopes granted (`scope`, space separated).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.claims.get("scope").and_then(Value::as_str).unwrap_or_default().split(' ')
    }
}

/// The user (and organization) a valid on-behalf-of token acts for.
#[derive(Debug, Clone)]
pub struct OboIdentity {
    /// The user's `sub` (`obo_sub`).
    pub user_sub: String,
    /// The user name (`obo_username`), if mapped.
    pub username: Option<String>,
    /// The organization, from the configured claim (default `org_id`), if present.
    pub org_id: Option<String>,
    /// The user's groups (`obo_groups`); empty if none.
    pub groups: Vec<String>,
    /// The app client the user signed in with (`obo_client_id`), if mapped.
    pub user_client_id: Option<String>,
    /// The issuer of the user's token (`obo_iss`), if mapped.
    pub user_issuer: Option<String>,
    /// The expiry of the user's token (`obo_exp`); the identity is void after it.
    pub obo_exp: u64,
    /// The machine token itself.
    pub token: ServiceToken,
}

/// Validates the tokens a target receives. Build one at start-up and share it.
pub struct TargetVerifier {
    config: TargetConfig,
    token: TokenVerifier,
    clock: SharedClock,
}

impl std::fmt::Debug for TargetVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetVerifier").field("config", &self.config).finish_non_exhaustive()
    }
}

fn reject(reason: ReasonCode, message: impl Into<String>) -> Rejection {
    Rejection::new(reason, message)
}

impl TargetVerifier {
    /// A verifier with its own key cache (1.5 s fetch deadline, refetch for an unknown `kid` at
    /// most every 10 s) and the system clock.
    pub fn new(config: TargetConfig) -> Result<Self, ConfigError> {
        let http = HttpClient::new(Duration::from_secs(1))
            .map_err(|e| ConfigError::new("http client", e.to_string()))?;
        let keys = Arc::new(KeyStore::new(http, system_clock(), KeyStoreSettings::default()));
        Ok(Self::with_key_store(config, keys, system_clock()))
    }

    /// A verifier sharing a key cache and clock (tests, several targets in one process).
    pub fn with_key_store(config: TargetConfig, keys: Arc<KeyStore>, clock: SharedClock) -> Self {
        let checks = TokenChecks {
            issuers: IssuerPolicy::Listed(vec![config.issuer.clone()]),
            algorithms: config.algorithms.clone(),
            leeway_secs: config.leeway_secs,
            max_age_secs: None,
            max_token_bytes: config.max_token_bytes,
        };
        Self { token: TokenVerifier::new(checks, keys, clock.clone()), config, clock }
    }

    /// The settings in force.
    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// Warms the key cache; a failure is logged and met again by the first token.
    pub async fn prefetch(&self) {
        self.token.prefetch().await;
    }

    /// Checks a token for a request that acts for no user (see [`crate::service_method_allowed`]):
    /// a machine token of the on-behalf-of client or a listed service client, with this target's
    /// scope.
    pub async fn verify_service(&self, token: &str) -> Result<ServiceToken, Rejection> {
        let claims = self.token.verify(token, None).await?;
        self.machine_token(claims, |c| self.config.is_service_client(c))
    }

    /// Checks a token for a call that acts for a user: a machine token of the on-behalf-of
    /// client, with this target's scope and no other target's, the on-behalf-of claims, a user
    /// issuer this target serves (when listed), before `obo_exp`.
    pub async fn verify_obo(&self, token: &str) -> Result<OboIdentity, Rejection> {
        let claims = self.token.verify(token, None).await?;
        let token = self.machine_token(claims, |c| c == self.config.obo_client_id)?;
        let now = self.clock.now_secs();
        let claims = &token.claims;
        if !self.config.user_issuers.is_empty() {
            match claims.get("obo_iss") {
                Some(Value::String(iss)) if self.config.user_issuers.iter().any(|i| i == iss) => {}
                Some(Value::String(_)) => {
                    return Err(reject(
                        ReasonCode::SubjectIssuerNotAllowed,
                        "the user's issuer (`obo_iss`) is not one this target serves",
                    ));
                }
                Some(_) => return Err(reject(ReasonCode::SubjectClaimInvalid, "`obo_iss` is not a string")),
                None => {
                    return Err(reject(
                        ReasonCode::OboClaimsMissing,
                        "the token carries no `obo_iss`, which this target requires",
                    ));
                }
            }
        }
        let user_sub = match claims.get("obo_sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            Some(_) => return Err(reject(ReasonCode::SubjectClaimInvalid, "`obo_sub` is not a string")),
            None => {
                return Err(reject(
                    ReasonCode::OboClaimsMissing,
                    "the token carries no `obo_sub`: it does not act for a user",
                ));
            }
        };
        let obo_exp = match claims.get("obo_exp") {
            Some(v) => numeric_date(v)
                .ok_or_else(|| reject(ReasonCode::SubjectClaimInvalid, "`obo_exp` is not a number"))?,
            None => return Err(reject(ReasonCode::OboClaimsMissing, "the token carries no `obo_exp`")),
        };
        if now >= obo_exp {
            return Err(reject(ReasonCode::SubjectExpired, "the user's token has expired (`obo_exp`)"));
        }
        if token.scopes().any(|s| !s.is_empty() && !self.config.is_own_scope(s)) {
            return Err(reject(
                ReasonCode::TokenNotForTarget,
                "the token also carries other targets' scopes: an on-behalf-of token is for one target",
            ));
        }
        Ok(OboIdentity {
            user_sub,
            username: optional_string(claims, "obo_username")?,
            org_id: optional_string(claims, &self.config.org_claim)?,
            groups: string_list(claims, "obo_groups")?,
            user_client_id: optional_string(claims, "obo_client_id")?,
            user_issuer: optional_string(claims, "obo_iss")?,
            obo_exp,
            token,
        })
    }

    /// The machine-token rules, in order: not a user's token, `token_use` access, an allowed
    /// client, this target's scope.
    fn machine_token(
        &self,
        claims: Map<String, Value>,
        allowed: impl Fn(&str) -> bool,
    ) -> Result<ServiceToken, Rejection> {
        let user_claim =
            ["username", "cognito:username", "origin_jti"].into_iter().find(|c| claims.contains_key(*c));
        if let Some(claim) = user_claim
            && !claims.contains_key("obo_sub")
        {
            return Err(reject(
                ReasonCode::TokenNotForTarget,
                format!(
                    "a user's own token (it has `{claim}`) was sent to the target; \
                     targets accept only tokens minted for them"
                ),
            ));
        }
        match claims.get("token_use") {
            Some(Value::String(u)) if u == "access" => {}
            _ => return Err(reject(ReasonCode::SubjectWrongTokenUse, "the token is not an access token")),
        }
        let client_id = match claims.get("client_id") {
            Some(Value::String(c)) if allowed(c) => c.clone(),
            Some(Value::String(_)) | None => {
                return Err(reject(
                    ReasonCode::SubjectClientNotAllowed,
                    "the token was issued to a client this target does not accept here",
                ));
            }
            Some(_) => return Err(reject(ReasonCode::SubjectClaimInvalid, "`client_id` is not a string")),
        };
        let has_scope = match claims.get("scope") {
            Some(Value::String(s)) => s.split(' ').any(|s| s == self.config.scope),
            Some(_) => return Err(reject(ReasonCode::SubjectClaimInvalid, "`scope` is not a string")),
            None => false,
        };
        if !has_scope {
            return Err(reject(ReasonCode::TokenNotForTarget, "the token lacks this target's scope"));
        }
        let exp = claims.get("exp").and_then(numeric_date).unwrap_or_default();
        Ok(ServiceToken { client_id, exp, claims })
    }
}

fn optional_string(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, Rejection> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(reject(ReasonCode::SubjectClaimInvalid, format!("`{name}` is not a string"))),
    }
}

fn string_list(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, Rejection> {
    let invalid = || reject(ReasonCode::SubjectClaimInvalid, format!("`{name}` is not a list of strings"));
    match claims.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid)).collect()
        }
        Some(_) => Err(invalid()),
    }
}
