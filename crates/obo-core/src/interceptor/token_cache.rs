//! The on-behalf-of token cache of one execution environment.
//!
//! - Key: SHA-256 over a length-prefixed encoding of every token-request parameter except the
//!   client secret (the user's token included), so no raw token is ever a key and two requests
//!   share an entry only if they would ask the identity provider the same thing.
//! - TTL: `min(minted token expiry, user token expiry) − skew`; nothing outlives the user's token.
//! - Bounded LRU; failures are cached briefly under the same key (so never across users).
//! - Concurrent identical misses share one exchange (single flight); if the fetching caller is
//!   cancelled, a waiting one takes over.
//!
//! Time comes from an injectable [`crate::clock::Clock`]; nothing here sleeps or needs tokio's
//! timer, so simulations can drive the cache with a [`crate::clock::ManualClock`].

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::digest;
use lru::LruCache;
use tokio::sync::OnceCell;

use crate::clock::SharedClock;
use crate::reason::Rejection;
use crate::secret::Secret;

/// A cache key: the SHA-256 of the request parameters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A digest of a token is still token-derived: show only a short prefix.
        write!(f, "CacheKey({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

impl CacheKey {
    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Builds a [`CacheKey`] from fields; each is length-prefixed, so `("ab","c")` and `("a","bc")`
/// never collide.
pub struct KeyBuilder(digest::Context);

impl Default for KeyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyBuilder {
    /// An empty key.
    pub fn new() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }

    /// Adds one field.
    pub fn field(mut self, bytes: &[u8]) -> Self {
        self.0.update(&(bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// Adds bytes that are already a length-prefixed encoding (see [`encode_fields`]).
    pub fn encoded(mut self, bytes: &[u8]) -> Self {
        self.0.update(bytes);
        self
    }

    /// The key.
    pub fn finish(self) -> CacheKey {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        CacheKey(out)
    }
}

/// The length-prefixed encoding of `fields`, to hash later with [`KeyBuilder::encoded`]
/// (precompute the fixed part of a key once, at cold start).
pub fn encode_fields<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// A minted token as the cache stores it.
#[derive(Debug)]
pub struct CachedToken {
    /// The token.
    pub token: Secret,
    /// When the entry stops being served (ms since the epoch); 0 when it was never cached.
    pub valid_until_ms: u64,
}

/// What a fetch produced: the token and its expiry.
#[derive(Debug)]
pub struct Minted {
    /// The token.
    pub token: Secret,
    /// The token's own expiry (ms since the epoch).
    pub expires_at_ms: u64,
}

/// How a request was served, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// From the cache.
    Hit,
    /// A cached failure, within its short TTL.
    FailureHit,
    /// Fetched by this caller.
    Miss,
    /// Fetched by a concurrent caller with the same key.
    Shared,
}

impl CacheStatus {
    /// The log name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::FailureHit => "failure_hit",
            Self::Miss => "miss",
            Self::Shared => "shared",
        }
    }
}

/// Cache limits.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// Maximum number of entries (tokens and failures).
    pub max_entries: NonZeroUsize,
    /// Subtracted from the expiry so that no token is served just before it expires.
    pub skew_ms: u64,
    /// The longest a token is served from the cache after it was minted, whatever its expiry:
    /// the bound on how long a revoked user's token keeps working through this cache.
    pub max_age_ms: u64,
    /// How long a failure is served from the cache; 0 disables failure caching.
    pub failure_ttl_ms: u64,
}

enum Slot {
    Token(Arc<CachedToken>),
    Failure { rejection: Rejection, until_ms: u64 },
}

/// What [`TokenCache::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    /// A valid token.
    Hit(Arc<CachedToken>),
    /// A recent failure.
    Failure(Rejection),
    /// Nothing usable.
    Miss,
}

/// The outcome of a shared fetch.
pub type Outcome = Result<Arc<CachedToken>, Rejection>;

