//! The user's (subject's) token: decomposed ([`jwt`]), its issuer trusted ([`issuer`]), its key
//! fetched ([`jwks`]) and verified ([`verify`]). Shared by the trigger, the interceptor's inbound
//! check and `obo-target`.

pub mod issuer;
pub(crate) mod issuer_profile;
pub mod jwks;
pub mod jwt;
pub mod verify;
