//! The demo pool: the users, app clients and resource server the local stack and its tests use.
//! Client secrets are generated anew each time.

use std::collections::BTreeMap;
use std::time::Duration;

use obo_core::Secret;

use super::config::{AppClient, PoolConfig, PoolUser, ResourceServer};

/// The default pool id (`<region>_<id>`, as Cognito's).
pub const DEFAULT_POOL_ID: &str = "us-east-1_OboLocal";
/// The demo resource server: one scope per MCP target (`cognito-obo/crm`, `cognito-obo/weather`).
pub const RESOURCE_SERVER: &str = "cognito-obo";
/// The user-facing public client (`ALLOW_USER_PASSWORD_AUTH`): the gateway's inbound audience.
pub const USER_CLIENT: &str = "gateway-app";
/// Another public client, whose user tokens the gateway does not accept.
pub const OTHER_USER_CLIENT: &str = "other-app";
/// The on-behalf-of machine client (client_credentials and `GetClientToken`, scope `cognito-obo/crm`).
pub const OBO_CLIENT: &str = "obo-m2m";
/// The gateway's own machine client, for `tools/list` (every target's scope).
pub const TOOL_SYNC_CLIENT: &str = "tool-sync";
/// A machine client that is not allowed to act on behalf of users.
pub const OTHER_MACHINE_CLIENT: &str = "other-m2m";
/// A machine client allowed to exchange the user client's tokens (RFC 8693).
pub const EXCHANGE_CLIENT: &str = "obo-exchange";

impl Default for PoolConfig {
    fn default() -> Self {
        Self::demo()
    }
}

impl PoolConfig {
    /// The demo pool: users alice (org `acme`, group `crm-users`), bob (org `globex`) and carol
    /// (disabled); the clients named by the `*_CLIENT` constants; client secrets generated anew.
    pub fn demo() -> Self {
        Self {
            pool_id: DEFAULT_POOL_ID.into(),
            resource_servers: default_resource_servers(),
            clients: default_clients(),
            users: default_users(),
        }
    }
}

/// A fresh random client secret (48 lowercase hex characters).
pub(super) fn generate_secret() -> Secret {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) fn default_resource_servers() -> Vec<ResourceServer> {
    vec![ResourceServer { identifier: RESOURCE_SERVER.into(), scopes: strings(&["crm", "weather"]) }]
}

fn client(id: &str, name: &str, flows: &[&str], scopes: &[&str]) -> AppClient {
    let machine = !scopes.is_empty();
    AppClient {
        client_id: id.into(),
        name: name.into(),
        secret: machine.then(generate_secret),
        explicit_auth_flows: strings(flows),
        allowed_oauth_flows: if machine { strings(&["client_credentials"]) } else { Vec::new() },
        allowed_oauth_scopes: strings(scopes),
        token_exchange_subject_clients: Vec::new(),
        access_token_validity: Duration::from_secs(3600),
        id_token_validity: Duration::from_secs(3600),
    }
}

pub(super) fn default_clients() -> Vec<AppClient> {
    let user_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
    let mut exchange = client(
        EXCHANGE_CLIENT,
        "On-behalf-of token exchange",
        &["ALLOW_TOKEN_EXCHANGE_IMPERSONATION", "ALLOW_TOKEN_EXCHANGE_DELEGATION"],
        &["cognito-obo/crm"],
    );
    exchange.allowed_oauth_flows.clear();
    exchange.token_exchange_subject_clients = strings(&[USER_CLIENT]);
    vec![
        client(USER_CLIENT, "Gateway users", &user_flows, &[]),
        client(OTHER_USER_CLIENT, "Another app", &user_flows, &[]),
        client(OBO_CLIENT, "On-behalf-of tokens", &["ALLOW_CLIENT_TOKEN_AUTH"], &["cognito-obo/crm"]),
        client(
            TOOL_SYNC_CLIENT,
            "Gateway tool sync",
            &["ALLOW_CLIENT_TOKEN_AUTH"],
            &["cognito-obo/crm", "cognito-obo/weather"],
        ),
        client(OTHER_MACHINE_CLIENT, "Another machine", &["ALLOW_CLIENT_TOKEN_AUTH"], &["cognito-obo/crm"]),
        exchange,
    ]
}

fn user(name: &str, password: &str, sub: &str, org: &str, groups: &[&str], enabled: bool) -> PoolUser {
    PoolUser {
        username: name.into(),
        password: Secret::new(password),
        sub: sub.into(),
        email: Some(format!("{name}@{org}.example")),
        groups: strings(groups),
        attributes: BTreeMap::from([("custom:org_id".to_owned(), org.to_owned())]),
        enabled,
    }
}

pub(super) fn default_users() -> Vec<PoolUser> {
    vec![
        user("alice", "Alice-local-1!", "a11ce000-0000-4000-8000-00000000a11c", "acme", &["crm-users"], true),
        user("bob", "Bob-local-1!", "b0b00000-0000-4000-8000-000000000b0b", "globex", &[], true),
        user(
            "carol",
            "Carol-local-1!",
            "ca201000-0000-4000-8000-0000000ca201",
            "acme",
            &["crm-users"],
            false,
        ),
    ]
}
