//! The gateway's state and its two target-facing jobs: keeping the catalog (synced with each
//! target's own credential: tools and prompts prefixed `<target>___`, resource URIs and templates
//! as the target names them) and routing `tools/call` and `prompts/get` by that prefix and
//! `resources/read` by URI (the first target listing it wins, as a lower `resourcePriority`
//! would), with the interceptor's `Authorization` overriding the target's credential.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, Prompt, ReadResourceRequestParams, Resource,
    ResourceTemplate, Tool,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::GatewayError;
use super::authorizer::Authorizer;
use super::credentials::TokenProvider;
use super::handler::RequestLog;
use super::jsonrpc::{self, INTERNAL_ERROR, INVALID_PARAMS};
use super::lambda_target::{self, LambdaTarget};
use super::upstream::{Upstream, UpstreamError};
use crate::invoke::Invoke;

/// The separator between target name and tool name.
pub const PREFIX_SEPARATOR: &str = "___";

/// A client request to route: its JSON-RPC id and params, the `Authorization` the interceptor
/// set (if any) and the other headers it added.
pub(crate) struct Call<'a> {
    pub(crate) id: Value,
    pub(crate) params: Option<&'a Value>,
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// One configured target.
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) credential: Option<TokenProvider>,
    pub(crate) lambda: Option<LambdaTarget>,
}

/// Everything a request needs, shared by all requests.
pub(crate) struct Gateway {
    pub(crate) authorizer: Authorizer,
    pub(crate) targets: Vec<Target>,
    pub(crate) interceptor: Option<Arc<dyn Invoke>>,
    pub(crate) interceptor_timeout: Duration,
    pub(crate) pass_request_headers: bool,
    pub(crate) upstream: Upstream,
    pub(crate) catalog: RwLock<Arc<Catalog>>,
}

/// What target synchronisation found.
#[derive(Default)]
pub(crate) struct Catalog {
    /// Tools, names prefixed.
    pub(crate) tools: Vec<Tool>,
    /// Prompts, names prefixed.
    pub(crate) prompts: Vec<Prompt>,
    /// Resources as their targets name them, with the index of the target serving each.
    pub(crate) resources: Vec<(usize, Resource)>,
    /// Resource templates as their targets name them.
    pub(crate) templates: Vec<ResourceTemplate>,
}

impl Gateway {
    /// The synced catalog.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Lists every target's tools, prompts, resources and resource templates with its own
    /// credential and replaces the catalog (all or nothing), like AgentCore's target
    /// synchronization.
    pub(crate) async fn sync_tools(&self) -> Result<usize, GatewayError> {
        let mut all = Catalog::default();
        for (index, target) in self.targets.iter().enumerate() {
            let failed = |detail: String| GatewayError::ToolSync { target: target.name.clone(), detail };
            if let Some(lambda) = &target.lambda {
                // A Lambda target's tools are its configured schema: nothing to list.
                all.tools.extend(lambda.tools.iter().cloned().map(|mut tool| {
                    tool.name = format!("{}{PREFIX_SEPARATOR}{}", target.name, tool.name).into();
                    tool
                }));
                continue;
            }
            let authorization = self.credential(target).await.map_err(failed)?;
            let listing =
                self.upstream.list_all(&target.url, authorization).await.map_err(|e| failed(describe(&e)))?;
            tracing::info!(
                target_name = %target.name,
                tools = listing.tools.len(),
                prompts = listing.prompts.len(),
                resources = listing.resources.len(),
                "gateway synced target"
            );
            let prefixed = |name: &str| format!("{}{PREFIX_SEPARATOR}{name}", target.name);
            all.tools.extend(listing.tools.into_iter().map(|mut tool| {
                tool.name = prefixed(&tool.name).into();
                tool
            }));
            all.prompts.extend(listing.prompts.into_iter().map(|mut prompt| {
                prompt.name = prefixed(&prompt.name);
                prompt
            }));
            all.resources.extend(listing.resources.into_iter().map(|r| (index, r)));
            all.templates.extend(listing.templates);
        }
        let count = all.tools.len();
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(all);
        Ok(count)
    }

