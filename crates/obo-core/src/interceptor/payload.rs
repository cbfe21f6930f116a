//! AgentCore Gateway interceptor payloads: the input (MCP and HTTP flavours, REQUEST and
//! RESPONSE), case-insensitive header lookup, and the three outputs (forward, pass through,
//! short-circuit). Which target a request is for is decided in [`crate::interceptor::route`].
//!
//! The event is read from its raw JSON text and never re-serialised: request and response bodies
//! are kept as [`RawValue`]s borrowed from the input and written back byte for byte, so numbers
//! beyond 64 bits or 17 significant digits reach the target exactly as the client sent them.
//! Header entries are kept as a list, so two entries with the same name are seen, not merged.
//! Pass-through output never carries a `headers` key: any header the interceptor returns is
//! forwarded to the target, so echoing the inbound headers would hand the user's own token to it.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::reason::{ReasonCode, Rejection};

/// The output version the gateway expects.
pub const OUTPUT_VERSION: &str = "1.0";

/// The JSON-RPC error code of every short-circuit answer (an implementation-defined server
/// error in JSON-RPC's reserved range); the reason is in `error.data.reason`.
pub const JSONRPC_ERROR_CODE: i64 = -32001;

/// Which kind of target the gateway is calling; the payload key is the same in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// MCP targets: key `mcp`, parsed JSON-RPC body.
    Mcp,
    /// HTTP targets (e.g. AgentCore Runtime): key `http`, base64 body.
    Http,
}

/// Header entries in the order the event lists them; a name may repeat.
#[derive(Debug, Default)]
pub struct Headers(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of headers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    entries.push((name, value));
                }
                Ok(Headers(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// `gatewayRequest`, taken apart.
#[derive(Debug)]
pub struct GatewayRequest<'a> {
    /// `path` (empty when absent).
    pub path: Cow<'a, str>,
    /// `headers` (empty when absent: `passRequestHeaders` is off).
    pub headers: Headers,
    /// `body`, exactly as sent: parsed JSON-RPC (MCP) or a base64 string (HTTP); `None` when
    /// absent or `null`.
    pub body: Option<&'a RawValue>,
}

/// One interceptor invocation, borrowed from its raw JSON text.
#[derive(Debug)]
pub struct GatewayEvent<'a> {
    /// MCP or HTTP.
    pub flavour: Flavour,
    /// `gatewayRequest`: always present in a REQUEST event, optional in a RESPONSE event.
    pub request: Option<GatewayRequest<'a>>,
    /// `gatewayResponse`, present only when invoked as a RESPONSE interceptor.
    pub response: Option<&'a RawValue>,
}

fn bad_event(message: &str) -> Rejection {
    Rejection::new(ReasonCode::BadEvent, message)
}

/// Parses `raw` as a JSON object into `T`. Serde's error text can quote input values, so it is
/// never shown: `message` is.
pub(crate) fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue, message: &str) -> Result<T, Rejection> {
    if !raw.get().starts_with('{') {
        return Err(bad_event(message));
    }
    serde_json::from_str(raw.get()).map_err(|_| bad_event(message))
}

#[derive(Deserialize)]
struct RawInput<'a> {
    #[serde(borrow, default)]
    mcp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    http: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawPayload<'a> {
    #[serde(rename = "gatewayRequest", borrow, default)]
    request: Option<&'a RawValue>,
    #[serde(rename = "gatewayResponse", borrow, default)]
    response: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow, default)]
    path: Option<Cow<'a, str>>,
    #[serde(default)]
    headers: Option<Headers>,
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
}

impl<'a> GatewayEvent<'a> {
    /// Takes an interceptor input apart. Without `mcp` or `http` the flavour is unknown; the
    /// error then reports [`Flavour::Mcp`], the primary one. A key given twice is an error,
    /// never last-wins.
    pub fn parse(event: &'a str) -> Result<Self, (Flavour, Rejection)> {
        let not_object = (Flavour::Mcp, bad_event("the interceptor input is not a JSON object"));
        let top: &RawValue = serde_json::from_str(event).map_err(|_| not_object.clone())?;
        let input: RawInput<'_> =
            object(top, "the interceptor input is not a JSON object with one `mcp` or `http`")
                .map_err(|r| (Flavour::Mcp, r))?;
        let (flavour, payload) = match (input.mcp, input.http) {
            (Some(p), None) => (Flavour::Mcp, p),
            (None, Some(p)) => (Flavour::Http, p),
            (Some(_), Some(_)) => {
                return Err((Flavour::Mcp, bad_event("the interceptor input has both `mcp` and `http`")));
            }
            (None, None) => {
                return Err((Flavour::Mcp, bad_event("the interceptor input has neither `mcp` nor `http`")));
            }
        };
        let fail = |r: Rejection| (flavour, r);
        let payload: RawPayload<'_> =
            object(payload, "the interceptor payload is not a JSON object").map_err(fail)?;
        let response = payload.response.filter(|r| r.get() != "null");
        let request = match payload.request {
            None if response.is_some() => None,
            None => return Err(fail(bad_event("the interceptor input has no `gatewayRequest` object"))),
            Some(raw) => {
                let request: RawRequest<'_> = object(
                    raw,
                    "`gatewayRequest` is not a JSON object with a string `path` and an object of `headers`",
                )
                .map_err(fail)?;
                Some(GatewayRequest {
                    path: request.path.unwrap_or_default(),
                    headers: request.headers.unwrap_or_default(),
                    body: request.body,
                })
            }
        };
        Ok(Self { flavour, request, response })
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
    /// Present two or more times (the same name twice, or names differing only in case).
    Ambiguous,
}

