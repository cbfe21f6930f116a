//! Verifying the on-behalf-of subject token, in the order of awslabs/aws-jwt-verify: structure →
//! header and `alg` → issuer pinned → key by `kid` from that issuer only → signature → time
//! claims → the issuer's profile (token type, audience, app client, machine, delegation rules). The token never chooses how it is
//! verified: the algorithm list, issuers and clients come from configuration.

use std::borrow::Cow;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::clock::SharedClock;
use crate::env::{ConfigError, Env};
use crate::reason::{ReasonCode, Rejection};
use crate::subject::issuer::{TrustedIssuer, is_pool_issuer};
use crate::subject::issuer_profile::{IssuerProfile, IssuerProfiles};
use crate::subject::jwks::{KeyError, KeyStore};
use crate::subject::jwt::{DEFAULT_MAX_TOKEN_BYTES, decompose};

/// Which kind of Cognito token the subject must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// An access token (`token_use: access`, app client in `client_id`).
    Access,
    /// An ID token (`token_use: id`, app client in `aud`).
    Id,
}

impl TokenUse {
    /// The `token_use` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }
}

/// Which issuers are trusted.
#[derive(Debug, Clone)]
pub enum IssuerPolicy {
    /// Exactly these issuers.
    Listed(Vec<TrustedIssuer>),
    /// The pool that invoked the trigger (both Cognito issuer forms), resolved per event.
    EventPool,
}

/// What the verifier requires of a subject token.
#[derive(Debug, Clone)]
pub struct VerifierSettings {
    /// Trusted issuers.
    pub issuers: IssuerPolicy,
    /// Allowed signature algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Required `token_use`.
    pub token_use: TokenUse,
    /// App clients whose user tokens are accepted.
    pub client_ids: Vec<String>,
    /// Tolerance for `nbf` and `iat` in the future, in seconds.
    pub leeway_secs: u64,
    /// Maximum age of the authentication (`auth_time`, else `iat`), if set.
    pub max_age_secs: Option<u64>,
    /// Size cap on the token, checked before parsing.
    pub max_token_bytes: usize,
    /// Each trusted issuer's profile (`OBO_ISSUER_PROFILES`), and the Cognito default.
    pub profiles: IssuerProfiles,
}

/// The pool that invoked the trigger, for [`IssuerPolicy::EventPool`].
#[derive(Debug, Clone, Copy)]
pub struct EventPool<'a> {
    /// `region` of the event.
    pub region: &'a str,
    /// `userPoolId` of the event.
    pub user_pool_id: &'a str,
}

impl VerifierSettings {
    /// The generic part of these settings.
    pub fn token_checks(&self) -> TokenChecks {
        TokenChecks {
            issuers: self.issuers.clone(),
            algorithms: self.profiles.all_algorithms(),
            leeway_secs: self.leeway_secs,
            max_age_secs: self.max_age_secs,
            max_token_bytes: self.max_token_bytes,
        }
    }

