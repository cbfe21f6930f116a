//! Lambda targets (`"deliver": {"argument": "_obo_token"}`): the token travels in the tool's
//! arguments and never in `Authorization`; a client-supplied `_obo_token` never reaches any
//! target, in any mode; the RESPONSE interceptor removes minted tokens from what targets answer.

mod interceptor_support;

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use interceptor_support::*;
use obo_core::interceptor::{Interceptor, SCRUBBED_TOKEN};
use obo_core::metrics::MetricsSink;
use serde_json::{Value, json};

/// The test targets plus a Lambda target `ledger` taking its token as an argument.
const TARGETS_WITH_LAMBDA: &str = r#"{
  "crm": {"mode": "obo", "scopes": ["cognito-obo/crm"]},
  "ledger": {"mode": "obo", "scopes": ["cognito-obo/ledger"], "deliver": {"argument": "_obo_token"}},
  "weather": {"mode": "passthrough"},
  "admin": {"mode": "deny"}
}"#;

const FORGED: &str = "forged-by-the-client-0123456789";

async fn interceptor(idp: &FakeIdp, extra: &[(&str, &str)]) -> Interceptor {
    let mut env = vec![("OBO_TARGETS", TARGETS_WITH_LAMBDA)];
    env.extend_from_slice(extra);
    idp.interceptor(&env).await.0
}

/// A `tools/call` whose arguments carry a client-chosen `_obo_token` (twice, once escaped).
fn forged_call(tool: &str, user: &str) -> Value {
    let mut event = call_as(tool, user);
    let raw = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"account":"A-42","_obo_token":"{FORGED}","\u005fobo_token":"{FORGED}-2"}}}}}}"#
    );
    event["mcp"]["gatewayRequest"]["body"] = serde_json::from_str(&raw).unwrap();
    event
}

fn forwarded_body(out: &Value) -> &Value {
    &out["mcp"]["transformedGatewayRequest"]["body"]
}

fn assert_no_forged(out: &Value) {
    assert!(!out.to_string().contains(FORGED), "a client-supplied _obo_token was forwarded: {out}");
}

#[tokio::test]
async fn a_lambda_target_gets_its_token_as_an_argument_and_never_as_a_header() {
    let idp = FakeIdp::start().await;
    let interceptor = interceptor(&idp, &[]).await;
    let sub = new_sub();
    let user = idp.user_token(&sub, 3600);
    let out = interceptor.handle(forged_call("ledger___balance", &user)).await;
    let request = &out["mcp"]["transformedGatewayRequest"];
    assert!(request.get("headers").is_none(), "no header for an argument target: {out}");
    assert_no_forged(&out);
    assert!(!out.to_string().contains(&user), "the user's token leaked");
    let body = forwarded_body(&out);
    let token = body["params"]["arguments"]["_obo_token"].as_str().expect("the minted token").to_owned();
    let claims = claims_of(&token);
    assert_eq!(claims["obo_sub"], json!(sub));
    assert_eq!(claims["scope"], json!("cognito-obo/ledger"));
    // Everything else is the client's body, value for value.
    let mut expected: Value = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ledger___balance","arguments":{"account":"A-42"}}});
    expected["params"]["arguments"]["_obo_token"] = json!(token);
    assert_eq!(body, &expected);
    assert_eq!(idp.calls(), 1);

    // No arguments at all: the token gets an object of its own.
    let mut event = call_as("ledger___balance", &user);
    event["mcp"]["gatewayRequest"]["body"]["params"].as_object_mut().unwrap().remove("arguments");
    let out = interceptor.handle(event).await;
    assert_eq!(forwarded_body(&out)["params"]["arguments"], json!({"_obo_token": token}));
}

