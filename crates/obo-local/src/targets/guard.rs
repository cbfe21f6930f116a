//! The HTTP layer in front of every demo target: records each `Authorization` value, then (when
//! the target has a verifier) lets through only valid service tokens for this target, answering
//! anything else with `401` and `WWW-Authenticate` before MCP sees it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use obo_target::{TargetVerifier, bearer_token, error_response};

use super::record::AuthorizationLog;

/// State of the guard layer.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) name: &'static str,
    pub(crate) log: AuthorizationLog,
    pub(crate) verifier: Option<Arc<TargetVerifier>>,
}

/// The axum middleware (`axum::middleware::from_fn_with_state`).
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    for value in request.headers().get_all(AUTHORIZATION) {
        guard.log.record(value.as_bytes());
    }
    if let Some(verifier) = &guard.verifier {
        let checked = match bearer_token(request.headers()) {
            Ok(token) => verifier.verify_service(token).await.map(|_| ()),
            Err(rejection) => Err(rejection),
        };
        if let Err(rejection) = checked {
            let reason = rejection.reason;
            tracing::info!(target_name = %guard.name, reason = %reason, "target refused the request");
            return error_response(&rejection).into_response();
        }
    }
    next.run(request).await
}
