//! Figure 5: memory over a million invocations. Each Lambda (and the hello-world floor) runs
//! under the local Runtime API host, which hands every invocation its own trace id as Lambda does,
//! and answers `invocations` events from a fixed set of users, so that once warm the interceptor's
//! token cache and the trigger's key cache stop growing: any growth left is per invocation, not
//! data. `VmRSS` is sampled after the warm-up and every tenth of the run; the figure is the growth
//! from the first sample to the last.
//!
//! The defect this isolates: `lambda_runtime` (1.5), handling one event at a time, sets
//! `_X_AMZN_TRACE_ID` with `std::env::set_var` on every invocation; glibc's `setenv` never frees a
//! replaced value (~170 bytes each), musl's frees the values it allocated.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use obo_local::invoke::Invoke;
use obo_local::lambda_host::{FunctionConfig, LambdaFunction};
use serde_json::{Value, json};

use crate::fixture::{self, Paths};
use crate::report::{Figure, Goal, Unit};

/// Invocations of `make bench`.
pub const INVOCATIONS: u64 = 1_000_000;
/// The fixed user set: each one's token goes through the interceptor and the trigger.
pub const USERS: usize = 16;
/// Invocations before the first sample (every user seen, every cache warm).
const WARM_UP: u64 = 10_000;
/// Samples after the warm-up.
const SAMPLES: u64 = 10;
const DEADLINE: Duration = Duration::from_secs(10);

/// One function's run.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// `VmRSS` (bytes) after the warm-up, then every `invocations / SAMPLES`.
    pub rss: Vec<u64>,
    /// Invocations after the warm-up.
    pub invocations: u64,
    /// How long they took.
    pub elapsed: Duration,
}

impl Run {
    /// Growth from the first sample to the last, in bytes (negative when it shrank).
    pub fn growth(&self) -> i64 {
        let first = self.rss.first().copied().unwrap_or(0);
        let last = self.rss.last().copied().unwrap_or(0);
        last as i64 - first as i64
    }

    fn json(&self) -> Value {
        json!({"vmrss_bytes": self.rss, "invocations": self.invocations,
               "seconds": self.elapsed.as_secs_f64(), "growth_bytes": self.growth()})
    }
}

/// The three runs.
#[derive(Debug, Clone, Default)]
pub struct FlatMemory {
    /// hello-lambda (the floor).
    pub hello: Run,
    /// pre-token, M2M events of the fixed users.
    pub trigger: Run,
    /// interceptor, on-behalf-of `tools/call`s of the fixed users (cache hits once warm).
    pub interceptor: Run,
}

/// Runs `invocations` events through each function, after a warm-up.
pub async fn measure(paths: &Paths, invocations: u64) -> Result<FlatMemory, String> {
    let stack = fixture::stack(paths, USERS).await?;
    let measured = measure_with(paths, &stack, invocations).await;
    stack.shutdown().await;
    measured
}

