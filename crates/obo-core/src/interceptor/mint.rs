//! Minting a token for one user and target, and checking it before anything is forwarded: the
//! minted token must carry the user (`obo_sub` for `obo`, `sub` for token exchange) and be for
//! this target alone ([`check_minted`]). That closes the fail-open case where the trigger did not
//! run (pool on V2_0 or the Lite plan, trigger detached, an unexpected trigger source) and Cognito
//! handed out a bare service token, and an identity provider that ignores the scope or audience
//! asked for.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::config::{InterceptorConfig, TokenSettings, TransportSetting};
use crate::clock::SharedClock;
use crate::env::ConfigError;
use crate::http::HttpClient;
use crate::interceptor::client_secret::{ClientSecret, FetchSecret, SecretSource};
use crate::interceptor::shared_cache::{SharedCacheSettings, SharedStore};
use crate::interceptor::targets::{Mode, TargetPolicy};
use crate::interceptor::token_cache::{KeyBuilder, Minted, TokenCache, encode_fields};
use crate::interceptor::token_client::{Grant, IdpCalls, Issued, TokenClient, TokenTransport, Transport};
use crate::reason::{ReasonCode, Rejection};
use crate::trigger::event::ON_BEHALF_OF_TOKEN;

/// Client secrets supplied by the caller instead of fetched ([`super::Interceptor::with_secrets`]).
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The on-behalf-of client's secret.
    pub client: Arc<ClientSecret>,
    /// The actor client's secret, when a target asks for actor tokens.
    pub actor: Option<Arc<ClientSecret>>,
}

/// The AWS SDK-backed parts the interceptor can be built with (`crate::aws`), plugged in at
/// construction.
pub(crate) trait SdkParts: Send + Sync {
    /// A reader of `source` for the app client `client_id`; `None` for a literal.
    fn secret_reader(&self, source: &SecretSource, client_id: &str) -> Option<Box<dyn FetchSecret>>;
    /// The `sdk` transport (`GetClientToken`), its attempts capped at `attempt_timeout`.
    fn token_transport(&self, attempt_timeout: Duration) -> Result<Arc<dyn TokenTransport>, ConfigError>;
    /// The shared tier's store.
    fn shared_store(&self, settings: &SharedCacheSettings) -> Result<Box<dyn SharedStore>, ConfigError>;
}

/// What the interceptor needs besides its configuration.
pub(crate) struct Parts {
    pub http: HttpClient,
    secrets: Option<Secrets>,
    /// The shared tier's store, when `OBO_SHARED_CACHE` is on.
    pub store: Option<Box<dyn SharedStore>>,
    transport: Option<Arc<dyn TokenTransport>>,
}

fn http_client(config: &InterceptorConfig) -> Result<HttpClient, ConfigError> {
    let attempt = config.tokens.as_ref().map_or(Duration::from_secs(2), |t| t.retry.attempt_timeout);
    HttpClient::with_roots(attempt.min(Duration::from_secs(2)), config.tls_roots)
        .map_err(|e| ConfigError::new("OBO_ATTEMPT_TIMEOUT_MS", format!("HTTP client: {e}")))
}

impl Parts {
    pub fn with_secrets(config: &InterceptorConfig, secrets: Secrets) -> Result<Self, ConfigError> {
        if config.tokens.as_ref().is_some_and(|t| t.transport == TransportSetting::Sdk) {
            return Err(ConfigError::new("OBO_TOKEN_TRANSPORT", "sdk needs the AWS SDK configuration"));
        }
        Ok(Self { http: http_client(config)?, secrets: Some(secrets), store: None, transport: None })
    }

    /// Loads secrets (and the AWS SDK configuration from the environment when needed).
    pub async fn load(config: &InterceptorConfig, clock: SharedClock) -> Result<Self, ConfigError> {
        let sdk = match needs_sdk(config) {
            true => crate::sdk::load().await,
            false => None,
        };
        Self::load_with(config, sdk.as_deref(), clock).await
    }

