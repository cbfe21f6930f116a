//! Acquiring tokens from the identity provider, with one retry policy for every transport:
//! - `oauth2` (default): `POST <token endpoint>`, HTTP Basic client authentication, form body
//!   ([`oauth2`]); also RFC 8693 token exchange;
//! - `sdk`: Cognito `GetClientToken` through the AWS SDK, for VPCs without internet access: a
//!   [`TokenTransport`] plugged in at construction (`crate::aws`, cargo feature `aws`).
//!
//! Time: each attempt gets its own deadline (default 6 s, longer than Cognito's 5 s trigger
//! limit) within a total budget (default 10 s). Connection errors, 5xx and 429 are retried at
//! most `max_retries` times with jittered exponential backoff (or `Retry-After`), within the
//! budget. A timed-out attempt is never retried (the abandoned request may still mint a token,
//! and Cognito bills it); a 400 is never retried. `invalid_client` refetches the secret once.

pub mod oauth2;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use crate::clock::SharedClock;
use crate::http::HttpClient;
use crate::interceptor::client_secret::ClientSecret;
use crate::reason::{ReasonCode, Rejection};
use crate::secret::Secret;
use crate::subject::jwt::unverified_claims;
use crate::subject::verify::numeric_date;

/// An attempt needs at least this much of the budget to be worth starting.
const MIN_ATTEMPT: Duration = Duration::from_millis(50);

/// Cap on a minted token's size, checked before decoding it.
const MAX_MINTED_BYTES: usize = 64 * 1024;

/// How tokens are requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `POST` to this token endpoint.
    OAuth2(url::Url),
    /// Cognito `GetClientToken` through the AWS SDK.
    Sdk,
}

/// Timeouts and retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Deadline of one attempt.
    pub attempt_timeout: Duration,
    /// Deadline of all attempts together, backoff included.
    pub total_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

/// What to ask for.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    /// `client_credentials` with scopes and `aws_client_metadata` entries.
    ClientCredentials {
        /// Scopes (never empty for on-behalf-of requests).
        scopes: &'a [String],
        /// Client metadata (string values).
        metadata: &'a [(&'a str, &'a str)],
    },
    /// RFC 8693 token exchange for an access token.
    TokenExchange {
        /// The user's access token.
        subject_token: &'a str,
        /// Scopes (may be empty).
        scopes: &'a [String],
        /// `audience`.
        audience: Option<&'a str>,
        /// `resource`.
        resource: Option<&'a str>,
        /// An access token of the acting client, for delegation (`act` claim).
        actor_token: Option<&'a str>,
    },
}

impl Grant<'_> {
    /// The log name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClientCredentials { .. } => "client_credentials",
            Self::TokenExchange { .. } => "token_exchange",
        }
    }
}

/// One token request as a transport sends it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The app client id.
    pub client_id: &'a str,
    /// Its secret.
    pub secret: &'a Secret,
    /// What to ask for.
    pub grant: Grant<'a>,
    /// Deadline of this attempt.
    pub deadline: Duration,
    /// Now (ms since the epoch), for the expiry of what is issued.
    pub now_ms: u64,
}

/// A way to request tokens besides `oauth2` (Cognito `GetClientToken` through the AWS SDK),
/// plugged in at construction. One call is one attempt: [`TokenClient`] retries.
pub trait TokenTransport: Send + Sync {
    /// Sends one request.
    fn attempt<'a>(&'a self, attempt: Attempt<'a>) -> BoxFuture<'a, Result<Issued, AttemptError>>;
}

/// A token the identity provider issued, with its (unverified) claims.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub token: Secret,
    /// When it expires (ms since the epoch): the earlier of `expires_in` and its `exp`.
    pub expires_at_ms: u64,
    /// Its payload, if it is a JWT (read, never trusted, only compared).
    pub claims: Option<Map<String, Value>>,
    /// How many attempts it took (1 without retries).
    pub attempts: u32,
}

/// Whether and how a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Never (400s, timeouts, bad answers).
    No,
    /// After the given delay, or the backoff when `None`.
    After(Option<Duration>),
    /// The client secret was rejected: refetch it once.
    InvalidClient,
}

