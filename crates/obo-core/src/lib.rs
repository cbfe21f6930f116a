//! cognito-obo's domain library: on-behalf-of identity for Amazon Bedrock AgentCore Gateway
//! targets, built on Amazon Cognito. No Lambda runtime here; the binaries (`pre-token`,
//! `interceptor`) are thin wrappers around it.
//!
//! - [`trigger`]: the Cognito pre-token-generation V3 trigger's logic.
//! - [`verify`], [`jwks`], [`jwt`], [`issuer`]: subject-token verification.
//! - [`claims`]: which claims the minted token carries; [`scope_groups`]: which scopes one
//!   on-behalf-of token may carry.
//! - [`pretoken`]: Cognito trigger event types.
//! - [`reason`]: the stable reason codes every rejection carries.
//! - [`interceptor`]: the AgentCore Gateway REQUEST interceptor's logic, on top of
//!   [`gateway`] (payloads), [`route`] (which target a request is for), [`targets`] (policy), [`token_client`] (acquisition),
//!   [`client_secret`], [`token_cache`] and the optional [`shared_cache`] (sealed by [`seal`]).
//! - [`metrics`]: one CloudWatch Embedded Metric Format line per invocation of either Lambda.

pub mod claims;
pub mod client_secret;
pub mod clock;
pub mod env;
pub mod gateway;
pub mod http;
pub mod interceptor;
pub mod issuer;
pub mod jwks;
pub mod jwt;
pub mod logging;
#[cfg(feature = "user-lookup")]
pub mod lookup;
pub mod metrics;
pub mod pretoken;
pub mod reason;
pub mod route;
pub mod runtime_api;
pub mod scope_groups;
pub mod seal;
pub mod secret;
pub mod shared_cache;
pub mod targets;
pub mod token_cache;
pub mod token_client;
pub mod trigger;
pub mod verify;

pub use reason::{ReasonCode, Rejection};
pub use secret::Secret;
