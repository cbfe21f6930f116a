//! Production metrics: one CloudWatch Embedded Metric Format (EMF) line per invocation, written to
//! stdout (the Lambda log stream), from which CloudWatch Logs extracts the metrics. No agent, no
//! `PutMetricData` call, no IAM permission, nothing on the network.
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//! A line is one JSON object whose `_aws` member holds a timestamp and metric directives
//! (namespace, dimension sets, metric names and units); the dimension values and metric values are
//! the object's own top-level members.
//!
//! Written here rather than with `metrics_cloudwatch_embedded`: that crate is a backend of the
//! `metrics` facade (a process-global recorder that aggregates into maps and is flushed by a wrapper
//! around the Lambda runtime), while each handler already knows all about an invocation at its end.
//! A line is built on the stack and written with one `write` call: no heap allocation, no I/O
//! but that write.
//!
//! Dimensions are low-cardinality by construction: `Function` (`pre-token`, `interceptor`),
//! `Outcome` and `Reason` (fixed codes), `Target` (a configured target name or `unlisted`) and
//! `IdpStatus` (a status class), `SharedCache` (what the shared tier did). Never a user, a subject, a client id or anything from a token.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::env::{ConfigError, Env};

/// The default CloudWatch namespace (`OBO_METRICS_NAMESPACE`).
pub(crate) const DEFAULT_NAMESPACE: &str = "CognitoObo";

/// The `Target` value of targets that are not configured (never the name a caller sent).
pub(crate) const UNLISTED_TARGET: &str = "unlisted";

/// Room for the longest line: six directives with a 255-character namespace, a 100-character
/// target, and the values.
const LINE_CAP: usize = 4096;

const COUNT: &str = "Count";
const MILLISECONDS: &str = "Milliseconds";

/// Whether and where metrics are written (`OBO_METRICS`, `OBO_METRICS_NAMESPACE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `OBO_METRICS`: `emf` (default) writes one EMF line per invocation, `off` none.
    pub enabled: bool,
    /// `OBO_METRICS_NAMESPACE`: the CloudWatch namespace.
    pub namespace: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { enabled: true, namespace: DEFAULT_NAMESPACE.to_owned() }
    }
}

impl MetricsSettings {
    /// Reads `OBO_METRICS` and `OBO_METRICS_NAMESPACE` (shared by both functions).
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let enabled = env.choice("OBO_METRICS", "emf", &["emf", "off"])? == "emf";
        let namespace = env.string("OBO_METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        check_namespace(&namespace).map_err(|problem| ConfigError::new("OBO_METRICS_NAMESPACE", problem))?;
        Ok(Self { enabled, namespace })
    }
}

/// CloudWatch's rules for a namespace (the `AWS/` prefix is reserved for AWS services).
fn check_namespace(namespace: &str) -> Result<(), &'static str> {
    if namespace.len() > 255 {
        return Err("must be at most 255 characters");
    }
    if !namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b" .-_/#:".contains(&b)) {
        return Err("may hold only letters, digits, spaces and . - _ / # :");
    }
    if namespace.starts_with("AWS/") {
        return Err("must not start with AWS/ (reserved for AWS services)");
    }
    Ok(())
}

/// Which Lambda writes the line (the `Function` dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The Cognito pre-token-generation trigger.
    PreToken,
    /// The AgentCore Gateway interceptor.
    Interceptor,
}

impl Function {
    /// The dimension value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PreToken => "pre-token",
            Self::Interceptor => "interceptor",
        }
    }
}

/// One token acquisition as the identity provider saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdpReport {
    /// The class of the last attempt's answer (the one that decided the outcome): the `IdpStatus`
    /// dimension, one of the interceptor's fixed classes (`2xx`, `429`, `timeout`, …).
    pub status: &'static str,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// From the first attempt to the result, retries and backoff included.
    pub latency: Duration,
}

/// What one invocation did: everything its metrics line says, all of it low-cardinality.
#[derive(Debug, Clone, Copy, Default)]
pub struct Record<'a> {
    /// How it ended (`enriched`, `forwarded`, `rejected`, …).
    pub outcome: &'static str,
    /// The reason code of a rejection.
    pub reason: Option<&'static str>,
    /// The gateway target: a configured name or [`UNLISTED_TARGET`] (interceptor only).
    pub target: Option<&'a str>,
    /// Whether the token cache missed (`Some(true)`: a token request of its own) or served it
    /// (interceptor, token-minting targets only).
    pub cache_miss: Option<bool>,
    /// What the shared cache tier did (interceptor with `OBO_SHARED_CACHE` on): its status name.
    pub shared: Option<&'static str>,
    /// The identity provider's answers, when this invocation asked it for a token.
    pub idp: Option<IdpReport>,
    /// The handler's own time.
    pub latency: Duration,
    /// Whether this was the execution environment's first invocation (`ColdStarts`).
    pub cold_start: bool,
    /// The Lambda request id, written as the `function_request_id` property (not a dimension), so
    /// a metrics line can be matched with its log line.
    pub request_id: Option<&'a str>,
}