/// One failed attempt.
#[derive(Debug)]
pub struct AttemptError {
    /// The rejection to report if no retry follows.
    pub rejection: Rejection,
    /// Whether to retry.
    pub retry: Retry,
    /// The HTTP status, when one was received.
    pub status: Option<u16>,
    /// How the attempt failed when no status came back (timeout, connect, other).
    pub no_answer: IdpStatus,
}

impl AttemptError {
    /// An error with no HTTP status.
    pub fn new(reason: ReasonCode, message: impl Into<String>, retry: Retry) -> Self {
        Self { rejection: Rejection::new(reason, message), retry, status: None, no_answer: IdpStatus::Error }
    }

    /// The attempt timed out: never retried.
    pub fn timeout() -> Self {
        let mut err =
            Self::new(ReasonCode::IdpUnavailable, "the identity provider did not answer in time", Retry::No);
        err.no_answer = IdpStatus::Timeout;
        err
    }

    /// No connection could be made, or it broke: retried.
    pub fn unreachable(message: impl Into<String>) -> Self {
        let mut err = Self::new(ReasonCode::IdpUnavailable, message, Retry::After(None));
        err.no_answer = IdpStatus::Connect;
        err
    }

    /// The class of the answer, for metrics: the HTTP status, or how the attempt failed.
    /// Throttling is `429` on both transports (Cognito's API throttles with HTTP 400 and
    /// `TooManyRequestsException`).
    pub fn idp_status(&self) -> IdpStatus {
        if self.rejection.reason == ReasonCode::IdpThrottled {
            return IdpStatus::Throttled;
        }
        self.status.map_or(self.no_answer, IdpStatus::from_http)
    }
}

/// The identity provider's answer to one token request, as a status class (the `IdpStatus`
/// dimension): the HTTP status of the token endpoint or of Cognito's API, or how the attempt
/// failed without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum IdpStatus {
    /// 2xx.
    Success,
    /// 3xx (never followed: a misconfigured endpoint).
    Redirect,
    /// 400 (OAuth errors; a refusing pre-token trigger).
    BadRequest,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 429 (throttled).
    Throttled,
    /// Any other 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No answer within the attempt's deadline.
    Timeout,
    /// No connection (DNS, TCP, TLS) or the connection broke.
    Connect,
    /// Anything else (an answer too large to read, a local failure).
    Error,
}

impl IdpStatus {
    /// Every class, in `repr` order.
    pub const ALL: [IdpStatus; 11] = [
        Self::Success,
        Self::Redirect,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::Throttled,
        Self::ClientError,
        Self::ServerError,
        Self::Timeout,
        Self::Connect,
        Self::Error,
    ];

    /// The class of an HTTP status.
    pub const fn from_http(status: u16) -> Self {
        match status {
            200..=299 => Self::Success,
            300..=399 => Self::Redirect,
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            429 => Self::Throttled,
            402..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            _ => Self::Error,
        }
    }

    /// The dimension value: `2xx`, `3xx`, `400`, `401`, `403`, `429`, `4xx`, `5xx`, `timeout`,
    /// `connect` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "2xx",
            Self::Redirect => "3xx",
            Self::BadRequest => "400",
            Self::Unauthorized => "401",
            Self::Forbidden => "403",
            Self::Throttled => "429",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Error => "error",
        }
    }
}

/// One token acquisition as the identity provider saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdpReport {
    /// The class of the last attempt's answer (the one that decided the outcome).
    pub status: IdpStatus,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// From the first attempt to the result, retries and backoff included.
    pub latency: Duration,
}

/// What the identity provider answered while one token was acquired, noted attempt by attempt
/// (for logs and metrics). Atomics, so that a future holding a reference to it stays `Send`.
#[derive(Debug, Default)]
pub struct IdpCalls {
    attempts: AtomicU32,
    last: AtomicU8,
    elapsed_us: AtomicU64,
}

