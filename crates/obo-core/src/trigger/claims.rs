//! Which claims go into the minted token, and from where: a small mapping language.
//!
//! `OBO_CLAIM_MAP` / `OBO_USER_CLAIM_MAP` hold comma-separated entries:
//! - `target=source` adds claim `target` from the subject token's claim `source`;
//! - `target=@attr` takes it from the user's attributes instead (Cognito user record);
//! - `target=a|b|@c` takes the first of several sources that is present;
//! - a source starting with `/` is a JSON Pointer into the token (`/realm_access/roles`: Keycloak's
//!   nested realm roles); any other source is a top-level claim name, dots and colons included;
//! - `-target` drops a default claim (never `obo_sub`, which the interceptor relies on).
//!
//! JSON types are kept. A missing source leaves the claim out. Reserved claims (those Cognito
//! never lets a trigger add, change or suppress) are refused when the map is parsed.

use serde_json::{Map, Value};

use crate::subject::jwt::token_claim;

/// The on-behalf-of claims added by default, as `(target, sources)`.
pub(crate) const DEFAULT_OBO_CLAIMS: &[(&str, &str)] = &[
    ("obo_sub", "sub"),
    ("obo_username", "username|cognito:username"),
    ("obo_client_id", "client_id|aud"),
    ("obo_iss", "iss"),
    ("obo_exp", "exp"),
    ("obo_jti", "origin_jti|jti"),
    ("obo_groups", "cognito:groups"),
];

/// The claim the interceptor checks in every minted token.
pub(crate) const OBO_SUB: &str = "obo_sub";

/// The user's issuer, which the interceptor checks with `obo_sub` (a `sub` is unique only
/// within its issuer).
pub(crate) const OBO_ISS: &str = "obo_iss";

/// The prefix of the on-behalf-of claims: never in a user's own token (`OBO_USER_CLAIM_MAP`).
pub(crate) const OBO_PREFIX: &str = "obo_";

/// Claims no pre-token trigger may add, change or suppress (besides every `cognito:` claim).
pub(crate) const RESERVED_CLAIMS: &[&str] = &[
    "sub",
    "username",
    "client_id",
    "event_id",
    "version",
    "device_key",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "origin_jti",
    "token_use",
    "auth_time",
    "azp",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "identities",
    "aud",
    "scope",
];

/// Whether Cognito refuses `name` as a claim to add or override in an access token.
pub fn is_reserved(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name) || name.starts_with("cognito:")
}

/// Where a claim's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A claim of the subject token.
    Token(String),
    /// An attribute of the user (the event's `userAttributes`, or a Cognito user lookup).
    User(String),
}

/// One output claim and its sources, tried in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// The claim name in the minted token.
    pub target: String,
    /// Sources, first present wins.
    pub sources: Vec<Source>,
}

/// An ordered set of claim rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimMap {
    rules: Vec<ClaimRule>,
}

impl ClaimMap {
    /// The default on-behalf-of claims extended (or trimmed) by `spec`.
    pub fn obo(spec: &str) -> Result<Self, String> {
        Self::obo_with(&[], spec)
    }

    /// [`Self::obo`] with some defaults' sources replaced first (an issuer profile's username,
    /// client and groups claims); `None` leaves that default claim out.
    pub fn obo_with(defaults: &[(&str, Option<String>)], spec: &str) -> Result<Self, String> {
        let mut map = Self::default();
        for (target, sources) in DEFAULT_OBO_CLAIMS {
            match defaults.iter().find(|(t, _)| t == target) {
                Some((_, Some(sources))) => map.set(target, parse_sources(sources)?),
                Some((_, None)) => {}
                None => map.set(target, parse_sources(sources)?),
            }
        }
        map.extend(spec, true)?;
        Ok(map)
    }

