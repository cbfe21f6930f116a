//! cognito-obo's domain library: on-behalf-of identity for Amazon Bedrock AgentCore Gateway
//! targets, built on Amazon Cognito. No Lambda runtime here; the binaries (`pre-token`,
//! `interceptor`) are thin wrappers around it.
//!
//! Folders by owner:
//!
//! - [`trigger`]: the Cognito pre-token-generation V3 trigger — its event types
//!   ([`trigger::event`]), which claims the minted token carries ([`trigger::claims`]), which scopes
//!   one on-behalf-of token may carry ([`trigger::scope_groups`]) and the optional user lookup.
//! - [`interceptor`]: the AgentCore Gateway REQUEST interceptor — its payloads
//!   ([`interceptor::payload`]), which target a request is for ([`interceptor::route`]), the
//!   targets' policy ([`interceptor::targets`]), token acquisition ([`interceptor::token_client`],
//!   [`interceptor::client_secret`]), the token cache ([`interceptor::token_cache`]) and the optional
//!   shared tier ([`interceptor::shared_cache`], sealed by [`interceptor::seal`]).
//! - [`delivery`]: how a target receives its token (the `Authorization` header, or the reserved
//!   `_obo_token` argument for Lambda targets); shared with `obo-target`.
//! - [`subject`]: the user's token — decomposed, its issuer trusted and profiled
//!   ([`subject::issuer_profile`]: Cognito, RFC 9068, generic and the provider presets), its key
//!   fetched, verified;
//!   shared by both Lambdas and `obo-target`.
//! - Shared: [`bearer`] (the one `Authorization: Bearer` parser), [`reason`] (the stable reason codes every rejection carries), [`invocation`] (one
//!   summary per invocation, written as its log line and its [`metrics`] line: one CloudWatch
//!   Embedded Metric Format line), [`env`](mod@env), [`http`], [`clock`],
//!   [`secret`], [`logging`], [`runtime_api`].

#[cfg(any(feature = "user-lookup", feature = "token-client"))]
mod aws;
pub mod bearer;
pub mod clock;
pub mod delivery;
pub mod env;
pub mod http;
#[cfg(feature = "lambda")]
pub mod interceptor;
#[cfg(feature = "lambda")]
pub mod invocation;
#[cfg(feature = "lambda")]
pub mod logging;
#[cfg(feature = "lambda")]
pub mod metrics;
pub(crate) mod reason;
#[cfg(feature = "lambda")]
pub mod runtime_api;
pub(crate) mod secret;
pub mod subject;
#[cfg(feature = "lambda")]
pub mod trigger;

pub use reason::{ReasonCode, Rejection};
pub use secret::Secret;
