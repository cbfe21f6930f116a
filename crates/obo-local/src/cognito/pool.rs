//! The user pool's core, independent of the two wire protocols that expose it (the OAuth token
//! endpoint and the AWS JSON API): client authentication, scope grants, sign-in and machine
//! tokens with the trigger, sessions, direct mints. Token exchange and the user lookups live in
//! `exchange.rs` and `users.rs`. Every operation is counted and logged as a [`PoolEvent`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use obo_core::trigger::event::ClaimsAndScopeOverrideDetails;
use obo_testkit::tokens::now_secs;
use serde_json::{Map, Value};

use super::config::{AppClient, PoolConfig, PoolUser};
use super::controls::{Controls, EventOutcome, Operation, PoolEvent, TriggerOutcome};
use super::keys::{PoolKeys, TokenKind, TokenProblem};
use super::tokens::{self, MintOptions, USER_API_SCOPE, UserTokens};
use super::trigger::{self, TriggerFailure};
use crate::invoke::Invoke;

/// Why the pool refused a request; each protocol adapter renders it in its own form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// Unknown client or wrong secret.
    InvalidClient,
    /// A grant type the token endpoint does not support.
    UnsupportedGrantType,
    /// The client may not use this flow.
    UnauthorizedClient(String),
    /// A scope the client may not have.
    InvalidScope(String),
    /// A malformed request.
    InvalidRequest(String),
    /// A subject or actor token that is not acceptable (token exchange).
    InvalidGrant(String),
    /// The pre-token trigger failed.
    Trigger(TriggerFailure),
    /// Wrong credentials, a disabled user, an invalid or revoked token (user APIs).
    NotAuthorized(String),
    /// No such user.
    UserNotFound,
    /// No such pool or client.
    ResourceNotFound(String),
    /// A fault injected by a test (HTTP status).
    Injected(u16),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidClient => f.write_str("invalid_client"),
            Self::UnsupportedGrantType => f.write_str("unsupported_grant_type"),
            Self::UnauthorizedClient(m) => write!(f, "unauthorized_client: {m}"),
            Self::InvalidScope(m) => write!(f, "invalid_scope: {m}"),
            Self::InvalidRequest(m) => write!(f, "invalid_request: {m}"),
            Self::InvalidGrant(m) => write!(f, "invalid_grant: {m}"),
            Self::Trigger(t) => f.write_str(&t.description()),
            Self::NotAuthorized(m) => write!(f, "NotAuthorizedException: {m}"),
            Self::UserNotFound => f.write_str("UserNotFoundException: User does not exist."),
            Self::ResourceNotFound(m) => write!(f, "ResourceNotFoundException: {m}"),
            Self::Injected(status) => write!(f, "injected HTTP {status}"),
        }
    }
}

/// An issued access token (token endpoint and `GetClientToken`).
pub(crate) struct IssuedToken {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
}

/// What a token request asks for.
pub(crate) struct MachineRequest<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) secret: Option<&'a str>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) metadata: Option<Map<String, Value>>,
}

#[derive(Default)]
pub(super) struct Sessions {
    /// `origin_jti`s issued per user name.
    pub(super) by_user: HashMap<String, Vec<String>>,
    pub(super) revoked: HashSet<String>,
}

/// The pool: configuration, keys, trigger, sessions, controls.
pub(crate) struct Pool {
    pub(crate) config: PoolConfig,
    pub(crate) issuer: String,
    pub(crate) keys: PoolKeys,
    pub(crate) controls: Controls,
    trigger: RwLock<Option<Arc<dyn Invoke>>>,
    sessions: Mutex<Sessions>,
    /// The users now: the configured ones, then deletions and creations by tests.
    users: RwLock<Vec<PoolUser>>,
}

pub(super) fn secret_matches(client: &AppClient, given: Option<&str>) -> bool {
    match (&client.secret, given) {
        (None, None) => true,
        (Some(secret), Some(given)) => {
            aws_lc_rs::constant_time::verify_slices_are_equal(secret.expose().as_bytes(), given.as_bytes())
                .is_ok()
        }
        _ => false,
    }
}

fn metadata_keys(metadata: &Option<Map<String, Value>>) -> Vec<String> {
    metadata.iter().flat_map(|m| m.keys().cloned()).collect()
}

impl Pool {
    /// The token endpoint's first steps for any grant: an injected failure if one is queued, then
    /// the app client authenticated by its secret (`invalid_client` otherwise).
    pub(super) fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<&AppClient, PoolError> {
        if let Some(status) = self.controls.take_token_failure() {
            return Err(PoolError::Injected(status));
        }
        self.config.client(client_id).filter(|c| secret_matches(c, secret)).ok_or(PoolError::InvalidClient)
    }

