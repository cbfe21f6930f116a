//! How a minted token reaches its target (`"deliver"` in `OBO_TARGETS`), and the one reserved
//! tool argument that carries it to targets no header reaches: AWS Lambda targets.
//!
//! A Lambda target receives the tool's arguments as its event and the tool name in its client
//! context; no HTTP header reaches it (docs/lambda-targets.md gives the sources). So for a
//! target configured with `"deliver": {"argument": "_obo_token"}` the interceptor puts the token
//! into `params.arguments._obo_token` of the `tools/call`. The name is fixed (any other is
//! refused at cold start) and namespaced, so it cannot collide with a tool's real arguments.
//!
//! The client must never choose that value: [`rewrite_arguments`] removes every client-supplied
//! `_obo_token` from every request the interceptor forwards, whatever the target and its mode
//! (keys compared after JSON unescaping, every duplicate removed), and appends the minted token
//! last, so a reader that keeps the last of two equal keys still sees the gateway's. Everything
//! else in the body is copied byte for byte.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::reason::{ReasonCode, Rejection};

/// The separator between target and tool (or prompt) in a gateway name (`<target>___<tool>`).
pub const TOOL_SEPARATOR: &str = "___";

/// The reserved tool argument that carries the minted token to a Lambda target.
pub const TOKEN_ARGUMENT: &str = "_obo_token";

/// The header that carries the minted token to every other target.
pub const AUTHORIZATION_HEADER: &str = "Authorization";

/// Where a target receives its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// `Authorization: Bearer <token>` (MCP server, OpenAPI, Smithy, API Gateway, Runtime targets).
    #[default]
    AuthorizationHeader,
    /// The reserved tool argument [`TOKEN_ARGUMENT`] of `tools/call` (Lambda targets).
    Argument,
}

impl Delivery {
    /// The configuration and log name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationHeader => "header",
            Self::Argument => "argument",
        }
    }
}

/// `"deliver"` as configured: exactly one of `header` or `argument`, each with its one allowed
/// name.
#[cfg(feature = "lambda")]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDelivery {
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    argument: Option<String>,
}

#[cfg(feature = "lambda")]
impl RawDelivery {
    /// Validates the setting; errors say what is allowed.
    pub(crate) fn validate(self) -> Result<Delivery, String> {
        match (self.header, self.argument) {
            (Some(h), None) if h.eq_ignore_ascii_case(AUTHORIZATION_HEADER) => {
                Ok(Delivery::AuthorizationHeader)
            }
            (Some(h), None) => Err(format!(
                "`deliver.header` is {h:?}: the only header is \"Authorization\" (no other header is documented to reach a target as a credential)"
            )),
            (None, Some(a)) if a == TOKEN_ARGUMENT => Ok(Delivery::Argument),
            (None, Some(a)) => Err(format!(
                "`deliver.argument` is {a:?}: the only argument name is \"{TOKEN_ARGUMENT}\" (reserved, so it cannot collide with a tool's own arguments)"
            )),
            _ => Err("`deliver` needs exactly one of `header` or `argument`".into()),
        }
    }
}

/// A JSON object's members in order, values untouched; keys unescaped (duplicates kept).
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Entries<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'a>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    out.push((key, value));
                }
                Ok(Members(out))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl<'a> Members<'a> {
    fn parse(raw: &'a RawValue) -> Option<Self> {
        raw.get().starts_with('{').then(|| serde_json::from_str(raw.get()).ok()).flatten()
    }

    fn write(&self, out: &mut String, mut replace: impl FnMut(&str, &RawValue, &mut String) -> bool) {
        out.push('{');
        let mut first = true;
        for (key, value) in &self.0 {
            let mark = out.len();
            if !first {
                out.push(',');
            }
            push_key(out, key);
            if replace(key, value, out) {
                first = false;
            } else {
                out.truncate(mark);
            }
        }
    }
}

/// Writes `"key":` (re-escaped: JSON-value-equal to the input).
fn push_key(out: &mut String, key: &str) {
    // Serialising a string cannot fail.
    out.push_str(&serde_json::to_string(key).unwrap_or_default());
    out.push(':');
}

fn bad_event(message: &str) -> Rejection {
    Rejection::new(ReasonCode::BadEvent, message)
}

/// Whether a body may hold the reserved argument at all: its name, or a `\u` escape (the only
/// JSON escape that can spell its letters). A cheap test that keeps ordinary bodies on the
/// byte-for-byte path.
fn may_hold_argument(body: &RawValue) -> bool {
    let text = body.get();
    text.contains(TOKEN_ARGUMENT) || text.contains("\\u")
}

