//! Issuer profiles: what makes a token of one identity provider a *user's access token for this
//! deployment*. Signature, issuer and time checks are the same for every issuer
//! ([`crate::subject::verify::TokenVerifier`]); the claims that tell a user's access token from an ID
//! token, a machine token or a token for another API differ per provider, so each trusted issuer
//! has a profile:
//!
//! - `cognito` (default for Cognito issuers): `token_use`, app client in `client_id` (access) or
//!   `aud` (ID), a machine token has `sub == client_id`;
//! - `rfc9068`: header `typ` `at+jwt`, client in `client_id`, `aud` required, machine token
//!   `sub == client_id` (RFC 9068 §2.2);
//! - `generic`: every rule spelled out in configuration;
//! - `auth0`, `okta`, `entra`, `keycloak`: documented presets of `generic`
//!   (docs/identity-providers.md cites the provider's documentation for each rule).
//!
//! Every non-Cognito profile requires an audience: a token for another API of the same tenant is
//! refused. Configuration is `OBO_ISSUER_PROFILES`, a JSON object keyed by issuer.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::env::{ConfigError, Env};
use crate::reason::{ReasonCode, Rejection};
use crate::subject::issuer::{TrustedIssuer, pool_in_issuer};
use crate::subject::verify::{TokenUse, parse_asymmetric_alg};

/// The variable holding the per-issuer profiles.
pub const PROFILES_VAR: &str = "OBO_ISSUER_PROFILES";

/// The profiles a trusted issuer can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileName {
    /// Amazon Cognito user pools.
    Cognito,
    /// RFC 9068 JWT access tokens.
    Rfc9068,
    /// Every rule from configuration.
    Generic,
    /// Auth0 (preset of `generic`).
    Auth0,
    /// Okta custom authorization servers (preset of `generic`).
    Okta,
    /// Microsoft Entra ID v2.0, one tenant (preset of `generic`).
    Entra,
    /// Keycloak realms (preset of `generic`).
    Keycloak,
}

impl ProfileName {
    const ALL: [Self; 7] =
        [Self::Cognito, Self::Rfc9068, Self::Generic, Self::Auth0, Self::Okta, Self::Entra, Self::Keycloak];

    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cognito => "cognito",
            Self::Rfc9068 => "rfc9068",
            Self::Generic => "generic",
            Self::Auth0 => "auth0",
            Self::Okta => "okta",
            Self::Entra => "entra",
            Self::Keycloak => "keycloak",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// How a user's access token is told from the issuer's other tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenType {
    /// Cognito's `token_use` claim.
    TokenUse(TokenUse),
    /// The JWT header's `typ` is one of these (compared ignoring case).
    HeaderTyp(Vec<String>),
    /// A claim has this string value (Keycloak `typ: Bearer`, Entra `ver: 2.0`).
    ClaimEquals(String, String),
    /// Nothing beyond the audience: the provider's ID tokens carry the client as `aud`, never
    /// the API's identifier (Auth0, Okta).
    Audience,
}

/// One way a machine (client_credentials) token shows itself; any match refuses the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineRule {
    /// `sub` is the client followed by this suffix (`sub=client`, Auth0 `sub=client@clients`).
    SubIsClient(String),
    /// A claim has this string value (`gty=client-credentials`, `idtyp=app`).
    ClaimEquals(String, String),
    /// A claim is present (`client_id` in Keycloak service-account tokens).
    ClaimPresent(String),
    /// A claim is absent (`!scp`: Entra app-only tokens have no `scp`).
    ClaimAbsent(String),
    /// A string claim starts with this prefix (`preferred_username^=service-account-`).
    ClaimPrefix(String, String),
}

