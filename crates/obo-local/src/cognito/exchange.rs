//! RFC 8693 token exchange on the token endpoint. The trigger is not run (Cognito does not
//! document whether it is): the new token is the user's (`sub`, `username`, groups) for the
//! exchanging client, with the granted scopes, an `act` claim when an actor token is given, and
//! an expiry no later than the subject token's. The exchanging client needs
//! `ALLOW_TOKEN_EXCHANGE_IMPERSONATION` (no actor) or `ALLOW_TOKEN_EXCHANGE_DELEGATION` (actor),
//! and lists the user clients whose tokens it may exchange.

use std::time::Instant;

use obo_testkit::tokens::now_secs;
use serde_json::{Map, Value, json};

use super::controls::{Operation, PoolEvent};
use super::keys::{TokenKind, TokenProblem};
use super::pool::{IssuedToken, Pool, PoolError};
use super::tokens;

/// What a token-exchange request carries.
pub(crate) struct ExchangeRequest<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) secret: Option<&'a str>,
    pub(crate) subject_token: &'a str,
    pub(crate) subject_token_type: &'a str,
    pub(crate) actor_token: Option<&'a str>,
    pub(crate) actor_token_type: Option<&'a str>,
    pub(crate) scopes: Option<Vec<String>>,
}

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

impl Pool {
    /// RFC 8693 token exchange. The trigger is not run (Cognito does not document whether it
    /// is): the new token is the user's (`sub`, `username`, groups) for the exchanging client,
    /// with the granted scopes, an `act` claim when an actor token is given, and an expiry no
    /// later than the subject token's.
    pub(crate) fn token_exchange(&self, request: ExchangeRequest<'_>) -> Result<IssuedToken, PoolError> {
        let started = Instant::now();
        let mut event = PoolEvent::new(Operation::TokenExchange, Some(request.client_id));
        self.controls.count(Some(request.client_id), |n| n.token_exchange += 1);
        let mut claims = Map::new();
        let result = self.token_exchange_inner(request, &mut event, &mut claims);
        self.finish(event, started, result, |_| Some(claims))
    }

    fn token_exchange_inner(
        &self,
        request: ExchangeRequest<'_>,
        event: &mut PoolEvent,
        claims_out: &mut Map<String, Value>,
    ) -> Result<IssuedToken, PoolError> {
        let client = self.authenticate_client(request.client_id, request.secret)?;
        let flow = match request.actor_token {
            Some(_) => "ALLOW_TOKEN_EXCHANGE_DELEGATION",
            None => "ALLOW_TOKEN_EXCHANGE_IMPERSONATION",
        };
        if !client.allows(flow) {
            return Err(PoolError::UnauthorizedClient(format!("the client does not have {flow}")));
        }
        let kind = match request.subject_token_type {
            ACCESS_TOKEN_TYPE => TokenKind::Access,
            ID_TOKEN_TYPE => TokenKind::Id,
            _ => {
                return Err(PoolError::InvalidRequest("unsupported subject_token_type".into()));
            }
        };
        let subject = self.own_token(request.subject_token, kind).map_err(|p| match p {
            TokenProblem::Expired => PoolError::InvalidGrant("the subject token has expired".into()),
            TokenProblem::Invalid => {
                PoolError::InvalidGrant("the subject token is not a valid token of this pool".into())
            }
        })?;
        let subject_client = match kind {
            TokenKind::Access => subject.get("client_id"),
            TokenKind::Id => subject.get("aud"),
        }
        .and_then(Value::as_str)
        .unwrap_or_default();
        if !client.token_exchange_subject_clients.iter().any(|c| c == subject_client) {
            return Err(PoolError::InvalidGrant(
                "the subject token's client may not be exchanged by this client".into(),
            ));
        }
        let sub = subject.get("sub").and_then(Value::as_str).unwrap_or_default();
        let user = self
            .user_by_sub(sub)
            .filter(|u| u.enabled)
            .ok_or_else(|| PoolError::InvalidGrant("the subject is not an enabled user".into()))?;
        if self.is_revoked(&subject) {
            return Err(PoolError::InvalidGrant("the subject token has been revoked".into()));
        }
        event.username = Some(user.username.clone());
        let act = match request.actor_token {
            None => None,
            Some(_) if request.actor_token_type != Some(ACCESS_TOKEN_TYPE) => {
                return Err(PoolError::InvalidRequest(
                    "actor_token_type must be an access token type".into(),
                ));
            }
            Some(actor) => {
                let actor = self.own_token(actor, TokenKind::Access).map_err(|_| {
                    PoolError::InvalidGrant("the actor token is not a valid token of this pool".into())
                })?;
                Some(json!({"sub": actor.get("sub"), "client_id": actor.get("client_id")}))
            }
        };
        let scopes = Self::grant_scopes(client, request.scopes)?;
        event.scopes = scopes.clone();
        let now = now_secs();
        let subject_exp = subject.get("exp").and_then(Value::as_u64).unwrap_or(now);
        let lifetime = client.access_token_validity.as_secs().min(subject_exp.saturating_sub(now));
        let mut claims = tokens::user_access(&self.issuer, &client.client_id, &user, &scopes, now, lifetime);
        if let Some(auth_time) = subject.get("auth_time") {
            claims.insert("auth_time".into(), auth_time.clone());
        }
        if let Some(act) = act {
            claims.insert("act".into(), act);
        }
        self.remember(&user, &claims);
        self.controls.count(Some(&client.client_id), |n| n.tokens_issued += 1);
        *claims_out = claims.clone();
        Ok(IssuedToken { access_token: self.keys.sign(TokenKind::Access, &claims), expires_in: lifetime })
    }
}
