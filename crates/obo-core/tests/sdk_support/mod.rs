//! The AWS SDK configuration the `aws` tests use: every service at one loopback
//! stand-in, fake credentials (nothing leaves loopback).

/// An SDK configuration whose every service endpoint is `endpoint`.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_secretsmanager::config::Credentials::new(
        "AKIDLOCALTEST",
        "local-test-key",
        None,
        None,
        "test",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}