/// A count of signing-key fetches that only grows (the key cache's), reported as the difference
/// since the previous line.
pub trait FetchCounts: Send + Sync {
    /// Fetches made so far.
    fn fetch_count(&self) -> u64;
    /// Fetches that failed or timed out so far.
    fn fetch_failure_count(&self) -> u64;
}

/// Where metric lines go.
pub trait MetricsSink: Send + Sync {
    /// Writes one complete line (ending in `\n`). Failures are ignored: metrics never fail an
    /// invocation.
    fn write_line(&self, line: &[u8]);
}

/// Standard output, the Lambda log stream: one `write` per line, so lines never interleave with
/// log lines.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StdoutSink;

impl MetricsSink for StdoutSink {
    fn write_line(&self, line: &[u8]) {
        let _ = std::io::stdout().lock().write_all(line);
    }
}

/// A function's metrics: its settings and the little state that spans invocations (the JWKS
/// fetches already reported). One per process, held by the handler.
pub struct Metrics {
    function: Function,
    /// The namespace as a JSON string (quoted, escaped), ready to copy into each directive.
    namespace_json: String,
    sink: Option<Arc<dyn MetricsSink>>,
    clock: SharedClock,
    keys: Option<Arc<dyn FetchCounts>>,
    fetches_reported: AtomicU64,
    failures_reported: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("function", &self.function)
            .field("namespace", &self.namespace_json)
            .field("enabled", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics of `function`, written to stdout when enabled. `keys` is the function's JWKS
    /// cache, whose fetches are reported (none when the function verifies no tokens).
    pub fn new(
        function: Function,
        settings: &MetricsSettings,
        clock: SharedClock,
        keys: Option<Arc<dyn FetchCounts>>,
    ) -> Self {
        let mut namespace_json = String::with_capacity(settings.namespace.len() + 2);
        let _ = json_string(&mut namespace_json, &settings.namespace);
        Self {
            function,
            namespace_json,
            sink: settings.enabled.then(|| Arc::new(StdoutSink) as Arc<dyn MetricsSink>),
            clock,
            keys,
            fetches_reported: AtomicU64::new(0),
            failures_reported: AtomicU64::new(0),
        }
    }

    /// Writes lines to `sink` instead of stdout (tests, local tools); metrics stay off if they
    /// are off.
    pub fn with_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        if self.sink.is_some() {
            self.sink = Some(sink);
        }
        self
    }

    /// Whether lines are written.
    pub fn is_enabled(&self) -> bool {
        self.sink.is_some()
    }

    /// Writes the line of one invocation (nothing when metrics are off).
    pub fn record(&self, record: &Record<'_>) {
        let Some(sink) = &self.sink else {
            return;
        };
        let mut line = Line::new();
        // The only failure is a full buffer, which `finish` reports.
        let _ = self.write(record, &mut line);
        match line.finish() {
            Some(bytes) => sink.write_line(bytes),
            None => tracing::warn!(function = self.function.as_str(), "metrics line too long: dropped"),
        }
    }

