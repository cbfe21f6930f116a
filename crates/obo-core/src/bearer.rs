//! The one parser of `Authorization: Bearer <token>` values, used by the interceptor and by
//! `obo-target`.
//!
//! RFC 9110 §11.6.2 and RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, the scheme
//! case-insensitive. The field value's surrounding whitespace (OWS: spaces and tabs) is not part of
//! it; between scheme and token only spaces are (a tab there is refused, as is any whitespace
//! inside the token).

/// The token of an `Authorization` value whose scheme is `Bearer` in any case; `None` for another
/// scheme, an empty token, a tab between scheme and token, or whitespace inside the token.
pub fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_matches([' ', '\t']).split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let valid =
        scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(char::is_whitespace);
    valid.then_some(token)
}

#[cfg(test)]
mod tests {
    use super::parse_bearer;

    #[test]
    fn the_scheme_is_case_insensitive_and_surrounding_whitespace_ignored() {
        for v in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi ",
            " bEaReR abc.def.ghi",
            "\tBearer abc.def.ghi\t",
        ] {
            assert_eq!(parse_bearer(v), Some("abc.def.ghi"), "{v:?}");
        }
    }

    #[test]
    fn anything_but_bearer_sp_token_is_refused() {
        for v in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer ",
            "abc.def.ghi",
            "Bearer a b",
            "Bearerabc",
            "Bearer\tabc",
            "Bearer \tabc",
            "Bearer a\tb",
            "Bearer a\nb",
        ] {
            assert_eq!(parse_bearer(v), None, "{v:?}");
        }
    }
}
