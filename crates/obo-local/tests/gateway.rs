//! The gateway emulator with the real rmcp client in front and the real demo targets behind, on
//! loopback. The interceptor here is a TEST DOUBLE of the interceptor Lambda (it answers per the
//! contract and mints on-behalf-of tokens with the test issuer's key); the end-to-end tests run
//! the real Lambda.

mod gateway_support;

use std::sync::Arc;

use gateway_support::double::*;
use gateway_support::*;
use obo_local::gateway::{self, ClientCredentials, GatewayConfig, GatewayTarget};
use obo_local::targets::crm;
use rmcp::service::ServiceError;
use serde_json::{Value, json};

fn mcp_error(err: ServiceError) -> rmcp::model::ErrorData {
    match err {
        ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test]
async fn the_rmcp_client_lists_and_calls_tools_through_the_gateway() {
    let s = stack(true).await;
    // Synced once at start with each target's own credential, then cached.
    assert_eq!(s.issuer.token_requests(), 2);
    let alice_token = s.issuer.user_token(&alice(), WEB_CLIENT);
    let bob_token = s.issuer.user_token(&bob(), WEB_CLIENT);

    let client = mcp_client(&s.gateway.mcp_url(), Some(&alice_token)).await.unwrap();
    let mut tools: Vec<String> =
        client.list_all_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
    tools.sort();
    assert_eq!(tools, ["crm___get_account", "crm___whoami", "weather___get_forecast"]);

    let account = structured(
        &client.call_tool(call("crm___get_account", json!({"account_id": "A-42"}))).await.unwrap(),
    );
    assert_eq!(account["account"]["org_id"], "acme");
    assert_eq!(account["acting_for"]["obo_sub"], "sub-alice");
    let forecast =
        structured(&client.call_tool(call("weather___get_forecast", json!({"city": "Oslo"}))).await.unwrap());
    assert_eq!(forecast["city"], "Oslo");
    client.cancel().await.unwrap();

    let client = mcp_client(&s.gateway.mcp_url(), Some(&bob_token)).await.unwrap();
    let who = structured(&client.call_tool(call("crm___whoami", json!({}))).await.unwrap());
    assert_eq!((who["obo_sub"].as_str(), who["org_id"].as_str()), (Some("sub-bob"), Some("globex")));
    client.cancel().await.unwrap();

    // No user token ever reached a target; weather only ever saw its own credential.
    for user_token in [&alice_token, &bob_token] {
        let signature = user_token.rsplit('.').next().unwrap();
        assert!(!s.crm.authorizations().any_contains(signature));
        assert!(!s.weather.authorizations().any_contains(signature));
    }
    let weather_seen = s.weather.authorizations().values();
    assert!(!weather_seen.is_empty());
    assert!(weather_seen.iter().all(|v| v == &weather_seen[0]));
    // Credentials stay cached: no token request per call.
    assert_eq!(s.issuer.token_requests(), 2);

    // The interceptor saw the documented input for every request.
    let events = s.interceptor.events();
    let methods: Vec<&str> =
        events.iter().filter_map(|e| e["mcp"]["gatewayRequest"]["body"]["method"].as_str()).collect();
    assert!(methods.contains(&"initialize") && methods.contains(&"tools/list"), "{methods:?}");
    let call_event =
        events.iter().find(|e| e["mcp"]["gatewayRequest"]["body"]["method"] == "tools/call").unwrap();
    assert_eq!(call_event["interceptorInputVersion"], "1.0");
    let request = &call_event["mcp"]["gatewayRequest"];
    assert_eq!((request["path"].as_str(), request["httpMethod"].as_str()), (Some("/mcp"), Some("POST")));
    assert_eq!(request["body"]["params"]["name"], "crm___get_account");
    let raw: Value =
        serde_json::from_str(call_event["mcp"]["rawGatewayRequest"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(raw, request["body"]);
    let headers = request["headers"].as_object().unwrap();
    assert!(headers.keys().all(|k| *k == k.to_ascii_lowercase()), "{:?}", headers.keys());
    assert_eq!(headers["authorization"], format!("Bearer {alice_token}"));
}

#[tokio::test]
async fn unauthenticated_or_foreign_tokens_get_401() {
    let s = stack(true).await;
    let http = reqwest::Client::new();
    let post = |token: Option<String>| {
        let mut request = http
            .post(s.gateway.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    let response = post(None).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    let forged = obo_testkit::RsaSigner::generate("k1").sign(&obo_testkit::tokens::access_claims(
        &s.issuer.issuer,
        WEB_CLIENT,
        &alice(),
        obo_testkit::tokens::now_secs(),
        3600,
    ));
    let other_client = s.issuer.user_token(&alice(), "other-client");
    for (token, reason) in [(forged, "subject_bad_signature"), (other_client, "subject_client_not_allowed")] {
        let response = post(Some(token)).await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains(r#"error="invalid_token""#) && challenge.contains(reason), "{challenge}");
        assert_eq!(response.json::<Value>().await.unwrap()["reason"], reason);
    }
    // The real client sees the challenge too; the interceptor was never invoked.
    let err = mcp_client(&s.gateway.mcp_url(), None).await.unwrap_err();
    assert_eq!(err.auth_challenge(), Some("Bearer"));
    assert!(s.interceptor.events().is_empty());
}

#[tokio::test]
async fn tools_call_is_routed_by_prefix() {
    let s = stack(true).await;
    let client =
        mcp_client(&s.gateway.mcp_url(), Some(&s.issuer.user_token(&alice(), WEB_CLIENT))).await.unwrap();
    let weather_before = s.weather.authorizations().len();
    let crm_before = s.crm.authorizations().len();
    client.call_tool(call("weather___get_forecast", json!({"city": "Rome"}))).await.unwrap();
    assert!(s.weather.authorizations().len() > weather_before);
    assert_eq!(s.crm.authorizations().len(), crm_before);

    for name in ["nope___whoami", "whoami", "crm___", "crmwhoami"] {
        let err = mcp_error(client.call_tool(call(name, json!({}))).await.unwrap_err());
        assert_eq!(err.code.0, -32602, "{name}");
        assert!(err.message.contains("unknown tool"), "{name}: {}", err.message);
    }
    // The prefix is removed: the target knows only its own name for the tool.
    let err = mcp_error(client.call_tool(call("crm___crm___whoami", json!({}))).await.unwrap_err());
    assert_eq!(err.message, "tool not found", "crm's own answer: it has no tool `crm___whoami`");
    assert!(s.crm.authorizations().len() > crm_before);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_short_circuit_answers_without_calling_the_target() {
    let s = stack(true).await;
    s.interceptor.set(Mode::ShortCircuit);
    let user_token = s.issuer.user_token(&alice(), WEB_CLIENT);
    let crm_before = s.crm.authorizations().len();
    let response = reqwest::Client::new()
        .post(s.gateway.mcp_url())
        .header("authorization", format!("Bearer {user_token}"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "crm___whoami"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 9);
    assert_eq!(body["error"]["data"]["reason"], "target_denied");
    assert_eq!(s.crm.authorizations().len(), crm_before);

    // rmcp reports a 403 without challenge as a transport error that quotes the body.
    let client = mcp_client(&s.gateway.mcp_url(), Some(&user_token)).await.unwrap();
    let err = client.call_tool(call("crm___whoami", json!({}))).await.unwrap_err().to_string();
    assert!(err.contains("403") && err.contains("target_denied"), "{err}");
    assert_eq!(s.crm.authorizations().len(), crm_before);
}

#[tokio::test]
async fn interceptor_failures_are_clear_jsonrpc_errors_and_the_gateway_keeps_serving() {
    let s = stack(true).await;
    let client =
        mcp_client(&s.gateway.mcp_url(), Some(&s.issuer.user_token(&bob(), WEB_CLIENT))).await.unwrap();
    for (mode, failure) in [
        (Mode::FunctionError, "function_error"),
        (Mode::Timeout, "timeout"),
        (Mode::Crash, "crashed"),
        (Mode::Hang, "timeout"),
    ] {
        s.interceptor.set(mode);
        let err = mcp_error(client.call_tool(call("crm___whoami", json!({}))).await.unwrap_err());
        assert_eq!(err.code.0, -32603);
        let data = err.data.unwrap();
        assert_eq!((data["source"].as_str(), data["failure"].as_str()), (Some("interceptor"), Some(failure)));
        assert!(err.message.contains("interceptor"), "{}", err.message);
        if mode == Mode::FunctionError {
            assert_eq!(data["reason"], "idp_unavailable");
            assert_eq!(data["retryable"], true);
        }
    }
    s.interceptor.set(Mode::Obo);
    let who = structured(&client.call_tool(call("crm___whoami", json!({}))).await.unwrap());
    assert_eq!(who["obo_sub"], "sub-bob");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn crm_refuses_what_is_not_an_obo_token_even_from_the_gateway() {
    // Without OBO the gateway calls crm with its own (tool-sync) credential: crm must refuse.
    let s = stack(true).await;
    s.interceptor.set(Mode::PassThrough);
    let client =
        mcp_client(&s.gateway.mcp_url(), Some(&s.issuer.user_token(&alice(), WEB_CLIENT))).await.unwrap();
    let err = mcp_error(client.call_tool(call("crm___whoami", json!({}))).await.unwrap_err());
    assert_eq!(err.code, crm::OBO_REFUSED);
    assert_eq!(err.data.unwrap()["reason"], "subject_client_not_allowed");
    client.cancel().await.unwrap();

    // And without any interceptor at all, the same.
    let bare = stack(false).await;
    let client = mcp_client(&bare.gateway.mcp_url(), Some(&bare.issuer.user_token(&alice(), WEB_CLIENT)))
        .await
        .unwrap();
    let err =
        mcp_error(client.call_tool(call("crm___get_account", json!({"account_id": "A"}))).await.unwrap_err());
    assert_eq!(err.data.unwrap()["reason"], "subject_client_not_allowed");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_target_refusing_the_gateway_credential_is_reported() {
    // The gateway's crm credential is weather's: crm's HTTP guard refuses it.
    let issuer = Arc::new(TestIssuer::start().await);
    let crm = crm::start(issuer.crm_verifier()).await;
    let config = GatewayConfig::new(issuer.discovery_url()).with_allowed_clients([WEB_CLIENT]).with_target(
        GatewayTarget::new("crm", crm.mcp_url()).with_credential(ClientCredentials {
            token_url: issuer.token_url(),
            client_id: WEATHER_CLIENT.into(),
            client_secret: "weather-secret".into(),
            scopes: vec![WEATHER_SCOPE.into()],
        }),
    );
    let err = gateway::start(config).await.unwrap_err().to_string();
    assert!(
        err.contains("tool sync with target crm failed") && err.contains("subject_client_not_allowed"),
        "{err}"
    );

    let bad =
        GatewayConfig::new("http://example.com/.well-known/openid-configuration").with_allowed_clients(["c"]);
    let err = gateway::start(bad).await.unwrap_err();
    assert!(matches!(err, gateway::GatewayError::Config(e) if e.variable == "discovery_url"));
    let no_clients = GatewayConfig::new(issuer.discovery_url());
    assert!(gateway::start(no_clients).await.is_err());
}
