//! The interceptor's configuration, read once at cold start and validated: every error names the
//! variable and the problem, never a secret value.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::env::{ConfigError, Env, EnvSource};
use crate::http::TlsRoots;
use crate::http::{checked_url, is_loopback};
use crate::interceptor::client_secret::SecretSource;
use crate::interceptor::shared_cache::SharedCacheSettings;
use crate::interceptor::targets::{Mode, Targets};
use crate::interceptor::token_cache::CacheSettings;
use crate::interceptor::token_client::RetryPolicy;
use crate::metrics::MetricsSettings;
use crate::secret::Secret;
use crate::subject::issuer::is_pool_id;
use crate::subject::jwks::KeyStoreSettings;
use crate::subject::verify::{IssuerPolicy, VerifierSettings};

/// `OBO_CACHE_MAX_AGE_SECONDS` unless set: the longest a minted token is served from the cache
/// (docs/interceptor.md, "Revocation": the cost of this bound against `make bench`'s day simulation).
pub const DEFAULT_CACHE_MAX_AGE_SECONDS: u64 = 600;

/// How tokens are requested (`OBO_TOKEN_TRANSPORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportSetting {
    /// `oauth2` (default): `POST OBO_TOKEN_ENDPOINT`.
    OAuth2(url::Url),
    /// `sdk`: Cognito `GetClientToken` through the AWS SDK.
    Sdk,
}

/// The acting client for token-exchange delegation (`OBO_ACTOR_CLIENT_ID`).
#[derive(Debug, Clone)]
pub struct ActorSettings {
    /// Its app client id (never the on-behalf-of client).
    pub client_id: String,
    /// Where its secret comes from.
    pub secret: SecretSource,
}

/// Everything needed to mint tokens (absent when no target mints).
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The transport.
    pub transport: TransportSetting,
    /// `OBO_CLIENT_ID`.
    pub client_id: String,
    /// Where the client secret comes from.
    pub secret: SecretSource,
    /// Timeouts and retries.
    pub retry: RetryPolicy,
    /// The actor client, when a token-exchange target asks for an actor token.
    pub actor: Option<ActorSettings>,
}

impl TokenSettings {
    /// The endpoint as it enters cache keys.
    pub fn endpoint_label(&self) -> &str {
        match &self.transport {
            TransportSetting::OAuth2(url) => url.as_str(),
            TransportSetting::Sdk => "sdk:GetClientToken",
        }
    }
}

/// The interceptor's validated configuration.
#[derive(Debug, Clone)]
pub struct InterceptorConfig {
    /// Per-target policies and the default mode (`OBO_TARGETS`, `OBO_DEFAULT_MODE`).
    pub targets: Targets,
    /// Token acquisition, when some target mints tokens.
    pub tokens: Option<TokenSettings>,
    /// Whether inbound user tokens are verified before a token request (`OBO_VERIFY_INBOUND`).
    pub verify_inbound: bool,
    /// Subject-token checks (shared variables with the trigger); the size cap always applies.
    pub verifier: VerifierSettings,
    /// JWKS cache limits (used with `OBO_VERIFY_INBOUND`).
    pub keys: KeyStoreSettings,
    /// Token cache limits.
    pub cache: CacheSettings,
    /// The optional shared tier (`OBO_SHARED_CACHE`), off by default.
    pub shared_cache: Option<SharedCacheSettings>,
    /// CloudWatch metrics (`OBO_METRICS`, `OBO_METRICS_NAMESPACE`).
    pub metrics: MetricsSettings,
    /// Which certificate authorities outbound https trusts (`OBO_TLS_ROOTS`).
    pub tls_roots: TlsRoots,
}

impl InterceptorConfig {
    /// Whether every request's user token is verified, pass-through ones included: with
    /// `OBO_VERIFY_INBOUND` when several identity providers are trusted.
    pub fn verifies_every_request(&self) -> bool {
        self.verify_inbound && self.verifier.provider_count() > 1
    }

