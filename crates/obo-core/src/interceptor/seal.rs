//! Sealing minted tokens for the shared cache tier ([`crate::shared_cache`]), so that an item is
//! useless to anyone who could not have minted the token in it.
//!
//! - **Finding an item** needs the interceptor's secret: the item key is
//!   `HMAC-SHA256(K_item, cache key)`, `K_item = HKDF-SHA256(secret, info = "…/v1 item key")`.
//!   A reader holding a stolen user token can compute the cache key but not the item key.
//! - **Opening an item** needs the secret *and* the user's token: AES-256-GCM under
//!   `HKDF-SHA256(salt = HKDF(secret, "…/v1 seal salt"), ikm = user token, info = "…/v1 seal key")`,
//!   with a random 96-bit nonce per item.
//! - **Nothing can be moved or stretched:** the associated data binds the format version, the
//!   (unkeyed) cache key, the item key and the item's clear TTL attribute; the plaintext carries
//!   the mint time, the token's expiry and the user token's expiry, from which the reader enforces
//!   every bound. A swapped, tampered or TTL-rewritten item fails to open.
//!
//! The `info` strings carry a version: a format change makes old items miss, as a secret rotation
//! does.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{hkdf, hmac};

use crate::interceptor::token_cache::CacheKey;
use crate::secret::Secret;

/// The format version, first byte of every sealed value and part of its associated data.
pub const VERSION: u8 = 1;

const INFO_ITEM: &[u8] = b"cognito-obo shared-cache v1 item key";
const INFO_SALT: &[u8] = b"cognito-obo shared-cache v1 seal salt";
const INFO_SEAL: &[u8] = b"cognito-obo shared-cache v1 seal key";
const AAD_LABEL: &[u8] = b"cognito-obo shared-cache v1";

/// The plaintext header: version, mint time, token expiry, user token expiry.
const HEADER: usize = 1 + 8 + 8 + 8;
/// Sealed value overhead: version byte, nonce, tag.
const OVERHEAD: usize = 1 + NONCE_LEN + 16;

/// 32 bytes of HKDF output.
struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// An item key: `HMAC-SHA256(K_item, cache key)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ItemKey([u8; 32]);

impl ItemKey {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemKey({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// What the seal holds besides the token (all in ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// When the token was minted.
    pub minted_at_ms: u64,
    /// The token's own expiry.
    pub expires_at_ms: u64,
    /// The user token's expiry.
    pub user_expires_at_ms: u64,
}

/// An opened item.
#[derive(Debug)]
pub struct Opened {
    /// The minted token.
    pub token: Secret,
    /// Its times, as sealed.
    pub times: Times,
}

/// Why an item did not open (never more detail: the cause is tampering, a swap, or a bug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shared cache item does not open under this key and context")]
pub struct Unopenable;

/// Keys derived from the interceptor's secret.
pub struct SealKeys {
    item: hmac::Key,
    salt: hkdf::Salt,
}

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKeys(<redacted>)")
    }
}

impl SealKeys {
    /// Derives the item and sealing keys from `secret`.
    pub fn derive(secret: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"").extract(secret);
        let item = hmac::Key::new(hmac::HMAC_SHA256, &expand(&prk, INFO_ITEM));
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, &expand(&prk, INFO_SALT));
        Self { item, salt }
    }

    /// The item key of `cache_key`.
    pub fn item_key(&self, cache_key: &CacheKey) -> ItemKey {
        let tag = hmac::sign(&self.item, cache_key.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        ItemKey(out)
    }

    fn aead(&self, user_token: &str) -> RandomizedNonceKey {
        let key = expand(&self.salt.extract(user_token.as_bytes()), INFO_SEAL);
        // 32 bytes is AES-256's key length: this cannot fail.
        RandomizedNonceKey::new(&AES_256_GCM, &key).expect("a 32-byte AES-256-GCM key")
    }

    /// Seals `token` for the user of `user_token`, bound to `cache_key`, `item` and `ttl_secs`:
    /// `version ‖ nonce ‖ AES-256-GCM(header ‖ token) ‖ tag`.
    pub fn seal(
        &self,
        user_token: &str,
        cache_key: &CacheKey,
        item: &ItemKey,
        ttl_secs: u64,
        times: Times,
        token: &str,
    ) -> Vec<u8> {
        let mut body = Vec::with_capacity(HEADER + token.len() + 16);
        body.push(VERSION);
        body.extend_from_slice(&times.minted_at_ms.to_be_bytes());
        body.extend_from_slice(&times.expires_at_ms.to_be_bytes());
        body.extend_from_slice(&times.user_expires_at_ms.to_be_bytes());
        body.extend_from_slice(token.as_bytes());
        let aad = aad(cache_key, item, ttl_secs);
        // Sealing fails only if the random generator does; then nothing is stored (empty value
        // never opens).
        let Ok(nonce) = self.aead(user_token).seal_in_place_append_tag(Aad::from(&aad[..]), &mut body) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        out
    }

    /// Opens a sealed value; fails unless every bound input is the one it was sealed with.
    pub fn open(
        &self,
        user_token: &str,
        cache_key: &CacheKey,
        item: &ItemKey,
        ttl_secs: u64,
        sealed: &[u8],
    ) -> Result<Opened, Unopenable> {
        if sealed.len() < OVERHEAD + HEADER || sealed[0] != VERSION {
            return Err(Unopenable);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| Unopenable)?;
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let aad = aad(cache_key, item, ttl_secs);
        let plain = self
            .aead(user_token)
            .open_in_place(nonce, Aad::from(&aad[..]), &mut body)
            .map_err(|_| Unopenable)?;
        if plain[0] != VERSION {
            return Err(Unopenable);
        }
        let u64_at = |i: usize| u64::from_be_bytes(plain[i..i + 8].try_into().unwrap_or_default());
        let times =
            Times { minted_at_ms: u64_at(1), expires_at_ms: u64_at(9), user_expires_at_ms: u64_at(17) };
        let token = std::str::from_utf8(&plain[HEADER..]).map_err(|_| Unopenable)?;
        Ok(Opened { token: Secret::new(token), times })
    }
}