    pub(crate) fn new(config: PoolConfig, base_url: &str) -> Self {
        let issuer = format!("{base_url}/{}", config.pool_id);
        Self {
            users: RwLock::new(config.users.clone()),
            config,
            issuer,
            keys: PoolKeys::generate(),
            controls: Controls::default(),
            trigger: RwLock::new(None),
            sessions: Mutex::default(),
        }
    }

    pub(crate) fn set_trigger(&self, trigger: Option<Arc<dyn Invoke>>) {
        *self.trigger.write().unwrap_or_else(|e| e.into_inner()) = trigger;
    }

    fn trigger(&self) -> Option<Arc<dyn Invoke>> {
        self.trigger.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A current user by name.
    pub(crate) fn user(&self, username: &str) -> Option<PoolUser> {
        self.users.read().unwrap_or_else(|e| e.into_inner()).iter().find(|u| u.username == username).cloned()
    }

    /// A current user by `sub`.
    pub(crate) fn user_by_sub(&self, sub: &str) -> Option<PoolUser> {
        self.users.read().unwrap_or_else(|e| e.into_inner()).iter().find(|u| u.sub == sub).cloned()
    }

    /// Deletes a user (`AdminDeleteUser`): its tokens still verify offline, but the user APIs no
    /// longer know it, and its name is free again. `false` if there is no such user.
    pub(crate) fn delete_user(&self, username: &str) -> bool {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let before = users.len();
        users.retain(|u| u.username != username);
        users.len() < before
    }

    /// Adds a user (`AdminCreateUser`, confirmed); its name and `sub` must be free.
    pub(crate) fn create_user(&self, user: PoolUser) -> Result<(), String> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        if users.iter().any(|u| u.username == user.username || u.sub == user.sub) {
            return Err(format!("the user name {:?} or its sub is taken", user.username));
        }
        users.push(user);
        Ok(())
    }

    pub(super) fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the event with its outcome and passes the result through.
    pub(super) fn finish<T>(
        &self,
        mut event: PoolEvent,
        started: Instant,
        result: Result<T, PoolError>,
        issued: impl FnOnce(&T) -> Option<Map<String, Value>>,
    ) -> Result<T, PoolError> {
        event.duration = started.elapsed();
        event.outcome = match &result {
            Ok(value) => match issued(value) {
                Some(claims) => EventOutcome::Issued { claims },
                None => EventOutcome::Answered,
            },
            Err(err) => EventOutcome::Refused { error: err.to_string() },
        };
        self.controls.record(event);
        result
    }

    /// The scopes granted: all of the client's when none are asked for (as Cognito does),
    /// else exactly those asked for, each of which the client must be allowed.
    pub(super) fn grant_scopes(
        client: &AppClient,
        asked: Option<Vec<String>>,
    ) -> Result<Vec<String>, PoolError> {
        let asked = asked.unwrap_or_default();
        if asked.is_empty() {
            return Ok(client.allowed_oauth_scopes.clone());
        }
        let mut granted: Vec<String> = Vec::new();
        for scope in asked {
            if !client.allowed_oauth_scopes.contains(&scope) {
                return Err(PoolError::InvalidScope("the client may not ask for one of the scopes".into()));
            }
            if !granted.contains(&scope) {
                granted.push(scope);
            }
        }
        Ok(granted)
    }

    /// Runs the trigger if one is set; an answer that cannot be applied is recorded as a failure.
    async fn run_trigger(
        &self,
        event: &obo_core::trigger::event::PreTokenEvent,
        outcome: &mut TriggerOutcome,
    ) -> Result<Option<ClaimsAndScopeOverrideDetails>, PoolError> {
        match self.trigger() {
            Some(trigger) => trigger::invoke(&*trigger, event, outcome).await.map_err(PoolError::Trigger),
            None => Ok(None),
        }
    }

    fn applied(outcome: &mut TriggerOutcome, result: Result<(), TriggerFailure>) -> Result<(), PoolError> {
        result.map_err(|failure| {
            if let TriggerOutcome::Answered { duration } = *outcome {
                *outcome = TriggerOutcome::Failed { message: failure.description(), duration };
            }
            PoolError::Trigger(failure)
        })
    }

