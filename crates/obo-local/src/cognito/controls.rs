//! What tests and the demo can see and steer on the emulator: request counters, a log of what
//! happened (never a token, secret or metadata value), and fault injection.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

/// Requests received, per kind. Every request counts, including refused and fault-injected ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `POST /oauth2/token` with `grant_type=client_credentials`.
    pub client_credentials: u64,
    /// `GetClientToken` API calls.
    pub get_client_token: u64,
    /// `POST /oauth2/token` with the token-exchange grant.
    pub token_exchange: u64,
    /// `InitiateAuth` API calls.
    pub initiate_auth: u64,
    /// Access tokens issued (any path, direct mints excluded).
    pub tokens_issued: u64,
}

impl RequestCounts {
    /// Machine-token requests by either path (`/oauth2/token` client_credentials and `GetClientToken`).
    pub fn m2m_requests(&self) -> u64 {
        self.client_credentials + self.get_client_token
    }
}

/// Totals, and the same counts per app client id (as the request named it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// All clients together.
    pub total: RequestCounts,
    /// Per client id.
    pub per_client: BTreeMap<String, RequestCounts>,
}

impl Counters {
    /// The counts of one client (zero if it never asked).
    pub fn client(&self, client_id: &str) -> RequestCounts {
        self.per_client.get(client_id).copied().unwrap_or_default()
    }
}

/// The operation an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /oauth2/token`, client_credentials.
    ClientCredentials,
    /// `POST /oauth2/token`, RFC 8693 token exchange.
    TokenExchange,
    /// `GetClientToken`.
    GetClientToken,
    /// `InitiateAuth` (`USER_PASSWORD_AUTH`).
    InitiateAuth,
    /// `GetUser`.
    GetUser,
    /// `AdminGetUser`.
    AdminGetUser,
    /// `DescribeUserPoolClient`.
    DescribeUserPoolClient,
    /// `GlobalSignOut`, `AdminUserGlobalSignOut` or the handle's `sign_out`.
    SignOut,
    /// A token minted directly through the handle (negative tests).
    Mint,
}

impl Operation {
    /// A short name for transcripts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::TokenExchange => "token_exchange",
            Self::GetClientToken => "GetClientToken",
            Self::InitiateAuth => "InitiateAuth",
            Self::GetUser => "GetUser",
            Self::AdminGetUser => "AdminGetUser",
            Self::DescribeUserPoolClient => "DescribeUserPoolClient",
            Self::SignOut => "SignOut",
            Self::Mint => "mint",
        }
    }
}

/// What the pre-token trigger did for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerOutcome {
    /// Not invoked (no trigger set, an operation that does not run it, or refused earlier).
    NotRun,
    /// Answered; its changes were applied.
    Answered {
        /// Invocation time.
        duration: Duration,
    },
    /// Failed (function error, timeout, crash, or an answer Cognito refuses); the request failed.
    Failed {
        /// Cognito's description of the failure.
        message: String,
        /// Invocation time.
        duration: Duration,
    },
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum EventOutcome {
    /// Tokens were issued; these are the access token's claims (never the token itself).
    Issued {
        /// The access token's claims.
        claims: Map<String, Value>,
    },
    /// Answered without issuing a token (lookups, sign-out).
    Answered,
    /// Refused; the error as the caller saw it.
    Refused {
        /// The error code and message.
        error: String,
    },
}

/// One request, for the demo transcript and for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEvent {
    /// Position in the log, from 0.
    pub seq: usize,
    /// The operation.
    pub operation: Operation,
    /// The app client, as the request named it.
    pub client_id: Option<String>,
    /// The user, when one is involved.
    pub username: Option<String>,
    /// Scopes asked for (or granted, once known).
    pub scopes: Vec<String>,
    /// The names of the client metadata keys (never their values: one may be a user token).
    pub metadata_keys: Vec<String>,
    /// The trigger's part.
    pub trigger: TriggerOutcome,
    /// The outcome.
    pub outcome: EventOutcome,
    /// Time spent answering.
    pub duration: Duration,
}

impl PoolEvent {
    pub(crate) fn new(operation: Operation, client_id: Option<&str>) -> Self {
        Self {
            seq: 0,
            operation,
            client_id: client_id.map(str::to_owned),
            username: None,
            scopes: Vec::new(),
            metadata_keys: Vec::new(),
            trigger: TriggerOutcome::NotRun,
            outcome: EventOutcome::Answered,
            duration: Duration::ZERO,
        }
    }
}