impl Headers {
    /// Looks `name` up ignoring ASCII case (gateways have shown header names in any case); two
    /// entries for the same name are reported, never silently resolved.
    pub fn get(&self, name: &str) -> HeaderValue<'_> {
        let mut found = HeaderValue::Absent;
        for (key, value) in &self.0 {
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
}

/// Decodes an HTTP-flavour body (standard base64); `Ok(None)` when there is none.
pub fn http_body(body: Option<&RawValue>) -> Result<Option<Vec<u8>>, Rejection> {
    let Some(body) = body else { return Ok(None) };
    match serde_json::from_str::<Cow<'_, str>>(body.get()) {
        Ok(s) if s.is_empty() => Ok(None),
        Ok(s) => STANDARD
            .decode(s.as_bytes())
            .map(Some)
            .map_err(|_| bad_event("the HTTP request body is not valid base64")),
        Err(_) => Err(bad_event("the HTTP request body is not a base64 string")),
    }
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(rename = "interceptorOutputVersion")]
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mcp: Option<Transformed<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<Transformed<'a>>,
}

#[derive(Serialize)]
enum Transformed<'a> {
    #[serde(rename = "transformedGatewayRequest")]
    Request {
        #[serde(skip_serializing_if = "Option::is_none")]
        headers: Option<Authorization<'a>>,
        body: Option<&'a RawValue>,
    },
    #[serde(rename = "transformedGatewayResponse")]
    Response(Response<'a>),
}