/// The token cache. Share it process-wide (`Arc` or `&'static`).
pub struct TokenCache {
    entries: Mutex<LruCache<CacheKey, Slot>>,
    in_flight: Mutex<HashMap<CacheKey, Arc<OnceCell<Outcome>>>>,
    settings: CacheSettings,
    clock: SharedClock,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TokenCache {
    /// An empty cache.
    pub fn new(settings: CacheSettings, clock: SharedClock) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(settings.max_entries)),
            in_flight: Mutex::new(HashMap::new()),
            settings,
            clock,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> CacheSettings {
        self.settings
    }

    /// Looks `key` up, dropping an expired entry.
    pub fn lookup(&self, key: &CacheKey) -> Lookup {
        let now = self.clock.now_millis();
        let mut entries = locked(&self.entries);
        let found = match entries.get(key) {
            None => return Lookup::Miss,
            Some(Slot::Token(t)) if now < t.valid_until_ms => Lookup::Hit(Arc::clone(t)),
            Some(Slot::Failure { rejection, until_ms }) if now < *until_ms => {
                Lookup::Failure(rejection.clone())
            }
            Some(_) => Lookup::Miss,
        };
        if matches!(found, Lookup::Miss) {
            entries.pop(key);
        }
        found
    }

    /// Stores a minted token until `min(token expiry, user expiry) − skew` or `now + max age`,
    /// whichever comes first; returns it with the time it stops being served (0, and not stored,
    /// when that is already past).
    pub fn store_token(&self, key: CacheKey, minted: Minted, user_expires_at_ms: u64) -> Arc<CachedToken> {
        let now = self.clock.now_millis();
        let until = minted
            .expires_at_ms
            .min(user_expires_at_ms)
            .saturating_sub(self.settings.skew_ms)
            .min(now.saturating_add(self.settings.max_age_ms));
        let cacheable = until > now;
        let token =
            Arc::new(CachedToken { token: minted.token, valid_until_ms: if cacheable { until } else { 0 } });
        if cacheable {
            locked(&self.entries).put(key, Slot::Token(Arc::clone(&token)));
        }
        token
    }

    /// Remembers a failure for the failure TTL.
    pub fn store_failure(&self, key: CacheKey, rejection: &Rejection) {
        if self.settings.failure_ttl_ms == 0 {
            return;
        }
        let until_ms = self.clock.now_millis() + self.settings.failure_ttl_ms;
        locked(&self.entries).put(key, Slot::Failure { rejection: rejection.clone(), until_ms });
    }

    /// Drops the entry for `key` (e.g. after the target refused the token); whether one existed.
    pub fn evict(&self, key: &CacheKey) -> bool {
        locked(&self.entries).pop(key).is_some()
    }