    fn write(&self, r: &Record<'_>, out: &mut Line) -> fmt::Result {
        let cold_start = u64::from(r.cold_start);
        let jwks = self.keys.as_ref().map(|keys| {
            (
                unreported(&self.fetches_reported, keys.fetch_count()),
                unreported(&self.failures_reported, keys.fetch_failure_count()),
            )
        });
        let outcome = if r.outcome.is_empty() { "unknown" } else { r.outcome };
        let cache = r.cache_miss.zip(r.target);
        write!(out, "{{\"_aws\":{{\"Timestamp\":{},\"CloudWatchMetrics\":[", self.clock.now_millis())?;
        let by_outcome: &[&[&str]] = match r.target {
            Some(_) => &[&["Function"], &["Function", "Outcome"], &["Function", "Target", "Outcome"]],
            None => &[&["Function"], &["Function", "Outcome"]],
        };
        self.directive(out, by_outcome, &[("Invocations", COUNT)])?;
        let per_function: &[(&str, &str)] = match jwks {
            Some(_) => &[
                ("Latency", MILLISECONDS),
                ("ColdStarts", COUNT),
                ("JwksFetches", COUNT),
                ("JwksFetchFailures", COUNT),
            ],
            None => &[("Latency", MILLISECONDS), ("ColdStarts", COUNT)],
        };
        out.write_char(',')?;
        self.directive(out, &[&["Function"]], per_function)?;
        if r.reason.is_some() {
            out.write_char(',')?;
            self.directive(out, &[&["Function", "Reason"]], &[("Rejections", COUNT)])?;
        }
        if cache.is_some() {
            let metrics: &[(&str, &str)] = match r.idp {
                Some(_) => &[("CacheHits", COUNT), ("CacheMisses", COUNT), ("ExchangeLatency", MILLISECONDS)],
                None => &[("CacheHits", COUNT), ("CacheMisses", COUNT)],
            };
            out.write_char(',')?;
            self.directive(out, &[&["Function"], &["Function", "Target"]], metrics)?;
        }
        if r.shared.is_some() {
            out.write_char(',')?;
            self.directive(out, &[&["Function", "SharedCache"]], &[("SharedCacheCalls", COUNT)])?;
        }
        if r.idp.is_some() {
            out.write_char(',')?;
            self.directive(
                out,
                &[&["Function", "IdpStatus"]],
                &[("IdpRequests", COUNT), ("IdpAttempts", COUNT)],
            )?;
        }
        out.write_str("]},\"Function\":")?;
        json_string(out, self.function.as_str())?;
        out.write_str(",\"Outcome\":")?;
        json_string(out, outcome)?;
        if let Some(target) = r.target {
            out.write_str(",\"Target\":")?;
            json_string(out, target)?;
        }
        if let Some(reason) = r.reason {
            out.write_str(",\"Reason\":")?;
            json_string(out, reason)?;
        }
        if let Some(shared) = r.shared {
            out.write_str(",\"SharedCache\":")?;
            json_string(out, shared)?;
        }
        if let Some(idp) = r.idp {
            out.write_str(",\"IdpStatus\":")?;
            json_string(out, idp.status)?;
        }
        out.write_str(",\"Invocations\":1,\"Latency\":")?;
        millis(out, r.latency)?;
        write!(out, ",\"ColdStarts\":{cold_start}")?;
        if let Some((fetches, failures)) = jwks {
            write!(out, ",\"JwksFetches\":{fetches},\"JwksFetchFailures\":{failures}")?;
        }
        if r.reason.is_some() {
            out.write_str(",\"Rejections\":1")?;
        }
        if r.shared.is_some() {
            out.write_str(",\"SharedCacheCalls\":1")?;
        }
        if let Some((miss, _)) = cache {
            let miss = u8::from(miss);
            write!(out, ",\"CacheHits\":{},\"CacheMisses\":{miss}", 1 - miss)?;
        }
        if let Some(idp) = r.idp {
            if cache.is_some() {
                out.write_str(",\"ExchangeLatency\":")?;
                millis(out, idp.latency)?;
            }
            write!(out, ",\"IdpRequests\":1,\"IdpAttempts\":{}", idp.attempts)?;
        }
        if let Some(request_id) = r.request_id {
            out.write_str(",\"function_request_id\":")?;
            json_string(out, request_id)?;
        }
        out.write_str("}\n")
    }

    /// `{"Namespace":…,"Dimensions":[[…],…],"Metrics":[{"Name":…,"Unit":…},…]}`
    fn directive(&self, out: &mut Line, dimensions: &[&[&str]], metrics: &[(&str, &str)]) -> fmt::Result {
        out.write_str("{\"Namespace\":")?;
        out.write_str(&self.namespace_json)?;
        out.write_str(",\"Dimensions\":[")?;
        for (i, set) in dimensions.iter().enumerate() {
            out.write_str(if i == 0 { "[" } else { ",[" })?;
            for (j, name) in set.iter().enumerate() {
                out.write_str(if j == 0 { "\"" } else { ",\"" })?;
                out.write_str(name)?;
                out.write_char('"')?;
            }
            out.write_char(']')?;
        }
        out.write_str("],\"Metrics\":[")?;
        for (i, (name, unit)) in metrics.iter().enumerate() {
            out.write_str(if i == 0 { "{\"Name\":\"" } else { ",{\"Name\":\"" })?;
            out.write_str(name)?;
            out.write_str("\",\"Unit\":\"")?;
            out.write_str(unit)?;
            out.write_str("\"}")?;
        }
        out.write_str("]}")
    }
}

/// Milliseconds with three decimals, in integer arithmetic (cheaper than float formatting).
fn millis(out: &mut Line, d: Duration) -> fmt::Result {
    let us = d.as_micros();
    write!(out, "{}.{:03}", us / 1000, us % 1000)
}

/// The part of a monotonic `total` not reported yet: each increment is reported exactly once,
/// even when invocations of one process run concurrently.
fn unreported(reported: &AtomicU64, total: u64) -> u64 {
    total.saturating_sub(reported.fetch_max(total, Ordering::Relaxed))
}

