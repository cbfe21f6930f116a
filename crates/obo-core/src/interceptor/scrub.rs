//! RESPONSE interceptor: minted tokens never travel back to the agent. A Lambda target that echoes
//! its event (in a result or an error) would hand its `_obo_token` to the model; so every minted
//! token found in a target's response is replaced before the gateway answers.
//!
//! A minted token is any JWT-shaped string in the response whose claims hold `obo_sub`: every
//! token the interceptor forwards carries it (it checks before forwarding). This needs no cache
//! and no request, so it works in any execution environment, and nothing the client sends can
//! choose what is replaced. Tokens are matched as they appear in the raw JSON text: a JWT needs no
//! JSON escaping, so it reads the same at any nesting depth, and it can only stand inside a JSON
//! string, so replacing it keeps the JSON valid. A target that re-encodes the token (base64,
//! escapes) defeats this, which is why the target guide forbids echoing the event at all.
//! HTTP-flavour responses (base64 bodies) are left as they are.

use serde_json::value::RawValue;

use crate::subject::jwt::unverified_claims;

/// What replaces a removed token (plain ASCII: the JSON stays valid wherever the token stood).
pub const REMOVED: &str = "[on-behalf-of token removed]";

/// The response with every minted token replaced and how many were (`Ok(None)`: there was
/// none). `Err` only if the result were not JSON, which cannot happen by construction; the
/// caller then refuses to pass the response on.
pub(super) fn scrub(
    response: &RawValue,
    max_token_bytes: usize,
) -> Result<Option<(Box<RawValue>, usize)>, ()> {
    let text = response.get();
    let mut tokens: Vec<&str> =
        jwt_candidates(text).filter(|t| carries_obo_sub(t, max_token_bytes)).collect();
    if tokens.is_empty() {
        return Ok(None);
    }
    tokens.sort_unstable();
    tokens.dedup();
    let mut out = text.to_owned();
    let mut count = 0;
    for token in tokens {
        count += out.matches(token).count();
        out = out.replace(token, REMOVED);
    }
    RawValue::from_string(out).map(|r| Some((r, count))).map_err(drop)
}

/// Every maximal run of JWT characters that starts like a JWT (`eyJ`) and has three non-empty
/// dot-separated parts.
fn jwt_candidates(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = text[from..].find("eyJ") {
            let start = from + offset;
            let mut end = start;
            while end < bytes.len() && is_jwt_byte(bytes[end]) {
                end += 1;
            }
            from = end.max(start + 3);
            let candidate = &text[start..end];
            let mut parts = candidate.split('.');
            if parts.clone().count() == 3 && parts.all(|p| !p.is_empty()) {
                return Some(candidate);
            }
        }
        None
    })
}

fn is_jwt_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

fn carries_obo_sub(token: &str, max_token_bytes: usize) -> bool {
    unverified_claims(token, max_token_bytes).is_ok_and(|claims| claims.contains_key("obo_sub"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(claims: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        format!("{header}.{}.c2lnbmF0dXJlc2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(claims))
    }

    fn raw(text: String) -> Box<RawValue> {
        RawValue::from_string(text).unwrap()
    }

    #[test]
    fn minted_tokens_are_removed_at_any_depth_and_nothing_else() {
        let minted = jwt(r#"{"obo_sub":"u1","client_id":"c"}"#);
        let user = jwt(r#"{"sub":"u1","username":"alice"}"#);
        let inner = serde_json::to_string(&serde_json::json!({"echo": {"_obo_token": minted}})).unwrap();
        let response = raw(format!(
            r#"{{"statusCode":200,"body":{{"jsonrpc":"2.0","id":1,"result":{{"content":[{{"type":"text","text":{}}}],"isError":true}},"other":"{user}","again":"x{minted}y","{minted}":12345678901234567890}}}}"#,
            serde_json::to_string(&inner).unwrap()
        ));
        let (out, count) = scrub(&response, 64 * 1024).unwrap().unwrap();
        assert_eq!(count, 3);
        assert!(!out.get().contains(&minted), "{}", out.get());
        assert!(out.get().contains(&user), "only minted tokens are removed");
        assert!(out.get().contains("12345678901234567890"), "numbers are left alone");
        let value: serde_json::Value = serde_json::from_str(out.get()).unwrap();
        assert!(value["body"]["result"]["content"][0]["text"].as_str().unwrap().contains(REMOVED));
        let clean = raw(r#"{"statusCode":200,"body":{"result":"eyJhbGciOi.x.y","n":"eyJ"}}"#.to_owned());
        assert!(matches!(scrub(&clean, 64 * 1024), Ok(None)));
    }
}