    /// Loads secrets through `sdk` (Secrets Manager, DescribeUserPoolClient) and plugs in the
    /// `sdk` transport and the shared tier's store; `sdk` is `None` where this build has no AWS
    /// SDK (then only literal secrets and the `oauth2` transport).
    pub async fn load_with(
        config: &InterceptorConfig,
        sdk: Option<&dyn SdkParts>,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let http = http_client(config)?;
        let Some(tokens) = &config.tokens else {
            return Ok(Self { http, secrets: None, store: None, transport: None });
        };
        if tokens.transport == TransportSetting::Sdk && sdk.is_none() {
            return Err(ConfigError::new("OBO_TOKEN_TRANSPORT", "sdk needs cargo feature `aws`"));
        }
        let client =
            load_secret(tokens.secret.variable(), &tokens.secret, &tokens.client_id, sdk, &clock).await?;
        let actor = match &tokens.actor {
            Some(a) => {
                Some(load_secret("OBO_ACTOR_CLIENT_SECRET_ARN", &a.secret, &a.client_id, sdk, &clock).await?)
            }
            None => None,
        };
        let transport = match (&tokens.transport, sdk) {
            (TransportSetting::Sdk, Some(sdk)) => Some(sdk.token_transport(tokens.retry.attempt_timeout)?),
            _ => None,
        };
        // Without the SDK, a tier that is on is refused when the interceptor is assembled.
        let store = match (&config.shared_cache, sdk) {
            (Some(settings), Some(sdk)) => Some(sdk.shared_store(settings)?),
            _ => None,
        };
        Ok(Self { http, secrets: Some(Secrets { client, actor }), store, transport })
    }

    /// The on-behalf-of client's secret (which also keys the shared tier).
    pub fn client_secret(&self) -> Option<Arc<ClientSecret>> {
        self.secrets.as_ref().map(|s| Arc::clone(&s.client))
    }

    pub(super) fn into_minter(self, config: &InterceptorConfig, clock: SharedClock) -> Option<Minter> {
        let tokens = config.tokens.as_ref()?;
        let secrets = self.secrets?;
        let transport = match &tokens.transport {
            TransportSetting::OAuth2(url) => Transport::OAuth2(url.clone()),
            TransportSetting::Sdk => Transport::Sdk,
        };
        let build = |client_id: &str, secret: Arc<ClientSecret>| {
            let client = TokenClient::new(
                client_id.to_owned(),
                secret,
                transport.clone(),
                tokens.retry,
                self.http.clone(),
                clock.clone(),
            );
            match &self.transport {
                Some(sdk) => client.with_sdk(Arc::clone(sdk)),
                None => client,
            }
        };
        let actor = match (&tokens.actor, secrets.actor) {
            (Some(settings), Some(secret)) => Some(Actor {
                client: build(&settings.client_id, secret),
                endpoint: tokens.endpoint_label().to_owned(),
            }),
            _ => None,
        };
        Some(Minter { client: build(&tokens.client_id, secrets.client), actor })
    }
}

fn needs_sdk(config: &InterceptorConfig) -> bool {
    config.shared_cache.is_some()
        || config.tokens.as_ref().is_some_and(|t| {
            t.transport == TransportSetting::Sdk
                || !matches!(t.secret, SecretSource::Literal(_))
                || t.actor.as_ref().is_some_and(|a| !matches!(a.secret, SecretSource::Literal(_)))
        })
}

/// The secret of `source`: a literal as it is, else fetched now through `sdk` (cold start).
async fn load_secret(
    variable: &str,
    source: &SecretSource,
    client_id: &str,
    sdk: Option<&dyn SdkParts>,
    clock: &SharedClock,
) -> Result<Arc<ClientSecret>, ConfigError> {
    if let SecretSource::Literal(secret) = source {
        return Ok(Arc::new(ClientSecret::fixed(secret.clone(), clock.clone())));
    }
    let Some(fetcher) = sdk.and_then(|sdk| sdk.secret_reader(source, client_id)) else {
        return Err(ConfigError::new(variable, "needs the AWS SDK (cargo feature `aws`)"));
    };
    let secret = ClientSecret::fetched(fetcher, clock.clone())
        .await
        .map_err(|e| ConfigError::new(variable, format!("the client secret could not be read: {e}")))?;
    Ok(Arc::new(secret))
}