#[tokio::test]
async fn a_header_target_never_gets_the_reserved_argument() {
    let idp = FakeIdp::start().await;
    let interceptor = interceptor(&idp, &[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let out = interceptor.handle(forged_call("crm___get_account", &user)).await;
    assert!(forwarded_token(&out).is_some(), "{out}");
    assert_no_forged(&out);
    assert_eq!(forwarded_body(&out)["params"]["arguments"], json!({"account": "A-42"}));
}

#[tokio::test]
async fn no_mode_forwards_a_client_supplied_token_argument() {
    let idp = FakeIdp::start().await;
    let user = idp.user_token(&new_sub(), 3600);
    for default in ["deny", "passthrough"] {
        let interceptor = interceptor(&idp, &[("OBO_DEFAULT_MODE", default)]).await;
        for tool in
            ["weather___now", "admin___drop", "unlisted___x", "no_target_prefix", "crm___x", "ledger___x"]
        {
            let out = interceptor.handle(forged_call(tool, &user)).await;
            assert_no_forged(&out);
            if let Some(body) = out["mcp"]["transformedGatewayRequest"].get("body") {
                assert_eq!(body["params"]["arguments"]["account"], "A-42", "{tool}: {out}");
                let minted = body["params"]["arguments"].get("_obo_token");
                assert_eq!(minted.is_some(), tool.starts_with("ledger"), "{tool}: {out}");
            } else {
                assert!(short_circuit(&out).is_some(), "{tool}: {out}");
            }
        }
    }
    // Prompts carry arguments too.
    let interceptor = interceptor(&idp, &[("OBO_DEFAULT_MODE", "passthrough")]).await;
    let mut event = call_as("weather___p", &user);
    event["mcp"]["gatewayRequest"]["body"] = json!({"jsonrpc":"2.0","id":1,"method":"prompts/get",
        "params":{"name":"weather___p","arguments":{"_obo_token": FORGED, "city":"Oslo"}}});
    let out = interceptor.handle(event).await;
    assert_no_forged(&out);
    assert_eq!(forwarded_body(&out)["params"]["arguments"], json!({"city": "Oslo"}));
}

#[tokio::test]
async fn requests_that_cannot_carry_the_argument_are_refused_before_any_token_is_minted() {
    let idp = FakeIdp::start().await;
    let interceptor = interceptor(&idp, &[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let mut prompt = call_as("ledger___p", &user);
    prompt["mcp"]["gatewayRequest"]["body"] =
        json!({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"ledger___p"}});
    let out = interceptor.handle(prompt).await;
    assert_eq!(short_circuit(&out), Some((400, "method_not_supported".into(), false)), "{out}");
    let mut odd = call_as("ledger___x", &user);
    odd["mcp"]["gatewayRequest"]["body"]["params"]["arguments"] = json!(["A-42"]);
    let out = interceptor.handle(odd).await;
    assert_eq!(short_circuit(&out).map(|s| s.1), Some("bad_event".into()), "{out}");
    let http = json!({"interceptorInputVersion": "1.0", "http": {"gatewayRequest": {"path": "/ledger/x",
        "httpMethod": "POST", "headers": {"authorization": format!("Bearer {user}")},
        "body": STANDARD.encode(b"{}")}}});
    let out = interceptor.handle(http).await;
    assert_eq!(short_circuit(&out).map(|s| s.1), Some("misconfigured".into()), "{out}");
    assert_eq!(idp.calls(), 0);
}

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl MetricsSink for Lines {
    fn write_line(&self, line: &[u8]) {
        self.0.lock().unwrap().push(String::from_utf8_lossy(line).into_owned());
    }
}

#[tokio::test]
async fn the_response_interceptor_removes_minted_tokens_and_counts_it() {
    let idp = FakeIdp::start().await;
    let lines = Arc::new(Lines::default());
    let interceptor = interceptor(&idp, &[("OBO_METRICS", "emf")]).await.with_metrics_sink(lines.clone());
    let user = idp.user_token(&new_sub(), 3600);
    let out = interceptor.handle(call_as("ledger___balance", &user)).await;
    let request = out["mcp"]["transformedGatewayRequest"].clone();
    let token = request["body"]["params"]["arguments"]["_obo_token"].as_str().unwrap().to_owned();
    // A Lambda that echoes its event in an error: the gateway wraps it as a tool result.
    let echoed = json!({"errorMessage": "bad account", "event": {"account": "A-42", "_obo_token": token}});
    let response = json!({"statusCode": 200, "headers": {}, "body": {"jsonrpc": "2.0", "id": 7,
        "result": {"isError": true, "content": [{"type": "text", "text": echoed.to_string()}]}}});
    for request in [Some(request.clone()), None] {
        let mut mcp = json!({"gatewayResponse": response});
        if let Some(request) = request {
            mcp["gatewayRequest"] = request;
        }
        let out = interceptor.handle(json!({"interceptorInputVersion": "1.0", "mcp": mcp})).await;
        let answered = &out["mcp"]["transformedGatewayResponse"];
        assert!(!out.to_string().contains(&token), "the minted token went back: {out}");
        let text = answered["body"]["result"]["content"][0]["text"].as_str().unwrap();
        let text: Value = serde_json::from_str(text).unwrap();
        assert_eq!(text["event"]["_obo_token"], SCRUBBED_TOKEN);
        assert_eq!(text["event"]["account"], "A-42");
        assert_eq!(answered["statusCode"], 200);
    }
    let scrubbed = lines.0.lock().unwrap().iter().filter(|l| l.contains(r#""Outcome":"scrubbed""#)).count();
    assert_eq!(scrubbed, 2);
    // A clean response is passed on unchanged.
    let clean = json!({"statusCode": 200, "body": {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}});
    let out = interceptor.handle(json!({"mcp": {"gatewayResponse": clean}})).await;
    assert_eq!(out["mcp"]["transformedGatewayResponse"], clean);
}

#[tokio::test]
async fn escaped_and_repeated_client_values_are_removed_from_the_raw_event() {
    let idp = FakeIdp::start().await;
    let interceptor = interceptor(&idp, &[("OBO_DEFAULT_MODE", "passthrough")]).await;
    let user = idp.user_token(&new_sub(), 3600);
    for tool in ["ledger___x", "crm___x", "weather___x", "unlisted___x"] {
        // Serde's `Value` would merge the repeated keys: the event is written as text.
        let event = format!(
            r#"{{"interceptorInputVersion":"1.0","mcp":{{"gatewayRequest":{{"path":"/mcp","httpMethod":"POST","headers":{{"authorization":"Bearer {user}"}},"body":{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"\u005fobo_token":"{FORGED}-a","n":1e400,"_obo_token":"{FORGED}-b"}}}}}}}}}}}}"#
        );
        let out = interceptor.handle_json(&event).await;
        assert!(!out.contains(FORGED), "{tool}: {out}");
        assert!(out.contains(r#""n":1e400"#), "{tool}: the rest is copied byte for byte: {out}");
        let tokens = out.matches("_obo_token").count();
        assert_eq!(tokens, usize::from(tool.starts_with("ledger")), "{tool}: {out}");
    }
}

#[tokio::test]
async fn a_client_cannot_choose_what_the_response_interceptor_removes() {
    let idp = FakeIdp::start().await;
    let interceptor = interceptor(&idp, &[]).await;
    let user = idp.user_token(&new_sub(), 3600);
    let mut request = forged_call("ledger___balance", &user)["mcp"]["gatewayRequest"].clone();
    request["body"]["params"]["arguments"]["_obo_token"] = json!("\"statusCode\":200");
    let response = json!({"statusCode": 200, "body": {"jsonrpc": "2.0", "id": 7,
        "result": {"content": [{"type": "text", "text": format!("user token {user}")}]}}});
    let out =
        interceptor.handle(json!({"mcp": {"gatewayRequest": request, "gatewayResponse": response}})).await;
    assert_eq!(out["mcp"]["transformedGatewayResponse"], response, "only minted tokens are removed");
}
