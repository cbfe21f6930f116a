//! The pool file: JSON, each section optional (a missing one keeps the demo defaults), read
//! strictly (unknown fields are errors) and validated before the emulator starts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use obo_core::Secret;
use obo_core::env::ConfigError;
use serde::Deserialize;

use super::config::{AppClient, PoolConfig, PoolUser, ResourceServer};
use super::defaults::{
    DEFAULT_POOL_ID, default_clients, default_resource_servers, default_users, generate_secret,
};

impl PoolConfig {
    /// Reads a pool file (see `docs/local-cognito.md`).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(path.display().to_string(), format!("cannot be read: {e}")))?;
        Self::from_json(&text)
    }

    /// Parses and validates a pool file's content.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let raw: RawPool = serde_json::from_str(text)
            .map_err(|e| ConfigError::new("pool file", format!("is not valid: {e}")))?;
        let config = Self {
            pool_id: raw.pool_id.unwrap_or_else(|| DEFAULT_POOL_ID.into()),
            resource_servers: match raw.resource_servers {
                Some(list) => list
                    .into_iter()
                    .map(|r| ResourceServer { identifier: r.identifier, scopes: r.scopes })
                    .collect(),
                None => default_resource_servers(),
            },
            clients: match raw.clients {
                Some(list) => list.into_iter().map(RawClient::into_client).collect(),
                None => default_clients(),
            },
            users: match raw.users {
                Some(list) => list.into_iter().map(RawUser::into_user).collect(),
                None => default_users(),
            },
        };
        config.validate()?;
        Ok(config)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPool {
    pool_id: Option<String>,
    resource_servers: Option<Vec<RawResourceServer>>,
    clients: Option<Vec<RawClient>>,
    users: Option<Vec<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawResourceServer {
    identifier: String,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawClient {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    generate_secret: bool,
    #[serde(default)]
    explicit_auth_flows: Vec<String>,
    #[serde(default, rename = "allowedOAuthFlows")]
    allowed_oauth_flows: Vec<String>,
    #[serde(default, rename = "allowedOAuthScopes")]
    allowed_oauth_scopes: Vec<String>,
    #[serde(default)]
    token_exchange_subject_clients: Vec<String>,
    #[serde(default = "hour")]
    access_token_validity_seconds: u64,
    #[serde(default = "hour")]
    id_token_validity_seconds: u64,
}

fn hour() -> u64 {
    3600
}

impl RawClient {
    fn into_client(self) -> AppClient {
        let secret = match (self.secret, self.generate_secret) {
            (Some(s), _) => Some(Secret::new(s)),
            (None, true) => Some(generate_secret()),
            (None, false) => None,
        };
        AppClient {
            name: self.client_name.unwrap_or_else(|| self.client_id.clone()),
            client_id: self.client_id,
            secret,
            explicit_auth_flows: self.explicit_auth_flows,
            allowed_oauth_flows: self.allowed_oauth_flows,
            allowed_oauth_scopes: self.allowed_oauth_scopes,
            token_exchange_subject_clients: self.token_exchange_subject_clients,
            access_token_validity: Duration::from_secs(self.access_token_validity_seconds.clamp(300, 86_400)),
            id_token_validity: Duration::from_secs(self.id_token_validity_seconds.clamp(300, 86_400)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawUser {
    username: String,
    password: String,
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

impl RawUser {
    fn into_user(self) -> PoolUser {
        PoolUser {
            username: self.username,
            password: Secret::new(self.password),
            sub: self.sub,
            email: self.email,
            groups: self.groups,
            attributes: self.attributes,
            enabled: self.enabled,
        }
    }
}
