//! The trigger through its handler: every rule, an adversarial table of bad subject tokens and
//! events, and the exact response shapes Cognito expects. Keys come from a real loopback IdP.

mod common;

use common::*;
use obo_core::ReasonCode;
use obo_testkit::RsaSigner;
use obo_testkit::keys::{b64url, hs256};
use serde_json::{Value, json};

fn tampered_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&base64_decode(parts[1])).expect("payload of a token made in this test");
    claims["sub"] = json!("someone-else");
    format!("{}.{}.{}", parts[0], b64url(claims.to_string()), parts[2])
}

fn tampered_signature(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig: Vec<u8> = sig.bytes().collect();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    format!("{head}.{}", String::from_utf8(sig).unwrap())
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// An allowed caller's event with `token` and the given `request.scopes` (`None`: no field).
fn with_scopes(scopes: Option<Value>, token: &str) -> Value {
    let mut event = m2m_event(OBO_CLIENT, Some(token));
    match scopes {
        Some(scopes) => event["request"]["scopes"] = scopes,
        None => {
            event["request"].as_object_mut().unwrap().remove("scopes");
        }
    }
    event
}

/// Asserts a rejection with `reason` and that nothing at all was emitted.
async fn assert_rejected(trigger: &obo_core::trigger::Trigger, event: Value, reason: ReasonCode, case: &str) {
    match trigger.handle(event).await {
        Ok(out) => panic!("{case}: expected {reason}, got a response {:?}", out.response),
        Err(rejection) => {
            assert_eq!(rejection.reason, reason, "{case}: {}", rejection.message);
            assert!(rejection.to_string().starts_with(reason.as_str()), "{case}");
        }
    }
}

#[tokio::test]
async fn adversarial_subject_tokens_and_events_are_rejected() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger().await;
    let good = idp.alice_access_claims();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let impostor = RsaSigner::generate("access-1"); // reuses a known kid
    let stranger = RsaSigner::generate("unknown-kid");
    let other_pool = idp.issuer.replace(POOL, "us-east-1_OtherPool");
    let hs_header = json!({"alg": "HS256", "kid": "access-1"});
    let big = format!("{}.{}.{}", "a".repeat(10_000), "b".repeat(10_000), "c");

    let cases: Vec<(&str, Value, ReasonCode)> = vec![
        (
            "alg none",
            {
                let t =
                    format!("{}.{}.", b64url(r#"{"alg":"none","kid":"access-1"}"#), b64url(good.to_string()));
                m2m_event(OBO_CLIENT, Some(&t))
            },
            ReasonCode::SubjectAlgNotAllowed,
        ),
        (
            "HS256 signed with the RSA public key",
            m2m_event(OBO_CLIENT, Some(&hs256(&hs_header, &good, &idp.access_key.public_key_der()))),
            ReasonCode::SubjectAlgNotAllowed,
        ),
        (
            "RS384 header with an RS256-only allow-list",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.access_key.sign_with_header(&json!({"alg":"RS384","kid":"access-1"}), &good)),
            ),
            ReasonCode::SubjectAlgNotAllowed,
        ),
        (
            "valid signature from an unknown key reusing a known kid",
            m2m_event(OBO_CLIENT, Some(&impostor.sign(&good))),
            ReasonCode::SubjectBadSignature,
        ),
        (
            "missing kid",
            m2m_event(OBO_CLIENT, Some(&idp.access_key.sign_with_header(&json!({"alg":"RS256"}), &good))),
            ReasonCode::SubjectUnknownKey,
        ),
        ("unknown kid", m2m_event(OBO_CLIENT, Some(&stranger.sign(&good))), ReasonCode::SubjectUnknownKey),
        (
            "tampered payload",
            m2m_event(OBO_CLIENT, Some(&tampered_payload(&idp.sign_access(&good)))),
            ReasonCode::SubjectBadSignature,
        ),
        (
            "tampered signature",
            m2m_event(OBO_CLIENT, Some(&tampered_signature(&idp.sign_access(&good)))),
            ReasonCode::SubjectBadSignature,
        ),
        (
            "expired",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["exp"] = json!(NOW - 1))))),
            ReasonCode::SubjectExpired,
        ),
        (
            "expires exactly now",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["exp"] = json!(NOW))))),
            ReasonCode::SubjectExpired,
        ),
        (
            "nbf in the future",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["nbf"] = json!(NOW + 120))))),
            ReasonCode::SubjectNotYetValid,
        ),
        (
            "iat in the future",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["iat"] = json!(NOW + 120))))),
            ReasonCode::SubjectNotYetValid,
        ),
        (
            "no exp",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.sign_access(&with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }))),
            ),
            ReasonCode::SubjectClaimInvalid,
        ),
        (
            "exp as a string",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.sign_access(&with(&|c| c["exp"] = json!((NOW + 600).to_string())))),
            ),
            ReasonCode::SubjectClaimInvalid,
        ),
        (
            "wrong iss",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.sign_access(&with(&|c| c["iss"] = json!("https://evil.example.com/pool")))),
            ),
            ReasonCode::SubjectIssuerNotAllowed,
        ),
        (
            "iss with a trailing slash",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.sign_access(&with(&|c| c["iss"] = json!(format!("{}/", idp.issuer))))),
            ),
            ReasonCode::SubjectIssuerNotAllowed,
        ),
        (
            "no iss",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.sign_access(&with(&|c| {
                    c.as_object_mut().unwrap().remove("iss");
                }))),
            ),
            ReasonCode::SubjectIssuerNotAllowed,
        ),
        (
            "another pool",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["iss"] = json!(other_pool.clone()))))),
            ReasonCode::SubjectIssuerNotAllowed,
        ),
        (
            "ID token where an access token is expected",
            m2m_event(OBO_CLIENT, Some(&idp.id_key.sign(&idp.alice_id_claims()))),
            ReasonCode::SubjectWrongTokenUse,
        ),
        (
            "another app client",
            m2m_event(
                OBO_CLIENT,
                Some(&idp.sign_access(&with(&|c| c["client_id"] = json!("someone-elses-app")))),
            ),
            ReasonCode::SubjectClientNotAllowed,
        ),
        (
            "client_id as a list",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["client_id"] = json!([USER_CLIENT]))))),
            ReasonCode::SubjectClaimInvalid,
        ),
        (
            "token_use as a number",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["token_use"] = json!(1))))),
            ReasonCode::SubjectClaimInvalid,
        ),
        (
            "cognito:groups as a string",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["cognito:groups"] = json!("admins"))))),
            ReasonCode::SubjectClaimInvalid,
        ),
        (
            "username as a number",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["username"] = json!(42))))),
            ReasonCode::SubjectClaimInvalid,
        ),
        (
            "a machine token (sub equals client_id)",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["sub"] = json!(USER_CLIENT))))),
            ReasonCode::SubjectIsMachine,
        ),
        (
            "already an on-behalf-of token",
            m2m_event(OBO_CLIENT, Some(&idp.sign_access(&with(&|c| c["obo_sub"] = json!("x"))))),
            ReasonCode::SubjectAlreadyDelegated,
        ),
        (
            "a jku header pointing elsewhere",
            m2m_event(
                OBO_CLIENT,
                Some(&stranger.sign_with_header(
                    &json!({"alg":"RS256","kid":"unknown-kid","jku":"https://evil.example.com/jwks"}),
                    &good,
                )),
            ),
            ReasonCode::SubjectHeaderRejected,
        ),
        (
            "an embedded jwk header",
            m2m_event(
                OBO_CLIENT,
                Some(&stranger.sign_with_header(
                    &json!({"alg":"RS256","kid":"unknown-kid","jwk": stranger.jwk()}),
                    &good,
                )),
            ),
            ReasonCode::SubjectHeaderRejected,
        ),
        ("oversized", m2m_event(OBO_CLIENT, Some(&big)), ReasonCode::SubjectMalformed),
        ("not a JWT", m2m_event(OBO_CLIENT, Some("this is not a token")), ReasonCode::SubjectMalformed),
        (
            "two parts",
            m2m_event(OBO_CLIENT, Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0")),
            ReasonCode::SubjectMalformed,
        ),
        ("empty", m2m_event(OBO_CLIENT, Some("")), ReasonCode::SubjectMissing),
        (
            "onBehalfOfToken not a string",
            {
                let mut e = m2m_event(OBO_CLIENT, None);
                e["request"]["clientMetadata"]["onBehalfOfToken"] = json!({"token": "x"});
                e
            },
            ReasonCode::SubjectMalformed,
        ),
        ("an allowed caller without a token", m2m_event(OBO_CLIENT, None), ReasonCode::SubjectMissing),
        (
            "an allowed caller without any clientMetadata",
            {
                let mut e = m2m_event(OBO_CLIENT, None);
                e["request"].as_object_mut().unwrap().remove("clientMetadata");
                e
            },
            ReasonCode::SubjectMissing,
        ),
        (
            "a disallowed caller with a valid token",
            m2m_event(OTHER_M2M, Some(&idp.sign_access(&good))),
            ReasonCode::CallerNotAllowed,
        ),
        ("an M2M event without a caller", m2m_event("", Some(&idp.sign_access(&good))), ReasonCode::BadEvent),
        (
            "scopes of two targets (AWS's sample event as it is)",
            {
                let mut e = m2m_event(OBO_CLIENT, Some(&idp.sign_access(&good)));
                e["request"]["scopes"] =
                    json!(["resourceServerIdentifier1/scope1", "resourceServerIdentifier2/scope2"]);
                e
            },
            ReasonCode::ScopeNotAllowed,
        ),
        ("no scopes field", with_scopes(None, &idp.sign_access(&good)), ReasonCode::ScopeNotAllowed),
        ("scopes null", with_scopes(Some(Value::Null), &idp.sign_access(&good)), ReasonCode::ScopeNotAllowed),
        ("scopes empty", with_scopes(Some(json!([])), &idp.sign_access(&good)), ReasonCode::ScopeNotAllowed),
        (
            "two scopes of one resource server without groups",
            with_scopes(Some(json!([CRM_SCOPE, "cognito-obo/weather"])), &idp.sign_access(&good)),
            ReasonCode::ScopeNotAllowed,
        ),
        (
            "a multi-target request, refused before its token is read",
            with_scopes(Some(json!([CRM_SCOPE, "cognito-obo/hr"])), "not a token at all"),
            ReasonCode::ScopeNotAllowed,
        ),
        ("an event that is not an object", json!(["not", "an", "event"]), ReasonCode::BadEvent),
        (
            "an event without triggerSource",
            {
                let mut e = m2m_event(OBO_CLIENT, Some(&idp.sign_access(&good)));
                e.as_object_mut().unwrap().remove("triggerSource");
                e
            },
            ReasonCode::BadEvent,
        ),
    ];
    assert!(cases.len() >= 25);
    for (case, event, reason) in cases {
        assert_rejected(&trigger, event, reason, case).await;
    }
}

