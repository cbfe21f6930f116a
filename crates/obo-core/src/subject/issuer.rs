//! Trusted token issuers: Cognito user pools (keys straight from `<issuer>/.well-known/jwks.json`)
//! and other OpenID providers (keys located by discovery, pinned to the issuer's host).

use crate::http::{HttpError, checked_url};

/// How the signing keys of an issuer are located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// A Cognito user pool: `<issuer>/.well-known/jwks.json`, no discovery needed.
    CognitoJwks,
    /// Any other issuer: OIDC discovery at `<issuer>/.well-known/openid-configuration`, whose
    /// `issuer` must equal this one and whose `jwks_uri` must be on the same host.
    Discovery,
}

/// An issuer whose tokens may be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// How its keys are found.
    pub keys: KeyLocation,
}

impl TrustedIssuer {
    /// Parses a configured issuer: an https URL (or loopback http) without query or fragment.
    pub fn parse(raw: &str) -> Result<Self, HttpError> {
        let url = checked_url(raw)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(HttpError::UrlNotAllowed(format!("{raw:?} must not have a query or fragment")));
        }
        let keys =
            if cognito_pool_of(raw).is_some() { KeyLocation::CognitoJwks } else { KeyLocation::Discovery };
        Ok(Self { issuer: raw.to_owned(), keys })
    }

    /// The Cognito issuer forms of a pool: the classic `cognito-idp` host and the 2026
    /// `issuer-cognito-idp` host.
    pub fn for_pool(region: &str, pool_id: &str) -> [TrustedIssuer; 2] {
        let suffix = dns_suffix(region);
        ["cognito-idp", "issuer-cognito-idp"].map(|host| TrustedIssuer {
            issuer: format!("https://{host}.{region}.{suffix}/{pool_id}"),
            keys: KeyLocation::CognitoJwks,
        })
    }

    /// Where the JWKS is (Cognito) or where discovery starts (others).
    pub fn well_known_url(&self) -> String {
        let base = self.issuer.trim_end_matches('/');
        match self.keys {
            KeyLocation::CognitoJwks => format!("{base}/.well-known/jwks.json"),
            KeyLocation::Discovery => format!("{base}/.well-known/openid-configuration"),
        }
    }
}

/// The DNS suffix of the AWS partition a region belongs to.
pub(crate) fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else {
        "amazonaws.com"
    }
}

/// Whether `iss` is one of the two Cognito issuer forms of the pool `pool_id` in `region`.
/// Compares without allocating (this runs on every trigger invocation).
pub(crate) fn is_pool_issuer(iss: &str, region: &str, pool_id: &str) -> bool {
    let Some(rest) = iss.strip_prefix("https://") else {
        return false;
    };
    let rest = rest.strip_prefix("issuer-cognito-idp.").or_else(|| rest.strip_prefix("cognito-idp."));
    let Some(rest) = rest.and_then(|r| r.strip_prefix(region)).and_then(|r| r.strip_prefix('.')) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(dns_suffix(region)).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    !pool_id.is_empty() && rest == pool_id
}

/// The `(region, pool id)` of a Cognito issuer URL, if it is one.
pub(crate) fn cognito_pool_of(iss: &str) -> Option<(&str, &str)> {
    let rest = iss.strip_prefix("https://")?;
    let rest = rest.strip_prefix("issuer-cognito-idp.").or_else(|| rest.strip_prefix("cognito-idp."))?;
    let (host_rest, pool_id) = rest.split_once('/')?;
    let (region, suffix) = host_rest.split_once('.')?;
    (suffix == dns_suffix(region) && is_pool_id(pool_id) && pool_id.starts_with(region))
        .then_some((region, pool_id))
}

/// The pool id and its region from the last path segment of any issuer whose last segment looks
/// like a pool id (`<region>_<id>`): Cognito's own issuers and the local emulator's.
#[cfg_attr(not(feature = "lambda"), allow(dead_code))]
pub(crate) fn pool_in_issuer(iss: &str) -> Option<(&str, &str)> {
    let pool_id = iss.trim_end_matches('/').rsplit('/').next()?;
    if !is_pool_id(pool_id) {
        return None;
    }
    let (region, _) = pool_id.split_once('_')?;
    Some((region, pool_id))
}

/// Whether `s` is a Cognito user pool id, `<region>_<id>`: the region in lower case (letters,
/// digits, `-`, at least one `-`, as every AWS region code), the id letters and digits. The one
/// rule of the project (the interceptor's `OBO_USER_POOL_ID`, issuer parsing, the local Cognito).
pub fn is_pool_id(s: &str) -> bool {
    s.split_once('_').is_some_and(|(region, id)| {
        region.contains('-')
            && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_have_a_lower_case_region() {
        for id in ["us-east-1_AbC123", "cn-north-1_X", "us-gov-west-1_a1"] {
            assert!(is_pool_id(id), "{id}");
        }
        for id in
            ["US-EAST-1_abc", "useast1_abc", "us-east-1_", "_abc", "x", "us-east-1_a-b", "us-east-1_a_b"]
        {
            assert!(!is_pool_id(id), "{id}");
        }
    }

    #[test]
    fn pool_issuers_in_both_forms_and_partitions() {
        let [a, b] = TrustedIssuer::for_pool("us-east-1", "us-east-1_AbC");
        assert_eq!(a.issuer, "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC");
        assert_eq!(b.issuer, "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC");
        assert_eq!(
            a.well_known_url(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/.well-known/jwks.json"
        );
        let [cn, _] = TrustedIssuer::for_pool("cn-north-1", "cn-north-1_X");
        assert_eq!(cn.issuer, "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_X");
        for t in [&a, &b, &cn] {
            let (region, pool) = cognito_pool_of(&t.issuer).unwrap();
            assert!(is_pool_issuer(&t.issuer, region, pool));
        }
    }

    #[test]
    fn pool_issuer_match_is_exact() {
        let ok = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC";
        assert!(is_pool_issuer(ok, "us-east-1", "us-east-1_AbC"));
        for bad in [
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other",
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-west-2.amazonaws.com/us-east-1_AbC",
            "https://evil.com/cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com.evil.com/us-east-1_AbC",
        ] {
            assert!(!is_pool_issuer(bad, "us-east-1", "us-east-1_AbC"), "{bad}");
        }
        assert!(!is_pool_issuer(ok, "us-east-1", ""));
    }

    #[test]
    fn configured_issuers_choose_their_key_location() {
        let c = TrustedIssuer::parse("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Q1").unwrap();
        assert_eq!(c.keys, KeyLocation::CognitoJwks);
        let o = TrustedIssuer::parse("https://login.example.com/oauth2/default").unwrap();
        assert_eq!(o.keys, KeyLocation::Discovery);
        assert_eq!(
            o.well_known_url(),
            "https://login.example.com/oauth2/default/.well-known/openid-configuration"
        );
        let local = TrustedIssuer::parse("http://127.0.0.1:4000/us-east-1_LOCAL").unwrap();
        assert_eq!(local.keys, KeyLocation::Discovery);
        assert_eq!(pool_in_issuer(&local.issuer), Some(("us-east-1", "us-east-1_LOCAL")));
        assert!(TrustedIssuer::parse("http://login.example.com").is_err());
        assert!(TrustedIssuer::parse("https://login.example.com/?a=b").is_err());
    }
}
