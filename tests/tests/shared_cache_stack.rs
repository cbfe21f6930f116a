//! The shared cache tier (`OBO_SHARED_CACHE`) through the local stack: two execution
//! environments of the real `interceptor` binary (the gateway emulator takes turns with them)
//! over one table in moto's DynamoDB-compatible server (`make test-tools` installs it). A token
//! one environment minted is served by the other from the table; a target's 401 deletes the
//! item; a table that is down or throttles costs no tool call. Each case reads the interceptor's
//! `shared_cache` log field and its metrics line, and counts the Cognito emulator's token
//! requests.

use std::time::{Duration, Instant};

use obo_e2e::binary;
use obo_local::client::{McpClient, call, connect};
use obo_local::cognito::{MintOptions, OBO_CLIENT};
use obo_local::invoke::Invoke;
use obo_local::lambda_host::{LambdaFunction, LogStream};
use obo_local::shared_table::{LOCAL_TIMEOUT_MS, SharedCache};
use obo_local::stack::{Stack, StackOptions};
use obo_testkit::dynamodb::LocalDynamoDb;
use obo_testkit::fault_proxy::{FaultProxy, Throttle};
use serde_json::{Map, Value, json};

const ALICE_SUB: &str = "a11ce000-0000-4000-8000-00000000a11c";

async fn start(shared: SharedCache) -> Stack {
    let options = StackOptions::new(binary("pre-token").parent().expect("bin dir")).with_shared_cache(shared);
    let stack = Stack::start(options).await.expect("the local stack starts");
    assert_eq!(stack.interceptors.len(), 2, "two interceptor environments");
    stack
}

fn user_token(stack: &Stack, username: &str) -> String {
    stack.cognito.mint_access_token(username, &MintOptions::default()).expect("user token")
}

async fn client(stack: &Stack, token: &str) -> McpClient {
    connect(&stack.gateway_url(), Some(token)).await.expect("MCP session through the gateway")
}

fn obo_requests(stack: &Stack) -> u64 {
    stack.cognito.counters().client(OBO_CLIENT).m2m_requests()
}

/// `crm___whoami` through the gateway: who crm acted for, and how long the call took.
async fn whoami(client: &McpClient) -> (String, Duration) {
    let started = Instant::now();
    let result = client.call_tool(call("crm___whoami", json!({}))).await.expect("crm___whoami");
    let took = started.elapsed();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let who = result.structured_content.expect("structured content");
    (who["obo_sub"].as_str().unwrap_or_default().to_owned(), took)
}

/// The last on-behalf-of token crm received.
fn last_crm_token(stack: &Stack) -> String {
    let values = stack.crm.authorizations().values();
    values.last().and_then(|v| v.strip_prefix("Bearer ")).expect("crm got a bearer token").to_owned()
}

/// Log positions of every environment, to read what comes after.
fn marks(stack: &Stack) -> Vec<usize> {
    stack.interceptors.iter().map(|e| e.log_mark()).collect()
}

/// The JSON lines of `env` since `mark` on stdout that satisfy `keep`.
fn lines(
    env: &LambdaFunction,
    mark: usize,
    keep: &dyn Fn(&Map<String, Value>) -> bool,
) -> Vec<Map<String, Value>> {
    env.logs_since(mark)
        .into_iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .filter_map(|l| serde_json::from_str::<Map<String, Value>>(&l.text).ok())
        .filter(|m| keep(m))
        .collect()
}

fn is_tool_call(line: &Map<String, Value>) -> bool {
    line.get("message").and_then(Value::as_str) == Some("interceptor answered")
        && line.get("gateway_target").and_then(Value::as_str) == Some("crm")
}

fn is_metrics(line: &Map<String, Value>) -> bool {
    line.contains_key("_aws") && line.contains_key("SharedCache")
}

/// Per environment, the `shared_cache` values of its crm tool calls since `marks` (`-` for a
/// call the tier had no part in: a local hit), and the `SharedCache` dimensions of its metrics
/// lines.
fn shared_statuses(stack: &Stack, marks: &[usize]) -> Vec<(Vec<String>, Vec<String>)> {
    let field = |lines: Vec<Map<String, Value>>, key: &str| -> Vec<String> {
        lines.iter().map(|l| l.get(key).and_then(Value::as_str).unwrap_or("-").to_owned()).collect()
    };
    stack
        .interceptors
        .iter()
        .zip(marks)
        .map(|(env, &mark)| {
            let calls = field(lines(env, mark, &is_tool_call), "shared_cache");
            (calls, field(lines(env, mark, &is_metrics), "SharedCache"))
        })
        .collect()
}