#[tokio::test]
async fn a_valid_subject_enriches_only_the_access_token() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger().await;
    let claims = idp.alice_access_claims();
    let token = idp.sign_access(&claims);
    let out = trigger.handle(m2m_event(OBO_CLIENT, Some(&token))).await.expect("enriched");
    let response = serde_json::to_value(&out.response).unwrap();
    assert_eq!(
        response,
        json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"claimsToAddOrOverride": {
            "obo_sub": "11111111-aaaa-4aaa-8aaa-111111111111",
            "obo_username": "alice",
            "obo_client_id": USER_CLIENT,
            "obo_iss": idp.issuer,
            "obo_exp": NOW - 60 + 3600,
            "obo_jti": claims["origin_jti"],
            "obo_groups": ["crm-users"],
            "org_id": "acme",
        }}}})
    );
    // The rest of the event goes back as it came.
    let mut echoed = serde_json::to_value(&out).unwrap();
    let mut sent = m2m_event(OBO_CLIENT, Some(&token));
    echoed.as_object_mut().unwrap().remove("response");
    sent.as_object_mut().unwrap().remove("response");
    assert_eq!(echoed, sent);
}

#[tokio::test]
async fn scope_groups_let_one_target_ask_for_several_scopes_but_never_two_targets() {
    let idp = Idp::start().await;
    let groups = r#"{"crm":["cognito-obo/crm","cognito-obo/crm.write"],"hr":["cognito-obo/hr"]}"#;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_SCOPE_GROUPS", groups)]).await;
    let token = idp.sign_access(&idp.alice_access_claims());
    for ok in [json!([CRM_SCOPE]), json!([CRM_SCOPE, "cognito-obo/crm.write"]), json!(["cognito-obo/hr"])] {
        let out = trigger.handle(with_scopes(Some(ok.clone()), &token)).await;
        assert!(out.is_ok(), "{ok}: {:?}", out.err());
    }
    for (case, scopes) in [
        ("two targets' groups", json!([CRM_SCOPE, "cognito-obo/hr"])),
        ("a scope in no group", json!(["cognito-obo/admin"])),
        ("a group's scope and one in no group", json!([CRM_SCOPE, "cognito-obo/admin"])),
        ("no scope", json!([])),
    ] {
        assert_rejected(&trigger, with_scopes(Some(scopes), &token), ReasonCode::ScopeNotAllowed, case).await;
    }
    // The interceptor's OBO_TARGETS as groups: the same rule.
    let targets = r#"{"crm":{"mode":"obo","scopes":["cognito-obo/crm"]},"weather":{"mode":"passthrough"}}"#;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_SCOPE_GROUPS", targets)]).await;
    trigger.handle(with_scopes(Some(json!([CRM_SCOPE])), &token)).await.expect("crm's scope");
    assert_rejected(
        &trigger,
        with_scopes(Some(json!([CRM_SCOPE, "cognito-obo/weather"])), &token),
        ReasonCode::ScopeNotAllowed,
        "weather is no on-behalf-of target",
    )
    .await;
    // A machine client that does not act for users is never held to it.
    let mut bare = m2m_event(OTHER_M2M, None);
    bare["request"].as_object_mut().unwrap().remove("scopes");
    assert!(trigger.handle(bare).await.is_ok());
}

