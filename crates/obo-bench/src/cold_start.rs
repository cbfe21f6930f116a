//! Figure 3: cold starts. Each release binary runs under the local Lambda Runtime API host, which
//! times spawn → first poll for an event (init) and event → response (first invocation); their
//! sum is the cold start, without any time the environment sat idle. The floor is a hello-world
//! `lambda_runtime` function (`hello-lambda`) measured in the same rounds: one run of each
//! function per round, so load on the machine affects all three alike.
//!
//! - `pre-token`: its init prefetches the JWKS of its (loopback) issuer; its first event is an
//!   M2M `TokenGeneration_ClientCredentials` event whose user token it verifies.
//! - `interceptor`: its first event is a `tools/call` of a pass-through target: the function's own
//!   work, with no identity provider to wait for. A second row, without goal, starts with a
//!   `tools/call` of an on-behalf-of target instead: a cache miss, so the first response also
//!   waits for a token request to the Cognito emulator and its (warm) trigger.

use std::time::Duration;

use obo_local::invoke::Invoke;
use obo_local::lambda_host::{FunctionConfig, LambdaFunction};
use obo_local::stack::Stack;
use serde_json::{Value, json};

use crate::fixture::{self, Paths};
use crate::report::{Figure, Goal, Unit};

/// How long one invocation may take, cold start included.
const DEADLINE: Duration = Duration::from_secs(10);

/// The cold starts of one function, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Spawn → first poll for an event.
    pub init_ms: Vec<f64>,
    /// Spawn → first response.
    pub total_ms: Vec<f64>,
}

impl Samples {
    fn median(values: &[f64]) -> f64 {
        fixture::quantile(&mut values.to_vec(), 0.5)
    }

    /// Median cold start.
    pub fn total(&self) -> f64 {
        Self::median(&self.total_ms)
    }

    /// Median init.
    pub fn init(&self) -> f64 {
        Self::median(&self.init_ms)
    }

    fn json(&self) -> Value {
        json!({"median_total_ms": self.total(), "median_init_ms": self.init(),
               "total_ms": self.total_ms, "init_ms": self.init_ms})
    }
}

/// One function under test: its host and the event it answers first.
struct Subject {
    function: LambdaFunction,
    event: Value,
    check: fn(&Value) -> bool,
    samples: Samples,
}

impl Subject {
    async fn start(config: FunctionConfig, event: Value, check: fn(&Value) -> bool) -> Result<Self, String> {
        let name = config.name.clone();
        let function = LambdaFunction::start(config).await.map_err(|e| format!("{name}: {e}"))?;
        // A first start, not counted: all three start together here, and the binary gets read.
        function.ready(DEADLINE).await.map_err(|e| format!("{name}: {e}"))?;
        function.shutdown().await;
        Ok(Self { function, event, check, samples: Samples::default() })
    }

    /// One cold start: the environment is stopped first, so the invocation starts a new one.
    async fn run(&mut self) -> Result<(), String> {
        let name = self.function.name().to_owned();
        let before = self.function.cold_starts().len();
        let out =
            self.function.invoke(self.event.clone(), DEADLINE).await.map_err(|e| format!("{name}: {e}"))?;
        if !(self.check)(&out) {
            return Err(format!("{name} answered unexpectedly: {}", summary(&out)));
        }
        let starts = self.function.cold_starts();
        let cold = starts.get(before).ok_or_else(|| format!("{name}: no cold start recorded"))?;
        self.samples.init_ms.push(cold.init.as_secs_f64() * 1000.0);
        self.samples.total_ms.push(cold.total().as_secs_f64() * 1000.0);
        self.function.shutdown().await;
        Ok(())
    }
}

/// A short, token-free description of an answer.
fn summary(out: &Value) -> String {
    let text = out.to_string();
    text.chars().take(200).collect()
}

