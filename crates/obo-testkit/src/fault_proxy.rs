//! A loopback HTTP proxy in front of a DynamoDB-compatible server (moto's) that can answer every
//! call with a DynamoDB throttling error instead: moto never throttles, DynamoDB does. The error
//! is DynamoDB's JSON 1.0 shape (HTTP 400, `__type` naming the exception), as the AWS SDK reads it.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::TestServer;

/// The throttling errors DynamoDB answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// `ProvisionedThroughputExceededException` (a table or partition over its throughput).
    ProvisionedThroughputExceeded,
    /// `ThrottlingException` (requests too fast for the account or the control plane).
    Throttling,
}

impl Throttle {
    /// The exception's name.
    pub const fn code(self) -> &'static str {
        match self {
            Self::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            Self::Throttling => "ThrottlingException",
        }
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    fault: Mutex<Option<Throttle>>,
    throttled: AtomicU64,
    forwarded: AtomicU64,
}

/// A running proxy; dropping it stops it.
pub struct FaultProxy {
    server: TestServer,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy forwarding every request to `upstream` (`http://host:port`) until told to throttle.
    pub async fn start(upstream: &str) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            fault: Mutex::new(None),
            throttled: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        Self { server: TestServer::start(router).await, shared }
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the AWS SDK.
    pub fn url(&self) -> String {
        self.server.url("")
    }

    /// Answers every request with `throttle` from now on (`None`: forward again).
    pub fn set_throttle(&self, throttle: Option<Throttle>) {
        *self.shared.fault.lock().unwrap_or_else(|e| e.into_inner()) = throttle;
    }

    /// Requests answered with a throttling error so far.
    pub fn throttled(&self) -> u64 {
        self.shared.throttled.load(Ordering::Relaxed)
    }

    /// Requests forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::Relaxed)
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let fault = *shared.fault.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(throttle) = fault {
        shared.throttled.fetch_add(1, Ordering::Relaxed);
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{}","message":"Rate of requests exceeds the allowed throughput."}}"#,
            throttle.code()
        );
        return (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], body)
            .into_response();
    }
    shared.forwarded.fetch_add(1, Ordering::Relaxed);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = shared.client.post(format!("{}{path}", shared.upstream)).body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-amz-json-1.0")
                .to_owned();
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", content_type)], body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    }
}
