//! The pre-token-generation trigger's logic: configuration, and what to answer for each event.
//!
//! - `TokenGeneration_ClientCredentials` from an allowed caller with `onBehalfOfToken`: verify
//!   the user's token, then add the mapped user and organization claims to the access token.
//!   Its scopes must all lie in one scope group (`OBO_SCOPE_GROUPS`; unset: exactly one scope),
//!   else `scope_not_allowed`: an on-behalf-of token is for one target.
//! - from an allowed caller without it: `subject_missing` (unless `OBO_REQUIRE_SUBJECT=false`).
//! - from any other caller with it: `caller_not_allowed`; without it: unchanged.
//! - every other trigger source is a user flow: never failed for metadata, `onBehalfOfToken`
//!   ignored, optional organization claims copied from the user's attributes.

pub mod claims;
pub mod event;
mod issuer_claims;
pub(crate) mod scope_groups;

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::SharedClock;
use crate::env::{ConfigError, Env, EnvSource};
use crate::http::{HttpClient, TlsRoots};
use crate::invocation::{InvocationContext, Reporter, Summary};
use crate::metrics::{FetchCounts, Function, Metrics, MetricsSettings, MetricsSink};
use crate::reason::{ReasonCode, Rejection};
use crate::subject::issuer::pool_in_issuer;
use crate::subject::jwks::{KeyStore, KeyStoreSettings};
use crate::subject::verify::{
    EventPool, IssuerPolicy, SubjectVerifier, TokenUse, VerifiedSubject, VerifierSettings,
};
use crate::trigger::claims::{ClaimMap, json_size};
use crate::trigger::event::{ON_BEHALF_OF_TOKEN, PreTokenEvent, PreTokenResponse, group_override_copy};
use crate::trigger::scope_groups::ScopeGroups;

/// Which Cognito user lookup the trigger makes, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserLookupSetting {
    /// No lookup (default).
    None,
    /// `AdminGetUser` on the subject's pool.
    AdminGetUser,
    /// `GetUser` with the subject token.
    GetUser,
}

/// Where the trigger looks users up (`OBO_USER_LOOKUP`): Cognito through the AWS SDK
/// (`crate::aws`), plugged in at construction.
pub(crate) trait UserDirectory: Send + Sync {
    /// The attributes (string values) of the user of `subject`, whose token is `token`; a
    /// rejection if the user is gone, disabled or no longer the token's, or the lookup failed.
    fn attributes<'a>(
        &'a self,
        subject: &'a VerifiedSubject,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Rejection>>;
}

/// The trigger's validated configuration.
#[derive(Debug, Clone)]
pub struct TriggerConfig {
    /// App clients allowed to act on behalf of users (`OBO_CALLER_CLIENT_IDS`).
    pub caller_client_ids: Vec<String>,
    /// Whether an allowed caller must present a subject token (`OBO_REQUIRE_SUBJECT`).
    pub require_subject: bool,
    /// How subject tokens are verified.
    pub verifier: VerifierSettings,
    /// JWKS cache limits.
    pub keys: KeyStoreSettings,
    /// Claims added to on-behalf-of tokens (`OBO_CLAIM_MAP`) for Cognito users.
    pub claim_map: ClaimMap,
    /// The same map for each issuer with a non-Cognito profile (its username, client and
    /// groups claims as defaults).
    pub issuer_claim_maps: Vec<(String, ClaimMap)>,
    /// Claims every on-behalf-of token must carry (`OBO_REQUIRED_CLAIMS`), else
    /// `subject_claim_missing`.
    pub required_claims: Vec<String>,
    /// Claims added to users' own access tokens (`OBO_USER_CLAIM_MAP`).
    pub user_claim_map: ClaimMap,
    /// Which scopes one on-behalf-of token may carry (`OBO_SCOPE_GROUPS`).
    pub scope_groups: ScopeGroups,
    /// Cap on the added claims' JSON size (`OBO_MAX_ADDED_CLAIMS_BYTES`).
    pub max_added_claims_bytes: usize,
    /// The user lookup (`OBO_USER_LOOKUP`).
    pub user_lookup: UserLookupSetting,
    /// CloudWatch metrics (`OBO_METRICS`, `OBO_METRICS_NAMESPACE`).
    pub metrics: MetricsSettings,
    /// Which certificate authorities outbound https trusts (`OBO_TLS_ROOTS`).
    pub tls_roots: TlsRoots,
}