/// The one environment whose crm tool calls since `marks` include `status` (once, in its log
/// line and its metrics line), after `calls` tool calls in all (pipes are read asynchronously).
async fn environment_with(stack: &Stack, marks: &[usize], calls: usize, status: &str) -> usize {
    let mut per_env = Vec::new();
    for _ in 0..100 {
        per_env = shared_statuses(stack, marks);
        let logged: usize = per_env.iter().map(|(c, _)| c.len()).sum();
        let with: Vec<usize> =
            (0..per_env.len()).filter(|&i| per_env[i].0.iter().any(|s| s == status)).collect();
        let occurrences = per_env.iter().flat_map(|(c, _)| c).filter(|s| *s == status).count();
        if logged >= calls
            && with.len() == 1
            && occurrences == 1
            && per_env[with[0]].1.iter().any(|s| s == status)
        {
            assert_eq!(logged, calls, "{per_env:?}");
            return with[0];
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected `{status}` once in {calls} crm tool calls; per environment (log, metrics): {per_env:?}")
}

/// Alice's first crm call through the gateway: a miss everywhere, minted and stored.
struct FirstCall {
    alice: String,
    client: McpClient,
    /// The environment that minted and stored the token.
    minter: usize,
    /// How long the call took (a mint and two table calls).
    took: Duration,
}

async fn first_call(stack: &Stack) -> FirstCall {
    let alice = user_token(stack, "alice");
    let client = client(stack, &alice).await;
    let mark = marks(stack);
    let (sub, took) = whoami(&client).await;
    assert_eq!(sub, ALICE_SUB);
    assert_eq!(obo_requests(stack), 1);
    let minter = environment_with(stack, &mark, 1, "stored").await;
    FirstCall { alice, client, minter, took }
}

#[tokio::test]
async fn a_token_minted_in_one_environment_is_served_by_the_other_from_the_table() {
    let stack = start(SharedCache::Local).await;
    let FirstCall { alice, client, minter, .. } = first_call(&stack).await;
    let minted = last_crm_token(&stack);

    // The gateway's next invocation goes to the other environment: its first call for alice and
    // crm is a local miss, served from the table, without a token request.
    let mark = marks(&stack);
    let (sub, _) = whoami(&client).await;
    assert_eq!(sub, ALICE_SUB);
    assert_eq!(obo_requests(&stack), 1, "no second token request");
    let reader = environment_with(&stack, &mark, 1, "hit").await;
    assert_ne!(reader, minter, "served by the other environment");
    assert_eq!(last_crm_token(&stack), minted, "the same token, from the table");

    // What a reader of the table sees: one sealed item, nothing of the user or the token in clear.
    let items = stack.shared_table.as_ref().expect("the table").scan().await.expect("scan");
    assert_eq!(items.len(), 1);
    let mut names: Vec<&str> = items[0].keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["k", "ttl", "v"]);
    let mut bytes = format!("{:?}", items[0]).into_bytes();
    bytes.extend_from_slice(items[0]["v"].as_b().expect("v is binary").as_ref());
    let mut forbidden =
        vec![alice.as_str(), minted.as_str(), ALICE_SUB, "alice", OBO_CLIENT, "cognito-obo/crm", "acme"];
    forbidden.extend(alice.split('.').chain(minted.split('.')));
    for needle in forbidden {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle:?} is in the table");
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn a_401_deletes_the_item_and_the_other_environment_mints_anew() {
    let stack = start(SharedCache::Local).await;
    let FirstCall { alice, client, minter, .. } = first_call(&stack).await;
    let refused = last_crm_token(&stack);
    let table = stack.shared_table.as_ref().expect("the table");
    assert_eq!(table.scan().await.expect("scan").len(), 1);

    // crm answers 401 to that token: the gateway's RESPONSE invocation (the documented input:
    // the request as the REQUEST interceptor saw it, plus `gatewayResponse`) lands on the
    // environment that minted it. The gateway emulator has no RESPONSE interceptor
    // (docs/local-gateway.md), so the event is sent to that environment's real binary here.
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "crm___whoami", "arguments": {}}});
    let event = json!({
        "interceptorInputVersion": "1.0",
        "mcp": {
            "rawGatewayRequest": {"body": body.to_string()},
            "gatewayRequest": {"path": "/mcp", "httpMethod": "POST",
                "headers": {"authorization": format!("Bearer {alice}"), "content-type": "application/json"},
                "body": body},
            "gatewayResponse": {"statusCode": 401, "headers": {"www-authenticate": "Bearer error=\"invalid_token\""},
                "body": {"jsonrpc": "2.0", "id": 9, "error": {"code": -32001, "message": "unauthorized"}}},
        },
    });
    let mark = marks(&stack);
    let out =
        stack.interceptors[minter].invoke(event, Duration::from_secs(10)).await.expect("RESPONSE invocation");
    assert_eq!(out["mcp"]["transformedGatewayResponse"]["statusCode"], 401, "the response passes unchanged");
    let evicted = lines(&stack.interceptors[minter], mark[minter], &|l| {
        l.get("message").and_then(Value::as_str) == Some("interceptor answered")
    });
    assert!(
        evicted.iter().any(|l| l["outcome"] == "evicted" && l["shared_cache"] == "evicted"),
        "{evicted:?}"
    );
    assert!(table.scan().await.expect("scan").is_empty(), "the item is gone from the table");

    // The other environment's first call finds no item and mints anew rather than serving the
    // refused token; the minter, evicted locally, then reads the new item.
    let mark = marks(&stack);
    whoami(&client).await;
    let other = environment_with(&stack, &mark, 1, "stored").await;
    assert_ne!(other, minter);
    assert_eq!(obo_requests(&stack), 2);
    let fresh = last_crm_token(&stack);
    assert_ne!(fresh, refused);
    let mark = marks(&stack);
    whoami(&client).await;
    assert_eq!(environment_with(&stack, &mark, 1, "hit").await, minter);
    assert_eq!(last_crm_token(&stack), fresh);
    assert_eq!(obo_requests(&stack), 2);
    stack.shutdown().await;
}

