//! cognito-obo's domain library: on-behalf-of identity for Amazon Bedrock AgentCore Gateway
//! targets, built on Amazon Cognito. No Lambda runtime here; the binaries (`pre-token`,
//! `interceptor`) are thin wrappers around it.
//!
//! Folders by owner:
//!
//! - [`trigger`]: the Cognito pre-token-generation V3 trigger — its event types
//!   ([`trigger::event`]), which claims the minted token carries ([`trigger::claims`]), which scopes
//!   one on-behalf-of token may carry ([`trigger::scope_groups`]) and the optional user lookup
//!   (through a `UserDirectory`).
//! - [`interceptor`]: the AgentCore Gateway REQUEST interceptor — its payloads
//!   ([`interceptor::payload`]), which target a request is for ([`interceptor::route`]), the
//!   targets' policy ([`interceptor::targets`]), token acquisition ([`interceptor::token_client`],
//!   [`interceptor::client_secret`]), the token cache ([`interceptor::token_cache`]) and the optional
//!   shared tier ([`interceptor::shared_cache`], sealed by [`interceptor::seal`]).
//! - `aws` (cargo feature `aws`): everything that calls the AWS SDK — the Cognito user lookup,
//!   the `GetClientToken` transport, the secret readers, the shared tier's DynamoDB store — each
//!   behind a small trait of the trigger's or the interceptor's, plugged in by `sdk` (the one
//!   place a build without the SDK differs: it refuses what needs the SDK at cold start, naming
//!   the variable).
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

#[cfg(feature = "aws")]
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
#[cfg(feature = "lambda")]
mod sdk;
pub(crate) mod secret;
pub mod subject;
#[cfg(feature = "lambda")]
pub mod trigger;

pub use reason::{ReasonCode, Rejection};
pub use secret::Secret;
