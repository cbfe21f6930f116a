//! Per-target policy (`OBO_TARGETS`): which gateway targets get an on-behalf-of token, how, and
//! with which scopes. Parsed strictly (unknown fields refused) and validated at cold start.
//!
//! ```json
//! {"crm":{"mode":"obo","scopes":["cognito-obo/crm"],"metadata":{"target":"crm"}},
//!  "weather":{"mode":"passthrough"}}
//! ```
//!
//! Scopes are the only audience binding a Cognito M2M token has, and Cognito grants *all* of a
//! client's scopes when none are asked: so every token-minting target needs its own, non-empty
//! set of scopes, shared with no other target.
//!
//! `resource_uris` lists the URI prefixes a target serves, so that a resource request (whose URI
//! names no target) can still be governed. A key given twice anywhere in `OBO_TARGETS` is an
//! error, never last-wins.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _, MapAccess, Visitor};

use crate::delivery::{Delivery, RawDelivery};
use crate::trigger::event::ON_BEHALF_OF_TOKEN;

/// What the interceptor does for a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// client_credentials with the user's token in `aws_client_metadata` (the trigger enriches).
    Obo,
    /// RFC 8693 token exchange (experimental).
    TokenExchange,
    /// Leave the request alone (no token is added, the user's token is not forwarded).
    Passthrough,
    /// Refuse the request.
    Deny,
}

impl Mode {
    /// The configuration and log name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Obo => "obo",
            Self::TokenExchange => "token-exchange",
            Self::Passthrough => "passthrough",
            Self::Deny => "deny",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Obo, Self::TokenExchange, Self::Passthrough, Self::Deny]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }

    /// Whether the mode mints a token (and so needs the user's token and a client).
    pub const fn mints(self) -> bool {
        matches!(self, Self::Obo | Self::TokenExchange)
    }
}

/// One target's validated policy.
#[derive(Debug, Clone)]
pub struct TargetPolicy {
    /// The configured target name.
    pub name: String,
    /// What to do.
    pub mode: Mode,
    /// Scopes to ask for (non-empty for `obo`).
    pub scopes: Vec<String>,
    /// Static extra `aws_client_metadata` entries (`obo` only).
    pub metadata: BTreeMap<String, String>,
    /// RFC 8693 `audience` (`token-exchange` only).
    pub audience: Option<String>,
    /// RFC 8693 `resource` (`token-exchange` only).
    pub resource: Option<String>,
    /// Scopes of the actor token; empty means no actor token (`token-exchange` only).
    pub actor_scopes: Vec<String>,
    /// URI prefixes of the resources this target serves (any mode).
    pub resource_uris: Vec<String>,
    /// Where the target receives its token (token-minting modes; default the `Authorization`
    /// header).
    pub deliver: Delivery,
}

impl TargetPolicy {
    /// The scopes as one space-separated `scope` parameter.
    pub fn scope_param(&self) -> String {
        self.scopes.join(" ")
    }
}

/// A JSON object whose keys must be unique (serde_json would keep the last of two silently).
struct UniqueMap<V>(BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(A::Error::custom(format!("the key {key:?} is given twice")));
                    }
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
                Ok(UniqueMap(out))
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    mode: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    metadata: UniqueMap<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    actor_scopes: Vec<String>,
    #[serde(default)]
    resource_uris: Vec<String>,
    #[serde(default)]
    deliver: Option<RawDelivery>,
}

/// The policy for a requested target.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'a> {
    /// The target is listed.
    Listed(&'a Arc<TargetPolicy>),
    /// The target is not listed; the default mode applies (`deny` or `passthrough`).
    Unlisted(Mode),
}

/// All target policies plus the default for unlisted targets.
#[derive(Debug, Clone)]
pub struct Targets {
    by_name: HashMap<String, Arc<TargetPolicy>>,
    /// Every `resource_uris` prefix with its target; no prefix is a prefix of another target's.
    by_uri: Vec<(String, Arc<TargetPolicy>)>,
    default_mode: Mode,
}