impl IdpCalls {
    fn note(&self, status: IdpStatus) {
        self.last.store(status as u8, Ordering::Relaxed);
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// The attempts made, the last answer and the time taken; `None` if no attempt was made.
    pub fn report(&self) -> Option<IdpReport> {
        let attempts = self.attempts.load(Ordering::Relaxed);
        let status = IdpStatus::ALL.get(usize::from(self.last.load(Ordering::Relaxed)));
        Some(IdpReport {
            status: *status.filter(|_| attempts > 0)?,
            attempts,
            latency: Duration::from_micros(self.elapsed_us.load(Ordering::Relaxed)),
        })
    }
}

/// A machine client that acquires tokens: its id, its secret, the transport and the policy.
pub struct TokenClient {
    client_id: String,
    secret: Arc<ClientSecret>,
    transport: Transport,
    policy: RetryPolicy,
    http: HttpClient,
    sdk: Option<Arc<dyn TokenTransport>>,
    clock: SharedClock,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient")
            .field("client_id", &self.client_id)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// An `oauth2` client, or an `sdk` client whose transport is added with
    /// [`TokenClient::with_sdk`].
    pub fn new(
        client_id: String,
        secret: Arc<ClientSecret>,
        transport: Transport,
        policy: RetryPolicy,
        http: HttpClient,
        clock: SharedClock,
    ) -> Self {
        Self { client_id, secret, transport, policy, http, sdk: None, clock }
    }

    /// Sets the transport used by [`Transport::Sdk`].
    pub fn with_sdk(mut self, transport: Arc<dyn TokenTransport>) -> Self {
        self.sdk = Some(transport);
        self
    }

    /// The app client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Requests a token, retrying within the policy.
    pub async fn acquire(&self, grant: Grant<'_>) -> Result<Issued, Rejection> {
        self.acquire_noting(grant, &IdpCalls::default()).await
    }

    /// [`TokenClient::acquire`], noting each attempt's answer and the time taken in `calls`.
    pub async fn acquire_noting(&self, grant: Grant<'_>, calls: &IdpCalls) -> Result<Issued, Rejection> {
        let started = Instant::now();
        let result = self.attempts(grant, calls, started).await;
        let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        calls.elapsed_us.store(elapsed_us, Ordering::Relaxed);
        result
    }

    async fn attempts(
        &self,
        grant: Grant<'_>,
        calls: &IdpCalls,
        started: Instant,
    ) -> Result<Issued, Rejection> {
        let deadline = started + self.policy.total_timeout;
        let mut secret = self.secret.current();
        let mut refetched = false;
        let mut retries = 0;
        let mut attempts = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let per_attempt = self.policy.attempt_timeout.min(remaining);
            attempts += 1;
            let attempt_started = Instant::now();
            let now_ms = self.clock.now_millis();
            let attempt =
                Attempt { client_id: &self.client_id, secret: &secret, grant, deadline: per_attempt, now_ms };
            let result = self.attempt(attempt).await;
            // `latency_us` as in every other line; the WARN line keeps its `latency_ms` too
            // (documented before; docs/operations.md).
            let latency_us = attempt_started.elapsed().as_micros() as u64;
            calls.note(result.as_ref().map_or_else(AttemptError::idp_status, |_| IdpStatus::Success));
            let err = match result {
                Ok(mut issued) => {
                    tracing::debug!(grant = grant.name(), attempts, latency_us, "token issued");
                    issued.attempts = attempts;
                    return Ok(issued);
                }
                Err(err) => err,
            };
            tracing::warn!(
                grant = grant.name(),
                attempt = attempts,
                idp_status = err.status,
                reason = err.rejection.reason.as_str(),
                latency_us,
                latency_ms = latency_us / 1000,
                "token request failed"
            );
            let left = deadline.saturating_duration_since(Instant::now());
            match err.retry {
                Retry::InvalidClient if !refetched => {
                    refetched = true;
                    match self.secret.refresh_after_rejection(&secret).await {
                        Some(fresh) if left > MIN_ATTEMPT => secret = fresh,
                        _ => return Err(err.rejection),
                    }
                }
                Retry::After(after) if retries < self.policy.max_retries => {
                    let delay = after.unwrap_or_else(|| backoff(retries));
                    if delay + MIN_ATTEMPT > left {
                        return Err(err.rejection);
                    }
                    retries += 1;
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(err.rejection),
            }
        }
    }

