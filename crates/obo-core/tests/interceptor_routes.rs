//! The classification table, adversarially: every method the gateway can send × every mode
//! (`obo`, `passthrough`, `deny`, unlisted under both defaults), the resource-URI rules, tasks,
//! unknown methods, the stateless revision's `Mcp-Method` header, HTTP paths, duplicate keys and
//! exact bodies. Every row names what the target receives or the reason code. Events are written
//! as JSON text, as the gateway sends them (a `serde_json::Value` could not hold every number).

mod interceptor_support;

use interceptor_support::*;
use obo_core::interceptor::Interceptor;
use serde_json::Value;

/// Targets with resource prefixes. `weather` (passthrough) claims a `crm:` URI space of its own.
const ROUTE_TARGETS: &str = r#"{
  "crm": {"mode": "obo", "scopes": ["cognito-obo/crm"], "resource_uris": ["crm://accounts/"]},
  "weather": {"mode": "passthrough", "resource_uris": ["weather://", "crm://public/"]},
  "admin": {"mode": "deny", "resource_uris": ["admin://"]}
}"#;

/// What the gateway is told to do.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Forwarded with a minted token carrying the user.
    Minted,
    /// Forwarded unchanged, with no headers (the target gets the gateway's own credential).
    Passed,
    /// Refused: HTTP status and reason code.
    Refused(u64, &'static str),
}
use Expect::*;

struct Harness {
    idp: FakeIdp,
    deny_default: Interceptor,
    pass_default: Interceptor,
    user: String,
    sub: String,
}

impl Harness {
    async fn start() -> Self {
        let idp = FakeIdp::start().await;
        let targets = [("OBO_TARGETS", ROUTE_TARGETS)];
        let (deny_default, _) = idp.interceptor(&targets).await;
        let (pass_default, _) = idp.interceptor(&[targets[0], ("OBO_DEFAULT_MODE", "passthrough")]).await;
        let sub = new_sub();
        let user = idp.user_token(&sub, 3600);
        Self { idp, deny_default, pass_default, user, sub }
    }

    /// Sends `event` (JSON text) to one interceptor and checks the universal rules.
    async fn run(&self, interceptor: &Interceptor, event: &str) -> (String, Value) {
        let text = interceptor.handle_json(event).await;
        assert!(!text.contains(&self.user), "the user's token leaked: {text}");
        let out: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(out["interceptorOutputVersion"], "1.0", "{text}");
        (text, out)
    }

