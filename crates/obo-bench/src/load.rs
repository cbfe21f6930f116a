//! Figure 6: the local stack under concurrent MCP clients, bounded in count and time, loopback
//! only. Each client acts for its own user: it alternates `crm` (on behalf of the user) and
//! `weather` (pass-through) calls and signs in again every [`CALLS_PER_SESSION`] calls (a new
//! token, a new MCP session, one cache miss), so the trigger works throughout too. Resident
//! memory of the interceptor and trigger processes is sampled at the start, middle and end.
//!
//! The memory rows are a short run's view; [`crate::flat_memory`] isolates growth per invocation
//! over a million of them.

use std::time::{Duration, Instant};

use obo_local::client::{McpClient, call, connect};
use obo_local::stack::Stack;
use serde_json::{Value, json};

use crate::fixture::{self, Paths, quantile};
use crate::report::{Figure, Goal, Unit};

/// Calls per MCP session (per user token).
pub const CALLS_PER_SESSION: usize = 200;
/// Distinct tokens each client cycles through.
const TOKENS_PER_CLIENT: usize = 16;

/// `VmRSS` of the interceptor and trigger (bytes), and the interceptor's invocations so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// The interceptor.
    pub interceptor: u64,
    /// The trigger.
    pub trigger: u64,
    /// Interceptor invocations so far.
    pub invocations: u64,
}

/// What the run saw.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Concurrent clients.
    pub clients: usize,
    /// How long they ran.
    pub elapsed: Duration,
    /// Successful tool calls.
    pub calls: u64,
    /// Failed calls or sessions.
    pub errors: u64,
    /// Sign-ins (sessions) after the first of each client.
    pub sessions: u64,
    /// Call latencies, ms.
    pub latencies: Vec<f64>,
    /// Memory at the start, middle and end.
    pub memory: [Sample; 3],
}

/// What one client did.
#[derive(Default)]
struct ClientRun {
    calls: u64,
    errors: u64,
    sessions: u64,
    latencies: Vec<f64>,
}

