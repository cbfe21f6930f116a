//! Everything that calls the AWS SDK (cargo feature `aws`), one file per concept, each behind a
//! small trait of the domain side that the trigger and the interceptor hold:
//!
//! - [`user_lookup`]: the trigger's Cognito `AdminGetUser` / `GetUser` (`trigger::UserDirectory`);
//! - [`token_transport`]: the interceptor's `sdk` transport, Cognito `GetClientToken`
//!   (`interceptor::token_client::TokenTransport`);
//! - [`secrets`]: the client secret from Secrets Manager or `DescribeUserPoolClient`
//!   (`interceptor::client_secret::FetchSecret`);
//! - [`dynamodb_store`]: the shared tier's table (`interceptor::shared_cache::SharedStore`);
//! - [`timeouts`]: how their calls are bounded in time.
//!
//! Plugged in by `crate::sdk`, the one place where a build with and without the SDK differ.
//! Endpoint overrides (`AWS_ENDPOINT_URL_*`), credentials and the region come from the SDK's own
//! configuration.

mod dynamodb_store;
mod secrets;
mod timeouts;
mod token_transport;
pub(crate) mod user_lookup;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::env::ConfigError;
use crate::interceptor::client_secret::{FetchSecret, SecretSource};
use crate::interceptor::mint::{Parts, SdkParts};
use crate::interceptor::shared_cache::{SharedCacheSettings, SharedStore};
use crate::interceptor::token_client::TokenTransport;
use crate::interceptor::{Interceptor, InterceptorConfig};

/// The SDK configuration from the environment (region, credentials, endpoint overrides).
pub(crate) async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

impl SdkParts for aws_config::SdkConfig {
    fn secret_reader(&self, source: &SecretSource, client_id: &str) -> Option<Box<dyn FetchSecret>> {
        secrets::reader(self, source, client_id)
    }

    fn token_transport(&self, attempt_timeout: Duration) -> Result<Arc<dyn TokenTransport>, ConfigError> {
        if self.region().is_none() {
            return Err(ConfigError::new("AWS_REGION", "is required with OBO_TOKEN_TRANSPORT=sdk"));
        }
        Ok(Arc::new(token_transport::GetClientToken::new(self, attempt_timeout)))
    }

    fn shared_store(&self, settings: &SharedCacheSettings) -> Result<Box<dyn SharedStore>, ConfigError> {
        Ok(Box::new(dynamodb_store::DynamoDbStore::new(self, settings)?))
    }
}

impl Interceptor {
    /// Builds the interceptor against an explicit AWS SDK configuration (endpoint overrides,
    /// credentials, region), fetching secrets through it.
    pub async fn with_sdk_config(
        config: InterceptorConfig,
        sdk: &aws_config::SdkConfig,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let parts = Parts::load_with(&config, Some(sdk), clock.clone()).await?;
        Self::assemble(config, parts, clock)
    }
}
