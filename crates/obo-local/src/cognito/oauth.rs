//! The pool's OAuth side: `POST /oauth2/token` (client_credentials and RFC 8693 token
//! exchange, client authentication by HTTP Basic or `client_secret_post`), OIDC discovery and the
//! JWKS. Errors are OAuth JSON errors with HTTP 400, as Cognito answers them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::controls::{Operation, TriggerErrorForm};
use super::exchange::ExchangeRequest;
use super::pool::{MachineRequest, Pool, PoolError};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn oauth_error(status: StatusCode, error: &str, description: Option<String>) -> Response {
    let mut body = json!({ "error": error });
    if let Some(description) = description {
        body["error_description"] = json!(description);
    }
    (status, no_store(), axum::Json(body)).into_response()
}

fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")]
}

fn render(err: PoolError, form: TriggerErrorForm) -> Response {
    let bad = StatusCode::BAD_REQUEST;
    match err {
        PoolError::InvalidClient => oauth_error(bad, "invalid_client", None),
        PoolError::UnsupportedGrantType => oauth_error(bad, "unsupported_grant_type", None),
        PoolError::UnauthorizedClient(m) => oauth_error(bad, "unauthorized_client", Some(m)),
        PoolError::InvalidScope(m) => oauth_error(bad, "invalid_scope", Some(m)),
        PoolError::InvalidGrant(m) => oauth_error(bad, "invalid_grant", Some(m)),
        PoolError::Trigger(failure) => match form {
            TriggerErrorForm::Described => oauth_error(bad, "invalid_request", Some(failure.description())),
            TriggerErrorForm::Bare => oauth_error(bad, "invalid_request", None),
        },
        PoolError::Injected(429) => {
            oauth_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", Some("Rate exceeded".into()))
        }
        PoolError::Injected(status) => oauth_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "server_error",
            None,
        ),
        PoolError::InvalidRequest(m) | PoolError::NotAuthorized(m) | PoolError::ResourceNotFound(m) => {
            oauth_error(bad, "invalid_request", Some(m))
        }
        PoolError::UserNotFound => oauth_error(bad, "invalid_request", None),
    }
}

/// `client_id` and `client_secret`, from HTTP Basic or from the form (not both, RFC 6749 §2.3).
fn client_credentials(
    headers: &HeaderMap,
    form: &Map<String, Value>,
) -> Result<(String, Option<String>), PoolError> {
    let from_form = form.get("client_id").and_then(Value::as_str);
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, value)| value.trim());
    match (basic, from_form) {
        (Some(_), Some(_)) => {
            Err(PoolError::InvalidRequest("use one client authentication method, not two".into()))
        }
        (Some(encoded), None) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(PoolError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(PoolError::InvalidClient)?;
            Ok((percent_decode(id), Some(percent_decode(secret))))
        }
        (None, Some(id)) => {
            Ok((id.to_owned(), form.get("client_secret").and_then(Value::as_str).map(str::to_owned)))
        }
        (None, None) => Err(PoolError::InvalidClient),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The form's parameters; a repeated parameter is an error (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<Map<String, Value>, PoolError> {
    let mut form = Map::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), Value::String(value.into_owned())).is_some() {
            return Err(PoolError::InvalidRequest(format!("the parameter {name:?} is repeated")));
        }
    }
    Ok(form)
}

/// `aws_client_metadata`: a JSON object of string values.
fn client_metadata(form: &Map<String, Value>) -> Result<Option<Map<String, Value>>, PoolError> {
    let Some(raw) = form.get("aws_client_metadata").and_then(Value::as_str) else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) if map.values().all(Value::is_string) => Ok(Some(map)),
        _ => Err(PoolError::InvalidRequest(
            "aws_client_metadata must be a JSON object of string values".into(),
        )),
    }
}

fn scopes(form: &Map<String, Value>) -> Option<Vec<String>> {
    form.get("scope").and_then(Value::as_str).map(|s| s.split_whitespace().map(str::to_owned).collect())
}

