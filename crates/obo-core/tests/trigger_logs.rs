//! At TRACE, with JSON logs, the trigger's log lines carry outcome, reason, caller and subject,
//! and never a token or any part of one.

mod common;
mod trace_logs;

use common::*;

#[tokio::test]
async fn no_token_reaches_the_logs_at_trace() {
    let capture = trace_logs::capture_json_at_trace();

    let idp = Idp::start().await;
    let (trigger, _clock) = idp.trigger().await;
    let good = idp.sign_access(&idp.alice_access_claims());
    let mut expired_claims = idp.alice_access_claims();
    expired_claims["exp"] = serde_json::json!(NOW - 5);
    let expired = idp.sign_access(&expired_claims);
    trigger.handle(m2m_event(OBO_CLIENT, Some(&good))).await.unwrap();
    trigger.handle(m2m_event(OBO_CLIENT, Some(&expired))).await.unwrap_err();
    trigger.handle(m2m_event(OTHER_M2M, Some(&good))).await.unwrap_err();
    trigger.handle(user_event(Some(&good))).await.unwrap();

    let logs = capture.text();
    assert!(logs.contains("\"outcome\":\"enriched\""), "{logs}");
    assert!(logs.contains("\"reason\":\"subject_expired\""), "{logs}");
    assert!(logs.contains("\"reason\":\"caller_not_allowed\""), "{logs}");
    assert!(logs.contains("11111111-aaaa-4aaa-8aaa-111111111111"), "the subject is logged");
    for token in [&good, &expired] {
        for part in token.split('.') {
            assert!(!logs.contains(part), "a token part reached the logs");
        }
    }
}