impl TriggerConfig {
    /// Reads and validates the configuration; the error names the variable and the problem.
    pub fn from_env(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let env = Env::new(source);
        let caller_client_ids = env.list("OBO_CALLER_CLIENT_IDS")?;
        let verifier = VerifierSettings::from_env(&env)?;
        if !caller_client_ids.is_empty() && verifier.client_ids.is_empty() && verifier.uses_default_profile()
        {
            return Err(ConfigError::new(
                "OBO_SUBJECT_CLIENT_IDS",
                "is required when OBO_CALLER_CLIENT_IDS is set: name the app clients whose user tokens are accepted",
            ));
        }
        if let Some(shared) = caller_client_ids.iter().find(|c| verifier.client_ids.contains(c)) {
            return Err(ConfigError::new(
                "OBO_SUBJECT_CLIENT_IDS",
                format!(
                    "shares {shared:?} with OBO_CALLER_CLIENT_IDS: a machine client must not also be a user client"
                ),
            ));
        }
        let user_lookup =
            match env.choice("OBO_USER_LOOKUP", "none", &["none", "admin-get-user", "get-user"])? {
                "admin-get-user" => UserLookupSetting::AdminGetUser,
                "get-user" => UserLookupSetting::GetUser,
                _ => UserLookupSetting::None,
            };
        if user_lookup != UserLookupSetting::None {
            if !crate::sdk::AVAILABLE {
                return Err(ConfigError::new(
                    "OBO_USER_LOOKUP",
                    "this build has no user lookup: run the `pre-token-lookup` binary (cargo feature `aws`)",
                ));
            }
            if user_lookup == UserLookupSetting::GetUser && verifier.token_use == TokenUse::Id {
                return Err(ConfigError::new(
                    "OBO_USER_LOOKUP",
                    "get-user needs access tokens (OBO_SUBJECT_TOKEN_USE=access)",
                ));
            }
            let listed = match &verifier.issuers {
                IssuerPolicy::Listed(list) => list.as_slice(),
                IssuerPolicy::EventPool => &[],
            };
            if let Some(iss) = listed.iter().find(|i| pool_in_issuer(&i.issuer).is_none()) {
                return Err(ConfigError::new(
                    "OBO_USER_LOOKUP",
                    format!("needs Cognito issuers, but {:?} does not end in a pool id", iss.issuer),
                ));
            }
        }
        let claim_spec = env.string("OBO_CLAIM_MAP").unwrap_or_default();
        let claim_map = ClaimMap::obo(&claim_spec).map_err(|e| ConfigError::new("OBO_CLAIM_MAP", e))?;
        let (issuer_claim_maps, required_claims) =
            issuer_claims::claim_maps(&env, &verifier, &claim_spec, &claim_map)?;
        if claim_map.needs_user_attributes() && user_lookup == UserLookupSetting::None {
            return Err(ConfigError::new("OBO_CLAIM_MAP", "`@attribute` sources need OBO_USER_LOOKUP"));
        }
        let user_claim_map = ClaimMap::user(&env.string("OBO_USER_CLAIM_MAP").unwrap_or_default())
            .map_err(|e| ConfigError::new("OBO_USER_CLAIM_MAP", e))?;
        let scope_groups = ScopeGroups::parse(&env.string("OBO_SCOPE_GROUPS").unwrap_or_default())
            .map_err(|e| ConfigError::new("OBO_SCOPE_GROUPS", e))?;
        Ok(Self {
            require_subject: env.bool("OBO_REQUIRE_SUBJECT", true)?,
            verifier,
            keys: KeyStoreSettings::from_env(&env)?,
            claim_map,
            issuer_claim_maps,
            required_claims,
            user_claim_map,
            scope_groups,
            max_added_claims_bytes: env.number("OBO_MAX_ADDED_CLAIMS_BYTES", 2048, 256, 3072)?,
            user_lookup,
            caller_client_ids,
            metrics: MetricsSettings::from_env(&env)?,
            tls_roots: TlsRoots::from_env(&env)?,
        })
    }

    /// Whether on-behalf-of is enabled (some caller is allowed).
    pub fn obo_enabled(&self) -> bool {
        !self.caller_client_ids.is_empty()
    }
}

