//! `crm`: a target that acts on behalf of users. Every tool call re-validates the bearer token
//! (read from the HTTP request parts rmcp hands to the tool) as an on-behalf-of token minted for
//! this target, and answers with the user and organization it acts for; so does its prompt
//! `account_brief`. A token that does not act for a user is refused with a JSON-RPC error
//! carrying the reason code. Listing (tools, prompts) needs no user: the gateway's sync
//! credential is enough.

use std::sync::Arc;

use axum::http::request::Parts;
use obo_core::ReasonCode;
use obo_target::{OboIdentity, TargetVerifier, bearer_token};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ErrorCode, GetPromptRequestParams, GetPromptResponse, GetPromptResult, ListPromptsResult,
    PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, Role,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::TargetHandle;

/// The JSON-RPC error code of a refused on-behalf-of token (server-defined range).
pub const OBO_REFUSED: ErrorCode = ErrorCode(-32001);

/// Starts `crm` on a loopback port. `verifier` holds its trust settings (user pool issuer,
/// on-behalf-of client, its scope, service clients allowed to list tools).
pub async fn start(verifier: Arc<TargetVerifier>) -> TargetHandle {
    let guard = verifier.clone();
    super::serve("crm", move || Crm::new(verifier.clone()), Some(guard)).await
}

/// Arguments of `get_account`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct GetAccount {
    /// The account id, e.g. `A-42`.
    pub account_id: String,
}

/// The `crm` MCP server.
#[derive(Clone)]
pub struct Crm {
    verifier: Arc<TargetVerifier>,
    tool_router: ToolRouter<Self>,
}

impl Crm {
    /// A server validating tokens with `verifier`.
    pub fn new(verifier: Arc<TargetVerifier>) -> Self {
        Self { verifier, tool_router: Self::tool_router() }
    }

    /// The user this call acts for, or the JSON-RPC error refusing it.
    async fn identity(&self, parts: &Parts) -> Result<OboIdentity, ErrorData> {
        let verified = match bearer_token(&parts.headers) {
            Ok(token) => self.verifier.verify_obo(token).await,
            Err(rejection) => Err(rejection),
        };
        verified.map_err(|rejection| {
            tracing::info!(target_name = %"crm", reason = %rejection.reason, "on-behalf-of token refused");
            ErrorData::new(
                OBO_REFUSED,
                format!("on-behalf-of token refused: {rejection}"),
                Some(json!({"reason": rejection.reason.as_str()})),
            )
        })
    }
}

/// What the target saw, as the tools report it.
pub fn identity_json(who: &OboIdentity) -> Value {
    json!({
        "obo_sub": who.user_sub,
        "obo_iss": who.user_issuer,
        "username": who.username,
        "org_id": who.org_id,
        "groups": who.groups,
        "user_client_id": who.user_client_id,
        "obo_exp": who.obo_exp,
        "token_client_id": who.token.client_id,
    })
}

#[tool_router]
impl Crm {
    /// Who the call acts for.
    #[tool(description = "Who this call acts for: the user and organization from the on-behalf-of token.")]
    async fn whoami(&self, Extension(parts): Extension<Parts>) -> Result<CallToolResult, ErrorData> {
        let who = self.identity(&parts).await?;
        tracing::info!(target_name = %"crm", obo_sub = %who.user_sub, org_id = ?who.org_id, "whoami");
        Ok(CallToolResult::structured(identity_json(&who)))
    }

    /// An account of the caller's organization.
    #[tool(description = "Look up a CRM account in the organization of the user this call acts for.")]
    async fn get_account(
        &self,
        Parameters(args): Parameters<GetAccount>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = self.identity(&parts).await?;
        let Some(org) = who.org_id.as_deref() else {
            return Err(ErrorData::new(
                OBO_REFUSED,
                "the on-behalf-of token carries no organization",
                Some(json!({"reason": ReasonCode::OboClaimsMissing.as_str()})),
            ));
        };
        tracing::info!(target_name = %"crm", obo_sub = %who.user_sub, org_id = %org, "get_account");
        Ok(CallToolResult::structured(json!({
            "account": {
                "account_id": args.account_id,
                "org_id": org,
                "name": format!("{org} / {}", args.account_id),
                "owner": who.username,
            },
            "acting_for": identity_json(&who),
        })))
    }
}

/// The name of crm's prompt (the gateway lists it as `crm___account_brief`).
pub const ACCOUNT_BRIEF: &str = "account_brief";

#[tool_handler(
    router = self.tool_router,
    name = "crm",
    instructions = "Demo CRM target: acts on behalf of the signed-in user and their organization."
)]
impl rmcp::ServerHandler for Crm {
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let argument = PromptArgument::new("account_id");
        let prompt = Prompt::new(
            ACCOUNT_BRIEF,
            Some("A briefing on an account, written for the user this request acts for."),
            Some(vec![argument]),
        );
        Ok(ListPromptsResult::with_all_items(vec![prompt]))
    }

    /// The prompt needs the user: its text carries the identity the on-behalf-of token names,
    /// as JSON (so a test can read it).
    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != ACCOUNT_BRIEF {
            return Err(ErrorData::invalid_params(format!("unknown prompt {:?}", request.name), None));
        }
        let Some(parts) = context.extensions.get::<Parts>() else {
            return Err(ErrorData::internal_error("no HTTP request reached the prompt", None));
        };
        let who = self.identity(parts).await?;
        let account = request.arguments.as_ref().and_then(|a| a.get("account_id")).and_then(Value::as_str);
        tracing::info!(target_name = %"crm", obo_sub = %who.user_sub, "account_brief");
        let brief = json!({"account_id": account.unwrap_or("A-1"), "acting_for": identity_json(&who)});
        let message = PromptMessage::new_text(Role::User, brief.to_string());
        Ok(GetPromptResult::new(vec![message]).with_description("account brief").into())
    }
}