    async fn attempt(&self, attempt: Attempt<'_>) -> Result<Issued, AttemptError> {
        match (&self.transport, &self.sdk) {
            (Transport::OAuth2(url), _) => oauth2::attempt(&self.http, url, attempt).await,
            (Transport::Sdk, Some(sdk)) => sdk.attempt(attempt).await,
            (Transport::Sdk, None) => {
                Err(AttemptError::new(ReasonCode::Misconfigured, "no SDK client", Retry::No))
            }
        }
    }
}

/// Exponential backoff (100 ms, 200 ms, 400 ms, …) with jitter: a random point in the upper half.
pub fn backoff(retry: u32) -> Duration {
    let base_ms = 100u64 << retry.min(6);
    let mut byte = [0u8; 1];
    let _ = aws_lc_rs::rand::fill(&mut byte);
    Duration::from_millis(base_ms / 2 + base_ms / 2 * u64::from(byte[0]) / 255)
}

/// Builds an [`Issued`] from an access token and its `expires_in`: the expiry is the earlier
/// of `now + expires_in` and the token's own `exp`; a token with neither is refused.
pub fn issued(token: String, expires_in: Option<u64>, now_ms: u64) -> Result<Issued, AttemptError> {
    if token.is_empty() {
        return Err(AttemptError::new(
            ReasonCode::IdpUnavailable,
            "the identity provider sent no token",
            Retry::No,
        ));
    }
    let claims = unverified_claims(&token, MAX_MINTED_BYTES).ok();
    let exp_ms =
        claims.as_ref().and_then(|c| c.get("exp")).and_then(numeric_date).map(|s| s.saturating_mul(1000));
    let in_ms = expires_in.map(|s| now_ms.saturating_add(s.saturating_mul(1000)));
    let expires_at_ms = match (exp_ms, in_ms) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => {
            return Err(AttemptError::new(
                ReasonCode::IdpUnavailable,
                "the identity provider sent a token without an expiry",
                Retry::No,
            ));
        }
    };
    Ok(Issued { token: Secret::new(token), expires_at_ms, claims, attempts: 1 })
}

/// The reason code a failing pre-token trigger put in an error description
/// (`… failed with error <code>: <message>`): `Some(code)` when the pattern is there
/// (`obo_denied` for a code this build does not know), `None` otherwise.
pub fn trigger_reason(description: &str) -> Option<ReasonCode> {
    let (_, rest) = description.split_once("failed with error ")?;
    let code: &str = rest.split(|c: char| !(c.is_ascii_lowercase() || c == '_')).next().unwrap_or_default();
    Some(ReasonCode::from_code(code).unwrap_or(ReasonCode::OboDenied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_fall_into_their_classes() {
        let cases = [(200, "2xx"), (204, "2xx"), (302, "3xx"), (400, "400"), (401, "401"), (403, "403")];
        let more = [(404, "4xx"), (429, "429"), (500, "5xx"), (503, "5xx"), (99, "error")];
        for (status, class) in cases.into_iter().chain(more) {
            assert_eq!(IdpStatus::from_http(status).as_str(), class, "{status}");
        }
        for (i, s) in IdpStatus::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
    }

    #[test]
    fn trigger_codes_are_read_from_descriptions() {
        let d = "PreTokenGenerationV3_0 failed with error subject_expired: the token has expired.";
        assert_eq!(trigger_reason(d), Some(ReasonCode::SubjectExpired));
        let d = "PreTokenGenerationV3_0 failed with error caller_not_allowed.";
        assert_eq!(trigger_reason(d), Some(ReasonCode::CallerNotAllowed));
        assert_eq!(
            trigger_reason("PreTokenGenerationV3_0 failed with error Boom: x"),
            Some(ReasonCode::OboDenied)
        );
        assert_eq!(trigger_reason("invalid scope"), None);
    }

    #[test]
    fn backoff_grows_with_jitter() {
        for retry in 0..3 {
            let d = backoff(retry).as_millis() as u64;
            let base = 100 << retry;
            assert!(d >= base / 2 && d <= base, "{retry}: {d}");
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_expires_in_and_exp() {
        let t = crate::subject::jwt::b64url(r#"{"alg":"RS256"}"#)
            + "."
            + &crate::subject::jwt::b64url(r#"{"exp":2000}"#)
            + ".c2ln";
        let i = issued(t.clone(), Some(3600), 1_000_000).unwrap();
        assert_eq!(i.expires_at_ms, 2_000_000);
        let i = issued(t, Some(60), 1_000_000).unwrap();
        assert_eq!(i.expires_at_ms, 1_060_000);
        let i = issued("opaque".into(), Some(60), 1_000_000).unwrap();
        assert!(i.claims.is_none());
        assert!(issued("opaque".into(), None, 0).is_err());
        assert!(issued(String::new(), Some(1), 0).is_err());
    }
}
