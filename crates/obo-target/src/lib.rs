//! What a Rust MCP target needs to trust a cognito-obo token and read who it acts for.
//!
//! The gateway's interceptor exchanges the user's token for a Cognito machine
//! (client_credentials) token minted *for this target*, which the pre-token trigger enriched with
//! the verified user: `obo_sub`, `obo_username`, `obo_groups`, `obo_exp`, … and the organization
//! (`org_id` by default). A target must check that token itself — never trust a header the
//! gateway could have been tricked into sending:
//!
//! 1. signature from the pinned user pool's keys, `alg`, issuer and time claims (`obo-core`'s
//!    [`TokenVerifier`](obo_core::subject::verify::TokenVerifier));
//! 2. not a user's own token (`username`, `cognito:username` or `origin_jti` without `obo_sub`):
//!    a user token reaching a target means something passed it through;
//! 3. `token_use` is `access`, `client_id` is the on-behalf-of client, `scope` holds the target's
//!    own scope (the only audience a Cognito machine token has);
//! 4. for calls that act for a user, no scope of another target (a token minted for several
//!    targets at once is refused; [`TargetConfig::with_scope_group`] names this target's other
//!    scopes), `obo_iss` among the user issuers when some are listed
//!    ([`TargetConfig::with_user_issuers`]), `obo_sub` present and `now < obo_exp` (the
//!    delegation ends when the user's token does).
//!
//! [`TargetVerifier::verify_service`] stops after step 3 and also accepts listed service clients:
//! use it for the requests that act for no user, which [`service_method_allowed`] names: the
//! lifecycle and the list methods (`tools/list`, `prompts/list`, `resources/list`,
//! `resources/templates/list`) the gateway's tool synchronisation calls with its own credential. Every rejection carries a stable [`ReasonCode`](obo_core::ReasonCode);
//! [`error_response`] turns it into `401` with `WWW-Authenticate: Bearer error="invalid_token"`.
//! No AWS SDK is involved.
//!
//! AWS Lambda targets get no header: [`TargetVerifier::verify_lambda_call`] takes the token from
//! the reserved `_obo_token` argument the interceptor sets, with the same checks
//! (docs/lambda-targets.md).
//!
//! # Example
//!
//! ```no_run
//! use obo_target::{TargetConfig, TargetVerifier, bearer_token, error_response};
//!
//! # type Error = Box<dyn std::error::Error>;
//! # async fn handle(headers: http::HeaderMap) -> Result<http::Response<String>, Error> {
//! // Once, at start-up (share it, e.g. in an `Arc` in your axum state).
//! let config = TargetConfig::new(
//!     "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
//!     "obo-machine-client-id",
//!     "crm/obo",
//! )?
//! .with_service_clients(["gateway-tool-sync-client-id"]);
//! let verifier = TargetVerifier::new(config)?;
//!
//! // Per tool call that acts for a user.
//! let identity = match bearer_token(&headers) {
//!     Ok(token) => verifier.verify_obo(token).await,
//!     Err(rejection) => Err(rejection),
//! };
//! match identity {
//!     Ok(who) => Ok(http::Response::new(format!(
//!         "acting for {} in org {:?}",
//!         who.user_sub, who.org_id
//!     ))),
//!     Err(rejection) => Ok(error_response(&rejection)), // 401 + WWW-Authenticate
//! }
//! # }
//! ```

mod bearer;
mod config;
mod lambda;
mod methods;
mod verifier;

pub use bearer::{bearer_token, error_response, parse_bearer, rejection_status, www_authenticate};
pub use config::{DEFAULT_ORG_CLAIM, TargetConfig};
pub use lambda::{LambdaToolCall, TOOL_NAME_KEY};
pub use methods::{SERVICE_METHODS, service_method_allowed};
pub use verifier::{OboIdentity, ServiceToken, TargetVerifier};
