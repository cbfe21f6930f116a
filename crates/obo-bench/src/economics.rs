//! Figure 5's rows: the simulated day in token exchanges and dollars, for the real caches (one
//! per execution environment), an uncached design, and the ideal caches.

use serde_json::{Value, json};

use crate::cost::{Cost, Durations, Prices};
use crate::report::{Figure, Goal, Unit};
use crate::simulation::Outcome;
use crate::workload::Workload;

/// The designs compared, each with its exchange count.
fn designs(o: &Outcome) -> [(&'static str, u64); 4] {
    [
        ("cached", o.exchanges),
        ("ideal_per_environment", o.ideal_per_environment),
        ("ideal_shared", o.ideal_shared),
        ("uncached", o.obo_calls),
    ]
}

/// The rows.
pub fn figures(w: &Workload, o: &Outcome, d: &Durations, p: &Prices) -> Vec<Figure> {
    let cost = |exchanges| Cost::per_million_calls(o.calls, exchanges, d, p);
    let (real, ideal, shared, uncached) =
        (cost(o.exchanges), cost(o.ideal_per_environment), cost(o.ideal_shared), cost(o.obo_calls));
    let envs = w.environments;
    vec![
        Figure::new("sim_exchanges", "Day simulation: token exchanges", o.exchanges as f64, Unit::Count)
            .floor("ideal cache per environment", o.ideal_per_environment as f64)
            .goal(Goal::RatioAtMost { ratio: 1.02 })
            .note(format!(
                "{} tool calls, {} on behalf of users, {} user sign-ins, {envs} execution environments with a \
                 cache each (real TokenCache, default size and skew, peak {} entries); uncached {} exchanges, \
                 one ideal cache shared by all environments {}",
                o.calls, o.obo_calls, o.user_tokens, o.peak_entries, o.obo_calls, o.ideal_shared
            )),
        Figure::new("sim_hit_rate", "Day simulation: cache hit rate", o.hit_rate(), Unit::Fraction)
            .note("of on-behalf-of calls, per execution environment"),
        Figure::new("cost_per_million_calls", "Cost / 1M tool calls, cached", real.total, Unit::Dollars)
            .floor("ideal per environment", ideal.total)
            .note(format!(
                "Cognito ${:.2} + Lambda requests ${:.2} + compute ${:.4}; ${} per 1,000 M2M tokens, \
                 Lambda ${}/1M requests + ${}/GB-s (arm64, 128 MB), billed ms per invocation: \
                 interceptor hit {} / miss {}, trigger {} ({})",
                real.cognito,
                real.lambda_requests,
                real.lambda_compute,
                p.per_1000_m2m_tokens,
                p.per_million_lambda_requests,
                p.per_gb_second_arm64,
                crate::cost::billed_ms(d.interceptor_hit_ms),
                crate::cost::billed_ms(d.interceptor_miss_ms),
                crate::cost::billed_ms(d.trigger_ms),
                d.source
            )),
        Figure::new("cost_per_million_calls_uncached", "Cost / 1M tool calls, uncached", uncached.total, Unit::Dollars)
            .floor("ideal per environment", ideal.total)
            .note("one token request per on-behalf-of call"),
        Figure::new("cost_per_million_calls_shared", "Cost / 1M tool calls, one shared cache", shared.total, Unit::Dollars)
            .floor("ideal per environment", ideal.total)
            .note("context only: an ideal cache shared by all execution environments (Lambda has none)"),
    ]
}

/// Everything the rows come from.
pub fn details(w: &Workload, o: &Outcome, d: &Durations, p: &Prices) -> Value {
    let per_design: serde_json::Map<String, Value> = designs(o)
        .into_iter()
        .map(|(name, exchanges)| {
            let cost = Cost::per_million_calls(o.calls, exchanges, d, p);
            (name.to_owned(), json!({"exchanges": exchanges, "cost_per_million_calls": cost}))
        })
        .collect();
    json!({
        "workload": {
            "users": w.users, "zipf_exponent": w.zipf_exponent, "targets": w.targets,
            "obo_targets": w.obo_targets, "calls": w.calls, "day_hours": w.day_ms as f64 / 3.6e6,
            "user_token_minutes": w.user_token_ms / 60_000, "m2m_token_minutes": w.m2m_token_ms / 60_000,
            "environments": w.environments, "seed": w.seed,
        },
        "calls": o.calls,
        "obo_calls": o.obo_calls,
        "user_tokens": o.user_tokens,
        "hit_rate": o.hit_rate(),
        "peak_entries_per_cache": o.peak_entries,
        "designs": per_design,
        "prices": p,
        "durations": d,
    })
}