async fn client_loop(url: String, tokens: Vec<String>, until: Instant) -> ClientRun {
    let mut run = ClientRun::default();
    let mut session: Option<McpClient> = None;
    let mut n = 0usize;
    while Instant::now() < until {
        if n.is_multiple_of(CALLS_PER_SESSION) {
            if let Some(old) = session.take() {
                let _ = old.cancel().await;
            }
            run.sessions += 1;
            match connect(&url, Some(&tokens[(n / CALLS_PER_SESSION) % tokens.len()])).await {
                Ok(client) => session = Some(client),
                Err(_) => {
                    run.errors += 1;
                    n += CALLS_PER_SESSION;
                    continue;
                }
            }
        }
        let Some(client) = &session else { break };
        let (tool, args) = if n.is_multiple_of(2) {
            ("crm___whoami", json!({}))
        } else {
            ("weather___get_forecast", json!({"city": "Lima"}))
        };
        let started = Instant::now();
        match client.call_tool(call(tool, args)).await {
            Ok(result) if result.is_error != Some(true) => {
                run.calls += 1;
                run.latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            _ => run.errors += 1,
        }
        n += 1;
    }
    if let Some(client) = session {
        let _ = client.cancel().await;
    }
    run
}

fn sample(stack: &Stack, interceptor: u32, trigger: u32) -> Result<Sample, String> {
    Ok(Sample {
        interceptor: fixture::memory(interceptor)?.1,
        trigger: fixture::memory(trigger)?.1,
        invocations: stack.interceptor.stats().invocations,
    })
}

/// Runs `clients` clients for `duration` against a fresh stack.
pub async fn measure(paths: &Paths, clients: usize, duration: Duration) -> Result<Load, String> {
    let stack = fixture::stack(paths, clients).await?;
    let mut tokens = Vec::with_capacity(clients);
    for i in 1..=clients {
        let user = fixture::user_name(i);
        tokens.push(
            (0..TOKENS_PER_CLIENT)
                .map(|_| fixture::user_token(&stack, &user))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    // Warm-up: every process has served both kinds of call before the first sample.
    let warm = connect(&stack.gateway_url(), Some(&fixture::user_token(&stack, "bob")?))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    for (tool, args) in [("crm___whoami", json!({})), ("weather___get_forecast", json!({"city": "Lima"}))] {
        warm.call_tool(call(tool, args)).await.map_err(|e| format!("{tool}: {e}"))?;
    }
    let _ = warm.cancel().await;
    let interceptor = stack.interceptor.pid().await.ok_or("the interceptor is not running")?;
    let trigger = stack.trigger.pid().await.ok_or("the trigger is not running")?;
    let start = sample(&stack, interceptor, trigger)?;
    let started = Instant::now();
    let until = started + duration;
    let handles: Vec<_> =
        tokens.into_iter().map(|t| tokio::spawn(client_loop(stack.gateway_url(), t, until))).collect();
    tokio::time::sleep(duration / 2).await;
    let middle = sample(&stack, interceptor, trigger)?;
    let mut out = Load { clients, ..Load::default() };
    for handle in handles {
        let run = handle.await.map_err(|e| format!("client task: {e}"))?;
        out.calls += run.calls;
        out.errors += run.errors;
        out.sessions += run.sessions;
        out.latencies.extend(run.latencies);
    }
    out.elapsed = started.elapsed();
    let end = sample(&stack, interceptor, trigger)?;
    out.memory = [start, middle, end];
    if stack.interceptor.pid().await != Some(interceptor) || stack.trigger.pid().await != Some(trigger) {
        return Err("a Lambda process restarted during the load".into());
    }
    stack.shutdown().await;
    Ok(out)
}

/// The rows: calls per second, errors (goal 0), memory end vs middle (goal ≤ 1.05×).
pub fn figures(l: &Load) -> Vec<Figure> {
    let rate = l.calls as f64 / l.elapsed.as_secs_f64().max(f64::EPSILON);
    let mb = |b: u64| b as f64 / 1e6;
    let memory = |id: &str, name: &str, pick: fn(&Sample) -> u64| {
        let [start, middle, end] = l.memory.each_ref().map(pick);
        Figure::new(id, name, mb(end), Unit::Megabytes)
            .floor("middle of the run", mb(middle))
            .goal(Goal::RatioAtMost { ratio: 1.05 })
            .note(format!("VmRSS start {:.2} / middle {:.2} / end {:.2} MB", mb(start), mb(middle), mb(end)))
    };
    let [_, middle, end] = l.memory;
    let invocations = end.invocations.saturating_sub(middle.invocations);
    let growth = (end.interceptor as f64 - middle.interceptor as f64) / invocations.max(1) as f64;
    let interceptor =
        memory("load_interceptor_rss_end_mb", "Load: interceptor RSS at end", |s| s.interceptor);
    let note = interceptor.note.clone().unwrap_or_default();
    let interceptor = interceptor.note(format!(
        "{note}; {growth:+.0} bytes per invocation over the second half ({invocations} invocations)"
    ));
    let mut latencies = l.latencies.clone();
    vec![
        Figure::new("load_calls_per_second", &format!("Load: tool calls/s, {} clients", l.clients), rate, Unit::PerSecond)
            .note(format!(
                "{} calls in {:.1} s, half on behalf of users (crm), half pass-through (weather); a new sign-in \
                 every {CALLS_PER_SESSION} calls per client ({} sessions); latency p50 {:.2} ms, p99 {:.2} ms",
                l.calls,
                l.elapsed.as_secs_f64(),
                l.sessions,
                quantile(&mut latencies, 0.5),
                quantile(&mut latencies, 0.99)
            )),
        Figure::new("load_errors", "Load: errors", l.errors as f64, Unit::Count).goal(Goal::Zero),
        interceptor,
        memory("load_trigger_rss_end_mb", "Load: trigger RSS at end", |s| s.trigger),
    ]
}

/// The raw values.
pub fn details(l: &Load) -> Value {
    let mut latencies = l.latencies.clone();
    let memory: Vec<Value> =
        l.memory
            .iter()
            .map(|s| json!({"interceptor": s.interceptor, "trigger": s.trigger, "interceptor_invocations": s.invocations}))
            .collect();
    json!({
        "clients": l.clients, "seconds": l.elapsed.as_secs_f64(), "calls": l.calls, "errors": l.errors,
        "sessions": l.sessions, "calls_per_session": CALLS_PER_SESSION,
        "latency_p50_ms": quantile(&mut latencies, 0.5), "latency_p99_ms": quantile(&mut latencies, 0.99),
        "vmrss_bytes_start_middle_end": memory,
    })
}
