//! The metrics lines of both handlers, captured through a sink and checked against the CloudWatch
//! Embedded Metric Format specification: valid JSON on one line, `_aws.Timestamp`, directives with
//! namespace, dimension sets and metrics, every named dimension and metric a top-level member of
//! the right type, and no dimension value but fixed codes and configured names (never the request's
//! strings, a user or a token).

mod common;
mod interceptor_support;
#[cfg(feature = "aws")]
mod sdk_support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interceptor_support::{FakeIdp, Reply, call, call_as, forwarded_token, new_sub, short_circuit};
use obo_core::ReasonCode;
use obo_core::metrics::MetricsSink;
use serde_json::{Map, Value, json};

/// The lines a handler wrote.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl MetricsSink for Lines {
    fn write_line(&self, line: &[u8]) {
        self.0.lock().unwrap().push(String::from_utf8(line.to_vec()).expect("UTF-8"));
    }
}

impl Lines {
    /// Every line so far, each checked and parsed; the lines are consumed.
    fn take(&self, namespace: &str, targets: &[&str]) -> Vec<Map<String, Value>> {
        let lines = std::mem::take(&mut *self.0.lock().unwrap());
        lines.iter().map(|line| emf(line, namespace, targets)).collect()
    }
}

const UNITS: [&str; 2] = ["Count", "Milliseconds"];
const OUTCOMES: [&str; 9] = [
    "enriched",
    "unchanged",
    "user_claims_added",
    "rejected",
    "forwarded",
    "passthrough",
    "response",
    "evicted",
    "unknown",
];

/// The `IdpStatus` classes docs/operations.md lists.
const IDP_STATUSES: [&str; 11] =
    ["2xx", "3xx", "400", "401", "403", "429", "4xx", "5xx", "timeout", "connect", "error"];

/// Checks one line against the EMF specification and this project's dimension rules.
fn emf(line: &str, namespace: &str, targets: &[&str]) -> Map<String, Value> {
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "one line: {line:?}");
    let doc: Map<String, Value> = serde_json::from_str(line).expect("a JSON object");
    let aws = doc["_aws"].as_object().expect("_aws is an object");
    let mut keys: Vec<&str> = aws.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["CloudWatchMetrics", "Timestamp"], "{line}");
    assert!(aws["Timestamp"].is_u64(), "Timestamp is whole milliseconds: {line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    for directive in directives {
        let d = directive.as_object().expect("a directive is an object");
        assert_eq!(d.len(), 3, "Namespace, Dimensions, Metrics only: {directive}");
        assert_eq!(d["Namespace"], namespace);
        let sets = d["Dimensions"].as_array().expect("Dimensions is an array");
        assert!(!sets.is_empty());
        for set in sets {
            let names = set.as_array().expect("a dimension set is an array");
            assert!((1..=30).contains(&names.len()));
            for name in names {
                let name = name.as_str().expect("a dimension name is a string");
                let value = doc.get(name).and_then(Value::as_str);
                let value =
                    value.unwrap_or_else(|| panic!("dimension {name} is no top-level string: {line}"));
                let allowed = match name {
                    "Function" => ["pre-token", "interceptor"].contains(&value),
                    "Outcome" => OUTCOMES.contains(&value),
                    "Reason" => ReasonCode::from_code(value).is_some(),
                    "Target" => value == "unlisted" || targets.contains(&value),
                    "IdpStatus" => IDP_STATUSES.contains(&value),
                    _ => false,
                };
                assert!(allowed, "dimension {name}={value:?} is not a fixed code or configured name");
            }
        }
        let metrics = d["Metrics"].as_array().expect("Metrics is an array");
        assert!((1..=100).contains(&metrics.len()));
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric has a Name");
            assert!(UNITS.contains(&metric["Unit"].as_str().unwrap_or_default()), "{metric}");
            assert!(
                doc.get(name).is_some_and(Value::is_number),
                "metric {name} is no top-level number: {line}"
            );
        }
    }
    doc
}

