//! Optional Cognito user lookup for the trigger (`OBO_USER_LOOKUP`), through the AWS SDK:
//! - `admin-get-user`: `AdminGetUser` on the subject's pool, rejecting disabled or unconfirmed
//!   users and reading attributes access tokens lack (`custom:org_id`, …);
//! - `get-user`: `GetUser` with the subject token itself, which also catches revoked tokens.
//!
//! Either way the user found must be the token's: its `sub` must equal the token's `sub`
//! (`subject_revoked` otherwise). A user name can be given to someone else once its user is
//! deleted, and a deleted user's token must not pick up the new holder's attributes.
//!
//! The pool comes from the subject's issuer, the region from the pool id. Endpoint overrides
//! (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`) work through the SDK's own configuration.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::timeouts::{Deadline, timeouts};
use crate::reason::{ReasonCode, Rejection};
use crate::subject::issuer::pool_in_issuer;
use crate::subject::verify::VerifiedSubject;
use crate::trigger::UserDirectory;

/// Which lookup to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupMode {
    /// `AdminGetUser` (needs `cognito-idp:AdminGetUser` on the pool).
    AdminGetUser,
    /// `GetUser` with the subject token (needs the `aws.cognito.signin.user.admin` scope).
    GetUser,
}

/// Cognito user lookups, one SDK client per region.
pub(crate) struct UserLookup {
    mode: LookupMode,
    sdk: aws_config::SdkConfig,
    clients: RwLock<HashMap<String, cognito::Client>>,
}

fn unavailable(what: &str) -> Rejection {
    Rejection::new(ReasonCode::IdpUnavailable, format!("the Cognito user lookup failed ({what})"))
}

impl UserLookup {
    /// Loads the SDK configuration from the environment (region, credentials, endpoint overrides)
    /// with short timeouts: the whole trigger must answer Cognito within 5 s.
    pub(crate) async fn from_env(mode: LookupMode, timeout: Duration) -> Self {
        let timeouts = timeouts(timeout, Deadline::Operation(timeout));
        let sdk =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await;
        Self { mode, sdk, clients: RwLock::default() }
    }

    /// Looks the subject's user up; returns its attributes (string values).
    async fn lookup(&self, subject: &VerifiedSubject, token: &str) -> Result<Map<String, Value>, Rejection> {
        let (region, pool_id) = pool_in_issuer(subject.issuer()).ok_or_else(|| {
            Rejection::new(ReasonCode::Misconfigured, "user lookup needs a Cognito issuer (…/<region>_<id>)")
        })?;
        let client = self.client(region);
        match self.mode {
            LookupMode::AdminGetUser => {
                let username = subject.username().ok_or_else(|| {
                    Rejection::new(ReasonCode::SubjectClaimInvalid, "the token has no user name")
                })?;
                let out =
                    client.admin_get_user().user_pool_id(pool_id).username(username).send().await.map_err(
                        |e| match e.into_service_error() {
                            e if e.is_user_not_found_exception() => {
                                Rejection::new(ReasonCode::SubjectRevoked, "the user no longer exists")
                            }
                            e if e.is_too_many_requests_exception() => {
                                Rejection::new(ReasonCode::IdpThrottled, "Cognito throttled the user lookup")
                            }
                            e if e.is_not_authorized_exception() => {
                                unavailable("not authorized for AdminGetUser")
                            }
                            _ => unavailable("AdminGetUser"),
                        },
                    )?;
                let status = out.user_status().map(|s| s.as_str()).unwrap_or("UNKNOWN");
                if !out.enabled() || !matches!(status, "CONFIRMED" | "EXTERNAL_PROVIDER") {
                    return Err(Rejection::new(
                        ReasonCode::SubjectUserDisabled,
                        "the user is disabled or not confirmed",
                    ));
                }
                same_user(subject, to_map(out.user_attributes()))
            }
            LookupMode::GetUser => {
                let out = client.get_user().access_token(token).send().await.map_err(|e| {
                    match e.into_service_error() {
                        e if e.is_not_authorized_exception() || e.is_user_not_found_exception() => {
                            Rejection::new(
                                ReasonCode::SubjectRevoked,
                                "Cognito no longer accepts the user's token",
                            )
                        }
                        e if e.is_user_not_confirmed_exception()
                            || e.is_password_reset_required_exception() =>
                        {
                            Rejection::new(ReasonCode::SubjectUserDisabled, "the user is not confirmed")
                        }
                        e if e.is_too_many_requests_exception() => {
                            Rejection::new(ReasonCode::IdpThrottled, "Cognito throttled the user lookup")
                        }
                        _ => unavailable("GetUser"),
                    }
                })?;
                same_user(subject, to_map(out.user_attributes()))
            }
        }
    }

    fn client(&self, region: &str) -> cognito::Client {
        if let Some(c) = self.clients.read().unwrap_or_else(|e| e.into_inner()).get(region) {
            return c.clone();
        }
        let conf = cognito::config::Builder::from(&self.sdk)
            .region(cognito::config::Region::new(region.to_owned()))
            .build();
        let client = cognito::Client::from_conf(conf);
        self.clients.write().unwrap_or_else(|e| e.into_inner()).insert(region.to_owned(), client.clone());
        client
    }
}

impl UserDirectory for UserLookup {
    fn attributes<'a>(
        &'a self,
        subject: &'a VerifiedSubject,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Rejection>> {
        Box::pin(self.lookup(subject, token))
    }
}

/// The looked-up attributes, if they belong to the token's user (same `sub`).
fn same_user(
    subject: &VerifiedSubject,
    attributes: Map<String, Value>,
) -> Result<Map<String, Value>, Rejection> {
    match attributes.get("sub") {
        Some(Value::String(sub)) if sub == subject.sub() => Ok(attributes),
        _ => Err(Rejection::new(
            ReasonCode::SubjectRevoked,
            "the user the token names no longer exists (its user name now belongs to another user)",
        )),
    }
}

fn to_map(attributes: &[cognito::types::AttributeType]) -> Map<String, Value> {
    attributes
        .iter()
        .filter_map(|a| Some((a.name().to_owned(), Value::String(a.value()?.to_owned()))))
        .collect()
}