#[tokio::test]
async fn id_tokens_are_accepted_when_configured() {
    let idp = Idp::start().await;
    let (trigger, _clock) =
        idp.trigger_with(&[("OBO_SUBJECT_TOKEN_USE", "id"), ("OBO_CLAIM_MAP", "org_id=custom:org_id")]).await;
    let out =
        trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.id_key.sign(&idp.alice_id_claims())))).await.unwrap();
    let added = out.response.claims_and_scope_override_details.unwrap().access_token_generation.unwrap();
    let added = added.claims_to_add_or_override.unwrap();
    assert_eq!(added["obo_username"], "alice");
    assert_eq!(added["obo_client_id"], USER_CLIENT);
    assert_eq!(added["org_id"], "acme");
    // An access token is now the wrong kind.
    let access = idp.sign_access(&idp.alice_access_claims());
    assert_rejected(
        &trigger,
        m2m_event(OBO_CLIENT, Some(&access)),
        ReasonCode::SubjectWrongTokenUse,
        "access",
    )
    .await;
}

#[tokio::test]
async fn other_machine_clients_and_user_flows_pass_unchanged() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger().await;
    let token = idp.sign_access(&idp.alice_access_claims());
    // Another M2M client of the pool, no token: untouched.
    let out = trigger.handle(m2m_event(OTHER_M2M, None)).await.unwrap();
    assert_eq!(serde_json::to_value(&out.response).unwrap(), json!({"claimsAndScopeOverrideDetails": null}));
    // A user sign-in carrying an onBehalfOfToken (end users can send ClientMetadata): ignored.
    for source in
        ["TokenGeneration_Authentication", "TokenGeneration_RefreshTokens", "TokenGeneration_SomethingNew"]
    {
        let mut event = user_event(Some(&token));
        event["triggerSource"] = json!(source);
        let out = trigger.handle(event).await.unwrap();
        assert_eq!(
            serde_json::to_value(&out.response).unwrap(),
            json!({"claimsAndScopeOverrideDetails": null})
        );
    }
}