fn num(doc: &Map<String, Value>, key: &str) -> f64 {
    doc.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("no {key} in {doc:?}"))
}

/// The metric names a line declares.
fn declared(doc: &Map<String, Value>) -> HashSet<String> {
    doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap().to_owned()))
        .collect()
}

/// The dimension sets a line declares, as `A,B` strings.
fn dimension_sets(doc: &Map<String, Value>) -> HashSet<String> {
    doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["Dimensions"].as_array().unwrap().iter())
        .map(|set| set.as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join(","))
        .collect()
}

mod trigger {
    use super::common::{Fault, Idp, NOW, OBO_CLIENT, m2m_event, user_event};
    use super::*;

    #[tokio::test]
    async fn each_invocation_writes_one_line_with_its_outcome_and_reason() {
        let idp = Idp::start().await;
        let lines = Arc::new(Lines::default());
        let (trigger, _clock) = idp.trigger_with(&[("OBO_METRICS", "emf")]).await;
        let trigger = trigger.with_metrics_sink(lines.clone());
        let good = idp.sign_access(&idp.alice_access_claims());
        let mut expired = idp.alice_access_claims();
        expired["exp"] = json!(NOW - 5);
        let expired = idp.sign_access(&expired);

        trigger.handle(m2m_event(OBO_CLIENT, Some(&good))).await.unwrap();
        trigger.handle(m2m_event(OBO_CLIENT, Some(&expired))).await.unwrap_err();
        trigger.handle(m2m_event("caller-chosen-client-7f3a", Some(&good))).await.unwrap_err();
        trigger.handle(json!({"triggerSource": ["request-chosen-9c1d"]})).await.unwrap_err();
        trigger.handle(user_event(None)).await.unwrap();

        let raw = lines.0.lock().unwrap().concat();
        for secret in [good.as_str(), expired.as_str()].iter().flat_map(|t| t.split('.')) {
            assert!(!raw.contains(secret), "a token part reached a metrics line");
        }
        for chosen in ["caller-chosen", "request-chosen", "11111111-aaaa", "alice"] {
            assert!(!raw.contains(chosen), "{chosen} reached a metrics line: {raw}");
        }
        let docs = lines.take("CognitoObo", &[]);
        let got: Vec<(&str, Option<&str>)> = docs
            .iter()
            .map(|d| (d["Outcome"].as_str().unwrap(), d.get("Reason").and_then(Value::as_str)))
            .collect();
        assert_eq!(
            got,
            [
                ("enriched", None),
                ("rejected", Some("subject_expired")),
                ("rejected", Some("caller_not_allowed")),
                ("rejected", Some("bad_event")),
                ("unchanged", None),
            ]
        );
        let first = &docs[0];
        assert_eq!(first["Function"], "pre-token");
        assert_eq!(first["_aws"]["Timestamp"], json!(NOW * 1000), "time comes from the handler's clock");
        assert_eq!(
            (num(first, "ColdStarts"), num(first, "JwksFetches"), num(first, "JwksFetchFailures")),
            (1.0, 1.0, 0.0)
        );
        assert!(num(first, "Latency") > 0.0);
        assert_eq!(dimension_sets(first), HashSet::from(["Function".into(), "Function,Outcome".into()]));
        assert!(!declared(first).contains("Rejections"));
        for doc in &docs[1..] {
            assert_eq!((num(doc, "ColdStarts"), num(doc, "JwksFetches")), (0.0, 0.0), "{doc:?}");
        }
        let rejected = &docs[1];
        assert_eq!(num(rejected, "Rejections"), 1.0);
        assert!(dimension_sets(rejected).contains("Function,Reason"));
    }

