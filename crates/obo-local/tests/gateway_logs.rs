//! The gateway's and targets' log lines tell the story of a request (user, target, interceptor
//! outcome, status) and never hold a token. One test per process: it installs the process-wide
//! subscriber, so no other test's callsites can race it.

mod gateway_support;

use gateway_support::double::*;
use gateway_support::*;
use serde_json::json;

#[tokio::test]
async fn logs_tell_the_story_without_any_token() {
    let captured = obo_testkit::capture::Capture::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("obo_local=trace,obo_core=trace,obo_target=trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let s = stack(true).await;
    let alice_token = s.issuer.user_token(&alice(), WEB_CLIENT);
    let client = mcp_client(&s.gateway.mcp_url(), Some(&alice_token)).await.unwrap();
    client.call_tool(call("crm___get_account", json!({"account_id": "A-1"}))).await.unwrap();
    client.call_tool(call("weather___get_forecast", json!({"city": "Lima"}))).await.unwrap();
    client.cancel().await.unwrap();
    let forged = s.issuer.user_token(&alice(), "other-client");
    assert!(mcp_client(&s.gateway.mcp_url(), Some(&forged)).await.is_err());

    let logs = captured.text();
    let obo_call = logs
        .lines()
        .find(|l| l.contains("gateway request") && l.contains("target_name=crm"))
        .unwrap_or_else(|| panic!("no crm line in:\n{logs}"));
    assert!(obo_call.contains("sub-alice") && obo_call.contains("authorization_set"), "{obo_call}");
    assert!(logs.contains("subject_client_not_allowed"), "{logs}");
    let mut tokens = vec![alice_token, forged];
    tokens.extend(s.crm.authorizations().values());
    tokens.extend(s.weather.authorizations().values());
    for token in tokens {
        for part in token.trim_start_matches("Bearer ").split('.') {
            assert!(!logs.contains(part), "a token part is in the logs:\n{logs}");
        }
    }
}
