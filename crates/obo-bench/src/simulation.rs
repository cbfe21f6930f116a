//! Figure 5: the workload replayed through the real [`TokenCache`] code, one cache per execution
//! environment, on a [`ManualClock`] (a simulated day takes a second), beside the exchange counts
//! of an uncached design and of ideal caches.
//!
//! Lifetime rules (the interceptor's): a minted token is served until
//! `min(its expiry, the user token's expiry) − skew` or for the cache's max age, whichever ends
//! first, never after; a user token past its expiry
//! is refused, so its user signs in again (a new token, hence new cache keys).
//!
//! Ideal: the fewest exchanges any cache with those rules could make. An exchange at call time
//! `t` covers the same key's calls before `v(t) = min(t + M2M lifetime, user expiry) − skew`, and
//! `v` never decreases with `t`, so exchanging only when a call finds no valid entry — and
//! keeping every entry until it expires — is optimal (the classic greedy interval cover).
//! "Per environment" keys that by environment too: an unbounded, perfect cache in each execution
//! environment, which is what the real one (bounded LRU, concurrent misses) could lose against.
//! "Ideal shared" is one such cache for all environments; the shared tier (`OBO_SHARED_CACHE`) is
//! the real caches with one table behind them, its race window modelled ([`crate::shared_tier`]).

use std::collections::HashMap;
use std::num::NonZeroUsize;

use obo_core::Secret;
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::interceptor::InterceptorConfig;
use obo_core::interceptor::token_cache::{
    CacheKey, CacheSettings, KeyBuilder, Lookup, Minted, TokenCache, encode_fields,
};

use crate::series::{Design, Series};
use crate::shared_tier::{Table, TierCounts, TierModel};
use crate::workload::{Call, Workload};

/// Where the simulated day starts (ms since the epoch).
const DAY_START_MS: u64 = 1_767_225_600_000;

/// What the replay counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Tool calls.
    pub calls: u64,
    /// Calls to on-behalf-of targets.
    pub obo_calls: u64,
    /// Token exchanges the real caches made.
    pub exchanges: u64,
    /// Exchanges of an ideal cache per execution environment.
    pub ideal_per_environment: u64,
    /// Exchanges of one ideal cache shared by all environments.
    pub ideal_shared: u64,
    /// User sign-ins (user tokens issued).
    pub user_tokens: u64,
    /// The most entries any one real cache held.
    pub peak_entries: u64,
    /// The real caches with the shared tier behind them.
    pub tier: TierCounts,
}

impl Outcome {
    /// Share of on-behalf-of calls served from the cache.
    pub fn hit_rate(&self) -> f64 {
        if self.obo_calls == 0 { 0.0 } else { 1.0 - self.exchanges as f64 / self.obo_calls as f64 }
    }
}

/// The interceptor's cache defaults (size, skew, failure TTL), read the way it reads them.
pub fn default_settings() -> Result<CacheSettings, String> {
    let targets = r#"{"weather": {"mode": "passthrough"}}"#.to_owned();
    let env: HashMap<String, String> = HashMap::from([("OBO_TARGETS".to_owned(), targets)]);
    InterceptorConfig::from_env(&env).map(|c| c.cache).map_err(|e| e.to_string())
}

/// A user's current token: its number (a new one per sign-in) and expiry.
#[derive(Clone, Copy)]
struct Session {
    number: u32,
    expires_ms: u64,
}

/// An ideal cache: every entry kept until it stops being served.
#[derive(Default)]
struct Ideal {
    valid_until: HashMap<(u8, u32, u32, u8), u64>,
    exchanges: u64,
}

impl Ideal {
    /// Whether the call needs a token request.
    fn call(&mut self, key: (u8, u32, u32, u8), now: u64, until: u64) -> bool {
        match self.valid_until.get(&key) {
            Some(&valid) if now < valid => false,
            _ => {
                self.exchanges += 1;
                self.valid_until.insert(key, until);
                true
            }
        }
    }
}