    #[tokio::test]
    async fn an_unreachable_jwks_is_a_failed_fetch_and_jwks_unavailable() {
        let idp = Idp::start().await;
        idp.set_fault(Fault::Down);
        let lines = Arc::new(Lines::default());
        let (trigger, _clock) = idp.trigger_with(&[("OBO_METRICS", "emf")]).await;
        let trigger = trigger.with_metrics_sink(lines.clone());
        let good = idp.sign_access(&idp.alice_access_claims());
        let err = trigger.handle(m2m_event(OBO_CLIENT, Some(&good))).await.unwrap_err();
        assert_eq!(err.reason, ReasonCode::JwksUnavailable);
        let doc = lines.take("CognitoObo", &[]).pop().unwrap();
        assert_eq!(doc["Reason"], "jwks_unavailable");
        assert_eq!((num(&doc, "JwksFetches"), num(&doc, "JwksFetchFailures")), (1.0, 1.0));
    }

    #[tokio::test]
    async fn off_writes_nothing_and_the_namespace_is_configurable() {
        let idp = Idp::start().await;
        let good = idp.sign_access(&idp.alice_access_claims());
        let lines = Arc::new(Lines::default());
        let (off, _clock) = idp.trigger_with(&[("OBO_METRICS", "off")]).await;
        let off = off.with_metrics_sink(lines.clone());
        off.handle(m2m_event(OBO_CLIENT, Some(&good))).await.unwrap();
        assert!(lines.0.lock().unwrap().is_empty());

        let (named, _clock) =
            idp.trigger_with(&[("OBO_METRICS", "emf"), ("OBO_METRICS_NAMESPACE", "Team/Identity")]).await;
        let named = named.with_metrics_sink(lines.clone());
        named.handle(m2m_event(OBO_CLIENT, Some(&good))).await.unwrap();
        assert_eq!(lines.take("Team/Identity", &[]).len(), 1);
    }
}

mod interceptor {
    use super::*;

    const TARGETS: [&str; 4] = ["crm", "billing", "weather", "admin"];

    async fn build(
        idp: &FakeIdp,
        extra: &[(&str, &str)],
    ) -> (obo_core::interceptor::Interceptor, Arc<Lines>) {
        let lines = Arc::new(Lines::default());
        let extra: Vec<(&str, &str)> =
            [("OBO_METRICS", "emf")].into_iter().chain(extra.iter().copied()).collect();
        let (interceptor, _clock) = idp.interceptor(&extra).await;
        (interceptor.with_metrics_sink(lines.clone()), lines)
    }

    #[tokio::test]
    async fn a_miss_then_a_hit_per_target() {
        let idp = FakeIdp::start().await;
        let (interceptor, lines) = build(&idp, &[]).await;
        let sub = new_sub();
        let user = idp.user_token(&sub, 3600);
        for _ in 0..2 {
            assert!(
                forwarded_token(&interceptor.handle(call_as("crm___get_account", &user)).await).is_some()
            );
        }
        let raw = lines.0.lock().unwrap().concat();
        assert!(!raw.contains(&sub) && !user.split('.').any(|part| raw.contains(part)), "{raw}");
        let docs = lines.take("CognitoObo", &TARGETS);
        let (miss, hit) = (&docs[0], &docs[1]);
        for doc in [miss, hit] {
            assert_eq!(
                (doc["Function"].as_str(), doc["Outcome"].as_str()),
                (Some("interceptor"), Some("forwarded"))
            );
            assert_eq!(doc["Target"], "crm");
            assert!(dimension_sets(doc).is_superset(&HashSet::from([
                "Function,Target".to_owned(),
                "Function,Target,Outcome".to_owned()
            ])));
            assert!(!declared(doc).contains("JwksFetches"), "no key cache without OBO_VERIFY_INBOUND");
        }
        assert_eq!((num(miss, "CacheHits"), num(miss, "CacheMisses")), (0.0, 1.0));
        assert_eq!(miss["IdpStatus"], "2xx");
        assert_eq!((num(miss, "IdpRequests"), num(miss, "IdpAttempts")), (1.0, 1.0));
        assert!(num(miss, "ExchangeLatency") > 0.0);
        assert_eq!(num(miss, "ColdStarts"), 1.0);
        assert_eq!((num(hit, "CacheHits"), num(hit, "CacheMisses")), (1.0, 0.0));
        assert_eq!(num(hit, "ColdStarts"), 0.0);
        for absent in ["IdpStatus", "IdpRequests", "ExchangeLatency", "Reason", "Rejections"] {
            assert!(!hit.contains_key(absent), "{absent} on a hit: {hit:?}");
        }
    }

