//! The Python example target (`examples/python/server.py`, the official MCP Python SDK and
//! PyJWT) as a target of the local gateway, next to the Rust demo targets: a real MCP client
//! calls it through the gateway as alice and bob (the real interceptor and trigger mint its
//! tokens), and the Python target refuses a user's own token sent straight to it.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use obo_e2e::{binary, example_python, free_port, workspace_root};
use obo_local::client::{McpClient, call, connect};
use obo_local::cognito::{DEFAULT_POOL_ID, OBO_CLIENT, TOOL_SYNC_CLIENT, USER_CLIENT};
use obo_local::stack::{Stack, StackOptions, target_scope};
use serde_json::{Value, json};

const ALICE: &str = "a11ce000-0000-4000-8000-00000000a11c";
const BOB: &str = "b0b00000-0000-4000-8000-000000000b0b";

/// `server.py` on a loopback port, trusting `issuer`; killed on drop.
struct PythonTarget {
    child: Child,
    url: String,
}

impl PythonTarget {
    fn start(issuer: &str) -> Self {
        let port = free_port();
        let dir = workspace_root().join("examples/python");
        let child = Command::new(example_python())
            .arg("server.py")
            .args(["--port", &port.to_string()])
            .current_dir(&dir)
            .env("OBO_TARGET_ISSUER", issuer)
            .env("OBO_TARGET_CLIENT_ID", OBO_CLIENT)
            .env("OBO_TARGET_SCOPE", target_scope("py"))
            .env("OBO_TARGET_SERVICE_CLIENT_IDS", TOOL_SYNC_CLIENT)
            .env("OBO_TARGET_USER_ISSUERS", issuer)
            .stdin(Stdio::null())
            .spawn()
            .expect("start examples/python/server.py");
        let mut target = Self { child, url: format!("http://127.0.0.1:{port}/mcp") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = target.child.try_wait().expect("python target status") {
                panic!("the Python target exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "the Python target did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        target
    }
}

impl Drop for PythonTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sign_in(stack: &Stack, username: &str) -> String {
    let password = stack.cognito.config().user(username).expect("user").password.clone();
    stack.cognito.sign_in(USER_CLIENT, username, password.expose()).await.expect("sign in").access_token
}

async fn whoami(client: &McpClient) -> Value {
    let result = client.call_tool(call("py___whoami", json!({}))).await.expect("py___whoami");
    result.structured_content.expect("structured content")
}

/// A raw `initialize` POST straight to the target, bypassing the gateway.
async fn straight(url: &str, authorization: &str) -> (u16, String, Value) {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}});
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", authorization)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .expect("the Python target answers");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

#[tokio::test]
async fn the_python_target_sees_each_user_as_themselves_and_refuses_their_own_tokens() {
    let cognito_port = free_port();
    let issuer = format!("http://127.0.0.1:{cognito_port}/{DEFAULT_POOL_ID}");
    let python = PythonTarget::start(&issuer);
    let mut options =
        StackOptions::new(binary("pre-token").parent().expect("bin dir")).with_target("py", &python.url);
    options.cognito_port = cognito_port;
    let stack = Stack::start(options).await.expect("the local stack starts with the Python target");
    assert_eq!(stack.cognito.issuer(), issuer);
    let tools = stack.gateway.tool_names();
    assert!(
        tools.contains(&"py___whoami".to_owned()) && tools.contains(&"crm___whoami".to_owned()),
        "{tools:?}"
    );

    let alice = sign_in(&stack, "alice").await;
    let bob = sign_in(&stack, "bob").await;
    for (token, sub, name, org) in [(&alice, ALICE, "alice", "acme"), (&bob, BOB, "bob", "globex")] {
        let client =
            connect(&stack.gateway_url(), Some(token)).await.expect("MCP session through the gateway");
        let who = whoami(&client).await;
        assert_eq!(who["obo_sub"], sub, "{who}");
        assert_eq!(who["obo_iss"], issuer.as_str());
        assert_eq!(who["username"], name);
        assert_eq!(who["org_id"], org);
        assert_eq!(who["token_client_id"], OBO_CLIENT);
        let notes = client.call_tool(call("py___list_notes", json!({}))).await.expect("py___list_notes");
        assert_eq!(notes.structured_content.expect("notes")["org_id"], org);
        // The Rust target, on the same stack, agrees on who it is.
        let crm = client.call_tool(call("crm___whoami", json!({}))).await.expect("crm___whoami");
        assert_eq!(crm.structured_content.expect("crm identity")["obo_sub"], sub);
    }

    // A user's own token sent straight to the Python target is refused before MCP sees it.
    let (status, challenge, body) = straight(&python.url, &format!("Bearer {alice}")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(challenge, r#"Bearer error="invalid_token", error_description="token_not_for_target""#);
    assert_eq!(body["reason"], "token_not_for_target");
    assert!(!body.to_string().contains(alice.rsplit('.').next().unwrap()), "no token material in the answer");
    let err = connect(&python.url, Some(&alice)).await.expect_err("a direct MCP session with alice's token");
    assert!(format!("{err:?}").contains("token_not_for_target"), "{err:?}");
    let (status, challenge, _) = straight(&python.url, "Basic YWxpY2U6cHc=").await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, r#"Bearer error="invalid_token", error_description="subject_malformed""#)
    );

    // The gateway's tool-sync token may list the tools but never acts for a user.
    let sync = client_credentials(&stack, TOOL_SYNC_CLIENT, &target_scope("py")).await;
    let direct = connect(&python.url, Some(&sync)).await.expect("a tool-sync session");
    assert!(direct.list_all_tools().await.expect("tools/list").iter().any(|t| t.name == "whoami"));
    let refused =
        direct.call_tool(call("whoami", json!({}))).await.expect_err("whoami with the tool-sync token");
    assert!(format!("{refused:?}").contains("subject_client_not_allowed"), "{refused:?}");
    stack.shutdown().await;
}

/// A client_credentials token of `client` for `scope`, from the emulator's token endpoint.
async fn client_credentials(stack: &Stack, client: &str, scope: &str) -> String {
    let secret = stack.cognito.client_secret(client).expect("machine client").expose().to_owned();
    let response: Value = reqwest::Client::new()
        .post(stack.cognito.token_endpoint())
        .basic_auth(client, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&scope={}", scope.replace('/', "%2F")))
        .send()
        .await
        .expect("token endpoint")
        .json()
        .await
        .expect("token response");
    response["access_token"].as_str().expect("access_token").to_owned()
}
