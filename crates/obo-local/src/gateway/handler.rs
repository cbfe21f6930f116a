//! One inbound request through the gateway: authorize the user's token, parse the JSON-RPC
//! message, run the REQUEST interceptor, then answer it here (`initialize`, `ping`, the four
//! list methods) or route it to a target (`tools/call`, `prompts/get`, `resources/read`). One log line per request, no token.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::ALLOW;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use obo_target::error_response;
use serde_json::{Value, json};

use super::interceptor::{self, Outcome};
use super::jsonrpc::{self, INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};
use super::routing::{Call, Gateway};
use crate::invoke::InvokeError;

/// Protocol versions the gateway answers `initialize` with (the client's, if listed).
const PROTOCOL_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The gateway's HTTP surface: `POST`, `GET` (405: no server stream) and `DELETE` on `/mcp`.
pub(crate) fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().route("/mcp", post(post_mcp).get(get_mcp).delete(delete_mcp)).with_state(gateway)
}

/// What one request did, for the log line.
#[derive(Default)]
pub(crate) struct RequestLog {
    pub(crate) user: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) interceptor: Cow<'static, str>,
    pub(crate) reason: Option<String>,
}

impl RequestLog {
    fn emit(&self, status: StatusCode, started: Instant) {
        tracing::info!(
            user = %self.user.as_deref().unwrap_or("-"),
            username = %self.username.as_deref().unwrap_or("-"),
            method = %self.method.as_deref().unwrap_or("-"),
            target_name = %self.target.as_deref().unwrap_or("-"),
            interceptor = %self.interceptor,
            status = status.as_u16(),
            reason = %self.reason.as_deref().unwrap_or("-"),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "gateway request"
        );
    }
}

async fn post_mcp(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let mut log = RequestLog { interceptor: "-".into(), ..RequestLog::default() };
    let response = handle(&gw, &headers, &body, &mut log).await;
    log.emit(response.status(), started);
    response
}

async fn get_mcp(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(response) = authorize(&gw, &headers, &mut RequestLog::default()).await {
        return response;
    }
    (StatusCode::METHOD_NOT_ALLOWED, [(ALLOW, HeaderValue::from_static("POST, DELETE"))]).into_response()
}

async fn delete_mcp(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    match authorize(&gw, &headers, &mut RequestLog::default()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(response) => response,
    }
}

async fn authorize(gw: &Gateway, headers: &HeaderMap, log: &mut RequestLog) -> Result<(), Response> {
    match gw.authorizer.authorize(headers).await {
        Ok(claims) => {
            log.user = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
            log.username = ["username", "cognito:username"]
                .iter()
                .find_map(|c| claims.get(*c).and_then(Value::as_str))
                .map(str::to_owned);
            Ok(())
        }
        Err(rejection) => {
            log.reason = Some(rejection.reason.as_str().to_owned());
            Err(error_response(&rejection).into_response())
        }
    }
}

