//! Scope binding in the trigger (`OBO_SCOPE_GROUPS`): an on-behalf-of token is for one target.
//!
//! Scope is the only audience a Cognito machine token has, and Cognito grants *all* of a
//! client's scopes when none are asked for. So the trigger refuses (`scope_not_allowed`) a
//! request whose scopes are not all inside one group: otherwise whoever holds the on-behalf-of
//! client's secret and one user token could mint a single token that every target accepts.
//!
//! `OBO_SCOPE_GROUPS` is a JSON object in either of two forms:
//! - `{"crm":["crm/read","crm/write"],"hr":["hr/obo"]}`: one group per target;
//! - the interceptor's `OBO_TARGETS` itself: each token-minting target's `scopes` is one group,
//!   so one value configures both Lambdas and they cannot drift.
//!
//! Unset, the rule is "exactly one scope". Empty, absent or `null` scopes are always refused.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::interceptor::targets::{Mode, Targets};
use crate::reason::{ReasonCode, Rejection};

/// The configured scope groups; none means every request must ask for exactly one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeGroups {
    groups: Vec<Vec<String>>,
}

impl ScopeGroups {
    /// Parses `OBO_SCOPE_GROUPS`; an empty value means no groups. Groups must be non-empty,
    /// scopes valid, and no scope may belong to two groups.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Ok(Self::default());
        }
        let object: serde_json::Map<String, Value> =
            serde_json::from_str(raw).map_err(|e| format!("is not a JSON object: {e}"))?;
        let groups: Vec<Vec<String>> = if object.values().all(Value::is_array) {
            let named: BTreeMap<String, Vec<String>> = serde_json::from_value(Value::Object(object))
                .map_err(|e| format!("is not an object of scope lists: {e}"))?;
            for (name, scopes) in &named {
                if scopes.is_empty() {
                    return Err(format!("group {name:?} has no scope"));
                }
            }
            named.into_values().collect()
        } else {
            // The interceptor's own validation: the same value is accepted by both Lambdas.
            let targets = Targets::parse(raw, Mode::Deny).map_err(|e| format!("read as OBO_TARGETS: {e}"))?;
            let mut minting: Vec<_> =
                targets.iter().filter(|t| t.mode.mints() && !t.scopes.is_empty()).collect();
            minting.sort_by(|a, b| a.name.cmp(&b.name));
            minting.into_iter().map(|t| t.scopes.clone()).collect()
        };
        if groups.is_empty() {
            return Err("names no scope group".into());
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, group) in groups.iter().enumerate() {
            for scope in group {
                if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
                    return Err(format!("{scope:?} is not a valid scope"));
                }
                if seen.insert(scope, i).is_some_and(|other| other != i) {
                    return Err(format!("the scope {scope:?} is in two groups: give every target its own"));
                }
            }
        }
        Ok(Self { groups })
    }

    /// Whether groups are configured (otherwise: exactly one scope).
    pub fn is_configured(&self) -> bool {
        !self.groups.is_empty()
    }

    /// The groups, in configuration order.
    pub fn groups(&self) -> &[Vec<String>] {
        &self.groups
    }

    /// Checks a token request's scopes (`request.scopes` of the event). The message never
    /// quotes a scope: they are caller-controlled.
    pub fn check(&self, requested: Option<&[String]>) -> Result<(), Rejection> {
        let refuse = |message: &str| Err(Rejection::new(ReasonCode::ScopeNotAllowed, message));
        let scopes = match requested {
            Some(scopes) if !scopes.is_empty() => scopes,
            _ => {
                return refuse(
                    "the token request names no scope (an on-behalf-of token is for one target's scope)",
                );
            }
        };
        let first = &scopes[0];
        if !self.is_configured() {
            if scopes.iter().any(|s| s != first) {
                return refuse(
                    "an on-behalf-of token is for one target: ask for exactly one scope, or configure OBO_SCOPE_GROUPS",
                );
            }
            return Ok(());
        }
        let Some(group) = self.groups.iter().find(|g| g.contains(first)) else {
            return refuse("a scope asked for is in no group of OBO_SCOPE_GROUPS");
        };
        if scopes.iter().any(|s| !group.contains(s)) {
            return refuse("the scopes asked for are not all in one group of OBO_SCOPE_GROUPS");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn code(groups: &ScopeGroups, list: Option<&[&str]>) -> Option<ReasonCode> {
        let owned = list.map(scopes);
        groups.check(owned.as_deref()).err().map(|r| r.reason)
    }

    #[test]
    fn without_groups_exactly_one_scope_passes() {
        let none = ScopeGroups::parse("").unwrap();
        assert!(!none.is_configured());
        assert_eq!(code(&none, Some(&["crm/obo"])), None);
        assert_eq!(code(&none, Some(&["crm/obo", "crm/obo"])), None, "a repeat is still one scope");
        for bad in [None, Some(&[][..]), Some(&["crm/obo", "hr/obo"][..])] {
            assert_eq!(code(&none, bad), Some(ReasonCode::ScopeNotAllowed), "{bad:?}");
        }
    }

    #[test]
    fn groups_bind_a_request_to_one_target() {
        let groups = ScopeGroups::parse(r#"{"crm":["crm/read","crm/write"],"hr":["hr/obo"]}"#).unwrap();
        assert_eq!(code(&groups, Some(&["crm/read", "crm/write"])), None);
        assert_eq!(code(&groups, Some(&["crm/write"])), None);
        assert_eq!(code(&groups, Some(&["hr/obo"])), None);
        for bad in
            [&["crm/read", "hr/obo"][..], &["hr/obo", "crm/read"], &["crm/admin"], &["crm/read", "crm/admin"]]
        {
            assert_eq!(code(&groups, Some(bad)), Some(ReasonCode::ScopeNotAllowed), "{bad:?}");
        }
        assert_eq!(code(&groups, None), Some(ReasonCode::ScopeNotAllowed));
    }

    #[test]
    fn the_interceptors_targets_are_accepted_as_groups() {
        let targets = r#"{"crm":{"mode":"obo","scopes":["crm/read","crm/write"]},
            "hr":{"mode":"token-exchange","scopes":["hr/obo"]},
            "wiki":{"mode":"token-exchange","audience":"wiki"},
            "weather":{"mode":"passthrough"}}"#;
        let groups = ScopeGroups::parse(targets).unwrap();
        assert_eq!(groups.groups(), [scopes(&["crm/read", "crm/write"]), scopes(&["hr/obo"])]);
    }

    #[test]
    fn refuses_unclear_groups() {
        for (raw, expected) in [
            ("[]", "not a JSON object"),
            ("{}", "no scope group"),
            (r#"{"crm":[]}"#, "has no scope"),
            (r#"{"crm":["a b"]}"#, "not a valid scope"),
            (r#"{"crm":["s"],"hr":["s"]}"#, "in two groups"),
            (r#"{"crm":[1]}"#, "scope lists"),
            (r#"{"crm":{"mode":"obo","scopes":["s"]},"hr":{"mode":"obo","scopes":["s"]}}"#, "OBO_TARGETS"),
            (r#"{"weather":{"mode":"passthrough"}}"#, "no scope group"),
        ] {
            let err = ScopeGroups::parse(raw).unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }
}
