//! Figure 5's latencies: tool calls through the whole local stack, timed at a real MCP client in
//! front of the gateway emulator, one call at a time. Each user's first `crm` call is a cache
//! miss (token request to the Cognito emulator, which runs the real trigger); the next ones are
//! hits. `weather` calls (pass-through, no token work in the interceptor) are the floor.
//!
//! Shared-tier hits on a second stack with the tier on (moto's DynamoDB-compatible server on
//! loopback, `make test-tools`) and two interceptor environments the gateway takes turns with:
//! each user's first call mints in one environment and stores the sealed token; the second lands
//! on the other environment, misses locally and is served from the table. Beside each, one
//! `GetItem` round trip to the same server, timed alone right after it: a shared-tier hit should
//! cost a local hit plus about that.
//!
//! The interceptor's own handler times (from its log lines) feed the cost model.

use std::time::Instant;

use obo_local::client::{McpClient, call, connect};
use obo_local::cognito::OBO_CLIENT;
use obo_local::lambda_host::LambdaFunction;
use obo_local::shared_table::SharedCache;
use obo_local::stack::Stack;
use serde_json::{Value, json};

use crate::fixture::{self, Paths, quantile};
use crate::report::{Figure, Unit};

/// Calls per user after the first (cache hits), and pass-through calls per user.
const HITS_PER_USER: usize = 19;
const PASSTHROUGH_PER_USER: usize = 5;

/// Samples in milliseconds, and the interceptor's median handler times.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// First `crm` call of each user (cache miss).
    pub miss: Vec<f64>,
    /// The following `crm` calls (cache hits).
    pub hit: Vec<f64>,
    /// `weather` calls (pass-through).
    pub passthrough: Vec<f64>,
    /// Each user's first call in the other environment, served from the shared table.
    pub shared_hit: Vec<f64>,
    /// One `GetItem` round trip to the local table (ms), timed alone after each shared-tier hit.
    pub table_round_trip: Vec<f64>,
    /// The interceptor's handler time on a miss (median, ms), from its log lines.
    pub handler_miss_ms: f64,
    /// The interceptor's handler time on a hit (median, ms).
    pub handler_hit_ms: f64,
    /// The interceptor's handler time on a shared-tier hit (median, ms).
    pub handler_shared_hit_ms: f64,
}

/// One timed call; a JSON-RPC error or a tool error fails the run.
async fn timed(client: &McpClient, tool: &str, args: Value) -> Result<(f64, Value), String> {
    let started = Instant::now();
    let result = client.call_tool(call(tool, args)).await.map_err(|e| format!("{tool}: {e}"))?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if result.is_error == Some(true) {
        return Err(format!("{tool} answered with a tool error"));
    }
    Ok((ms, result.structured_content.unwrap_or(Value::Null)))
}

/// The `latency_us` values (as ms) of the interceptor's "answered" lines since `mark` whose
/// `field` is `status`.
fn handler_samples(function: &LambdaFunction, mark: usize, field: &str, status: &str) -> Vec<f64> {
    function
        .logs_since(mark)
        .into_iter()
        .filter_map(|line| serde_json::from_str::<Value>(&line.text).ok())
        .filter(|r| r["message"] == "interceptor answered" && r[field] == status)
        .filter_map(|r| r["latency_us"].as_f64())
        .map(|us| us / 1000.0)
        .collect()
}

/// The median `latency_us` (as ms) of the interceptor's "answered" lines since `mark` whose `cache`
/// is `status`.
fn handler_ms(function: &LambdaFunction, mark: usize, status: &str) -> f64 {
    quantile(&mut handler_samples(function, mark, "cache", status), 0.5)
}

/// One user's calls: a miss, hits, pass-throughs; checks crm saw this user.
async fn user_calls(stack: &Stack, username: &str, out: &mut Latencies) -> Result<(), String> {
    let token = fixture::user_token(stack, username)?;
    let sub = stack.cognito.config().user(username).map(|u| u.sub.clone()).unwrap_or_default();
    let client = connect(&stack.gateway_url(), Some(&token)).await.map_err(|e| format!("connect: {e}"))?;
    for i in 0..=HITS_PER_USER {
        let (ms, who) = timed(&client, "crm___whoami", json!({})).await?;
        if who["obo_sub"] != sub.as_str() {
            return Err(format!("crm acted for {} instead of {username}", who["obo_sub"]));
        }
        if i == 0 { out.miss.push(ms) } else { out.hit.push(ms) }
    }
    for _ in 0..PASSTHROUGH_PER_USER {
        out.passthrough.push(timed(&client, "weather___get_forecast", json!({"city": "Lima"})).await?.0);
    }
    let _ = client.cancel().await;
    Ok(())
}

/// Measures `users` users' calls through a fresh stack, after a warm-up user.
pub async fn measure(paths: &Paths, users: usize) -> Result<Latencies, String> {
    let stack = fixture::stack(paths, users).await?;
    user_calls(&stack, "alice", &mut Latencies::default()).await?;
    let (mark, before) =
        (stack.interceptor.log_mark(), stack.cognito.counters().client(OBO_CLIENT).m2m_requests());
    let mut out = Latencies::default();
    for i in 1..=users {
        user_calls(&stack, &fixture::user_name(i), &mut out).await?;
    }
    let requests = stack.cognito.counters().client(OBO_CLIENT).m2m_requests() - before;
    if requests != users as u64 {
        return Err(format!(
            "{requests} token requests for {users} users: the misses and hits are not as counted"
        ));
    }
    out.handler_miss_ms = handler_ms(&stack.interceptor, mark, "miss");
    out.handler_hit_ms = handler_ms(&stack.interceptor, mark, "hit");
    stack.shutdown().await;
    shared_hits(paths, users, &mut out).await?;
    Ok(out)
}