    /// The target `params.name`'s prefix names, and the params with the prefix removed; or the
    /// `-32602` error's message and data.
    fn unprefixed<P: DeserializeOwned>(
        &self,
        params: Option<&Value>,
        kind: &str,
    ) -> Result<(&Target, P), (String, Option<Value>)> {
        let name = params.and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or_default();
        let routed = name.split_once(PREFIX_SEPARATOR).and_then(|(prefix, rest)| {
            self.targets.iter().find(|t| t.name == prefix).map(|target| (target, rest))
        });
        let Some((target, rest)) = routed.filter(|(_, rest)| !rest.is_empty()) else {
            return Err((format!("unknown {kind} {name:?}"), Some(json!({"source": "gateway"}))));
        };
        let mut params = params.cloned().unwrap_or_default();
        params["name"] = json!(rest);
        let params =
            serde_json::from_value(params).map_err(|e| (format!("invalid {kind} params: {e}"), None))?;
        Ok((target, params))
    }

    /// Routes a `prompts/get` to the target its name's prefix names, without the prefix.
    pub(crate) async fn get_prompt(&self, call: Call<'_>, log: &mut RequestLog) -> Response {
        let Call { id, params, authorization, headers } = call;
        let (target, params) = match self.unprefixed::<GetPromptRequestParams>(params, "prompt") {
            Ok((target, _)) if target.lambda.is_some() => {
                let data = Some(json!({"source": "gateway"}));
                return jsonrpc::error(id, INVALID_PARAMS, "a Lambda target has no prompts", data);
            }
            Ok(routed) => routed,
            Err((message, data)) => return jsonrpc::error(id, INVALID_PARAMS, message, data),
        };
        let url = target.url.clone();
        self.relay(id, target, authorization, log, |auth| async move {
            self.upstream.session(&url, auth, headers, |c| async move { c.get_prompt(params).await }).await
        })
        .await
    }

    /// Routes a `resources/read` to the first target whose synced resources list the URI.
    pub(crate) async fn read_resource(&self, call: Call<'_>, log: &mut RequestLog) -> Response {
        let Call { id, params, authorization, headers } = call;
        let params: ReadResourceRequestParams = match params.cloned().map(serde_json::from_value) {
            Some(Ok(params)) => params,
            _ => return jsonrpc::error(id, INVALID_PARAMS, "invalid resources/read params", None),
        };
        let catalog = self.catalog();
        let Some(target) =
            catalog.resources.iter().find(|(_, r)| r.uri == params.uri).map(|(i, _)| &self.targets[*i])
        else {
            let data = json!({"source": "gateway"});
            return jsonrpc::error(id, INVALID_PARAMS, "unknown resource", Some(data));
        };
        let url = target.url.clone();
        self.relay(id, target, authorization, log, |auth| async move {
            self.upstream.session(&url, auth, headers, |c| async move { c.read_resource(params).await }).await
        })
        .await
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
    pub(crate) async fn call_tool(&self, call: Call<'_>, log: &mut RequestLog) -> Response {
        let Call { id, params, authorization, headers } = call;
        let (target, params) = match self.unprefixed::<CallToolRequestParams>(params, "tool") {
            Ok(routed) => routed,
            Err((message, data)) => return jsonrpc::error(id, INVALID_PARAMS, message, data),
        };
        if let Some(lambda) = &target.lambda {
            // Lambda targets are invoked with the gateway's IAM role: no header reaches them.
            log.target = Some(target.name.clone());
            return lambda_target::call(lambda, &target.name, id, params).await;
        }
        let url = target.url.clone();
        self.relay(id, target, authorization, log, |auth| async move {
            self.upstream.session(&url, auth, headers, |c| async move { c.call_tool(params).await }).await
        })
        .await
    }

    /// Sends one request to `target` with the interceptor's `Authorization` (or, without one,
    /// the target's own credential) and answers with its result or error.
    async fn relay<T, F, Fut>(
        &self,
        id: Value,
        target: &Target,
        authorization: Option<HeaderValue>,
        log: &mut RequestLog,
        operation: F,
    ) -> Response
    where
        T: Serialize,
        F: FnOnce(Option<HeaderValue>) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        log.target = Some(target.name.clone());
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
        match operation(authorization).await {
            Ok(result) => match serde_json::to_value(&result) {
                Ok(result) => jsonrpc::result(id, result),
                Err(e) => {
                    jsonrpc::error(id, INTERNAL_ERROR, format!("unserializable target result: {e}"), None)
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