    /// How many entries are held (expired ones included until looked up or pushed out).
    pub fn len(&self) -> usize {
        locked(&self.entries).len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached token for `key`, or the result of `fetch`, which runs at most once for all
    /// concurrent callers with the same key. The outcome is cached (a failure briefly).
    pub async fn get_or_fetch<F, Fut>(
        &self,
        key: CacheKey,
        user_expires_at_ms: u64,
        fetch: F,
    ) -> (Outcome, CacheStatus)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Minted, Rejection>>,
    {
        match self.lookup(&key) {
            Lookup::Hit(token) => return (Ok(token), CacheStatus::Hit),
            Lookup::Failure(rejection) => return (Err(rejection), CacheStatus::FailureHit),
            Lookup::Miss => {}
        }
        let cell = Arc::clone(locked(&self.in_flight).entry(key).or_default());
        let mut fetched_here = false;
        let outcome = cell
            .get_or_init(|| async {
                fetched_here = true;
                // A caller that missed just before another one finished finds its result here.
                match self.lookup(&key) {
                    Lookup::Hit(token) => return Ok(token),
                    Lookup::Failure(rejection) => return Err(rejection),
                    Lookup::Miss => {}
                }
                match fetch().await {
                    Ok(minted) => Ok(self.store_token(key, minted, user_expires_at_ms)),
                    Err(rejection) => {
                        self.store_failure(key, &rejection);
                        Err(rejection)
                    }
                }
            })
            .await
            .clone();
        {
            let mut in_flight = locked(&self.in_flight);
            if in_flight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                in_flight.remove(&key);
            }
        }
        (outcome, if fetched_here { CacheStatus::Miss } else { CacheStatus::Shared })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::reason::ReasonCode;

    fn cache(clock: &Arc<ManualClock>, max: usize) -> TokenCache {
        let settings = CacheSettings {
            max_entries: NonZeroUsize::new(max).unwrap(),
            skew_ms: 60_000,
            max_age_ms: 600_000,
            failure_ttl_ms: 5_000,
        };
        TokenCache::new(settings, clock.clone())
    }

    fn key(s: &str) -> CacheKey {
        KeyBuilder::new().field(s.as_bytes()).finish()
    }

    fn minted(expires_at_ms: u64) -> Minted {
        Minted { token: Secret::new("m2m"), expires_at_ms }
    }

    #[test]
    fn keys_are_length_prefixed() {
        let a = KeyBuilder::new().field(b"ab").field(b"c").finish();
        let b = KeyBuilder::new().field(b"a").field(b"bc").finish();
        assert_ne!(a, b);
        let c = KeyBuilder::new().encoded(&encode_fields([b"ab".as_slice(), b"c"])).finish();
        assert_eq!(a, c);
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.0)));
    }

    #[test]
    fn ttl_is_the_earlier_expiry_minus_skew() {
        let clock = ManualClock::at_secs(1_000);
        let c = cache(&clock, 10);
        // Token valid 3600 s, user token 300 s: served for 240 s.
        let t = c.store_token(key("u"), minted(4_600_000), 1_300_000);
        assert_eq!(t.valid_until_ms, 1_240_000);
        clock.advance_secs(239);
        assert!(matches!(c.lookup(&key("u")), Lookup::Hit(_)));
        clock.advance_secs(1);
        assert!(matches!(c.lookup(&key("u")), Lookup::Miss));
        assert!(c.is_empty());
        // Within the skew already: returned but not stored.
        let t = c.store_token(key("v"), minted(4_600_000), clock.now_millis() + 30_000);
        assert_eq!(t.valid_until_ms, 0);
        assert!(c.is_empty());
    }

    #[test]
    fn max_age_caps_a_long_lived_token() {
        let clock = ManualClock::at_secs(1_000);
        let c = cache(&clock, 10);
        // Token and user token valid an hour: served for the max age (600 s), not 3540 s.
        let t = c.store_token(key("u"), minted(4_600_000), 4_600_000);
        assert_eq!(t.valid_until_ms, 1_600_000);
        clock.advance_secs(599);
        assert!(matches!(c.lookup(&key("u")), Lookup::Hit(_)));
        clock.advance_secs(1);
        assert!(matches!(c.lookup(&key("u")), Lookup::Miss));
        // A max age of 0 turns token caching off.
        let off = CacheSettings { max_age_ms: 0, ..c.settings() };
        let c = TokenCache::new(off, clock.clone());
        assert_eq!(c.store_token(key("v"), minted(9_000_000), 9_000_000).valid_until_ms, 0);
        assert!(c.is_empty());
    }

    #[test]
    fn failures_expire_quickly_and_lru_is_bounded() {
        let clock = ManualClock::at_secs(1_000);
        let c = cache(&clock, 2);
        c.store_failure(key("f"), &Rejection::new(ReasonCode::IdpThrottled, "busy"));
        assert!(matches!(c.lookup(&key("f")), Lookup::Failure(r) if r.reason == ReasonCode::IdpThrottled));
        clock.advance_secs(5);
        assert!(matches!(c.lookup(&key("f")), Lookup::Miss));
        for k in ["a", "b", "c"] {
            c.store_token(key(k), minted(9_000_000), 9_000_000);
        }
        assert_eq!(c.len(), 2);
        assert!(matches!(c.lookup(&key("a")), Lookup::Miss));
        assert!(c.evict(&key("c")));
        assert!(!c.evict(&key("c")));
    }
}