/// A call through an environment that has nothing cached, while the table fails: it succeeds
/// with a token of its own within the tier's deadline plus a mint, and the fallback `status` is
/// in its log line and its metrics line.
async fn fails_over(stack: &Stack, client: &McpClient, sub: &str, mint: Duration, status: &str) {
    let before = obo_requests(stack);
    let mark = marks(stack);
    let (who, took) = whoami(client).await;
    assert_eq!(who, sub, "the tool call succeeds");
    assert_eq!(obo_requests(stack), before + 1, "minted as without the tier");
    environment_with(stack, &mark, 1, status).await;
    let deadline = Duration::from_millis(LOCAL_TIMEOUT_MS.parse().unwrap());
    assert!(took < deadline + mint + Duration::from_secs(1), "{took:?} (a mint took {mint:?})");
}

#[tokio::test]
async fn a_table_outage_fails_no_tool_call() {
    let mut stack = start(SharedCache::Local).await;
    let mint = first_call(&stack).await.took;

    // moto's server is killed: every table call is refused.
    stack.shared_table.as_mut().expect("the table").stop_server();
    let bob = user_token(&stack, "bob");
    let bob_client = client(&stack, &bob).await;
    fails_over(&stack, &bob_client, "b0b00000-0000-4000-8000-000000000b0b", mint, "error").await;
    // The other environment too (bob's token is cached only where it was minted).
    fails_over(&stack, &bob_client, "b0b00000-0000-4000-8000-000000000b0b", mint, "error").await;
    stack.shutdown().await;
}

#[tokio::test]
async fn a_throttling_table_fails_no_tool_call() {
    let moto = tokio::task::spawn_blocking(LocalDynamoDb::start).await.expect("moto");
    let proxy = FaultProxy::start(&moto.url()).await;
    let stack = start(SharedCache::Endpoint(proxy.url())).await;
    let FirstCall { client: alice_client, took: mint, .. } = first_call(&stack).await;
    assert!(proxy.forwarded() >= 4, "CreateTable, UpdateTimeToLive, GetItem, PutItem went through the proxy");

    let bob = user_token(&stack, "bob");
    let bob_client = client(&stack, &bob).await;
    let bob_sub = "b0b00000-0000-4000-8000-000000000b0b";
    proxy.set_throttle(Some(Throttle::ProvisionedThroughputExceeded));
    fails_over(&stack, &bob_client, bob_sub, mint, "throttled").await;
    assert_eq!(proxy.throttled(), 1, "one lookup, no put after a throttled lookup");
    proxy.set_throttle(Some(Throttle::Throttling));
    fails_over(&stack, &bob_client, bob_sub, mint, "throttled").await;
    assert_eq!(proxy.throttled(), 2);

    // Throttling over: alice's next call lands on the environment that did not mint her token,
    // which finds it in the table again.
    proxy.set_throttle(None);
    let mark = marks(&stack);
    whoami(&alice_client).await;
    whoami(&alice_client).await;
    environment_with(&stack, &mark, 2, "hit").await;
    assert_eq!(obo_requests(&stack), 3, "alice once, bob twice");
    stack.shutdown().await;
}
