//! The optional token cache shared by every execution environment (`OBO_SHARED_CACHE=dynamodb:<table>`):
//! looked up after a local miss and before minting, written after a mint with a conditional put
//! (first writer wins), deleted from when a target refuses a token. The local LRU and its single
//! flight stay in front of it ([`crate::token_cache`]).
//!
//! - Items are sealed ([`crate::seal`]): found with the interceptor's secret, opened with the
//!   secret and the user's token. The secret is the on-behalf-of client's secret (whoever holds
//!   it can mint tokens anyway); after it rotates, old items simply miss.
//! - Item: `k` (S, base64url of the item key), `v` (B, the sealed value), `ttl` (N, epoch
//!   seconds, for DynamoDB's TTL deletion only; bound into the seal). Expiry, the user token's
//!   expiry and `OBO_CACHE_MAX_AGE_SECONDS` are enforced from the sealed times.
//! - The table never fails or delays a request beyond `OBO_SHARED_CACHE_TIMEOUT_MS` per call:
//!   no SDK retries; an error, a timeout or throttling on the lookup skips the put too, and the
//!   interceptor mints as it would without the tier. Failures are never shared (the negative
//!   cache stays per environment), and nothing about a user reaches a log or a metric.
//! - The table is a [`SharedStore`] plugged in at construction (DynamoDB through the AWS SDK:
//!   `crate::aws`); this module sees opaque sealed items only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::clock::SharedClock;
use crate::env::{ConfigError, Env};
use crate::interceptor::client_secret::ClientSecret;
use crate::interceptor::seal::{ItemKey, SealKeys, Times};
use crate::interceptor::token_cache::{CacheKey, CacheSettings, Minted};

/// `OBO_SHARED_CACHE_TIMEOUT_MS` unless set: the deadline of one table call.
pub const DEFAULT_TIMEOUT_MS: u64 = 100;

/// `OBO_SHARED_CACHE` and `OBO_SHARED_CACHE_TIMEOUT_MS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCacheSettings {
    /// The DynamoDB table.
    pub table: String,
    /// The deadline of one table call.
    pub timeout: Duration,
}

impl SharedCacheSettings {
    /// Reads the settings; `None` when the tier is off (the default).
    pub fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        let Some(raw) = env.string("OBO_SHARED_CACHE") else {
            return Ok(None);
        };
        if raw == "off" {
            return Ok(None);
        }
        let Some(table) = raw.strip_prefix("dynamodb:") else {
            return Err(ConfigError::new("OBO_SHARED_CACHE", "must be `off` or `dynamodb:<table name>`"));
        };
        let valid = (3..=255).contains(&table.len())
            && table.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(ConfigError::new(
                "OBO_SHARED_CACHE",
                "the table name must be 3-255 characters of letters, digits, _ - .",
            ));
        }
        let timeout_ms = env.number("OBO_SHARED_CACHE_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 10, 5_000)?;
        Ok(Some(Self { table: table.to_owned(), timeout: Duration::from_millis(timeout_ms) }))
    }
}

/// What the tier did for one invocation (the log's `shared_cache` and the `SharedCache` metric
/// dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SharedStatus {
    /// Served from the table.
    Hit,
    /// Not in the table (or expired there); nothing stored.
    Miss,
    /// Not in the table; the minted token was stored.
    Stored,
    /// Not in the table; another environment stored its token first (this one kept its own).
    Lost,
    /// An item was there but did not open (tampered, swapped): minted and overwritten.
    Unopenable,
    /// The table call timed out: minted without the tier.
    Timeout,
    /// The table throttled: minted without the tier.
    Throttled,
    /// The table failed otherwise: minted without the tier.
    Error,
    /// The item of a token a target refused was deleted.
    Evicted,
}

impl SharedStatus {
    const ALL: [SharedStatus; 9] = [
        Self::Hit,
        Self::Miss,
        Self::Stored,
        Self::Lost,
        Self::Unopenable,
        Self::Timeout,
        Self::Throttled,
        Self::Error,
        Self::Evicted,
    ];

