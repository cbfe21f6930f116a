//! A loopback stand-in for the AWS JSON APIs the interceptor calls, reached through the SDK's
//! endpoint overrides: Secrets Manager `GetSecretValue`, and Cognito `DescribeUserPoolClient`
//! and `GetClientToken` (minting like the token endpoint, with the trigger's `obo_sub`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use obo_testkit::tokens::{m2m_claims, now_secs};
use obo_testkit::{RsaSigner, TestServer};
use serde_json::{Value, json};

use super::{OBO_CLIENT, POOL};

pub struct AwsState {
    pub secret_string: Mutex<String>,
    pub pool_client_secret: Mutex<String>,
    pub get_secret_calls: AtomicUsize,
    pub describe_calls: AtomicUsize,
    pub token_calls: AtomicUsize,
    /// Scripted GetClientToken errors: (HTTP status, `__type`, message).
    pub token_errors: Mutex<VecDeque<(u16, &'static str, String)>>,
    pub m2m_key: RsaSigner,
    pub seen_metadata: Mutex<Vec<Value>>,
}

pub struct FakeAws {
    pub server: TestServer,
    pub state: Arc<AwsState>,
}

fn aws_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    response
}

fn aws_error(status: u16, kind: &str, message: &str) -> Response {
    aws_json(StatusCode::from_u16(status).unwrap(), json!({"__type": kind, "message": message}))
}

async fn dispatch(State(s): State<Arc<AwsState>>, headers: HeaderMap, body: String) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if headers.get("authorization").is_none() {
        return aws_error(400, "MissingAuthenticationTokenException", "unsigned");
    }
    let input: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match target.as_str() {
        "secretsmanager.GetSecretValue" => {
            s.get_secret_calls.fetch_add(1, Ordering::SeqCst);
            let secret = s.secret_string.lock().unwrap().clone();
            if secret.is_empty() {
                return aws_error(400, "AccessDeniedException", "not allowed");
            }
            aws_json(StatusCode::OK, json!({"ARN": input["SecretId"], "Name": "obo", "SecretString": secret}))
        }
        "AWSCognitoIdentityProviderService.DescribeUserPoolClient" => {
            s.describe_calls.fetch_add(1, Ordering::SeqCst);
            if input["UserPoolId"] != POOL || input["ClientId"] != OBO_CLIENT {
                return aws_error(400, "ResourceNotFoundException", "no such client");
            }
            let secret = s.pool_client_secret.lock().unwrap().clone();
            aws_json(
                StatusCode::OK,
                json!({"UserPoolClient": {"UserPoolId": POOL, "ClientId": OBO_CLIENT, "ClientSecret": secret}}),
            )
        }
        "AWSCognitoIdentityProviderService.GetClientToken" => {
            s.token_calls.fetch_add(1, Ordering::SeqCst);
            if let Some((status, kind, message)) = s.token_errors.lock().unwrap().pop_front() {
                return aws_error(status, kind, &message);
            }
            if input["ClientId"] != OBO_CLIENT || input["Secret"] != *s.pool_client_secret.lock().unwrap() {
                return aws_error(400, "NotAuthorizedException", "Incorrect client secret");
            }
            let scopes: Vec<String> = input["Scopes"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let metadata = input["ClientMetadata"].clone();
            let user = metadata["onBehalfOfToken"]
                .as_str()
                .and_then(|t| obo_core::subject::jwt::unverified_claims(t, 64 * 1024).ok());
            let Some(user) = user else {
                return aws_error(
                    400,
                    "UserLambdaValidationException",
                    "PreTokenGenerationV3_0 failed with error subject_missing: none.",
                );
            };
            s.seen_metadata.lock().unwrap().push(metadata);
            let mut claims = m2m_claims(
                "https://cognito-idp.us-east-1.amazonaws.com/x",
                OBO_CLIENT,
                &scopes,
                now_secs(),
                3600,
            );
            claims["obo_sub"] = user["sub"].clone();
            claims["obo_iss"] = user["iss"].clone();
            aws_json(
                StatusCode::OK,
                json!({"ClientAuthenticationResult": {"AccessToken": s.m2m_key.sign(&claims), "ExpiresIn": 3600, "TokenType": "Bearer"}}),
            )
        }
        _ => aws_error(400, "UnknownOperationException", "unknown"),
    }
}

impl FakeAws {
    pub async fn start(secret_string: &str, pool_client_secret: &str) -> Self {
        let state = Arc::new(AwsState {
            secret_string: Mutex::new(secret_string.to_owned()),
            pool_client_secret: Mutex::new(pool_client_secret.to_owned()),
            get_secret_calls: AtomicUsize::new(0),
            describe_calls: AtomicUsize::new(0),
            token_calls: AtomicUsize::new(0),
            token_errors: Mutex::new(VecDeque::new()),
            m2m_key: RsaSigner::generate("m2m-sdk"),
            seen_metadata: Mutex::new(Vec::new()),
        });
        let router = Router::new().route("/", post(dispatch)).with_state(state.clone());
        Self { server: TestServer::start(router).await, state }
    }

    pub fn url(&self) -> String {
        self.server.url("")
    }

    pub fn set_secret_string(&self, value: &str) {
        *self.state.secret_string.lock().unwrap() = value.to_owned();
    }

    pub fn get_secret_calls(&self) -> usize {
        self.state.get_secret_calls.load(Ordering::SeqCst)
    }

    pub fn token_calls(&self) -> usize {
        self.state.token_calls.load(Ordering::SeqCst)
    }
}
