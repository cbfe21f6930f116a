//! Signing keys of trusted issuers: JWKS parsing and a process-wide cache.
//!
//! The cache holds each issuer's key set for at most `max_age` (then replaces it whole, so
//! removed keys stop being trusted), refetches for an unknown `kid` at most once per
//! `refetch_interval` per issuer (a failed fetch enters the same penalty box), shares one fetch
//! among concurrent misses, and never holds its map lock across a network call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::clock::SharedClock;
use crate::http::{HttpClient, checked_url};
use crate::subject::issuer::{KeyLocation, TrustedIssuer};

/// The family and curve a key can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (`RS*`, `PS*`).
    Rsa,
    /// EC P-256 (`ES256`).
    EcP256,
    /// EC P-384 (`ES384`).
    EcP384,
    /// Ed25519 (`EdDSA`).
    Ed25519,
}

impl KeyKind {
    /// The key kind an algorithm needs.
    pub fn for_alg(alg: Algorithm) -> Option<Self> {
        use Algorithm::*;
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(Self::Rsa),
            ES256 => Some(Self::EcP256),
            ES384 => Some(Self::EcP384),
            EdDSA => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// One public key from a JWKS, ready to verify.
pub struct VerifyingKey {
    /// What the key is.
    pub kind: KeyKind,
    /// The JWK's `alg`, when it names one.
    pub alg: Option<Algorithm>,
    /// The key itself.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey").field("kind", &self.kind).field("alg", &self.alg).finish()
    }
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg` (kty and JWK `alg` agree).
    pub fn accepts(&self, alg: Algorithm) -> bool {
        KeyKind::for_alg(alg) == Some(self.kind) && self.alg.is_none_or(|a| a == alg)
    }
}

/// The usable signing keys of one issuer, by `kid`.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
}

impl KeySet {
    /// Parses a JWKS document. Keys without `kid`, not for signatures (`use` other than `sig`),
    /// symmetric, or of unsupported types are skipped; the first of duplicate `kid`s wins.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let doc: Value = serde_json::from_slice(json).map_err(|_| "the JWKS is not JSON".to_owned())?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err("the JWKS has no `keys` array".into());
        };
        let mut keys = HashMap::new();
        for entry in entries {
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
                continue;
            }
            let Some(key) = verifying_key(&jwk) else {
                continue;
            };
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
        Ok(Self { keys })
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.keys.get(kid)
    }

    /// How many keys are usable.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::EcP256,
            EllipticCurve::P384 => KeyKind::EcP384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => KeyKind::Ed25519,
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(ka) => Some(signing_alg(ka)?),
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let vk = VerifyingKey { kind, alg, key };
    // A JWK whose `alg` contradicts its `kty` is unusable.
    if let Some(alg) = alg
        && !vk.accepts(alg)
    {
        return None;
    }
    Some(vk)
}

fn signing_alg(ka: KeyAlgorithm) -> Option<Algorithm> {
    use KeyAlgorithm as K;
    Some(match ka {
        K::RS256 => Algorithm::RS256,
        K::RS384 => Algorithm::RS384,
        K::RS512 => Algorithm::RS512,
        K::PS256 => Algorithm::PS256,
        K::PS384 => Algorithm::PS384,
        K::PS512 => Algorithm::PS512,
        K::ES256 => Algorithm::ES256,
        K::ES384 => Algorithm::ES384,
        K::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The issuer's current key set has no key with that `kid`.
    #[error("no key with that kid in the issuer's JWKS")]
    UnknownKey,
    /// The key set could not be fetched (or was refused); the detail holds no secrets.
    #[error("the issuer's JWKS is unavailable: {0}")]
    Unavailable(String),
}

/// Timing and size limits of the key cache.
#[derive(Debug, Clone)]
pub struct KeyStoreSettings {
    /// Minimum time between two fetches for one issuer (the penalty box).
    pub refetch_interval: Duration,
    /// A key set older than this is replaced whole before use.
    pub max_age: Duration,
    /// Deadline for one whole fetch (discovery included).
    pub fetch_timeout: Duration,
    /// Cap on a discovery or JWKS response body.
    pub body_cap: usize,
}

impl Default for KeyStoreSettings {
    fn default() -> Self {
        Self {
            refetch_interval: Duration::from_secs(10),
            max_age: Duration::from_secs(300),
            fetch_timeout: Duration::from_millis(1500),
            body_cap: 64 * 1024,
        }
    }
}

impl KeyStoreSettings {
    /// Reads `OBO_JWKS_TIMEOUT_MS`, `OBO_JWKS_MAX_AGE_SECONDS` and
    /// `OBO_JWKS_REFETCH_INTERVAL_SECONDS`.
    pub fn from_env(env: &crate::env::Env<'_>) -> Result<Self, crate::env::ConfigError> {
        Ok(Self {
            refetch_interval: Duration::from_secs(env.number(
                "OBO_JWKS_REFETCH_INTERVAL_SECONDS",
                10,
                1,
                600,
            )?),
            max_age: Duration::from_secs(env.number("OBO_JWKS_MAX_AGE_SECONDS", 300, 30, 86_400)?),
            fetch_timeout: Duration::from_millis(env.number("OBO_JWKS_TIMEOUT_MS", 1500, 100, 4000)?),
            ..Self::default()
        })
    }
}

#[derive(Default)]
struct IssuerState {
    keys: Option<Arc<KeySet>>,
    fetched_at_ms: u64,
    /// When a fetch last failed or came back without the key it was made for.
    last_miss_ms: Option<u64>,
    last_error: Option<String>,
}

struct IssuerEntry {
    issuer: TrustedIssuer,
    state: Mutex<IssuerState>,
    /// Serialises fetches for this issuer so that concurrent misses share one fetch. Readers
    /// that find their key never touch it.
    fetch_gate: tokio::sync::Mutex<()>,
}

/// Outcome of looking in the cache without fetching.
enum Cached {
    Found(Arc<VerifyingKey>),
    Known(KeyError),
    NeedFetch,
}

impl IssuerEntry {
    fn cached(&self, kid: &str, now_ms: u64, settings: &KeyStoreSettings) -> Cached {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = state
            .keys
            .as_ref()
            .filter(|_| now_ms.saturating_sub(state.fetched_at_ms) < settings.max_age.as_millis() as u64);
        if let Some(key) = fresh.and_then(|k| k.get(kid)) {
            return Cached::Found(key.clone());
        }
        let boxed = state
            .last_miss_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < settings.refetch_interval.as_millis() as u64);
        match (boxed, &state.last_error, fresh) {
            (false, _, _) => Cached::NeedFetch,
            (true, Some(err), _) => Cached::Known(KeyError::Unavailable(err.clone())),
            (true, None, Some(_)) => Cached::Known(KeyError::UnknownKey),
            (true, None, None) => Cached::Known(KeyError::Unavailable("the key set expired".into())),
        }
    }
}

/// Process-wide cache of trusted issuers' keys.
pub struct KeyStore {
    http: HttpClient,
    clock: SharedClock,
    settings: KeyStoreSettings,
    issuers: RwLock<HashMap<String, Arc<IssuerEntry>>>,
    fetches: std::sync::atomic::AtomicU64,
    fetch_failures: std::sync::atomic::AtomicU64,
}

impl KeyStore {
    /// An empty cache.
    pub fn new(http: HttpClient, clock: SharedClock, settings: KeyStoreSettings) -> Self {
        Self {
            http,
            clock,
            settings,
            issuers: RwLock::default(),
            fetches: Default::default(),
            fetch_failures: Default::default(),
        }
    }

    /// How many fetches this cache has started (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many of those fetches failed or timed out (for metrics).
    pub fn fetch_failure_count(&self) -> u64 {
        self.fetch_failures.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key `kid` of `issuer`, fetching the issuer's JWKS if needed and allowed.
    pub async fn key(&self, issuer: &TrustedIssuer, kid: &str) -> Result<Arc<VerifyingKey>, KeyError> {
        let entry = self.entry(issuer);
        match entry.cached(kid, self.clock.now_millis(), &self.settings) {
            Cached::Found(key) => return Ok(key),
            Cached::Known(err) => return Err(err),
            Cached::NeedFetch => {}
        }
        let _gate = entry.fetch_gate.lock().await;
        // Another task may have fetched while this one waited.
        match entry.cached(kid, self.clock.now_millis(), &self.settings) {
            Cached::Found(key) => return Ok(key),
            Cached::Known(err) => return Err(err),
            Cached::NeedFetch => {}
        }
        self.refresh(&entry, Some(kid)).await;
        match entry.cached(kid, self.clock.now_millis(), &self.settings) {
            Cached::Found(key) => Ok(key),
            Cached::Known(err) => Err(err),
            Cached::NeedFetch => Err(KeyError::Unavailable("the key set could not be refreshed".into())),
        }
    }

    /// Fetches the issuer's keys now (cold-start warm-up); returns the failure, if any, for logging.
    pub async fn prefetch(&self, issuer: &TrustedIssuer) -> Result<usize, KeyError> {
        let entry = self.entry(issuer);
        let _gate = entry.fetch_gate.lock().await;
        self.refresh(&entry, None).await;
        let state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
        match (&state.last_error, &state.keys) {
            (Some(err), _) => Err(KeyError::Unavailable(err.clone())),
            (None, Some(keys)) => Ok(keys.len()),
            (None, None) => Err(KeyError::Unavailable("no key set".into())),
        }
    }

    /// Installs `keys` as the issuer's key set, as if fetched now: keys distributed out of band,
    /// and tests whose tokens name a fixed issuer (the shared test vectors). The usual rules
    /// apply from then on (replaced after `max_age`, refetched for an unknown `kid`).
    pub fn install(&self, issuer: &TrustedIssuer, keys: KeySet) {
        let entry = self.entry(issuer);
        let mut state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
        state.keys = Some(Arc::new(keys));
        state.fetched_at_ms = self.clock.now_millis();
        state.last_miss_ms = None;
        state.last_error = None;
    }

    fn entry(&self, issuer: &TrustedIssuer) -> Arc<IssuerEntry> {
        if let Some(entry) = self.issuers.read().unwrap_or_else(|e| e.into_inner()).get(&issuer.issuer) {
            return entry.clone();
        }
        let mut map = self.issuers.write().unwrap_or_else(|e| e.into_inner());
        map.entry(issuer.issuer.clone())
            .or_insert_with(|| {
                Arc::new(IssuerEntry {
                    issuer: issuer.clone(),
                    state: Mutex::default(),
                    fetch_gate: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// One fetch, recorded in the entry's state (the only place that writes it). A failure, or
    /// a key set without `wanted`, puts the issuer in the penalty box.
    async fn refresh(&self, entry: &IssuerEntry, wanted: Option<&str>) {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = self.clock.now_millis();
        let result = tokio::time::timeout(self.settings.fetch_timeout, self.fetch(&entry.issuer))
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        let mut state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(keys) => {
                if wanted.is_some_and(|kid| keys.get(kid).is_none()) {
                    state.last_miss_ms = Some(started);
                }
                tracing::debug!(issuer = %entry.issuer.issuer, keys = keys.len(), "jwks fetched");
                state.keys = Some(Arc::new(keys));
                state.fetched_at_ms = started;
                state.last_error = None;
            }
            Err(err) => {
                self.fetch_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(issuer = %entry.issuer.issuer, error = %err, "jwks fetch failed");
                state.last_miss_ms = Some(started);
                state.last_error = Some(err);
            }
        }
    }

    async fn fetch(&self, issuer: &TrustedIssuer) -> Result<KeySet, String> {
        let jwks_url = match issuer.keys {
            KeyLocation::CognitoJwks => issuer.well_known_url(),
            KeyLocation::Discovery => self.discover_jwks_uri(issuer).await?,
        };
        let body = self.get_ok(&jwks_url).await?;
        let keys = KeySet::parse(&body)?;
        if keys.is_empty() {
            return Err("the JWKS has no usable signing key".into());
        }
        Ok(keys)
    }

    async fn discover_jwks_uri(&self, issuer: &TrustedIssuer) -> Result<String, String> {
        let body = self.get_ok(&issuer.well_known_url()).await?;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|_| "discovery document is not JSON".to_owned())?;
        if doc.get("issuer").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
            return Err("discovery document names another issuer".into());
        }
        let jwks_uri =
            doc.get("jwks_uri").and_then(Value::as_str).ok_or("discovery document has no jwks_uri")?;
        let jwks = checked_url(jwks_uri).map_err(|e| format!("jwks_uri refused: {e}"))?;
        let iss = checked_url(&issuer.issuer).map_err(|e| e.to_string())?;
        if jwks.host_str() != iss.host_str() {
            return Err("jwks_uri is not on the issuer's host".into());
        }
        Ok(jwks_uri.to_owned())
    }

    async fn get_ok(&self, url: &str) -> Result<Vec<u8>, String> {
        let url = checked_url(url).map_err(|e| e.to_string())?;
        let response = self
            .http
            .get(&url, self.settings.fetch_timeout, self.settings.body_cap)
            .await
            .map_err(|e| e.to_string())?;
        if response.status != 200 {
            return Err(format!("HTTP {} from {}", response.status, url.path()));
        }
        Ok(response.body)
    }
}
/// The key cache's fetches, as the metrics line reports them.
#[cfg(feature = "lambda")]
impl crate::metrics::FetchCounts for KeyStore {
    fn fetch_count(&self) -> u64 {
        KeyStore::fetch_count(self)
    }

    fn fetch_failure_count(&self) -> u64 {
        KeyStore::fetch_failure_count(self)
    }
}