#[derive(Serialize)]
struct Authorization<'a> {
    #[serde(rename = "Authorization")]
    value: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Response<'a> {
    Raw(&'a RawValue),
    Error {
        #[serde(rename = "statusCode")]
        status: u16,
        body: ErrorBody<'a>,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum ErrorBody<'a> {
    Json(JsonRpcError<'a>),
    Base64(String),
}

#[derive(Serialize)]
struct JsonRpcError<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: i64,
    message: &'a str,
    data: ErrorData,
}

#[derive(Serialize)]
struct ErrorData {
    reason: &'static str,
    retryable: bool,
}

fn write(flavour: Flavour, inner: Transformed<'_>) -> String {
    let (mcp, http) = match flavour {
        Flavour::Mcp => (Some(inner), None),
        Flavour::Http => (None, Some(inner)),
    };
    let output = Output { version: OUTPUT_VERSION, mcp, http };
    // Only strings, numbers, booleans and already valid raw JSON: serialising cannot fail.
    serde_json::to_string(&output).unwrap_or_default()
}

/// Forwards the request: the original body byte for byte, plus `Authorization` when a value
/// is given. An absent body is written as `null`.
pub fn forward(flavour: Flavour, body: Option<&RawValue>, authorization: Option<&str>) -> String {
    let headers = authorization.map(|value| Authorization { value });
    write(flavour, Transformed::Request { headers, body })
}

/// A RESPONSE-interceptor answer that leaves the target's response exactly as it is.
pub fn pass_response(flavour: Flavour, response: &RawValue) -> String {
    write(flavour, Transformed::Response(Response::Raw(response)))
}

/// Answers in the gateway's place (the target is not called). MCP: a JSON-RPC error echoing
/// `id` exactly (`null` when there is none), with `data.reason` and `data.retryable`. HTTP: the
/// same error object, base64-encoded like every HTTP-flavour body.
pub fn short_circuit(flavour: Flavour, id: Option<&RawValue>, reason: ReasonCode, message: &str) -> String {
    let error = JsonRpcError {
        jsonrpc: "2.0",
        id,
        error: ErrorObject {
            code: JSONRPC_ERROR_CODE,
            message,
            data: ErrorData { reason: reason.as_str(), retryable: reason.retryable() },
        },
    };
    let body = match flavour {
        Flavour::Mcp => ErrorBody::Json(error),
        Flavour::Http => ErrorBody::Base64(STANDARD.encode(serde_json::to_vec(&error).unwrap_or_default())),
    };
    write(flavour, Transformed::Response(Response::Error { status: reason.http_status(), body }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(json: &str) -> Headers {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn headers_are_found_in_any_case_and_duplicates_reported() {
        let h = headers(r#"{"AUTHORIZATION": "Bearer x", "accept": "y"}"#);
        assert_eq!(h.get("authorization"), HeaderValue::One("Bearer x"));
        let h = headers(r#"{"Authorization": "Bearer x", "authorization": "Bearer y"}"#);
        assert_eq!(h.get("Authorization"), HeaderValue::Ambiguous);
        let h = headers(r#"{"Authorization": "Bearer x", "Authorization": "Bearer y"}"#);
        assert_eq!(h.get("Authorization"), HeaderValue::Ambiguous);
        let h = headers(r#"{"authorization": ["Bearer x"]}"#);
        assert_eq!(h.get("Authorization"), HeaderValue::NotString);
        assert_eq!(Headers::default().get("Authorization"), HeaderValue::Absent);
    }

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn outputs_have_the_documented_shape() {
        let body = raw(r#"{"id":7,"n":123456789012345678901234567890,"d":0.10000000000000001}"#);
        let out = forward(Flavour::Mcp, Some(&body), Some("Bearer m2m"));
        assert_eq!(
            out,
            r#"{"interceptorOutputVersion":"1.0","mcp":{"transformedGatewayRequest":{"headers":{"Authorization":"Bearer m2m"},"body":{"id":7,"n":123456789012345678901234567890,"d":0.10000000000000001}}}}"#
        );
        let out: Value = serde_json::from_str(&forward(Flavour::Mcp, Some(&body), None)).unwrap();
        assert!(out["mcp"]["transformedGatewayRequest"].get("headers").is_none());
        let out = short_circuit(
            Flavour::Mcp,
            Some(&raw("18446744073709551616")),
            ReasonCode::SubjectExpired,
            "expired",
        );
        assert!(out.contains(r#""id":18446744073709551616"#), "{out}");
        let out: Value = serde_json::from_str(&out).unwrap();
        let resp = &out["mcp"]["transformedGatewayResponse"];
        assert_eq!(resp["statusCode"], 401);
        assert_eq!(resp["body"]["error"]["code"], JSONRPC_ERROR_CODE);
        assert_eq!(resp["body"]["error"]["data"], json!({"reason":"subject_expired","retryable":false}));
        let out: Value =
            serde_json::from_str(&short_circuit(Flavour::Http, None, ReasonCode::IdpThrottled, "busy"))
                .unwrap();
        let body = out["http"]["transformedGatewayResponse"]["body"].as_str().unwrap();
        let decoded: Value = serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap();
        assert_eq!(decoded["error"]["data"]["retryable"], true);
        assert_eq!(decoded["id"], Value::Null);
        let response = raw(r#"{"statusCode":200,"body":{"n":1e400}}"#);
        assert!(pass_response(Flavour::Mcp, &response).contains(r#"{"statusCode":200,"body":{"n":1e400}}"#));
    }

    #[test]
    fn events_are_taken_apart_leniently_but_without_last_wins() {
        let e = GatewayEvent::parse(r#"{"mcp":{"gatewayRequest":{"body":{"id":3}}}}"#).unwrap();
        assert_eq!(e.flavour, Flavour::Mcp);
        let request = e.request.unwrap();
        assert!(request.headers.0.is_empty());
        assert_eq!(request.body.unwrap().get(), r#"{"id":3}"#);
        let e =
            GatewayEvent::parse(r#"{"http":{"gatewayRequest":{"path":"/t/x","headers":{},"body":"e30="}}}"#)
                .unwrap();
        assert_eq!(e.flavour, Flavour::Http);
        let request = e.request.unwrap();
        assert_eq!(http_body(request.body).unwrap().unwrap(), b"{}");
        assert!(http_body(Some(&raw(r#""%%%""#))).is_err());
        let e = GatewayEvent::parse(r#"{"mcp":{"gatewayResponse":{"statusCode":401}}}"#).unwrap();
        assert!(e.request.is_none() && e.response.is_some());
        for bad in [
            "1",
            "{}",
            r#"{"mcp": 1}"#,
            r#"{"mcp": {}}"#,
            r#"{"mcp":{},"http":{}}"#,
            r#"{"mcp":{"gatewayRequest":{}},"mcp":{"gatewayRequest":{}}}"#,
            r#"{"mcp":{"gatewayRequest":{"body":{}},"gatewayRequest":{"body":{}}}}"#,
            r#"{"mcp":{"gatewayRequest":{"headers":"x"}}}"#,
            r#"{"mcp":{"gatewayRequest":{"path":7}}}"#,
        ] {
            assert!(GatewayEvent::parse(bad).is_err(), "{bad}");
        }
    }
}