/// A JSON string (quoted and escaped).
fn json_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c.is_control()) {
        out.write_str(&rest[..i])?;
        let c = rest[i..].chars().next().unwrap_or_default();
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            _ => write!(out, "\\u{:04x}", c as u32)?,
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.write_str(rest)?;
    out.write_char('"')
}

/// A line built on the stack; writing past its capacity fails and marks it overflowed.
struct Line {
    buf: [u8; LINE_CAP],
    len: usize,
    overflow: bool,
}

impl Line {
    fn new() -> Self {
        Self { buf: [0; LINE_CAP], len: 0, overflow: false }
    }

    fn finish(&self) -> Option<&[u8]> {
        (!self.overflow).then(|| &self.buf[..self.len])
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if self.overflow || end > LINE_CAP {
            self.overflow = true;
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::Value;

    use super::*;
    use crate::clock::ManualClock;

    #[derive(Default)]
    struct Lines(Mutex<Vec<Vec<u8>>>);

    impl MetricsSink for Lines {
        fn write_line(&self, line: &[u8]) {
            self.0.lock().unwrap().push(line.to_vec());
        }
    }

    fn metrics(namespace: &str) -> (Metrics, Arc<Lines>) {
        let lines = Arc::new(Lines::default());
        let settings = MetricsSettings { enabled: true, namespace: namespace.into() };
        let m =
            Metrics::new(Function::Interceptor, &settings, ManualClock::at_millis(1_700_000_000_123), None)
                .with_sink(lines.clone());
        (m, lines)
    }

    fn settings(pairs: &[(&'static str, &'static str)]) -> Result<MetricsSettings, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        MetricsSettings::from_env(&Env::new(&env))
    }

    #[test]
    fn settings_default_to_emf_and_name_the_variable() {
        assert_eq!(settings(&[]).unwrap(), MetricsSettings::default());
        assert!(!settings(&[("OBO_METRICS", "OFF")]).unwrap().enabled);
        assert_eq!(settings(&[("OBO_METRICS_NAMESPACE", "Team/Obo #1")]).unwrap().namespace, "Team/Obo #1");
        for (variable, value) in [
            ("OBO_METRICS", "statsd"),
            ("OBO_METRICS_NAMESPACE", "AWS/Lambda"),
            ("OBO_METRICS_NAMESPACE", "a\"b"),
            ("OBO_METRICS_NAMESPACE", "é"),
        ] {
            assert_eq!(settings(&[(variable, value)]).unwrap_err().variable, variable, "{value}");
        }
        let long = "n".repeat(256);
        let env: HashMap<&str, &str> = [("OBO_METRICS_NAMESPACE", long.as_str())].into_iter().collect();
        assert!(MetricsSettings::from_env(&Env::new(&env)).is_err());
    }

    #[test]
    fn the_longest_line_fits() {
        let (m, lines) = metrics(&"N".repeat(255));
        let target = "t".repeat(100);
        let idp = IdpReport { status: "connect", attempts: 3, latency: Duration::from_secs(10) };
        m.record(&Record {
            outcome: "forwarded",
            reason: Some("subject_already_delegated"),
            target: Some(&target),
            cache_miss: Some(true),
            shared: Some("unopenable"),
            idp: Some(idp),
            latency: Duration::from_secs(3600),
            cold_start: true,
            request_id: Some("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
        });
        let line = lines.0.lock().unwrap().pop().expect("a line");
        assert!(line.len() < LINE_CAP, "{}", line.len());
        let doc: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(doc["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(), 6);
    }

    #[test]
    fn strings_are_escaped_and_an_overflow_drops_the_line() {
        let mut s = String::new();
        json_string(&mut s, "a\"b\\c\nd/é").unwrap();
        assert_eq!(serde_json::from_str::<String>(&s).unwrap(), "a\"b\\c\nd/é");
        let mut line = Line::new();
        assert!(line.write_str(&"x".repeat(LINE_CAP + 1)).is_err());
        assert!(line.finish().is_none());
    }

    #[test]
    fn off_writes_nothing() {
        let lines = Arc::new(Lines::default());
        let settings = MetricsSettings { enabled: false, ..MetricsSettings::default() };
        let m = Metrics::new(Function::PreToken, &settings, ManualClock::at_secs(1), None)
            .with_sink(lines.clone());
        m.record(&Record { outcome: "enriched", ..Record::default() });
        assert!(!m.is_enabled());
        assert!(lines.0.lock().unwrap().is_empty());
    }

    #[test]
    fn concurrent_reports_count_each_fetch_once() {
        let reported = AtomicU64::new(0);
        assert_eq!(unreported(&reported, 1), 1);
        assert_eq!(unreported(&reported, 3), 2);
        // A slower invocation that read an older total reports nothing more.
        assert_eq!(unreported(&reported, 2), 0);
        assert_eq!(unreported(&reported, 3), 0);
    }
}
