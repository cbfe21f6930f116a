//! The shared tier's store on DynamoDB (`OBO_SHARED_CACHE=dynamodb:<table>`): one item per key,
//! `k` (S, base64url of the item key), `v` (B, the sealed value), `ttl` (N, epoch seconds, for
//! DynamoDB's TTL deletion). No SDK retries (a throttled or failing table is skipped, not waited
//! for); the tier's deadline is the operation timeout.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::BoxFuture;

use super::timeouts::{Deadline, timeouts};
use crate::env::ConfigError;
use crate::interceptor::seal::ItemKey;
use crate::interceptor::shared_cache::{PutItem, SharedCacheSettings, SharedStore, StoreError, StoredItem};

/// The table's attribute names.
const KEY: &str = "k";
const VALUE: &str = "v";
const TTL: &str = "ttl";

/// One DynamoDB table.
pub(crate) struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbStore {
    /// The store for `settings`; `AWS_REGION` must be known.
    pub(crate) fn new(
        sdk: &aws_config::SdkConfig,
        settings: &SharedCacheSettings,
    ) -> Result<Self, ConfigError> {
        use aws_sdk_dynamodb::config::{Builder, retry::RetryConfig};
        if sdk.region().is_none() {
            return Err(ConfigError::new("AWS_REGION", "is required with OBO_SHARED_CACHE"));
        }
        let timeouts = timeouts(settings.timeout, Deadline::Operation(settings.timeout));
        let conf = Builder::from(sdk).retry_config(RetryConfig::disabled()).timeout_config(timeouts).build();
        Ok(Self { client: aws_sdk_dynamodb::Client::from_conf(conf), table: settings.table.clone() })
    }
}

impl SharedStore for DynamoDbStore {
    /// `GetItem` (strongly consistent: a deleted item is not served again).
    fn get<'a>(&'a self, item: &'a ItemKey) -> BoxFuture<'a, Result<Option<StoredItem>, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(item_key_attribute(item)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| store_error(&e))?;
            let Some(found) = out.item() else {
                return Ok(None);
            };
            let sealed = match found.get(VALUE) {
                Some(AttributeValue::B(blob)) => blob.as_ref().to_vec(),
                _ => return Ok(Some(StoredItem::default())),
            };
            let ttl_secs = match found.get(TTL) {
                Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                _ => 0,
            };
            Ok(Some(StoredItem { sealed, ttl_secs }))
        })
    }

    /// `PutItem`, conditional on `attribute_not_exists(k) OR ttl <= now` if absent only.
    fn put<'a>(&'a self, item: PutItem<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        let PutItem { key, sealed, ttl_secs, if_absent_at_ms } = item;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(item_key_attribute(key)))
            .item(VALUE, AttributeValue::B(Blob::new(sealed)))
            .item(TTL, AttributeValue::N(ttl_secs.to_string()));
        let put = match if_absent_at_ms {
            Some(now_ms) => put
                .condition_expression("attribute_not_exists(#k) OR #ttl <= :now")
                .expression_attribute_names("#k", KEY)
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":now", AttributeValue::N((now_ms / 1000).to_string())),
            None => put,
        };
        Box::pin(async move { put.send().await.map(|_| ()).map_err(|e| store_error(&e)) })
    }

    /// `DeleteItem`.
    fn delete<'a>(&'a self, item: &'a ItemKey) -> BoxFuture<'a, Result<(), StoreError>> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(item_key_attribute(item)));
        Box::pin(async move { delete.send().await.map(|_| ()).map_err(|e| store_error(&e)) })
    }
}

fn item_key_attribute(item: &ItemKey) -> String {
    URL_SAFE_NO_PAD.encode(item.as_bytes())
}

fn store_error<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> StoreError {
    match err {
        SdkError::TimeoutError(_) => StoreError::Timeout,
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "Throttling",
            ) => StoreError::Throttled,
            _ => StoreError::Other,
        },
        _ => StoreError::Other,
    }
}
