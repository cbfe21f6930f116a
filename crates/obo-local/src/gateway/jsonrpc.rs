//! JSON-RPC 2.0 answers as HTTP responses (`application/json`, HTTP 200: the HTTP exchange
//! worked, the JSON-RPC error says what did not).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Invalid JSON was received.
pub const PARSE_ERROR: i32 = -32700;
/// The JSON is not a valid request object.
pub const INVALID_REQUEST: i32 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// Invalid method parameters (an unknown tool included).
pub const INVALID_PARAMS: i32 = -32602;
/// The gateway could not complete the request (interceptor or target failure).
pub const INTERNAL_ERROR: i32 = -32603;

/// A success response.
pub fn result(id: Value, result: Value) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// An error response.
pub fn error(id: Value, code: i32, message: impl Into<String>, data: Option<Value>) -> Response {
    error_with_status(StatusCode::OK, id, code, message, data)
}

/// An error response with another HTTP status (e.g. 400 for a body that is not JSON).
pub fn error_with_status(
    status: StatusCode,
    id: Value,
    code: i32,
    message: impl Into<String>,
    data: Option<Value>,
) -> Response {
    let mut error = json!({"code": code, "message": message.into()});
    if let Some(data) = data {
        error["data"] = data;
    }
    (status, Json(json!({"jsonrpc": "2.0", "id": id, "error": error}))).into_response()
}
