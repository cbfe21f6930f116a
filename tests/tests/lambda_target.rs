//! The Lambda target `billing` (obo-target's example `billing_lambda`, a real `lambda_runtime`
//! binary under the local Runtime API host) through the whole local stack: the gateway emulator
//! invokes it with the tool's arguments as the event and the documented client context, the real
//! interceptor delivers the token as the `_obo_token` argument, and a value the client writes
//! under that name never arrives.

use std::time::Duration;

use obo_e2e::binary;
use obo_local::client::{McpClient, call, connect};
use obo_local::cognito::USER_CLIENT;
use obo_local::gateway::client_context;
use obo_local::invoke::{Invoke, InvokeError};
use obo_local::stack::{Stack, StackOptions};
use serde_json::{Value, json};

async fn start() -> Stack {
    let options = StackOptions::new(binary("pre-token").parent().expect("bin dir"));
    Stack::start(options).await.expect("the local stack starts")
}

async fn sign_in(stack: &Stack, username: &str) -> String {
    let password = stack.cognito.user(username).expect("user").password.clone();
    stack.cognito.sign_in(USER_CLIENT, username, password.expose()).await.expect("sign in").access_token
}

async fn client(stack: &Stack, token: &str) -> McpClient {
    connect(&stack.gateway_url(), Some(token)).await.expect("MCP session through the gateway")
}

/// The billing answer (the gateway gives the function's JSON as text content).
async fn billing(client: &McpClient, tool: &str, args: Value) -> Value {
    let result = client.call_tool(call(tool, args)).await.expect(tool);
    let text = result.content.first().and_then(|c| c.as_text()).map(|c| c.text.clone()).expect("text");
    assert_ne!(result.is_error, Some(true), "{tool}: {text}");
    serde_json::from_str(&text).expect("JSON answer")
}

fn billing_logs(stack: &Stack) -> String {
    stack.billing.logs().join("\n")
}

#[tokio::test]
async fn billing_answers_with_each_users_organisation() {
    let stack = start().await;
    let tools =
        client(&stack, &sign_in(&stack, "alice").await).await.list_all_tools().await.expect("tools/list");
    let listed =
        tools.iter().find(|t| t.name == "billing___list_invoices").expect("billing's tool is listed");
    assert!(!serde_json::to_string(&listed.input_schema).unwrap().contains("_obo_token"));
    for (user, sub, org) in [
        ("alice", "a11ce000-0000-4000-8000-00000000a11c", "acme"),
        ("bob", "b0b00000-0000-4000-8000-000000000b0b", "globex"),
    ] {
        let session = client(&stack, &sign_in(&stack, user).await).await;
        let answer = billing(&session, "billing___list_invoices", json!({"status": "paid"})).await;
        assert_eq!(answer["acting_for"]["user"], sub, "{answer}");
        assert_eq!(answer["acting_for"]["org_id"], org, "{answer}");
        assert_eq!(answer["invoices"][0]["status"], "paid", "the other arguments arrive: {answer}");
    }
    // The Lambda target never got a header and never logged a token.
    assert!(!billing_logs(&stack).contains("eyJ"), "a token in the Lambda's logs");
}

#[tokio::test]
async fn a_client_supplied_token_argument_never_arrives() {
    let stack = start().await;
    let alice = sign_in(&stack, "alice").await;
    let bob = sign_in(&stack, "bob").await;
    let session = client(&stack, &alice).await;
    // A made-up value, and bob's own token: neither may reach billing in alice's call.
    for forged in ["forged-by-the-client".to_owned(), bob.clone()] {
        let answer = billing(&session, "billing___whoami", json!({"_obo_token": forged})).await;
        assert_eq!(answer["acting_for"]["user"], "a11ce000-0000-4000-8000-00000000a11c", "{answer}");
        assert_eq!(answer["acting_for"]["org_id"], "acme", "{answer}");
    }
    let logs = billing_logs(&stack);
    assert!(!logs.contains("forged-by-the-client") && !logs.contains("eyJ"), "{logs}");
}

#[tokio::test]
async fn the_lambda_refuses_calls_that_did_not_come_through_the_interceptor() {
    let stack = start().await;
    let alice = sign_in(&stack, "alice").await;
    let context = client_context("billing___whoami", "billing", &json!(1));
    let deadline = Duration::from_secs(10);
    for (event, reason) in [
        (json!({}), "subject_missing"),
        (json!({"_obo_token": alice}), "token_not_for_target"),
        (json!({"_obo_token": "not-a-jwt"}), "subject_malformed"),
    ] {
        let refused = stack.billing.invoke_with_client_context(event, context.clone(), deadline).await;
        match refused {
            Err(InvokeError::Function { error_type, error_message }) => {
                assert_eq!(error_type, reason);
                assert!(!error_message.contains(&alice), "the error quotes the token");
            }
            other => panic!("{reason}: {other:?}"),
        }
    }
    // Without a client context the tool is unknown: refused before any token is looked at.
    let refused = stack.billing.invoke(json!({"_obo_token": "x"}), deadline).await;
    assert!(
        matches!(refused, Err(InvokeError::Function { ref error_type, .. }) if error_type == "bad_event")
    );
}
