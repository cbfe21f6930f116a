//! Each Lambda binary answers an event under AWS's own Runtime Interface Emulator (from the
//! `aws-sam-cli` wheel): proof that the local Runtime API host hides no difference from the real
//! Runtime API. Runs the debug binaries by default; `make test-rie-release` runs the deployed
//! build (musl, release profile) for this machine (`OBO_E2E_PROFILE=x86_64-unknown-linux-musl/release`).

use obo_e2e::{RieFunction, binary};
use serde_json::{Value, json};

#[tokio::test]
async fn pre_token_answers_a_user_sign_in_event() {
    let function = RieFunction::start(&binary("pre-token"), &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let event: Value =
        serde_json::from_str(include_str!("../../events/pre-token/authentication.json")).unwrap();
    let answer: Value = serde_json::from_str(&function.invoke(&event).await).unwrap();
    assert_eq!(answer["response"], json!({"claimsAndScopeOverrideDetails": null}), "{answer}");
    assert_eq!(answer["request"], event["request"]);
}

#[tokio::test]
async fn interceptor_passes_a_tools_list_through_without_headers() {
    let targets = json!({"crm": {"mode": "obo", "scopes": ["cognito-obo/crm"]}}).to_string();
    let function = RieFunction::start(
        &binary("interceptor"),
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("OBO_TARGETS", &targets),
            ("OBO_TOKEN_ENDPOINT", "http://127.0.0.1:9/oauth2/token"),
            ("OBO_CLIENT_ID", "obo-m2m"),
            ("OBO_CLIENT_SECRET", "local-only-secret"),
        ],
    );
    let event: Value =
        serde_json::from_str(include_str!("../../events/interceptor/tools-list.json")).unwrap();
    let answer: Value = serde_json::from_str(&function.invoke(&event).await).unwrap();
    assert_eq!(answer["interceptorOutputVersion"], "1.0", "{answer}");
    let request = &answer["mcp"]["transformedGatewayRequest"];
    assert_eq!(request["body"], event["mcp"]["gatewayRequest"]["body"], "{answer}");
    assert!(request.get("headers").is_none(), "pass-through never echoes headers: {answer}");

    // A tools/call for an unlisted target is refused by default, naming it.
    let mut call: Value =
        serde_json::from_str(include_str!("../../events/interceptor/tools-call.json")).unwrap();
    call["mcp"]["gatewayRequest"]["body"]["params"]["name"] = json!("billing___pay");
    let answer: Value = serde_json::from_str(&function.invoke(&call).await).unwrap();
    let response = &answer["mcp"]["transformedGatewayResponse"];
    assert_eq!(response["statusCode"], 403, "{answer}");
    assert_eq!(response["body"]["error"]["data"]["reason"], "target_unlisted", "{answer}");
}
