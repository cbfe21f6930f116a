//! RSA signing keys (RS256) and their public JWKs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Base64url without padding.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA-2048 key that signs RS256 JWTs, with a key id.
pub struct RsaSigner {
    kid: String,
    key: KeyPair,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl RsaSigner {
    /// A fresh random key.
    pub fn generate(kid: impl Into<String>) -> Self {
        let key = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        Self { kid: kid.into(), key }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, `kid`, `use: sig`, `alg: RS256`, `n`, `e`).
    pub fn jwk(&self) -> Value {
        let components: PublicKeyComponents<Vec<u8>> = self.key.public_key().into();
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": b64url(&components.n),
            "e": b64url(&components.e),
        })
    }

    /// The public key's DER bytes (SubjectPublicKeyInfo), e.g. to misuse as an HMAC secret.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// Signs `claims` with a header `{"alg":"RS256","kid":<kid>}` plus `extra_header` fields.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": "RS256", "kid": self.kid}), claims)
    }

    /// Signs `claims` under an arbitrary header (its `alg` is not looked at: always RS256).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64url(header.to_string()), b64url(claims.to_string()));
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature)
            .expect("RSA signing");
        format!("{input}.{}", b64url(signature))
    }
}

/// A JWKS document holding these keys.
pub fn jwks(signers: &[&RsaSigner]) -> Value {
    json!({"keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>()})
}

/// An HS256 token signed with `secret` (for attacks that reuse a public key as an HMAC secret).
pub fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64url(header.to_string()), b64url(claims.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(tag.as_ref()))
}