/// The acting client of token-exchange delegation.
pub(super) struct Actor {
    client: TokenClient,
    endpoint: String,
}

/// Acquires and checks tokens.
pub(super) struct Minter {
    client: TokenClient,
    actor: Option<Actor>,
}

impl Minter {
    /// Mints a token for `policy` on behalf of the user of `user_token` (whose `iss` and `sub`
    /// are `iss` and `sub`),
    /// and checks that it carries that user. The identity provider's answers are noted in `calls`
    /// (an actor token's are not: it is cached on its own).
    pub async fn mint(
        &self,
        policy: &TargetPolicy,
        user_token: &str,
        iss: &str,
        sub: &str,
        cache: &TokenCache,
        calls: &IdpCalls,
    ) -> Result<Minted, Rejection> {
        let issued = match policy.mode {
            Mode::Obo => {
                let mut metadata: Vec<(&str, &str)> =
                    policy.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                metadata.push((ON_BEHALF_OF_TOKEN, user_token));
                let grant = Grant::ClientCredentials { scopes: &policy.scopes, metadata: &metadata };
                self.client.acquire_noting(grant, calls).await?
            }
            Mode::TokenExchange => {
                let actor = match policy.actor_scopes.is_empty() {
                    true => None,
                    false => Some(self.actor_token(policy, cache).await?),
                };
                let grant = Grant::TokenExchange {
                    subject_token: user_token,
                    scopes: &policy.scopes,
                    audience: policy.audience.as_deref(),
                    resource: policy.resource.as_deref(),
                    actor_token: actor.as_ref().map(|a| a.token.expose()),
                };
                self.client.acquire_noting(grant, calls).await?
            }
            Mode::Passthrough | Mode::Deny => {
                return Err(Rejection::new(ReasonCode::Internal, "this mode mints no token"));
            }
        };
        check_minted(policy, self.client.client_id(), &issued, user_token, iss, sub)?;
        Ok(Minted { token: issued.token, expires_at_ms: issued.expires_at_ms })
    }

    /// The actor client's own client_credentials token (no user in it), cached like the others.
    async fn actor_token(
        &self,
        policy: &TargetPolicy,
        cache: &TokenCache,
    ) -> Result<Arc<crate::interceptor::token_cache::CachedToken>, Rejection> {
        let Some(actor) = &self.actor else {
            return Err(Rejection::new(ReasonCode::Misconfigured, "no actor client is configured"));
        };
        let key = KeyBuilder::new()
            .field(b"actor")
            .field(actor.client.client_id().as_bytes())
            .field(actor.endpoint.as_bytes())
            .field(policy.actor_scopes.join(" ").as_bytes())
            .finish();
        let (outcome, _) = cache
            .get_or_fetch(key, u64::MAX, || async {
                let grant = Grant::ClientCredentials { scopes: &policy.actor_scopes, metadata: &[] };
                let issued = actor.client.acquire(grant).await?;
                Ok(Minted { token: issued.token, expires_at_ms: issued.expires_at_ms })
            })
            .await;
        outcome
    }
}