#[tokio::test]
async fn relaxed_subject_requirement_lets_an_allowed_caller_through_bare() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_REQUIRE_SUBJECT", "false")]).await;
    let out = trigger.handle(m2m_event(OBO_CLIENT, None)).await.unwrap();
    assert!(out.response.claims_and_scope_override_details.is_none());
}

#[tokio::test]
async fn user_tokens_get_org_claims_and_keep_their_groups() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_USER_CLAIM_MAP", "org_id=custom:org_id")]).await;
    let out = trigger.handle(user_event(None)).await.unwrap();
    let response = serde_json::to_value(&out.response).unwrap();
    // A changed token restates the request's groups (AWS: a missing or empty override may drop
    // them); the null preferredRole is left out rather than sent as null.
    assert_eq!(
        response,
        json!({"claimsAndScopeOverrideDetails": {
            "accessTokenGeneration": {"claimsToAddOrOverride": {"org_id": "acme"}},
            "groupOverrideDetails": {"groupsToOverride": ["crm-users"], "iamRolesToOverride": []},
        }})
    );
}

#[tokio::test]
async fn aws_sample_user_event_keeps_its_groups_and_roles() {
    let idp = Idp::start().await;
    // AWS's own sample event: preferredRole as a list, response as [], no custom:org_id.
    let quirky: Value =
        serde_json::from_str(include_str!("../../../events/pre-token/authentication-doc-quirks.json"))
            .unwrap();
    let (trigger, _clock) = idp.trigger_with(&[("OBO_USER_CLAIM_MAP", "surname=family_name")]).await;
    let out = trigger.handle(quirky.clone()).await.unwrap();
    let details = serde_json::to_value(&out.response).unwrap()["claimsAndScopeOverrideDetails"].take();
    assert_eq!(details["accessTokenGeneration"], json!({"claimsToAddOrOverride": {"surname": "Zoe"}}));
    let groups = &quirky["request"]["groupConfiguration"];
    // Groups and roles as sent; preferredRole left out, since the response takes only a string.
    assert_eq!(
        details["groupOverrideDetails"],
        json!({"groupsToOverride": groups["groupsToOverride"], "iamRolesToOverride": groups["iamRolesToOverride"]})
    );
    // The same event with preferredRole as a string keeps it.
    let mut event = quirky.clone();
    event["request"]["groupConfiguration"]["preferredRole"] =
        json!("arn:aws:iam::123456789012:role/sns_caller");
    let out = trigger.handle(event).await.unwrap();
    let details = serde_json::to_value(&out.response).unwrap()["claimsAndScopeOverrideDetails"].take();
    assert_eq!(details["groupOverrideDetails"]["preferredRole"], "arn:aws:iam::123456789012:role/sns_caller");
    // No groupConfiguration (null or absent): no groupOverrideDetails key at all.
    for strip in [Some(Value::Null), None] {
        let mut event = quirky.clone();
        let request = event["request"].as_object_mut().unwrap();
        match &strip {
            Some(null) => request.insert("groupConfiguration".into(), null.clone()),
            None => request.remove("groupConfiguration"),
        };
        let out = trigger.handle(event).await.unwrap();
        let details = serde_json::to_value(&out.response).unwrap()["claimsAndScopeOverrideDetails"].take();
        assert!(details["accessTokenGeneration"].is_object(), "{strip:?}");
        assert!(
            details.as_object().is_some_and(|d| !d.contains_key("groupOverrideDetails")),
            "{strip:?}: {details}"
        );
    }
    // An unchanged token (no mapped attribute in the event) answers exactly null.
    let (unmapped, _clock) = idp.trigger_with(&[("OBO_USER_CLAIM_MAP", "org_id=custom:org_id")]).await;
    let out = unmapped.handle(quirky).await.unwrap();
    assert_eq!(serde_json::to_value(&out.response).unwrap(), json!({"claimsAndScopeOverrideDetails": null}));
}