fn expand(prk: &hkdf::Prk, info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 255 × 32 limit: neither step can fail.
    let info = [info];
    let okm = prk.expand(&info, Len32).expect("32 bytes of HKDF-SHA256 output");
    okm.fill(&mut out).expect("32 bytes of HKDF-SHA256 output");
    out
}

fn aad(cache_key: &CacheKey, item: &ItemKey, ttl_secs: u64) -> [u8; AAD_LABEL.len() + 1 + 32 + 32 + 8] {
    let mut out = [0u8; AAD_LABEL.len() + 1 + 32 + 32 + 8];
    let (label, rest) = out.split_at_mut(AAD_LABEL.len());
    label.copy_from_slice(AAD_LABEL);
    rest[0] = VERSION;
    rest[1..33].copy_from_slice(cache_key.as_bytes());
    rest[33..65].copy_from_slice(item.as_bytes());
    rest[65..73].copy_from_slice(&ttl_secs.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interceptor::token_cache::KeyBuilder;

    const TIMES: Times = Times { minted_at_ms: 1_000, expires_at_ms: 3_601_000, user_expires_at_ms: 901_000 };

    fn key(s: &str) -> CacheKey {
        KeyBuilder::new().field(s.as_bytes()).finish()
    }

    #[test]
    fn opens_only_with_the_same_secret_token_and_context() {
        let keys = SealKeys::derive(b"secret");
        let ck = key("user-a|crm");
        let item = keys.item_key(&ck);
        let sealed = keys.seal("user-a", &ck, &item, 900, TIMES, "minted.jwt.value");
        let opened = keys.open("user-a", &ck, &item, 900, &sealed).unwrap();
        assert_eq!(opened.token.expose(), "minted.jwt.value");
        assert_eq!(opened.times, TIMES);
        // Another user's token, another secret, another TTL, another cache key or item key.
        assert_eq!(keys.open("user-b", &ck, &item, 900, &sealed).unwrap_err(), Unopenable);
        let other = SealKeys::derive(b"other secret");
        assert!(other.open("user-a", &ck, &item, 900, &sealed).is_err());
        assert_ne!(other.item_key(&ck), item);
        assert!(keys.open("user-a", &ck, &item, 901, &sealed).is_err());
        let ck2 = key("user-a|hr");
        assert!(keys.open("user-a", &ck2, &item, 900, &sealed).is_err());
        assert!(keys.open("user-a", &ck, &keys.item_key(&ck2), 900, &sealed).is_err());
        // Any flipped bit, a truncation, a changed version.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(keys.open("user-a", &ck, &item, 900, &bad).is_err(), "byte {i}");
        }
        assert!(keys.open("user-a", &ck, &item, 900, &sealed[..sealed.len() - 1]).is_err());
        assert!(keys.open("user-a", &ck, &item, 900, &[]).is_err());
    }

    #[test]
    fn nonces_are_random_and_nothing_is_in_clear() {
        let keys = SealKeys::derive(b"secret");
        let ck = key("k");
        let item = keys.item_key(&ck);
        let a = keys.seal("u", &ck, &item, 1, TIMES, "the-minted-token");
        let b = keys.seal("u", &ck, &item, 1, TIMES, "the-minted-token");
        assert_ne!(a, b);
        assert!(!a.windows(6).any(|w| w == b"minted"));
        assert_eq!(a.len(), OVERHEAD + HEADER + "the-minted-token".len());
        assert!(!format!("{keys:?} {item:?}").contains(&format!("{:?}", item.0)));
    }
}
