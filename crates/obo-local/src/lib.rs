//! The local stack: the whole on-behalf-of flow on one machine, with the real Lambda binaries.

pub mod client;
pub mod cognito;
pub mod demo;
pub mod gateway;
pub mod invoke;
pub mod lambda_host;
pub mod oidc;
pub mod shared_table;
pub mod stack;
pub mod targets;
