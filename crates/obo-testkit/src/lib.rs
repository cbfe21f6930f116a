//! Test and local-stack support: RSA signing keys with their JWKs, Cognito-shaped token claims,
//! one helper for every loopback HTTP server (bound to `127.0.0.1:0`, shut down on drop), and a
//! local DynamoDB-compatible server with a throttling proxy for it.
//!
//! Real crypto throughout (aws-lc-rs): tokens signed here verify with any JOSE library.

pub mod capture;
pub mod dynamodb;
pub mod fault_proxy;
pub mod issuer;
pub mod keys;
pub mod server;
pub mod tokens;

pub use keys::RsaSigner;
pub use server::TestServer;
