//! The AWS SDK paths (cargo feature `aws`) against loopback stand-ins reached through
//! the SDK's endpoint override: the client secret from Secrets Manager (refetched once on
//! `invalid_client`, i.e. rotation) or `DescribeUserPoolClient`, and the `sdk` transport
//! (`GetClientToken`) with its error mapping.

#![cfg(feature = "aws")]

mod interceptor_support;
mod sdk_support;

use std::collections::HashMap;
use std::sync::Arc;

use interceptor_support::aws::FakeAws;
use interceptor_support::*;
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::interceptor::{Interceptor, InterceptorConfig};
use serde_json::json;

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:obo-AbCdEf";

async fn build(
    env: &HashMap<String, String>,
    aws: &FakeAws,
) -> Result<Interceptor, obo_core::env::ConfigError> {
    build_with_clock(env, aws, ManualClock::at_secs(obo_testkit::tokens::now_secs())).await
}

async fn build_with_clock(
    env: &HashMap<String, String>,
    aws: &FakeAws,
    clock: Arc<ManualClock>,
) -> Result<Interceptor, obo_core::env::ConfigError> {
    let config = InterceptorConfig::from_env(env)?;
    let clock: SharedClock = clock;
    Interceptor::with_sdk_config(config, &sdk_support::sdk_config(&aws.url()).await, clock).await
}

fn without_literal(idp: &FakeIdp, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = idp.env();
    env.remove("OBO_CLIENT_SECRET");
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

#[tokio::test]
async fn the_secret_comes_from_secrets_manager_and_is_refetched_on_invalid_client() {
    let idp = FakeIdp::start().await;
    let aws = FakeAws::start(OBO_SECRET, "unused").await;
    let clock = ManualClock::at_secs(obo_testkit::tokens::now_secs());
    let env = without_literal(&idp, &[("OBO_CLIENT_SECRET_ARN", ARN)]);
    let interceptor = build_with_clock(&env, &aws, clock.clone()).await.unwrap();
    assert_eq!(aws.get_secret_calls(), 1, "fetched at cold start");
    let ask = |sub: String| interceptor.handle(call_as("crm___x", &idp.user_token(&sub, 3600)));
    assert!(forwarded_token(&ask(new_sub()).await).is_some());

    // Rotation: the identity provider now wants the new secret, which Secrets Manager holds as JSON.
    *idp.state.secret.lock().unwrap() = "rotated-secret".into();
    aws.set_secret_string(r#"{"client_secret":"rotated-secret"}"#);
    assert!(forwarded_token(&ask(new_sub()).await).is_some());
    assert_eq!(aws.get_secret_calls(), 2);
    assert_eq!(idp.calls(), 3, "one invalid_client, then success with the new secret");
    assert!(forwarded_token(&ask(new_sub()).await).is_some());
    assert_eq!(aws.get_secret_calls(), 2, "the new secret is kept");

    // A secret that is wrong in Secrets Manager too: reported; refetched at most once per 30 s.
    *idp.state.secret.lock().unwrap() = "another".into();
    let out = ask(new_sub()).await;
    assert_eq!(short_circuit(&out), Some((500, "idp_client_rejected".into(), false)));
    assert_eq!(aws.get_secret_calls(), 2, "refetched moments ago: not again");
    clock.advance_secs(30);
    let out = ask(new_sub()).await;
    assert_eq!(short_circuit(&out), Some((500, "idp_client_rejected".into(), false)));
    assert_eq!(aws.get_secret_calls(), 3);
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_fails_the_cold_start_naming_the_variable() {
    let idp = FakeIdp::start().await;
    let aws = FakeAws::start("", "unused").await;
    let err = build(&without_literal(&idp, &[("OBO_CLIENT_SECRET_ARN", ARN)]), &aws).await.err().unwrap();
    assert_eq!(err.variable, "OBO_CLIENT_SECRET_ARN");
    assert!(err.problem.contains("AccessDeniedException"), "{err}");
}

#[tokio::test]
async fn the_secret_can_come_from_describe_user_pool_client() {
    let idp = FakeIdp::start().await;
    let aws = FakeAws::start("", OBO_SECRET).await;
    let interceptor = build(&without_literal(&idp, &[("OBO_USER_POOL_ID", POOL)]), &aws).await.unwrap();
    let out = interceptor.handle(call_as("crm___x", &idp.user_token(&new_sub(), 3600))).await;
    assert!(forwarded_token(&out).is_some());
}

#[tokio::test]
async fn the_sdk_transport_calls_get_client_token() {
    let idp = FakeIdp::start().await;
    let aws = FakeAws::start("", "pool-secret").await;
    let aws_url = aws.url();
    let env = without_literal(
        &idp,
        &[
            ("OBO_TOKEN_TRANSPORT", "sdk"),
            ("OBO_CLIENT_SECRET", "pool-secret"),
            ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", &aws_url),
            ("OBO_FAILURE_CACHE_SECONDS", "0"),
        ],
    );
    let interceptor = build(&env, &aws).await.unwrap();
    let sub = new_sub();
    let user = idp.user_token(&sub, 3600);
    let out = interceptor.handle(call_as("crm___x", &user)).await;
    assert_eq!(claims_of(&forwarded_token(&out).unwrap())["obo_sub"], json!(sub));
    let metadata = aws.state.seen_metadata.lock().unwrap()[0].clone();
    assert_eq!(metadata, json!({"onBehalfOfToken": user, "target": "crm"}));
    assert_eq!(idp.calls(), 0, "the token endpoint is not used");

    // Throttling is retried; a failing trigger maps to its code; a bad secret is reported.
    let next = || interceptor.handle(call_as("billing___x", &idp.user_token(&new_sub(), 3600)));
    aws.state.token_errors.lock().unwrap().push_back((400, "TooManyRequestsException", "slow down".into()));
    assert!(forwarded_token(&next().await).is_some());
    let trigger = "PreTokenGenerationV3_0 failed with error subject_user_disabled: disabled.".to_owned();
    aws.state.token_errors.lock().unwrap().push_back((400, "UserLambdaValidationException", trigger));
    assert_eq!(short_circuit(&next().await), Some((403, "subject_user_disabled".into(), false)));
    aws.state.token_errors.lock().unwrap().push_back((500, "InternalErrorException", "x".into()));
    aws.state.token_errors.lock().unwrap().push_back((500, "InternalErrorException", "x".into()));
    aws.state.token_errors.lock().unwrap().push_back((500, "InternalErrorException", "x".into()));
    assert_eq!(short_circuit(&next().await), Some((503, "idp_unavailable".into(), true)));
    *aws.state.pool_client_secret.lock().unwrap() = "changed".into();
    assert_eq!(short_circuit(&next().await), Some((500, "idp_client_rejected".into(), false)));
    assert_eq!(aws.token_calls(), 1 + 2 + 1 + 3 + 1);
}