    /// The log and dimension value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Stored => "stored",
            Self::Lost => "lost",
            Self::Unopenable => "unopenable",
            Self::Timeout => "timeout",
            Self::Throttled => "throttled",
            Self::Error => "error",
            Self::Evicted => "evicted",
        }
    }

    /// Whether the table failed (the request went on without it).
    pub const fn is_fallback(self) -> bool {
        matches!(self, Self::Timeout | Self::Throttled | Self::Error)
    }
}

/// The tier's status for one invocation, noted as it goes (an atomic, so that a future holding
/// a reference stays `Send`).
#[derive(Debug, Default)]
pub struct SharedNote(AtomicU8);

const UNSET: u8 = u8::MAX;

impl SharedNote {
    /// Nothing noted yet.
    pub fn new() -> Self {
        Self(AtomicU8::new(UNSET))
    }

    fn set(&self, status: SharedStatus) {
        self.0.store(status as u8, Ordering::Relaxed);
    }

    /// The last status noted.
    pub fn get(&self) -> Option<SharedStatus> {
        SharedStatus::ALL.get(usize::from(self.0.load(Ordering::Relaxed))).copied()
    }
}

/// A store call that did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The conditional put found a live item (another writer won).
    ConditionFailed,
    /// The call timed out.
    Timeout,
    /// The store throttled.
    Throttled,
    /// Any other failure.
    Other,
}

impl StoreError {
    fn status(self) -> SharedStatus {
        match self {
            Self::ConditionFailed => SharedStatus::Lost,
            Self::Timeout => SharedStatus::Timeout,
            Self::Throttled => SharedStatus::Throttled,
            Self::Other => SharedStatus::Error,
        }
    }
}

/// One item a [`SharedStore`] holds.
#[derive(Debug, Clone, Default)]
pub struct StoredItem {
    /// The sealed value (empty if the item has none).
    pub sealed: Vec<u8>,
    /// Its TTL attribute (epoch seconds; 0 if the item has none).
    pub ttl_secs: u64,
}

/// One item to write to a [`SharedStore`].
#[derive(Debug)]
pub struct PutItem<'a> {
    /// The item key.
    pub key: &'a ItemKey,
    /// The sealed value.
    pub sealed: Vec<u8>,
    /// When the store may delete the item (epoch seconds).
    pub ttl_secs: u64,
    /// `Some(now_ms)`: written only if no item is there or the one there has passed its TTL at
    /// `now_ms` (else [`StoreError::ConditionFailed`]); `None`: written over whatever is there.
    pub if_absent_at_ms: Option<u64>,
}

/// Where the tier's sealed items live, by item key (DynamoDB through the AWS SDK in the
/// `interceptor` binary). Each call is bounded by the tier's deadline on top of the store's own.
pub trait SharedStore: Send + Sync {
    /// The item, if one is there (a value or TTL it lacks reads as empty, or 0).
    fn get<'a>(&'a self, item: &'a ItemKey) -> BoxFuture<'a, Result<Option<StoredItem>, StoreError>>;
    /// Writes the item.
    fn put<'a>(&'a self, item: PutItem<'a>) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes the item.
    fn delete<'a>(&'a self, item: &'a ItemKey) -> BoxFuture<'a, Result<(), StoreError>>;
}

struct Tier {
    store: Box<dyn SharedStore>,
    settings: SharedCacheSettings,
    secret: Arc<ClientSecret>,
    cache: CacheSettings,
    clock: SharedClock,
}

/// The shared tier, or nothing when it is off.
pub struct SharedTier(Option<Tier>);

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedTier").field(&self.0.as_ref().map(|t| t.settings.table.as_str())).finish()
    }
}

/// One table call's keys, derived from the secret current at that call (so a rotation during a
/// miss seals the put under the new secret).
struct Slot {
    keys: SealKeys,
    item: ItemKey,
}

