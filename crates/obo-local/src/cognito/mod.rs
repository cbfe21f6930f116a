//! A Cognito user-pool emulator with Cognito's shapes, on loopback: OIDC discovery and JWKS
//! under the issuer `http://127.0.0.1:<port>/<poolId>`, the token endpoint (`client_credentials`
//! with the pre-token trigger, RFC 8693 token exchange), and the AWS JSON API the project calls
//! (`InitiateAuth`, `GetClientToken`, `GetUser`, `AdminGetUser`, `DescribeUserPoolClient`, …)
//! so that the real AWS SDK works against it with `AWS_ENDPOINT_URL=<base_url>`.
//!
//! The pre-token trigger is any [`Invoke`]: in the local stack, the real `pre-token` binary under
//! [`crate::lambda_host`]. The handle counts requests, logs what happened (never a token),
//! mints tokens for negative tests and injects faults. See `docs/local-cognito.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use obo_local::cognito::{CognitoEmulator, PoolConfig, USER_CLIENT};
//!
//! let cognito = CognitoEmulator::start(PoolConfig::demo()).await?;
//! let alice = cognito.sign_in(USER_CLIENT, "alice", "Alice-local-1!").await.expect("sign-in");
//! println!("issuer {} token expires in {}s", cognito.issuer(), alice.expires_in);
//! # Ok(()) }
//! ```

mod aws_json;
mod config;
mod controls;
mod defaults;
mod exchange;
mod file;
mod keys;
mod oauth;
mod pool;
mod tokens;
mod trigger;
mod users;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use obo_core::Secret;
use obo_testkit::TestServer;

use crate::invoke::Invoke;
use keys::TokenKind;
use pool::Pool;

pub use config::{AppClient, PoolConfig, PoolUser, ResourceServer};
pub use controls::{
    Counters, EventOutcome, Operation, PoolEvent, RequestCounts, TriggerErrorForm, TriggerOutcome,
};
pub use defaults::{
    DEFAULT_POOL_ID, EXCHANGE_CLIENT, OBO_CLIENT, OTHER_MACHINE_CLIENT, OTHER_USER_CLIENT, RESOURCE_SERVER,
    TOOL_SYNC_CLIENT, USER_CLIENT,
};
pub use pool::secret_hash;
pub use tokens::{MintOptions, USER_API_SCOPE, UserTokens};
pub use trigger::TRIGGER_DEADLINE;

/// An error as the AWS API reports it (`__type` and message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CognitoError {
    /// The exception name, e.g. `NotAuthorizedException`.
    pub code: String,
    /// The message.
    pub message: String,
}

/// A running emulator; dropping it stops it.
pub struct CognitoEmulator {
    pool: Arc<Pool>,
    server: TestServer,
}

impl fmt::Debug for CognitoEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CognitoEmulator").field("issuer", &self.pool.issuer).finish_non_exhaustive()
    }
}

impl CognitoEmulator {
    /// Starts the pool on a free loopback port, without a trigger (see
    /// [`CognitoEmulator::set_trigger`]: the trigger usually needs the issuer first).
    pub async fn start(config: PoolConfig) -> std::io::Result<Self> {
        Self::start_on(config, 0).await
    }

    /// Starts the pool on loopback port `port` (0: any free port), for a target that must be
    /// told the issuer before the pool runs.
    pub async fn start_on(config: PoolConfig, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let pool = Arc::new(Pool::new(config, &base_url));
        let pool_id = pool.config.pool_id.clone();
        let router = Router::new()
            .route(&format!("/{pool_id}/.well-known/openid-configuration"), get(oauth::discovery))
            .route(&format!("/{pool_id}/.well-known/jwks.json"), get(oauth::jwks))
            .route("/oauth2/token", post(oauth::token))
            .route("/", post(aws_json::dispatch))
            .with_state(pool.clone());
        Ok(Self { pool, server: TestServer::serve(listener, router) })
    }

    /// `http://127.0.0.1:<port>`: the token endpoint's host, and the AWS endpoint
    /// (`AWS_ENDPOINT_URL`).
    pub fn base_url(&self) -> String {
        self.server.url("")
    }

    /// The issuer, `http://127.0.0.1:<port>/<poolId>` (`iss` of every token).
    pub fn issuer(&self) -> &str {
        &self.pool.issuer
    }

