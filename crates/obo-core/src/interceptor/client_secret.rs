//! The machine client's secret, from exactly one source:
//! - `OBO_CLIENT_SECRET_ARN`: Secrets Manager (the default in the template), fetched at cold
//!   start. The secret string is either the client secret itself or a JSON object with a
//!   `client_secret` member.
//! - `OBO_USER_POOL_ID`: `DescribeUserPoolClient` (nothing stored, but IAM cannot scope that
//!   call to one client: the role can read every client secret in the pool).
//! - `OBO_CLIENT_SECRET`: a literal, accepted only with a loopback token endpoint (local runs).
//!
//! The first two are read through the AWS SDK by a [`FetchSecret`] plugged in at construction
//! (`crate::aws`).
//!
//! When the identity provider answers `invalid_client`, the secret is fetched again once
//! (rotation), at most once per [`REFRESH_INTERVAL_MS`] for the whole process.

use std::sync::RwLock;

use futures_util::future::BoxFuture;

use crate::clock::SharedClock;
use crate::secret::Secret;

/// The minimum time between two refetches after `invalid_client`.
pub const REFRESH_INTERVAL_MS: u64 = 30_000;

/// Where the secret comes from (for configuration and messages; never holds a fetched value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Secrets Manager, by ARN.
    SecretsManager {
        /// The secret's ARN.
        arn: String,
    },
    /// `DescribeUserPoolClient` on this pool.
    UserPoolClient {
        /// The user pool id.
        user_pool_id: String,
    },
    /// A literal secret (loopback token endpoints only).
    Literal(Secret),
}

impl SecretSource {
    /// The configuration variable behind this source, for error messages.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::SecretsManager { .. } => "OBO_CLIENT_SECRET_ARN",
            Self::UserPoolClient { .. } => "OBO_USER_POOL_ID",
            Self::Literal(_) => "OBO_CLIENT_SECRET",
        }
    }
}

/// Something that can fetch the current secret again.
pub trait FetchSecret: Send + Sync {
    /// Fetches the secret. The error describes the failure without any secret value.
    fn fetch(&self) -> BoxFuture<'_, Result<Secret, String>>;
}

/// The current client secret, refetched once when the identity provider rejects it.
pub struct ClientSecret {
    current: RwLock<Secret>,
    fetcher: Option<Box<dyn FetchSecret>>,
    last_refresh_ms: tokio::sync::Mutex<Option<u64>>,
    clock: SharedClock,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret").field("refetchable", &self.fetcher.is_some()).finish_non_exhaustive()
    }
}

impl ClientSecret {
    /// A secret that is never refetched (a literal).
    pub fn fixed(secret: Secret, clock: SharedClock) -> Self {
        Self {
            current: RwLock::new(secret),
            fetcher: None,
            last_refresh_ms: tokio::sync::Mutex::new(None),
            clock,
        }
    }

    /// Fetches the secret now (cold start) and keeps `fetcher` for refetches.
    pub async fn fetched(fetcher: Box<dyn FetchSecret>, clock: SharedClock) -> Result<Self, String> {
        let secret = fetcher.fetch().await?;
        Ok(Self {
            current: RwLock::new(secret),
            fetcher: Some(fetcher),
            last_refresh_ms: tokio::sync::Mutex::new(None),
            clock,
        })
    }

    /// The secret in use.
    pub fn current(&self) -> Secret {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After the identity provider rejected `rejected`: a different secret to try, if one can be
    /// had (another caller already refreshed it, or a refetch now finds a new one).
    pub async fn refresh_after_rejection(&self, rejected: &Secret) -> Option<Secret> {
        let fetcher = self.fetcher.as_ref()?;
        let mut last = self.last_refresh_ms.lock().await;
        let current = self.current();
        if current != *rejected {
            return Some(current);
        }
        let now = self.clock.now_millis();
        if last.is_some_and(|at| now < at + REFRESH_INTERVAL_MS) {
            return None;
        }
        *last = Some(now);
        match fetcher.fetch().await {
            Ok(fresh) if fresh != *rejected && !fresh.is_empty() => {
                tracing::info!("client secret refetched after invalid_client");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                Some(fresh)
            }
            Ok(_) => {
                tracing::warn!("client secret refetched after invalid_client, but it is unchanged");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "client secret refetch failed");
                None
            }
        }
    }
}

/// Reads a Secrets Manager secret string: the whole string, or the `client_secret` member of a
/// JSON object.
pub fn secret_from_string(raw: &str) -> Result<Secret, String> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|_| "the secret looks like JSON but does not parse".to_owned())?;
        return match value.get("client_secret") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Secret::new(s.as_str())),
            _ => Err("the secret's JSON has no non-empty `client_secret` string".into()),
        };
    }
    if trimmed.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(Secret::new(trimmed))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::ManualClock;

    struct Rotating(Vec<&'static str>, AtomicUsize);

    impl FetchSecret for Rotating {
        fn fetch(&self) -> BoxFuture<'_, Result<Secret, String>> {
            let i = self.1.fetch_add(1, Ordering::SeqCst).min(self.0.len() - 1);
            let s = self.0[i];
            Box::pin(async move { Ok(Secret::new(s)) })
        }
    }

    #[tokio::test]
    async fn refetches_once_per_interval() {
        let clock = ManualClock::at_secs(100);
        let fetcher = Box::new(Rotating(vec!["old", "new", "newer"], AtomicUsize::new(0)));
        let s = ClientSecret::fetched(fetcher, clock.clone()).await.unwrap();
        assert_eq!(s.current().expose(), "old");
        assert_eq!(s.refresh_after_rejection(&Secret::new("old")).await.unwrap().expose(), "new");
        // Another caller still holding the old one gets the new one without a fetch.
        assert_eq!(s.refresh_after_rejection(&Secret::new("old")).await.unwrap().expose(), "new");
        // The new one rejected too: no refetch within the interval.
        assert!(s.refresh_after_rejection(&Secret::new("new")).await.is_none());
        clock.advance_millis(REFRESH_INTERVAL_MS);
        assert_eq!(s.refresh_after_rejection(&Secret::new("new")).await.unwrap().expose(), "newer");
        let fixed = ClientSecret::fixed(Secret::new("x"), clock);
        assert!(fixed.refresh_after_rejection(&Secret::new("x")).await.is_none());
        let _ = Arc::new(fixed);
    }

    #[test]
    fn secret_strings_are_raw_or_json() {
        assert_eq!(secret_from_string(" abc \n").unwrap().expose(), "abc");
        assert_eq!(secret_from_string(r#"{"client_secret":"s3"}"#).unwrap().expose(), "s3");
        assert!(secret_from_string(r#"{"other":"s3"}"#).is_err());
        assert!(secret_from_string("{not json").is_err());
        assert!(secret_from_string("  ").is_err());
    }
}
