//! What a target trusts: the user pool's issuer, the machine client that mints on-behalf-of
//! tokens, the target's own scope. Checked once, when the target starts.

use jsonwebtoken::Algorithm;
use obo_core::env::{ConfigError, Env, EnvSource};
use obo_core::subject::issuer::TrustedIssuer;
use obo_core::subject::jwt::DEFAULT_MAX_TOKEN_BYTES;
use obo_core::subject::verify::parse_asymmetric_alg;

/// The claim that carries the organization unless configured otherwise.
pub const DEFAULT_ORG_CLAIM: &str = "org_id";

/// A target's trust settings.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// The user pool's issuer (exact `iss`); its keys come from it only.
    pub issuer: TrustedIssuer,
    /// The machine (client_credentials) app client that mints on-behalf-of tokens; tool calls
    /// that act for a user accept only its tokens.
    pub obo_client_id: String,
    /// Other machine clients whose tokens may reach the target without acting for a user, e.g.
    /// the gateway's tool-sync client listing tools.
    pub service_client_ids: Vec<String>,
    /// This target's resource-server scope (e.g. `crm/obo`). Scope is the only audience binding
    /// a Cognito machine token has, so a token without it was minted for someone else.
    pub scope: String,
    /// The other scopes of this target's own scope group (`OBO_SCOPE_GROUPS`), if it has more
    /// than one. A token acting for a user that carries any scope outside `scope` and these was
    /// minted for several targets at once, and is refused.
    pub group_scopes: Vec<String>,
    /// The issuers whose users this target serves (`obo_iss`, the user token's issuer); empty:
    /// whichever issuer the trigger trusts.
    pub user_issuers: Vec<String>,
    /// The claim holding the user's organization.
    pub org_claim: String,
    /// Allowed signature algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Tolerance for `nbf` and `iat` in the future, in seconds.
    pub leeway_secs: u64,
    /// Size cap on a token, checked before parsing.
    pub max_token_bytes: usize,
}

impl TargetConfig {
    /// Settings with the defaults: RS256, 30 s leeway, organization in `org_id`, no other
    /// service clients. Errors name the argument that is wrong.
    pub fn new(issuer: &str, obo_client_id: &str, scope: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: parse_issuer("issuer", issuer)?,
            obo_client_id: non_empty("obo_client_id", obo_client_id)?,
            service_client_ids: Vec::new(),
            scope: parse_scope("scope", scope)?,
            group_scopes: Vec::new(),
            user_issuers: Vec::new(),
            org_claim: DEFAULT_ORG_CLAIM.to_owned(),
            algorithms: vec![Algorithm::RS256],
            leeway_secs: 30,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        })
    }

    /// Adds machine clients whose tokens may list tools, prompts and resources (never act for a user).
    pub fn with_service_clients<I, S>(mut self, client_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.service_client_ids.extend(client_ids.into_iter().map(Into::into));
        self
    }

    /// Accepts, besides `scope`, the other scopes of this target's own group in tokens that act
    /// for a user (never another target's). Errors name the scope that is not one.
    pub fn with_scope_group<I, S>(mut self, scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for scope in scopes {
            let scope = parse_scope("group_scopes", scope.as_ref())?;
            if scope != self.scope && !self.group_scopes.contains(&scope) {
                self.group_scopes.push(scope);
            }
        }
        Ok(self)
    }

    /// Serves only users of these issuers (`obo_iss` must be one of them).
    pub fn with_user_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.user_issuers.extend(issuers.into_iter().map(Into::into));
        self
    }

    /// Whether `scope` may appear in a token acting for a user: this target's own.
    pub fn is_own_scope(&self, scope: &str) -> bool {
        scope == self.scope || self.group_scopes.iter().any(|s| s == scope)
    }

    /// Reads the organization from another claim.
    pub fn with_org_claim(mut self, claim: impl Into<String>) -> Self {
        self.org_claim = claim.into();
        self
    }

    /// Reads `OBO_TARGET_ISSUER`, `OBO_TARGET_CLIENT_ID`, `OBO_TARGET_SCOPE` (required),
    /// `OBO_TARGET_SCOPE_GROUP`, `OBO_TARGET_USER_ISSUERS`, `OBO_TARGET_SERVICE_CLIENT_IDS`,
    /// `OBO_TARGET_ORG_CLAIM`, `OBO_TARGET_ALGORITHMS` and `OBO_LEEWAY_SECONDS`. Errors name the
    /// variable and the problem.
    pub fn from_env(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let env = Env::new(source);
        let required =
            |name: &str| env.string(name).ok_or_else(|| ConfigError::new(name, "is required but not set"));
        let mut algorithms = Vec::new();
        for name in env.list("OBO_TARGET_ALGORITHMS")? {
            algorithms.push(parse_asymmetric_alg(&name).ok_or_else(|| {
                ConfigError::new("OBO_TARGET_ALGORITHMS", format!("{name:?} is not an asymmetric algorithm"))
            })?);
        }
        if algorithms.is_empty() {
            algorithms.push(Algorithm::RS256);
        }
        let mut user_issuers = Vec::new();
        for issuer in env.list("OBO_TARGET_USER_ISSUERS")? {
            user_issuers.push(parse_issuer("OBO_TARGET_USER_ISSUERS", &issuer)?.issuer);
        }
        let scope = parse_scope("OBO_TARGET_SCOPE", &required("OBO_TARGET_SCOPE")?)?;
        let mut group_scopes = Vec::new();
        for other in env.list("OBO_TARGET_SCOPE_GROUP")? {
            let other = parse_scope("OBO_TARGET_SCOPE_GROUP", &other)?;
            if other != scope && !group_scopes.contains(&other) {
                group_scopes.push(other);
            }
        }
        Ok(Self {
            issuer: parse_issuer("OBO_TARGET_ISSUER", &required("OBO_TARGET_ISSUER")?)?,
            obo_client_id: required("OBO_TARGET_CLIENT_ID")?,
            service_client_ids: env.list("OBO_TARGET_SERVICE_CLIENT_IDS")?,
            scope,
            group_scopes,
            user_issuers,
            org_claim: env.string("OBO_TARGET_ORG_CLAIM").unwrap_or_else(|| DEFAULT_ORG_CLAIM.to_owned()),
            algorithms,
            leeway_secs: env.number("OBO_LEEWAY_SECONDS", 30, 0, 300)?,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        })
    }

    /// Whether `client_id` may present a service token (the on-behalf-of client included).
    pub fn is_service_client(&self, client_id: &str) -> bool {
        client_id == self.obo_client_id || self.service_client_ids.iter().any(|c| c == client_id)
    }
}

