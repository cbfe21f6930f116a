//! RESPONSE interceptor: minted tokens never travel back to the agent. A Lambda target that echoes
//! its event (in a result or an error) would hand its `_obo_token` to the model; so every minted
//! token found in a target's response is replaced before the gateway answers.
//!
//! Which strings are minted tokens: the `_obo_token` of the request the event carries (when it
//! carries one), and any JWT-shaped string in the response whose claims hold `obo_sub` (every
//! token the interceptor forwards carries it). The second needs no cache and no request, so it
//! works in any execution environment. Tokens are matched exactly, as they appear in the raw JSON
//! text (a JWT needs no JSON escaping, so it reads the same at any nesting depth); a target that
//! re-encodes the token (base64, escapes) defeats this, which is why the target guide forbids
//! echoing the event at all. HTTP-flavour responses (base64 bodies) are left as they are.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::delivery::TOKEN_ARGUMENT;
use crate::jwt::unverified_claims;

/// What replaces a removed token (plain ASCII: the JSON stays valid wherever the token stood).
pub const REMOVED: &str = "[on-behalf-of token removed]";

/// The response with every minted token replaced, and how many were; `None` when there was none.
pub(super) fn scrub(
    response: &RawValue,
    request_body: Option<&RawValue>,
    max_token_bytes: usize,
) -> Option<(Box<RawValue>, usize)> {
    let text = response.get();
    let sent = request_body.and_then(sent_token);
    replace_all(text, &collect(text, max_token_bytes, sent.as_deref()))
}

fn collect(text: &str, max_token_bytes: usize, sent: Option<&str>) -> Vec<String> {
    let mut tokens: Vec<String> = sent.map(str::to_owned).into_iter().collect();
    tokens.extend(jwt_candidates(text).filter(|t| carries_obo_sub(t, max_token_bytes)).map(str::to_owned));
    tokens
}

fn replace_all(text: &str, tokens: &[String]) -> Option<(Box<RawValue>, usize)> {
    let mut count = 0;
    let mut out = text.to_owned();
    for token in tokens {
        if token.len() < 16 {
            continue;
        }
        let found = out.matches(token.as_str()).count();
        if found > 0 {
            count += found;
            out = out.replace(token.as_str(), REMOVED);
        }
    }
    if count == 0 {
        return None;
    }
    // Replacing base64url text inside JSON strings by plain ASCII keeps the JSON valid; if it
    // ever did not, the caller refuses to answer rather than pass the token on.
    RawValue::from_string(out).ok().map(|r| (r, count))
}

/// `params.arguments._obo_token` of the request, if the event carries one as a string.
fn sent_token(body: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        params: Option<Params>,
    }
    #[derive(Deserialize)]
    struct Params {
        #[serde(default)]
        arguments: Option<serde_json::Map<String, serde_json::Value>>,
    }
    if !body.get().contains(TOKEN_ARGUMENT) {
        return None;
    }
    let body: Body = serde_json::from_str(body.get()).ok()?;
    match body.params?.arguments?.remove(TOKEN_ARGUMENT)? {
        serde_json::Value::String(token) => Some(token),
        _ => None,
    }
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
            let parts: Vec<&str> = candidate.split('.').collect();
            if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
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
    fn minted_tokens_are_removed_at_any_depth() {
        let minted = jwt(r#"{"obo_sub":"u1","client_id":"c"}"#);
        let user = jwt(r#"{"sub":"u1","username":"alice"}"#);
        let inner = serde_json::to_string(&serde_json::json!({"echo": {"_obo_token": minted}})).unwrap();
        let response = raw(format!(
            r#"{{"statusCode":200,"body":{{"jsonrpc":"2.0","id":1,"result":{{"content":[{{"type":"text","text":{}}}],"isError":true}},"other":"{user}","again":"x{minted}y"}}}}"#,
            serde_json::to_string(&inner).unwrap()
        ));
        let (out, count) = scrub(&response, None, 64 * 1024).unwrap();
        assert_eq!(count, 2);
        assert!(!out.get().contains(&minted), "{}", out.get());
        assert!(out.get().contains(&user), "only minted tokens are removed");
        let value: serde_json::Value = serde_json::from_str(out.get()).unwrap();
        assert!(value["body"]["result"]["content"][0]["text"].as_str().unwrap().contains(REMOVED));
    }

    #[test]
    fn the_sent_token_is_removed_even_when_it_is_not_a_jwt_we_can_read() {
        let sent = "opaque-token-value-0123456789";
        let request = raw(format!(
            r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"name":"b___x","arguments":{{"_obo_token":"{sent}"}}}}}}"#
        ));
        let response = raw(format!(r#"{{"statusCode":200,"body":{{"result":"{sent}"}}}}"#));
        let (out, count) = scrub(&response, Some(&request), 64 * 1024).unwrap();
        assert_eq!(count, 1);
        assert!(!out.get().contains(sent));
        let clean = raw(r#"{"statusCode":200,"body":{"result":"eyJhbGciOi.x.y"}}"#.to_owned());
        assert!(scrub(&clean, Some(&request), 64 * 1024).is_none());
    }
}