/// The minted token must not be the user's own, must be a JWT, must name the user and must be
/// for this target alone; any miss is `obo_claims_missing` and nothing is forwarded.
/// - `obo`: `obo_iss` and `obo_sub` (added by the trigger) are the user's issuer and `sub` (a
///   `sub` is unique only within its issuer), `client_id` is the on-behalf-of
///   client (`OBO_CLIENT_ID`), `scope` is exactly the set asked for;
/// - `token-exchange`: `sub` is the user's (the user stays the subject), `aud` holds the
///   `audience` asked for (if any), `scope` is exactly the set asked for (if any): an identity
///   provider that ignores either would otherwise hand out a broader token.
pub fn check_minted(
    policy: &TargetPolicy,
    client_id: &str,
    issued: &Issued,
    user_token: &str,
    iss: &str,
    sub: &str,
) -> Result<(), Rejection> {
    let missing = |message: &str| Err(Rejection::new(ReasonCode::OboClaimsMissing, message));
    if issued.token.expose() == user_token {
        return missing("the identity provider returned the user's own token");
    }
    let Some(claims) = issued.claims.as_ref() else {
        return missing("the minted token is not a JWT");
    };
    let is =
        |claim: &str, expected: &str| matches!(claims.get(claim), Some(Value::String(v)) if v == expected);
    match policy.mode {
        Mode::TokenExchange => {
            if !is("sub", sub) {
                return missing("the exchanged token's `sub` is not the user's");
            }
            if let Some(audience) = &policy.audience
                && !audience_contains(claims.get("aud"), audience)
            {
                return missing("the exchanged token's `aud` lacks the audience asked for");
            }
            if !policy.scopes.is_empty() && !scope_equals(claims.get("scope"), &policy.scopes) {
                return missing("the exchanged token's `scope` is not the set asked for");
            }
        }
        _ => {
            if !is("obo_sub", sub) {
                return missing(
                    "the minted token's `obo_sub` is missing or not the user's (did the pre-token trigger run?)",
                );
            }
            if !is("obo_iss", iss) {
                return missing("the minted token's `obo_iss` is missing or not the user's issuer");
            }
            if !is("client_id", client_id) {
                return missing(
                    "the minted token's `client_id` is not the on-behalf-of client (OBO_CLIENT_ID)",
                );
            }
            if !scope_equals(claims.get("scope"), &policy.scopes) {
                return missing("the minted token's `scope` is not the set asked for");
            }
        }
    }
    Ok(())
}

/// `aud` (a string or a list of strings) holds `audience`.
fn audience_contains(aud: Option<&Value>, audience: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

/// `scope` (space separated) is exactly the set `asked` (order and repeats aside).
fn scope_equals(scope: Option<&Value>, asked: &[String]) -> bool {
    let Some(Value::String(scope)) = scope else {
        return false;
    };
    let mut granted = scope.split(' ').filter(|s| !s.is_empty()).peekable();
    if granted.peek().is_none() {
        return false;
    }
    granted.all(|g| asked.iter().any(|a| a == g)) && asked.iter().all(|a| scope.split(' ').any(|g| g == a))
}

/// The length-prefixed token-request parameters of a target, except the user token and the
/// secret: client id, endpoint, mode, scopes, metadata, audience, resource, actor.
pub fn key_fields(tokens: &TokenSettings, policy: &TargetPolicy) -> Vec<u8> {
    let scopes = policy.scopes.join(" ");
    let metadata = encode_fields(policy.metadata.iter().flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]));
    let actor_client = tokens.actor.as_ref().map(|a| a.client_id.as_str()).unwrap_or_default();
    let actor_scopes = policy.actor_scopes.join(" ");
    let actor = encode_fields([actor_client.as_bytes(), actor_scopes.as_bytes()]);
    encode_fields([
        tokens.client_id.as_bytes(),
        tokens.endpoint_label().as_bytes(),
        policy.mode.as_str().as_bytes(),
        scopes.as_bytes(),
        &metadata,
        policy.audience.as_deref().unwrap_or_default().as_bytes(),
        policy.resource.as_deref().unwrap_or_default().as_bytes(),
        &actor,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn asked(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scope_must_be_exactly_the_set_asked_for() {
        let crm = asked(&["crm/read", "crm/write"]);
        assert!(scope_equals(Some(&json!("crm/read crm/write")), &crm));
        assert!(scope_equals(Some(&json!("crm/write crm/read")), &crm));
        for bad in [
            json!("crm/read"),
            json!("crm/read crm/write hr/obo"),
            json!(""),
            json!(["crm/read", "crm/write"]),
        ] {
            assert!(!scope_equals(Some(&bad), &crm), "{bad}");
        }
        assert!(!scope_equals(None, &crm));
    }

    #[test]
    fn aud_may_be_a_string_or_a_list() {
        assert!(audience_contains(Some(&json!("docs-api")), "docs-api"));
        assert!(audience_contains(Some(&json!(["other", "docs-api"])), "docs-api"));
        for bad in [json!("other"), json!(["other"]), json!(7), json!(null)] {
            assert!(!audience_contains(Some(&bad), "docs-api"), "{bad}");
        }
        assert!(!audience_contains(None, "docs-api"));
    }
}