impl MachineRule {
    /// Parses `sub=client[suffix]`, `claim=value`, `claim^=prefix`, `!claim` or `claim`.
    pub fn parse(rule: &str) -> Result<Self, String> {
        let rule = rule.trim();
        let name_ok = |n: &str| !n.is_empty() && !n.contains(['=', '!', '^', ' ']);
        if let Some(claim) = rule.strip_prefix('!') {
            return if name_ok(claim) {
                Ok(Self::ClaimAbsent(claim.to_owned()))
            } else {
                Err(format!("machine rule {rule:?}: `!` needs a claim name"))
            };
        }
        if let Some((claim, prefix)) = rule.split_once("^=") {
            return if name_ok(claim) && !prefix.is_empty() {
                Ok(Self::ClaimPrefix(claim.to_owned(), prefix.to_owned()))
            } else {
                Err(format!("machine rule {rule:?}: `claim^=prefix` needs both"))
            };
        }
        if let Some((claim, value)) = rule.split_once('=') {
            if !name_ok(claim) || value.is_empty() {
                return Err(format!("machine rule {rule:?}: `claim=value` needs both"));
            }
            if claim == "sub"
                && let Some(suffix) = value.strip_prefix("client")
            {
                return Ok(Self::SubIsClient(suffix.to_owned()));
            }
            return Ok(Self::ClaimEquals(claim.to_owned(), value.to_owned()));
        }
        if name_ok(rule) {
            Ok(Self::ClaimPresent(rule.to_owned()))
        } else {
            Err(format!(
                "machine rule {rule:?} is not `sub=client`, `claim=value`, `claim^=prefix`, `!claim` or `claim`"
            ))
        }
    }

    fn matches(&self, claims: &Map<String, Value>, client: &str) -> bool {
        let string = |name: &str| claims.get(name).and_then(Value::as_str);
        match self {
            Self::SubIsClient(suffix) => {
                string("sub").and_then(|sub| sub.strip_prefix(client)).is_some_and(|rest| rest == suffix)
            }
            Self::ClaimEquals(name, value) => string(name) == Some(value.as_str()),
            Self::ClaimPresent(name) => claims.contains_key(name),
            Self::ClaimAbsent(name) => !claims.contains_key(name),
            Self::ClaimPrefix(name, prefix) => string(name).is_some_and(|v| v.starts_with(prefix.as_str())),
        }
    }
}

/// The rules for the tokens of one issuer.
#[derive(Debug, Clone)]
pub struct IssuerProfile {
    /// The exact `iss` (empty for the default Cognito profile, which serves any Cognito issuer
    /// configured without a profile and the invoking pool).
    pub issuer: String,
    /// Which profile (or preset).
    pub name: ProfileName,
    /// App clients whose users' tokens are accepted.
    pub clients: Vec<String>,
    /// The claim naming the app client (`client_id`, `azp`, `cid`, `appid`; Cognito ID tokens:
    /// `aud`).
    pub client_claim: String,
    /// Accepted audiences (`aud` must hold one); empty only for `cognito`.
    pub audience: Vec<String>,
    /// How an access token is recognised.
    pub token_type: TokenType,
    /// How a machine token is recognised.
    pub machine: Vec<MachineRule>,
    /// A claim that must have this value (Entra: `tid`, the tenant of the issuer).
    pub tenant: Option<(String, String)>,
    /// Allowed signature algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Sources of `obo_username` (`a|b` syntax of `OBO_CLAIM_MAP`), if the provider has one.
    pub username_claim: Option<String>,
    /// Sources of `obo_groups`, if the provider has groups or roles.
    pub groups_claim: Option<String>,
}

fn reject(reason: ReasonCode, message: impl Into<String>) -> Rejection {
    Rejection::new(reason, message)
}

impl IssuerProfile {
    /// Today's Cognito rules for `token_use`, `clients` and `algorithms`.
    pub fn cognito(
        issuer: &str,
        token_use: TokenUse,
        clients: Vec<String>,
        algorithms: Vec<Algorithm>,
    ) -> Self {
        Self {
            issuer: issuer.to_owned(),
            name: ProfileName::Cognito,
            clients,
            client_claim: match token_use {
                TokenUse::Access => "client_id",
                TokenUse::Id => "aud",
            }
            .to_owned(),
            audience: Vec::new(),
            token_type: TokenType::TokenUse(token_use),
            machine: vec![MachineRule::SubIsClient(String::new())],
            tenant: None,
            algorithms,
            username_claim: Some("username|cognito:username".to_owned()),
            groups_claim: Some("cognito:groups".to_owned()),
        }
    }