/// What the trigger did with an event, for the log line.
#[derive(Debug, Default)]
struct Outcome {
    action: &'static str,
    sub: Option<String>,
}

/// The trigger: configuration plus process-wide state (key cache, SDK client, metrics).
pub struct Trigger {
    config: TriggerConfig,
    verifier: SubjectVerifier,
    reporter: Reporter,
    lookup: Option<Box<dyn UserDirectory>>,
}

impl Trigger {
    /// Builds the trigger: HTTP client, key cache, and the SDK client when a lookup is configured.
    pub async fn new(config: TriggerConfig, clock: SharedClock) -> Result<Self, ConfigError> {
        let http = HttpClient::with_roots(config.keys.fetch_timeout, config.tls_roots)
            .map_err(|e| ConfigError::new("OBO_JWKS_TIMEOUT_MS", format!("HTTP client: {e}")))?;
        let keys = Arc::new(KeyStore::new(http, clock.clone(), config.keys.clone()));
        Ok(Self::with_key_store(config, keys, clock).await)
    }

    /// Builds the trigger around an existing key cache (tests, benches).
    pub async fn with_key_store(config: TriggerConfig, keys: Arc<KeyStore>, clock: SharedClock) -> Self {
        let lookup = crate::sdk::user_directory(config.user_lookup).await;
        let fetches: Arc<dyn FetchCounts> = keys.clone();
        let reporter =
            Reporter::new(Metrics::new(Function::PreToken, &config.metrics, clock.clone(), Some(fetches)));
        let verifier = SubjectVerifier::new(config.verifier.clone(), keys, clock);
        Self { config, verifier, reporter, lookup }
    }

    /// Warms the key cache for explicitly listed issuers; failures are logged, never fatal.
    pub async fn prefetch(&self) {
        if self.config.obo_enabled() {
            self.verifier.prefetch().await;
        }
    }

    /// Writes metric lines to `sink` instead of stdout (tests, local tools); `OBO_METRICS=off`
    /// still turns them off.
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.reporter = self.reporter.map_metrics(|metrics| metrics.with_sink(sink));
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &TriggerConfig {
        &self.config
    }

    /// Handles one raw event: the event with its `response` set, or a rejection (which the
    /// Lambda reports as a function error, failing the token request).
    pub async fn handle(&self, raw: Value) -> Result<PreTokenEvent, Rejection> {
        self.handle_invocation(raw, InvocationContext::default()).await
    }

    /// [`Self::handle`] for one Lambda invocation: its request id goes into both lines.
    pub async fn handle_invocation(
        &self,
        raw: Value,
        context: InvocationContext<'_>,
    ) -> Result<PreTokenEvent, Rejection> {
        let started = Instant::now();
        let mut event = match PreTokenEvent::deserialize(raw) {
            Ok(event) => event,
            Err(_) => {
                let rejection = Rejection::new(
                    ReasonCode::BadEvent,
                    "the event is not a Cognito pre-token-generation event",
                );
                let summary = Summary {
                    message: "pre-token trigger rejected the event",
                    outcome: "rejected",
                    rejection: Some(&rejection),
                    latency: started.elapsed(),
                    ..Summary::default()
                };
                self.reporter.report(&summary, context);
                return Err(rejection);
            }
        };
        let mut outcome = Outcome::default();
        let result = if event.trigger_source.is_empty() {
            Err(Rejection::new(ReasonCode::BadEvent, "the event has no triggerSource"))
        } else if event.is_client_credentials() {
            self.machine(&event, &mut outcome).await
        } else {
            Ok(self.user(&event, &mut outcome))
        };
        let mut summary = Summary {
            message: "pre-token trigger answered",
            outcome: outcome.action,
            trigger_source: Some(&event.trigger_source),
            caller: Some(&event.caller_context.client_id),
            sub: outcome.sub.as_deref(),
            latency: started.elapsed(),
            ..Summary::default()
        };
        if let Err(rejection) = &result {
            summary.message = "pre-token trigger rejected the request";
            summary.outcome = "rejected";
            summary.rejection = Some(rejection);
        }
        self.reporter.report(&summary, context);
        let response = result?;
        event.response = response;
        Ok(event)
    }

