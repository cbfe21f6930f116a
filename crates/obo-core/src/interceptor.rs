//! The AgentCore Gateway REQUEST interceptor: for each request, find the target, apply its
//! policy, and for on-behalf-of targets replace the caller's credentials with a token minted for
//! that target which carries the user (cached per execution environment).
//!
//! Every failure becomes a short-circuit answer with a reason code; nothing here panics on input,
//! and the user's own token never appears in the output or in a log line. Which target a request
//! is for is decided by [`crate::interceptor::route`]; a request whose target is unknown never gets a token.
//! The same function can serve as RESPONSE interceptor: it then evicts a cached token a target
//! answered 401 to (best-effort, MCP only, when the event carries the request), removes every
//! minted token from the response (outcome `scrubbed`, see [`scrub`]) and leaves the rest as it is.

pub mod client_secret;
mod config;
pub(crate) mod mint;
pub(crate) mod payload;
pub(crate) mod route;
mod scrub;
pub mod seal;
pub mod shared_cache;
pub mod targets;
pub mod token_cache;
pub(crate) mod token_client;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;
use tracing::Instrument;

pub use config::{
    ActorSettings, DEFAULT_CACHE_MAX_AGE_SECONDS, InterceptorConfig, TokenSettings, TransportSetting,
};
pub use mint::Secrets;
pub use scrub::REMOVED as SCRUBBED_TOKEN;

use crate::bearer::parse_bearer;
use crate::clock::SharedClock;
use crate::delivery::{self, Delivery};
use crate::env::ConfigError;
use crate::interceptor::payload::{Flavour, GatewayEvent, GatewayRequest, HeaderValue, Headers};
use crate::interceptor::route::{JsonRpc, Route};
use crate::interceptor::shared_cache::{SharedNote, SharedStatus, SharedTier};
use crate::interceptor::targets::{Mode, Resolved, TargetPolicy, is_target_name};
use crate::interceptor::token_cache::{CacheKey, CacheStatus, CachedToken, KeyBuilder, TokenCache};
use crate::interceptor::token_client::IdpCalls;
use crate::interceptor::token_client::IdpReport;
use crate::invocation::{InvocationContext, Reporter, Summary};
use crate::metrics::{self, FetchCounts, Function, Metrics, MetricsSink, UNLISTED_TARGET};
use crate::reason::{ReasonCode, Rejection};
use crate::subject::jwt::unverified_claims;
use crate::subject::verify::{SubjectVerifier, VerifiedSubject, numeric_date};

/// The hint every `subject_missing` answer carries.
const HEADERS_HINT: &str = "no `Authorization: Bearer` user token reached the interceptor (the gateway must pass request headers: passRequestHeaders=true)";

/// What to do with a request, decided before its body is moved.
enum Decision {
    PassThrough,
    Reject(Rejection, Option<String>),
    Mint(Arc<TargetPolicy>),
}

/// What the invocation did, gathered as it runs; summed up once at its end (never a token). The
/// target is logged as `gateway_target` (`target` is the log record's own module path in JSON
/// logs): a configured name or `unlisted`.
#[derive(Default)]
struct Log {
    outcome: &'static str,
    target: Option<Arc<TargetPolicy>>,
    unlisted: bool,
    mode: Option<&'static str>,
    cache: Option<CacheStatus>,
    shared: Option<SharedStatus>,
    idp: Option<IdpReport>,
    reason: Option<Rejection>,
    sub: Option<String>,
    method: Option<String>,
    uri_scheme: Option<String>,
}

impl Log {
    /// A configured target's name, `unlisted`, or none (no target in the request).
    fn target(&self) -> Option<&str> {
        match (&self.target, self.unlisted) {
            (Some(t), _) => Some(t.name.as_str()),
            (None, true) => Some(UNLISTED_TARGET),
            (None, false) => None,
        }
    }