    /// The default sources of `obo_username`, `obo_client_id` and `obo_groups` for this profile
    /// (`None`: the claim is left out unless `OBO_CLAIM_MAP` maps it).
    pub fn claim_defaults(&self) -> [(&'static str, Option<String>); 3] {
        let client = if self.name == ProfileName::Cognito {
            "client_id|aud".to_owned()
        } else {
            self.client_claim.clone()
        };
        [
            ("obo_username", self.username_claim.clone()),
            ("obo_client_id", Some(client)),
            ("obo_groups", self.groups_claim.clone()),
        ]
    }

    /// Checks a token whose signature, issuer and times are already verified: algorithm, tenant,
    /// token type, audience, app client, not a machine token, not already delegated, claim
    /// types. Returns the app client.
    pub fn check<'c>(
        &self,
        claims: &'c Map<String, Value>,
        alg: Algorithm,
        typ: Option<&str>,
    ) -> Result<&'c str, Rejection> {
        if !self.algorithms.contains(&alg) {
            return Err(reject(
                ReasonCode::SubjectAlgNotAllowed,
                "the token's algorithm is not allowed for its issuer",
            ));
        }
        if let Some((claim, tenant)) = &self.tenant {
            let same =
                claims.get(claim).and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(tenant));
            if !same {
                return Err(reject(
                    ReasonCode::SubjectWrongTenant,
                    format!("the token's `{claim}` is not the tenant of its issuer"),
                ));
            }
        }
        self.check_type(claims, typ)?;
        if self.name != ProfileName::Cognito {
            self.check_audience(claims.get("aud"))?;
        }
        let client = self.client(claims)?;
        let sub = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => return Err(reject(ReasonCode::SubjectClaimInvalid, "`sub` is missing or not a string")),
        };
        if self.machine.iter().any(|rule| rule.matches(claims, client)) || sub == client {
            return Err(reject(
                ReasonCode::SubjectIsMachine,
                "the token is a machine (client_credentials) token",
            ));
        }
        if !self.clients.iter().any(|c| c == client) {
            return Err(reject(
                ReasonCode::SubjectClientNotAllowed,
                "the token was issued to an app client that is not allowed",
            ));
        }
        if claims.contains_key("obo_sub") || claims.contains_key("act") {
            return Err(reject(
                ReasonCode::SubjectAlreadyDelegated,
                "the token is already an on-behalf-of (delegated) token",
            ));
        }
        self.check_types(claims)?;
        Ok(client)
    }

    fn check_type(&self, claims: &Map<String, Value>, typ: Option<&str>) -> Result<(), Rejection> {
        let wrong = |what: &str| {
            reject(ReasonCode::SubjectWrongTokenUse, format!("the token is not an access token ({what})"))
        };
        match &self.token_type {
            TokenType::TokenUse(expected) => match claims.get("token_use") {
                Some(Value::String(u)) if u == expected.as_str() => Ok(()),
                Some(Value::String(_)) | None => Err(reject(
                    ReasonCode::SubjectWrongTokenUse,
                    format!("the token is not an {} token", expected.as_str()),
                )),
                Some(_) => Err(reject(ReasonCode::SubjectClaimInvalid, "`token_use` is not a string")),
            },
            TokenType::HeaderTyp(allowed) => match typ {
                Some(t) if allowed.iter().any(|a| a.eq_ignore_ascii_case(t)) => Ok(()),
                _ => Err(wrong("header `typ`")),
            },
            TokenType::ClaimEquals(name, value) => match claims.get(name) {
                Some(Value::String(v)) if v == value => Ok(()),
                _ => Err(wrong(&format!("`{name}`"))),
            },
            TokenType::Audience => Ok(()),
        }
    }

    fn check_audience(&self, aud: Option<&Value>) -> Result<(), Rejection> {
        let allowed = |v: &Value| v.as_str().is_some_and(|a| self.audience.iter().any(|x| x == a));
        let ok = match aud {
            Some(Value::Array(list)) => list.iter().any(allowed),
            Some(v) => allowed(v),
            None => {
                return Err(reject(ReasonCode::SubjectWrongAudience, "the token has no audience (`aud`)"));
            }
        };
        if ok {
            Ok(())
        } else {
            Err(reject(ReasonCode::SubjectWrongAudience, "the token is for another audience (`aud`)"))
        }
    }

    fn client<'c>(&self, claims: &'c Map<String, Value>) -> Result<&'c str, Rejection> {
        let name = self.client_claim.as_str();
        match claims.get(name) {
            Some(Value::String(c)) if !c.is_empty() => Ok(c),
            // Cognito ID tokens (and only they) name the client in `aud`, possibly as a list of one.
            Some(Value::Array(list)) if name == "aud" && self.name == ProfileName::Cognito => {
                match list.as_slice() {
                    [Value::String(c)] => Ok(c),
                    _ => Err(reject(ReasonCode::SubjectClaimInvalid, "`aud` must name exactly one client")),
                }
            }
            None | Some(Value::String(_)) => Err(reject(
                ReasonCode::SubjectClientNotAllowed,
                format!("the token names no app client (`{name}`)"),
            )),
            Some(_) => Err(reject(ReasonCode::SubjectClaimInvalid, format!("`{name}` is not a string"))),
        }
    }

    /// Claims the minted token copies must have the type the provider gives them.
    fn check_types(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        const STRINGS: [&str; 7] =
            ["username", "cognito:username", "jti", "origin_jti", "scope", "event_id", "email"];
        for name in STRINGS {
            if claims.get(name).is_some_and(|v| !v.is_string()) {
                return Err(reject(ReasonCode::SubjectClaimInvalid, format!("`{name}` is not a string")));
            }
        }
        fn sources(spec: &Option<String>) -> impl Iterator<Item = &str> {
            spec.as_deref().into_iter().flat_map(|s| s.split('|')).map(str::trim)
        }
        for name in sources(&self.username_claim) {
            if crate::subject::jwt::token_claim(claims, name).is_some_and(|v| !v.is_string()) {
                return Err(reject(ReasonCode::SubjectClaimInvalid, format!("`{name}` is not a string")));
            }
        }
        for name in sources(&self.groups_claim) {
            let ok = crate::subject::jwt::token_claim(claims, name)
                .is_none_or(|g| g.as_array().is_some_and(|g| g.iter().all(Value::is_string)));
            if !ok {
                return Err(reject(
                    ReasonCode::SubjectClaimInvalid,
                    format!("`{name}` is not a list of strings"),
                ));
            }
        }
        Ok(())
    }
}

