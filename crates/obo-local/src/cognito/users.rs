//! User lookups and sign-out: `GetUser` (with the user's access token), `AdminGetUser`,
//! `DescribeUserPoolClient`, `GlobalSignOut` and `AdminUserGlobalSignOut`. A signed-out user's
//! tokens still verify offline (as Cognito's do) but these APIs and token exchange refuse them.

use std::time::Instant;

use serde_json::Value;

use super::config::{AppClient, PoolUser};
use super::controls::{Operation, PoolEvent};
use super::keys::{TokenKind, TokenProblem};
use super::pool::{Pool, PoolError};
use super::tokens::USER_API_SCOPE;

impl Pool {
    /// The user behind a valid, unrevoked access token with the user-API scope (`GetUser`,
    /// `GlobalSignOut`).
    fn token_user(&self, access_token: &str) -> Result<PoolUser, PoolError> {
        let claims = self.own_token(access_token, TokenKind::Access).map_err(|p| match p {
            TokenProblem::Expired => PoolError::NotAuthorized("Access Token has expired".into()),
            TokenProblem::Invalid => PoolError::NotAuthorized("Invalid Access Token".into()),
        })?;
        if self.is_revoked(&claims) {
            return Err(PoolError::NotAuthorized("Access Token has been revoked".into()));
        }
        let scopes = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
        if !scopes.split(' ').any(|s| s == USER_API_SCOPE) {
            return Err(PoolError::NotAuthorized("Access Token does not have required scopes".into()));
        }
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        // A deleted user's token (its name perhaps given to someone else since) names no user.
        self.user_by_sub(sub).ok_or_else(|| PoolError::NotAuthorized("Invalid Access Token".into()))
    }

    /// `GetUser`.
    pub(crate) fn get_user(&self, access_token: &str) -> Result<PoolUser, PoolError> {
        let started = Instant::now();
        let result = self.token_user(access_token);
        let mut event = PoolEvent::new(Operation::GetUser, None);
        event.username = result.as_ref().ok().map(|u| u.username.clone());
        self.finish(event, started, result, |_| None)
    }

    /// `AdminGetUser`.
    pub(crate) fn admin_get_user(&self, pool_id: &str, username: &str) -> Result<PoolUser, PoolError> {
        let started = Instant::now();
        let mut event = PoolEvent::new(Operation::AdminGetUser, None);
        event.username = Some(username.to_owned());
        let result =
            self.check_pool(pool_id).and_then(|()| self.user(username).ok_or(PoolError::UserNotFound));
        self.finish(event, started, result, |_| None)
    }

    /// `DescribeUserPoolClient`.
    pub(crate) fn describe_client(&self, pool_id: &str, client_id: &str) -> Result<&AppClient, PoolError> {
        let started = Instant::now();
        let event = PoolEvent::new(Operation::DescribeUserPoolClient, Some(client_id));
        let result = self.check_pool(pool_id).and_then(|()| {
            self.config.client(client_id).ok_or_else(|| {
                PoolError::ResourceNotFound(format!("User pool client {client_id} does not exist."))
            })
        });
        self.finish(event, started, result, |_| None)
    }

    fn check_pool(&self, pool_id: &str) -> Result<(), PoolError> {
        if pool_id == self.config.pool_id {
            Ok(())
        } else {
            Err(PoolError::ResourceNotFound(format!("User pool {pool_id} does not exist.")))
        }
    }

    /// `GlobalSignOut`: revokes every token of the access token's user.
    pub(crate) fn global_sign_out(&self, access_token: &str) -> Result<(), PoolError> {
        let username = self.token_user(access_token)?.username.clone();
        self.sign_out(&username);
        Ok(())
    }

    /// Revokes every token issued to `username` so far (`AdminUserGlobalSignOut`); `false` if
    /// there is no such user.
    pub(crate) fn sign_out(&self, username: &str) -> bool {
        let started = Instant::now();
        let mut event = PoolEvent::new(Operation::SignOut, None);
        event.username = Some(username.to_owned());
        let known = self.user(username).is_some();
        {
            let mut sessions = self.sessions();
            let issued = sessions.by_user.get(username).cloned().unwrap_or_default();
            sessions.revoked.extend(issued);
        }
        let result = if known { Ok(()) } else { Err(PoolError::UserNotFound) };
        self.finish(event, started, result, |_| None).is_ok()
    }
}
