//! The pool's AWS JSON 1.1 API (`POST /`, `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`)
//! for the operations the project uses, so that the real `aws-sdk-cognitoidentityprovider` works
//! against the emulator through `AWS_ENDPOINT_URL`. Field names follow the Cognito API reference
//! (and the SDK's schemas); errors are `{"__type": "<Exception>", "message": "…"}`, HTTP 400
//! (500 for `InternalErrorException`).
//!
//! Admin operations (`AdminGetUser`, `AdminUserGlobalSignOut`, `DescribeUserPoolClient`) need a
//! SigV4 `Authorization` header, which is not verified (any credentials work).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::config::{AppClient, PoolUser};
use super::controls::Operation;
use super::pool::{MachineRequest, Pool, PoolError};
use super::trigger::FailureKind;

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The creation and modification dates reported for users and clients.
const CREATED: f64 = 1_735_689_600.0;

/// The AWS error for a pool error: HTTP status, `__type`, message.
pub(crate) fn aws_error(err: &PoolError) -> (StatusCode, &'static str, String) {
    let bad = StatusCode::BAD_REQUEST;
    match err {
        PoolError::InvalidClient => (bad, "NotAuthorizedException", "Client authentication failed.".into()),
        PoolError::UnsupportedGrantType => {
            (bad, "InvalidParameterException", "Unsupported grant type.".into())
        }
        PoolError::UnauthorizedClient(m) | PoolError::InvalidScope(m) | PoolError::InvalidRequest(m) => {
            (bad, "InvalidParameterException", m.clone())
        }
        PoolError::InvalidGrant(m) | PoolError::NotAuthorized(m) => {
            (bad, "NotAuthorizedException", m.clone())
        }
        PoolError::Trigger(failure) => {
            let kind = match failure.kind {
                FailureKind::Function => "UserLambdaValidationException",
                FailureKind::Unavailable => "UnexpectedLambdaException",
                FailureKind::InvalidResponse => "InvalidLambdaResponseException",
            };
            (bad, kind, failure.description())
        }
        PoolError::UserNotFound => (bad, "UserNotFoundException", "User does not exist.".into()),
        PoolError::ResourceNotFound(m) => (bad, "ResourceNotFoundException", m.clone()),
        PoolError::Injected(429) => (bad, "TooManyRequestsException", "Rate exceeded".into()),
        PoolError::Injected(status) => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "InternalErrorException",
            "Internal error (injected)".into(),
        ),
    }
}

/// An AWS JSON error, rendered as `{"__type","message"}`.
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind, message: message.into() }
    }
}

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        let (status, kind, message) = aws_error(&err);
        Self { status, kind, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, self.kind, &self.message)
    }
}

fn error_response(status: StatusCode, kind: &str, message: &str) -> Response {
    let headers =
        [(header::CONTENT_TYPE, CONTENT_TYPE), (header::HeaderName::from_static("x-amzn-errortype"), kind)];
    (status, headers, json!({"__type": kind, "message": message}).to_string()).into_response()
}

fn input<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde's message may quote the input (a token, say): only its position is reported.
    serde_json::from_slice(body).map_err(|e| {
        let at = format!("line {} column {}", e.line(), e.column());
        ApiError::new(
            "InvalidParameterException",
            format!("the request does not match the operation's input ({at})"),
        )
    })
}

fn signed(headers: &HeaderMap) -> Result<(), ApiError> {
    let sigv4 = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if sigv4 {
        Ok(())
    } else {
        Err(ApiError::new("MissingAuthenticationTokenException", "Missing Authentication Token"))
    }
}