    /// client_credentials, by `/oauth2/token` or `GetClientToken` (`operation` says which).
    pub(crate) async fn machine_token(
        &self,
        operation: Operation,
        request: MachineRequest<'_>,
    ) -> Result<IssuedToken, PoolError> {
        let started = Instant::now();
        let mut event = PoolEvent::new(operation, Some(request.client_id));
        event.metadata_keys = metadata_keys(&request.metadata);
        self.controls.count(Some(request.client_id), |n| match operation {
            Operation::GetClientToken => n.get_client_token += 1,
            _ => n.client_credentials += 1,
        });
        let mut claims = Map::new();
        let result = self.machine_token_inner(operation, request, &mut event, &mut claims).await;
        self.finish(event, started, result, |_| Some(claims))
    }

    async fn machine_token_inner(
        &self,
        operation: Operation,
        request: MachineRequest<'_>,
        event: &mut PoolEvent,
        claims: &mut Map<String, Value>,
    ) -> Result<IssuedToken, PoolError> {
        let client = self.authenticate_client(request.client_id, request.secret)?;
        if client.secret.is_none() {
            return Err(PoolError::InvalidClient);
        }
        if operation == Operation::GetClientToken {
            if client.explicit_auth_flows != ["ALLOW_CLIENT_TOKEN_AUTH"] {
                return Err(PoolError::UnauthorizedClient(
                    "GetClientToken needs a client whose only explicit flow is ALLOW_CLIENT_TOKEN_AUTH"
                        .into(),
                ));
            }
        } else if !client.allows_oauth("client_credentials") {
            return Err(PoolError::UnauthorizedClient("the client may not use client_credentials".into()));
        }
        let scopes = Self::grant_scopes(client, request.scopes)?;
        event.scopes = scopes.clone();
        let lifetime = client.access_token_validity.as_secs();
        *claims = tokens::machine(&self.issuer, &client.client_id, &scopes, now_secs(), lifetime);
        let shown = (!self.controls.omit_trigger_scopes()).then_some(scopes.as_slice());
        let pre = trigger::machine_event(&self.config, &client.client_id, shown, request.metadata);
        if let Some(details) = self.run_trigger(&pre, &mut event.trigger).await? {
            let access = details.access_token_generation.as_ref();
            Self::applied(&mut event.trigger, trigger::apply(claims, access, &client.client_id))?;
        }
        self.controls.count(Some(&client.client_id), |n| n.tokens_issued += 1);
        Ok(IssuedToken { access_token: self.keys.sign(TokenKind::Access, claims), expires_in: lifetime })
    }

    /// `InitiateAuth` with `USER_PASSWORD_AUTH`: checks the password, runs the trigger with
    /// `TokenGeneration_Authentication`, issues access, ID and refresh tokens.
    pub(crate) async fn initiate_auth(
        &self,
        client_id: &str,
        auth_flow: &str,
        parameters: &HashMap<String, String>,
        metadata: Option<Map<String, Value>>,
    ) -> Result<UserTokens, PoolError> {
        let started = Instant::now();
        let mut event = PoolEvent::new(Operation::InitiateAuth, Some(client_id));
        event.metadata_keys = metadata_keys(&metadata);
        event.username = parameters.get("USERNAME").cloned();
        self.controls.count(Some(client_id), |n| n.initiate_auth += 1);
        let mut claims = Map::new();
        let result = self
            .initiate_auth_inner(client_id, auth_flow, parameters, metadata, &mut event, &mut claims)
            .await;
        self.finish(event, started, result, |_| Some(claims))
    }