fn parse_issuer(name: &str, raw: &str) -> Result<TrustedIssuer, ConfigError> {
    TrustedIssuer::parse(raw.trim()).map_err(|e| ConfigError::new(name, e.to_string()))
}

fn non_empty(name: &str, raw: &str) -> Result<String, ConfigError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(ConfigError::new(name, "must not be empty"));
    }
    Ok(value.to_owned())
}

fn parse_scope(name: &str, raw: &str) -> Result<String, ConfigError> {
    let scope = non_empty(name, raw)?;
    if scope.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(name, "must be one scope, without spaces"));
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn new_checks_each_argument() {
        let ok = TargetConfig::new("http://127.0.0.1:9/us-east-1_X", "obo", "crm/obo").unwrap();
        assert_eq!(ok.org_claim, "org_id");
        assert!(ok.is_service_client("obo"));
        assert!(!ok.is_service_client("other"));
        let ok = ok.with_service_clients(["sync"]).with_org_claim("tenant");
        assert!(ok.is_service_client("sync"));
        assert_eq!(ok.org_claim, "tenant");
        for (issuer, client, scope, wrong) in [
            ("http://example.com/p", "obo", "crm/obo", "issuer"),
            ("https://a.example/p", " ", "crm/obo", "obo_client_id"),
            ("https://a.example/p", "obo", "", "scope"),
            ("https://a.example/p", "obo", "crm/obo crm/admin", "scope"),
        ] {
            assert_eq!(TargetConfig::new(issuer, client, scope).unwrap_err().variable, wrong);
        }
    }

    #[test]
    fn from_env_names_the_variable() {
        let mut env: HashMap<&str, &str> = HashMap::from([
            ("OBO_TARGET_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc"),
            ("OBO_TARGET_CLIENT_ID", "obo"),
            ("OBO_TARGET_SCOPE", "crm/obo"),
            ("OBO_TARGET_SERVICE_CLIENT_IDS", "sync, sync2"),
        ]);
        let config = TargetConfig::from_env(&env).unwrap();
        assert_eq!(config.service_client_ids, ["sync", "sync2"]);
        assert_eq!(config.algorithms, [Algorithm::RS256]);
        env.insert("OBO_TARGET_SCOPE_GROUP", "crm/obo, crm/write");
        env.insert("OBO_TARGET_USER_ISSUERS", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc");
        let config = TargetConfig::from_env(&env).unwrap();
        assert_eq!(config.group_scopes, ["crm/write"]);
        assert!(config.is_own_scope("crm/obo") && config.is_own_scope("crm/write"));
        assert!(!config.is_own_scope("hr/obo"));
        assert_eq!(config.user_issuers, ["https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc"]);
        env.insert("OBO_TARGET_USER_ISSUERS", "http://evil.example/p");
        assert_eq!(TargetConfig::from_env(&env).unwrap_err().variable, "OBO_TARGET_USER_ISSUERS");
        env.remove("OBO_TARGET_USER_ISSUERS");
        env.insert("OBO_TARGET_SCOPE_GROUP", "crm/obo crm/write");
        assert_eq!(TargetConfig::from_env(&env).unwrap_err().variable, "OBO_TARGET_SCOPE_GROUP");
        env.remove("OBO_TARGET_SCOPE_GROUP");
        env.insert("OBO_TARGET_ALGORITHMS", "HS256");
        assert_eq!(TargetConfig::from_env(&env).unwrap_err().variable, "OBO_TARGET_ALGORITHMS");
        env.remove("OBO_TARGET_ALGORITHMS");
        env.remove("OBO_TARGET_SCOPE");
        let err = TargetConfig::from_env(&env).unwrap_err();
        assert_eq!(err.variable, "OBO_TARGET_SCOPE");
        assert!(err.problem.contains("required"));
    }
}