    /// Only the rules in `spec`, all read from user attributes (for user sign-in tokens).
    pub fn user(spec: &str) -> Result<Self, String> {
        let mut map = Self::default();
        map.extend(spec, false)?;
        for rule in &mut map.rules {
            for source in &mut rule.sources {
                if let Source::Token(name) = source {
                    *source = Source::User(std::mem::take(name));
                }
            }
        }
        Ok(map)
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[ClaimRule] {
        &self.rules
    }

    /// Whether any rule reads the user's attributes.
    pub fn needs_user_attributes(&self) -> bool {
        self.rules.iter().flat_map(|r| &r.sources).any(|s| matches!(s, Source::User(_)))
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Builds the claims: each rule's first present source, JSON type kept.
    pub fn apply(&self, token: &Map<String, Value>, user: Option<&Map<String, Value>>) -> Map<String, Value> {
        let mut out = Map::new();
        for rule in &self.rules {
            let value = rule.sources.iter().find_map(|s| match s {
                Source::Token(name) => token_claim(token, name),
                Source::User(name) => user.and_then(|u| u.get(name)),
            });
            if let Some(value) = value {
                out.insert(rule.target.clone(), value.clone());
            }
        }
        out
    }

    fn set(&mut self, target: &str, sources: Vec<Source>) {
        match self.rules.iter_mut().find(|r| r.target == target) {
            Some(rule) => rule.sources = sources,
            None => self.rules.push(ClaimRule { target: target.to_owned(), sources }),
        }
    }

    fn extend(&mut self, spec: &str, obo: bool) -> Result<(), String> {
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(target) = entry.strip_prefix('-') {
                let target = target.trim();
                if target == OBO_SUB || target == OBO_ISS {
                    return Err(format!("`{target}` cannot be dropped: the interceptor checks it"));
                }
                let before = self.rules.len();
                self.rules.retain(|r| r.target != target);
                // A default claim may be absent already: an issuer profile without that claim.
                let default = obo && DEFAULT_OBO_CLAIMS.iter().any(|(t, _)| *t == target);
                if self.rules.len() == before && !default {
                    return Err(format!("`-{target}` drops a claim that is not mapped"));
                }
                continue;
            }
            let (target, sources) = entry
                .split_once('=')
                .ok_or_else(|| format!("entry {entry:?} is not `target=source` or `-target`"))?;
            let target = target.trim();
            check_target(target)?;
            if !obo && target.starts_with(OBO_PREFIX) {
                return Err(format!(
                    "claim `{target}` is reserved for on-behalf-of tokens: in a user's own token it would \
                     lock the user out (subject_already_delegated) and make targets take it for a delegation"
                ));
            }
            if obo && (target == OBO_SUB || target == OBO_ISS) {
                return Err(format!("`{target}` always comes from the subject's own claim"));
            }
            self.set(target, parse_sources(sources)?);
        }
        Ok(())
    }
}

fn check_target(target: &str) -> Result<(), String> {
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
        return Err(format!("claim name {target:?} is empty or has spaces or quotes"));
    }
    if is_reserved(target) {
        return Err(format!("claim `{target}` is reserved: Cognito never lets a trigger set it"));
    }
    Ok(())
}

fn parse_sources(spec: &str) -> Result<Vec<Source>, String> {
    let sources: Vec<Source> = spec
        .split('|')
        .map(str::trim)
        .map(|s| match s.strip_prefix('@') {
            Some(attr) => Source::User(attr.trim().to_owned()),
            None => Source::Token(s.to_owned()),
        })
        .collect();
    if sources.iter().any(|s| matches!(s, Source::Token(n) | Source::User(n) if n.is_empty())) {
        return Err(format!("source {spec:?} has an empty name"));
    }
    Ok(sources)
}

/// The serialized size of `claims`, without allocating the JSON.
pub(crate) fn json_size(claims: &Map<String, Value>) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, claims);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_extend_and_drop() {
        let map = ClaimMap::obo("org_id=org_id|@custom:org_id, -obo_groups, tenant=custom:tenant").unwrap();
        let targets: Vec<_> = map.rules().iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            targets,
            ["obo_sub", "obo_username", "obo_client_id", "obo_iss", "obo_exp", "obo_jti", "org_id", "tenant"]
        );
        assert!(map.needs_user_attributes());
        assert!(!ClaimMap::obo("").unwrap().needs_user_attributes());
    }

    #[test]
    fn refuses_reserved_and_malformed_entries() {
        for bad in [
            "sub=sub",
            "cognito:groups=x",
            "scope=x",
            "aud=x",
            "exp=x",
            "-obo_sub",
            "obo_sub=username",
            "x",
            "=y",
            "a b=c",
            "-nope",
            "x=",
        ] {
            assert!(ClaimMap::obo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn applies_first_present_source_keeping_types() {
        let map = ClaimMap::obo("org_id=org_id|@custom:org_id").unwrap();
        let token = json!({"sub": "u1", "username": "alice", "client_id": "c", "iss": "i", "exp": 10,
            "jti": "j", "origin_jti": "o", "cognito:groups": ["a", "b"]});
        let user = json!({"custom:org_id": "acme"});
        let out = map.apply(token.as_object().unwrap(), user.as_object());
        assert_eq!(
            Value::Object(out),
            json!({"obo_sub": "u1", "obo_username": "alice", "obo_client_id": "c", "obo_iss": "i", "obo_exp": 10,
                "obo_jti": "o", "obo_groups": ["a", "b"], "org_id": "acme"})
        );
    }

    #[test]
    fn user_maps_refuse_delegation_and_reserved_claims() {
        for bad in
            ["obo_sub=custom:x", "obo_org=custom:org_id", "obo_=x", "sub=x", "cognito:groups=x", "scope=x"]
        {
            assert!(ClaimMap::user(bad).is_err(), "{bad}");
        }
        // The template's defaults: org_id in both maps.
        assert!(ClaimMap::user("org_id=custom:org_id").is_ok());
        assert!(ClaimMap::obo("org_id=org_id").is_ok());
    }

    #[test]
    fn user_maps_read_attributes() {
        let map = ClaimMap::user("org_id=custom:org_id").unwrap();
        assert_eq!(map.rules()[0].sources, [Source::User("custom:org_id".into())]);
        let attrs = json!({"custom:org_id": "acme"});
        assert_eq!(map.apply(&Map::new(), attrs.as_object())["org_id"], "acme");
        assert!(ClaimMap::user("").unwrap().is_empty());
    }

    #[test]
    fn json_size_matches_serialization() {
        let m = json!({"a": [1, "x"], "b": {"c": null}});
        assert_eq!(json_size(m.as_object().unwrap()), serde_json::to_vec(&m).unwrap().len());
    }
}
