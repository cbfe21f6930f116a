//! AgentCore Gateway interceptor payloads: the input (MCP and HTTP flavours, REQUEST and
//! RESPONSE), case-insensitive header lookup, target extraction, and the three outputs
//! (forward, pass through, short-circuit).
//!
//! The event is taken apart by value so that a large body is moved, never copied. Pass-through
//! output never carries a `headers` key: any header the interceptor returns is forwarded to the
//! target, so echoing the inbound headers would hand the user's own token to it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::reason::{ReasonCode, Rejection};

/// The output version the gateway expects.
pub const OUTPUT_VERSION: &str = "1.0";

/// The JSON-RPC error code of every short-circuit answer (an implementation-defined server
/// error in JSON-RPC's reserved range); the reason is in `error.data.reason`.
pub const JSONRPC_ERROR_CODE: i64 = -32001;

/// The separator between target and tool in a gateway tool name (`<target>___<tool>`).
pub const TOOL_SEPARATOR: &str = "___";

/// Which kind of target the gateway is calling; the payload key is the same in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// MCP targets: key `mcp`, parsed JSON-RPC body.
    Mcp,
    /// HTTP targets (e.g. AgentCore Runtime): key `http`, base64 body.
    Http,
}

impl Flavour {
    /// The payload key.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Mcp => "mcp",
            Self::Http => "http",
        }
    }
}

/// One interceptor invocation, taken apart.
#[derive(Debug)]
pub struct GatewayEvent {
    /// MCP or HTTP.
    pub flavour: Flavour,
    /// `gatewayRequest.path` (empty when absent).
    pub path: String,
    /// `gatewayRequest.headers` (empty when absent: `passRequestHeaders` is off).
    pub headers: Map<String, Value>,
    /// `gatewayRequest.body`: parsed JSON-RPC (MCP) or a base64 string (HTTP).
    pub body: Value,
    /// `gatewayResponse`, present only when invoked as a RESPONSE interceptor.
    pub response: Option<Value>,
}

fn bad_event(message: &str) -> Rejection {
    Rejection::new(ReasonCode::BadEvent, message)
}

impl GatewayEvent {
    /// Takes an interceptor input apart. Without `mcp` or `http` the flavour is unknown; the
    /// error then reports [`Flavour::Mcp`], the primary one.
    pub fn parse(event: Value) -> Result<Self, (Flavour, Rejection)> {
        let Value::Object(mut top) = event else {
            return Err((Flavour::Mcp, bad_event("the interceptor input is not a JSON object")));
        };
        let (flavour, payload) = match (top.remove("mcp"), top.remove("http")) {
            (Some(p), None) => (Flavour::Mcp, p),
            (None, Some(p)) => (Flavour::Http, p),
            (Some(_), Some(_)) => {
                return Err((Flavour::Mcp, bad_event("the interceptor input has both `mcp` and `http`")));
            }
            (None, None) => {
                return Err((Flavour::Mcp, bad_event("the interceptor input has neither `mcp` nor `http`")));
            }
        };
        let fail = |message: &str| (flavour, bad_event(message));
        let Value::Object(mut payload) = payload else {
            return Err(fail("the interceptor payload is not a JSON object"));
        };
        let Some(Value::Object(mut request)) = payload.remove("gatewayRequest") else {
            return Err(fail("the interceptor input has no `gatewayRequest` object"));
        };
        let headers = match request.remove("headers") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(h)) => h,
            Some(_) => return Err(fail("`gatewayRequest.headers` is not a JSON object")),
        };
        let path = match request.remove("path") {
            Some(Value::String(p)) => p,
            _ => String::new(),
        };
        let body = request.remove("body").unwrap_or(Value::Null);
        let response = payload.remove("gatewayResponse").filter(|r| !r.is_null());
        Ok(Self { flavour, path, headers, body, response })
    }

    /// The JSON-RPC `id` to echo in a short-circuit answer (`null` when there is none).
    pub fn request_id(&self) -> Value {
        match &self.body {
            Value::Object(o) => o.get("id").cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}

/// The result of looking a header up by name, ignoring case.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    /// Not present.
    Absent,
    /// Present once, as a string.
    One(&'a str),
    /// Present once, but not a string.
    NotString,
    /// Present under two or more names differing only in case.
    Ambiguous,
}

/// Looks `name` up in `headers` ignoring ASCII case (gateways have shown header names in any
/// case); two spellings of the same name are reported, never silently resolved.
pub fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> HeaderValue<'a> {
    let mut found = HeaderValue::Absent;
    for (key, value) in headers {
        if key.eq_ignore_ascii_case(name) {
            if found != HeaderValue::Absent {
                return HeaderValue::Ambiguous;
            }
            found = match value {
                Value::String(s) => HeaderValue::One(s),
                _ => HeaderValue::NotString,
            };
        }
    }
    found
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive); `None` for
/// any other scheme, an empty token, or a token with inner whitespace.
pub fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, rest) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start();
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