    /// The invocation's summary, for its log line and its metrics line.
    fn summary(&self, latency: Duration) -> Summary<'_> {
        let rejection = self.reason.as_ref();
        Summary {
            message: if rejection.is_some() {
                "interceptor rejected the request"
            } else {
                "interceptor answered"
            },
            outcome: self.outcome,
            rejection,
            target: self.target(),
            mode: self.mode,
            method: self.method.as_deref(),
            uri_scheme: self.uri_scheme.as_deref(),
            cache: self.cache.map(|c| (c.as_str(), c == CacheStatus::Miss)),
            shared: self.shared.map(SharedStatus::as_str),
            idp: self.idp.map(|idp| metrics::IdpReport {
                status: idp.status.as_str(),
                attempts: idp.attempts,
                latency: idp.latency,
            }),
            sub: self.sub.as_deref(),
            latency,
            ..Summary::default()
        }
    }
}

/// The interceptor: configuration plus process-wide state (token cache, token clients, keys).
pub struct Interceptor {
    config: InterceptorConfig,
    /// Per target: the length-prefixed request parameters that enter its cache keys.
    key_fields: HashMap<String, Vec<u8>>,
    cache: TokenCache,
    shared: SharedTier,
    minter: Option<mint::Minter>,
    verifier: Option<SubjectVerifier>,
    reporter: Reporter,
    clock: SharedClock,
}

impl Interceptor {
    /// Builds the interceptor: HTTP client, SDK clients when configured, and the client secrets
    /// (fetched now, at cold start). A secret that cannot be read is a configuration error
    /// naming its variable.
    pub async fn new(config: InterceptorConfig, clock: SharedClock) -> Result<Self, ConfigError> {
        let parts = mint::Parts::load(&config, clock.clone()).await?;
        Self::assemble(config, parts, clock)
    }

    /// Builds the interceptor with secrets supplied by the caller (tests, local runs); only the
    /// `oauth2` transport.
    pub fn with_secrets(
        config: InterceptorConfig,
        secrets: Secrets,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let parts = mint::Parts::with_secrets(&config, secrets)?;
        Self::assemble(config, parts, clock)
    }

    /// Builds the interceptor from its configuration and parts (`crate::aws` builds it against an
    /// explicit AWS SDK configuration).
    pub(crate) fn assemble(
        config: InterceptorConfig,
        mut parts: mint::Parts,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let keys = config.verify_inbound.then(|| {
            Arc::new(crate::subject::jwks::KeyStore::new(
                parts.http.clone(),
                clock.clone(),
                config.keys.clone(),
            ))
        });
        let verifier =
            keys.clone().map(|keys| SubjectVerifier::new(config.verifier.clone(), keys, clock.clone()));
        let fetches = keys.map(|keys| keys as Arc<dyn FetchCounts>);
        let reporter =
            Reporter::new(Metrics::new(Function::Interceptor, &config.metrics, clock.clone(), fetches));
        let shared = match (&config.shared_cache, parts.store.take(), parts.client_secret()) {
            (None, _, _) => SharedTier::off(),
            (Some(settings), Some(store), Some(secret)) => {
                SharedTier::new(store, settings.clone(), secret, config.cache, clock.clone())
            }
            // Fail closed: the tier is on but cannot be reached or keyed.
            (Some(_), _, _) => {
                return Err(ConfigError::new(
                    "OBO_SHARED_CACHE",
                    "needs the AWS SDK configuration and the on-behalf-of client's secret",
                ));
            }
        };
        let minter = parts.into_minter(&config, clock.clone());
        let key_fields = match &config.tokens {
            Some(tokens) => config
                .targets
                .iter()
                .filter(|p| p.mode.mints())
                .map(|p| (p.name.clone(), mint::key_fields(tokens, p)))
                .collect(),
            None => HashMap::new(),
        };
        let cache = TokenCache::new(config.cache, clock.clone());
        Ok(Self { config, key_fields, cache, shared, minter, verifier, reporter, clock })
    }