/// `POST /oauth2/token`.
pub(crate) async fn token(State(pool): State<Arc<Pool>>, headers: HeaderMap, body: Bytes) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form_error = pool.controls.error_form();
    if !form_type {
        let err = PoolError::InvalidRequest("the body must be application/x-www-form-urlencoded".into());
        return render(err, form_error);
    }
    let result = async {
        let form = parse_form(&body)?;
        let grant = form.get("grant_type").and_then(Value::as_str).unwrap_or_default();
        let text = |name: &str| form.get(name).and_then(Value::as_str);
        match grant {
            "client_credentials" => {
                let (client_id, secret) = client_credentials(&headers, &form).inspect_err(|_| {
                    pool.controls.count(None, |n| n.client_credentials += 1);
                })?;
                let metadata = client_metadata(&form).inspect_err(|_| {
                    pool.controls.count(Some(&client_id), |n| n.client_credentials += 1);
                })?;
                let request = MachineRequest {
                    client_id: &client_id,
                    secret: secret.as_deref(),
                    scopes: scopes(&form),
                    metadata,
                };
                pool.machine_token(Operation::ClientCredentials, request).await
            }
            TOKEN_EXCHANGE => {
                let (client_id, secret) = client_credentials(&headers, &form).inspect_err(|_| {
                    pool.controls.count(None, |n| n.token_exchange += 1);
                })?;
                let missing = |name: &str| PoolError::InvalidRequest(format!("{name} is required"));
                let request = ExchangeRequest {
                    client_id: &client_id,
                    secret: secret.as_deref(),
                    subject_token: text("subject_token").ok_or_else(|| missing("subject_token"))?,
                    subject_token_type: text("subject_token_type")
                        .ok_or_else(|| missing("subject_token_type"))?,
                    actor_token: text("actor_token"),
                    actor_token_type: text("actor_token_type"),
                    scopes: scopes(&form),
                };
                pool.token_exchange(request)
            }
            "" => Err(PoolError::InvalidRequest("grant_type is required".into())),
            _ => Err(PoolError::UnsupportedGrantType),
        }
    }
    .await;
    match result {
        Ok(issued) => {
            let body = json!({
                "access_token": issued.access_token,
                "expires_in": issued.expires_in,
                "token_type": "Bearer",
            });
            (StatusCode::OK, no_store(), axum::Json(body)).into_response()
        }
        Err(err) => render(err, form_error),
    }
}

/// `GET /<poolId>/.well-known/openid-configuration`.
pub(crate) async fn discovery(State(pool): State<Arc<Pool>>) -> Response {
    let base = pool.issuer.trim_end_matches(&format!("/{}", pool.config.pool_id)).to_owned();
    axum::Json(json!({
        "issuer": pool.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", pool.issuer),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "response_types_supported": ["code", "token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

/// `GET /<poolId>/.well-known/jwks.json` (503 while a test has it down).
pub(crate) async fn jwks(State(pool): State<Arc<Pool>>) -> Response {
    if pool.controls.jwks_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"message": "Service Unavailable"})))
            .into_response();
    }
    axum::Json(pool.keys.jwks()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_percent_decoded_and_exclusive() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("my-client:s%2Bcret");
        headers.insert(header::AUTHORIZATION, format!("basic {encoded}").parse().unwrap());
        let form = Map::new();
        assert_eq!(
            client_credentials(&headers, &form).unwrap(),
            ("my-client".to_owned(), Some("s+cret".to_owned()))
        );
        let mut form = Map::new();
        form.insert("client_id".into(), json!("my-client"));
        assert!(matches!(client_credentials(&headers, &form), Err(PoolError::InvalidRequest(_))));
        assert_eq!(client_credentials(&HeaderMap::new(), &Map::new()), Err(PoolError::InvalidClient));
    }

    #[test]
    fn metadata_must_be_an_object_of_strings() {
        let form = |raw: &str| {
            let mut f = Map::new();
            f.insert("aws_client_metadata".into(), json!(raw));
            f
        };
        assert_eq!(client_metadata(&form(r#"{"a":"b"}"#)).unwrap().unwrap()["a"], "b");
        assert!(client_metadata(&form(r#"{"a":1}"#)).is_err());
        assert!(client_metadata(&form("[]")).is_err());
        assert!(parse_form(b"a=1&a=2").is_err());
    }
}
