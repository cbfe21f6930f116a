//! The minted token's validity swept over 5, 15, 30 and 60 minutes (`AccessTokenValidityMinutes`
//! of the on-behalf-of client), with `OBO_CACHE_MAX_AGE_SECONDS` raised to match: Cognito token
//! requests and $ per million tool calls per design, against the revocation bound each implies
//! (a minted token works at its target until it expires, cached or not).

use serde_json::{Value, json};

use crate::cost::{Cost, Durations, Prices, TierCost};
use crate::report::{Figure, Unit};
use crate::shared_tier::TierModel;
use crate::simulation;
use crate::workload::{Call, Workload};
use obo_core::interceptor::token_cache::CacheSettings;

/// The validities swept, minutes.
pub const MINUTES: [u64; 4] = [5, 15, 30, 60];

/// One validity's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Minted token validity (= the cache's max age), minutes.
    pub minutes: u64,
    /// Token requests: uncached, per environment, shared tier, ideal shared.
    pub requests: [u64; 4],
    /// $ per million tool calls, same order (DynamoDB included for the shared tier).
    pub cost: [f64; 4],
}

/// Runs the sweep over the day's `calls`.
pub fn run(w: &Workload, settings: CacheSettings, calls: &[Call], d: &Durations, p: &Prices) -> Vec<Point> {
    MINUTES
        .into_iter()
        .map(|minutes| {
            let ms = minutes * 60_000;
            let w = Workload { m2m_token_ms: ms, ..*w };
            let settings = CacheSettings { max_age_ms: ms, ..settings };
            let o = simulation::replay(&w, settings, calls);
            let requests = [o.obo_calls, o.exchanges, o.tier.exchanges, o.ideal_shared];
            let mut cost = requests.map(|r| Cost::per_million_calls(o.calls, r, d, p).total);
            cost[2] += TierCost::per_million_calls(o.calls, &o.tier, &TierModel::DEFAULT, p).total();
            Point { minutes, requests, cost }
        })
        .collect()
}

/// One row per validity: the shared tier's $ per million calls, the rest in the note.
pub fn figures(points: &[Point]) -> Vec<Figure> {
    points
        .iter()
        .map(|pt| {
            Figure::new(
                &format!("sweep_validity_{}min_cost_shared_tier", pt.minutes),
                &format!("Minted tokens valid {} min: cost / 1M calls, shared tier", pt.minutes),
                pt.cost[2],
                Unit::Dollars,
            )
            .note(format!(
                "revocation bound {} min; token requests uncached {} / per environment {} / shared tier {} / ideal \
                 shared {}; $ per 1M calls {:.2} / {:.2} / {:.2} / {:.2}",
                pt.minutes,
                pt.requests[0],
                pt.requests[1],
                pt.requests[2],
                pt.requests[3],
                pt.cost[0],
                pt.cost[1],
                pt.cost[2],
                pt.cost[3]
            ))
        })
        .collect()
}

/// The sweep as data.
pub fn details(points: &[Point]) -> Value {
    let designs = ["uncached", "per_environment", "shared_tier", "ideal_shared"];
    json!(
        points
            .iter()
            .map(|pt| {
                let by = |v: &[f64; 4]| -> Value {
                    designs.iter().zip(v).map(|(d, x)| ((*d).to_owned(), json!(x))).collect()
                };
                json!({
                    "validity_minutes": pt.minutes, "cache_max_age_minutes": pt.minutes,
                    "revocation_bound_minutes": pt.minutes,
                    "token_requests": by(&pt.requests.map(|r| r as f64)),
                    "cost_per_million_calls": by(&pt.cost),
                })
            })
            .collect::<Vec<_>>()
    )
}
