//! One invocation, summed up once: both Lambdas describe what an invocation did in a
//! [`Summary`], and a [`Reporter`] writes it as the invocation's log line and its metrics line,
//! so the two always agree.
//!
//! Every line carries two keys named as Powertools for AWS Lambda names them: `cold_start`
//! (the execution environment's first invocation) and `function_request_id` (the Lambda request
//! id, from the runtime). The rest are the function's own keys; a key without a value is left out.
//! Never a token, a secret or an `Authorization` value: a summary holds none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::metrics::{IdpReport, Metrics, Record};
use crate::reason::Rejection;

/// What the Lambda runtime says of an invocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct InvocationContext<'a> {
    /// The Lambda request id (`Lambda-Runtime-Aws-Request-Id`); none outside Lambda (tests, tools).
    pub request_id: Option<&'a str>,
}

impl<'a> InvocationContext<'a> {
    /// The context of the Lambda invocation `request_id`.
    pub fn lambda(request_id: &'a str) -> Self {
        Self { request_id: Some(request_id) }
    }
}

/// What one invocation did: everything its log line and its metrics line say.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Summary<'a> {
    /// The log line's message.
    pub message: &'static str,
    /// How it ended (`enriched`, `forwarded`, `rejected`, …).
    pub outcome: &'static str,
    /// The rejection, if it was one.
    pub rejection: Option<&'a Rejection>,
    /// The Cognito trigger source (pre-token).
    pub trigger_source: Option<&'a str>,
    /// The app client that asked Cognito for the token (pre-token).
    pub caller: Option<&'a str>,
    /// The gateway target: a configured name or `unlisted` (interceptor).
    pub target: Option<&'a str>,
    /// The target's mode (interceptor).
    pub mode: Option<&'static str>,
    /// The MCP method, as it may be logged (interceptor).
    pub method: Option<&'a str>,
    /// The scheme of a resource URI (interceptor).
    pub uri_scheme: Option<&'a str>,
    /// What the token cache did (`hit`, `miss`, …) and whether that was a miss (interceptor).
    pub cache: Option<(&'static str, bool)>,
    /// What the shared cache tier did (interceptor with `OBO_SHARED_CACHE`).
    pub shared: Option<&'static str>,
    /// The identity provider's answers, when the invocation asked it for a token.
    pub idp: Option<IdpReport>,
    /// The user's `sub`, once verified.
    pub sub: Option<&'a str>,
    /// The handler's own time.
    pub latency: Duration,
}

/// Writes each invocation's two lines; knows whether the environment has answered yet. One per
/// process, held by the handler.
#[derive(Debug)]
pub(crate) struct Reporter {
    metrics: Metrics,
    first: AtomicBool,
}

/// One tracing event with every summary key (`None` values are not written), at `$level`.
macro_rules! summary_event {
    ($level:expr, $s:expr, $cold_start:expr, $request_id:expr) => {{
        let s = $s;
        let rejection = s.rejection;
        tracing::event!(
            $level,
            outcome = s.outcome,
            trigger_source = s.trigger_source,
            caller = s.caller,
            gateway_target = s.target,
            mode = s.mode,
            method = s.method,
            uri_scheme = s.uri_scheme,
            cache = s.cache.map(|(status, _)| status),
            shared_cache = s.shared,
            idp_attempts = s.idp.map(|idp| idp.attempts),
            reason = rejection.map(|r| r.reason.as_str()),
            retryable = rejection.map(|r| r.reason.retryable()),
            detail = rejection.map(|r| tracing::field::display(&r.message)),
            sub = s.sub,
            latency_us = s.latency.as_micros() as u64,
            cold_start = $cold_start,
            function_request_id = $request_id,
            "{}",
            s.message
        )
    }};
}

impl Reporter {
    /// A reporter writing metrics lines to `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics, first: AtomicBool::new(true) }
    }

    /// The same reporter writing metrics lines elsewhere (see [`Metrics::with_sink`]).
    pub fn map_metrics(self, f: impl FnOnce(Metrics) -> Metrics) -> Self {
        Self { metrics: f(self.metrics), first: self.first }
    }

    /// Writes the log line (WARN for a rejection, INFO otherwise) and the metrics line of one
    /// invocation.
    pub fn report(&self, summary: &Summary<'_>, context: InvocationContext<'_>) {
        let cold_start = self.first.swap(false, Ordering::Relaxed);
        match summary.rejection {
            None => summary_event!(tracing::Level::INFO, summary, cold_start, context.request_id),
            Some(_) => summary_event!(tracing::Level::WARN, summary, cold_start, context.request_id),
        }
        self.metrics.record(&Record {
            outcome: summary.outcome,
            reason: summary.rejection.map(|r| r.reason.as_str()),
            target: summary.target,
            cache_miss: summary.cache.map(|(_, miss)| miss),
            shared: summary.shared,
            idp: summary.idp,
            latency: summary.latency,
            cold_start,
            request_id: context.request_id,
        });
    }
}
