//! The HTTP side: reading the bearer token from `Authorization` (exactly one header, parsed by
//! [`obo_core::bearer::parse_bearer`]) and turning a rejection into the RFC 6750 answer (`401` with
//! `WWW-Authenticate: Bearer error="invalid_token"`). Framework-neutral `http` types; axum,
//! hyper and tower use them directly.

use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use obo_core::{ReasonCode, Rejection};
use serde_json::json;

pub use obo_core::bearer::parse_bearer;

/// The bearer token of a request. Refuses a missing header (`subject_missing`), more than one
/// (`subject_ambiguous`) and anything that is not `Bearer <token>` (`subject_malformed`).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value =
        values.next().ok_or_else(|| Rejection::new(ReasonCode::SubjectMissing, "no Authorization header"))?;
    if values.next().is_some() {
        return Err(Rejection::new(ReasonCode::SubjectAmbiguous, "more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| Rejection::new(ReasonCode::SubjectMalformed, "the Authorization header is not text"))?;
    parse_bearer(value).ok_or_else(|| {
        Rejection::new(ReasonCode::SubjectMalformed, "the Authorization header is not `Bearer <token>`")
    })
}

/// The HTTP status for a rejected request: 400 for an ambiguous request, the reason's own status
/// when the fault is on the server's side (503 keys unavailable, 500 misconfigured), else 401.
pub fn rejection_status(rejection: &Rejection) -> StatusCode {
    let own = rejection.reason.http_status();
    match rejection.reason {
        ReasonCode::SubjectAmbiguous => StatusCode::BAD_REQUEST,
        _ if own >= 500 && rejection.reason != ReasonCode::OboClaimsMissing => {
            StatusCode::from_u16(own).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// The `WWW-Authenticate` challenge for a rejection: plain `Bearer` when no token was sent
/// (RFC 6750 §3.1), `error="invalid_request"` for a malformed request, `error="invalid_token"`
/// with the reason code as `error_description` otherwise; `None` for server-side failures.
pub fn www_authenticate(rejection: &Rejection) -> Option<HeaderValue> {
    let value = match (rejection.reason, rejection_status(rejection)) {
        (ReasonCode::SubjectMissing, _) => "Bearer".to_owned(),
        (_, StatusCode::BAD_REQUEST) => {
            format!(r#"Bearer error="invalid_request", error_description="{}""#, rejection.reason)
        }
        (_, StatusCode::UNAUTHORIZED) => {
            format!(r#"Bearer error="invalid_token", error_description="{}""#, rejection.reason)
        }
        _ => return None,
    };
    // Reason codes are `[a-z_]`: always a valid header value.
    HeaderValue::from_str(&value).ok()
}

/// A complete error response: status, challenge, and a JSON body
/// `{"error", "error_description", "reason"}` whose description is the rejection's message
/// (never token material).
pub fn error_response(rejection: &Rejection) -> Response<String> {
    let status = rejection_status(rejection);
    let error = match status {
        StatusCode::UNAUTHORIZED => "invalid_token",
        StatusCode::BAD_REQUEST => "invalid_request",
        _ => "temporarily_unavailable",
    };
    let body =
        json!({"error": error, "error_description": rejection.message, "reason": rejection.reason.as_str()});
    let mut response = Response::new(body.to_string());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(challenge) = www_authenticate(rejection) {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn exactly_one_authorization_header() {
        assert_eq!(bearer_token(&headers(&["Bearer t"])).unwrap(), "t");
        let reason = |h: &[&str]| bearer_token(&headers(h)).unwrap_err().reason;
        assert_eq!(reason(&[]), ReasonCode::SubjectMissing);
        assert_eq!(reason(&["Bearer a", "Bearer b"]), ReasonCode::SubjectAmbiguous);
        assert_eq!(reason(&["Basic abc"]), ReasonCode::SubjectMalformed);
    }

    #[test]
    fn rejections_become_rfc6750_answers() {
        let r = Rejection::new(ReasonCode::SubjectBadSignature, "the token's signature does not verify");
        let response = error_response(&r);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token", error_description="subject_bad_signature""#
        );
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["reason"], "subject_bad_signature");
        assert_eq!(body["error"], "invalid_token");

        let missing = error_response(&Rejection::new(ReasonCode::SubjectMissing, "no Authorization header"));
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(missing.headers()[WWW_AUTHENTICATE], "Bearer");

        let two = error_response(&Rejection::new(ReasonCode::SubjectAmbiguous, "two"));
        assert_eq!(two.status(), StatusCode::BAD_REQUEST);

        let down = error_response(&Rejection::new(ReasonCode::JwksUnavailable, "down"));
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(down.headers().get(WWW_AUTHENTICATE).is_none());

        for reason in
            [ReasonCode::OboClaimsMissing, ReasonCode::TokenNotForTarget, ReasonCode::SubjectClientNotAllowed]
        {
            assert_eq!(rejection_status(&Rejection::new(reason, "x")), StatusCode::UNAUTHORIZED, "{reason}");
        }
    }
}