/// The cold starts of hello-lambda, pre-token and interceptor, `runs` each.
pub struct ColdStarts {
    /// hello-lambda (the floor).
    pub hello: Samples,
    /// pre-token.
    pub trigger: Samples,
    /// interceptor, first event a pass-through call.
    pub interceptor: Samples,
    /// interceptor, first event an on-behalf-of call (a token request).
    pub interceptor_miss: Samples,
}

fn passes_through(out: &Value) -> bool {
    let request = &out["mcp"]["transformedGatewayRequest"];
    request["body"]["params"]["name"] == "weather___get_forecast" && request.get("headers").is_none()
}

/// Measures `runs` cold starts of each function, beside a local stack whose Cognito emulator and
/// warm trigger answer the interceptor's token requests.
pub async fn measure(paths: &Paths, runs: usize) -> Result<ColdStarts, String> {
    let stack = fixture::stack(paths, 0).await?;
    let measured = measure_with(paths, &stack, runs).await;
    stack.shutdown().await;
    measured
}

async fn measure_with(paths: &Paths, stack: &Stack, runs: usize) -> Result<ColdStarts, String> {
    let token = fixture::user_token(stack, "alice")?;
    let hello = FunctionConfig::new("hello-lambda", paths.hello_lambda()?);
    let trigger = fixture::trigger_function(stack, &paths.binary("pre-token")?);
    let m2m = fixture::client_credentials_event(stack.cognito.pool_id(), &token);
    let interceptor = fixture::interceptor_function(stack, &paths.binary("interceptor")?)?;
    let passthrough = fixture::tools_call_event(&token, "weather___get_forecast", 1);
    let obo = fixture::tools_call_event(&token, "crm___whoami", 1);
    let mut subjects = [
        Subject::start(hello, json!({"hello": "world"}), |out| out["hello"] == "world").await?,
        Subject::start(trigger, m2m, |out| out.to_string().contains("obo_sub")).await?,
        Subject::start(interceptor.clone(), passthrough, passes_through).await?,
        Subject::start(interceptor, obo, fixture::forwards_with_token).await?,
    ];
    for _ in 0..runs {
        for subject in &mut subjects {
            subject.run().await?;
        }
    }
    let [hello, trigger, interceptor, interceptor_miss] = subjects.map(|s| s.samples);
    Ok(ColdStarts { hello, trigger, interceptor, interceptor_miss })
}

/// The rows: goal ≤ 30 ms and ≤ 2× the hello-world.
pub fn figures(c: &ColdStarts) -> Vec<Figure> {
    let runs = c.hello.total_ms.len();
    let row = |id: &str, name: &str, s: &Samples, what: &str| {
        Figure::new(id, name, s.total(), Unit::Millis)
            .floor("hello-world Lambda", c.hello.total())
            .goal(Goal::Both { value: 30.0, ratio: 2.0 })
            .note(format!(
                "median of {runs}, spawn → first response; init {:.2} ms (hello-world {:.2} ms); {what}",
                s.init(),
                c.hello.init()
            ))
    };
    vec![
        row(
            "cold_start_trigger_ms",
            "Cold start: pre-token",
            &c.trigger,
            "init prefetches the JWKS from a loopback issuer; first event an M2M event, its user token verified",
        ),
        row(
            "cold_start_interceptor_ms",
            "Cold start: interceptor",
            &c.interceptor,
            "first event a tools/call of a pass-through target",
        ),
        row(
            "cold_start_interceptor_miss_ms",
            "Cold start: interceptor, first call a miss",
            &c.interceptor_miss,
            "first event an OBO tools/call, so it also waits for a token request to the Cognito emulator \
             and its warm trigger: the identity provider's time, hence no goal",
        )
        .goal(Goal::None),
    ]
}

/// The raw samples.
pub fn details(c: &ColdStarts) -> Value {
    json!({
        "hello_lambda": c.hello.json(),
        "pre_token": c.trigger.json(),
        "interceptor": c.interceptor.json(),
        "interceptor_first_call_a_miss": c.interceptor_miss.json(),
    })
}
