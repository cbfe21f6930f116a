//! The emulated pool's users, app clients and resource servers, and their validation (errors
//! name the offending field). Where they come from: `defaults.rs` (the demo pool) and `file.rs`
//! (a JSON file).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use obo_core::Secret;
use obo_core::env::ConfigError;
use obo_core::subject::issuer::is_pool_id;

/// The explicit auth flows Cognito knows.
const AUTH_FLOWS: &[&str] = &[
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_CLIENT_TOKEN_AUTH",
    "ALLOW_TOKEN_EXCHANGE_IMPERSONATION",
    "ALLOW_TOKEN_EXCHANGE_DELEGATION",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_AUTH",
];
const OAUTH_FLOWS: &[&str] = &["client_credentials", "code", "implicit"];

/// The whole pool.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// `<region>_<alphanumerics>`.
    pub pool_id: String,
    /// Resource servers and their scopes.
    pub resource_servers: Vec<ResourceServer>,
    /// App clients.
    pub clients: Vec<AppClient>,
    /// Users.
    pub users: Vec<PoolUser>,
}

/// A resource server: its scopes are granted as `<identifier>/<scope>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServer {
    /// The identifier (the scopes' prefix).
    pub identifier: String,
    /// The scope names, without the prefix.
    pub scopes: Vec<String>,
}

/// An app client.
#[derive(Debug, Clone)]
pub struct AppClient {
    /// The client id.
    pub client_id: String,
    /// A display name.
    pub name: String,
    /// The client secret; `None` for a public client.
    pub secret: Option<Secret>,
    /// `ExplicitAuthFlows` (`ALLOW_USER_PASSWORD_AUTH`, `ALLOW_CLIENT_TOKEN_AUTH`, …).
    pub explicit_auth_flows: Vec<String>,
    /// `AllowedOAuthFlows` (`client_credentials`, …).
    pub allowed_oauth_flows: Vec<String>,
    /// `AllowedOAuthScopes`: the scopes the client may ask for.
    pub allowed_oauth_scopes: Vec<String>,
    /// For token exchange: the app clients whose users' tokens this client may exchange.
    pub token_exchange_subject_clients: Vec<String>,
    /// Lifetime of the access tokens issued to this client.
    pub access_token_validity: Duration,
    /// Lifetime of the ID tokens issued to this client.
    pub id_token_validity: Duration,
}

impl AppClient {
    /// Whether `flow` is among the explicit auth flows.
    pub fn allows(&self, flow: &str) -> bool {
        self.explicit_auth_flows.iter().any(|f| f == flow)
    }

