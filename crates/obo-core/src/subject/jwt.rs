//! Taking a compact JWS apart, before anything is trusted: size cap, three base64url parts, a
//! JSON header and payload. Nothing here checks a signature; see [`crate::subject::verify`] for that.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::reason::{ReasonCode, Rejection};

/// Default cap on a token's length, checked before any parsing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Header parameters that would let a token choose its own key; never honoured, always refused.
const KEY_CHOOSING_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "crit"];

/// A JWT split into its parts. Claims are *unverified* until [`crate::subject::verify`] says otherwise.
#[derive(Debug)]
pub struct Jwt<'a> {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The header's `typ`, if it is a string (RFC 9068 access tokens: `at+jwt`).
    pub typ: Option<String>,
    /// The payload's claims.
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: the signed bytes.
    pub signing_input: &'a str,
    /// The base64url signature (may be empty: `alg: none`).
    pub signature: &'a str,
}

fn malformed(message: &str) -> Rejection {
    Rejection::new(ReasonCode::SubjectMalformed, message)
}

/// Splits and decodes `token`, refusing tokens over `max_bytes`, with other than three parts,
/// with bad base64url or JSON, or whose header names a key location (`jku`, `x5u`, `jwk`, `x5c`)
/// or critical extensions (`crit`).
pub fn decompose(token: &str, max_bytes: usize) -> Result<Jwt<'_>, Rejection> {
    if token.is_empty() {
        return Err(Rejection::new(ReasonCode::SubjectMissing, "the token is empty"));
    }
    if token.len() > max_bytes {
        return Err(malformed("the token exceeds the size limit"));
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("the token is not a JWT of three parts"));
    };
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(malformed("the token has an empty header or payload"));
    }
    if !signature.bytes().all(is_base64url) {
        return Err(malformed("the token's signature is not base64url"));
    }
    let header = decode_object(header_b64)
        .ok_or_else(|| malformed("the token's header is not a base64url JSON object"))?;
    if let Some(name) = KEY_CHOOSING_HEADERS.iter().find(|h| header.contains_key(**h)) {
        return Err(Rejection::new(
            ReasonCode::SubjectHeaderRejected,
            format!("the token's header carries `{name}`, which is never honoured"),
        ));
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(malformed("the token's header has no `alg` string")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("the token's `kid` is not a string")),
    };
    let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
    let claims = decode_object(payload_b64)
        .ok_or_else(|| malformed("the token's payload is not a base64url JSON object"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Jwt { alg, kid, typ, claims, signing_input, signature })
}

/// The claims of a token *without verifying it*: for reading `exp` or `sub` of a token that
/// another component has verified or will verify. Never use the result for a trust decision.
pub fn unverified_claims(token: &str, max_bytes: usize) -> Result<Map<String, Value>, Rejection> {
    decompose(token, max_bytes).map(|jwt| jwt.claims)
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    if !part.bytes().all(is_base64url) {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Base64url-encodes bytes without padding (for building test tokens and JWKs).
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A claim of `token` by name, or by JSON Pointer when `name` starts with `/`
/// (`/realm_access/roles`).
pub(crate) fn token_claim<'t>(token: &'t Map<String, Value>, name: &str) -> Option<&'t Value> {
    let Some(pointer) = name.strip_prefix('/') else {
        return token.get(name);
    };
    // `rest` keeps its leading `/`: a JSON Pointer into the first member's value.
    let (first, rest) = match pointer.find('/') {
        Some(i) => (&pointer[..i], Some(&pointer[i..])),
        None => (pointer, None),
    };
    let value = match first.contains('~') {
        true => token.get(&unescape_pointer(first)),
        false => token.get(first),
    }?;
    match rest {
        None => Some(value),
        Some(rest) => value.pointer(rest),
    }
}

fn unescape_pointer(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64url(header), b64url(payload), sig)
    }

    #[test]
    fn splits_a_well_formed_token() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"sub":"u"}"#, "c2ln");
        let jwt = decompose(&t, 1024).unwrap();
        assert_eq!(jwt.alg, "RS256");
        assert_eq!(jwt.kid.as_deref(), Some("k1"));
        assert_eq!(jwt.claims["sub"], "u");
        assert_eq!(jwt.signature, "c2ln");
        assert_eq!(format!("{}.{}", jwt.signing_input, jwt.signature), t);
    }

    #[test]
    fn refuses_malformed_tokens() {
        let good_h = r#"{"alg":"RS256","kid":"k"}"#;
        let cases = [
            ("a.b".to_owned(), ReasonCode::SubjectMalformed),
            ("a.b.c.d".to_owned(), ReasonCode::SubjectMalformed),
            ("not a jwt".to_owned(), ReasonCode::SubjectMalformed),
            (String::new(), ReasonCode::SubjectMissing),
            (token(good_h, "[1]", "x"), ReasonCode::SubjectMalformed),
            (token("{}", "{}", "x"), ReasonCode::SubjectMalformed),
            (token(r#"{"alg":"RS256","kid":7}"#, "{}", "x"), ReasonCode::SubjectMalformed),
            (token(r#"{"alg":"RS256","jku":"https://evil"}"#, "{}", "x"), ReasonCode::SubjectHeaderRejected),
            (token(r#"{"alg":"RS256","x5u":"https://evil"}"#, "{}", "x"), ReasonCode::SubjectHeaderRejected),
            (token(good_h, "{}", "x+y"), ReasonCode::SubjectMalformed),
            (format!("{}=.{}.x", b64url(good_h), b64url("{}")), ReasonCode::SubjectMalformed),
            ("x".repeat(2000), ReasonCode::SubjectMalformed),
        ];
        for (t, reason) in cases {
            assert_eq!(decompose(&t, 1024).unwrap_err().reason, reason, "{t}");
        }
    }
}
