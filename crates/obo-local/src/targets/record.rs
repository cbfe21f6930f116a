//! What a target received: every `Authorization` value, in arrival order, so a test can prove
//! that no user token ever reached a target.

use std::sync::{Arc, Mutex};

/// The `Authorization` values one target has received. Cheap to clone (shared). Its `Debug`
/// shows only the count: the values are tokens.
#[derive(Clone, Default)]
pub struct AuthorizationLog {
    values: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for AuthorizationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationLog").field("len", &self.len()).finish()
    }
}

impl AuthorizationLog {
    /// Records one header value exactly as received (non-UTF-8 bytes replaced).
    pub fn record(&self, value: &[u8]) {
        let value = String::from_utf8_lossy(value).into_owned();
        self.values.lock().unwrap_or_else(|e| e.into_inner()).push(value);
    }

    /// Every value received so far, oldest first.
    pub fn values(&self) -> Vec<String> {
        self.values.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many values were received.
    pub fn len(&self) -> usize {
        self.values.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any received value contains `needle` (a token, or a token's signature part).
    pub fn any_contains(&self, needle: &str) -> bool {
        !needle.is_empty()
            && self.values.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|v| v.contains(needle))
    }
}