    /// Whether `flow` is among the OAuth flows.
    pub fn allows_oauth(&self, flow: &str) -> bool {
        self.allowed_oauth_flows.iter().any(|f| f == flow)
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct PoolUser {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
    /// The stable `sub`.
    pub sub: String,
    /// The `email` attribute.
    pub email: Option<String>,
    /// Group names (`cognito:groups`).
    pub groups: Vec<String>,
    /// Other attributes, e.g. `custom:org_id`.
    pub attributes: BTreeMap<String, String>,
    /// A disabled user cannot sign in, and `AdminGetUser` says so.
    pub enabled: bool,
}

impl PoolUser {
    /// All attributes as Cognito lists them: `sub`, `email`, `email_verified`, then the others.
    pub fn all_attributes(&self) -> Vec<(String, String)> {
        let mut all = vec![("sub".to_owned(), self.sub.clone())];
        if let Some(email) = &self.email {
            all.push(("email".into(), email.clone()));
            all.push(("email_verified".into(), "true".into()));
        }
        all.extend(self.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }
}

impl PoolConfig {
    /// The region: the pool id's prefix.
    pub fn region(&self) -> &str {
        self.pool_id.split_once('_').map(|(r, _)| r).unwrap_or_default()
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Option<&PoolUser> {
        self.users.iter().find(|u| u.username == username)
    }

    /// A user by `sub`.
    pub fn user_by_sub(&self, sub: &str) -> Option<&PoolUser> {
        self.users.iter().find(|u| u.sub == sub)
    }

    /// An app client by id.
    pub fn client(&self, client_id: &str) -> Option<&AppClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// Every scope some resource server defines (`<identifier>/<scope>`).
    pub fn scopes(&self) -> Vec<String> {
        self.resource_servers
            .iter()
            .flat_map(|r| r.scopes.iter().map(move |s| format!("{}/{s}", r.identifier)))
            .collect()
    }

    /// Checks the pool; the error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_pool_id(&self.pool_id) {
            return Err(ConfigError::new("poolId", "must look like <region>_<letters and digits>"));
        }
        let scopes = self.scopes();
        let mut ids = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let field = |name: &str| format!("clients[{i}].{name}");
            if c.client_id.is_empty() || !c.client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(ConfigError::new(field("clientId"), "must be letters, digits and dashes"));
            }
            if !ids.insert(c.client_id.as_str()) {
                return Err(ConfigError::new(
                    field("clientId"),
                    format!("{:?} is listed twice", c.client_id),
                ));
            }
            if let Some(flow) = c.explicit_auth_flows.iter().find(|f| !AUTH_FLOWS.contains(&f.as_str())) {
                return Err(ConfigError::new(
                    field("explicitAuthFlows"),
                    format!("{flow:?} is not a Cognito flow"),
                ));
            }
            if let Some(flow) = c.allowed_oauth_flows.iter().find(|f| !OAUTH_FLOWS.contains(&f.as_str())) {
                return Err(ConfigError::new(
                    field("allowedOAuthFlows"),
                    format!("{flow:?} is not an OAuth flow"),
                ));
            }
            if let Some(scope) = c.allowed_oauth_scopes.iter().find(|s| !scopes.contains(s)) {
                return Err(ConfigError::new(
                    field("allowedOAuthScopes"),
                    format!("{scope:?} is not a scope of any resource server"),
                ));
            }
            let machine = c.allows_oauth("client_credentials") || c.allows("ALLOW_CLIENT_TOKEN_AUTH");
            if machine && c.secret.is_none() {
                return Err(ConfigError::new(field("secret"), "a machine client needs a secret"));
            }
            if machine && c.allowed_oauth_scopes.is_empty() {
                return Err(ConfigError::new(field("allowedOAuthScopes"), "a machine client needs a scope"));
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            if let Some(s) = c.token_exchange_subject_clients.iter().find(|s| self.client(s).is_none()) {
                return Err(ConfigError::new(
                    format!("clients[{i}].tokenExchangeSubjectClients"),
                    format!("{s:?} is not a client of this pool"),
                ));
            }
        }
        let (mut names, mut subs) = (HashSet::new(), HashSet::new());
        for (i, u) in self.users.iter().enumerate() {
            let field = |name: &str| format!("users[{i}].{name}");
            if u.username.is_empty() || !names.insert(u.username.as_str()) {
                return Err(ConfigError::new(field("username"), "must be set and unique"));
            }
            if u.sub.is_empty() || !subs.insert(u.sub.as_str()) {
                return Err(ConfigError::new(field("sub"), "must be set and unique"));
            }
            if u.password.is_empty() {
                return Err(ConfigError::new(field("password"), "must be set"));
            }
            if let Some(name) =
                u.attributes.keys().find(|k| matches!(k.as_str(), "sub" | "email" | "email_verified"))
            {
                return Err(ConfigError::new(field("attributes"), format!("{name:?} has its own field")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::defaults::*;
    use super::*;

    #[test]
    fn the_demo_pool_is_valid_and_has_what_the_stack_needs() {
        let pool = PoolConfig::demo();
        pool.validate().unwrap();
        assert_eq!(pool.region(), "us-east-1");
        let alice = pool.user("alice").unwrap();
        assert_eq!(alice.attributes["custom:org_id"], "acme");
        assert_eq!(alice.groups, ["crm-users"]);
        assert_eq!(pool.user("bob").unwrap().attributes["custom:org_id"], "globex");
        assert!(pool.client(USER_CLIENT).unwrap().secret.is_none());
        let obo = pool.client(OBO_CLIENT).unwrap();
        assert!(obo.secret.is_some() && obo.allows_oauth("client_credentials"));
        assert_eq!(obo.explicit_auth_flows, ["ALLOW_CLIENT_TOKEN_AUTH"]);
        assert_eq!(pool.scopes(), ["cognito-obo/crm", "cognito-obo/weather"]);
    }

    #[test]
    fn a_file_replaces_only_the_sections_it_has() {
        let pool = PoolConfig::from_json(
            r#"{"poolId": "eu-west-1_Test1", "users": [{"username": "dave", "password": "pw",
                "sub": "d-1", "attributes": {"custom:org_id": "initech"}}]}"#,
        )
        .unwrap();
        assert_eq!(pool.region(), "eu-west-1");
        assert_eq!(pool.users.len(), 1);
        assert!(pool.user("dave").unwrap().enabled);
        assert!(pool.client(OBO_CLIENT).is_some(), "clients keep their defaults");
    }

    #[test]
    fn errors_name_the_field() {
        let err = |json: &str| PoolConfig::from_json(json).unwrap_err();
        assert_eq!(err(r#"{"poolId": "nope"}"#).variable, "poolId");
        assert!(err(r#"{"colour": 1}"#).problem.contains("unknown field"));
        let e = err(r#"{"clients": [{"clientId": "m", "allowedOAuthFlows": ["client_credentials"],
            "allowedOAuthScopes": ["cognito-obo/crm"]}]}"#);
        assert_eq!(e.variable, "clients[0].secret");
        let e = err(r#"{"clients": [{"clientId": "m", "secret": "s", "allowedOAuthScopes": ["x/y"]}]}"#);
        assert_eq!(e.variable, "clients[0].allowedOAuthScopes");
        let e = err(r#"{"users": [{"username": "a", "password": "p", "sub": "1"},
            {"username": "a", "password": "p", "sub": "2"}]}"#);
        assert_eq!(e.variable, "users[1].username");
    }
}
