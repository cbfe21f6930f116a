//! `weather`: a passthrough target that needs no user identity, with one tool and one plain
//! resource ([`TODAY`]). It still records every `Authorization` value it receives (no user token
//! may ever reach it) and, when given a verifier, accepts only service tokens carrying its scope.

use std::sync::Arc;

use obo_target::TargetVerifier;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

use super::TargetHandle;

/// Starts `weather` on a loopback port; with `verifier`, only its service tokens pass.
pub async fn start(verifier: Option<Arc<TargetVerifier>>) -> TargetHandle {
    super::serve("weather", Weather::new, verifier).await
}

/// Arguments of `get_forecast`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct GetForecast {
    /// The city, e.g. `Paris`.
    pub city: String,
}

/// The `weather` MCP server.
#[derive(Clone)]
pub struct Weather {
    tool_router: ToolRouter<Self>,
}

impl Default for Weather {
    fn default() -> Self {
        Self::new()
    }
}

impl Weather {
    /// A server.
    pub fn new() -> Self {
        Self { tool_router: Self::tool_router() }
    }
}

#[tool_router]
impl Weather {
    /// A fixed forecast: the point is the path the call took, not the weather.
    #[tool(description = "Tomorrow's forecast for a city.")]
    async fn get_forecast(&self, Parameters(args): Parameters<GetForecast>) -> CallToolResult {
        let len = args.city.chars().count() as i64;
        CallToolResult::structured(
            json!({"city": args.city, "forecast": "sunny", "temperature_c": 15 + len % 10}),
        )
    }
}

/// The URI of weather's one resource (resource URIs carry no target prefix).
pub const TODAY: &str = "weather://forecast/today";

#[tool_handler(router = self.tool_router, name = "weather", instructions = "Demo passthrough target.")]
impl rmcp::ServerHandler for Weather {
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut today = Resource::new(TODAY, "today");
        today.mime_type = Some("application/json".to_owned());
        Ok(ListResourcesResult::with_all_items(vec![today]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != TODAY {
            return Err(ErrorData::resource_not_found("unknown resource", None));
        }
        let text = json!({"forecast": "sunny", "temperature_c": 17}).to_string();
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, TODAY)]).into())
    }
}