/// Every trusted issuer's profile, and the default Cognito profile for the others.
#[derive(Debug, Clone)]
pub struct IssuerProfiles {
    default: Arc<IssuerProfile>,
    listed: Vec<Arc<IssuerProfile>>,
}

/// One issuer's entry in `OBO_ISSUER_PROFILES`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    profile: String,
    #[serde(default)]
    clients: Option<Vec<String>>,
    #[serde(default)]
    audience: Option<OneOrMany>,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    client_claim: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    machine: Option<Vec<String>>,
    #[serde(default)]
    username_claim: Option<String>,
    #[serde(default)]
    groups_claim: Option<String>,
    #[serde(default)]
    tenant_claim: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

fn config_error(problem: impl Into<String>) -> ConfigError {
    ConfigError::new(PROFILES_VAR, problem)
}

impl IssuerProfiles {
    /// Only the default Cognito profile.
    pub fn cognito_only(default: IssuerProfile) -> Self {
        Self { default: Arc::new(default), listed: Vec::new() }
    }

    /// Reads `OBO_ISSUER_PROFILES` on top of the default Cognito profile, and checks that every
    /// issuer in `issuers` (`OBO_SUBJECT_ISSUERS`) without a profile is a Cognito user pool.
    /// Returns the profiles and the issuers they add to the trusted list.
    pub fn from_env(
        env: &Env<'_>,
        default: IssuerProfile,
        issuers: &[TrustedIssuer],
    ) -> Result<(Self, Vec<TrustedIssuer>), ConfigError> {
        let mut listed = Vec::new();
        let mut added = Vec::new();
        if let Some(raw) = env.string(PROFILES_VAR) {
            let map: serde_json::Map<String, Value> = serde_json::from_str(&raw)
                .map_err(|e| config_error(format!("is not a JSON object of issuer profiles: {e}")))?;
            for (issuer, entry) in map {
                let trusted = TrustedIssuer::parse(&issuer)
                    .map_err(|e| config_error(format!("issuer {issuer:?}: {e}")))?;
                let raw: RawProfile = serde_json::from_value(entry)
                    .map_err(|e| config_error(format!("issuer {issuer:?}: {e}")))?;
                let profile = build(&issuer, raw, &default)
                    .map_err(|e| config_error(format!("issuer {issuer:?}: {e}")))?;
                listed.push(Arc::new(profile));
                if !issuers.iter().any(|t| t.issuer == issuer) {
                    added.push(trusted);
                }
            }
        }
        for t in issuers {
            if !listed.iter().any(|p| p.issuer == t.issuer) && pool_in_issuer(&t.issuer).is_none() {
                return Err(config_error(format!(
                    "issuer {:?} (OBO_SUBJECT_ISSUERS) is not a Cognito user pool: give it a profile here \
                     (rfc9068, generic, auth0, okta, entra or keycloak) with its audience and clients",
                    t.issuer
                )));
            }
        }
        Ok((Self { default: Arc::new(default), listed }, added))
    }