    /// Reads the subject-verification variables shared by both Lambdas: `OBO_SUBJECT_ISSUERS`,
    /// `OBO_SUBJECT_CLIENT_IDS`, `OBO_SUBJECT_TOKEN_USE`, `OBO_SUBJECT_ALGORITHMS`,
    /// `OBO_LEEWAY_SECONDS`, `OBO_MAX_SUBJECT_AGE_SECONDS`, `OBO_MAX_SUBJECT_BYTES`, and
    /// `OBO_ISSUER_PROFILES` (whose issuers are trusted too). No issuer at all means
    /// [`IssuerPolicy::EventPool`].
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut issuers = env
            .list("OBO_SUBJECT_ISSUERS")?
            .iter()
            .map(|raw| {
                TrustedIssuer::parse(raw).map_err(|e| ConfigError::new("OBO_SUBJECT_ISSUERS", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let token_use = match env.choice("OBO_SUBJECT_TOKEN_USE", "access", &["access", "id"])? {
            "id" => TokenUse::Id,
            _ => TokenUse::Access,
        };
        let mut algorithms = Vec::new();
        for name in env.list("OBO_SUBJECT_ALGORITHMS")? {
            algorithms.push(parse_asymmetric_alg(&name).ok_or_else(|| {
                ConfigError::new(
                    "OBO_SUBJECT_ALGORITHMS",
                    format!("{name:?} is not allowed: use asymmetric algorithms (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"),
                )
            })?);
        }
        if algorithms.is_empty() {
            algorithms.push(Algorithm::RS256);
        }
        let client_ids = env.list("OBO_SUBJECT_CLIENT_IDS")?;
        let default = IssuerProfile::cognito("", token_use, client_ids.clone(), algorithms.clone());
        let (profiles, added) = IssuerProfiles::from_env(env, default, &issuers)?;
        issuers.extend(added);
        Ok(Self {
            issuers: if issuers.is_empty() { IssuerPolicy::EventPool } else { IssuerPolicy::Listed(issuers) },
            algorithms,
            token_use,
            client_ids,
            profiles,
            leeway_secs: env.number("OBO_LEEWAY_SECONDS", 30, 0, 300)?,
            max_age_secs: env.optional_number("OBO_MAX_SUBJECT_AGE_SECONDS", 60, 30 * 86_400)?,
            max_token_bytes: env.number("OBO_MAX_SUBJECT_BYTES", DEFAULT_MAX_TOKEN_BYTES, 1024, 65_536)?,
        })
    }
}

impl VerifierSettings {
    /// Whether some trusted issuer uses the default Cognito profile (the invoking pool, or a
    /// Cognito issuer without a profile of its own): then `OBO_SUBJECT_CLIENT_IDS` is needed.
    pub fn uses_default_profile(&self) -> bool {
        match &self.issuers {
            IssuerPolicy::EventPool => true,
            IssuerPolicy::Listed(list) => list.iter().any(|t| !self.profiles.has_own(&t.issuer)),
        }
    }

    /// How many identity providers are trusted: the two issuer forms of one Cognito pool count
    /// once. More than one means a gateway's single `CUSTOM_JWT` authorizer cannot check them all.
    pub fn provider_count(&self) -> usize {
        match &self.issuers {
            IssuerPolicy::EventPool => 1,
            IssuerPolicy::Listed(list) => {
                let mut seen: Vec<&str> = Vec::new();
                for t in list {
                    let key = crate::subject::issuer::pool_in_issuer(&t.issuer)
                        .map_or(t.issuer.as_str(), |(_, pool)| pool);
                    if !seen.contains(&key) {
                        seen.push(key);
                    }
                }
                seen.len()
            }
        }
    }
}

/// A subject token that passed every check, with its claims.
#[derive(Debug, Clone)]
pub struct VerifiedSubject {
    /// All claims of the token.
    pub claims: Map<String, Value>,
}

impl VerifiedSubject {
    /// The `sub` claim (checked to be a string).
    pub fn sub(&self) -> &str {
        self.claims.get("sub").and_then(Value::as_str).unwrap_or_default()
    }

    /// The `iss` claim (checked to be a string).
    pub fn issuer(&self) -> &str {
        self.claims.get("iss").and_then(Value::as_str).unwrap_or_default()
    }

    /// The user name: `username` (access tokens) or `cognito:username` (ID tokens).
    pub fn username(&self) -> Option<&str> {
        ["username", "cognito:username"].iter().find_map(|c| self.claims.get(*c).and_then(Value::as_str))
    }

    /// The `exp` claim.
    pub fn exp(&self) -> u64 {
        self.claims.get("exp").and_then(numeric_date).unwrap_or_default()
    }
}

fn reject(reason: ReasonCode, message: impl Into<String>) -> Rejection {
    Rejection::new(reason, message)
}

/// A JSON number as whole seconds (fractions truncated); `None` for anything else.
pub fn numeric_date(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// Checks any JWT from a pinned issuer: structure, allowed `alg`, issuer, key by `kid` from that
/// issuer only, signature, then `exp` (required), `nbf`, `iat` and the optional maximum age.
/// Rules about what kind of token it is (user or machine, which client) sit on top of it
/// ([`SubjectVerifier`] here, `obo-target` for enriched M2M tokens).
pub struct TokenVerifier {
    issuers: IssuerPolicy,
    algorithms: Vec<Algorithm>,
    leeway_secs: u64,
    max_age_secs: Option<u64>,
    max_token_bytes: usize,
    keys: Arc<KeyStore>,
    clock: SharedClock,
}

/// A token whose structure, algorithm, issuer, signature and times are verified.
#[derive(Debug)]
pub(crate) struct CheckedToken {
    /// Its claims.
    pub claims: Map<String, Value>,
    /// The algorithm it is signed with.
    pub alg: Algorithm,
    /// Its header's `typ`, if any.
    pub typ: Option<String>,
}

/// The checks [`TokenVerifier`] makes.
#[derive(Debug, Clone)]
pub struct TokenChecks {
    /// Trusted issuers.
    pub issuers: IssuerPolicy,
    /// Allowed signature algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Tolerance for `nbf` and `iat` in the future, in seconds.
    pub leeway_secs: u64,
    /// Maximum age of the authentication (`auth_time`, else `iat`), if set.
    pub max_age_secs: Option<u64>,
    /// Size cap on the token, checked before parsing.
    pub max_token_bytes: usize,
}

impl TokenVerifier {
    /// A verifier; `keys` is shared process-wide.
    pub fn new(checks: TokenChecks, keys: Arc<KeyStore>, clock: SharedClock) -> Self {
        let TokenChecks { issuers, algorithms, leeway_secs, max_age_secs, max_token_bytes } = checks;
        Self { issuers, algorithms, leeway_secs, max_age_secs, max_token_bytes, keys, clock }
    }

    /// Warms the key cache for every listed issuer. A failure is logged and left for the first
    /// token of that issuer to meet (fail closed then); it never stops the cold start.
    pub async fn prefetch(&self) {
        if let IssuerPolicy::Listed(issuers) = &self.issuers {
            let fetches = issuers.iter().map(|iss| async move { (iss, self.keys.prefetch(iss).await) });
            for (iss, result) in futures_util::future::join_all(fetches).await {
                match result {
                    Ok(n) => tracing::info!(issuer = %iss.issuer, keys = n, "jwks prefetched"),
                    Err(err) => {
                        tracing::warn!(issuer = %iss.issuer, error = %err, "jwks prefetch failed; will retry on first use")
                    }
                }
            }
        }
    }

    /// Verifies `token` and returns its claims. `pool` is the invoking pool, used when issuers
    /// are [`IssuerPolicy::EventPool`].
    pub async fn verify(
        &self,
        token: &str,
        pool: Option<EventPool<'_>>,
    ) -> Result<Map<String, Value>, Rejection> {
        self.verify_token(token, pool).await.map(|t| t.claims)
    }

    /// [`Self::verify`], also returning the algorithm and header `typ` (for issuer profiles).
    pub(crate) async fn verify_token(
        &self,
        token: &str,
        pool: Option<EventPool<'_>>,
    ) -> Result<CheckedToken, Rejection> {
        // 1. Structure (size cap first) and header.
        let jwt = decompose(token, self.max_token_bytes)?;
        // 2. Algorithm from the allow-list; the header only selects among allowed ones.
        let alg =
            self.algorithms.iter().copied().find(|a| alg_name(*a) == Some(jwt.alg.as_str())).ok_or_else(
                || reject(ReasonCode::SubjectAlgNotAllowed, "the token's algorithm is not allowed"),
            )?;
        // 3. Issuer pinned before any key is fetched.
        let iss = match jwt.claims.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(reject(ReasonCode::SubjectClaimInvalid, "`iss` is not a string")),
            None => return Err(reject(ReasonCode::SubjectIssuerNotAllowed, "the token has no issuer")),
        };
        let issuer = self.trusted_issuer(iss, pool)?;
        // 4. Key by kid, from that issuer's JWKS only.
        let kid = jwt
            .kid
            .as_deref()
            .ok_or_else(|| reject(ReasonCode::SubjectUnknownKey, "the token has no `kid`"))?;
        let key = self.keys.key(&issuer, kid).await.map_err(|e| match e {
            KeyError::UnknownKey => {
                reject(ReasonCode::SubjectUnknownKey, "the token's key is not in the issuer's JWKS")
            }
            KeyError::Unavailable(detail) => reject(
                ReasonCode::JwksUnavailable,
                format!("the issuer's signing keys are unavailable ({detail})"),
            ),
        })?;
        if !key.accepts(alg) {
            return Err(reject(
                ReasonCode::SubjectAlgNotAllowed,
                "the token's algorithm does not match its key",
            ));
        }
        // 5. Signature.
        let valid = jsonwebtoken::crypto::verify(jwt.signature, jwt.signing_input.as_bytes(), &key.key, alg)
            .unwrap_or(false);
        if !valid {
            return Err(reject(ReasonCode::SubjectBadSignature, "the token's signature does not verify"));
        }
        // 6. Time claims.
        self.check_times(&jwt.claims)?;
        Ok(CheckedToken { claims: jwt.claims, alg, typ: jwt.typ })
    }

    /// The trusted issuer `iss` names: borrowed from the list (no allocation on the warm path),
    /// or built for the event's pool.
    fn trusted_issuer(
        &self,
        iss: &str,
        pool: Option<EventPool<'_>>,
    ) -> Result<Cow<'_, TrustedIssuer>, Rejection> {
        let not_allowed = || reject(ReasonCode::SubjectIssuerNotAllowed, "the token's issuer is not trusted");
        match &self.issuers {
            IssuerPolicy::Listed(list) => {
                list.iter().find(|t| t.issuer == iss).map(Cow::Borrowed).ok_or_else(not_allowed)
            }
            IssuerPolicy::EventPool => {
                let pool = pool.ok_or_else(not_allowed)?;
                if !is_pool_issuer(iss, pool.region, pool.user_pool_id) {
                    return Err(not_allowed());
                }
                let [classic, updated] = TrustedIssuer::for_pool(pool.region, pool.user_pool_id);
                Ok(Cow::Owned(if classic.issuer == iss { classic } else { updated }))
            }
        }
    }

    fn check_times(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        let now = self.clock.now_secs();
        let leeway = self.leeway_secs;
        let number = |name: &str| -> Result<Option<u64>, Rejection> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => numeric_date(v).map(Some).ok_or_else(|| {
                    reject(ReasonCode::SubjectClaimInvalid, format!("`{name}` is not a number"))
                }),
            }
        };
        let exp = number("exp")?
            .ok_or_else(|| reject(ReasonCode::SubjectClaimInvalid, "the token has no `exp`"))?;
        if now >= exp {
            return Err(reject(ReasonCode::SubjectExpired, "the token has expired"));
        }
        if number("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
            return Err(reject(ReasonCode::SubjectNotYetValid, "the token is not valid yet (`nbf`)"));
        }
        let iat = number("iat")?;
        if iat.is_some_and(|iat| iat > now + leeway) {
            return Err(reject(ReasonCode::SubjectNotYetValid, "the token was issued in the future (`iat`)"));
        }
        let auth_time = number("auth_time")?;
        if let Some(max_age) = self.max_age_secs {
            let authenticated = auth_time.or(iat).ok_or_else(|| {
                reject(ReasonCode::SubjectClaimInvalid, "the token has neither `auth_time` nor `iat`")
            })?;
            if now.saturating_sub(authenticated) > max_age {
                return Err(reject(ReasonCode::SubjectTooOld, "the user's authentication is too old"));
            }
        }
        Ok(())
    }
}