/// The MCP body to forward: every client-supplied [`TOKEN_ARGUMENT`] removed from
/// `params.arguments`, and `token` appended there when given (only `tools/call` can carry it).
/// `Ok(None)`: nothing to change, forward the body as it is.
///
/// With a token to deliver, the body must be a `tools/call` whose `params` is an object and whose
/// `arguments` (if present) is one object: anything else is a `bad_event` or
/// `method_not_supported`, never a request forwarded without the token.
pub fn rewrite_arguments(body: &RawValue, token: Option<&str>) -> Result<Option<Box<RawValue>>, Rejection> {
    if token.is_none() && !may_hold_argument(body) {
        return Ok(None);
    }
    let Some(top) = Members::parse(body) else {
        return match token {
            None => Ok(None),
            Some(_) => Err(bad_event("the request body is not a JSON object")),
        };
    };
    if token.is_some() {
        let method = top.0.iter().find(|(k, _)| k == "method");
        let method = method.and_then(|(_, v)| serde_json::from_str::<Cow<'_, str>>(v.get()).ok());
        if method.as_deref() != Some("tools/call") {
            return Err(Rejection::new(
                ReasonCode::MethodNotSupported,
                "the target takes its token as a tool argument: only `tools/call` can carry it",
            ));
        }
    }
    let mut changed = token.is_some();
    let mut failure = None;
    let mut rewritten_params = Vec::new();
    for (key, value) in &top.0 {
        if key != "params" {
            continue;
        }
        match rewrite_params(value, token) {
            Ok(Some(params)) => {
                changed = true;
                rewritten_params.push(Some(params));
            }
            Ok(None) => rewritten_params.push(None),
            Err(rejection) => failure = Some(rejection),
        }
    }
    if let Some(rejection) = failure {
        return Err(rejection);
    }
    if token.is_some() && rewritten_params.len() != 1 {
        return Err(bad_event("a `tools/call` needs exactly one `params` object"));
    }
    if !changed {
        return Ok(None);
    }
    let mut out = splice(&top, body, token, "params", rewritten_params);
    out.push('}');
    RawValue::from_string(out).map(Some).map_err(|_| bad_event("the request body could not be rewritten"))
}

/// `params` with the reserved argument removed (and `token` appended); `None`: unchanged.
fn rewrite_params(params: &RawValue, token: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(members) = Members::parse(params) else {
        return match token {
            None => Ok(None),
            Some(_) => Err(bad_event("`params` is not an object")),
        };
    };
    let arguments = members.0.iter().filter(|(k, _)| k == "arguments").count();
    if token.is_some() && arguments > 1 {
        return Err(bad_event("`params.arguments` is given twice"));
    }
    let mut rewritten = Vec::with_capacity(arguments);
    for (key, value) in &members.0 {
        if key == "arguments" {
            rewritten.push(rewrite_object(value, token)?);
        }
    }
    if token.is_none() && rewritten.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut out = splice(&members, params, token, "arguments", rewritten);
    if arguments == 0
        && let Some(token) = token
    {
        if !members.0.is_empty() {
            out.push(',');
        }
        push_key(&mut out, "arguments");
        out.push('{');
        push_token(&mut out, token);
        out.push('}');
    }
    out.push('}');
    Ok(Some(out))
}

/// `raw`'s members written back (without the closing brace), the n-th member named `name`
/// replaced by the n-th of `replacements` when that is `Some`.
fn splice(
    members: &Members<'_>,
    raw: &RawValue,
    token: Option<&str>,
    name: &str,
    replacements: Vec<Option<String>>,
) -> String {
    let mut out = String::with_capacity(raw.get().len() + token.map_or(0, |t| t.len() + 32));
    let mut next = replacements.into_iter();
    members.write(&mut out, |key, value, out| {
        match (key == name).then(|| next.next().flatten()).flatten() {
            Some(replacement) => out.push_str(&replacement),
            None => out.push_str(value.get()),
        }
        true
    });
    out
}

/// `arguments` without the reserved argument (and with `token` last); `None`: unchanged.
fn rewrite_object(arguments: &RawValue, token: Option<&str>) -> Result<Option<String>, Rejection> {
    let members = match Members::parse(arguments) {
        Some(members) => members,
        None if token.is_none() => return Ok(None),
        None if arguments.get() == "null" => Members(Vec::new()),
        None => return Err(bad_event("`params.arguments` is not an object")),
    };
    let reserved = members.0.iter().filter(|(k, _)| k == TOKEN_ARGUMENT).count();
    if token.is_none() && reserved == 0 {
        return Ok(None);
    }
    let mut out = String::with_capacity(arguments.get().len() + token.map_or(0, |t| t.len() + 16));
    members.write(&mut out, |key, value, out| {
        if key == TOKEN_ARGUMENT {
            return false;
        }
        out.push_str(value.get());
        true
    });
    if let Some(token) = token {
        if members.0.len() > reserved {
            out.push(',');
        }
        push_token(&mut out, token);
    }
    out.push('}');
    Ok(Some(out))
}

fn push_token(out: &mut String, token: &str) {
    push_key(out, TOKEN_ARGUMENT);
    out.push_str(&serde_json::to_string(token).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    fn rewrite(text: &str, token: Option<&str>) -> Result<Option<Value>, ReasonCode> {
        rewrite_arguments(&raw(text), token)
            .map(|b| b.map(|b| serde_json::from_str(b.get()).unwrap()))
            .map_err(|r| r.reason)
    }

    #[test]
    fn delivery_names_are_fixed() {
        let parse = |json: &str| serde_json::from_str::<RawDelivery>(json).unwrap().validate();
        assert_eq!(parse(r#"{"argument":"_obo_token"}"#), Ok(Delivery::Argument));
        assert_eq!(parse(r#"{"header":"authorization"}"#), Ok(Delivery::AuthorizationHeader));
        for bad in [
            r#"{"argument":"token"}"#,
            r#"{"argument":"_OBO_TOKEN"}"#,
            r#"{"header":"X-Obo-Token"}"#,
            r#"{}"#,
            r#"{"header":"Authorization","argument":"_obo_token"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<RawDelivery>(r#"{"argumnet":"_obo_token"}"#).is_err());
    }

    #[test]
    fn client_values_are_removed_however_spelt() {
        let cases = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b___x","arguments":{"a":1,"_obo_token":"forged"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b___x","arguments":{"\u005fobo_token":"forged","a":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b___x","arguments":{"_obo_token":"f1","a":1,"_obo_token":"f2"}}}"#,
        ];
        for case in cases {
            let out = rewrite(case, None).unwrap().expect(case);
            assert_eq!(out["params"]["arguments"], json!({"a": 1}), "{case}");
            assert!(!out.to_string().contains("forged") && !out.to_string().contains("f2"), "{case}");
            let out = rewrite(case, Some("minted")).unwrap().unwrap();
            assert_eq!(out["params"]["arguments"], json!({"a": 1, "_obo_token": "minted"}), "{case}");
        }
        let twice = r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"b___x","arguments":{"_obo_token":"f"},"arguments":{"_obo_token":"g"}}}"#;
        let out = rewrite_arguments(&raw(twice), None).unwrap().unwrap();
        assert!(!out.get().contains("_obo_token"), "{}", out.get());
        assert_eq!(rewrite(twice, Some("m")), Err(ReasonCode::BadEvent));
    }

    #[test]
    fn other_bodies_stay_byte_for_byte() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm___x","arguments":{"n":123456789012345678901234567890}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm___x","arguments":{"s":"a\"b"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":"_obo_token"}}"#,
        ] {
            assert_eq!(rewrite(body, None), Ok(None), "{body}");
        }
        let body = r#"{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"b___x","arguments":{"n":1.10000000000000000001,"_obo_token":"x"}}}"#;
        let out = rewrite_arguments(&raw(body), Some("m")).unwrap().unwrap();
        assert_eq!(
            out.get(),
            r#"{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"b___x","arguments":{"n":1.10000000000000000001,"_obo_token":"m"}}}"#
        );
    }

    #[test]
    fn the_token_is_added_where_arguments_are_missing_and_only_to_tool_calls() {
        let out = rewrite(r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"b___x"}}"#, Some("m"));
        assert_eq!(out.unwrap().unwrap()["params"], json!({"name":"b___x","arguments":{"_obo_token":"m"}}));
        let out = rewrite(
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"b___x","arguments":null}}"#,
            Some("m"),
        );
        assert_eq!(out.unwrap().unwrap()["params"]["arguments"], json!({"_obo_token":"m"}));
        let refused = [
            (
                r#"{"jsonrpc":"2.0","method":"prompts/get","params":{"name":"b___x"}}"#,
                ReasonCode::MethodNotSupported,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"b___x","arguments":[1]}}"#,
                ReasonCode::BadEvent,
            ),
            (r#"{"jsonrpc":"2.0","method":"tools/call","params":"x"}"#, ReasonCode::BadEvent),
            (r#"{"jsonrpc":"2.0","method":"tools/call"}"#, ReasonCode::BadEvent),
        ];
        for (body, reason) in refused {
            assert_eq!(rewrite(body, Some("m")), Err(reason), "{body}");
        }
    }
}