    /// Reads and validates the configuration.
    pub fn from_env(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let env = Env::new(source);
        let default_mode = match env.choice("OBO_DEFAULT_MODE", "deny", &["deny", "passthrough"])? {
            "passthrough" => Mode::Passthrough,
            _ => Mode::Deny,
        };
        let raw_targets = env.string("OBO_TARGETS").ok_or_else(|| {
            ConfigError::new("OBO_TARGETS", "is required: a JSON object of target policies")
        })?;
        let targets =
            Targets::parse(&raw_targets, default_mode).map_err(|e| ConfigError::new("OBO_TARGETS", e))?;
        let verifier = VerifierSettings::from_env(&env)?;
        let verify_inbound = env.bool("OBO_VERIFY_INBOUND", false)?;
        if verify_inbound {
            if matches!(verifier.issuers, IssuerPolicy::EventPool) {
                return Err(ConfigError::new(
                    "OBO_SUBJECT_ISSUERS",
                    "is required with OBO_VERIFY_INBOUND=true (the interceptor has no event pool)",
                ));
            }
            if verifier.client_ids.is_empty() && verifier.uses_default_profile() {
                return Err(ConfigError::new(
                    "OBO_SUBJECT_CLIENT_IDS",
                    "is required with OBO_VERIFY_INBOUND=true: name the app clients whose user tokens are accepted",
                ));
            }
        }
        if verifier.provider_count() > 1 && !verify_inbound {
            return Err(ConfigError::new(
                "OBO_VERIFY_INBOUND",
                "must be true when several identity providers are trusted: the gateway's one CUSTOM_JWT \
                 authorizer checks one of them, so the interceptor verifies every request",
            ));
        }
        let cache = CacheSettings {
            max_entries: NonZeroUsize::new(env.number("OBO_CACHE_MAX_ENTRIES", 10_000, 1, 1_000_000)?)
                .unwrap_or(NonZeroUsize::MIN),
            skew_ms: env.number::<u64>("OBO_CACHE_SKEW_SECONDS", 60, 0, 3_600)? * 1000,
            max_age_ms: env.number::<u64>(
                "OBO_CACHE_MAX_AGE_SECONDS",
                DEFAULT_CACHE_MAX_AGE_SECONDS,
                0,
                86_400,
            )? * 1000,
            failure_ttl_ms: env.number::<u64>("OBO_FAILURE_CACHE_SECONDS", 5, 0, 300)? * 1000,
        };
        let retry = RetryPolicy {
            attempt_timeout: Duration::from_millis(env.number(
                "OBO_ATTEMPT_TIMEOUT_MS",
                6_000,
                100,
                30_000,
            )?),
            total_timeout: Duration::from_millis(env.number("OBO_TOTAL_TIMEOUT_MS", 10_000, 100, 60_000)?),
            max_retries: env.number("OBO_MAX_RETRIES", 2, 0, 2)?,
        };
        let tokens = if targets.iter().any(|t| t.mode.mints()) {
            Some(token_settings(&env, &targets, retry)?)
        } else {
            None
        };
        let shared_cache = SharedCacheSettings::from_env(&env)?;
        if shared_cache.is_some() && tokens.is_none() {
            return Err(ConfigError::new(
                "OBO_SHARED_CACHE",
                "is set but no target mints tokens (the tier is keyed by the on-behalf-of client's secret)",
            ));
        }
        Ok(Self {
            targets,
            tokens,
            shared_cache,
            verify_inbound,
            verifier,
            keys: KeyStoreSettings::from_env(&env)?,
            cache,
            metrics: MetricsSettings::from_env(&env)?,
            tls_roots: TlsRoots::from_env(&env)?,
        })
    }
}

