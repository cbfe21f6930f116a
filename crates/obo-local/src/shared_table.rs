//! The shared cache tier's table, locally (`OBO_SHARED_CACHE`, docs/shared-cache.md): a real
//! DynamoDB-compatible server (moto's, started here, or one already running at an endpoint),
//! the table created as the SAM template defines it (key `k` of type S, on demand, TTL on
//! `ttl`), and what the interceptor needs to reach it: the table, the SDK's service-specific
//! endpoint override `AWS_ENDPOINT_URL_DYNAMODB` (every other AWS call of the interceptor stays
//! on the Cognito emulator's `AWS_ENDPOINT_URL`) and a deadline a Python server on a busy machine
//! meets. Region and fake credentials come from the Lambda host like every other AWS variable.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use obo_testkit::dynamodb::LocalDynamoDb;

use crate::lambda_host::FAKE_CREDENTIALS;

/// The table's name in the local stack.
pub const TABLE: &str = "obo-shared-cache";

/// `OBO_SHARED_CACHE_TIMEOUT_MS` in the local stack (the deployed default, 100 ms, is for
/// DynamoDB in-region; moto is a Python server sharing the machine with everything else).
pub const LOCAL_TIMEOUT_MS: &str = "2000";

/// Where the shared tier's table lives, if the stack runs the tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SharedCache {
    /// No shared tier (the default, as in the template).
    #[default]
    Off,
    /// A moto server started by the stack (`make test-tools` installs it).
    Local,
    /// A DynamoDB-compatible endpoint already running (`http://host:port`), e.g. a fault-injecting
    /// proxy in front of moto; the stack creates the table there.
    Endpoint(String),
}

/// One item as DynamoDB returns it.
pub type Item = HashMap<String, AttributeValue>;

/// The running table (and its server when the stack started one).
pub struct SharedTable {
    server: Option<LocalDynamoDb>,
    endpoint: String,
    client: aws_sdk_dynamodb::Client,
    /// Whether [`SharedTable::get_round_trip`]'s item is written.
    probe: std::sync::OnceLock<()>,
}

impl std::fmt::Debug for SharedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTable").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl SharedTable {
    /// Starts what `mode` asks for and creates the table; `None` when the tier is off.
    pub async fn start(mode: &SharedCache, region: &str) -> Result<Option<Self>, String> {
        let (server, endpoint) = match mode {
            SharedCache::Off => return Ok(None),
            SharedCache::Local => {
                let server = tokio::task::spawn_blocking(LocalDynamoDb::try_start)
                    .await
                    .map_err(|e| format!("moto's server: {e}"))??;
                let url = server.url();
                (Some(server), url)
            }
            SharedCache::Endpoint(url) => (None, url.clone()),
        };
        let [(_, key), (_, secret), (_, session)] = FAKE_CREDENTIALS;
        let credentials = aws_sdk_dynamodb::config::Credentials::new(
            key,
            secret,
            Some(session.to_owned()),
            None,
            "obo-local",
        );
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let table = Self { server, endpoint, client, probe: std::sync::OnceLock::new() };
        table.create().await?;
        Ok(Some(table))
    }

    /// `CreateTable` and `UpdateTimeToLive`, as template.yaml's `SharedCacheTable`.
    async fn create(&self) -> Result<(), String> {
        let error = |what: &str, e: &dyn std::fmt::Display| format!("{what} at {}: {e}", self.endpoint);
        let key =
            |name: &str| KeySchemaElement::builder().attribute_name(name).key_type(KeyType::Hash).build();
        let attribute = AttributeDefinition::builder()
            .attribute_name("k")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| error("the key attribute", &e))?;
        self.client
            .create_table()
            .table_name(TABLE)
            .attribute_definitions(attribute)
            .key_schema(key("k").map_err(|e| error("the key schema", &e))?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| error("CreateTable", &aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name("ttl")
            .enabled(true)
            .build()
            .map_err(|e| error("the TTL specification", &e))?;
        self.client
            .update_time_to_live()
            .table_name(TABLE)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| error("UpdateTimeToLive", &aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    /// The endpoint URL the interceptor is given.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The interceptor's variables for the tier.
    pub fn interceptor_env(&self) -> [(&'static str, String); 3] {
        [
            ("OBO_SHARED_CACHE", format!("dynamodb:{TABLE}")),
            ("OBO_SHARED_CACHE_TIMEOUT_MS", LOCAL_TIMEOUT_MS.to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint.clone()),
        ]
    }

    /// Every item in the table (a `Scan`), to see what a reader of the table would see.
    pub async fn scan(&self) -> Result<Vec<Item>, String> {
        let out = self
            .client
            .scan()
            .table_name(TABLE)
            .send()
            .await
            .map_err(|e| format!("Scan: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out.items().to_vec())
    }

    /// One `GetItem` of an item shaped like the interceptor's (a 43-character key, a 1.2 KB
    /// binary value, a TTL), written first if missing, timed: the round trip a shared-tier hit
    /// costs, without the interceptor (what it adds to a local hit, sealing aside).
    pub async fn get_round_trip(&self) -> Result<std::time::Duration, String> {
        const PROBE: &str = "probe-item-shaped-like-a-base64url-hmac-key";
        if self.probe.get().is_none() {
            self.client
                .put_item()
                .table_name(TABLE)
                .item("k", AttributeValue::S(PROBE.into()))
                .item("v", AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![0x5a; 1200])))
                .item("ttl", AttributeValue::N("4102444800".into()))
                .send()
                .await
                .map_err(|e| format!("PutItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            let _ = self.probe.set(());
        }
        let started = std::time::Instant::now();
        let out = self
            .client
            .get_item()
            .table_name(TABLE)
            .key("k", AttributeValue::S(PROBE.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let took = started.elapsed();
        out.item().ok_or("the probe item is missing")?;
        Ok(took)
    }

    /// Stops the server the stack started (a table outage); the endpoint then refuses connections.
    /// Nothing happens to an endpoint the stack did not start.
    pub fn stop_server(&mut self) {
        self.server = None;
    }
}