/// The target an MCP request is for: for `tools/call`, `params.name` up to the first `___`.
/// `Ok(None)` for requests that carry no target (`initialize`, `tools/list`, `ping`,
/// notifications, responses, and tool names without `___`, such as the gateway's own search
/// tool). A body that is not a JSON-RPC 2.0 object, a batch, or a `tools/call` without a string
/// `params.name` is a `bad_event`.
pub fn mcp_target(body: &Value) -> Result<Option<&str>, Rejection> {
    let object = match body {
        Value::Object(o) => o,
        Value::Array(_) => return Err(bad_event("JSON-RPC batches are not supported")),
        _ => return Err(bad_event("the request body is not a JSON-RPC object")),
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(bad_event("the request body is not JSON-RPC 2.0"));
    }
    let method = match object.get("method") {
        None => return Ok(None),
        Some(Value::String(m)) => m.as_str(),
        Some(_) => return Err(bad_event("the JSON-RPC `method` is not a string")),
    };
    if method != "tools/call" {
        return Ok(None);
    }
    let Some(Value::String(name)) = object.get("params").and_then(|p| p.get("name")) else {
        return Err(bad_event("`tools/call` has no string `params.name`"));
    };
    Ok(name.split_once(TOOL_SEPARATOR).map(|(target, _)| target).filter(|t| !t.is_empty()))
}

/// The target an HTTP request is for: the first path segment (`/<target>/invocations`). No
/// target field is documented for HTTP targets; this follows AWS's example path.
pub fn http_target(path: &str) -> Option<&str> {
    path.trim_start_matches('/').split(['/', '?']).next().filter(|s| !s.is_empty())
}

/// Decodes an HTTP-flavour body (standard base64); `Ok(None)` when there is none.
pub fn http_body(body: &Value) -> Result<Option<Vec<u8>>, Rejection> {
    match body {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => {
            STANDARD.decode(s).map(Some).map_err(|_| bad_event("the HTTP request body is not valid base64"))
        }
        _ => Err(bad_event("the HTTP request body is not a base64 string")),
    }
}

/// Forwards the request: the original body, plus `Authorization` when a token is given.
pub fn forward(flavour: Flavour, body: Value, authorization: Option<String>) -> Value {
    let mut request = Map::with_capacity(2);
    if let Some(value) = authorization {
        let mut headers = Map::with_capacity(1);
        headers.insert("Authorization".to_owned(), Value::String(value));
        request.insert("headers".to_owned(), Value::Object(headers));
    }
    request.insert("body".to_owned(), body);
    wrap(flavour, "transformedGatewayRequest", Value::Object(request))
}

/// A RESPONSE-interceptor answer that leaves the target's response as it is.
pub fn pass_response(flavour: Flavour, response: Value) -> Value {
    wrap(flavour, "transformedGatewayResponse", response)
}

/// Answers in the gateway's place (the target is not called). MCP: a JSON-RPC error echoing
/// `id`, with `data.reason` and `data.retryable`. HTTP: the same error object, base64-encoded
/// like every HTTP-flavour body.
pub fn short_circuit(flavour: Flavour, id: Value, reason: ReasonCode, message: &str) -> Value {
    let error = json!({
        "code": JSONRPC_ERROR_CODE,
        "message": message,
        "data": {"reason": reason.as_str(), "retryable": reason.retryable()},
    });
    let body = json!({"jsonrpc": "2.0", "id": id, "error": error});
    let body = match flavour {
        Flavour::Mcp => body,
        Flavour::Http => Value::String(STANDARD.encode(body.to_string())),
    };
    let response = json!({"statusCode": reason.http_status(), "body": body});
    wrap(flavour, "transformedGatewayResponse", response)
}