    /// Checks one row against one interceptor; `body` must come back byte for byte when forwarded.
    async fn check(
        &self,
        interceptor: &Interceptor,
        event: &str,
        body: Option<&str>,
        expect: &Expect,
        row: &str,
    ) {
        let (text, out) = self.run(interceptor, event).await;
        let flavour = if out.get("http").is_some() { "http" } else { "mcp" };
        let got = match short_circuit(&out) {
            Some((status, reason, _)) => Refused(status, leak(reason)),
            None => {
                let request = &out[flavour]["transformedGatewayRequest"];
                assert!(request.is_object(), "{row}: {text}");
                if let Some(body) = body {
                    assert!(text.contains(&format!(r#""body":{body}"#)), "{row}: body changed: {text}");
                }
                match request.get("headers") {
                    None => Passed,
                    Some(headers) => {
                        let auth = headers["Authorization"].as_str().expect("only Authorization is set");
                        let token = auth.strip_prefix("Bearer ").unwrap();
                        assert_eq!(claims_of(token)["obo_sub"], self.sub.as_str(), "{row}");
                        assert_eq!(headers.as_object().unwrap().len(), 1, "{row}");
                        Minted
                    }
                }
            }
        };
        assert_eq!(&got, expect, "{row}: {text}");
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// An MCP event around `body` (JSON text), with the user's token and extra raw header members.
fn mcp_event(body: &str, authorization: &str, extra_headers: &str) -> String {
    format!(
        r#"{{"interceptorInputVersion":"1.0","mcp":{{"rawGatewayRequest":{{"body":"-"}},"gatewayRequest":{{"path":"/mcp","httpMethod":"POST","headers":{{"authorization":"Bearer {authorization}","accept":"application/json"{extra_headers}}},"body":{body}}}}}}}"#
    )
}

fn request(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":9,"method":"{method}","params":{params}}}"#)
}

#[tokio::test]
async fn every_method_under_every_mode() {
    let h = Harness::start().await;
    let by_name = |target: &str| {
        [
            request(
                "tools/call",
                &format!(r#"{{"name":"{target}___get_account","arguments":{{"account":"A-1"}}}}"#),
            ),
            request(
                "prompts/get",
                &format!(r#"{{"name":"{target}___account_brief","arguments":{{"account":"A-1"}}}}"#),
            ),
            request(
                "completion/complete",
                &format!(
                    r#"{{"ref":{{"type":"ref/prompt","name":"{target}___account_brief"}},"argument":{{"name":"account","value":"A"}}}}"#
                ),
            ),
        ]
    };
    // (target, under OBO_DEFAULT_MODE=deny, under OBO_DEFAULT_MODE=passthrough)
    let name_rows = [
        ("crm", Minted, Minted),
        ("weather", Passed, Passed),
        ("admin", Refused(403, "target_denied"), Refused(403, "target_denied")),
        ("unlisted", Refused(403, "target_unlisted"), Passed),
    ];
    for (target, on_deny, on_pass) in &name_rows {
        for body in by_name(target) {
            let event = mcp_event(&body, &h.user, "");
            h.check(&h.deny_default, &event, Some(&body), on_deny, &body).await;
            h.check(&h.pass_default, &event, Some(&body), on_pass, &body).await;
        }
    }

    let by_uri = |uri: &str| {
        [
            request("resources/read", &format!(r#"{{"uri":"{uri}"}}"#)),
            request("resources/subscribe", &format!(r#"{{"uri":"{uri}"}}"#)),
            request("resources/unsubscribe", &format!(r#"{{"uri":"{uri}"}}"#)),
            request(
                "completion/complete",
                &format!(
                    r#"{{"ref":{{"type":"ref/resource","uri":"{uri}"}},"argument":{{"name":"x","value":"y"}}}}"#
                ),
            ),
        ]
    };
    let uri_rows = [
        // An obo target's URI: the gateway may pick another target for it; never minted.
        ("crm://accounts/A-1", Refused(403, "target_ambiguous"), Refused(403, "target_ambiguous")),
        ("CRM://accounts/A-1", Refused(403, "target_ambiguous"), Refused(403, "target_ambiguous")),
        // A passthrough target listing a crm URI never receives a token.
        ("crm://public/status", Passed, Passed),
        ("weather://today", Passed, Passed),
        ("admin://users", Refused(403, "target_denied"), Refused(403, "target_denied")),
        // Matches no prefix (not even crm's: the prefix is `crm://accounts/`).
        ("crm://other/x", Refused(403, "target_unlisted"), Passed),
        ("file:///etc/passwd", Refused(403, "target_unlisted"), Passed),
    ];
    for (uri, on_deny, on_pass) in &uri_rows {
        for body in by_uri(uri) {
            let event = mcp_event(&body, &h.user, "");
            h.check(&h.deny_default, &event, Some(&body), on_deny, &body).await;
            h.check(&h.pass_default, &event, Some(&body), on_pass, &body).await;
        }
    }

    let gateway_level = [
        request("initialize", r#"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}"#),
        r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":9,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#.to_owned(),
        request("tools/list", "{}"),
        request("prompts/list", r#"{"cursor":"c1"}"#),
        request("resources/list", "{}"),
        request("resources/templates/list", "{}"),
        request("logging/setLevel", r#"{"level":"info"}"#),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":"s-1","result":{"action":"accept","content":{}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":"s-2","error":{"code":-1,"message":"no"}}"#.to_owned(),
        request("tools/call", r#"{"name":"x_amz_bedrock_agentcore_search","arguments":{"query":"crm"}}"#),
        request("prompts/get", r#"{"name":"no_prefix"}"#),
    ];
    for body in &gateway_level {
        let event = mcp_event(body, &h.user, "");
        h.check(&h.deny_default, &event, Some(body), &Passed, body).await;
        h.check(&h.pass_default, &event, Some(body), &Passed, body).await;
    }

    let tasks = ["tasks/get", "tasks/result", "tasks/list", "tasks/update", "tasks/cancel"];
    for method in tasks {
        let body = request(method, r#"{"taskId":"t-1"}"#);
        let event = mcp_event(&body, &h.user, "");
        h.check(&h.deny_default, &event, None, &Refused(403, "target_ambiguous"), &body).await;
        h.check(&h.pass_default, &event, None, &Refused(403, "target_ambiguous"), &body).await;
    }

    let unknown = [
        request("admin/exec", "{}"),
        request("sampling/createMessage", r#"{"messages":[]}"#),
        request("elicitation/create", "{}"),
        request("roots/list", "{}"),
        request("tools/cal", r#"{"name":"crm___x"}"#),
        request("", "{}"),
        request("completion/complete", r#"{"ref":{"type":"ref/tool","name":"crm___x"}}"#),
    ];
    for body in &unknown {
        let event = mcp_event(body, &h.user, "");
        h.check(&h.deny_default, &event, None, &Refused(400, "method_not_supported"), body).await;
        h.check(&h.pass_default, &event, None, &Refused(400, "method_not_supported"), body).await;
    }
    assert!(h.idp.calls() >= 1, "the obo rows minted");
}

#[tokio::test]
async fn tasks_pass_only_when_nothing_is_governed() {
    let idp = FakeIdp::start().await;
    let (open, _) = idp
        .interceptor(&[
            ("OBO_TARGETS", r#"{"weather":{"mode":"passthrough"}}"#),
            ("OBO_DEFAULT_MODE", "passthrough"),
        ])
        .await;
    let (closed, _) = idp.interceptor(&[("OBO_TARGETS", r#"{"weather":{"mode":"passthrough"}}"#)]).await;
    let body = request("tasks/get", r#"{"taskId":"t-1"}"#);
    let out = open.handle_json(&mcp_event(&body, "u", "")).await;
    assert!(out.contains(&format!(r#""transformedGatewayRequest":{{"body":{body}}}"#)), "{out}");
    let out: Value = serde_json::from_str(&closed.handle_json(&mcp_event(&body, "u", "")).await).unwrap();
    assert_eq!(short_circuit(&out).unwrap().1, "target_ambiguous");
}

#[tokio::test]
async fn the_stateless_revision_is_accepted_and_its_method_header_checked() {
    let h = Harness::start().await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm___get_account","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
    let stateless = r#","MCP-Protocol-Version":"2026-07-28""#;
    let rows: [(String, Expect); 7] = [
        (format!(r#"{stateless},"Mcp-Method":"tools/call""#), Minted),
        (format!(r#"{stateless},"mcp-method":"tools/call""#), Minted),
        (stateless.to_owned(), Minted),
        (r#","Mcp-Method":"tools/list""#.to_owned(), Refused(400, "bad_event")),
        (r#","Mcp-Method":"TOOLS/CALL""#.to_owned(), Refused(400, "bad_event")),
        (r#","Mcp-Method":"tools/call","MCP-METHOD":"tools/call""#.to_owned(), Refused(400, "bad_event")),
        (r#","Mcp-Method":"tools/call","Mcp-Method":"tools/list""#.to_owned(), Refused(400, "bad_event")),
    ];
    for (headers, expect) in &rows {
        h.check(&h.deny_default, &mcp_event(body, &h.user, headers), Some(body), expect, headers).await;
    }
    // A header naming a gateway-level method cannot smuggle a tool call past the table.
    let list_header = r#","Mcp-Method":"tools/list""#;
    let event = mcp_event(&request("tools/call", r#"{"name":"admin___x"}"#), &h.user, list_header);
    h.check(&h.pass_default, &event, None, &Refused(400, "bad_event"), "smuggled").await;
    // A response carries no method: any Mcp-Method header is a mismatch.
    let event = mcp_event(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#, &h.user, list_header);
    h.check(&h.pass_default, &event, None, &Refused(400, "bad_event"), "response").await;
}

#[tokio::test]
async fn duplicate_members_are_refused_never_last_wins() {
    let h = Harness::start().await;
    let body = request("tools/call", r#"{"name":"crm___x"}"#);
    let two_auth = format!(r#","Authorization":"Bearer {}""#, h.user);
    let event = mcp_event(&body, &h.user, &two_auth);
    h.check(&h.deny_default, &event, None, &Refused(400, "subject_ambiguous"), "two Authorization").await;
    let event = mcp_event(&body, &h.user, &two_auth.replace("Authorization", "authorization"));
    h.check(&h.deny_default, &event, None, &Refused(400, "subject_ambiguous"), "same name twice").await;
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"admin___x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather___x","name":"admin___x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"weather://x","uri":"admin://x"}}"#,
    ] {
        let event = mcp_event(body, &h.user, "");
        h.check(&h.pass_default, &event, None, &Refused(400, "bad_event"), body).await;
    }
    let event =
        format!(r#"{{"mcp":{{"gatewayRequest":{{"body":{body}}},"gatewayRequest":{{"body":{body}}}}}}}"#);
    h.check(&h.pass_default, &event, None, &Refused(400, "bad_event"), "two gatewayRequest").await;
}

#[tokio::test]
async fn bodies_reach_the_target_exactly() {
    let h = Harness::start().await;
    let arguments = r#"{"big":123456789012345678901234567890,"over_u64":18446744073709551616,"decimal":0.12345678901234567,"tiny":1e-400,"neg":-0.0,"text":"\u00e9\ud83d\ude00"}"#;
    for (target, expect) in [("crm", Minted), ("weather", Passed)] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":18446744073709551617,"method":"tools/call","params":{{"name":"{target}___x","arguments":{arguments}}}}}"#
        );
        h.check(&h.deny_default, &mcp_event(&body, &h.user, ""), Some(&body), &expect, target).await;
    }
    // A refusal echoes the id exactly.
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":18446744073709551617,"method":"tools/call","params":{{"name":"admin___x","arguments":{arguments}}}}}"#
    );
    let (text, _) = h.run(&h.deny_default, &mcp_event(&body, &h.user, "")).await;
    assert!(text.contains(r#""id":18446744073709551617"#), "{text}");
    // A RESPONSE event, with or without the request, passes the response unchanged.
    let response = format!(
        r#"{{"statusCode":200,"headers":{{"x":"y"}},"body":{{"jsonrpc":"2.0","id":1,"result":{arguments}}}}}"#
    );
    for event in [
        format!(r#"{{"interceptorInputVersion":"1.0","mcp":{{"gatewayResponse":{response}}}}}"#),
        format!(
            r#"{{"interceptorInputVersion":"1.0","mcp":{{"gatewayRequest":{{"body":{}}},"gatewayResponse":{response}}}}}"#,
            request("tools/call", r#"{"name":"crm___x"}"#)
        ),
    ] {
        let (text, _) = h.run(&h.deny_default, &event).await;
        assert_eq!(
            text,
            format!(
                r#"{{"interceptorOutputVersion":"1.0","mcp":{{"transformedGatewayResponse":{response}}}}}"#
            )
        );
    }
}

#[tokio::test]
async fn http_paths_fail_closed() {
    let h = Harness::start().await;
    let body = r#""eyJqc29ucnBjIjoiMi4wIiwiaWQiOjV9""#; // {"jsonrpc":"2.0","id":5}
    let event = |path: &str| {
        format!(
            r#"{{"interceptorInputVersion":"1.0","http":{{"gatewayRequest":{{"path":"{path}","httpMethod":"POST","headers":{{"Authorization":"Bearer {}"}},"body":{body}}}}}}}"#,
            h.user
        )
    };
    let rows = [
        ("/crm/invocations", Minted, Minted),
        ("/crm", Minted, Minted),
        ("/crm?qualifier=DEFAULT", Minted, Minted),
        ("/weather/invocations", Passed, Passed),
        ("/admin/invocations", Refused(403, "target_denied"), Refused(403, "target_denied")),
        ("/unlisted/invocations", Refused(403, "target_unlisted"), Passed),
    ];
    for (path, on_deny, on_pass) in &rows {
        h.check(&h.deny_default, &event(path), Some(body), on_deny, path).await;
        h.check(&h.pass_default, &event(path), Some(body), on_pass, path).await;
    }
    for path in [
        "/",
        "",
        "/?x",
        "//crm",
        "crm/x",
        "/crm%2Fx",
        "/%2e%2e/crm",
        "/crm/../admin",
        "/crm/%2E%2E/admin",
        "/crm/a%2fb",
        "/weather/..",
        "/./crm",
        "/CRM ",
    ] {
        h.check(&h.deny_default, &event(path), None, &Refused(400, "bad_event"), path).await;
        h.check(&h.pass_default, &event(path), None, &Refused(400, "bad_event"), path).await;
    }
}

#[tokio::test]
async fn the_sample_events_are_handled_as_documented() {
    let h = Harness::start().await;
    let samples = [
        ("tools-call.json", Minted),
        ("tools-list.json", Passed),
        ("prompts-get.json", Minted),
        ("resources-read.json", Passed),
        ("stateless-tools-call.json", Minted),
        ("http-request.json", Refused(403, "target_unlisted")),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/interceptor");
    for (file, expect) in &samples {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let bearer = format!("Bearer {}", h.user);
        let event = text
            .replace("<user access token>", &h.user)
            .replace("<bearer token>", &bearer)
            .replace("<base64 encoded body>", "e30=");
        h.check(&h.deny_default, &event, None, expect, file).await;
    }
}