/// Replays `calls` (from `workload.generate()`) through one real cache per execution environment
/// with `settings` (failures never happen here), and through the ideal caches.
pub fn replay(workload: &Workload, settings: CacheSettings, calls: &[Call]) -> Outcome {
    replay_day(workload, settings, calls, &TierModel::DEFAULT).0
}

/// [`replay`], with the shared tier under `model`, and every design's token requests second by
/// second.
pub fn replay_day(
    workload: &Workload,
    settings: CacheSettings,
    calls: &[Call],
    model: &TierModel,
) -> (Outcome, Series) {
    let clock = ManualClock::at_millis(DAY_START_MS);
    let shared: SharedClock = clock.clone();
    let caches: Vec<TokenCache> =
        (0..workload.environments).map(|_| TokenCache::new(settings, shared.clone())).collect();
    let tiered: Vec<TokenCache> =
        (0..workload.environments).map(|_| TokenCache::new(settings, shared.clone())).collect();
    let mut table = Table::default();
    let mut series = Series::new(workload.day_ms);
    // The fixed part of each target's cache key, as the interceptor precomputes it.
    let fields: Vec<Vec<u8>> = (0..workload.obo_targets)
        .map(|t| {
            encode_fields([
                b"obo-m2m".as_slice(),
                b"https://auth.example/oauth2/token",
                format!("cognito-obo/t{t}").as_bytes(),
            ])
        })
        .collect();
    let mut sessions: Vec<Option<Session>> = vec![None; workload.users as usize];
    let (mut per_environment, mut one_for_all) = (Ideal::default(), Ideal::default());
    let mut out = Outcome { calls: calls.len() as u64, ..Outcome::default() };
    for call in calls {
        let now = DAY_START_MS + call.at_ms;
        clock.set_millis(now);
        // The user signs in again once their token has expired (JWT times are whole seconds).
        let session = match sessions[call.user as usize] {
            Some(s) if now / 1000 < s.expires_ms / 1000 => s,
            previous => {
                out.user_tokens += 1;
                let number = previous.map_or(0, |s| s.number + 1);
                let session = Session { number, expires_ms: (now / 1000) * 1000 + workload.user_token_ms };
                sessions[call.user as usize] = Some(session);
                session
            }
        };
        if call.target >= workload.obo_targets {
            continue;
        }
        out.obo_calls += 1;
        series.add(call.at_ms, Design::Uncached);
        let until = (now + workload.m2m_token_ms)
            .min(session.expires_ms)
            .saturating_sub(settings.skew_ms)
            .min(now + settings.max_age_ms);
        if per_environment.call((call.environment, call.user, session.number, call.target), now, until) {
            series.add(call.at_ms, Design::IdealPerEnvironment);
        }
        if one_for_all.call((0, call.user, session.number, call.target), now, until) {
            series.add(call.at_ms, Design::IdealShared);
        }
        let cache = &caches[call.environment as usize];
        let key = key(call.user, session.number, &fields[call.target as usize]);
        if !matches!(cache.lookup(&key), Lookup::Hit(_)) {
            out.exchanges += 1;
            series.add(call.at_ms, Design::PerEnvironment);
            let minted = Minted { token: Secret::new("minted"), expires_at_ms: now + workload.m2m_token_ms };
            cache.store_token(key, minted, session.expires_ms);
            out.peak_entries = out.peak_entries.max(cache.len() as u64);
        }
        let tier_cache = &tiered[call.environment as usize];
        if matches!(tier_cache.lookup(&key), Lookup::Hit(_)) {
            out.tier.local_hits += 1;
            continue;
        }
        out.tier.reads += 1;
        if let Some(found) = table.get(&key, now, &settings) {
            out.tier.shared_hits += 1;
            let minted = Minted { token: Secret::new("shared"), expires_at_ms: found.expires_at_ms };
            tier_cache.store_token(key, minted, session.expires_ms);
            continue;
        }
        out.tier.exchanges += 1;
        out.tier.races += u64::from(table.pending(&key, now));
        series.add(call.at_ms, Design::SharedTier);
        let minted_at = now + model.get_ms + model.mint_ms;
        let expires_at = minted_at + workload.m2m_token_ms;
        let minted = Minted { token: Secret::new("minted"), expires_at_ms: expires_at };
        tier_cache.store_token(key, minted, session.expires_ms);
        let valid_until = expires_at
            .min(session.expires_ms)
            .saturating_sub(settings.skew_ms)
            .min(minted_at + settings.max_age_ms);
        if valid_until > minted_at {
            let lands_at = minted_at + model.put_ms;
            match table.put(key, lands_at, minted_at, expires_at, valid_until) {
                true => out.tier.writes += 1,
                false => out.tier.lost_writes += 1,
            }
        }
    }
    out.ideal_per_environment = per_environment.exchanges;
    out.ideal_shared = one_for_all.exchanges;
    (out, series)
}

