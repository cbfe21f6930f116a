//! Figure 4b: the interceptor's peak resident memory with its token cache full at its default
//! size (`OBO_CACHE_MAX_ENTRIES`, 10,000). The real release binary runs under the local Runtime
//! API host against the Cognito emulator (a pool with generated users) and the real trigger;
//! each generated user's token is one `tools/call` of the on-behalf-of target, so one token
//! request and one cache entry. The floor is the same process after its first call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use obo_local::cognito::OBO_CLIENT;
use obo_local::invoke::Invoke;
use obo_local::stack::Stack;
use serde_json::{Value, json};

use crate::fixture::{self, Paths};
use crate::report::{Figure, Goal, Unit};

const DEADLINE: Duration = Duration::from_secs(10);

/// What was measured, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Distinct users (cache entries) after the fill.
    pub entries: usize,
    /// `VmHWM` after the first call.
    pub empty_peak: u64,
    /// `VmHWM` with the cache full.
    pub full_peak: u64,
    /// `VmRSS` with the cache full.
    pub full_rss: u64,
    /// The trigger's `VmHWM` after it answered every token request.
    pub trigger_peak: u64,
    /// How long the fill took.
    pub fill: Duration,
}

/// One `tools/call` of `crm` for `username`, which must come back with a minted token.
async fn call(stack: &Stack, username: &str, id: u64) -> Result<(), String> {
    let token = fixture::user_token(stack, username)?;
    let out = stack
        .interceptor
        .invoke(fixture::tools_call_event(&token, "crm___whoami", id), DEADLINE)
        .await
        .map_err(|e| format!("interceptor ({username}): {e}"))?;
    if fixture::forwards_with_token(&out) {
        Ok(())
    } else {
        Err(format!(
            "interceptor did not forward for {username}: {}",
            out["mcp"]["transformedGatewayResponse"]
        ))
    }
}

/// Fills the cache of a fresh stack's interceptor with `users` users' tokens.
pub async fn measure(paths: &Paths, users: usize) -> Result<Memory, String> {
    let stack = fixture::stack(paths, users).await?;
    call(&stack, "alice", 0).await?;
    let pid = stack.interceptor.pid().await.ok_or("the interceptor is not running")?;
    let (empty_peak, _) = fixture::memory(pid)?;
    let started = Instant::now();
    let next = AtomicUsize::new(1);
    // Three invocations in flight: the host runs one at a time per environment, and one waiting
    // keeps it busy.
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i > users {
                return Ok::<(), String>(());
            }
            call(&stack, &fixture::user_name(i), i as u64).await?;
        }
    };
    let results = tokio::join!(worker(), worker(), worker());
    results.0.and(results.1).and(results.2)?;
    let fill = started.elapsed();
    if stack.interceptor.pid().await != Some(pid) {
        return Err("the interceptor restarted during the fill".into());
    }
    let requests = stack.cognito.counters().client(OBO_CLIENT).m2m_requests();
    if requests != users as u64 + 1 {
        return Err(format!("{requests} token requests for {} distinct users", users + 1));
    }
    let (full_peak, full_rss) = fixture::memory(pid)?;
    let trigger = stack.trigger.pid().await.ok_or("the trigger is not running")?;
    let (trigger_peak, _) = fixture::memory(trigger)?;
    stack.shutdown().await;
    Ok(Memory { entries: users + 1, empty_peak, full_peak, full_rss, trigger_peak, fill })
}

/// The row: ≤ 64 MB (half of Lambda's smallest memory size).
pub fn figures(m: &Memory) -> Vec<Figure> {
    let mb = |b: u64| b as f64 / 1e6;
    vec![
        Figure::new(
            "interceptor_peak_rss_full_cache_mb",
            "Peak RSS: interceptor, cache full",
            mb(m.full_peak),
            Unit::Megabytes,
        )
        .floor("same process, 1 entry", mb(m.empty_peak))
        .goal(Goal::AtMost { value: 64.0 })
        .note(format!(
            "VmHWM of the release binary after {} distinct users' tokens (default OBO_CACHE_MAX_ENTRIES \
                 10,000: the cache is full); trigger peak {:.2} MB",
            m.entries,
            mb(m.trigger_peak)
        )),
    ]
}

/// The raw values.
pub fn details(m: &Memory) -> Value {
    json!({
        "distinct_users": m.entries,
        "interceptor_vmhwm_bytes_one_entry": m.empty_peak,
        "interceptor_vmhwm_bytes_full": m.full_peak,
        "interceptor_vmrss_bytes_full": m.full_rss,
        "trigger_vmhwm_bytes": m.trigger_peak,
        "fill_seconds": m.fill.as_secs_f64(),
        "in_flight": 3,
    })
}