    /// Writes metric lines to `sink` instead of stdout (tests, local tools); `OBO_METRICS=off`
    /// still turns them off.
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.reporter = self.reporter.map_metrics(|metrics| metrics.with_sink(sink));
        self
    }

    /// Warms the JWKS cache when inbound tokens are verified; failures are logged, never fatal.
    pub async fn prefetch(&self) {
        if let Some(verifier) = &self.verifier {
            verifier.prefetch().await;
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &InterceptorConfig {
        &self.config
    }

    /// The token cache (for inspection).
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// The local cache key of `user_token` for `target` (for inspection: the shared tier's tests
    /// check that the table never holds it); `None` for a target that mints nothing.
    pub fn cache_key_for(&self, target: &str, user_token: &str) -> Option<CacheKey> {
        self.key_fields.get(target).map(|fields| cache_key(user_token, fields))
    }

    /// Handles one interceptor invocation given as JSON text; always answers with an interceptor
    /// output as JSON text. Bodies are copied from input to output byte for byte.
    pub async fn handle_json(&self, event: &str) -> String {
        self.handle_invocation(event, InvocationContext::default()).await
    }

    /// [`Self::handle_json`] for one Lambda invocation: its request id goes into both lines.
    pub async fn handle_invocation(&self, event: &str, context: InvocationContext<'_>) -> String {
        let started = Instant::now();
        let mut log = Log::default();
        let out = match GatewayEvent::parse(event) {
            Err((flavour, rejection)) => reject(flavour, None, rejection, None, &mut log),
            Ok(GatewayEvent { flavour, request, response: Some(response) }) => {
                self.response(flavour, request.as_ref(), response, &mut log).await
            }
            Ok(GatewayEvent { flavour, request: Some(request), response: None }) => {
                self.request(flavour, &request, &mut log).await
            }
            Ok(GatewayEvent { flavour, request: None, response: None }) => {
                let rejection = Rejection::new(ReasonCode::BadEvent, "the event has no `gatewayRequest`");
                reject(flavour, None, rejection, None, &mut log)
            }
        };
        self.reporter.report(&log.summary(started.elapsed()), context);
        out
    }

    /// [`Self::handle_json`] for an already parsed event (tests, tools). A `Value` cannot hold
    /// every JSON number exactly: the Lambda binary uses [`Self::handle_json`].
    pub async fn handle(&self, event: Value) -> Value {
        let out = self.handle_json(&event.to_string()).await;
        serde_json::from_str(&out).unwrap_or(Value::Null)
    }

    async fn request(&self, flavour: Flavour, request: &GatewayRequest<'_>, log: &mut Log) -> String {
        let (decision, id) = self.decide(flavour, request, log);
        // Several providers: the gateway's authorizer checked one, so every request is verified
        // here, before anything is forwarded (and a miss does not verify it again).
        let mut verified = None;
        if self.config.verifies_every_request() && !matches!(decision, Decision::Reject(..)) {
            match self.verify_inbound(&request.headers).await {
                Ok(subject) => verified = Some(subject),
                Err(rejection) => return reject(flavour, id.resolve().as_deref(), rejection, None, log),
            }
        }
        let policy = match decision {
            Decision::PassThrough => {
                log.outcome = "passthrough";
                return match without_reserved_argument(flavour, request.body) {
                    Ok(clean) => payload::forward(flavour, clean.as_deref().or(request.body), None),
                    Err(rejection) => reject(flavour, id.resolve().as_deref(), rejection, None, log),
                };
            }
            Decision::Reject(rejection, shown) => {
                return reject(flavour, id.resolve().as_deref(), rejection, shown, log);
            }
            Decision::Mint(policy) => policy,
        };
        if policy.deliver == Delivery::Argument
            && let Err(rejection) = can_carry_argument(flavour, request.body)
        {
            return reject(flavour, id.resolve().as_deref(), rejection, None, log);
        }
        let minted = match self.token_for(&policy, &request.headers, verified.as_ref(), log).await {
            Ok(minted) => minted,
            Err(rejection) => return reject(flavour, id.resolve().as_deref(), rejection, None, log),
        };
        let token = minted.token.expose();
        let out = match policy.deliver {
            Delivery::AuthorizationHeader => without_reserved_argument(flavour, request.body).map(|clean| {
                let mut authorization = String::with_capacity(7 + token.len());
                authorization.push_str("Bearer ");
                authorization.push_str(token);
                payload::forward(flavour, clean.as_deref().or(request.body), Some(&authorization))
            }),
            // No headers: the token travels in the arguments only, never in `Authorization`.
            Delivery::Argument => match request.body {
                Some(body) => delivery::rewrite_arguments(body, Some(token))
                    .and_then(|b| {
                        b.ok_or_else(|| Rejection::new(ReasonCode::Internal, "no body to carry the token"))
                    })
                    .map(|body| payload::forward(flavour, Some(&body), None)),
                None => Err(Rejection::new(ReasonCode::BadEvent, "the request has no JSON-RPC body")),
            },
        };
        match out {
            Ok(out) => {
                log.outcome = "forwarded";
                out
            }
            Err(rejection) => reject(flavour, id.resolve().as_deref(), rejection, None, log),
        }
    }

    /// Classifies the request and applies the policy; also the request id to echo if the
    /// answer is an error.
    fn decide(&self, flavour: Flavour, request: &GatewayRequest<'_>, log: &mut Log) -> (Decision, ErrorId) {
        match flavour {
            Flavour::Mcp => {
                let message = match JsonRpc::parse(request.body) {
                    Ok(message) => message,
                    Err(rejection) => return (Decision::Reject(rejection, None), ErrorId::Known(None)),
                };
                let id = ErrorId::Known(message.id.map(RawValue::to_owned));
                log.method = message.method().map(loggable_method);
                let route = message.check_method_header(&request.headers).and_then(|()| message.route());
                match route {
                    Ok(route) => (self.apply(route, log), id),
                    Err(rejection) => (Decision::Reject(rejection, None), id),
                }
            }
            Flavour::Http => {
                let id = match payload::http_body(request.body) {
                    Ok(decoded) => ErrorId::HttpBody(decoded),
                    Err(rejection) => return (Decision::Reject(rejection, None), ErrorId::Known(None)),
                };
                match route::http_target(&request.path) {
                    Ok(target) => (self.apply(Route::Target(target.into()), log), id),
                    Err(rejection) => (Decision::Reject(rejection, None), id),
                }
            }
        }
    }

    /// What a route means under the configured policies.
    fn apply(&self, route: Route<'_>, log: &mut Log) -> Decision {
        let targets = &self.config.targets;
        match route {
            Route::Gateway => Decision::PassThrough,
            Route::Target(target) => match targets.resolve(&target) {
                Resolved::Listed(policy) => self.listed(policy, log),
                Resolved::Unlisted(mode) => unlisted(mode, Some(&target), log),
            },
            Route::Resource(uri) => {
                log.uri_scheme = Some(route::uri_scheme(&uri).unwrap_or("-").to_owned());
                match targets.resolve_uri(&uri) {
                    Resolved::Listed(policy) if policy.mode.mints() => {
                        log.target = Some(Arc::clone(policy));
                        log.mode = Some(policy.mode.as_str());
                        Decision::Reject(
                            Rejection::new(ReasonCode::TargetAmbiguous, RESOURCE_AMBIGUOUS),
                            None,
                        )
                    }
                    Resolved::Listed(policy) => self.listed(policy, log),
                    Resolved::Unlisted(mode) => unlisted(mode, None, log),
                }
            }
            Route::Task if targets.default_mode() == Mode::Passthrough && !targets.any_governed() => {
                Decision::PassThrough
            }
            Route::Task => {
                Decision::Reject(Rejection::new(ReasonCode::TargetAmbiguous, TASK_AMBIGUOUS), None)
            }
        }
    }

    fn listed(&self, policy: &Arc<TargetPolicy>, log: &mut Log) -> Decision {
        log.target = Some(Arc::clone(policy));
        log.mode = Some(policy.mode.as_str());
        match policy.mode {
            Mode::Passthrough => Decision::PassThrough,
            Mode::Deny => Decision::Reject(
                Rejection::new(ReasonCode::TargetDenied, "the target is configured to deny requests"),
                None,
            ),
            Mode::Obo | Mode::TokenExchange => Decision::Mint(Arc::clone(policy)),
        }
    }

    /// Verifies the request's user token with the issuer profiles (`OBO_VERIFY_INBOUND`).
    async fn verify_inbound(&self, headers: &Headers) -> Result<VerifiedSubject, Rejection> {
        let Some(verifier) = &self.verifier else {
            return Err(Rejection::new(ReasonCode::Misconfigured, "inbound verification is not configured"));
        };
        verifier.verify(user_token(headers)?, None).await
    }

    /// The minted token for this user and target: from the cache, or from the identity provider.
    /// `verified`: the user token, already verified for this request (every request is, with
    /// several issuers); otherwise a miss verifies it before minting (with `OBO_VERIFY_INBOUND`).
    async fn token_for(
        &self,
        policy: &Arc<TargetPolicy>,
        headers: &Headers,
        verified: Option<&VerifiedSubject>,
        log: &mut Log,
    ) -> Result<Arc<CachedToken>, Rejection> {
        let user_token = user_token(headers)?;
        let claims = unverified_claims(user_token, self.config.verifier.max_token_bytes)?;
        let exp = claims.get("exp").and_then(numeric_date).ok_or_else(|| {
            Rejection::new(ReasonCode::SubjectClaimInvalid, "the user token has no numeric `exp`")
        })?;
        if self.clock.now_secs() >= exp {
            return Err(Rejection::new(ReasonCode::SubjectExpired, "the user token has expired"));
        }
        let sub = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.as_str(),
            _ => return Err(Rejection::new(ReasonCode::SubjectClaimInvalid, "the user token has no `sub`")),
        };
        let iss = match claims.get("iss") {
            Some(Value::String(iss)) if !iss.is_empty() => iss.as_str(),
            _ => return Err(Rejection::new(ReasonCode::SubjectClaimInvalid, "the user token has no `iss`")),
        };
        let (Some(minter), Some(fields)) = (&self.minter, self.key_fields.get(&policy.name)) else {
            return Err(Rejection::new(ReasonCode::Misconfigured, "no token client is configured"));
        };
        let key = cache_key(user_token, fields);
        // Only misses run this; the token client's log lines carry the target through the span.
        let calls = IdpCalls::default();
        let shared = SharedNote::new();
        let user_expires_at_ms = exp.saturating_mul(1000);
        let fetch = || {
            let span = tracing::info_span!(
                "token_request",
                gateway_target = %policy.name,
                mode = policy.mode.as_str()
            );
            async {
                // The shared tier, after the local miss and before the identity provider.
                if let Some(found) = self.shared.lookup(&key, user_token, user_expires_at_ms, &shared).await {
                    return Ok(found);
                }
                let verified_now = match (verified, &self.verifier) {
                    (None, Some(verifier)) => Some(verifier.verify(user_token, None).await?),
                    _ => None,
                };
                if let Some(verified) = verified.or(verified_now.as_ref())
                    && (verified.sub() != sub || verified.issuer() != iss)
                {
                    return Err(Rejection::new(
                        ReasonCode::SubjectClaimInvalid,
                        "`sub` or `iss` changed on verification",
                    ));
                }
                let minted = minter.mint(policy, user_token, iss, sub, &self.cache, &calls).await?;
                self.shared.store(&key, user_token, user_expires_at_ms, &minted, &shared).await;
                Ok(minted)
            }
            .instrument(span)
        };
        let (outcome, status) = self.cache.get_or_fetch(key, user_expires_at_ms, fetch).await;
        log.cache = Some(status);
        log.shared = shared.get();
        log.idp = calls.report();
        let minted = outcome?;
        log.sub = Some(sub.to_owned());
        Ok(minted)
    }

    /// RESPONSE interceptor: remove minted tokens from the response (MCP), evict the token an
    /// on-behalf-of target refused (401), then leave the response as it is. Best-effort: this
    /// execution environment's cache and the shared tier's item (when the tier is on) are evicted, only when the event carries the request (the user token and the target
    /// name are in it); without it the response passes unchanged and is counted as
    /// `response_without_request`.
    async fn response(
        &self,
        flavour: Flavour,
        request: Option<&GatewayRequest<'_>>,
        response: &RawValue,
        log: &mut Log,
    ) -> String {
        log.outcome = "response";
        let scrubbed = match flavour {
            Flavour::Mcp => match scrub::scrub(response, self.config.verifier.max_token_bytes) {
                Ok(scrubbed) => scrubbed,
                Err(()) => {
                    let rejection =
                        Rejection::new(ReasonCode::Internal, "the response could not be scrubbed");
                    return reject(flavour, None, rejection, None, log);
                }
            },
            Flavour::Http => None,
        };
        let response = match &scrubbed {
            Some((clean, count)) => {
                tracing::warn!(removed = count, "the target's response carried a minted token: removed");
                clean
            }
            None => response,
        };
        let Some(request) = request else {
            log.outcome = if scrubbed.is_some() { "scrubbed" } else { "response_without_request" };
            return payload::pass_response(flavour, response);
        };
        if flavour == Flavour::Mcp && response_status(response) == Some(401) {
            let (decision, _) = self.decide(flavour, request, log);
            if let Decision::Mint(policy) = decision
                && let (Ok(token), Some(fields)) =
                    (user_token(&request.headers), self.key_fields.get(&policy.name))
            {
                let key = cache_key(token, fields);
                let evicted = self.cache.evict(&key);
                log.shared = self.shared.evict(&key).await;
                let shared_evicted = log.shared == Some(SharedStatus::Evicted);
                log.outcome = if evicted || shared_evicted { "evicted" } else { "response" };
            }
        }
        if scrubbed.is_some() {
            log.outcome = "scrubbed";
        }
        payload::pass_response(flavour, response)
    }
}

