//! The demo targets, called directly with a real rmcp client over loopback HTTP: crm validates
//! on-behalf-of tokens itself and refuses anything else; every Authorization value is recorded.

mod gateway_support;

use gateway_support::*;
use obo_local::targets::{crm, weather};
use rmcp::model::CallToolRequestParams;
use rmcp::service::ServiceError;
use serde_json::{Value, json};

fn call(name: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned()).with_arguments(args.as_object().unwrap().clone())
}

/// The reason code of a JSON-RPC error from a tool call.
fn refused_reason(err: ServiceError) -> String {
    match err {
        ServiceError::McpError(e) => {
            assert_eq!(e.code, crm::OBO_REFUSED, "{e:?}");
            e.data.as_ref().and_then(|d| d["reason"].as_str()).unwrap().to_owned()
        }
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test]
async fn crm_answers_with_the_user_and_org_it_acts_for() {
    let issuer = TestIssuer::start().await;
    let crm = crm::start(issuer.crm_verifier()).await;
    let token = issuer.obo_token(&alice(), json!({}));
    let client = mcp_client(&crm.mcp_url(), Some(&token)).await.unwrap();
    let tools: Vec<String> =
        client.list_all_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(tools.len(), 2);
    assert!(tools.contains(&"whoami".to_owned()) && tools.contains(&"get_account".to_owned()), "{tools:?}");

    let who = structured(&client.call_tool(call("whoami", json!({}))).await.unwrap());
    assert_eq!(who["obo_sub"], "sub-alice");
    assert_eq!(who["username"], "alice");
    assert_eq!(who["org_id"], "acme");
    assert_eq!(who["groups"], json!(["sales"]));
    assert_eq!(who["token_client_id"], OBO_CLIENT);

    let account =
        structured(&client.call_tool(call("get_account", json!({"account_id": "A-42"}))).await.unwrap());
    assert_eq!(account["account"]["org_id"], "acme");
    assert_eq!(account["account"]["account_id"], "A-42");
    assert_eq!(account["acting_for"]["obo_sub"], "sub-alice");
    client.cancel().await.unwrap();

    // Every request carried the same on-behalf-of token, and each one was recorded.
    let seen = crm.authorizations().values();
    assert!(seen.len() >= 4, "{}", seen.len());
    assert!(seen.iter().all(|v| *v == format!("Bearer {token}")));
}

#[tokio::test]
async fn crm_refuses_a_user_token_sent_to_it_directly() {
    let issuer = TestIssuer::start().await;
    let crm = crm::start(issuer.crm_verifier()).await;
    let user_token = issuer.user_token(&alice(), WEB_CLIENT);

    let err = mcp_client(&crm.mcp_url(), Some(&user_token)).await.unwrap_err();
    let challenge = err.auth_challenge().expect("a 401 challenge");
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
    assert!(challenge.contains("token_not_for_target"), "{challenge}");

    // The same refusal over plain HTTP: status, challenge, reason in the body.
    let response = reqwest::Client::new()
        .post(crm.mcp_url())
        .header("authorization", format!("bearer {user_token}"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer error="));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "token_not_for_target");
    assert!(!body.to_string().contains(&user_token));

    // Received, hence recorded: this is what lets the end-to-end tests prove it never happens.
    assert!(crm.authorizations().any_contains(&user_token));

    let none = mcp_client(&crm.mcp_url(), None).await.unwrap_err();
    assert_eq!(none.auth_challenge(), Some("Bearer"));
}

#[tokio::test]
async fn crm_lists_tools_with_a_service_token_but_refuses_to_act_without_obo_claims() {
    let issuer = TestIssuer::start().await;
    let crm = crm::start(issuer.crm_verifier()).await;

    // The gateway's tool-sync credential: a valid service token, not for acting.
    let sync = mcp_client(&crm.mcp_url(), Some(&issuer.m2m_token(SYNC_CLIENT, &[CRM_SCOPE]))).await.unwrap();
    assert_eq!(sync.list_all_tools().await.unwrap().len(), 2);
    let err = sync.call_tool(call("whoami", json!({}))).await.unwrap_err();
    assert_eq!(refused_reason(err), "subject_client_not_allowed");
    sync.cancel().await.unwrap();

    // The on-behalf-of client's token without obo claims (a trigger that did not run).
    let bare = mcp_client(&crm.mcp_url(), Some(&issuer.m2m_token(OBO_CLIENT, &[CRM_SCOPE]))).await.unwrap();
    assert_eq!(bare.list_all_tools().await.unwrap().len(), 2);
    let err = bare.call_tool(call("get_account", json!({"account_id": "A-1"}))).await.unwrap_err();
    assert_eq!(refused_reason(err), "obo_claims_missing");
    bare.cancel().await.unwrap();

    // A delegation whose user token has expired.
    let stale = issuer.obo_token(&alice(), json!({"obo_exp": obo_testkit::tokens::now_secs() - 1}));
    let client = mcp_client(&crm.mcp_url(), Some(&stale)).await.unwrap();
    let err = client.call_tool(call("whoami", json!({}))).await.unwrap_err();
    assert_eq!(refused_reason(err), "subject_expired");
    client.cancel().await.unwrap();

    // A token for another target (weather's scope) does not even get in.
    let weather_token = issuer.m2m_token(SYNC_CLIENT, &[WEATHER_SCOPE]);
    let err = mcp_client(&crm.mcp_url(), Some(&weather_token)).await.unwrap_err();
    assert!(err.auth_challenge().unwrap().contains("token_not_for_target"));
}

#[tokio::test]
async fn weather_is_a_plain_target_that_records_what_it_receives() {
    let issuer = TestIssuer::start().await;
    let open = weather::start(None).await;
    let client = mcp_client(&open.mcp_url(), None).await.unwrap();
    let forecast =
        structured(&client.call_tool(call("get_forecast", json!({"city": "Paris"}))).await.unwrap());
    assert_eq!(forecast["city"], "Paris");
    client.cancel().await.unwrap();
    assert!(open.authorizations().is_empty());

    let guarded = weather::start(Some(issuer.weather_verifier())).await;
    let token = issuer.m2m_token(WEATHER_CLIENT, &[WEATHER_SCOPE]);
    let client = mcp_client(&guarded.mcp_url(), Some(&token)).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap()[0].name, "get_forecast");
    client.cancel().await.unwrap();
    assert!(guarded.authorizations().values().iter().all(|v| *v == format!("Bearer {token}")));
    assert!(!format!("{:?}", guarded.authorizations()).contains(&token));
    let crm_token = issuer.obo_token(&bob(), json!({}));
    assert!(mcp_client(&guarded.mcp_url(), Some(&crm_token)).await.is_err());
}