    async fn initiate_auth_inner(
        &self,
        client_id: &str,
        auth_flow: &str,
        parameters: &HashMap<String, String>,
        metadata: Option<Map<String, Value>>,
        event: &mut PoolEvent,
        claims_out: &mut Map<String, Value>,
    ) -> Result<UserTokens, PoolError> {
        let client = self.config.client(client_id).ok_or_else(|| {
            PoolError::ResourceNotFound(format!("User pool client {client_id} does not exist."))
        })?;
        if auth_flow != "USER_PASSWORD_AUTH" {
            return Err(PoolError::InvalidRequest(
                "the emulator supports AuthFlow USER_PASSWORD_AUTH only".into(),
            ));
        }
        if !client.allows("ALLOW_USER_PASSWORD_AUTH") {
            return Err(PoolError::InvalidRequest(
                "USER_PASSWORD_AUTH flow not enabled for this client".into(),
            ));
        }
        let param = |name: &str| {
            parameters
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| PoolError::InvalidRequest(format!("Missing required parameter {name}")))
        };
        let (username, password) = (param("USERNAME")?, param("PASSWORD")?);
        if let Some(secret) = &client.secret {
            let expected = secret_hash(secret.expose(), username, client_id);
            if parameters.get("SECRET_HASH") != Some(&expected) {
                return Err(PoolError::NotAuthorized(format!(
                    "Unable to verify secret hash for client {client_id}"
                )));
            }
        }
        let user = self
            .user(username)
            .filter(|u| {
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    u.password.expose().as_bytes(),
                    password.as_bytes(),
                )
                .is_ok()
            })
            .ok_or_else(|| PoolError::NotAuthorized("Incorrect username or password.".into()))?;
        if !user.enabled {
            return Err(PoolError::NotAuthorized("User is disabled.".into()));
        }
        let scopes = vec![USER_API_SCOPE.to_owned()];
        event.scopes = scopes.clone();
        let lifetimes = (client.access_token_validity.as_secs(), client.id_token_validity.as_secs());
        let (mut access, mut id) =
            tokens::user_pair(&self.issuer, client_id, &user, &scopes, now_secs(), lifetimes);
        let pre = trigger::user_event(
            &self.config,
            "TokenGeneration_Authentication",
            &user,
            client_id,
            &scopes,
            metadata,
        );
        if let Some(details) = self.run_trigger(&pre, &mut event.trigger).await? {
            let applied = trigger::apply(&mut access, details.access_token_generation.as_ref(), client_id)
                .and_then(|()| trigger::apply(&mut id, details.id_token_generation.as_ref(), client_id))
                .and_then(|()| {
                    trigger::apply_groups(&mut access, &mut id, details.group_override_details.as_ref())
                });
            Self::applied(&mut event.trigger, applied)?;
        }
        self.remember(&user, &access);
        self.controls.count(Some(client_id), |n| n.tokens_issued += 1);
        *claims_out = access.clone();
        Ok(UserTokens {
            access_token: self.keys.sign(TokenKind::Access, &access),
            id_token: self.keys.sign(TokenKind::Id, &id),
            refresh_token: tokens::refresh_token(),
            expires_in: lifetimes.0,
        })
    }

    pub(super) fn own_token(&self, token: &str, kind: TokenKind) -> Result<Map<String, Value>, TokenProblem> {
        self.keys.verify(token, kind, &self.issuer)
    }

    pub(super) fn remember(&self, user: &PoolUser, claims: &Map<String, Value>) {
        if let Some(jti) = claims.get("origin_jti").and_then(Value::as_str) {
            self.sessions().by_user.entry(user.username.clone()).or_default().push(jti.to_owned());
        }
    }

    pub(super) fn is_revoked(&self, claims: &Map<String, Value>) -> bool {
        let jti = claims.get("origin_jti").and_then(Value::as_str).unwrap_or_default();
        self.sessions().revoked.contains(jti)
    }

    /// Mints a user token directly (no trigger, not counted), with test overrides.
    pub(crate) fn mint(
        &self,
        kind: TokenKind,
        username: &str,
        options: &MintOptions,
    ) -> Result<String, String> {
        let user = self.user(username).ok_or_else(|| format!("no user {username:?}"))?;
        let client_id = options.client_id.as_deref().unwrap_or(super::defaults::USER_CLIENT);
        let validity = self
            .config
            .client(client_id)
            .map(|c| match kind {
                TokenKind::Access => c.access_token_validity.as_secs(),
                TokenKind::Id => c.id_token_validity.as_secs(),
            })
            .unwrap_or(3600);
        let lifetime = options.lifetime_secs.unwrap_or(validity);
        let iat = now_secs().saturating_sub(options.issued_secs_ago);
        let issuer = options.issuer.as_deref().unwrap_or(&self.issuer);
        let scopes = [USER_API_SCOPE.to_owned()];
        let (access, id) = tokens::user_pair(issuer, client_id, &user, &scopes, iat, (lifetime, lifetime));
        let mut claims = if kind == TokenKind::Access { access } else { id };
        options.adjust(&mut claims);
        self.remember(&user, &claims);
        let mut event = PoolEvent::new(Operation::Mint, Some(client_id));
        event.username = Some(user.username.clone());
        let result: Result<(), PoolError> = Ok(());
        let _ = self.finish(event, Instant::now(), result, |_| Some(claims.clone()));
        Ok(if options.forged { self.keys.forge(kind, &claims) } else { self.keys.sign(kind, &claims) })
    }
}

/// `SECRET_HASH`: Base64(HMAC-SHA256(client secret, user name + client id)).
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    use base64::Engine;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("{username}{client_id}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}