    #[tokio::test]
    async fn throttling_is_idp_status_429_retried_or_not() {
        let idp = FakeIdp::start().await;
        let (retrying, lines) = build(&idp, &[]).await;
        idp.script([Reply::Status(429, Some(0))]);
        let out = retrying.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
        assert!(forwarded_token(&out).is_some());
        let doc = lines.take("CognitoObo", &TARGETS).pop().unwrap();
        assert_eq!((doc["IdpStatus"].as_str(), num(&doc, "IdpAttempts")), (Some("2xx"), 2.0));

        let (once, lines) = build(&idp, &[("OBO_MAX_RETRIES", "0")]).await;
        idp.script([Reply::Status(429, None)]);
        let out = once.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
        assert_eq!(short_circuit(&out).map(|s| s.1), Some("idp_throttled".into()));
        let doc = lines.take("CognitoObo", &TARGETS).pop().unwrap();
        assert_eq!((doc["IdpStatus"].as_str(), doc["Reason"].as_str()), (Some("429"), Some("idp_throttled")));
        assert_eq!(
            (num(&doc, "IdpRequests"), num(&doc, "IdpAttempts"), num(&doc, "Rejections")),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(num(&doc, "CacheMisses"), 1.0);
    }

    #[tokio::test]
    async fn timeouts_refusals_and_unreachable_endpoints_have_their_class() {
        let idp = FakeIdp::start().await;
        let (interceptor, lines) =
            build(&idp, &[("OBO_ATTEMPT_TIMEOUT_MS", "200"), ("OBO_FAILURE_CACHE_SECONDS", "0")]).await;
        let ask = || interceptor.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600)));
        idp.script([Reply::Slow(Duration::from_secs(2))]);
        ask().await;
        idp.script([Reply::OAuth("invalid_request", None)]);
        ask().await;
        idp.script([Reply::WithoutOboSub]);
        ask().await;
        let got: Vec<(String, String)> = lines
            .take("CognitoObo", &TARGETS)
            .iter()
            .map(|d| (d["IdpStatus"].as_str().unwrap().to_owned(), d["Reason"].as_str().unwrap().to_owned()))
            .collect();
        let expected = [("timeout", "idp_unavailable"), ("400", "obo_denied"), ("2xx", "obo_claims_missing")];
        assert_eq!(got, expected.map(|(s, r)| (s.to_owned(), r.to_owned())));

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let endpoint = format!("http://{closed}/oauth2/token");
        let (unreachable, lines) =
            build(&idp, &[("OBO_TOKEN_ENDPOINT", endpoint.as_str()), ("OBO_MAX_RETRIES", "0")]).await;
        unreachable.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
        let doc = lines.take("CognitoObo", &TARGETS).pop().unwrap();
        assert_eq!(
            (doc["IdpStatus"].as_str(), doc["Reason"].as_str()),
            (Some("connect"), Some("idp_unavailable"))
        );
    }

    #[tokio::test]
    async fn caller_chosen_targets_are_unlisted_and_requests_without_one_have_none() {
        let idp = FakeIdp::start().await;
        let (interceptor, lines) = build(&idp, &[]).await;
        let user = idp.user_token(&new_sub(), 3600);
        interceptor.handle(call_as("caller-chosen-target-5e2b___x", &user)).await;
        interceptor.handle(call_as("admin___x", &user)).await;
        interceptor.handle(call("crm___x", None)).await;
        let mut list = call("crm___x", None);
        list["mcp"]["gatewayRequest"]["body"] = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        interceptor.handle(list).await;
        interceptor.handle(json!({"unexpected": true})).await;
        assert!(!lines.0.lock().unwrap().concat().contains("caller-chosen"));
        let docs = lines.take("CognitoObo", &TARGETS);
        let got: Vec<(Option<&str>, &str, Option<&str>)> = docs
            .iter()
            .map(|d| {
                let s = |k: &str| d.get(k).and_then(Value::as_str);
                (s("Target"), s("Outcome").unwrap(), s("Reason"))
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("unlisted"), "rejected", Some("target_unlisted")),
                (Some("admin"), "rejected", Some("target_denied")),
                (Some("crm"), "rejected", Some("subject_missing")),
                (None, "passthrough", None),
                (None, "rejected", Some("bad_event")),
            ]
        );
        assert!(!docs[2].contains_key("CacheHits"), "refused before the cache");
        assert!(!dimension_sets(&docs[3]).iter().any(|s| s.contains("Target")));
    }

    #[tokio::test]
    async fn inbound_verification_reports_its_jwks_fetches() {
        let idp = FakeIdp::start().await;
        let (interceptor, lines) = build(
            &idp,
            &[
                ("OBO_VERIFY_INBOUND", "true"),
                ("OBO_SUBJECT_ISSUERS", idp.issuer.as_str()),
                ("OBO_SUBJECT_CLIENT_IDS", interceptor_support::USER_CLIENT),
            ],
        )
        .await;
        interceptor.prefetch().await;
        for _ in 0..2 {
            interceptor.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
        }
        let docs = lines.take("CognitoObo", &TARGETS);
        assert_eq!(num(&docs[0], "JwksFetches"), 1.0, "the cold start's prefetch counts on the first line");
        assert_eq!((num(&docs[1], "JwksFetches"), num(&docs[1], "JwksFetchFailures")), (0.0, 0.0));
    }
}