fn metadata(map: Option<BTreeMap<String, String>>) -> Option<Map<String, Value>> {
    map.map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

fn attributes(user: &PoolUser) -> Value {
    user.all_attributes().into_iter().map(|(name, value)| json!({"Name": name, "Value": value})).collect()
}

fn describe(pool_id: &str, c: &AppClient) -> Value {
    let mut client = json!({
        "UserPoolId": pool_id,
        "ClientName": c.name,
        "ClientId": c.client_id,
        "ClientSecret": c.secret.as_ref().map(|s| s.expose()),
        "CreationDate": CREATED,
        "LastModifiedDate": CREATED,
        "RefreshTokenValidity": 30,
        "AccessTokenValidity": c.access_token_validity.as_secs() / 60,
        "IdTokenValidity": c.id_token_validity.as_secs() / 60,
        "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
        "ExplicitAuthFlows": c.explicit_auth_flows,
        "SupportedIdentityProviders": ["COGNITO"],
        "AllowedOAuthFlows": c.allowed_oauth_flows,
        "AllowedOAuthScopes": c.allowed_oauth_scopes,
        "AllowedOAuthFlowsUserPoolClient": !c.allowed_oauth_flows.is_empty(),
        "EnableTokenRevocation": true,
        "PreventUserExistenceErrors": "ENABLED",
        "AuthSessionValidity": 3,
    });
    if c.secret.is_none() {
        client.as_object_mut().map(|o| o.remove("ClientSecret"));
    }
    client
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateAuth {
    auth_flow: String,
    client_id: String,
    #[serde(default)]
    auth_parameters: HashMap<String, String>,
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetClientToken {
    client_id: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolAndUser {
    user_pool_id: String,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolAndClient {
    user_pool_id: String,
    client_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WithAccessToken {
    access_token: String,
}

/// `POST /`.
pub(crate) async fn dispatch(State(pool): State<Arc<Pool>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return error_response(StatusCode::BAD_REQUEST, "UnknownOperationException", "missing X-Amz-Target");
    };
    let result = match operation {
        "InitiateAuth" => initiate_auth(&pool, &body).await,
        "GetClientToken" => get_client_token(&pool, &body).await,
        "GetUser" => get_user(&pool, &body),
        "GlobalSignOut" => global_sign_out(&pool, &body),
        "AdminGetUser" => signed(&headers).and_then(|()| admin_get_user(&pool, &body)),
        "AdminUserGlobalSignOut" => signed(&headers).and_then(|()| admin_sign_out(&pool, &body)),
        "DescribeUserPoolClient" => signed(&headers).and_then(|()| describe_client(&pool, &body)),
        _ => {
            Err(ApiError::new("UnknownOperationException", "the emulator does not implement this operation"))
        }
    };
    match result {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn initiate_auth(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: InitiateAuth = input(body)?;
    let tokens = pool
        .initiate_auth(&i.client_id, &i.auth_flow, &i.auth_parameters, metadata(i.client_metadata))
        .await?;
    Ok(json!({
        "ChallengeParameters": {},
        "AuthenticationResult": {
            "AccessToken": tokens.access_token,
            "ExpiresIn": tokens.expires_in,
            "TokenType": "Bearer",
            "RefreshToken": tokens.refresh_token,
            "IdToken": tokens.id_token,
        },
    }))
}

async fn get_client_token(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: GetClientToken = input(body)?;
    let request = MachineRequest {
        client_id: &i.client_id,
        secret: i.secret.as_deref(),
        scopes: i.scopes,
        metadata: metadata(i.client_metadata),
    };
    let issued = pool.machine_token(Operation::GetClientToken, request).await?;
    Ok(json!({
        "ClientAuthenticationResult": {
            "AccessToken": issued.access_token,
            "ExpiresIn": issued.expires_in,
            "TokenType": "Bearer",
        },
    }))
}

fn get_user(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: WithAccessToken = input(body)?;
    let user = pool.get_user(&i.access_token)?;
    Ok(json!({"Username": user.username, "UserAttributes": attributes(&user)}))
}

fn global_sign_out(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: WithAccessToken = input(body)?;
    pool.global_sign_out(&i.access_token)?;
    Ok(json!({}))
}

fn admin_get_user(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: PoolAndUser = input(body)?;
    let user = pool.admin_get_user(&i.user_pool_id, &i.username)?;
    Ok(json!({
        "Username": user.username,
        "UserAttributes": attributes(&user),
        "UserCreateDate": CREATED,
        "UserLastModifiedDate": CREATED,
        "Enabled": user.enabled,
        "UserStatus": "CONFIRMED",
    }))
}

fn admin_sign_out(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: PoolAndUser = input(body)?;
    if i.user_pool_id != pool.config.pool_id {
        return Err(
            PoolError::ResourceNotFound(format!("User pool {} does not exist.", i.user_pool_id)).into()
        );
    }
    if !pool.sign_out(&i.username) {
        return Err(PoolError::UserNotFound.into());
    }
    Ok(json!({}))
}

fn describe_client(pool: &Pool, body: &[u8]) -> Result<Value, ApiError> {
    let i: PoolAndClient = input(body)?;
    let client = pool.describe_client(&i.user_pool_id, &i.client_id)?;
    Ok(json!({"UserPoolClient": describe(&pool.config.pool_id, client)}))
}