impl SharedTier {
    /// No shared tier.
    pub fn off() -> Self {
        Self(None)
    }

    /// The tier on `store`, keyed by `secret`, with the local cache's bounds.
    pub fn new(
        store: Box<dyn SharedStore>,
        settings: SharedCacheSettings,
        secret: Arc<ClientSecret>,
        cache: CacheSettings,
        clock: SharedClock,
    ) -> Self {
        Self(Some(Tier { store, settings, secret, cache, clock }))
    }

    /// Whether the tier is on.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The token for `cache_key` if the table holds a live one for this user token, its expiry
    /// capped so that the local cache keeps it no longer than the sealed bounds allow.
    pub async fn lookup(
        &self,
        cache_key: &CacheKey,
        user_token: &str,
        user_expires_at_ms: u64,
        note: &SharedNote,
    ) -> Option<Minted> {
        let tier = self.0.as_ref()?;
        if tier.cache.max_age_ms == 0 {
            // Token caching is off (OBO_CACHE_MAX_AGE_SECONDS=0): nothing is stored, nothing to read.
            return None;
        }
        let slot = tier.slot(cache_key);
        let found = match tier.call(tier.store.get(&slot.item)).await {
            Ok(found) => found,
            Err(err) => {
                note.set(err.status());
                return None;
            }
        };
        let Some(StoredItem { sealed, ttl_secs }) = found else {
            note.set(SharedStatus::Miss);
            return None;
        };
        let Ok(opened) = slot.keys.open(user_token, cache_key, &slot.item, ttl_secs, &sealed) else {
            note.set(SharedStatus::Unopenable);
            return None;
        };
        let times = opened.times;
        let until = tier.valid_until(times, user_expires_at_ms);
        if tier.clock.now_millis() >= until {
            note.set(SharedStatus::Miss);
            return None;
        }
        note.set(SharedStatus::Hit);
        // The local cache caps at `now + max age`; the sealed mint time caps earlier.
        let local_cap =
            times.minted_at_ms.saturating_add(tier.cache.max_age_ms).saturating_add(tier.cache.skew_ms);
        Some(Minted { token: opened.token, expires_at_ms: times.expires_at_ms.min(local_cap) })
    }

    /// Stores a token just minted for `cache_key`: a conditional put that succeeds only if no
    /// live item is there (first writer wins). Skipped when the lookup failed (the table is
    /// not waited for twice) or when the token is not cacheable.
    pub async fn store(
        &self,
        cache_key: &CacheKey,
        user_token: &str,
        user_expires_at_ms: u64,
        minted: &Minted,
        note: &SharedNote,
    ) {
        let Some(tier) = self.0.as_ref() else {
            return;
        };
        let previous = note.get();
        if previous.is_some_and(SharedStatus::is_fallback) {
            return;
        }
        let now = tier.clock.now_millis();
        let times = Times { minted_at_ms: now, expires_at_ms: minted.expires_at_ms, user_expires_at_ms };
        let until = tier.valid_until(times, user_expires_at_ms);
        if until <= now {
            return;
        }
        let ttl_secs = until.div_ceil(1000);
        let slot = tier.slot(cache_key);
        let sealed =
            slot.keys.seal(user_token, cache_key, &slot.item, ttl_secs, times, minted.token.expose());
        if sealed.is_empty() {
            note.set(SharedStatus::Error);
            return;
        }
        // An item that did not open is overwritten; a live one is never replaced.
        let conditional = previous != Some(SharedStatus::Unopenable);
        let if_absent_at_ms = conditional.then_some(now);
        let put = tier.store.put(PutItem { key: &slot.item, sealed, ttl_secs, if_absent_at_ms });
        // An overwritten unopenable item stays reported as such (that is what an alarm wants).
        note.set(match tier.call(put).await {
            Ok(()) if !conditional => SharedStatus::Unopenable,
            Ok(()) => SharedStatus::Stored,
            Err(err) => err.status(),
        });
    }