fn wrap(flavour: Flavour, key: &str, inner: Value) -> Value {
    let mut payload = Map::with_capacity(1);
    payload.insert(key.to_owned(), inner);
    let mut out = Map::with_capacity(2);
    out.insert("interceptorOutputVersion".to_owned(), Value::String(OUTPUT_VERSION.to_owned()));
    out.insert(flavour.key().to_owned(), Value::Object(payload));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_in_any_case_and_duplicates_reported() {
        let h = json!({"AUTHORIZATION": "Bearer x", "accept": "y"});
        assert_eq!(header(h.as_object().unwrap(), "authorization"), HeaderValue::One("Bearer x"));
        let h = json!({"Authorization": "Bearer x", "authorization": "Bearer y"});
        assert_eq!(header(h.as_object().unwrap(), "Authorization"), HeaderValue::Ambiguous);
        let h = json!({"authorization": ["Bearer x"]});
        assert_eq!(header(h.as_object().unwrap(), "Authorization"), HeaderValue::NotString);
        assert_eq!(header(&Map::new(), "Authorization"), HeaderValue::Absent);
    }

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER\tabc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer a b"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn targets_come_from_the_tool_name_or_the_path() {
        let call = |name: &str| json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name}});
        assert_eq!(mcp_target(&call("crm___get_account")).unwrap(), Some("crm"));
        assert_eq!(mcp_target(&call("crm___a___b")).unwrap(), Some("crm"));
        assert_eq!(mcp_target(&call("x_amz_bedrock_agentcore_search")).unwrap(), None);
        assert_eq!(mcp_target(&call("___tool")).unwrap(), None);
        assert_eq!(mcp_target(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).unwrap(), None);
        assert_eq!(mcp_target(&json!({"jsonrpc":"2.0","method":"notifications/initialized"})).unwrap(), None);
        for bad in [
            json!([call("crm___x")]),
            json!("text"),
            json!({"id": 1, "method": "tools/call"}),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}),
            json!({"jsonrpc":"2.0","id":1,"method":7}),
        ] {
            assert_eq!(mcp_target(&bad).unwrap_err().reason, ReasonCode::BadEvent, "{bad}");
        }
        assert_eq!(http_target("/my-target/invocations"), Some("my-target"));
        assert_eq!(http_target("my-target"), Some("my-target"));
        assert_eq!(http_target("/t?x=1"), Some("t"));
        assert_eq!(http_target("/"), None);
        assert_eq!(http_target(""), None);
    }

    #[test]
    fn outputs_have_the_documented_shape() {
        let out = forward(Flavour::Mcp, json!({"id": 7}), Some("Bearer m2m".into()));
        assert_eq!(
            out,
            json!({"interceptorOutputVersion":"1.0","mcp":{"transformedGatewayRequest":{
                "headers":{"Authorization":"Bearer m2m"},"body":{"id":7}}}})
        );
        let out = forward(Flavour::Mcp, json!({"id": 7}), None);
        assert!(out["mcp"]["transformedGatewayRequest"].get("headers").is_none());
        let out = short_circuit(Flavour::Mcp, json!(7), ReasonCode::SubjectExpired, "expired");
        let resp = &out["mcp"]["transformedGatewayResponse"];
        assert_eq!(resp["statusCode"], 401);
        assert_eq!(resp["body"]["id"], 7);
        assert_eq!(resp["body"]["error"]["code"], JSONRPC_ERROR_CODE);
        assert_eq!(resp["body"]["error"]["data"], json!({"reason":"subject_expired","retryable":false}));
        let out = short_circuit(Flavour::Http, Value::Null, ReasonCode::IdpThrottled, "busy");
        let body = out["http"]["transformedGatewayResponse"]["body"].as_str().unwrap();
        let decoded: Value = serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap();
        assert_eq!(decoded["error"]["data"]["retryable"], true);
    }

    #[test]
    fn events_are_taken_apart_leniently() {
        let e = GatewayEvent::parse(json!({"mcp":{"gatewayRequest":{"body":{"id":3}}}})).unwrap();
        assert_eq!(e.flavour, Flavour::Mcp);
        assert!(e.headers.is_empty());
        assert_eq!(e.request_id(), json!(3));
        let e = GatewayEvent::parse(
            json!({"http":{"gatewayRequest":{"path":"/t/x","headers":{},"body":"e30="}}}),
        )
        .unwrap();
        assert_eq!(e.flavour, Flavour::Http);
        assert_eq!(http_body(&e.body).unwrap().unwrap(), b"{}");
        assert!(http_body(&json!("%%%")).is_err());
        for bad in [json!(1), json!({}), json!({"mcp": 1}), json!({"mcp": {}}), json!({"mcp":{},"http":{}})] {
            assert!(GatewayEvent::parse(bad).is_err());
        }
    }
}
