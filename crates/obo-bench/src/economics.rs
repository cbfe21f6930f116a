//! Figure 5's rows: the simulated day in token exchanges and dollars, for the real caches (one
//! per execution environment), an uncached design, and the ideal caches.

use serde_json::{Value, json};

use crate::cost::{Cost, Durations, Prices, TierCost};
use crate::report::{Figure, Goal, Unit};
use crate::shared_tier::TierModel;
use crate::simulation::Outcome;
use crate::workload::Workload;

/// The designs compared, each with its exchange count.
fn designs(o: &Outcome) -> [(&'static str, u64); 5] {
    [
        ("cached", o.exchanges),
        ("shared_tier", o.tier.exchanges),
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
            .note("context only: an ideal cache shared by all execution environments"),
        shared_tier_exchanges(o),
        shared_tier_cost(o, d, p, shared.total),
    ]
}

/// The shared tier's token requests against one ideal shared cache (goal: 1.05×).
fn shared_tier_exchanges(o: &Outcome) -> Figure {
    let m = TierModel::DEFAULT;
    let t = &o.tier;
    Figure::new("sim_shared_tier_exchanges", "Day simulation: token exchanges, shared tier", t.exchanges as f64, Unit::Count)
        .floor("ideal shared cache", o.ideal_shared as f64)
        .goal(Goal::RatioAtMost { ratio: 1.05 })
        .note(format!(
            "OBO_SHARED_CACHE: the real caches with one table behind them; window between a local miss and \
             the put {} ms (get {} + token request {} + put {}); {} local hits, {} shared hits, {} GetItem, {} \
             PutItem stored + {} lost; {} token requests raced another environment's",
            m.window_ms(),
            m.get_ms,
            m.mint_ms,
            m.put_ms,
            t.local_hits,
            t.shared_hits,
            t.reads,
            t.writes,
            t.lost_writes,
            t.races
        ))
}

/// The shared tier's cost per million tool calls, DynamoDB included.
fn shared_tier_cost(o: &Outcome, d: &Durations, p: &Prices, ideal_shared: f64) -> Figure {
    let m = TierModel::DEFAULT;
    let base = Cost::per_million_calls(o.calls, o.tier.exchanges, d, p);
    let tier = TierCost::per_million_calls(o.calls, &o.tier, &m, p);
    Figure::new(
        "cost_per_million_calls_shared_tier",
        "Cost / 1M tool calls, shared tier",
        base.total + tier.total(),
        Unit::Dollars,
    )
    .floor("ideal shared cache", ideal_shared)
    .note(format!(
        "Cognito ${:.2} + Lambda ${:.2} + DynamoDB ${:.4} (GetItem 1 RRU, PutItem {} WRU: ${}/1M RRU, ${}/1M WRU \
         on demand) + Lambda waiting on the table ${:.4}",
        base.cognito,
        base.lambda_requests + base.lambda_compute,
        tier.dynamodb,
        m.write_units(),
        p.per_million_read_units,
        p.per_million_write_units,
        tier.lambda_compute
    ))
}

/// Everything the rows come from.
pub fn details(w: &Workload, o: &Outcome, d: &Durations, p: &Prices) -> Value {
    let per_design: serde_json::Map<String, Value> = designs(o)
        .into_iter()
        .map(|(name, exchanges)| {
            let cost = Cost::per_million_calls(o.calls, exchanges, d, p);
            let mut row = json!({"exchanges": exchanges, "cost_per_million_calls": cost});
            if name == "shared_tier" {
                let tier = TierCost::per_million_calls(o.calls, &o.tier, &TierModel::DEFAULT, p);
                row["table_cost_per_million_calls"] = json!(tier);
                row["total_per_million_calls"] = json!(cost.total + tier.total());
            }
            (name.to_owned(), row)
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
        "shared_tier": {"counts": o.tier, "model": TierModel::DEFAULT},
        "prices": p,
        "durations": d,
    })
}