    /// Deletes the item of `cache_key` (a target refused its token); `None` when the tier is off.
    pub async fn evict(&self, cache_key: &CacheKey) -> Option<SharedStatus> {
        let tier = self.0.as_ref()?;
        let slot = tier.slot(cache_key);
        Some(match tier.call(tier.store.delete(&slot.item)).await {
            Ok(()) => SharedStatus::Evicted,
            Err(err) => err.status(),
        })
    }
}

impl Tier {
    fn slot(&self, cache_key: &CacheKey) -> Slot {
        let keys = SealKeys::derive(self.secret.current().expose().as_bytes());
        let item = keys.item_key(cache_key);
        Slot { keys, item }
    }

    /// When a token with these sealed times stops being served: the local cache's rule,
    /// `min(token expiry, user token expiry) − skew`, capped at `mint time + max age`.
    fn valid_until(&self, times: Times, user_expires_at_ms: u64) -> u64 {
        times
            .expires_at_ms
            .min(times.user_expires_at_ms)
            .min(user_expires_at_ms)
            .saturating_sub(self.cache.skew_ms)
            .min(times.minted_at_ms.saturating_add(self.cache.max_age_ms))
    }

    async fn call<T>(&self, call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::time::timeout(self.settings.timeout, call).await.unwrap_or(Err(StoreError::Timeout))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<SharedCacheSettings>, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        SharedCacheSettings::from_env(&Env::new(&map))
    }

    #[test]
    fn settings_are_off_by_default_and_name_the_variable() {
        assert_eq!(read(&[]).unwrap(), None);
        assert_eq!(read(&[("OBO_SHARED_CACHE", "off")]).unwrap(), None);
        let on = read(&[("OBO_SHARED_CACHE", "dynamodb:obo-tokens")]).unwrap().unwrap();
        assert_eq!(on.table, "obo-tokens");
        assert_eq!(on.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
        for bad in ["redis:x", "dynamodb:", "dynamodb:a b", "dynamodb:ab"] {
            assert_eq!(read(&[("OBO_SHARED_CACHE", bad)]).unwrap_err().variable, "OBO_SHARED_CACHE", "{bad}");
        }
        let err = read(&[("OBO_SHARED_CACHE", "dynamodb:t12"), ("OBO_SHARED_CACHE_TIMEOUT_MS", "1")]);
        assert_eq!(err.unwrap_err().variable, "OBO_SHARED_CACHE_TIMEOUT_MS");
    }

    /// A store in memory, whose next call can be made to fail.
    #[derive(Default)]
    struct Memory {
        items: std::sync::Mutex<HashMap<Vec<u8>, StoredItem>>,
        fail: std::sync::Mutex<Option<StoreError>>,
        puts: std::sync::atomic::AtomicUsize,
    }

    impl Memory {
        fn failure(&self) -> Result<(), StoreError> {
            self.fail.lock().unwrap().take().map_or(Ok(()), Err)
        }
    }

    impl SharedStore for Arc<Memory> {
        fn get<'a>(&'a self, item: &'a ItemKey) -> BoxFuture<'a, Result<Option<StoredItem>, StoreError>> {
            let found =
                self.failure().map(|()| self.items.lock().unwrap().get(&item.as_bytes()[..]).cloned());
            Box::pin(async move { found })
        }

        fn put<'a>(&'a self, put: PutItem<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
            self.puts.fetch_add(1, Ordering::Relaxed);
            let mut items = self.items.lock().unwrap();
            let live = |i: &StoredItem| put.if_absent_at_ms.is_some_and(|now| i.ttl_secs > now / 1000);
            let result = match self.failure() {
                Ok(()) if items.get(&put.key.as_bytes()[..]).is_some_and(live) => {
                    Err(StoreError::ConditionFailed)
                }
                Ok(()) => {
                    let item = StoredItem { sealed: put.sealed, ttl_secs: put.ttl_secs };
                    items.insert(put.key.as_bytes().to_vec(), item);
                    Ok(())
                }
                Err(err) => Err(err),
            };
            Box::pin(async move { result })
        }

        fn delete<'a>(&'a self, item: &'a ItemKey) -> BoxFuture<'a, Result<(), StoreError>> {
            let result = self.failure().map(|()| {
                self.items.lock().unwrap().remove(&item.as_bytes()[..]);
            });
            Box::pin(async move { result })
        }
    }

