//! The end-to-end demo: alice and bob sign in, call tools through the gateway with a real MCP
//! client (the MCP targets `crm` and `weather`, the Lambda target `billing`), and a transcript
//! shows what each layer did — gateway, interceptor (cache miss or hit), Cognito, trigger, and
//! what the target saw — with timings. Token values never appear.

use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito_sdk;
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

use crate::client::{McpClient, call, connect};
use crate::cognito::USER_CLIENT;
use crate::lambda_host::LambdaFunction;
use crate::stack::Stack;

/// What the demo observed, for its closing summary and for tests.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// Tool calls made through the gateway.
    pub tool_calls: usize,
    /// client_credentials requests Cognito answered for the OBO client.
    pub obo_token_requests: u64,
    /// Whether any user token reached a target.
    pub user_token_reached_a_target: bool,
    /// `(user, obo_sub, org_id)` as crm saw them.
    pub crm_saw: Vec<(String, String, String)>,
    /// `(user, obo_sub)` as crm's prompt saw them.
    pub crm_prompt_saw: Vec<(String, String)>,
    /// The text of the weather resource alice read.
    pub weather_resource: Option<String>,
    /// The reason code a prompt of the `deny` target was refused with.
    pub denied_reason: Option<String>,
    /// `(user, obo_sub, org_id)` as the Lambda target `billing` saw them.
    pub billing_saw: Vec<(String, String, String)>,
    /// Whether a `_obo_token` the client wrote into its arguments reached `billing` (it must
    /// not: the interceptor replaces it).
    pub forged_token_arrived: bool,
}

/// Why the demo stopped early.
#[derive(Debug, thiserror::Error)]
#[error("demo failed at {step}: {message}")]
pub struct DemoError {
    step: String,
    message: String,
}

fn fail(step: &str, e: impl std::fmt::Display) -> DemoError {
    DemoError { step: step.to_owned(), message: e.to_string() }
}

/// Writes the transcript.
struct Transcript<'w> {
    out: &'w mut dyn Write,
}

impl Transcript<'_> {
    fn step(&mut self, who: &str, what: &str, took: Duration) {
        let _ = writeln!(self.out, "\n[{who}] {what:<62} {:>6.1} ms", took.as_secs_f64() * 1000.0);
    }

    fn line(&mut self, layer: &str, text: impl std::fmt::Display) {
        let _ = writeln!(self.out, "      {layer:<12} {text}");
    }
}

/// Marks in every log, taken before a step, so that the step's own lines can be shown.
struct Marks {
    cognito: usize,
    trigger: usize,
    interceptor: usize,
    billing: usize,
}

impl Marks {
    fn take(stack: &Stack) -> Self {
        Self {
            cognito: stack.cognito.event_mark(),
            trigger: stack.trigger.log_mark(),
            interceptor: stack.interceptor.log_mark(),
            billing: stack.billing.log_mark(),
        }
    }
}

/// The JSON log records a function wrote since `mark` whose message is one of `messages`.
fn records(function: &LambdaFunction, mark: usize, messages: &[&str]) -> Vec<Value> {
    function
        .logs_since(mark)
        .into_iter()
        .filter_map(|line| serde_json::from_str::<Value>(&line.text).ok())
        .filter(|r| r["message"].as_str().is_some_and(|m| messages.contains(&m)))
        .collect()
}

fn short(sub: &str) -> String {
    sub.chars().take(8).collect::<String>() + "…"
}

