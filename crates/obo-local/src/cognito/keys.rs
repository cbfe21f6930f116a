//! The pool's signing keys: one RSA key for access tokens and another for ID tokens (as
//! Cognito has), their JWKS, and the check of the pool's own tokens (for `GetUser` and token
//! exchange), with jsonwebtoken: signature, issuer, expiry, and which key signed it.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use obo_testkit::RsaSigner;
use obo_testkit::keys::jwks;
use serde_json::{Map, Value, json};

/// Which of the pool's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An access token (`token_use: access`).
    Access,
    /// An ID token (`token_use: id`).
    Id,
}

impl TokenKind {
    fn token_use(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }
}

/// Why one of the pool's tokens was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Not a token of this pool, of this kind, or its signature does not verify.
    Invalid,
    /// It has expired.
    Expired,
}

struct Key {
    signer: RsaSigner,
    decoding: DecodingKey,
}

impl Key {
    fn generate(prefix: &str) -> Self {
        let id = obo_testkit::tokens::unique_id();
        let signer = RsaSigner::generate(format!("{prefix}-{}", &id[..8]));
        let jwk = signer.jwk();
        let n = jwk["n"].as_str().unwrap_or_default();
        let e = jwk["e"].as_str().unwrap_or_default();
        let decoding = DecodingKey::from_rsa_components(n, e).expect("the key's own public components");
        Self { signer, decoding }
    }
}

/// The access-token and ID-token keys of one pool.
pub(crate) struct PoolKeys {
    access: Key,
    id: Key,
}

impl PoolKeys {
    /// Two fresh RSA-2048 keys.
    pub(crate) fn generate() -> Self {
        Self { access: Key::generate("access"), id: Key::generate("id") }
    }

    fn key(&self, kind: TokenKind) -> &Key {
        match kind {
            TokenKind::Access => &self.access,
            TokenKind::Id => &self.id,
        }
    }

    /// The JWKS document: both public keys.
    pub(crate) fn jwks(&self) -> Value {
        jwks(&[&self.access.signer, &self.id.signer])
    }

    /// Signs claims. Access tokens carry no `typ` header (as Cognito's); ID tokens do not either.
    pub(crate) fn sign(&self, kind: TokenKind, claims: &Map<String, Value>) -> String {
        self.key(kind).signer.sign(&Value::Object(claims.clone()))
    }

    /// Signs with a key that has the right `kid` but is not in the JWKS: a forgery.
    pub(crate) fn forge(&self, kind: TokenKind, claims: &Map<String, Value>) -> String {
        let forger = RsaSigner::generate(self.key(kind).signer.kid());
        forger.sign_with_header(&json!({"alg": "RS256", "kid": forger.kid()}), &Value::Object(claims.clone()))
    }

    /// Checks one of the pool's own tokens: signed by the `kind` key, issued by `issuer`, not
    /// expired, with the matching `token_use`.
    pub(crate) fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        issuer: &str,
    ) -> Result<Map<String, Value>, TokenProblem> {
        let key = self.key(kind);
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenProblem::Invalid)?;
        if header.kid.as_deref() != Some(key.signer.kid()) || header.alg != Algorithm::RS256 {
            return Err(TokenProblem::Invalid);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenProblem::Expired,
                _ => TokenProblem::Invalid,
            },
        )?;
        if data.claims.get("token_use").and_then(Value::as_str) != Some(kind.token_use()) {
            return Err(TokenProblem::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_its_own_tokens_by_kind_and_refuses_the_rest() {
        let keys = PoolKeys::generate();
        let now = obo_testkit::tokens::now_secs();
        let claims = |token_use: &str, exp: u64| {
            json!({"iss": "http://i", "token_use": token_use, "exp": exp, "sub": "u"})
                .as_object()
                .cloned()
                .unwrap()
        };
        let access = keys.sign(TokenKind::Access, &claims("access", now + 60));
        assert_eq!(keys.verify(&access, TokenKind::Access, "http://i").unwrap()["sub"], "u");
        assert_eq!(keys.verify(&access, TokenKind::Id, "http://i"), Err(TokenProblem::Invalid));
        assert_eq!(keys.verify(&access, TokenKind::Access, "http://other"), Err(TokenProblem::Invalid));
        let expired = keys.sign(TokenKind::Access, &claims("access", now - 1));
        assert_eq!(keys.verify(&expired, TokenKind::Access, "http://i"), Err(TokenProblem::Expired));
        let wrong_use = keys.sign(TokenKind::Access, &claims("id", now + 60));
        assert_eq!(keys.verify(&wrong_use, TokenKind::Access, "http://i"), Err(TokenProblem::Invalid));
        let forged = keys.forge(TokenKind::Access, &claims("access", now + 60));
        assert_eq!(keys.verify(&forged, TokenKind::Access, "http://i"), Err(TokenProblem::Invalid));
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
    }
}
