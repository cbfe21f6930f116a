//! The REQUEST interceptor contract for MCP targets, as AgentCore Gateway speaks it: the input
//! event (`interceptorInputVersion` 1.0, raw body string, parsed body, lower-cased request
//! headers with `passRequestHeaders: true`) and what the gateway does with the output
//! (`transformedGatewayRequest` or the short-circuit `transformedGatewayResponse`).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

/// Headers the gateway controls on the hop to the target; an interceptor cannot set them.
const GATEWAY_OWNED: [&str; 9] = [
    "accept",
    "content-type",
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// The interceptor input for one inbound MCP request.
pub(crate) fn input(raw_body: &str, body: &Value, headers: &HeaderMap, pass_request_headers: bool) -> Value {
    let mut request = json!({"path": "/mcp", "httpMethod": "POST", "body": body});
    if pass_request_headers {
        let mut map = Map::new();
        for name in headers.keys() {
            // `HeaderName`s are lower-case already; repeated headers are joined.
            let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
            map.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
        }
        request["headers"] = Value::Object(map);
    }
    json!({
        "interceptorInputVersion": "1.0",
        "mcp": {"rawGatewayRequest": {"body": raw_body}, "gatewayRequest": request},
    })
}

/// What the gateway does after the interceptor.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Go on with this request (possibly transformed). `authorization` overrides the target's
    /// own credential; `headers` are forwarded to the target as well.
    Forward { body: Value, authorization: Option<HeaderValue>, headers: Vec<(HeaderName, HeaderValue)> },
    /// Answer the client with this, without calling any target.
    Respond { status: u16, body: Value },
}

/// Reads the interceptor's output; `original` is the request it saw. An output that does not
/// follow the contract is an error (the gateway then fails the request).
pub(crate) fn outcome(output: Value, original: Value) -> Result<Outcome, String> {
    let Some(mcp) = output.get("mcp").and_then(Value::as_object) else {
        return Err("the output has no `mcp` object".into());
    };
    if let Some(response) = mcp.get("transformedGatewayResponse") {
        let status = match response.get("statusCode") {
            None => 200,
            Some(v) => {
                v.as_u64().filter(|s| (100..=599).contains(s)).ok_or("`statusCode` is not an HTTP status")?
            }
        };
        let body = response.get("body").cloned().unwrap_or(Value::Null);
        return Ok(Outcome::Respond { status: status as u16, body });
    }
    let Some(request) = mcp.get("transformedGatewayRequest") else {
        return Ok(Outcome::Forward { body: original, authorization: None, headers: Vec::new() });
    };
    let body = match request.get("body") {
        Some(body) if body.is_object() => body.clone(),
        Some(_) => return Err("`transformedGatewayRequest.body` is not a JSON object".into()),
        None => original,
    };
    let mut authorization = None;
    let mut headers = Vec::new();
    if let Some(returned) = request.get("headers") {
        let returned = returned.as_object().ok_or("`transformedGatewayRequest.headers` is not an object")?;
        for (name, value) in returned {
            let value = value.as_str().ok_or("a returned header value is not a string")?;
            let name =
                HeaderName::try_from(name.as_str()).map_err(|_| "a returned header name is invalid")?;
            let value = HeaderValue::from_str(value).map_err(|_| "a returned header value is invalid")?;
            if name == axum::http::header::AUTHORIZATION {
                authorization = Some(value);
            } else if !GATEWAY_OWNED.contains(&name.as_str()) {
                headers.push((name, value));
            }
        }
    }
    Ok(Outcome::Forward { body, authorization, headers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_follows_the_documented_shape() {
        let raw = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"crm___get_account"}}"#;
        let body: Value = serde_json::from_str(raw).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("Authorization", HeaderValue::from_static("Bearer u"));
        headers.insert("Mcp-Session-Id", HeaderValue::from_static("s1"));
        let event = input(raw, &body, &headers, true);
        assert_eq!(event["interceptorInputVersion"], "1.0");
        assert_eq!(event["mcp"]["rawGatewayRequest"]["body"], raw);
        let request = &event["mcp"]["gatewayRequest"];
        assert_eq!(request["path"], "/mcp");
        assert_eq!(request["httpMethod"], "POST");
        assert_eq!(request["body"], body);
        assert_eq!(request["headers"]["authorization"], "Bearer u");
        assert_eq!(request["headers"]["mcp-session-id"], "s1");
        assert!(input(raw, &body, &headers, false)["mcp"]["gatewayRequest"].get("headers").is_none());
    }

    #[test]
    fn output_transforms_or_short_circuits() {
        let original = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call"});
        let out = json!({"interceptorOutputVersion": "1.0", "mcp": {"transformedGatewayRequest": {
            "headers": {"AUTHORIZATION": "Bearer m2m", "X-Extra": "1", "Host": "evil"},
            "body": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}}}});
        let Outcome::Forward { body, authorization, headers } = outcome(out, original.clone()).unwrap()
        else {
            panic!("expected forward");
        };
        assert_eq!(body["params"], json!({}));
        assert_eq!(authorization.unwrap(), "Bearer m2m");
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "x-extra");

        let pass = json!({"mcp": {"transformedGatewayRequest": {"body": original}}});
        assert!(matches!(outcome(pass, Value::Null).unwrap(), Outcome::Forward { authorization: None, .. }));

        let deny = json!({"mcp": {"transformedGatewayResponse": {"statusCode": 403, "body": {"x": 1}}}});
        let Outcome::Respond { status, body } = outcome(deny, original.clone()).unwrap() else {
            panic!("expected respond");
        };
        assert_eq!((status, body), (403, json!({"x": 1})));

        for bad in [
            json!({}),
            json!({"mcp": {"transformedGatewayResponse": {"statusCode": 99}}}),
            json!({"mcp": {"transformedGatewayRequest": {"headers": {"a": 1}}}}),
            json!({"mcp": {"transformedGatewayRequest": {"body": "text"}}}),
        ] {
            assert!(outcome(bad.clone(), original.clone()).is_err(), "{bad}");
        }
    }
}
