//! TEST DOUBLE of the interceptor Lambda (answers per the contract, mints on-behalf-of tokens
//! with the test issuer's key) and the small stack the gateway tests run: test issuer, crm,
//! weather, gateway. The end-to-end tests run the real Lambda instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use obo_core::subject::jwt::unverified_claims;
use obo_local::gateway::{self, ClientCredentials, GatewayConfig, GatewayHandle, GatewayTarget};
use obo_local::invoke::{BoxFuture, Invoke, InvokeError};
use obo_local::targets::{TargetHandle, crm, weather};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use super::*;

/// What the interceptor double does with the next `tools/call`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Like the real interceptor: on-behalf-of token for `crm___*`, pass-through otherwise.
    Obo,
    /// Pass everything through untouched (no `headers`).
    PassThrough,
    /// Deny with a `transformedGatewayResponse`.
    ShortCircuit,
    /// Fail as a Lambda function error named by a reason code.
    FunctionError,
    /// The Lambda host's deadline passed.
    Timeout,
    /// The Lambda process died.
    Crash,
    /// Never answers, ignoring the deadline (the gateway must still give up).
    Hang,
}

/// TEST DOUBLE of the interceptor Lambda (never product code).
pub struct InterceptorDouble {
    issuer: Arc<TestIssuer>,
    mode: Mutex<Mode>,
    events: Mutex<Vec<Value>>,
}

impl InterceptorDouble {
    pub fn new(issuer: Arc<TestIssuer>) -> Arc<Self> {
        Arc::new(Self { issuer, mode: Mutex::new(Mode::Obo), events: Mutex::default() })
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    fn answer(&self, event: &Value) -> Result<Value, InvokeError> {
        let request = &event["mcp"]["gatewayRequest"];
        let body = request["body"].clone();
        let pass =
            json!({"interceptorOutputVersion": "1.0", "mcp": {"transformedGatewayRequest": {"body": body}}});
        if body["method"] != "tools/call" {
            return Ok(pass);
        }
        match *self.mode.lock().unwrap() {
            Mode::PassThrough => Ok(pass),
            Mode::Obo if !body["params"]["name"].as_str().unwrap_or_default().starts_with("crm___") => {
                Ok(pass)
            }
            Mode::Obo => {
                // The gateway has verified the user's token; the double only reads it.
                let bearer = request["headers"]["authorization"].as_str().unwrap();
                let claims = unverified_claims(bearer.strip_prefix("Bearer ").unwrap(), 16 * 1024).unwrap();
                let name = claims["username"].as_str().unwrap();
                let user = if name == "alice" { alice() } else { bob() };
                let token = self.issuer.obo_token(&user, json!({}));
                Ok(json!({"interceptorOutputVersion": "1.0", "mcp": {"transformedGatewayRequest": {
                    "headers": {"Authorization": format!("Bearer {token}")}, "body": body}}}))
            }
            Mode::ShortCircuit => {
                Ok(json!({"interceptorOutputVersion": "1.0", "mcp": {"transformedGatewayResponse": {
                "statusCode": 403,
                "body": {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32001,
                    "message": "on-behalf-of denied", "data": {"reason": "target_denied"}}}}}}))
            }
            Mode::FunctionError => Err(InvokeError::Function {
                error_type: "idp_unavailable".into(),
                error_message: "idp_unavailable: the token endpoint did not answer".into(),
            }),
            Mode::Timeout => Err(InvokeError::Timeout(Duration::from_secs(5))),
            Mode::Crash => Err(InvokeError::Crashed("exit status 101".into())),
            Mode::Hang => Err(InvokeError::Crashed("unreachable: hangs before answering".into())),
        }
    }
}

impl Invoke for InterceptorDouble {
    fn invoke(&self, event: Value, _deadline: Duration) -> BoxFuture<'_, Result<Value, InvokeError>> {
        Box::pin(async move {
            if *self.mode.lock().unwrap() == Mode::Hang
                && event["mcp"]["gatewayRequest"]["body"]["method"] == "tools/call"
            {
                std::future::pending::<()>().await;
            }
            let answer = self.answer(&event);
            self.events.lock().unwrap().push(event);
            answer
        })
    }
}

pub struct Stack {
    pub issuer: Arc<TestIssuer>,
    pub crm: TargetHandle,
    pub weather: TargetHandle,
    pub interceptor: Arc<InterceptorDouble>,
    pub gateway: GatewayHandle,
}

pub async fn stack(with_interceptor: bool) -> Stack {
    let issuer = Arc::new(TestIssuer::start().await);
    let crm = crm::start(issuer.crm_verifier()).await;
    let weather = weather::start(Some(issuer.weather_verifier())).await;
    let interceptor = InterceptorDouble::new(issuer.clone());
    let credential = |client: &str, secret: &str, scope: &str| ClientCredentials {
        token_url: issuer.token_url(),
        client_id: client.into(),
        client_secret: secret.into(),
        scopes: vec![scope.into()],
    };
    let mut config = GatewayConfig::new(issuer.discovery_url())
        .with_allowed_clients([WEB_CLIENT])
        .with_target(GatewayTarget::new("crm", crm.mcp_url()).with_credential(credential(
            SYNC_CLIENT,
            "sync-secret",
            CRM_SCOPE,
        )))
        .with_target(GatewayTarget::new("weather", weather.mcp_url()).with_credential(credential(
            WEATHER_CLIENT,
            "weather-secret",
            WEATHER_SCOPE,
        )));
    if with_interceptor {
        config = config.with_interceptor(interceptor.clone());
    }
    config.interceptor_timeout = Duration::from_millis(500);
    let gateway = gateway::start(config).await.unwrap();
    Stack { issuer, crm, weather, interceptor, gateway }
}

pub fn call(name: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned()).with_arguments(args.as_object().unwrap().clone())
}