async fn handle(gw: &Gateway, headers: &HeaderMap, body: &[u8], log: &mut RequestLog) -> Response {
    if let Err(response) = authorize(gw, headers, log).await {
        return response;
    }
    let parsed = std::str::from_utf8(body).ok().and_then(|raw| Some((raw, serde_json::from_str(raw).ok()?)));
    let Some((raw, request)) = parsed else {
        return jsonrpc::error_with_status(
            StatusCode::BAD_REQUEST,
            Value::Null,
            PARSE_ERROR,
            "parse error",
            None,
        );
    };
    let request: Value = request;
    let method = request.get("method").and_then(Value::as_str);
    let Some(method) = method.filter(|_| request.is_object()) else {
        let message = "expected one JSON-RPC request object (batches are not supported)";
        return jsonrpc::error_with_status(
            StatusCode::BAD_REQUEST,
            Value::Null,
            INVALID_REQUEST,
            message,
            None,
        );
    };
    log.method = Some(method.to_owned());
    if request.get("id").is_none() {
        // A notification: accepted, nothing to intercept or answer.
        return StatusCode::ACCEPTED.into_response();
    }
    let id = request["id"].clone();
    let (request, authorization, extra_headers) = match &gw.interceptor {
        None => {
            log.interceptor = "none".into();
            (request, None, Vec::new())
        }
        Some(lambda) => {
            let event = interceptor::input(raw, &request, headers, gw.pass_request_headers);
            // The Lambda host enforces the deadline; the margin only guards against one that
            // does not.
            let deadline = gw.interceptor_timeout;
            let invoked =
                tokio::time::timeout(deadline + Duration::from_secs(1), lambda.invoke(event, deadline));
            let output = match invoked.await.unwrap_or(Err(InvokeError::Timeout(deadline))) {
                Ok(output) => output,
                Err(err) => return interceptor_failed(id, err, log),
            };
            match interceptor::outcome(output, request) {
                Ok(Outcome::Respond { status, body }) => {
                    log.interceptor = "short_circuit".into();
                    log.reason =
                        body.pointer("/error/data/reason").and_then(Value::as_str).map(str::to_owned);
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    return (status, axum::Json(body)).into_response();
                }
                Ok(Outcome::Forward { body, authorization, headers }) => {
                    log.interceptor =
                        if authorization.is_some() { "authorization_set" } else { "pass_through" }.into();
                    (body, authorization, headers)
                }
                Err(detail) => {
                    log.interceptor = "invalid_output".into();
                    let data = json!({"source": "interceptor", "failure": "invalid_output"});
                    let message = format!("the interceptor's answer does not follow the contract: {detail}");
                    return jsonrpc::error(id, INTERNAL_ERROR, message, Some(data));
                }
            }
        }
    };
    // The (possibly transformed) request decides what happens next.
    let id = request.get("id").cloned().unwrap_or(id);
    let params = request.get("params");
    match request.get("method").and_then(Value::as_str).unwrap_or_default() {
        "initialize" => initialize(id, params),
        "ping" => jsonrpc::result(id, json!({})),
        "tools/list" => jsonrpc::result(id, json!({"tools": gw.catalog().tools})),
        "tools/call" => gw.call_tool(Call { id, params, authorization, headers: extra_headers }, log).await,
        "prompts/list" => jsonrpc::result(id, json!({"prompts": gw.catalog().prompts})),
        "prompts/get" => gw.get_prompt(Call { id, params, authorization, headers: extra_headers }, log).await,
        "resources/list" => {
            let catalog = gw.catalog();
            let resources: Vec<_> = catalog.resources.iter().map(|(_, r)| r).collect();
            jsonrpc::result(id, json!({ "resources": resources }))
        }
        "resources/templates/list" => {
            jsonrpc::result(id, json!({"resourceTemplates": gw.catalog().templates}))
        }
        "resources/read" => {
            gw.read_resource(Call { id, params, authorization, headers: extra_headers }, log).await
        }
        other => jsonrpc::error(id, METHOD_NOT_FOUND, format!("method {other:?} is not supported"), None),
    }
}

fn initialize(id: Value, params: Option<&Value>) -> Response {
    let asked = params.and_then(|p| p.get("protocolVersion")).and_then(Value::as_str);
    let version = asked.filter(|v| PROTOCOL_VERSIONS.contains(v)).unwrap_or(PROTOCOL_VERSIONS[0]);
    let mut response = jsonrpc::result(
        id,
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}, "prompts": {"listChanged": false}, "resources": {}},
            "serverInfo": {"name": "obo-local-gateway", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Local AgentCore Gateway emulator: tools are named <target>___<tool>.",
        }),
    );
    if let Ok(session) = HeaderValue::from_str(&obo_testkit::tokens::unique_id()) {
        response.headers_mut().insert("mcp-session-id", session);
    }
    response
}

fn interceptor_failed(id: Value, err: InvokeError, log: &mut RequestLog) -> Response {
    let (failure, message, mut data) = match &err {
        InvokeError::Function { error_type, error_message } => {
            log.interceptor = format!("function_error:{error_type}").into();
            let data = json!({"errorType": error_type});
            ("function_error", format!("the interceptor failed ({error_type}): {error_message}"), data)
        }
        InvokeError::Timeout(after) => {
            log.interceptor = "timeout".into();
            ("timeout", format!("the interceptor did not answer within {after:?}"), json!({}))
        }
        InvokeError::Crashed(detail) => {
            log.interceptor = "crashed".into();
            ("crashed", format!("the interceptor crashed: {detail}"), json!({}))
        }
    };
    data["source"] = json!("interceptor");
    data["failure"] = json!(failure);
    // A function error named by a reason code carries it on, like a short-circuit would.
    if let InvokeError::Function { error_type, .. } = &err
        && let Some(reason) = obo_core::ReasonCode::from_code(error_type)
    {
        data["reason"] = json!(reason.as_str());
        data["retryable"] = json!(reason.retryable());
        log.reason = Some(reason.as_str().to_owned());
    }
    jsonrpc::error(id, INTERNAL_ERROR, message, Some(data))
}
