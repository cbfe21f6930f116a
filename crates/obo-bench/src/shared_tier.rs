//! The shared cache tier (`OBO_SHARED_CACHE`, docs/shared-cache.md) in the day simulation: one
//! table behind the per-environment caches, with the window between a lookup, a mint and the put
//! modelled.
//!
//! An environment that misses locally at `t` reads the table (it sees puts that completed by
//! `t`); on a miss it mints, and its conditional put lands at `t + get + mint + put`. Environments
//! that miss the same key inside that window each mint (a race); the first put wins, a later one
//! fails its condition (and is still billed), and its environment keeps its own token. Items are
//! served by the same rules as the interceptor's: until `min(token expiry, user token expiry) −
//! skew`, at most the max age after their mint time.

use std::collections::HashMap;

use obo_core::interceptor::token_cache::{CacheKey, CacheSettings};
use serde::Serialize;

/// Timings and sizes of the tier, in the simulation's terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TierModel {
    /// A `GetItem` round trip, ms (in-region DynamoDB: single-digit milliseconds).
    pub get_ms: u64,
    /// A token request to Cognito (with the trigger), ms.
    pub mint_ms: u64,
    /// A `PutItem` round trip, ms.
    pub put_ms: u64,
    /// The stored item's size, bytes (key, sealed token, TTL): write units are per KB.
    pub item_bytes: u64,
}

impl TierModel {
    /// 10 ms per table call (the top of DynamoDB's "single-digit millisecond" range), 300 ms per
    /// Cognito token request (a cautious guess for a round trip through the trigger: a longer
    /// window only means more races), a 1.2 KB access token sealed into a ~1.35 KB item.
    pub const DEFAULT: Self = Self { get_ms: 10, mint_ms: 300, put_ms: 10, item_bytes: 1_350 };

    /// From a local miss to the put landing.
    pub fn window_ms(&self) -> u64 {
        self.get_ms + self.mint_ms + self.put_ms
    }

    /// Write request units per `PutItem`.
    pub fn write_units(&self) -> u64 {
        self.item_bytes.div_ceil(1024).max(1)
    }
}

/// What the tier did over the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TierCounts {
    /// Token requests (local miss, then table miss).
    pub exchanges: u64,
    /// Calls served by the environment's own cache.
    pub local_hits: u64,
    /// Calls served from the table.
    pub shared_hits: u64,
    /// `GetItem` calls (one per local miss).
    pub reads: u64,
    /// `PutItem` calls that stored their item.
    pub writes: u64,
    /// `PutItem` calls that lost the race (billed all the same).
    pub lost_writes: u64,
    /// Token requests made while another environment's token for the same key was on its way.
    pub races: u64,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    /// When the put landed.
    visible_from_ms: u64,
    /// When it stops being served.
    valid_until_ms: u64,
    /// When it was minted.
    minted_at_ms: u64,
    /// The token's own expiry.
    expires_at_ms: u64,
}

/// The table: one item per key.
#[derive(Debug, Default)]
pub struct Table {
    items: HashMap<CacheKey, Item>,
}

/// A token found in the table: its mint time and own expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// When it was minted.
    pub minted_at_ms: u64,
    /// Its expiry, capped so that a local cache keeps it no longer than its mint time allows.
    pub expires_at_ms: u64,
}

impl Table {
    /// A live item for `key` at `now`, as a lookup then sees it.
    pub fn get(&self, key: &CacheKey, now: u64, settings: &CacheSettings) -> Option<Found> {
        let item = self.items.get(key).filter(|i| i.visible_from_ms <= now && now < i.valid_until_ms)?;
        let cap = item.minted_at_ms + settings.max_age_ms + settings.skew_ms;
        Some(Found { minted_at_ms: item.minted_at_ms, expires_at_ms: item.expires_at_ms.min(cap) })
    }

    /// Whether a put for `key` is in flight or landed and live at `now` (a miss then races).
    pub fn pending(&self, key: &CacheKey, now: u64) -> bool {
        self.items.get(key).is_some_and(|i| i.visible_from_ms > now && now < i.valid_until_ms)
    }

    /// The conditional put of a token minted at `minted_at_ms`, landing at `lands_at_ms`: stored
    /// unless a live item is there by then (first writer wins). Whether it was stored.
    pub fn put(
        &mut self,
        key: CacheKey,
        lands_at_ms: u64,
        minted_at_ms: u64,
        expires_at_ms: u64,
        valid_until_ms: u64,
    ) -> bool {
        if let Some(there) = self.items.get(&key)
            && there.visible_from_ms <= lands_at_ms
            && lands_at_ms < there.valid_until_ms
        {
            return false;
        }
        let item = Item { visible_from_ms: lands_at_ms, valid_until_ms, minted_at_ms, expires_at_ms };
        self.items.insert(key, item);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use obo_core::interceptor::token_cache::KeyBuilder;

    use super::*;

    #[test]
    fn first_writer_wins_and_only_landed_items_are_seen() {
        let settings = CacheSettings {
            max_entries: NonZeroUsize::new(10).unwrap(),
            skew_ms: 60_000,
            max_age_ms: 600_000,
            failure_ttl_ms: 0,
        };
        let key = KeyBuilder::new().field(b"k").finish();
        let mut table = Table::default();
        assert!(table.put(key, 1_000, 700, 900_000, 600_700));
        assert_eq!(table.get(&key, 999, &settings), None, "not landed yet");
        assert!(table.pending(&key, 999));
        let found = table.get(&key, 1_000, &settings).unwrap();
        assert_eq!(found, Found { minted_at_ms: 700, expires_at_ms: 660_700 });
        assert!(!table.put(key, 1_200, 900, 900_000, 600_900), "a later writer loses");
        assert_eq!(table.get(&key, 600_700, &settings), None, "expired");
        assert!(table.put(key, 600_800, 600_500, 1_500_000, 1_200_500), "an expired item is replaced");
        assert_eq!(TierModel::DEFAULT.write_units(), 2);
        assert_eq!(TierModel::DEFAULT.window_ms(), 320);
    }
}
