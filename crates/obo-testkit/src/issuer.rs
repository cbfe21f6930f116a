//! A loopback OpenID issuer: discovery and JWKS for a set of signing keys, on a real HTTP server.

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::{RsaSigner, TestServer};

/// A running issuer at `http://127.0.0.1:<port>/<pool_id>`.
pub struct StaticIssuer {
    /// The server (dropping it stops the issuer).
    pub server: TestServer,
    /// The issuer URL (the `iss` claim).
    pub issuer: String,
}

impl StaticIssuer {
    /// Serves `<issuer>/.well-known/openid-configuration` and `<issuer>/.well-known/jwks.json`.
    pub async fn start(pool_id: &str, keys: &[&RsaSigner]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let issuer = format!("http://{}/{pool_id}", listener.local_addr().expect("addr"));
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/.well-known/jwks.json")});
        let jwks = crate::keys::jwks(keys);
        let router = Router::new()
            .route(
                &format!("/{pool_id}/.well-known/openid-configuration"),
                get(move || std::future::ready(axum::Json(discovery.clone()))),
            )
            .route(
                &format!("/{pool_id}/.well-known/jwks.json"),
                get(move || std::future::ready(axum::Json(jwks.clone()))),
            );
        Self { server: TestServer::serve(listener, router), issuer }
    }
}