    /// The profile for a token of issuer `iss` (already checked to be trusted).
    pub fn for_issuer(&self, iss: &str) -> &Arc<IssuerProfile> {
        self.listed.iter().find(|p| p.issuer == iss).unwrap_or(&self.default)
    }

    /// The profiles configured per issuer (not the default).
    pub fn listed(&self) -> &[Arc<IssuerProfile>] {
        &self.listed
    }

    /// The default Cognito profile.
    pub fn default_profile(&self) -> &IssuerProfile {
        &self.default
    }

    /// Whether `issuer` has a profile of its own.
    pub fn has_own(&self, issuer: &str) -> bool {
        self.listed.iter().any(|p| p.issuer == issuer)
    }

    /// Every algorithm some profile allows (what the signature check accepts at all).
    pub fn all_algorithms(&self) -> Vec<Algorithm> {
        let mut all = self.default.algorithms.clone();
        for p in &self.listed {
            for alg in &p.algorithms {
                if !all.contains(alg) {
                    all.push(*alg);
                }
            }
        }
        all
    }
}

/// A profile from its configuration entry: preset defaults, then the fields given.
fn build(issuer: &str, raw: RawProfile, default: &IssuerProfile) -> Result<IssuerProfile, String> {
    let name = ProfileName::parse(&raw.profile).ok_or_else(|| {
        format!(
            "profile {:?} is unknown (cognito, rfc9068, generic, auth0, okta, entra, keycloak)",
            raw.profile
        )
    })?;
    let algorithms = match &raw.algorithms {
        Some(list) if list.is_empty() => return Err("`algorithms` is empty".into()),
        Some(list) => list
            .iter()
            .map(|a| {
                parse_asymmetric_alg(a)
                    .ok_or_else(|| format!("algorithm {a:?} is not allowed (asymmetric only)"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => default.algorithms.clone(),
    };
    let clients = match raw.clients {
        Some(c) if !c.is_empty() && c.iter().all(|c| !c.is_empty()) => c,
        _ => return Err("`clients` is required: the app clients whose users' tokens are accepted".into()),
    };
    if name == ProfileName::Cognito {
        if raw.audience.is_some()
            || raw.client_claim.is_some()
            || raw.token_type.is_some()
            || raw.machine.is_some()
        {
            return Err("profile cognito takes only `clients`, `token_use`, `algorithms`".into());
        }
        let token_use = match raw.token_use.as_deref() {
            None | Some("access") => TokenUse::Access,
            Some("id") => TokenUse::Id,
            Some(other) => return Err(format!("`token_use` {other:?} is not access or id")),
        };
        return Ok(IssuerProfile::cognito(issuer, token_use, clients, algorithms));
    }
    if raw.token_use.is_some() {
        return Err("`token_use` is for profile cognito; use `token_type`".into());
    }
    let audience = raw.audience.map(OneOrMany::into_vec).unwrap_or_default();
    if audience.is_empty() || audience.iter().any(String::is_empty) {
        return Err(
            "`audience` is required: the identifier of the API the gateway is (no audience, no trust)".into(),
        );
    }
    let mut p = preset(name, issuer)?;
    if let Some(claim) = raw.client_claim {
        p.client_claim = claim;
    }
    if let Some(spec) = raw.token_type {
        p.token_type = Some(parse_token_type(&spec)?);
    }
    if let Some(rules) = raw.machine {
        if rules.is_empty() {
            return Err("`machine` is empty: give at least one machine-token rule".into());
        }
        p.machine = Some(rules.iter().map(|r| MachineRule::parse(r)).collect::<Result<_, _>>()?);
    }
    if raw.username_claim.is_some() {
        p.username_claim = raw.username_claim.filter(|s| !s.is_empty());
    }
    if raw.groups_claim.is_some() {
        p.groups_claim = raw.groups_claim.filter(|s| !s.is_empty());
    }
    match (raw.tenant_claim, raw.tenant) {
        (None, None) => {}
        _ if name == ProfileName::Entra => {
            return Err(
                "profile entra takes its tenant from the issuer: leave out `tenant_claim` and `tenant`"
                    .into(),
            );
        }
        (Some(claim), Some(value)) if !claim.is_empty() && !value.is_empty() => {
            p.tenant = Some((claim, value))
        }
        _ => return Err("`tenant_claim` and `tenant` go together".into()),
    }
    if p.client_claim.is_empty() {
        return Err(
            "`client_claim` is required: the claim naming the app client (client_id, azp, cid, appid…)"
                .into(),
        );
    }
    let token_type =
        p.token_type.ok_or("`token_type` is required: typ:at+jwt, claim:NAME=VALUE or audience")?;
    let machine =
        p.machine.ok_or("`machine` is required: how a machine token shows (e.g. [\"sub=client\"])")?;
    Ok(IssuerProfile {
        issuer: issuer.to_owned(),
        name,
        clients,
        client_claim: p.client_claim,
        audience,
        token_type,
        machine,
        tenant: p.tenant,
        algorithms,
        username_claim: p.username_claim,
        groups_claim: p.groups_claim,
    })
}

/// A profile's rules before configuration fills the rest.
struct Preset {
    client_claim: String,
    token_type: Option<TokenType>,
    machine: Option<Vec<MachineRule>>,
    tenant: Option<(String, String)>,
    username_claim: Option<String>,
    groups_claim: Option<String>,
}

fn preset(name: ProfileName, issuer: &str) -> Result<Preset, String> {
    let s = |v: &str| v.to_owned();
    let rules = |list: &[&str]| list.iter().map(|r| MachineRule::parse(r)).collect::<Result<Vec<_>, _>>();
    let empty = Preset {
        client_claim: String::new(),
        token_type: None,
        machine: None,
        tenant: None,
        username_claim: None,
        groups_claim: None,
    };
    Ok(match name {
        ProfileName::Cognito | ProfileName::Generic => empty,
        ProfileName::Rfc9068 => Preset {
            client_claim: s("client_id"),
            token_type: Some(TokenType::HeaderTyp(vec![s("at+jwt"), s("application/at+jwt")])),
            machine: Some(rules(&["sub=client"])?),
            groups_claim: Some(s("groups|roles")),
            ..empty
        },
        ProfileName::Auth0 => {
            if !issuer.ends_with('/') {
                return Err("an Auth0 issuer is `https://<tenant domain>/`, with the trailing slash".into());
            }
            Preset {
                client_claim: s("azp"),
                token_type: Some(TokenType::Audience),
                machine: Some(rules(&["sub=client@clients", "gty=client-credentials"])?),
                ..empty
            }
        }
        ProfileName::Okta => {
            okta_server(issuer)?;
            Preset {
                client_claim: s("cid"),
                token_type: Some(TokenType::Audience),
                machine: Some(rules(&["sub=client", "!uid"])?),
                username_claim: Some(s("sub")),
                groups_claim: Some(s("groups")),
                ..empty
            }
        }
        ProfileName::Entra => Preset {
            client_claim: s("azp"),
            token_type: Some(TokenType::ClaimEquals(s("ver"), s("2.0"))),
            machine: Some(rules(&["idtyp=app", "!scp"])?),
            tenant: Some((s("tid"), entra_tenant(issuer)?.to_owned())),
            username_claim: Some(s("preferred_username")),
            groups_claim: Some(s("groups|roles")),
        },
        ProfileName::Keycloak => {
            if !issuer.contains("/realms/") {
                return Err("a Keycloak issuer is `https://<host>/realms/<realm>`".into());
            }
            Preset {
                client_claim: s("azp"),
                token_type: Some(TokenType::ClaimEquals(s("typ"), s("Bearer"))),
                machine: Some(rules(&["preferred_username^=service-account-", "client_id", "clientId"])?),
                username_claim: Some(s("preferred_username")),
                groups_claim: Some(s("/realm_access/roles")),
                ..empty
            }
        }
    })
}

/// `typ:a,b` (header `typ`), `claim:NAME=VALUE`, or `audience`.
fn parse_token_type(spec: &str) -> Result<TokenType, String> {
    let spec = spec.trim();
    if spec == "audience" {
        return Ok(TokenType::Audience);
    }
    if let Some(list) = spec.strip_prefix("typ:") {
        let typs: Vec<String> =
            list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
        if !typs.is_empty() {
            return Ok(TokenType::HeaderTyp(typs));
        }
    }
    if let Some((name, value)) = spec.strip_prefix("claim:").and_then(|c| c.split_once('='))
        && !name.is_empty()
        && !value.is_empty()
    {
        return Ok(TokenType::ClaimEquals(name.to_owned(), value.to_owned()));
    }
    Err(format!("`token_type` {spec:?} is not typ:VALUE[,VALUE], claim:NAME=VALUE or audience"))
}

/// An Okta issuer must be a custom authorization server (`https://<org>/oauth2/<id>`): the org
/// authorization server's access tokens are for Okta's own APIs, not for third parties.
fn okta_server(issuer: &str) -> Result<(), String> {
    let path = url::Url::parse(issuer).map(|u| u.path().to_owned()).unwrap_or_default();
    let id = path.strip_prefix("/oauth2/").unwrap_or_default();
    if id.is_empty() || id.contains('/') || id == "v1" {
        return Err(
            "an Okta issuer must be a custom authorization server, `https://<org>/oauth2/<server id>` \
                    (the org authorization server's tokens are only for Okta's own APIs)"
                .into(),
        );
    }
    Ok(())
}

/// The tenant id of a single-tenant Entra v2.0 issuer `https://login.microsoftonline.com/<tid>/v2.0`;
/// the multi-tenant forms (`{tenantid}`, `common`, `organizations`, `consumers`) are refused:
/// every tenant shares the signing keys, so only the exact issuer and `tid` keep other tenants out.
fn entra_tenant(issuer: &str) -> Result<&str, String> {
    let multi = ["{tenantid}", "common", "organizations", "consumers"];
    let rest = issuer.strip_prefix("https://").or_else(|| issuer.strip_prefix("http://")).unwrap_or_default();
    let mut parts = rest.split('/');
    let (Some(host), Some(tenant), Some("v2.0"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("an Entra issuer is the v2.0 issuer of one tenant, `https://login.microsoftonline.com/<tenant id>/v2.0`".into());
    };
    if multi.iter().any(|m| tenant.eq_ignore_ascii_case(m)) {
        return Err(format!(
            "the multi-tenant issuer form ({tenant}) is refused: all Entra tenants share signing keys, so trust one \
             tenant's exact issuer"
        ));
    }
    // `http://` reaches here for loopback issuers only (local runs and tests).
    let loopback = issuer.starts_with("http://");
    if !(host.starts_with("login.") || loopback) || !is_guid(tenant) {
        return Err("an Entra issuer is `https://login.microsoftonline.com/<tenant id GUID>/v2.0`".into());
    }
    Ok(tenant)
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}