/// Why a resource request for an on-behalf-of target is refused (`target_ambiguous`).
const RESOURCE_AMBIGUOUS: &str = "the resource URI belongs to an on-behalf-of target, but the gateway chooses the target of a resource request itself (by resourcePriority), so no token can be minted for it";

/// Why a task request is refused while any target is governed (`target_ambiguous`).
const TASK_AMBIGUOUS: &str = "task requests name a task, not a target, so no token can be minted for them";

/// Unlisted targets follow the default mode; the name is shown to the caller only (never
/// logged), and only if it is one.
fn unlisted(mode: Mode, target: Option<&str>, log: &mut Log) -> Decision {
    log.unlisted = true;
    log.mode = Some(mode.as_str());
    if mode == Mode::Passthrough {
        return Decision::PassThrough;
    }
    let shown = match target {
        Some(target) if is_target_name(target) => {
            format!("target {target:?} is not configured for on-behalf-of access")
        }
        Some(_) => "the requested target is not configured for on-behalf-of access".to_owned(),
        None => {
            "the resource URI matches no target's `resource_uris`, and unlisted targets are denied".to_owned()
        }
    };
    let rejection = Rejection::new(ReasonCode::TargetUnlisted, "the target is not in OBO_TARGETS");
    Decision::Reject(rejection, Some(shown))
}

