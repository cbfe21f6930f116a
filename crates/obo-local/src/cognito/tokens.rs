//! The claims of the tokens the pool issues, shaped as Cognito's (built with obo-testkit's
//! Cognito claim builders), and the options for minting a user token directly.

use std::fmt;

use obo_testkit::tokens::{User, access_claims, id_claims, m2m_claims};
use serde_json::{Map, Value, json};

use super::config::PoolUser;

/// The scope of access tokens from the user APIs (`InitiateAuth`).
pub const USER_API_SCOPE: &str = "aws.cognito.signin.user.admin";

/// The tokens of a signed-in user. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct UserTokens {
    /// The access token (`token_use: access`, app client in `client_id`).
    pub access_token: String,
    /// The ID token (`token_use: id`, app client in `aud`, `custom:*` attributes).
    pub id_token: String,
    /// An opaque refresh token (not accepted back by this emulator).
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserTokens").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// How to mint a user token directly (for negative tests): the defaults give a token exactly
/// like one from `InitiateAuth` through the user client, without running the trigger.
#[derive(Debug, Clone, Default)]
pub struct MintOptions {
    /// The app client the token is for (default: the user client, `gateway-app`).
    pub client_id: Option<String>,
    /// How long ago it was issued (`iat` and `auth_time` move back).
    pub issued_secs_ago: u64,
    /// Lifetime from `iat` (default: the client's token validity).
    pub lifetime_secs: Option<u64>,
    /// Another issuer (e.g. another pool's); the signature is still this pool's.
    pub issuer: Option<String>,
    /// Claims to add or override, reserved ones included.
    pub claims: Map<String, Value>,
    /// Claims to remove.
    pub remove: Vec<String>,
    /// Sign with a fresh key under the pool's `kid`: a forgery the JWKS does not verify.
    pub forged: bool,
}

impl MintOptions {
    /// A token that expired a minute ago.
    pub fn expired() -> Self {
        Self { issued_secs_ago: 3660, lifetime_secs: Some(3600), ..Self::default() }
    }

    /// For another app client.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// With another issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// With one claim added or overridden.
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Without one claim.
    pub fn without(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }

    /// Forged (see [`MintOptions::forged`]).
    pub fn forged(mut self) -> Self {
        self.forged = true;
        self
    }

    /// Applies `claims` and `remove` to built claims.
    pub(crate) fn adjust(&self, claims: &mut Map<String, Value>) {
        claims.extend(self.claims.iter().map(|(k, v)| (k.clone(), v.clone())));
        for name in &self.remove {
            claims.remove(name);
        }
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn testkit_user(user: &PoolUser) -> User {
    let attributes = user
        .all_attributes()
        .into_iter()
        .filter(|(k, _)| k != "sub" && k != "email_verified")
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    User { sub: user.sub.clone(), username: user.username.clone(), groups: user.groups.clone(), attributes }
}

/// A machine (client_credentials) access token's claims.
pub(crate) fn machine(
    issuer: &str,
    client_id: &str,
    scopes: &[String],
    iat: u64,
    lifetime: u64,
) -> Map<String, Value> {
    object(m2m_claims(issuer, client_id, scopes, iat, lifetime))
}

/// A user's access and ID token claims from one sign-in (sharing `origin_jti` and `event_id`).
pub(crate) fn user_pair(
    issuer: &str,
    client_id: &str,
    user: &PoolUser,
    scopes: &[String],
    iat: u64,
    lifetimes: (u64, u64),
) -> (Map<String, Value>, Map<String, Value>) {
    let tk = testkit_user(user);
    let mut access = object(access_claims(issuer, client_id, &tk, iat, lifetimes.0));
    access.insert("scope".into(), json!(scopes.join(" ")));
    let mut id = object(id_claims(issuer, client_id, &tk, iat, lifetimes.1));
    for shared in ["origin_jti", "event_id"] {
        if let Some(v) = access.get(shared) {
            id.insert(shared.into(), v.clone());
        }
    }
    (access, id)
}

/// A user's access token for another client (token exchange).
pub(crate) fn user_access(
    issuer: &str,
    client_id: &str,
    user: &PoolUser,
    scopes: &[String],
    iat: u64,
    lifetime: u64,
) -> Map<String, Value> {
    let mut access = object(access_claims(issuer, client_id, &testkit_user(user), iat, lifetime));
    access.insert("scope".into(), json!(scopes.join(" ")));
    access
}

/// A random opaque refresh token.
pub(crate) fn refresh_token() -> String {
    let mut bytes = [0u8; 48];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    obo_testkit::keys::b64url(bytes)
}