/// The cache key of a user token and target, built as the interceptor builds it (the token's
/// bytes, then the target's fixed fields).
fn key(user: u32, session: u32, fields: &[u8]) -> CacheKey {
    let token = format!("user-{user}.session-{session}");
    KeyBuilder::new().field(token.as_bytes()).encoded(fields).finish()
}

/// Settings with another cache size (to show what a smaller cache loses).
pub fn with_size(settings: CacheSettings, entries: usize) -> CacheSettings {
    CacheSettings { max_entries: NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN), ..settings }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CacheSettings {
        default_settings().unwrap()
    }

    fn call(at_min: u64, user: u32, target: u8, environment: u8) -> Call {
        Call { at_ms: at_min * 60_000, user, target, environment }
    }

    #[test]
    fn defaults_are_the_interceptors() {
        let s = settings();
        assert_eq!((s.max_entries.get(), s.skew_ms), (10_000, 60_000));
    }

    #[test]
    fn bookkeeping_by_hand() {
        let w = Workload { users: 2, environments: 2, ..Workload::DAY };
        let calls = [
            call(0, 0, 0, 0),  // exchange (valid until 10 min: the max age)
            call(5, 0, 0, 0),  // hit
            call(5, 0, 0, 1),  // other environment: exchange (shared ideal: hit)
            call(6, 0, 3, 0),  // passthrough target: no exchange
            call(14, 0, 0, 0), // past the max age: exchange (valid until 24 min)
            call(59, 0, 0, 0), // past 24 min: exchange; the user's token expires at 60 min, so
            //                    this token would be served until 59 min: not cached at all
            call(59, 0, 0, 0), // exchange again
            call(61, 0, 0, 0), // new sign-in, new key: exchange
            call(62, 1, 1, 0), // other user: exchange
        ];
        let out = replay(&w, settings(), &calls);
        assert_eq!((out.calls, out.obo_calls, out.user_tokens), (9, 8, 3));
        assert_eq!(out.exchanges, 7);
        assert_eq!(out.ideal_per_environment, 7);
        assert_eq!(out.ideal_shared, 6);
        // The shared tier: the other environment's call at 5 min is served from the table.
        assert_eq!((out.tier.exchanges, out.tier.shared_hits, out.tier.local_hits), (6, 1, 1));
        assert_eq!((out.tier.reads, out.tier.writes, out.tier.lost_writes, out.tier.races), (7, 4, 0, 0));
        assert!((out.hit_rate() - 1.0 / 8.0).abs() < 1e-9);
    }

    #[test]
    fn a_cache_too_small_loses_against_the_ideal() {
        let w = Workload { users: 200, calls: 20_000, environments: 1, ..Workload::DAY };
        let calls = w.generate().unwrap();
        let full = replay(&w, settings(), &calls);
        assert_eq!(full.exchanges, full.ideal_per_environment);
        assert!(full.ideal_shared <= full.ideal_per_environment);
        let tiny = replay(&w, with_size(settings(), 20), &calls);
        assert!(tiny.exchanges > tiny.ideal_per_environment, "{tiny:?}");
        assert_eq!(tiny.ideal_per_environment, full.ideal_per_environment);
    }
}
