//! The gateway's state and its two target-facing jobs: keeping the tool catalog (synced with
//! each target's own credential, names prefixed `<target>___`) and routing `tools/call` by that
//! prefix, with the interceptor's `Authorization` overriding the target's credential.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use rmcp::model::{CallToolRequestParams, Tool};
use serde_json::{Value, json};

use super::GatewayError;
use super::authorizer::Authorizer;
use super::credentials::TokenProvider;
use super::handler::RequestLog;
use super::jsonrpc::{self, INTERNAL_ERROR, INVALID_PARAMS};
use super::upstream::{Upstream, UpstreamError};
use crate::invoke::Invoke;

/// The separator between target name and tool name.
pub const PREFIX_SEPARATOR: &str = "___";

/// One configured target.
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) credential: Option<TokenProvider>,
}

/// Everything a request needs, shared by all requests.
pub(crate) struct Gateway {
    pub(crate) authorizer: Authorizer,
    pub(crate) targets: Vec<Target>,
    pub(crate) interceptor: Option<Arc<dyn Invoke>>,
    pub(crate) interceptor_timeout: Duration,
    pub(crate) pass_request_headers: bool,
    pub(crate) upstream: Upstream,
    pub(crate) catalog: RwLock<Arc<Vec<Tool>>>,
}

impl Gateway {
    /// The synced tools, prefixed.
    pub(crate) fn catalog(&self) -> Arc<Vec<Tool>> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Lists every target's tools with its own credential and replaces the catalog (all or
    /// nothing), like AgentCore's target synchronization.
    pub(crate) async fn sync_tools(&self) -> Result<usize, GatewayError> {
        let mut all = Vec::new();
        for target in &self.targets {
            let failed = |detail: String| GatewayError::ToolSync { target: target.name.clone(), detail };
            let authorization = self.credential(target).await.map_err(failed)?;
            let tools = self
                .upstream
                .list_tools(&target.url, authorization)
                .await
                .map_err(|e| failed(describe(&e)))?;
            tracing::info!(target_name = %target.name, tools = tools.len(), "gateway synced tools");
            all.extend(tools.into_iter().map(|mut tool| {
                tool.name = format!("{}{PREFIX_SEPARATOR}{}", target.name, tool.name).into();
                tool
            }));
        }
        let count = all.len();
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(all);
        Ok(count)
    }

    /// The target's own credential as an `Authorization` value, if it has one.
    async fn credential(&self, target: &Target) -> Result<Option<HeaderValue>, String> {
        let Some(provider) = &target.credential else {
            return Ok(None);
        };
        let token = provider.token().await?;
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| "the token endpoint returned a token that is not a header value".to_owned())?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// Routes a `tools/call` to the target its name's prefix names, without the prefix.
    pub(crate) async fn call_tool(
        &self,
        id: Value,
        params: Option<&Value>,
        authorization: Option<HeaderValue>,
        headers: Vec<(HeaderName, HeaderValue)>,
        log: &mut RequestLog,
    ) -> Response {
        let name = params.and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or_default();
        let routed = name.split_once(PREFIX_SEPARATOR).and_then(|(prefix, tool)| {
            self.targets.iter().find(|t| t.name == prefix).map(|target| (target, tool))
        });
        let Some((target, tool)) = routed.filter(|(_, tool)| !tool.is_empty()) else {
            let data = json!({"source": "gateway"});
            return jsonrpc::error(id, INVALID_PARAMS, format!("unknown tool {name:?}"), Some(data));
        };
        log.target = Some(target.name.clone());
        let mut params = params.cloned().unwrap_or_default();
        params["name"] = json!(tool);
        let params: CallToolRequestParams = match serde_json::from_value(params) {
            Ok(params) => params,
            Err(e) => {
                return jsonrpc::error(id, INVALID_PARAMS, format!("invalid tools/call params: {e}"), None);
            }
        };
        let authorization = match authorization {
            Some(value) => Some(value),
            None => match self.credential(target).await {
                Ok(value) => value,
                Err(detail) => {
                    let message = format!(
                        "the gateway could not get a credential for target {}: {detail}",
                        target.name
                    );
                    let data = json!({"source": "gateway", "target": target.name});
                    return jsonrpc::error(id, INTERNAL_ERROR, message, Some(data));
                }
            },
        };
        match self.upstream.call_tool(&target.url, authorization, headers, params).await {
            Ok(result) => match serde_json::to_value(&result) {
                Ok(result) => jsonrpc::result(id, result),
                Err(e) => {
                    jsonrpc::error(id, INTERNAL_ERROR, format!("unserializable tool result: {e}"), None)
                }
            },
            Err(UpstreamError::Mcp(error)) => {
                log.reason = error
                    .data
                    .as_ref()
                    .and_then(|d| d.get("reason"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                jsonrpc::error(id, error.code.0, error.message, error.data)
            }
            Err(other) => {
                let mut data = json!({"source": "target", "target": target.name});
                if let UpstreamError::Refused(challenge) = &other
                    && let Some(reason) = error_description(challenge)
                {
                    data["reason"] = json!(reason);
                    log.reason = Some(reason.to_owned());
                }
                let message = format!("target {} {}", target.name, describe(&other));
                jsonrpc::error(id, INTERNAL_ERROR, message, Some(data))
            }
        }
    }
}

fn describe(error: &UpstreamError) -> String {
    match error {
        UpstreamError::Mcp(e) => format!("answered with an error: {}", e.message),
        UpstreamError::Refused(challenge) => format!("refused the credential ({challenge})"),
        UpstreamError::Failed(detail) => format!("failed: {detail}"),
    }
}

/// The `error_description` of a `WWW-Authenticate: Bearer …` challenge.
fn error_description(challenge: &str) -> Option<&str> {
    let rest = &challenge[challenge.find("error_description=\"")? + "error_description=\"".len()..];
    rest.split('"').next()
}
