//! Which target a gateway request is for: the one classification of every request, MCP and HTTP.
//! docs/interceptor.md's "How requests are handled" table is this module in prose.
//!
//! | MCP method | how the target is found | [`Route`] |
//! |---|---|---|
//! | `tools/call`, `prompts/get` | `params.name` up to the first `___` | [`Route::Target`] (no `___`: [`Route::Gateway`]) |
//! | `completion/complete` | `params.ref`: `ref/prompt` by `name` as above, `ref/resource` by `uri` | [`Route::Target`] / [`Route::Resource`] |
//! | `resources/read`, `resources/subscribe`, `resources/unsubscribe` | `params.uri` | [`Route::Resource`] |
//! | `tasks/get`, `tasks/result`, `tasks/list`, `tasks/update`, `tasks/cancel` | not in the request | [`Route::Task`] |
//! | `initialize`, `ping`, `server/discover`, `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`, `logging/setLevel`, `notifications/*`, JSON-RPC responses | none: the gateway answers or fans out | [`Route::Gateway`] |
//! | anything else | — | `method_not_supported` |
//!
//! HTTP targets: the first segment of the raw path names the target, exactly; a path that names
//! none (or hides one behind `.`, `..` or encoded separators) is refused.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::delivery::TOOL_SEPARATOR;
use crate::interceptor::payload::{HeaderValue, Headers, object};
use crate::interceptor::targets::is_target_name;
use crate::reason::{ReasonCode, Rejection};

/// Where a request goes, as far as the event tells.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// No target: the gateway answers it itself or sends it to every target (listing, handshake,
    /// notifications, responses). Never given a minted token.
    Gateway,
    /// One target, by name (tool, prompt, HTTP path). The target's policy applies.
    Target(Cow<'a, str>),
    /// A resource, by URI. Resource URIs carry no target prefix, and the gateway picks among
    /// targets serving the same URI by `resourcePriority`, so the target is never certain.
    Resource(Cow<'a, str>),
    /// An existing task (MCP tasks): the request names a task id, not a target.
    Task,
}

/// The JSON-RPC members the classification reads; the rest of the body is never parsed. A
/// member given twice is an error (never last-wins: the target might read the other one).
#[derive(Deserialize)]
pub struct JsonRpc<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    /// `id`, exactly as sent (echoed in a short-circuit answer).
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(rename = "ref", borrow, default)]
    reference: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
}

/// Methods the gateway answers itself or sends to every target.
const GATEWAY_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "logging/setLevel",
];

/// Methods of MCP tasks (2025-11-25 core; the 2026-07-28 tasks extension).
const TASK_METHODS: &[&str] = &["tasks/get", "tasks/result", "tasks/list", "tasks/update", "tasks/cancel"];

fn bad_event(message: &str) -> Rejection {
    Rejection::new(ReasonCode::BadEvent, message)
}

impl<'a> JsonRpc<'a> {
    /// Parses an MCP body: one JSON-RPC 2.0 object (a batch, another JSON type, a wrongly typed
    /// or repeated member is a `bad_event`).
    pub fn parse(body: Option<&'a RawValue>) -> Result<Self, Rejection> {
        let Some(body) = body else {
            return Err(bad_event("the request has no JSON-RPC body"));
        };
        if body.get().starts_with('[') {
            return Err(bad_event("JSON-RPC batches are not supported"));
        }
        let message: Self = object(
            body,
            "the request body is not one JSON-RPC object (or a member is of the wrong type or given twice)",
        )?;
        if message.jsonrpc.as_deref() != Some("2.0") {
            return Err(bad_event("the request body is not JSON-RPC 2.0"));
        }
        Ok(message)
    }

    /// The JSON-RPC method, if the message is a request or notification.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// Checks the stateless revision's `Mcp-Method` header (name in any case) against the
    /// body: present, it must be there once and equal the body's `method`.
    pub fn check_method_header(&self, headers: &Headers) -> Result<(), Rejection> {
        match headers.get("mcp-method") {
            HeaderValue::Absent => Ok(()),
            HeaderValue::One(value) if Some(value) == self.method() => Ok(()),
            HeaderValue::One(_) => {
                Err(bad_event("the `Mcp-Method` header does not match the body's `method`"))
            }
            HeaderValue::NotString => Err(bad_event("the `Mcp-Method` header is not a string")),
            HeaderValue::Ambiguous => Err(bad_event("more than one `Mcp-Method` header")),
        }
    }

    /// Where the request goes (see the module table).
    pub fn route(&self) -> Result<Route<'a>, Rejection> {
        let Some(method) = self.method() else {
            return match (self.result.is_some() || self.error.is_some(), self.id.is_some()) {
                (true, true) => Ok(Route::Gateway),
                _ => Err(bad_event("the JSON-RPC message has no `method` and is not a response")),
            };
        };
        if method.starts_with("notifications/") || GATEWAY_METHODS.contains(&method) {
            return Ok(Route::Gateway);
        }
        if TASK_METHODS.contains(&method) {
            return Ok(Route::Task);
        }
        match method {
            "tools/call" | "prompts/get" => {
                let name = self.params()?.name.ok_or_else(|| bad_event("`params.name` is missing"))?;
                Ok(by_name(name))
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                let uri = self.params()?.uri.ok_or_else(|| bad_event("`params.uri` is missing"))?;
                Ok(Route::Resource(uri))
            }
            "completion/complete" => {
                let raw = self.params()?.reference.ok_or_else(|| bad_event("`params.ref` is missing"))?;
                let reference: Reference<'a> = object(raw, "`params.ref` is not an object of strings")?;
                match reference.kind.as_deref() {
                    Some("ref/prompt") => {
                        Ok(by_name(reference.name.ok_or_else(|| bad_event("`params.ref.name` is missing"))?))
                    }
                    Some("ref/resource") => Ok(Route::Resource(
                        reference.uri.ok_or_else(|| bad_event("`params.ref.uri` is missing"))?,
                    )),
                    _ => Err(Rejection::new(
                        ReasonCode::MethodNotSupported,
                        "`completion/complete` for a reference type the interceptor does not know",
                    )),
                }
            }
            _ => Err(Rejection::new(
                ReasonCode::MethodNotSupported,
                "the MCP method is not one the interceptor knows how to route",
            )),
        }
    }

    fn params(&self) -> Result<Params<'a>, Rejection> {
        let raw = self.params.ok_or_else(|| bad_event("the request has no `params`"))?;
        object(raw, "`params` is not an object, or `name`/`uri` is not a string")
    }
}