fn show_layers(t: &mut Transcript<'_>, stack: &Stack, marks: &Marks) {
    for r in records(
        &stack.interceptor,
        marks.interceptor,
        &["interceptor answered", "interceptor rejected the request"],
    ) {
        let (mode, outcome) = (r["mode"].as_str().unwrap_or("-"), r["outcome"].as_str().unwrap_or("-"));
        let mut text = format!("target {} ({mode}): {outcome}", r["gateway_target"].as_str().unwrap_or("-"));
        if let Some(cache) = r["cache"].as_str() {
            text.push_str(&format!(", cache {cache}"));
        }
        if let Some(reason) = r["reason"].as_str() {
            text.push_str(&format!(", reason {reason}"));
        }
        if let Some(us) = r["latency_us"].as_u64() {
            text.push_str(&format!(", {:.1} ms", us as f64 / 1000.0));
        }
        t.line("interceptor", text);
    }
    for event in stack.cognito.events_since(marks.cognito) {
        t.line("cognito", event);
    }
    for r in records(
        &stack.trigger,
        marks.trigger,
        &["pre-token trigger answered", "pre-token trigger rejected the request"],
    ) {
        t.line(
            "trigger",
            format!(
                "{} from {} → {}{} ({} µs)",
                r["trigger_source"].as_str().unwrap_or("-"),
                r["caller"].as_str().unwrap_or("-"),
                r["outcome"].as_str().unwrap_or("-"),
                r["sub"].as_str().map(|s| format!(" for sub {}", short(s))).unwrap_or_default(),
                r["latency_us"].as_u64().unwrap_or(0),
            ),
        );
    }
    for r in records(&stack.billing, marks.billing, &["billing tool call", "billing refused the call"]) {
        let text = match r["reason"].as_str() {
            Some(reason) => format!("refused: {reason}"),
            None => format!(
                "{} for user {} (token verified from the `_obo_token` argument)",
                r["tool"].as_str().unwrap_or("-"),
                short(r["user"].as_str().unwrap_or("-"))
            ),
        };
        t.line("billing λ", text);
    }
}