fn token_settings(
    env: &Env<'_>,
    targets: &Targets,
    retry: RetryPolicy,
) -> Result<TokenSettings, ConfigError> {
    let client_id = env
        .string("OBO_CLIENT_ID")
        .ok_or_else(|| ConfigError::new("OBO_CLIENT_ID", "is required: the on-behalf-of app client"))?;
    let transport = match env.choice("OBO_TOKEN_TRANSPORT", "oauth2", &["oauth2", "sdk"])? {
        "sdk" => TransportSetting::Sdk,
        _ => TransportSetting::OAuth2(endpoint(env)?),
    };
    if transport == TransportSetting::Sdk && targets.any(Mode::TokenExchange) {
        return Err(ConfigError::new(
            "OBO_TOKEN_TRANSPORT",
            "token-exchange targets need the oauth2 transport (GetClientToken has no token exchange)",
        ));
    }
    let loopback = match &transport {
        TransportSetting::OAuth2(url) => is_loopback(url),
        TransportSetting::Sdk => env
            .string("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
            .or_else(|| env.string("AWS_ENDPOINT_URL"))
            .and_then(|raw| url::Url::parse(&raw).ok())
            .is_some_and(|url| is_loopback(&url)),
    };
    let arn = env.string("OBO_CLIENT_SECRET_ARN");
    let pool = env.string("OBO_USER_POOL_ID");
    let literal = env.string("OBO_CLIENT_SECRET");
    let secret = match (arn, pool, literal) {
        (Some(arn), None, None) => {
            SecretSource::SecretsManager { arn: checked_arn("OBO_CLIENT_SECRET_ARN", arn)? }
        }
        (None, Some(pool), None) => {
            if !is_pool_id(&pool) {
                return Err(ConfigError::new("OBO_USER_POOL_ID", "is not a user pool id (<region>_<id>)"));
            }
            SecretSource::UserPoolClient { user_pool_id: pool }
        }
        (None, None, Some(literal)) if loopback => SecretSource::Literal(Secret::new(literal)),
        (None, None, Some(_)) => {
            return Err(ConfigError::new(
                "OBO_CLIENT_SECRET",
                "is accepted only with a loopback token endpoint (local runs); use OBO_CLIENT_SECRET_ARN",
            ));
        }
        (None, None, None) => {
            return Err(ConfigError::new(
                "OBO_CLIENT_SECRET_ARN",
                "is required (or OBO_USER_POOL_ID, or OBO_CLIENT_SECRET for local runs)",
            ));
        }
        _ => {
            return Err(ConfigError::new(
                "OBO_CLIENT_SECRET_ARN",
                "set exactly one of OBO_CLIENT_SECRET_ARN, OBO_USER_POOL_ID, OBO_CLIENT_SECRET",
            ));
        }
    };
    let actor = if targets.any_actor() { Some(actor_settings(env, &client_id, loopback)?) } else { None };
    Ok(TokenSettings { transport, client_id, secret, retry, actor })
}

fn endpoint(env: &Env<'_>) -> Result<url::Url, ConfigError> {
    let raw = env.string("OBO_TOKEN_ENDPOINT").ok_or_else(|| {
        ConfigError::new(
            "OBO_TOKEN_ENDPOINT",
            "is required with the oauth2 transport (https://<domain>/oauth2/token)",
        )
    })?;
    let url = checked_url(&raw).map_err(|e| ConfigError::new("OBO_TOKEN_ENDPOINT", e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new("OBO_TOKEN_ENDPOINT", "must not have a query or fragment"));
    }
    Ok(url)
}

fn actor_settings(env: &Env<'_>, obo_client_id: &str, loopback: bool) -> Result<ActorSettings, ConfigError> {
    let client_id = env.string("OBO_ACTOR_CLIENT_ID").ok_or_else(|| {
        ConfigError::new("OBO_ACTOR_CLIENT_ID", "is required when a target sets `actor_scopes`")
    })?;
    if client_id == obo_client_id {
        return Err(ConfigError::new(
            "OBO_ACTOR_CLIENT_ID",
            "must not be the on-behalf-of client (OBO_CLIENT_ID)",
        ));
    }
    let secret = match (env.string("OBO_ACTOR_CLIENT_SECRET_ARN"), env.string("OBO_ACTOR_CLIENT_SECRET")) {
        (Some(arn), None) => {
            SecretSource::SecretsManager { arn: checked_arn("OBO_ACTOR_CLIENT_SECRET_ARN", arn)? }
        }
        (None, Some(literal)) if loopback => SecretSource::Literal(Secret::new(literal)),
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "OBO_ACTOR_CLIENT_SECRET",
                "is accepted only with a loopback token endpoint (local runs)",
            ));
        }
        (None, None) => {
            return Err(ConfigError::new(
                "OBO_ACTOR_CLIENT_SECRET_ARN",
                "is required with OBO_ACTOR_CLIENT_ID",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "OBO_ACTOR_CLIENT_SECRET_ARN",
                "set exactly one of OBO_ACTOR_CLIENT_SECRET_ARN, OBO_ACTOR_CLIENT_SECRET",
            ));
        }
    };
    Ok(ActorSettings { client_id, secret })
}