    #[tokio::test]
    async fn the_tier_speaks_to_its_store_through_the_trait() {
        use crate::clock::ManualClock;
        use crate::interceptor::token_cache::KeyBuilder;
        use crate::secret::Secret;
        let clock = ManualClock::at_secs(1_000);
        let memory = Arc::new(Memory::default());
        let cache = CacheSettings {
            max_entries: std::num::NonZeroUsize::new(8).unwrap(),
            skew_ms: 0,
            max_age_ms: 600_000,
            failure_ttl_ms: 0,
        };
        let settings = SharedCacheSettings { table: "obo".into(), timeout: Duration::from_secs(1) };
        let secret = Arc::new(ClientSecret::fixed(Secret::new("client-secret"), clock.clone()));
        let tier = SharedTier::new(Box::new(Arc::clone(&memory)), settings, secret, cache, clock.clone());
        let key = KeyBuilder::new().field(b"target").finish();
        let user_exp = 2_000_000;
        let minted = Minted { token: Secret::new("minted-token"), expires_at_ms: 1_900_000 };
        let step = async |user: &str, mint: bool| {
            let note = SharedNote::new();
            let found = tier.lookup(&key, user, user_exp, &note).await.map(|m| m.token.expose().to_owned());
            if mint && found.is_none() {
                tier.store(&key, user, user_exp, &minted, &note).await;
            }
            (found, note.get())
        };
        assert_eq!(step("user-a", true).await, (None, Some(SharedStatus::Stored)));
        let sealed = memory.items.lock().unwrap().values().next().unwrap().sealed.clone();
        assert!(!sealed.windows(12).any(|w| w == b"minted-token"), "the store holds the token sealed");
        assert_eq!(step("user-a", true).await, (Some("minted-token".into()), Some(SharedStatus::Hit)));
        // Another user token does not open the item: minted and written over.
        assert_eq!(step("user-b", true).await, (None, Some(SharedStatus::Unopenable)));
        // A throttled lookup skips the put.
        let puts = memory.puts.load(Ordering::Relaxed);
        *memory.fail.lock().unwrap() = Some(StoreError::Throttled);
        assert_eq!(step("user-b", true).await, (None, Some(SharedStatus::Throttled)));
        assert_eq!(memory.puts.load(Ordering::Relaxed), puts);
        assert_eq!(tier.evict(&key).await, Some(SharedStatus::Evicted));
        assert_eq!(step("user-b", false).await, (None, Some(SharedStatus::Miss)));
        // Another environment wrote first: this one keeps its own token.
        let (first, second) = (SharedNote::new(), SharedNote::new());
        tier.store(&key, "user-a", user_exp, &minted, &first).await;
        tier.store(&key, "user-b", user_exp, &minted, &second).await;
        assert_eq!((first.get(), second.get()), (Some(SharedStatus::Stored), Some(SharedStatus::Lost)));
        assert_eq!(step("user-a", false).await, (Some("minted-token".into()), Some(SharedStatus::Hit)));
        assert!(SharedTier::off().lookup(&key, "user-b", user_exp, &SharedNote::new()).await.is_none());
    }

    #[test]
    fn statuses_round_trip_through_the_note() {
        let note = SharedNote::new();
        assert_eq!(note.get(), None);
        for status in SharedStatus::ALL {
            note.set(status);
            assert_eq!(note.get(), Some(status));
        }
        assert!(SharedStatus::Throttled.is_fallback() && !SharedStatus::Lost.is_fallback());
    }
}