async fn sign_in(stack: &Stack, username: &str) -> Result<String, DemoError> {
    let user = stack.cognito.config().user(username).ok_or_else(|| fail("sign-in", "no such user"))?;
    let config = cognito_sdk::Config::builder()
        .behavior_version(cognito_sdk::config::BehaviorVersion::latest())
        .region(cognito_sdk::config::Region::new(stack.cognito.region().to_owned()))
        .endpoint_url(stack.cognito.base_url())
        .build();
    let out = cognito_sdk::Client::from_conf(config)
        .initiate_auth()
        .client_id(USER_CLIENT)
        .auth_flow(cognito_sdk::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", user.password.expose())
        .send()
        .await
        .map_err(|e| fail("sign-in", cognito_sdk::error::DisplayErrorContext(e)))?;
    out.authentication_result()
        .and_then(|r| r.access_token())
        .map(str::to_owned)
        .ok_or_else(|| fail("sign-in", "no access token"))
}

/// One `tools/call` through the gateway, shown with what each layer did.
async fn call_step(
    t: &mut Transcript<'_>,
    stack: &Stack,
    client: &McpClient,
    (who, name, args): (&str, &str, Value),
) -> Result<rmcp::model::CallToolResult, DemoError> {
    let marks = Marks::take(stack);
    let started = Instant::now();
    let result = client.call_tool(call(name, args.clone())).await.map_err(|e| fail(name, e))?;
    t.step(who, &format!("tools/call {name} {args}"), started.elapsed());
    show_layers(t, stack, &marks);
    Ok(result)
}

async fn tool(
    t: &mut Transcript<'_>,
    stack: &Stack,
    client: &McpClient,
    who: &str,
    name: &str,
    args: Value,
) -> Result<Value, DemoError> {
    let result = call_step(t, stack, client, (who, name, args)).await?;
    Ok(result.structured_content.unwrap_or(Value::Null))
}

/// A tool of a Lambda target: the gateway turns the function's JSON answer into text content.
async fn lambda_tool(
    t: &mut Transcript<'_>,
    stack: &Stack,
    client: &McpClient,
    (who, name, args): (&str, &str, Value),
) -> Result<Value, DemoError> {
    let result = call_step(t, stack, client, (who, name, args)).await?;
    let text = result.content.first().and_then(|c| c.as_text()).map(|c| c.text.clone()).unwrap_or_default();
    if result.is_error == Some(true) {
        return Err(fail(name, text));
    }
    serde_json::from_str(&text).map_err(|e| fail(name, e))
}

/// alice's tour of prompts and resources: a crm prompt as herself, the weather resource, and a
/// prompt of the `deny` target refused by the interceptor.
async fn prompts_and_resources(
    t: &mut Transcript<'_>,
    stack: &Stack,
    client: &McpClient,
    who: &str,
    summary: &mut DemoSummary,
) -> Result<(), DemoError> {
    let marks = Marks::take(stack);
    let started = Instant::now();
    let mut arguments = serde_json::Map::new();
    arguments.insert("account_id".into(), json!("A-42"));
    let params = GetPromptRequestParams::new("crm___account_brief").with_arguments(arguments);
    let prompt = client.get_prompt(params).await.map_err(|e| fail("prompts/get", e))?;
    t.step(who, "prompts/get crm___account_brief {\"account_id\":\"A-42\"}", started.elapsed());
    show_layers(t, stack, &marks);
    let text =
        prompt.messages.first().and_then(|m| m.content.as_text()).map(|c| c.text.clone()).unwrap_or_default();
    let brief: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let obo_sub = brief["acting_for"]["obo_sub"].as_str().unwrap_or_default().to_owned();
    t.line(
        "crm saw",
        format!("prompt for obo_sub={} username={}", short(&obo_sub), brief["acting_for"]["username"]),
    );
    summary.crm_prompt_saw.push((who.to_owned(), obo_sub));

    let marks = Marks::take(stack);
    let started = Instant::now();
    let read = client
        .read_resource(ReadResourceRequestParams::new(crate::targets::weather::TODAY))
        .await
        .map_err(|e| fail("resources/read", e))?;
    t.step(who, &format!("resources/read {}", crate::targets::weather::TODAY), started.elapsed());
    show_layers(t, stack, &marks);
    let text = match read.contents.first() {
        Some(ResourceContents::TextResourceContents { text, .. }) => text.clone(),
        _ => String::new(),
    };
    t.line("weather", &text);
    summary.weather_resource = Some(text);

    let marks = Marks::take(stack);
    let started = Instant::now();
    let refused = client.get_prompt(GetPromptRequestParams::new("admin___runbook")).await;
    t.step(who, "prompts/get admin___runbook (target mode deny)", started.elapsed());
    show_layers(t, stack, &marks);
    let reason = match refused {
        Err(e) => crate::client::refusal_reason(&e).ok_or_else(|| fail("prompts/get admin___runbook", e))?,
        Ok(_) => return Err(fail("prompts/get admin___runbook", "a denied target's prompt was answered")),
    };
    t.line("gateway", format!("refused before any target: {reason}"));
    summary.denied_reason = Some(reason);
    Ok(())
}

/// Runs the demo against a started stack, writing the transcript to `out`.
pub async fn run(stack: &Stack, out: &mut dyn Write) -> Result<DemoSummary, DemoError> {
    let mut t = Transcript { out };
    let mut summary = DemoSummary::default();
    let mut user_tokens = Vec::new();
    for (i, username) in ["alice", "bob"].into_iter().enumerate() {
        let marks = Marks::take(stack);
        let started = Instant::now();
        let token = sign_in(stack, username).await?;
        t.step(username, "signs in: InitiateAuth USER_PASSWORD_AUTH (AWS SDK)", started.elapsed());
        show_layers(&mut t, stack, &marks);
        let claims =
            obo_core::subject::jwt::unverified_claims(&token, 16 * 1024).map_err(|e| fail("sign-in", e))?;
        t.line(
            "user token",
            format!(
                "access token of client {} for sub {}, org_id={}, groups={}",
                claims["client_id"].as_str().unwrap_or("-"),
                short(claims["sub"].as_str().unwrap_or("-")),
                claims.get("org_id").cloned().unwrap_or(Value::Null),
                claims.get("cognito:groups").cloned().unwrap_or(json!([])),
            ),
        );

        let client = connect(&stack.gateway_url(), Some(&token)).await.map_err(|e| fail("connect", e))?;
        if i == 0 {
            let started = Instant::now();
            let tools = client.list_all_tools().await.map_err(|e| fail("tools/list", e))?;
            t.step(username, "tools/list through the gateway", started.elapsed());
            let mut names: Vec<String> = tools.iter().map(|tool| tool.name.to_string()).collect();
            names.sort();
            t.line(
                "gateway",
                format!("tools (synced with the gateway's own credential): {}", names.join(", ")),
            );
        }
        let who = tool(&mut t, stack, &client, username, "crm___whoami", json!({})).await?;
        t.line(
            "crm saw",
            format!(
                "obo_sub={} username={} org_id={} groups={} (token of client {})",
                short(who["obo_sub"].as_str().unwrap_or("-")),
                who["username"].as_str().unwrap_or("-"),
                who["org_id"].as_str().unwrap_or("-"),
                who["groups"],
                who["token_client_id"].as_str().unwrap_or("-"),
            ),
        );
        summary.crm_saw.push((
            username.to_owned(),
            who["obo_sub"].as_str().unwrap_or_default().to_owned(),
            who["org_id"].as_str().unwrap_or_default().to_owned(),
        ));
        let account =
            tool(&mut t, stack, &client, username, "crm___get_account", json!({"account_id": "A-42"}))
                .await?;
        t.line("crm saw", format!("account {}", account["account"]));
        let forecast =
            tool(&mut t, stack, &client, username, "weather___get_forecast", json!({"city": "Oslo"})).await?;
        t.line("weather", format!("{forecast}"));
        let list = (username, "billing___list_invoices", json!({"status": "open"}));
        let invoices = lambda_tool(&mut t, stack, &client, list).await?;
        t.line("billing saw", format!("{}", invoices["acting_for"]));
        summary.billing_saw.push((
            username.to_owned(),
            invoices["acting_for"]["user"].as_str().unwrap_or_default().to_owned(),
            invoices["acting_for"]["org_id"].as_str().unwrap_or_default().to_owned(),
        ));
        summary.tool_calls += 4;
        if i == 0 {
            // The client writes the reserved argument itself: the interceptor replaces it.
            let forged = json!({"_obo_token": "forged-by-the-client"});
            let who = lambda_tool(&mut t, stack, &client, (username, "billing___whoami", forged)).await?;
            let arrived = who["acting_for"]["user"].as_str() != Some(summary.billing_saw[0].1.as_str());
            t.line("billing saw", format!("{} (the client's _obo_token never arrived)", who["acting_for"]));
            summary.forged_token_arrived |= arrived;
            summary.tool_calls += 1;
        }
        if i == 0 {
            prompts_and_resources(&mut t, stack, &client, username, &mut summary).await?;
        }
        let _ = client.cancel().await;
        user_tokens.push(token);
    }

    summary.obo_token_requests = stack.cognito.counters().client(crate::cognito::OBO_CLIENT).m2m_requests();
    summary.user_token_reached_a_target = user_tokens.iter().any(|token| {
        let signature = token.rsplit('.').next().unwrap_or(token);
        stack.crm.authorizations().any_contains(signature)
            || stack.weather.authorizations().any_contains(signature)
    });
    let _ = writeln!(
        t.out,
        "\nSummary: {} tool calls and 3 prompt/resource requests through the gateway; {} client_credentials \
         requests at Cognito for the on-behalf-of client (the other calls were cache hits or passthrough); \
         a user token reached a target: {}; a client-written _obo_token reached the Lambda target: {}.",
        summary.tool_calls,
        summary.obo_token_requests,
        if summary.user_token_reached_a_target { "YES (bug)" } else { "never" },
        if summary.forged_token_arrived { "YES (bug)" } else { "never" },
    );
    Ok(summary)
}

/// What the external-provider part of the demo observed: `(user, obo_sub, obo_iss, org_id)` as
/// crm saw them.
#[derive(Debug, Default)]
pub struct ExternalSummary {
    /// One row per user of the provider who reached crm.
    pub crm_saw: Vec<(String, String, String, String)>,
}

/// The demo with users of the local OpenID provider (a stack started with
/// [`crate::stack::StackOptions::with_external_idp`]): carol (organization `org_acme`) and dave
/// (no organization) sign in at the provider and reach crm as themselves.
pub async fn run_external(stack: &Stack, out: &mut dyn Write) -> Result<ExternalSummary, DemoError> {
    let oidc = stack.oidc.as_ref().ok_or_else(|| fail("external provider", "the stack has none"))?;
    let mut t = Transcript { out };
    let mut summary = ExternalSummary::default();
    let _ = writeln!(
        t.out,
        "\nUsers from another identity provider: {} (Auth0-shaped, profile auth0); the gateway's authorizer \
         checks its tokens' aud and azp, the pool only mints the on-behalf-of tokens.",
        oidc.issuer()
    );
    for username in ["carol", "dave"] {
        let started = Instant::now();
        let token = oidc.sign_in(username).await.map_err(|e| fail("sign-in at the provider", e))?;
        t.step(
            username,
            "signs in at the OpenID provider (password grant, audience = the gateway's API)",
            started.elapsed(),
        );
        let client = connect(&stack.gateway_url(), Some(&token)).await.map_err(|e| fail("connect", e))?;
        let who = tool(&mut t, stack, &client, username, "crm___whoami", json!({})).await?;
        let row = (
            username.to_owned(),
            who["obo_sub"].as_str().unwrap_or_default().to_owned(),
            who["obo_iss"].as_str().unwrap_or_default().to_owned(),
            who["org_id"].as_str().unwrap_or("-").to_owned(),
        );
        t.line("crm saw", format!("obo_sub={} obo_iss={} org_id={}", row.1, row.2, row.3));
        summary.crm_saw.push(row);
        let _ = client.cancel().await;
    }
    Ok(summary)
}