/// The MCP body without any client-supplied reserved argument (`None`: forward it as it is).
/// HTTP-flavour bodies are not JSON-RPC and reach no Lambda target: left alone.
fn without_reserved_argument(
    flavour: Flavour,
    body: Option<&RawValue>,
) -> Result<Option<Box<RawValue>>, Rejection> {
    match (flavour, body) {
        (Flavour::Mcp, Some(body)) => delivery::rewrite_arguments(body, None),
        _ => Ok(None),
    }
}

/// Refuses, before any token is minted, a request that cannot carry the token as an argument.
fn can_carry_argument(flavour: Flavour, body: Option<&RawValue>) -> Result<(), Rejection> {
    match (flavour, body) {
        (Flavour::Mcp, Some(body)) => delivery::rewrite_arguments(body, Some("")).map(drop),
        (Flavour::Mcp, None) => Err(Rejection::new(ReasonCode::BadEvent, "the request has no JSON-RPC body")),
        (Flavour::Http, _) => Err(Rejection::new(
            ReasonCode::Misconfigured,
            "the target takes its token as a tool argument, but this is an HTTP-target request",
        )),
    }
}

/// The `statusCode` of a `gatewayResponse`, if it has a numeric one.
fn response_status(response: &RawValue) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(rename = "statusCode", default)]
        status: Option<u64>,
    }
    serde_json::from_str::<Status>(response.get()).ok()?.status
}