    /// `…/<poolId>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.pool.issuer)
    }

    /// `…/<poolId>/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.pool.issuer)
    }

    /// `http://127.0.0.1:<port>/oauth2/token`.
    pub fn token_endpoint(&self) -> String {
        self.server.url("/oauth2/token")
    }

    /// The pool id.
    pub fn pool_id(&self) -> &str {
        &self.pool.config.pool_id
    }

    /// The region (the pool id's prefix).
    pub fn region(&self) -> &str {
        self.pool.config.region()
    }

    /// Users, clients (with their secrets) and resource servers.
    pub fn config(&self) -> &PoolConfig {
        &self.pool.config
    }

    /// A client's secret, if it has one.
    pub fn client_secret(&self, client_id: &str) -> Option<&Secret> {
        self.pool.config.client(client_id).and_then(|c| c.secret.as_ref())
    }

    /// Sets (or removes) the pre-token-generation trigger, invoked with a 5 s deadline.
    pub fn set_trigger(&self, trigger: Option<Arc<dyn Invoke>>) {
        self.pool.set_trigger(trigger);
    }

    /// How a failing trigger is reported on `/oauth2/token`.
    pub fn set_trigger_error_form(&self, form: TriggerErrorForm) {
        self.pool.controls.set_error_form(form);
    }

    /// Leaves `request.scopes` out of the trigger's client_credentials events (`true`), as some
    /// of AWS's sample events do, or puts the granted scopes back (`false`, the default).
    pub fn set_trigger_scopes_omitted(&self, omit: bool) {
        self.pool.controls.set_omit_trigger_scopes(omit);
    }

    /// Deletes a user, as `AdminDeleteUser` does: its tokens still verify offline, but the user
    /// lookups no longer find it, and its name may be given to another user. `false` if there is
    /// no such user.
    pub fn delete_user(&self, username: &str) -> bool {
        self.pool.delete_user(username)
    }

    /// Creates a confirmed user (`AdminCreateUser` plus a permanent password), e.g. under the name
    /// of a deleted one; its name and `sub` must be free.
    pub fn create_user(&self, user: PoolUser) -> Result<(), String> {
        self.pool.create_user(user)
    }

    /// A current user (created or deleted ones included), by name.
    pub fn user(&self, username: &str) -> Option<PoolUser> {
        self.pool.user(username)
    }

    /// Takes the JWKS endpoint down (HTTP 503) or brings it back.
    pub fn set_jwks_available(&self, available: bool) {
        self.pool.controls.set_jwks_down(!available);
    }

    /// The next `count` token requests (`/oauth2/token` and `GetClientToken`) fail with HTTP
    /// `status`: 429 is throttling (`TooManyRequestsException` on the API), anything else a
    /// server error (`InternalErrorException`). `count = 0` clears it.
    pub fn fail_token_requests(&self, status: u16, count: u32) {
        self.pool.controls.fail_token_requests(status, count);
    }

    /// Request counters.
    pub fn counters(&self) -> Counters {
        self.pool.controls.counters()
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<PoolEvent> {
        self.pool.controls.events_since(0)
    }

    /// A position in the event log, to read what comes after it with
    /// [`CognitoEmulator::events_since`].
    pub fn event_mark(&self) -> usize {
        self.pool.controls.event_count()
    }

    /// The events after `mark`.
    pub fn events_since(&self, mark: usize) -> Vec<PoolEvent> {
        self.pool.controls.events_since(mark)
    }

    /// Signs a user in (`InitiateAuth` `USER_PASSWORD_AUTH`, trigger included) without HTTP.
    /// For a client with a secret, the `SECRET_HASH` is computed here.
    pub async fn sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<UserTokens, CognitoError> {
        let mut parameters = HashMap::from([
            ("USERNAME".to_owned(), username.to_owned()),
            ("PASSWORD".to_owned(), password.to_owned()),
        ]);
        if let Some(secret) = self.client_secret(client_id) {
            parameters.insert("SECRET_HASH".into(), secret_hash(secret.expose(), username, client_id));
        }
        self.pool.initiate_auth(client_id, "USER_PASSWORD_AUTH", &parameters, None).await.map_err(|err| {
            let (_, code, message) = aws_json::aws_error(&err);
            CognitoError { code: code.to_owned(), message }
        })
    }

    /// Mints a user access token directly, without the trigger and without counting it: by
    /// default exactly like one from `InitiateAuth`; see [`MintOptions`] for expired, other
    /// client, other issuer, changed claims and forged tokens.
    pub fn mint_access_token(&self, username: &str, options: &MintOptions) -> Result<String, String> {
        self.pool.mint(TokenKind::Access, username, options)
    }

    /// Mints a user ID token directly (see [`CognitoEmulator::mint_access_token`]).
    pub fn mint_id_token(&self, username: &str, options: &MintOptions) -> Result<String, String> {
        self.pool.mint(TokenKind::Id, username, options)
    }

    /// Revokes every token issued to `username` so far, as `AdminUserGlobalSignOut` does: they
    /// still verify offline, but `GetUser` and token exchange refuse them. `false` if there is
    /// no such user.
    pub fn sign_out(&self, username: &str) -> bool {
        self.pool.sign_out(username)
    }
}