/// `<target>___<name>` names its target; a name without `___` (the gateway's own search tool)
/// or with an empty prefix names none.
fn by_name(name: Cow<'_, str>) -> Route<'_> {
    let target = match &name {
        Cow::Borrowed(name) => name.split_once(TOOL_SEPARATOR).map(|(t, _)| Cow::Borrowed(t)),
        Cow::Owned(name) => name.split_once(TOOL_SEPARATOR).map(|(t, _)| Cow::Owned(t.to_owned())),
    };
    match target {
        Some(target) if !target.is_empty() => Route::Target(target),
        _ => Route::Gateway,
    }
}

/// The target an HTTP request is for: the first segment of the raw path (`/<target>/…`),
/// matched exactly. Refused (`bad_event`) when the path does not start with `/`, the first
/// segment is not a target name (`/`, `//crm`, `/?x`, percent-encoding), or any segment is `.`
/// or `..` or hides a separator or dot (`%2F`, `%5C`, `%2E`, `\`), which a server behind the
/// gateway might resolve to another target.
pub fn http_target(path: &str) -> Result<&str, Rejection> {
    let refuse = || {
        bad_event(
            "the HTTP path names no target: it must start with /<target>, with no `.` or `..` segment and no encoded `/`, `\\` or `.`",
        )
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let rest = path.strip_prefix('/').ok_or_else(refuse)?;
    let mut segments = rest.split('/');
    let first = segments.next().unwrap_or_default();
    if !is_target_name(first) {
        return Err(refuse());
    }
    for segment in segments {
        let lower = segment.to_ascii_lowercase();
        if segment == "."
            || segment == ".."
            || segment.contains('\\')
            || ["%2f", "%5c", "%2e"].iter().any(|e| lower.contains(e))
        {
            return Err(refuse());
        }
    }
    Ok(first)
}

/// The scheme of a URI (`crm` in `crm://accounts/1`) for logs: the rest may name a user's data.
/// `None` when the text does not start with a valid scheme.
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut bytes = scheme.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(body: &'static str) -> Result<Route<'static>, ReasonCode> {
        let raw: &RawValue = serde_json::from_str(body).unwrap();
        JsonRpc::parse(Some(raw)).and_then(|m| m.route()).map_err(|r| r.reason)
    }

    #[test]
    fn names_uris_and_gateway_methods_are_told_apart() {
        let t = |s: &'static str| Ok(Route::Target(Cow::Borrowed(s)));
        assert_eq!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm___a___b"}}"#),
            t("crm")
        );
        assert_eq!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"crm___p"}}"#),
            t("crm")
        );
        assert_eq!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cr\u006d___x"}}"#),
            t("crm")
        );
        assert_eq!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"___x"}}"#),
            Ok(Route::Gateway)
        );
        assert_eq!(
            route_of(
                r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"crm___p"}}}"#
            ),
            t("crm")
        );
        assert!(matches!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"crm://a"}}"#),
            Ok(Route::Resource(u)) if u == "crm://a"
        ));
        assert_eq!(route_of(r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#), Ok(Route::Gateway));
        assert_eq!(route_of(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#), Ok(Route::Gateway));
        assert_eq!(route_of(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#), Ok(Route::Gateway));
        assert_eq!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t"}}"#),
            Ok(Route::Task)
        );
        assert_eq!(
            route_of(r#"{"jsonrpc":"2.0","id":1,"method":"admin/exec"}"#),
            Err(ReasonCode::MethodNotSupported)
        );
        for bad in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"admin___x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a___x","name":"admin___x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["admin___x"]}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        ] {
            assert_eq!(route_of(bad), Err(ReasonCode::BadEvent), "{bad}");
        }
    }

    #[test]
    fn http_paths_name_a_target_or_are_refused() {
        assert_eq!(http_target("/crm/invocations"), Ok("crm"));
        assert_eq!(http_target("/crm?x=1"), Ok("crm"));
        assert_eq!(http_target("/crm"), Ok("crm"));
        for bad in [
            "",
            "/",
            "/?x",
            "//crm",
            "crm",
            "/crm%2Fadmin",
            "/%63rm",
            "/crm/../admin",
            "/crm/%2e%2e/admin",
            "/crm/a%2fb",
            "/crm/./x",
            "/cr.m",
        ] {
            assert!(http_target(bad).is_err(), "{bad}");
        }
        assert_eq!(uri_scheme("crm://accounts/1"), Some("crm"));
        assert_eq!(uri_scheme("no scheme"), None);
        assert_eq!(uri_scheme("1x:y"), None);
    }
}