/// Cognito's API answers throttling with HTTP 400 and `TooManyRequestsException`: still `429`.
#[cfg(feature = "aws")]
mod sdk {
    use interceptor_support::aws::FakeAws;
    use obo_core::clock::{ManualClock, SharedClock};
    use obo_core::interceptor::{Interceptor, InterceptorConfig};

    use super::*;

    #[tokio::test]
    async fn get_client_token_throttling_is_idp_status_429() {
        let idp = FakeIdp::start().await;
        let aws = FakeAws::start("", "pool-secret").await;
        let mut env = idp.env();
        env.remove("OBO_CLIENT_SECRET");
        env.insert("OBO_METRICS".into(), "emf".into());
        for (k, v) in [
            ("OBO_TOKEN_TRANSPORT", "sdk"),
            ("OBO_CLIENT_SECRET", "pool-secret"),
            ("OBO_MAX_RETRIES", "0"),
            ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", &aws.url()),
        ] {
            env.insert(k.to_owned(), v.to_owned());
        }
        let sdk = super::sdk_support::sdk_config(&aws.url()).await;
        let clock: SharedClock = ManualClock::at_secs(obo_testkit::tokens::now_secs());
        let config = InterceptorConfig::from_env(&env).unwrap();
        let lines = Arc::new(Lines::default());
        let interceptor =
            Interceptor::with_sdk_config(config, &sdk, clock).await.unwrap().with_metrics_sink(lines.clone());
        aws.state.token_errors.lock().unwrap().push_back((
            400,
            "TooManyRequestsException",
            "slow down".into(),
        ));
        let out = interceptor.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
        assert_eq!(short_circuit(&out).map(|s| s.1), Some("idp_throttled".into()));
        interceptor.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
        let docs = lines.take("CognitoObo", &["crm", "billing", "weather", "admin"]);
        assert_eq!(docs[0]["IdpStatus"], "429");
        assert_eq!(docs[1]["IdpStatus"], "2xx");
    }
}