/// The request's JSON-RPC `id`, for an error answer: an MCP request's is read while routing; an
/// HTTP request's decoded body is parsed for it only when an error answer needs it.
enum ErrorId {
    Known(Option<Box<RawValue>>),
    HttpBody(Option<Vec<u8>>),
}

impl ErrorId {
    fn resolve(&self) -> Option<Cow<'_, RawValue>> {
        match self {
            Self::Known(id) => id.as_deref().map(Cow::Borrowed),
            Self::HttpBody(body) => body.as_deref().and_then(http_request_id).map(Cow::Owned),
        }
    }
}

fn http_request_id(body: &[u8]) -> Option<Box<RawValue>> {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow, default)]
        id: Option<&'a RawValue>,
    }
    serde_json::from_slice::<Id<'_>>(body).ok()?.id.map(RawValue::to_owned)
}

fn cache_key(user_token: &str, fields: &[u8]) -> CacheKey {
    KeyBuilder::new().field(user_token.as_bytes()).encoded(fields).finish()
}

/// The user's token from `Authorization: Bearer …`, looked up ignoring case.
fn user_token(headers: &Headers) -> Result<&str, Rejection> {
    let missing = || Rejection::new(ReasonCode::SubjectMissing, HEADERS_HINT);
    match headers.get("authorization") {
        HeaderValue::One(value) => parse_bearer(value).ok_or_else(missing),
        HeaderValue::Absent | HeaderValue::NotString => Err(missing()),
        HeaderValue::Ambiguous => {
            Err(Rejection::new(ReasonCode::SubjectAmbiguous, "more than one Authorization header"))
        }
    }
}

fn reject(
    flavour: Flavour,
    id: Option<&RawValue>,
    rejection: Rejection,
    shown: Option<String>,
    log: &mut Log,
) -> String {
    log.outcome = "rejected";
    let message = shown.as_deref().unwrap_or(&rejection.message);
    let out = payload::short_circuit(flavour, id, rejection.reason, message);
    log.reason = Some(rejection);
    out
}

/// The method for the log line: a client-chosen string, so only a short name of method-like
/// characters is written as is; anything else is logged as `-invalid-`.
fn loggable_method(method: &str) -> String {
    let plain = method.len() <= 64
        && method.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if plain { method.to_owned() } else { "-invalid-".to_owned() }
}