async fn measure_with(
    paths: &Paths,
    stack: &obo_local::stack::Stack,
    invocations: u64,
) -> Result<FlatMemory, String> {
    let tokens = (1..=USERS)
        .map(|i| fixture::user_token(stack, &fixture::user_name(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let pool = stack.cognito.pool_id();
    let m2m: Vec<Value> = tokens.iter().map(|t| fixture::client_credentials_event(pool, t)).collect();
    let calls: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| fixture::tools_call_event(t, "crm___whoami", i as u64))
        .collect();
    let hello = LambdaFunction::start(FunctionConfig::new("hello-lambda", paths.hello_lambda()?))
        .await
        .map_err(|e| format!("hello-lambda: {e}"))?;
    let hello_run =
        run(&hello, &[json!({"hello": "world"})], |out| out["hello"] == "world", invocations).await;
    hello.shutdown().await;
    Ok(FlatMemory {
        hello: hello_run?,
        trigger: run(&stack.trigger, &m2m, |out| out.to_string().contains("obo_sub"), invocations).await?,
        interceptor: run(&stack.interceptor, &calls, fixture::forwards_with_token, invocations).await?,
    })
}

/// Invokes `function` with `events` in turn: a warm-up, then `invocations` more with `VmRSS`
/// sampled; every answer is checked and the process must stay the same.
async fn run(
    function: &LambdaFunction,
    events: &[Value],
    check: fn(&Value) -> bool,
    invocations: u64,
) -> Result<Run, String> {
    let name = function.name().to_owned();
    // Four invocations in flight: the host runs one at a time per environment, the others keep
    // it busy.
    let next = AtomicU64::new(0);
    let drive = |until: u64| {
        let (next, name) = (&next, &name);
        async move {
            let worker = || async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= until {
                        return Ok::<(), String>(());
                    }
                    let event = events[i as usize % events.len()].clone();
                    let out = function.invoke(event, DEADLINE).await.map_err(|e| format!("{name}: {e}"))?;
                    if !check(&out) {
                        let text: String = out.to_string().chars().take(200).collect();
                        return Err(format!("{name} answered unexpectedly: {text}"));
                    }
                }
            };
            let (a, b, c, d) = tokio::join!(worker(), worker(), worker(), worker());
            a.and(b).and(c).and(d)
        }
    };
    drive(WARM_UP).await?;
    let pid = function.pid().await.ok_or_else(|| format!("{name} is not running"))?;
    let mut out = Run { rss: vec![fixture::memory(pid)?.1], invocations, ..Run::default() };
    let started = Instant::now();
    for step in 1..=SAMPLES {
        drive(WARM_UP + invocations * step / SAMPLES).await?;
        out.rss.push(fixture::memory(pid)?.1);
    }
    out.elapsed = started.elapsed();
    if function.pid().await != Some(pid) {
        return Err(format!("{name} restarted during the run"));
    }
    Ok(out)
}

/// The rows: growth over the run, goal ≤ 1 MB, with the hello-world Lambda's in the note.
pub fn figures(m: &FlatMemory) -> Vec<Figure> {
    let mb = |bytes: i64| bytes as f64 / 1e6;
    let row = |id: &str, name: &str, run: &Run, what: &str| {
        let first = run.rss.first().copied().unwrap_or(0) as i64;
        let last = run.rss.last().copied().unwrap_or(0) as i64;
        let per_call = run.growth() as f64 / run.invocations.max(1) as f64;
        let rate = run.invocations as f64 / run.elapsed.as_secs_f64().max(f64::EPSILON);
        // The hello-world's growth is the floor, in the note: a ratio to ~0 bytes means nothing.
        Figure::new(id, name, mb(run.growth()), Unit::Megabytes).goal(Goal::AtMost { value: 1.0 }).note(
            format!(
                "VmRSS {:.2} → {:.2} MB over {} invocations after a {WARM_UP}-invocation warm-up \
                 ({per_call:+.2} bytes each, {rate:.0}/s); {what}; hello-world Lambda {:+.2} MB",
                mb(first),
                mb(last),
                run.invocations,
                mb(m.hello.growth())
            ),
        )
    };
    vec![
        row(
            "memory_growth_trigger_mb",
            "Memory growth over the run: pre-token",
            &m.trigger,
            &format!("M2M events of {USERS} users, each token verified"),
        ),
        row(
            "memory_growth_interceptor_mb",
            "Memory growth over the run: interceptor",
            &m.interceptor,
            &format!("on-behalf-of tools/calls of {USERS} users: cache hits once warm"),
        ),
    ]
}

/// The raw samples.
pub fn details(m: &FlatMemory) -> Value {
    json!({
        "users": USERS, "warm_up_invocations": WARM_UP, "in_flight": 4,
        "hello_lambda": m.hello.json(), "pre_token": m.trigger.json(), "interceptor": m.interceptor.json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_last_sample_minus_first() {
        let run = |rss: Vec<u64>| Run { rss, invocations: 1_000_000, elapsed: Duration::from_secs(100) };
        let m = FlatMemory {
            hello: run(vec![5_000_000, 5_100_000]),
            trigger: run(vec![6_000_000, 9_000_000, 6_500_000]),
            interceptor: run(vec![10_000_000, 180_000_000]),
        };
        assert_eq!((m.trigger.growth(), run(vec![7, 5]).growth()), (500_000, -2));
        let rows = figures(&m);
        assert_eq!(rows[0].pass(), Some(true));
        assert_eq!(rows[1].pass(), Some(false), "170 MB over a million invocations misses the goal");
        assert!(rows[1].note.as_deref().unwrap_or_default().contains("hello-world Lambda +0.10 MB"));
        assert!(rows[1].note.as_deref().unwrap_or_default().contains("+170.00 bytes each"));
    }
}