impl Targets {
    /// Parses and validates `OBO_TARGETS`. `default_mode` must be `deny` or `passthrough`.
    /// Errors say which target and what is wrong.
    pub fn parse(json: &str, default_mode: Mode) -> Result<Self, String> {
        if default_mode.mints() {
            return Err("the default mode must be deny or passthrough".into());
        }
        let UniqueMap(raw) = serde_json::from_str::<UniqueMap<RawTarget>>(json)
            .map_err(|e| format!("is not a JSON object of target policies: {e}"))?;
        if raw.is_empty() {
            return Err("lists no target".into());
        }
        let mut by_name = HashMap::with_capacity(raw.len());
        let mut scope_owner: HashMap<String, String> = HashMap::new();
        for (name, target) in raw {
            let policy = validate(&name, target).map_err(|e| format!("target {name:?}: {e}"))?;
            for scope in policy.scopes.iter().chain(&policy.actor_scopes) {
                if let Some(other) = scope_owner.insert(scope.clone(), name.clone())
                    && other != name
                {
                    return Err(format!(
                        "targets {other:?} and {name:?} share the scope {scope:?}: give every target its own scopes"
                    ));
                }
            }
            by_name.insert(name, Arc::new(policy));
        }
        let mut by_uri: Vec<(String, Arc<TargetPolicy>)> = Vec::new();
        for policy in by_name.values() {
            for prefix in &policy.resource_uris {
                if let Some((other, owner)) = by_uri.iter().find(|(p, o)| {
                    o.name != policy.name && (uri_starts_with(p, prefix) || uri_starts_with(prefix, p))
                }) {
                    let (a, b) = if owner.name < policy.name { (owner, policy) } else { (policy, owner) };
                    return Err(format!(
                        "the `resource_uris` of targets {:?} and {:?} overlap ({other:?} and {prefix:?}): a URI must belong to one target",
                        a.name, b.name
                    ));
                }
                by_uri.push((prefix.clone(), Arc::clone(policy)));
            }
        }
        Ok(Self { by_name, by_uri, default_mode })
    }

    /// The policy for a resource URI: the target whose `resource_uris` prefix it starts with
    /// (scheme compared ignoring case), or the default mode.
    pub fn resolve_uri(&self, uri: &str) -> Resolved<'_> {
        match self.by_uri.iter().find(|(prefix, _)| uri_starts_with(uri, prefix)) {
            Some((_, policy)) => Resolved::Listed(policy),
            None => Resolved::Unlisted(self.default_mode),
        }
    }

    /// Whether any listed target is not `passthrough` (so a request whose target is unknown
    /// could reach one that must be governed).
    pub fn any_governed(&self) -> bool {
        self.by_name.values().any(|p| p.mode != Mode::Passthrough)
    }

    /// The policy for a requested target name (exact, case-sensitive match).
    pub fn resolve(&self, name: &str) -> Resolved<'_> {
        match self.by_name.get(name) {
            Some(policy) => Resolved::Listed(policy),
            None => Resolved::Unlisted(self.default_mode),
        }
    }

    /// Every listed policy.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TargetPolicy>> {
        self.by_name.values()
    }

    /// Whether any target mints tokens in `mode`.
    pub fn any(&self, mode: Mode) -> bool {
        self.by_name.values().any(|p| p.mode == mode)
    }

    /// Whether any target asks for an actor token.
    pub fn any_actor(&self) -> bool {
        self.by_name.values().any(|p| !p.actor_scopes.is_empty())
    }

    /// The mode for unlisted targets.
    pub fn default_mode(&self) -> Mode {
        self.default_mode
    }
}

/// Whether a string is a plausible gateway target name: 1–100 ASCII letters, digits, `-` or
/// `_`, without the `___` tool separator.
pub(crate) fn is_target_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.contains(crate::delivery::TOOL_SEPARATOR)
}

/// Whether `uri` starts with `prefix`, the scheme (up to the first `:`) compared ignoring ASCII
/// case as URI schemes are, the rest exactly.
fn uri_starts_with(uri: &str, prefix: &str) -> bool {
    let Some(head) = uri.get(..prefix.len()) else { return false };
    let scheme = prefix.find(':').unwrap_or(prefix.len());
    head.get(..scheme).is_some_and(|h| h.eq_ignore_ascii_case(&prefix[..scheme]))
        && head[scheme..] == prefix[scheme..]
}