fn checked_arn(variable: &str, arn: String) -> Result<String, ConfigError> {
    let mut parts = arn.splitn(7, ':');
    let ok = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| p.starts_with("aws"))
        && parts.next() == Some("secretsmanager")
        && parts.nth(2).is_some_and(|r| r == "secret")
        && parts.next().is_some_and(|n| !n.is_empty());
    if ok { Ok(arn) } else { Err(ConfigError::new(variable, "is not a Secrets Manager secret ARN")) }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TARGETS: &str =
        r#"{"crm":{"mode":"obo","scopes":["cognito-obo/crm"]},"weather":{"mode":"passthrough"}}"#;

    fn read(pairs: &[(&'static str, &'static str)]) -> Result<InterceptorConfig, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        InterceptorConfig::from_env(&env)
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("OBO_TARGETS", TARGETS),
            ("OBO_CLIENT_ID", "m2m"),
            ("OBO_TOKEN_ENDPOINT", "https://auth.example.com/oauth2/token"),
            ("OBO_CLIENT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:obo-AbCdEf"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)], without: &[&str]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = base().into_iter().filter(|(k, _)| !without.contains(k)).collect();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn reads_a_complete_configuration() {
        let c = read(&base()).unwrap();
        let t = c.tokens.unwrap();
        assert_eq!(t.client_id, "m2m");
        assert!(matches!(t.secret, SecretSource::SecretsManager { .. }));
        assert_eq!(t.retry.attempt_timeout, Duration::from_secs(6));
        assert_eq!(t.retry.total_timeout, Duration::from_secs(10));
        assert_eq!(t.retry.max_retries, 2);
        assert_eq!(c.cache.max_entries.get(), 10_000);
        assert_eq!(c.cache.skew_ms, 60_000);
        assert_eq!(c.cache.max_age_ms, DEFAULT_CACHE_MAX_AGE_SECONDS * 1000);
        assert_eq!(c.cache.failure_ttl_ms, 5_000);
        assert_eq!(c.targets.default_mode(), Mode::Deny);
        assert!(!c.verify_inbound);
    }

    #[test]
    fn errors_name_the_variable() {
        let secret_value = "do-not-print-me";
        let cases: Vec<(Vec<(&'static str, &'static str)>, &str)> = vec![
            (with(&[], &["OBO_TARGETS"]), "OBO_TARGETS"),
            (with(&[("OBO_TARGETS", r#"{"a":{"mode":"obo"}}"#)], &["OBO_TARGETS"]), "OBO_TARGETS"),
            (with(&[], &["OBO_CLIENT_ID"]), "OBO_CLIENT_ID"),
            (with(&[], &["OBO_TOKEN_ENDPOINT"]), "OBO_TOKEN_ENDPOINT"),
            (
                with(&[("OBO_TOKEN_ENDPOINT", "http://auth.example.com/t")], &["OBO_TOKEN_ENDPOINT"]),
                "OBO_TOKEN_ENDPOINT",
            ),
            (with(&[], &["OBO_CLIENT_SECRET_ARN"]), "OBO_CLIENT_SECRET_ARN"),
            (with(&[("OBO_CLIENT_SECRET", "do-not-print-me")], &[]), "OBO_CLIENT_SECRET_ARN"),
            (
                with(&[("OBO_CLIENT_SECRET", "do-not-print-me")], &["OBO_CLIENT_SECRET_ARN"]),
                "OBO_CLIENT_SECRET",
            ),
            (with(&[("OBO_CLIENT_SECRET_ARN", "obo")], &["OBO_CLIENT_SECRET_ARN"]), "OBO_CLIENT_SECRET_ARN"),
            (with(&[("OBO_USER_POOL_ID", "pool")], &["OBO_CLIENT_SECRET_ARN"]), "OBO_USER_POOL_ID"),
            (with(&[("OBO_DEFAULT_MODE", "obo")], &[]), "OBO_DEFAULT_MODE"),
            (with(&[("OBO_VERIFY_INBOUND", "true")], &[]), "OBO_SUBJECT_ISSUERS"),
            (with(&[("OBO_MAX_RETRIES", "3")], &[]), "OBO_MAX_RETRIES"),
            (with(&[("OBO_CACHE_MAX_ENTRIES", "0")], &[]), "OBO_CACHE_MAX_ENTRIES"),
            (with(&[("OBO_CACHE_MAX_AGE_SECONDS", "86401")], &[]), "OBO_CACHE_MAX_AGE_SECONDS"),
            (with(&[("OBO_CACHE_MAX_AGE_SECONDS", "-1")], &[]), "OBO_CACHE_MAX_AGE_SECONDS"),
            (with(&[("OBO_TOKEN_TRANSPORT", "grpc")], &[]), "OBO_TOKEN_TRANSPORT"),
        ];
        for (env, variable) in cases {
            let err = read(&env).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
            assert!(!err.to_string().contains(secret_value));
        }
    }

    #[test]
    fn literal_secrets_only_on_loopback() {
        let env = with(
            &[("OBO_CLIENT_SECRET", "s"), ("OBO_TOKEN_ENDPOINT", "http://127.0.0.1:9/oauth2/token")],
            &["OBO_CLIENT_SECRET_ARN", "OBO_TOKEN_ENDPOINT"],
        );
        assert!(matches!(read(&env).unwrap().tokens.unwrap().secret, SecretSource::Literal(_)));
        let env = with(
            &[
                ("OBO_CLIENT_SECRET", "s"),
                ("OBO_TOKEN_TRANSPORT", "sdk"),
                ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "http://127.0.0.1:9"),
            ],
            &["OBO_CLIENT_SECRET_ARN", "OBO_TOKEN_ENDPOINT"],
        );
        assert_eq!(read(&env).unwrap().tokens.unwrap().transport, TransportSetting::Sdk);
        let only_passthrough = [("OBO_TARGETS", r#"{"w":{"mode":"passthrough"}}"#)];
        assert!(read(&only_passthrough).unwrap().tokens.is_none());
    }

    #[test]
    fn pool_ids_and_arns_are_checked() {
        assert!(checked_arn("V", "arn:aws:secretsmanager:us-east-1:1:secret:n".into()).is_ok());
        assert!(checked_arn("V", "arn:aws:ssm:us-east-1:1:parameter/n".into()).is_err());
    }
}