/// Each user's second call on the stack with the shared tier: the other environment's first,
/// a local miss served from the table. Checked: one token request per user, one shared-tier hit
/// per user in the interceptors' logs.
async fn shared_hits(paths: &Paths, users: usize, out: &mut Latencies) -> Result<(), String> {
    let stack = fixture::stack_with(paths, users, SharedCache::Local).await?;
    let table = stack.shared_table.as_ref().ok_or("the stack runs no shared table")?;
    let warm = fixture::user_token(&stack, "alice")?;
    let client = connect(&stack.gateway_url(), Some(&warm)).await.map_err(|e| format!("connect: {e}"))?;
    for _ in 0..4 {
        timed(&client, "crm___whoami", json!({})).await?;
    }
    let _ = client.cancel().await;
    let marks: Vec<usize> = stack.interceptors.iter().map(|e| e.log_mark()).collect();
    let before = stack.cognito.counters().client(OBO_CLIENT).m2m_requests();
    for i in 1..=users {
        let token = fixture::user_token(&stack, &fixture::user_name(i))?;
        let client =
            connect(&stack.gateway_url(), Some(&token)).await.map_err(|e| format!("connect: {e}"))?;
        timed(&client, "crm___whoami", json!({})).await?;
        out.shared_hit.push(timed(&client, "crm___whoami", json!({})).await?.0);
        // The floor's round trip under the same conditions: right after the call, moto as idle.
        out.table_round_trip.push(table.get_round_trip().await?.as_secs_f64() * 1000.0);
        let _ = client.cancel().await;
    }
    let requests = stack.cognito.counters().client(OBO_CLIENT).m2m_requests() - before;
    // The interceptors' log lines arrive through pipes: give them a moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut handler: Vec<f64> = stack
        .interceptors
        .iter()
        .zip(&marks)
        .flat_map(|(env, &mark)| handler_samples(env, mark, "shared_cache", "hit"))
        .collect();
    stack.shutdown().await;
    if requests != users as u64 || handler.len() != users {
        return Err(format!(
            "{requests} token requests and {} shared-tier hits for {users} users: not one miss and one shared hit each",
            handler.len()
        ));
    }
    out.handler_shared_hit_ms = quantile(&mut handler, 0.5);
    Ok(())
}

/// The rows: p50 and p99 of hits and misses, each beside the pass-through call.
pub fn figures(l: &Latencies) -> Vec<Figure> {
    let q = |s: &[f64], q: f64| quantile(&mut s.to_vec(), q);
    let row = |id: &str, name: &str, samples: &[f64], p: f64, label: &str| {
        Figure::new(id, name, q(samples, p), Unit::Millis).floor(label, q(&l.passthrough, p))
    };
    vec![
        row("tool_call_hit_p50_ms", "Tool call via gateway, cache hit p50", &l.hit, 0.5, "pass-through p50").note(format!(
            "real MCP client → gateway emulator → interceptor (release) → crm, one call at a time; {} hits, \
             {} misses (one per user: token request + trigger), {} pass-through calls",
            l.hit.len(),
            l.miss.len(),
            l.passthrough.len()
        )),
        row("tool_call_hit_p99_ms", "Tool call via gateway, cache hit p99", &l.hit, 0.99, "pass-through p99"),
        row("tool_call_miss_p50_ms", "Tool call via gateway, cache miss p50", &l.miss, 0.5, "pass-through p50"),
        row("tool_call_miss_p99_ms", "Tool call via gateway, cache miss p99", &l.miss, 0.99, "pass-through p99"),
        shared("tool_call_shared_hit_p50_ms", "Tool call via gateway, shared-tier hit p50", l, 0.5).note(format!(
            "shared tier on (moto's DynamoDB server on loopback, two interceptor environments in turn): \
             each user's first call in the other environment; floor = cache hit + one GetItem of a \
             same-sized item (timed alone after each of the {} calls, p50 {:.2} ms); interceptor \
             handler median {:.2} ms (local hit {:.2} ms)",
            l.table_round_trip.len(),
            q(&l.table_round_trip, 0.5),
            l.handler_shared_hit_ms,
            l.handler_hit_ms
        )),
        shared("tool_call_shared_hit_p99_ms", "Tool call via gateway, shared-tier hit p99", l, 0.99),
    ]
}

/// A shared-tier hit's percentile beside a local hit's plus one table round trip's.
fn shared(id: &str, name: &str, l: &Latencies, p: f64) -> Figure {
    let q = |s: &[f64]| quantile(&mut s.to_vec(), p);
    let label = format!("cache hit + GetItem p{}", (p * 100.0).round());
    Figure::new(id, name, q(&l.shared_hit), Unit::Millis).floor(&label, q(&l.hit) + q(&l.table_round_trip))
}

/// The raw samples' summary.
pub fn details(l: &Latencies) -> Value {
    let summary = |s: &[f64]| {
        json!({"count": s.len(), "p50_ms": quantile(&mut s.to_vec(), 0.5), "p99_ms": quantile(&mut s.to_vec(), 0.99),
               "max_ms": quantile(&mut s.to_vec(), 1.0)})
    };
    json!({
        "hit": summary(&l.hit), "miss": summary(&l.miss), "passthrough": summary(&l.passthrough),
        "shared_hit": summary(&l.shared_hit), "table_round_trip": summary(&l.table_round_trip),
        "interceptor_handler_median_ms": {"miss": l.handler_miss_ms, "hit": l.handler_hit_ms,
            "shared_hit": l.handler_shared_hit_ms},
    })
}