fn check_resource_uris(prefixes: &[String]) -> Result<(), String> {
    for (i, prefix) in prefixes.iter().enumerate() {
        if crate::interceptor::route::uri_scheme(prefix).is_none() {
            return Err(format!(
                "`resource_uris` holds {prefix:?}, which does not start with a URI scheme (such as `crm://`)"
            ));
        }
        if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`resource_uris` holds {prefix:?}, which contains whitespace"));
        }
        if let Some(other) =
            prefixes[..i].iter().find(|p| uri_starts_with(prefix, p) || uri_starts_with(p, prefix))
        {
            return Err(format!("`resource_uris` lists {other:?} and {prefix:?}, which overlap"));
        }
    }
    Ok(())
}

fn check_scopes(field: &str, scopes: &[String]) -> Result<(), String> {
    for (i, scope) in scopes.iter().enumerate() {
        if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
            return Err(format!("`{field}` holds {scope:?}, which is not a valid scope"));
        }
        if scopes[..i].contains(scope) {
            return Err(format!("`{field}` lists {scope:?} twice"));
        }
    }
    Ok(())
}

fn validate(name: &str, raw: RawTarget) -> Result<TargetPolicy, String> {
    if !is_target_name(name) {
        return Err("is not a valid target name (1-100 letters, digits, '-' or '_', no '___')".into());
    }
    let mode = Mode::parse(&raw.mode).ok_or_else(|| {
        format!("`mode` {:?} is not one of obo, token-exchange, passthrough, deny", raw.mode)
    })?;
    check_scopes("scopes", &raw.scopes)?;
    check_scopes("actor_scopes", &raw.actor_scopes)?;
    check_resource_uris(&raw.resource_uris)?;
    let metadata = raw.metadata.0;
    let exchange_fields = raw.audience.is_some() || raw.resource.is_some() || !raw.actor_scopes.is_empty();
    match mode {
        Mode::Passthrough | Mode::Deny => {
            if !raw.scopes.is_empty() || !metadata.is_empty() || exchange_fields || raw.deliver.is_some() {
                return Err(format!("mode {} takes no settings but `resource_uris`", mode.as_str()));
            }
        }
        Mode::Obo => {
            if raw.scopes.is_empty() {
                return Err("mode obo needs non-empty `scopes`: without them Cognito grants every scope of the client".into());
            }
            if exchange_fields {
                return Err("`audience`, `resource` and `actor_scopes` apply to token-exchange only".into());
            }
            for key in metadata.keys() {
                if key.is_empty() || key == ON_BEHALF_OF_TOKEN {
                    return Err(format!("`metadata` may not use the key {key:?}"));
                }
            }
        }
        Mode::TokenExchange => {
            if raw.scopes.is_empty() && raw.audience.is_none() {
                return Err("mode token-exchange needs `scopes` or an `audience`".into());
            }
            if !metadata.is_empty() {
                return Err("`metadata` applies to obo only".into());
            }
            if raw.audience.as_deref().is_some_and(|a| a.trim().is_empty()) {
                return Err("`audience` is empty".into());
            }
            if let Some(resource) = &raw.resource
                && url::Url::parse(resource).is_err()
            {
                return Err("`resource` is not an absolute URI".into());
            }
        }
    }
    let deliver = raw.deliver.map(RawDelivery::validate).transpose()?.unwrap_or_default();
    Ok(TargetPolicy {
        name: name.to_owned(),
        mode,
        scopes: raw.scopes,
        metadata,
        audience: raw.audience,
        resource: raw.resource,
        actor_scopes: raw.actor_scopes,
        resource_uris: raw.resource_uris,
        deliver,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"crm":{"mode":"obo","scopes":["cognito-obo/crm"],"metadata":{"target":"crm"}},"weather":{"mode":"passthrough"}}"#;

    #[test]
    fn parses_the_documented_example() {
        let t = Targets::parse(EXAMPLE, Mode::Deny).unwrap();
        let Resolved::Listed(crm) = t.resolve("crm") else { panic!("crm not listed") };
        assert_eq!(crm.mode, Mode::Obo);
        assert_eq!(crm.scope_param(), "cognito-obo/crm");
        assert_eq!(crm.metadata["target"], "crm");
        assert!(matches!(t.resolve("weather"), Resolved::Listed(p) if p.mode == Mode::Passthrough));
        assert!(matches!(t.resolve("CRM"), Resolved::Unlisted(Mode::Deny)));
        assert!(t.any(Mode::Obo) && !t.any(Mode::TokenExchange));
    }

    #[test]
    fn refuses_unsafe_or_unclear_policies() {
        let cases = [
            (r#"{"a":{"mode":"obo"}}"#, "non-empty `scopes`"),
            (r#"{"a":{"mode":"obo","scopes":[]}}"#, "non-empty `scopes`"),
            (r#"{"a":{"mode":"obo","scopes":["s"]},"b":{"mode":"obo","scopes":["s"]}}"#, "share the scope"),
            (r#"{"a":{"mode":"obo","scopes":["s t"]}}"#, "not a valid scope"),
            (r#"{"a":{"mode":"obo","scopes":["s","s"]}}"#, "twice"),
            (r#"{"a":{"mode":"obo","scopes":["s"],"metadata":{"onBehalfOfToken":"x"}}}"#, "may not use"),
            (r#"{"a":{"mode":"obo","scopes":["s"],"audience":"x"}}"#, "token-exchange only"),
            (r#"{"a":{"mode":"passthrough","scopes":["s"]}}"#, "takes no settings but"),
            (r#"{"a":{"mode":"passthrough","deliver":{"argument":"_obo_token"}}}"#, "takes no settings but"),
            (r#"{"a":{"mode":"obo","scopes":["s"],"deliver":{"argument":"token"}}}"#, "only argument name"),
            (r#"{"a":{"mode":"deny"},"a":{"mode":"passthrough"}}"#, "the key \"a\" is given twice"),
            (r#"{"a":{"mode":"obo","mode":"passthrough","scopes":["s"]}}"#, "duplicate field `mode`"),
            (
                r#"{"a":{"mode":"obo","scopes":["s"],"metadata":{"k":"1","k":"2"}}}"#,
                "the key \"k\" is given twice",
            ),
            (r#"{"a":{"mode":"deny","resource_uris":["accounts/"]}}"#, "URI scheme"),
            (r#"{"a":{"mode":"deny","resource_uris":["crm://a","crm://a/b"]}}"#, "overlap"),
            (
                r#"{"a":{"mode":"deny","resource_uris":["crm://"]},"b":{"mode":"passthrough","resource_uris":["CRM://x"]}}"#,
                "overlap",
            ),
            (r#"{"a":{"mode":"allow"}}"#, "is not one of"),
            (r#"{"a":{"mode":"obo","scopes":["s"],"scope":"typo"}}"#, "unknown field"),
            (r#"{"a___b":{"mode":"deny"}}"#, "not a valid target name"),
            (r#"{"a":{"mode":"token-exchange"}}"#, "`scopes` or an `audience`"),
            (r#"{"a":{"mode":"token-exchange","scopes":["s"],"resource":"not a uri"}}"#, "absolute URI"),
            (r#"{}"#, "lists no target"),
            (r#"[]"#, "not a JSON object"),
        ];
        for (json, expected) in cases {
            let err = Targets::parse(json, Mode::Deny).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
        assert!(Targets::parse(EXAMPLE, Mode::Obo).is_err());
    }

    #[test]
    fn resource_uris_resolve_by_prefix() {
        let t = Targets::parse(
            r#"{"crm":{"mode":"obo","scopes":["s"],"resource_uris":["crm://"]},"admin":{"mode":"deny","resource_uris":["admin:"]}}"#,
            Mode::Passthrough,
        )
        .unwrap();
        assert!(matches!(t.resolve_uri("crm://accounts/1"), Resolved::Listed(p) if p.name == "crm"));
        assert!(matches!(t.resolve_uri("CRM://accounts/1"), Resolved::Listed(p) if p.name == "crm"));
        assert!(matches!(t.resolve_uri("Admin:x"), Resolved::Listed(p) if p.mode == Mode::Deny));
        assert!(matches!(t.resolve_uri("crm:/x"), Resolved::Unlisted(Mode::Passthrough)));
        assert!(matches!(t.resolve_uri("weather://x"), Resolved::Unlisted(Mode::Passthrough)));
        assert!(t.any_governed());
    }
}
