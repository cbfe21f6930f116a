//! cognito-obo's domain library: on-behalf-of identity for Amazon Bedrock AgentCore Gateway
//! targets, built on Amazon Cognito. No Lambda runtime here; the binaries (`pre-token`,
//! `interceptor`) are thin wrappers around it.
//!
//! - [`trigger`]: the Cognito pre-token-generation V3 trigger's logic.
//! - [`verify`], [`jwks`], [`jwt`], [`issuer`]: subject-token verification.
//! - [`claims`]: which claims the minted token carries.
//! - [`pretoken`]: Cognito trigger event types.
//! - [`reason`]: the stable reason codes every rejection carries.

pub mod claims;
pub mod clock;
pub mod env;
pub mod http;
pub mod issuer;
pub mod jwks;
pub mod jwt;
pub mod logging;
#[cfg(feature = "user-lookup")]
pub mod lookup;
pub mod pretoken;
pub mod reason;
pub mod runtime_api;
pub mod secret;
pub mod trigger;
pub mod verify;

pub use reason::{ReasonCode, Rejection};
pub use secret::Secret;
