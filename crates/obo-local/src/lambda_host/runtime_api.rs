//! The Lambda Runtime API (`/2018-06-01/runtime/…`) of one execution environment: what
//! `lambda_runtime` (and every other Lambda runtime client) calls.
//!
//! - `GET  invocation/next` long-polls and answers with the event and the `Lambda-Runtime-*`
//!   headers (`Lambda-Runtime-Client-Context` when the caller set a client context). It never answers 204: a release build of `lambda_runtime` does not skip it.
//! - `POST invocation/{id}/response` delivers the result (at most 6 MB, as in Lambda).
//! - `POST invocation/{id}/error` delivers a function error, `{"errorType","errorMessage"}`.
//! - `POST init/error` reports a failed cold start; the environment is then stopped.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::MAX_PAYLOAD_BYTES;
use super::environment::EnvState;
use crate::invoke::InvokeError;

/// Cap on an error report's body.
const MAX_ERROR_BYTES: usize = 256 * 1024;

/// The routes of one environment's Runtime API.
pub(super) fn router(env: Arc<EnvState>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(env)
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (status, axum::Json(json!({"errorType": error_type, "errorMessage": message}))).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

async fn next(State(env): State<Arc<EnvState>>) -> Response {
    let Some(dispatch) = env.next_event().await else {
        return api_error(
            StatusCode::GONE,
            "Runtime.EnvironmentStopped",
            "this execution environment has been stopped",
        );
    };
    let values = [
        ("lambda-runtime-aws-request-id", HeaderValue::try_from(dispatch.id)),
        ("lambda-runtime-deadline-ms", HeaderValue::try_from(dispatch.deadline_epoch_ms.to_string())),
        ("lambda-runtime-invoked-function-arn", HeaderValue::try_from(env.arn())),
        ("lambda-runtime-trace-id", HeaderValue::try_from(dispatch.trace_id)),
    ];
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in values {
        match value {
            Ok(value) => {
                headers.insert(name, value);
            }
            Err(_) => {
                return api_error(StatusCode::INTERNAL_SERVER_ERROR, "Host.InvalidHeader", name);
            }
        }
    }
    if let Some(context) = dispatch.client_context {
        match HeaderValue::try_from(context) {
            Ok(value) => {
                headers.insert("lambda-runtime-client-context", value);
            }
            Err(_) => {
                return api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Host.InvalidHeader",
                    "lambda-runtime-client-context",
                );
            }
        }
    }
    (StatusCode::OK, headers, dispatch.body).into_response()
}

async fn response(State(env): State<Arc<EnvState>>, Path(id): Path<String>, body: Body) -> Response {
    let result = match axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|_| InvokeError::Function {
            error_type: "Runtime.InvalidResponsePayload".into(),
            error_message: "the function's response is not JSON".into(),
        }),
        Err(_) => Err(InvokeError::Function {
            error_type: "Function.ResponseSizeTooLarge".into(),
            error_message: format!("the response exceeds {MAX_PAYLOAD_BYTES} bytes"),
        }),
    };
    let too_large = matches!(&result, Err(InvokeError::Function { error_type, .. }) if error_type == "Function.ResponseSizeTooLarge");
    if !env.complete(&id, result) {
        return unknown_request(&id);
    }
    if too_large {
        return api_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "response too large");
    }
    accepted()
}

async fn error(
    State(env): State<Arc<EnvState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (error_type, error_message) = read_error(&headers, body).await;
    if !env.complete(&id, Err(InvokeError::Function { error_type, error_message })) {
        return unknown_request(&id);
    }
    accepted()
}

async fn init_error(State(env): State<Arc<EnvState>>, headers: HeaderMap, body: Body) -> Response {
    let (error_type, error_message) = read_error(&headers, body).await;
    env.init_failed(&error_type, &error_message);
    accepted()
}

fn unknown_request(id: &str) -> Response {
    let id: String = id.chars().take(64).collect();
    api_error(StatusCode::BAD_REQUEST, "InvalidRequestID", &format!("no invocation {id:?} is waiting"))
}

/// Reads `{"errorType","errorMessage"}` leniently: the type falls back to the
/// `Lambda-Runtime-Function-Error-Type` header, a non-JSON body becomes the message.
async fn read_error(headers: &HeaderMap, body: Body) -> (String, String) {
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BYTES).await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let field =
        |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_owned);
    let error_type = field("errorType").or(header_type).unwrap_or_else(|| "Unhandled".to_owned());
    let error_message = match field("errorMessage") {
        Some(message) => message,
        None if parsed.is_none() => String::from_utf8_lossy(&bytes).into_owned(),
        None => String::new(),
    };
    (error_type, error_message)
}