    async fn machine(
        &self,
        event: &PreTokenEvent,
        outcome: &mut Outcome,
    ) -> Result<PreTokenResponse, Rejection> {
        let caller = event.caller_context.client_id.as_str();
        if caller.is_empty() {
            return Err(Rejection::new(ReasonCode::BadEvent, "the event has no callerContext.clientId"));
        }
        let allowed = self.config.caller_client_ids.iter().any(|c| c == caller);
        let token = event.request.client_metadata.as_ref().and_then(|m| m.get(ON_BEHALF_OF_TOKEN));
        let token = match (allowed, token) {
            (false, None) => {
                outcome.action = "unchanged";
                return Ok(PreTokenResponse::default());
            }
            (false, Some(_)) => {
                return Err(Rejection::new(
                    ReasonCode::CallerNotAllowed,
                    "this app client may not act on behalf of users",
                ));
            }
            (true, None) if !self.config.require_subject => {
                outcome.action = "unchanged";
                return Ok(PreTokenResponse::default());
            }
            (true, None) => {
                return Err(Rejection::new(
                    ReasonCode::SubjectMissing,
                    "no onBehalfOfToken in the client metadata",
                ));
            }
            (true, Some(Value::String(t))) if t.trim().is_empty() => {
                return Err(Rejection::new(ReasonCode::SubjectMissing, "the onBehalfOfToken is empty"));
            }
            (true, Some(Value::String(t))) => t.as_str(),
            (true, Some(_)) => {
                return Err(Rejection::new(
                    ReasonCode::SubjectMalformed,
                    "the onBehalfOfToken is not a string",
                ));
            }
        };
        self.config.scope_groups.check(event.request.scopes.as_deref())?;
        let pool = EventPool { region: &event.region, user_pool_id: &event.user_pool_id };
        let subject = self.verifier.verify(token, Some(pool)).await?;
        outcome.sub = Some(subject.sub().to_owned());
        let attributes = self.user_attributes(&subject, token).await?;
        let map =
            issuer_claims::map_for(&self.config.issuer_claim_maps, &self.config.claim_map, subject.issuer());
        let claims = map.apply(&subject.claims, attributes.as_ref());
        issuer_claims::check_required(&self.config.required_claims, &claims)?;
        if json_size(&claims) > self.config.max_added_claims_bytes {
            return Err(Rejection::new(
                ReasonCode::ClaimsTooLarge,
                format!("the claims to add exceed {} bytes", self.config.max_added_claims_bytes),
            ));
        }
        outcome.action = "enriched";
        Ok(PreTokenResponse::add_access_claims(claims))
    }

    async fn user_attributes(
        &self,
        subject: &VerifiedSubject,
        token: &str,
    ) -> Result<Option<Map<String, Value>>, Rejection> {
        match (&self.lookup, self.config.user_lookup) {
            (Some(lookup), _) => lookup.attributes(subject, token).await.map(Some),
            (None, UserLookupSetting::None) => Ok(None),
            // Fail closed: a lookup is configured but this build cannot make it (its
            // configuration refuses `OBO_USER_LOOKUP`; only a hand-built config gets here).
            (None, _) => Err(Rejection::new(
                ReasonCode::Misconfigured,
                "OBO_USER_LOOKUP is set but this build has no AWS SDK (use pre-token-lookup)",
            )),
        }
    }

    fn user(&self, event: &PreTokenEvent, outcome: &mut Outcome) -> PreTokenResponse {
        outcome.sub = event.request.user_attributes.get("sub").and_then(Value::as_str).map(str::to_owned);
        if self.config.user_claim_map.is_empty() {
            outcome.action = "unchanged";
            return PreTokenResponse::default();
        }
        let claims = self.config.user_claim_map.apply(&Map::new(), Some(&event.request.user_attributes));
        if claims.is_empty() {
            outcome.action = "unchanged";
            return PreTokenResponse::default();
        }
        if json_size(&claims) > self.config.max_added_claims_bytes {
            // A user's sign-in is never failed for this: the claims are left out and logged.
            tracing::warn!(reason = ReasonCode::ClaimsTooLarge.as_str(), "user claims left out: too large");
            outcome.action = "unchanged";
            return PreTokenResponse::default();
        }
        outcome.action = "user_claims_added";
        let mut response = PreTokenResponse::add_access_claims(claims);
        // A changed token keeps the user's groups only if the response restates them.
        if let Some(details) = response.claims_and_scope_override_details.as_mut() {
            details.group_override_details = group_override_copy(event.request.group_configuration.as_ref());
        }
        response
    }
}
