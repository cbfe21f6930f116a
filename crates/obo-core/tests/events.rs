//! The sample events in `events/pre-token/` (usable with `cargo lambda invoke --data-file`):
//! each parses, survives parse → serialize → reparse unchanged, and the user flows return
//! `claimsAndScopeOverrideDetails: null`.

use obo_core::trigger::event::PreTokenEvent;
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("client-credentials", include_str!("../../../events/pre-token/client-credentials.json")),
    ("authentication", include_str!("../../../events/pre-token/authentication.json")),
    ("authentication-doc-quirks", include_str!("../../../events/pre-token/authentication-doc-quirks.json")),
    ("hosted-auth", include_str!("../../../events/pre-token/hosted-auth.json")),
    ("new-password-challenge", include_str!("../../../events/pre-token/new-password-challenge.json")),
    ("authenticate-device", include_str!("../../../events/pre-token/authenticate-device.json")),
    ("refresh-tokens", include_str!("../../../events/pre-token/refresh-tokens.json")),
];

#[test]
fn sample_events_round_trip() {
    for (name, raw) in EVENTS {
        let parsed: PreTokenEvent = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(parsed.trigger_source.starts_with("TokenGeneration_"), "{name}");
        let serialized = serde_json::to_value(&parsed).unwrap();
        let reparsed: PreTokenEvent = serde_json::from_value(serialized.clone()).unwrap();
        assert_eq!(parsed, reparsed, "{name}");
        // Everything but the incoming response is echoed exactly.
        let mut original: Value = serde_json::from_str(raw).unwrap();
        let mut echoed = serialized;
        original.as_object_mut().unwrap().remove("response");
        echoed.as_object_mut().unwrap().remove("response");
        assert_eq!(original, echoed, "{name}");
    }
}

#[test]
fn the_client_credentials_sample_has_the_m2m_shape() {
    let e: PreTokenEvent = serde_json::from_str(EVENTS[0].1).unwrap();
    assert!(e.is_client_credentials());
    assert_eq!(e.user_name.as_deref(), Some("ClientCredentials"));
    assert!(e.request.user_attributes.is_empty());
    assert_eq!(e.request.group_configuration, Some(Value::Null));
    assert!(e.request.client_metadata.unwrap().contains_key("onBehalfOfToken"));
}

#[tokio::test]
async fn user_samples_pass_unchanged_through_a_default_trigger() {
    let env: std::collections::HashMap<String, String> =
        [("OBO_METRICS".to_owned(), "off".to_owned())].into();
    let config = obo_core::trigger::TriggerConfig::from_env(&env).unwrap();
    let trigger = obo_core::trigger::Trigger::new(config, obo_core::clock::system_clock()).await.unwrap();
    for (name, raw) in &EVENTS[1..] {
        let out = trigger
            .handle(serde_json::from_str(raw).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(&out.response).unwrap(),
            serde_json::json!({"claimsAndScopeOverrideDetails": null}),
            "{name}"
        );
    }
    // The M2M sample with OBO disabled: its caller may not present a token.
    let err = trigger.handle(serde_json::from_str(EVENTS[0].1).unwrap()).await.unwrap_err();
    assert_eq!(err.reason, obo_core::ReasonCode::CallerNotAllowed);
}
