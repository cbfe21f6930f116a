//! The `oauth2` transport: one `POST` to the token endpoint (Cognito `/oauth2/token`, or any
//! RFC 6749 / RFC 8693 endpoint), client authentication by HTTP Basic, a form body, and the
//! mapping of the answer to a token or a reason code.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use url::form_urlencoded;

use super::{Attempt, AttemptError, Grant, Issued, Retry, issued, trigger_reason};
use crate::http::{HttpClient, HttpError};
use crate::reason::ReasonCode;
use crate::secret::Secret;

/// Cap on a token endpoint's answer.
const BODY_CAP: usize = 64 * 1024;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// OAuth error codes that may be logged as they are; anything else is logged as `other`.
const KNOWN_ERRORS: [&str; 8] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "access_denied",
];

/// `Authorization: Basic …` per RFC 6749 §2.3.1 (id and secret form-encoded first). Marked
/// sensitive so that no HTTP layer logs it.
pub fn basic_auth(client_id: &str, secret: &Secret) -> HeaderValue {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", enc(client_id), enc(secret.expose()));
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// The form body for `grant`. It holds the user's token: never log it.
pub fn form_body(grant: Grant<'_>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::with_capacity(2048));
    match grant {
        Grant::ClientCredentials { scopes, metadata } => {
            form.append_pair("grant_type", "client_credentials");
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            if !metadata.is_empty() {
                let map: serde_json::Map<String, serde_json::Value> =
                    metadata.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
                form.append_pair("aws_client_metadata", &serde_json::Value::Object(map).to_string());
            }
        }
        Grant::TokenExchange { subject_token, scopes, audience, resource, actor_token } => {
            form.append_pair("grant_type", TOKEN_EXCHANGE);
            form.append_pair("subject_token", subject_token);
            form.append_pair("subject_token_type", ACCESS_TOKEN_TYPE);
            form.append_pair("requested_token_type", ACCESS_TOKEN_TYPE);
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            if let Some(audience) = audience {
                form.append_pair("audience", audience);
            }
            if let Some(resource) = resource {
                form.append_pair("resource", resource);
            }
            if let Some(actor) = actor_token {
                form.append_pair("actor_token", actor);
                form.append_pair("actor_token_type", ACCESS_TOKEN_TYPE);
            }
        }
    }
    form.finish()
}

/// One request to the token endpoint.
pub async fn attempt(
    http: &HttpClient,
    url: &url::Url,
    attempt: Attempt<'_>,
) -> Result<Issued, AttemptError> {
    let Attempt { client_id, secret, grant, deadline, now_ms } = attempt;
    let mut headers = HeaderMap::with_capacity(1);
    headers.insert(AUTHORIZATION, basic_auth(client_id, secret));
    let response =
        http.post_form(url, headers, form_body(grant), deadline, BODY_CAP).await.map_err(|e| match e {
            HttpError::Timeout => AttemptError::timeout(),
            HttpError::Connect => AttemptError::unreachable("the identity provider could not be reached"),
            HttpError::BodyTooLarge(_) => AttemptError::new(
                ReasonCode::IdpUnavailable,
                "the identity provider's answer is too large",
                Retry::No,
            ),
            HttpError::UrlNotAllowed(_) => AttemptError::new(
                ReasonCode::Misconfigured,
                "the token endpoint URL is not allowed",
                Retry::No,
            ),
            HttpError::Transport(_) => {
                AttemptError::unreachable("the connection to the identity provider failed")
            }
        })?;
    let status = response.status;
    let mut result = if status == 200 {
        success(&response.body, matches!(grant, Grant::TokenExchange { .. }), now_ms)
    } else {
        Err(failure(status, retry_after(&response.headers), &response.body))
    };
    if let Err(err) = &mut result {
        err.status = Some(status);
    }
    result
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    issued_token_type: Option<String>,
}

fn success(body: &[u8], exchange: bool, now_ms: u64) -> Result<Issued, AttemptError> {
    let bad = |what: &str| {
        AttemptError::new(
            ReasonCode::IdpUnavailable,
            format!("the token endpoint's answer {what}"),
            Retry::No,
        )
    };
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|_| bad("is not a token response"))?;
    if !parsed.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(bad("is not a Bearer token"));
    }
    if exchange
        && parsed.issued_token_type.as_deref().is_some_and(|t| t != ACCESS_TOKEN_TYPE && t != JWT_TOKEN_TYPE)
    {
        return Err(bad("is not an access token"));
    }
    let expires_in = match parsed.expires_in {
        None => None,
        Some(v) => {
            Some(crate::subject::verify::numeric_date(&v).ok_or_else(|| bad("has an invalid expires_in"))?)
        }
    };
    issued(parsed.access_token.unwrap_or_default(), expires_in, now_ms)
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: the backoff applies then).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Maps a non-200 answer to a reason code and a retry decision.
pub fn failure(status: u16, retry_after: Option<Duration>, body: &[u8]) -> AttemptError {
    match status {
        429 => {
            return AttemptError::new(
                ReasonCode::IdpThrottled,
                "the identity provider is throttling token requests",
                Retry::After(retry_after),
            );
        }
        500..=599 => {
            return AttemptError::new(
                ReasonCode::IdpUnavailable,
                format!("the identity provider failed (HTTP {status})"),
                Retry::After(retry_after),
            );
        }
        _ => {}
    }
    let parsed = serde_json::from_slice::<ErrorResponse>(body).ok();
    let error = parsed.as_ref().and_then(|p| p.error.as_deref()).unwrap_or_default();
    let description = parsed.as_ref().and_then(|p| p.error_description.as_deref()).unwrap_or_default();
    let logged = KNOWN_ERRORS.iter().find(|e| **e == error).copied().unwrap_or("other");
    if let Some(reason) = trigger_reason(description) {
        return AttemptError::new(
            reason,
            format!("the pre-token trigger refused the on-behalf-of request ({reason})"),
            Retry::No,
        );
    }
    match (status, error) {
        (_, "invalid_client") | (401, "") => AttemptError::new(
            ReasonCode::IdpClientRejected,
            "the identity provider rejected the interceptor's client credentials",
            Retry::InvalidClient,
        ),
        (_, "invalid_scope" | "unauthorized_client" | "unsupported_grant_type" | "invalid_target") => {
            AttemptError::new(
                ReasonCode::Misconfigured,
                format!("the identity provider refused the request as configured ({logged})"),
                Retry::No,
            )
        }
        (300..=399 | 404 | 405, _) => AttemptError::new(
            ReasonCode::Misconfigured,
            format!("the token endpoint answered HTTP {status}: check OBO_TOKEN_ENDPOINT"),
            Retry::No,
        ),
        (400 | 401 | 403, _) => AttemptError::new(
            ReasonCode::OboDenied,
            format!("the identity provider refused to mint the on-behalf-of token ({logged})"),
            Retry::No,
        ),
        _ => AttemptError::new(
            ReasonCode::IdpUnavailable,
            format!("the token endpoint answered HTTP {status}"),
            Retry::No,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(status: u16, body: &str) -> (ReasonCode, Retry) {
        let e = failure(status, None, body.as_bytes());
        (e.rejection.reason, e.retry)
    }

    #[test]
    fn oauth_errors_map_to_reasons() {
        let trig = r#"{"error":"invalid_request","error_description":"PreTokenGenerationV3_0 failed with error subject_bad_signature: nope."}"#;
        assert_eq!(reason(400, trig), (ReasonCode::SubjectBadSignature, Retry::No));
        assert_eq!(reason(400, r#"{"error":"invalid_request"}"#), (ReasonCode::OboDenied, Retry::No));
        assert_eq!(
            reason(400, r#"{"error":"invalid_client"}"#),
            (ReasonCode::IdpClientRejected, Retry::InvalidClient)
        );
        assert_eq!(reason(400, r#"{"error":"invalid_scope"}"#), (ReasonCode::Misconfigured, Retry::No));
        assert_eq!(reason(400, "not json"), (ReasonCode::OboDenied, Retry::No));
        assert_eq!(reason(429, ""), (ReasonCode::IdpThrottled, Retry::After(None)));
        assert_eq!(reason(503, ""), (ReasonCode::IdpUnavailable, Retry::After(None)));
        assert_eq!(reason(404, ""), (ReasonCode::Misconfigured, Retry::No));
        assert_eq!(reason(302, ""), (ReasonCode::Misconfigured, Retry::No));
        let e = failure(400, None, br#"{"error":"secret-looking-value"}"#);
        assert!(!e.rejection.message.contains("secret-looking-value"));
    }

    #[test]
    fn basic_auth_and_form_follow_rfc_6749() {
        let v = basic_auth("id", &Secret::new("s:e cret"));
        assert!(v.is_sensitive());
        let b64 = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
        assert_eq!(STANDARD.decode(b64).unwrap(), b"id:s%3Ae+cret");
        let scopes = ["a/b".to_owned(), "c".to_owned()];
        let body = form_body(Grant::ClientCredentials {
            scopes: &scopes,
            metadata: &[("onBehalfOfToken", "t.o.k")],
        });
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        assert_eq!(pairs[0], ("grant_type".into(), "client_credentials".into()));
        assert_eq!(pairs[1], ("scope".into(), "a/b c".into()));
        assert_eq!(pairs[2], ("aws_client_metadata".into(), r#"{"onBehalfOfToken":"t.o.k"}"#.into()));
    }

    #[test]
    fn success_needs_a_bearer_token_with_an_expiry() {
        assert!(
            success(br#"{"access_token":"x","token_type":"Bearer","expires_in":3600}"#, false, 0).is_ok()
        );
        assert!(success(br#"{"access_token":"x","token_type":"N_A","expires_in":3600}"#, true, 0).is_err());
        assert!(success(br#"{"access_token":"x","token_type":"Bearer"}"#, false, 0).is_err());
        let refresh = br#"{"access_token":"x","token_type":"Bearer","expires_in":1,"issued_token_type":"urn:ietf:params:oauth:token-type:refresh_token"}"#;
        assert!(success(refresh, true, 0).is_err());
    }
}
