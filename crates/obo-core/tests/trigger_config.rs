//! Configuration errors name the variable and the problem; defaults are safe.

use std::collections::HashMap;

use obo_core::subject::verify::{IssuerPolicy, TokenUse};
use obo_core::trigger::{TriggerConfig, UserLookupSetting};

fn config(pairs: &[(&str, &str)]) -> Result<TriggerConfig, obo_core::env::ConfigError> {
    let env: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    TriggerConfig::from_env(&env)
}

#[test]
fn defaults_are_safe() {
    let c = config(&[]).unwrap();
    assert!(!c.obo_enabled(), "nobody may act on behalf of users unless listed");
    assert!(c.require_subject);
    assert_eq!(c.verifier.token_use, TokenUse::Access);
    assert_eq!(c.verifier.algorithms, [jsonwebtoken::Algorithm::RS256]);
    assert_eq!(c.verifier.leeway_secs, 30);
    assert!(matches!(c.verifier.issuers, IssuerPolicy::EventPool));
    assert_eq!(c.max_added_claims_bytes, 2048);
    assert_eq!(c.user_lookup, UserLookupSetting::None);
    assert!(!c.scope_groups.is_configured(), "unset: exactly one scope per on-behalf-of token");
}

#[test]
fn org_id_in_both_maps_and_targets_as_scope_groups_are_accepted() {
    // The template's defaults: org_id in both maps, OBO_SCOPE_GROUPS = OBO_TARGETS.
    let c = config(&[
        ("OBO_CLAIM_MAP", "org_id=org_id"),
        ("OBO_USER_CLAIM_MAP", "org_id=custom:org_id"),
        ("OBO_SCOPE_GROUPS", r#"{"crm":{"mode":"obo","scopes":["cognito-obo/crm"]}}"#),
    ])
    .unwrap();
    assert_eq!(c.scope_groups.groups(), [vec!["cognito-obo/crm".to_owned()]]);
}

/// `(variables set, the variable named in the error, words the problem contains)`.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn invalid_values_name_the_variable() {
    let base = [("OBO_CALLER_CLIENT_IDS", "m2m"), ("OBO_SUBJECT_CLIENT_IDS", "users")];
    let cases: &[Case<'_>] = &[
        (&[("OBO_CALLER_CLIENT_IDS", "m2m")], "OBO_SUBJECT_CLIENT_IDS", "required"),
        (
            &[("OBO_CALLER_CLIENT_IDS", "m2m,x"), ("OBO_SUBJECT_CLIENT_IDS", "x")],
            "OBO_SUBJECT_CLIENT_IDS",
            "shares",
        ),
        (&[("OBO_SUBJECT_ALGORITHMS", "HS256")], "OBO_SUBJECT_ALGORITHMS", "asymmetric"),
        (&[("OBO_SUBJECT_ALGORITHMS", "none")], "OBO_SUBJECT_ALGORITHMS", "asymmetric"),
        (&[("OBO_LEEWAY_SECONDS", "301")], "OBO_LEEWAY_SECONDS", "0 to 300"),
        (&[("OBO_LEEWAY_SECONDS", "-1")], "OBO_LEEWAY_SECONDS", "0 to 300"),
        (&[("OBO_SUBJECT_ISSUERS", "http://idp.example.com/pool")], "OBO_SUBJECT_ISSUERS", "https"),
        (&[("OBO_SUBJECT_TOKEN_USE", "refresh")], "OBO_SUBJECT_TOKEN_USE", "access, id"),
        (&[("OBO_CLAIM_MAP", "sub=sub")], "OBO_CLAIM_MAP", "reserved"),
        (&[("OBO_CLAIM_MAP", "cognito:groups=x")], "OBO_CLAIM_MAP", "reserved"),
        (&[("OBO_CLAIM_MAP", "org=@custom:org_id")], "OBO_CLAIM_MAP", "OBO_USER_LOOKUP"),
        (&[("OBO_USER_CLAIM_MAP", "scope=x")], "OBO_USER_CLAIM_MAP", "reserved"),
        (&[("OBO_USER_CLAIM_MAP", "sub=custom:x")], "OBO_USER_CLAIM_MAP", "reserved"),
        (&[("OBO_USER_CLAIM_MAP", "obo_sub=custom:x")], "OBO_USER_CLAIM_MAP", "on-behalf-of"),
        (&[("OBO_USER_CLAIM_MAP", "obo_org=custom:org_id")], "OBO_USER_CLAIM_MAP", "on-behalf-of"),
        (&[("OBO_SCOPE_GROUPS", r#"{"crm":["s"],"hr":["s"]}"#)], "OBO_SCOPE_GROUPS", "two groups"),
        (&[("OBO_SCOPE_GROUPS", r#"{"crm":[]}"#)], "OBO_SCOPE_GROUPS", "no scope"),
        (&[("OBO_SCOPE_GROUPS", "crm/obo")], "OBO_SCOPE_GROUPS", "JSON object"),
        (&[("OBO_USER_LOOKUP", "ldap")], "OBO_USER_LOOKUP", "none, admin-get-user, get-user"),
        (&[("OBO_REQUIRE_SUBJECT", "maybe")], "OBO_REQUIRE_SUBJECT", "true or false"),
        (&[("OBO_JWKS_TIMEOUT_MS", "10000")], "OBO_JWKS_TIMEOUT_MS", "100 to 4000"),
        (&[("OBO_MAX_ADDED_CLAIMS_BYTES", "100000")], "OBO_MAX_ADDED_CLAIMS_BYTES", "256 to 3072"),
        (&[("OBO_MAX_SUBJECT_AGE_SECONDS", "5")], "OBO_MAX_SUBJECT_AGE_SECONDS", "60"),
    ];
    for (pairs, variable, words) in cases {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.retain(|(k, _)| !pairs.iter().any(|(p, _)| p == k));
        all.extend_from_slice(pairs);
        if *variable == "OBO_SUBJECT_CLIENT_IDS" && words == &"required" {
            all.retain(|(k, _)| *k != "OBO_SUBJECT_CLIENT_IDS");
        }
        let err = config(&all).expect_err(variable);
        assert_eq!(err.variable, *variable, "{pairs:?}");
        assert!(err.problem.contains(words), "{pairs:?}: {}", err.problem);
        assert!(err.to_string().starts_with("invalid configuration: "), "{err}");
    }
}

#[test]
fn a_user_lookup_needs_the_sdk_build_and_cognito_issuers() {
    let result = config(&[
        ("OBO_CALLER_CLIENT_IDS", "m2m"),
        ("OBO_SUBJECT_CLIENT_IDS", "users"),
        ("OBO_SUBJECT_ISSUERS", "https://login.example.com/oauth2"),
        // A non-Cognito issuer needs a profile; the lookup still needs a Cognito one.
        (
            "OBO_ISSUER_PROFILES",
            r#"{"https://login.example.com/oauth2": {"profile": "rfc9068", "audience": "api", "clients": ["users"]}}"#,
        ),
        ("OBO_USER_LOOKUP", "admin-get-user"),
    ]);
    let err = result.unwrap_err();
    assert_eq!(err.variable, "OBO_USER_LOOKUP");
    if cfg!(feature = "aws") {
        assert!(err.problem.contains("Cognito issuers"), "{}", err.problem);
    } else {
        assert!(err.problem.contains("pre-token-lookup"), "{}", err.problem);
    }
}