impl fmt::Display for PoolEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation.as_str())?;
        if let Some(client) = &self.client_id {
            write!(f, " client={client}")?;
        }
        if let Some(user) = &self.username {
            write!(f, " user={user}")?;
        }
        if !self.scopes.is_empty() {
            write!(f, " scope={}", self.scopes.join(" "))?;
        }
        if !self.metadata_keys.is_empty() {
            write!(f, " metadata=[{}]", self.metadata_keys.join(","))?;
        }
        match &self.trigger {
            TriggerOutcome::NotRun => {}
            TriggerOutcome::Answered { duration } => {
                write!(f, " | trigger ok in {}ms", duration.as_millis())?
            }
            TriggerOutcome::Failed { message, duration } => {
                write!(f, " | trigger failed in {}ms: {message}", duration.as_millis())?
            }
        }
        match &self.outcome {
            EventOutcome::Issued { claims } => {
                let shown: Vec<String> = claims
                    .iter()
                    .filter(|(k, _)| k.starts_with("obo_") || matches!(k.as_str(), "sub" | "org_id" | "act"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                write!(f, " | issued {{{}}}", shown.join(", "))?;
            }
            EventOutcome::Answered => write!(f, " | ok")?,
            EventOutcome::Refused { error } => write!(f, " | refused: {error}")?,
        }
        write!(f, " ({}ms)", self.duration.as_millis())
    }
}

/// How a failing trigger is reported on `/oauth2/token` (Cognito does not document it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TriggerErrorForm {
    /// HTTP 400 `{"error":"invalid_request","error_description":"PreTokenGenerationV3_0 failed
    /// with error <errorMessage>."}` (the default).
    #[default]
    Described,
    /// HTTP 400 `{"error":"invalid_request"}` only.
    Bare,
}

#[derive(Default)]
struct Faults {
    jwks_down: bool,
    /// HTTP status and how many more token requests get it.
    token_failures: Option<(u16, u32)>,
    error_form: TriggerErrorForm,
    /// Leave `request.scopes` out of client_credentials trigger events (as some AWS samples do).
    omit_trigger_scopes: bool,
}

/// The emulator's counters, event log and faults.
#[derive(Default)]
pub(crate) struct Controls {
    counters: Mutex<Counters>,
    events: Mutex<Vec<PoolEvent>>,
    faults: Mutex<Faults>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Controls {
    pub(crate) fn count(&self, client_id: Option<&str>, update: impl Fn(&mut RequestCounts)) {
        let mut counters = lock(&self.counters);
        update(&mut counters.total);
        if let Some(client) = client_id {
            update(counters.per_client.entry(client.to_owned()).or_default());
        }
    }

    pub(crate) fn counters(&self) -> Counters {
        lock(&self.counters).clone()
    }

    pub(crate) fn record(&self, mut event: PoolEvent) {
        tracing::info!(target: "obo_local::cognito", "{event}");
        let mut events = lock(&self.events);
        event.seq = events.len();
        events.push(event);
    }

    pub(crate) fn events_since(&self, from: usize) -> Vec<PoolEvent> {
        lock(&self.events).iter().skip(from).cloned().collect()
    }

    pub(crate) fn event_count(&self) -> usize {
        lock(&self.events).len()
    }

    pub(crate) fn set_jwks_down(&self, down: bool) {
        lock(&self.faults).jwks_down = down;
    }

    pub(crate) fn jwks_down(&self) -> bool {
        lock(&self.faults).jwks_down
    }

    pub(crate) fn fail_token_requests(&self, status: u16, count: u32) {
        lock(&self.faults).token_failures = (count > 0).then_some((status, count));
    }

    /// The injected status for this token request, if one is pending (and uses it up).
    pub(crate) fn take_token_failure(&self) -> Option<u16> {
        let mut faults = lock(&self.faults);
        let (status, left) = faults.token_failures?;
        faults.token_failures = (left > 1).then_some((status, left - 1));
        Some(status)
    }

    pub(crate) fn set_error_form(&self, form: TriggerErrorForm) {
        lock(&self.faults).error_form = form;
    }

    pub(crate) fn error_form(&self) -> TriggerErrorForm {
        lock(&self.faults).error_form
    }

    pub(crate) fn set_omit_trigger_scopes(&self, omit: bool) {
        lock(&self.faults).omit_trigger_scopes = omit;
    }

    pub(crate) fn omit_trigger_scopes(&self) -> bool {
        lock(&self.faults).omit_trigger_scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_failures_are_used_up() {
        let c = Controls::default();
        c.fail_token_requests(429, 2);
        assert_eq!(c.take_token_failure(), Some(429));
        assert_eq!(c.take_token_failure(), Some(429));
        assert_eq!(c.take_token_failure(), None);
    }

    #[test]
    fn counts_per_client_and_in_total() {
        let c = Controls::default();
        c.count(Some("a"), |n| n.client_credentials += 1);
        c.count(Some("b"), |n| n.get_client_token += 1);
        c.count(None, |n| n.client_credentials += 1);
        let counters = c.counters();
        assert_eq!(counters.total.m2m_requests(), 3);
        assert_eq!(counters.client("a").client_credentials, 1);
        assert_eq!(counters.client("zzz"), RequestCounts::default());
    }
}
