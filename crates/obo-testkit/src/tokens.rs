//! Claims shaped like Cognito's: access tokens (no `aud`, `client_id`, `token_use: access`,
//! `origin_jti`, `event_id`, `username`, `cognito:groups`), ID tokens (`aud`, `token_use: id`,
//! `cognito:username`, `custom:*` attributes) and M2M tokens (`sub` = `client_id`, `scope`).

use serde_json::{Map, Value, json};

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A random-looking id (hex), unique within the process.
pub fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}{n:04x}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..28])
}

/// A user to put in tokens.
#[derive(Debug, Clone)]
pub struct User {
    /// `sub`.
    pub sub: String,
    /// `username`.
    pub username: String,
    /// `cognito:groups`.
    pub groups: Vec<String>,
    /// Attributes such as `email`, `custom:org_id`.
    pub attributes: Map<String, Value>,
}

/// Access-token claims as Cognito issues them for a user signing in through `client_id`.
pub fn access_claims(issuer: &str, client_id: &str, user: &User, iat: u64, lifetime_secs: u64) -> Value {
    let mut claims = json!({
        "sub": user.sub,
        "iss": issuer,
        "version": 2,
        "client_id": client_id,
        "origin_jti": unique_id(),
        "event_id": unique_id(),
        "token_use": "access",
        "scope": "openid email aws.cognito.signin.user.admin",
        "auth_time": iat,
        "exp": iat + lifetime_secs,
        "iat": iat,
        "jti": unique_id(),
        "username": user.username,
    });
    if !user.groups.is_empty() {
        claims["cognito:groups"] = json!(user.groups);
    }
    claims
}

/// ID-token claims as Cognito issues them.
pub fn id_claims(issuer: &str, client_id: &str, user: &User, iat: u64, lifetime_secs: u64) -> Value {
    let mut claims = json!({
        "sub": user.sub,
        "aud": client_id,
        "email_verified": true,
        "event_id": unique_id(),
        "token_use": "id",
        "auth_time": iat,
        "iss": issuer,
        "cognito:username": user.username,
        "origin_jti": unique_id(),
        "exp": iat + lifetime_secs,
        "iat": iat,
        "jti": unique_id(),
    });
    if !user.groups.is_empty() {
        claims["cognito:groups"] = json!(user.groups);
    }
    for (k, v) in &user.attributes {
        if k != "sub" {
            claims[k] = v.clone();
        }
    }
    claims
}

/// M2M (client_credentials) access-token claims.
pub fn m2m_claims(issuer: &str, client_id: &str, scopes: &[String], iat: u64, lifetime_secs: u64) -> Value {
    json!({
        "sub": client_id,
        "token_use": "access",
        "scope": scopes.join(" "),
        "auth_time": iat,
        "iss": issuer,
        "exp": iat + lifetime_secs,
        "iat": iat,
        "version": 2,
        "jti": unique_id(),
        "client_id": client_id,
    })
}