/// Verifies on-behalf-of subject tokens: a [`TokenVerifier`] plus the user-token rules of the
/// issuer's profile ([`crate::subject::issuer_profile`]: token type, audience, app client, not a machine
/// token, not already delegated, claim types).
pub struct SubjectVerifier {
    settings: VerifierSettings,
    token: TokenVerifier,
}

impl SubjectVerifier {
    /// A verifier; `keys` is shared process-wide.
    pub fn new(settings: VerifierSettings, keys: Arc<KeyStore>, clock: SharedClock) -> Self {
        let token = TokenVerifier::new(settings.token_checks(), keys, clock);
        Self { settings, token }
    }

    /// The settings in force.
    pub fn settings(&self) -> &VerifierSettings {
        &self.settings
    }

    /// Warms the key cache (see [`TokenVerifier::prefetch`]).
    pub async fn prefetch(&self) {
        self.token.prefetch().await;
    }

    /// Verifies `token`. `pool` is the invoking pool, used when issuers are not listed.
    pub async fn verify(
        &self,
        token: &str,
        pool: Option<EventPool<'_>>,
    ) -> Result<VerifiedSubject, Rejection> {
        let CheckedToken { claims, alg, typ } = self.token.verify_token(token, pool).await?;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        // 7–10. The issuer's profile: token type, audience, app client, machine, delegation.
        let profile = self.settings.profiles.for_issuer(iss);
        profile.check(&claims, alg, typ.as_deref())?;
        Ok(VerifiedSubject { claims })
    }
}

/// The asymmetric algorithms a subject token may use, with their JOSE names.
const ASYMMETRIC: [(Algorithm, &str); 9] = [
    (Algorithm::RS256, "RS256"),
    (Algorithm::RS384, "RS384"),
    (Algorithm::RS512, "RS512"),
    (Algorithm::PS256, "PS256"),
    (Algorithm::PS384, "PS384"),
    (Algorithm::PS512, "PS512"),
    (Algorithm::ES256, "ES256"),
    (Algorithm::ES384, "ES384"),
    (Algorithm::EdDSA, "EdDSA"),
];

/// The JOSE name of an allowed (asymmetric) algorithm; `None` for symmetric ones.
pub(crate) fn alg_name(alg: Algorithm) -> Option<&'static str> {
    ASYMMETRIC.iter().find(|(a, _)| *a == alg).map(|(_, n)| *n)
}

/// Parses an allowed algorithm name; symmetric algorithms and `none` are refused.
pub fn parse_asymmetric_alg(name: &str) -> Option<Algorithm> {
    ASYMMETRIC.iter().find(|(_, n)| *n == name).map(|(a, _)| *a)
}