#[tokio::test]
async fn too_many_added_claims_are_refused() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_CLAIM_MAP", "org_id=org_id,profile=profile")]).await;
    let mut claims = idp.alice_access_claims();
    claims["profile"] = json!("x".repeat(3000));
    assert_rejected(
        &trigger,
        m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims))),
        ReasonCode::ClaimsTooLarge,
        "big",
    )
    .await;
}

#[tokio::test]
async fn maximum_subject_age_applies_to_auth_time() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_MAX_SUBJECT_AGE_SECONDS", "600")]).await;
    let mut claims = idp.alice_access_claims();
    claims["auth_time"] = json!(NOW - 601);
    assert_rejected(
        &trigger,
        m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims))),
        ReasonCode::SubjectTooOld,
        "old",
    )
    .await;
    claims["auth_time"] = json!(NOW - 599);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims)))).await.expect("recent enough");
}

#[tokio::test]
async fn leeway_tolerates_small_clock_skew() {
    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger_with(&[("OBO_LEEWAY_SECONDS", "30")]).await;
    let mut claims = idp.alice_access_claims();
    claims["iat"] = json!(NOW + 20);
    claims["nbf"] = json!(NOW + 20);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims)))).await.expect("within leeway");
}

#[tokio::test]
async fn without_listed_issuers_only_the_invoking_pool_is_trusted() {
    let idp = Idp::start().await;
    let mut env = idp.env();
    env.remove("OBO_SUBJECT_ISSUERS");
    let config = obo_core::trigger::TriggerConfig::from_env(&env).unwrap();
    let clock = obo_core::clock::ManualClock::at_secs(NOW);
    let trigger = obo_core::trigger::Trigger::new(config, clock).await.unwrap();
    // The loopback issuer is not the event's pool.
    let token = idp.sign_access(&idp.alice_access_claims());
    assert_rejected(
        &trigger,
        m2m_event(OBO_CLIENT, Some(&token)),
        ReasonCode::SubjectIssuerNotAllowed,
        "loopback",
    )
    .await;
    // A token naming another pool of the same region is refused before any key is fetched.
    let mut claims = idp.alice_access_claims();
    claims["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool");
    assert_rejected(
        &trigger,
        m2m_event(OBO_CLIENT, Some(&idp.sign_access(&claims))),
        ReasonCode::SubjectIssuerNotAllowed,
        "other pool",
    )
    .await;
}
