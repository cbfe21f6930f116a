//! Stable reason codes: one enum shared by both Lambdas, each code with its HTTP status and
//! whether a caller may retry. Codes are part of the public contract (logs, Lambda errors,
//! JSON-RPC `error.data.reason`): never rename one.

use std::fmt;

/// Why a request was rejected. `as_str()` is the stable wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonCode {
    /// The Lambda event does not have the expected shape.
    BadEvent,
    /// The caller app client may not act on behalf of users.
    CallerNotAllowed,
    /// No on-behalf-of (user) token was presented where one is required.
    SubjectMissing,
    /// More than one `Authorization` header was presented.
    SubjectAmbiguous,
    /// The subject token is not a well-formed JWT of acceptable size.
    SubjectMalformed,
    /// The subject token's header asks for something never honoured (`jku`, `x5u`, `jwk`, `x5c`, `crit`).
    SubjectHeaderRejected,
    /// The subject token's `alg` is not on the allow-list.
    SubjectAlgNotAllowed,
    /// The subject token's issuer is not trusted.
    SubjectIssuerNotAllowed,
    /// The subject token's key id is missing or not in the issuer's JWKS.
    SubjectUnknownKey,
    /// The subject token's signature does not verify.
    SubjectBadSignature,
    /// The subject token has expired.
    SubjectExpired,
    /// The subject token is not valid yet (`nbf` or `iat` in the future).
    SubjectNotYetValid,
    /// The subject's authentication is older than the configured maximum age.
    SubjectTooOld,
    /// A claim of the subject token is missing or of the wrong JSON type.
    SubjectClaimInvalid,
    /// The subject token's audience (`aud`) is missing or not one the issuer's profile accepts.
    SubjectWrongAudience,
    /// The subject token is from another tenant of the issuer's provider (Entra `tid`).
    SubjectWrongTenant,
    /// A claim the minted token must carry (`OBO_REQUIRED_CLAIMS`) is missing for this user.
    SubjectClaimMissing,
    /// The subject token's `token_use` is not the expected one.
    SubjectWrongTokenUse,
    /// The subject token was issued to an app client that is not allowed.
    SubjectClientNotAllowed,
    /// The subject is a machine token (`sub` equals `client_id`).
    SubjectIsMachine,
    /// The subject token is already an on-behalf-of token (carries `obo_sub`).
    SubjectAlreadyDelegated,
    /// The user is disabled or not confirmed.
    SubjectUserDisabled,
    /// The subject token was revoked (signed out) or the user is unknown.
    SubjectRevoked,
    /// The issuer's signing keys could not be fetched.
    JwksUnavailable,
    /// The identity provider (Cognito) did not answer or failed.
    IdpUnavailable,
    /// The identity provider throttled the request.
    IdpThrottled,
    /// The identity provider rejected the machine client's credentials.
    IdpClientRejected,
    /// The identity provider refused to mint the on-behalf-of token.
    OboDenied,
    /// The minted token does not carry the expected on-behalf-of claims.
    OboClaimsMissing,
    /// The claims to add exceed the configured size cap.
    ClaimsTooLarge,
    /// The token request's scopes are not all inside one target's scope group (an on-behalf-of
    /// token is for one target), or it names no scope.
    ScopeNotAllowed,
    /// A token presented to a target was not minted for it: a user's own token (sent past the
    /// gateway), or a machine token without the target's scope.
    TokenNotForTarget,
    /// The target is configured as `deny`.
    TargetDenied,
    /// The target is not listed and the default mode denies it.
    TargetUnlisted,
    /// The request's target cannot be known from the event (a resource URI an on-behalf-of
    /// target claims, a task), so no token can be minted for it and it is refused.
    TargetAmbiguous,
    /// The MCP method is not one the interceptor classifies: never passed through.
    MethodNotSupported,
    /// The component is misconfigured.
    Misconfigured,
    /// An unexpected internal failure.
    Internal,
}

impl ReasonCode {
    /// Every code, for documentation and tests.
    pub const ALL: &'static [ReasonCode] = &[
        Self::BadEvent,
        Self::CallerNotAllowed,
        Self::SubjectMissing,
        Self::SubjectAmbiguous,
        Self::SubjectMalformed,
        Self::SubjectHeaderRejected,
        Self::SubjectAlgNotAllowed,
        Self::SubjectIssuerNotAllowed,
        Self::SubjectUnknownKey,
        Self::SubjectBadSignature,
        Self::SubjectExpired,
        Self::SubjectNotYetValid,
        Self::SubjectTooOld,
        Self::SubjectClaimInvalid,
        Self::SubjectWrongTokenUse,
        Self::SubjectWrongAudience,
        Self::SubjectWrongTenant,
        Self::SubjectClaimMissing,
        Self::SubjectClientNotAllowed,
        Self::SubjectIsMachine,
        Self::SubjectAlreadyDelegated,
        Self::SubjectUserDisabled,
        Self::SubjectRevoked,
        Self::JwksUnavailable,
        Self::IdpUnavailable,
        Self::IdpThrottled,
        Self::IdpClientRejected,
        Self::OboDenied,
        Self::OboClaimsMissing,
        Self::ClaimsTooLarge,
        Self::ScopeNotAllowed,
        Self::TokenNotForTarget,
        Self::TargetDenied,
        Self::TargetUnlisted,
        Self::TargetAmbiguous,
        Self::MethodNotSupported,
        Self::Misconfigured,
        Self::Internal,
    ];

    /// The stable wire form, e.g. `subject_expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadEvent => "bad_event",
            Self::CallerNotAllowed => "caller_not_allowed",
            Self::SubjectMissing => "subject_missing",
            Self::SubjectAmbiguous => "subject_ambiguous",
            Self::SubjectMalformed => "subject_malformed",
            Self::SubjectHeaderRejected => "subject_header_rejected",
            Self::SubjectAlgNotAllowed => "subject_alg_not_allowed",
            Self::SubjectIssuerNotAllowed => "subject_issuer_not_allowed",
            Self::SubjectUnknownKey => "subject_unknown_key",
            Self::SubjectBadSignature => "subject_bad_signature",
            Self::SubjectExpired => "subject_expired",
            Self::SubjectNotYetValid => "subject_not_yet_valid",
            Self::SubjectTooOld => "subject_too_old",
            Self::SubjectClaimInvalid => "subject_claim_invalid",
            Self::SubjectWrongTokenUse => "subject_wrong_token_use",
            Self::SubjectWrongAudience => "subject_wrong_audience",
            Self::SubjectWrongTenant => "subject_wrong_tenant",
            Self::SubjectClaimMissing => "subject_claim_missing",
            Self::SubjectClientNotAllowed => "subject_client_not_allowed",
            Self::SubjectIsMachine => "subject_is_machine",
            Self::SubjectAlreadyDelegated => "subject_already_delegated",
            Self::SubjectUserDisabled => "subject_user_disabled",
            Self::SubjectRevoked => "subject_revoked",
            Self::JwksUnavailable => "jwks_unavailable",
            Self::IdpUnavailable => "idp_unavailable",
            Self::IdpThrottled => "idp_throttled",
            Self::IdpClientRejected => "idp_client_rejected",
            Self::OboDenied => "obo_denied",
            Self::OboClaimsMissing => "obo_claims_missing",
            Self::ClaimsTooLarge => "claims_too_large",
            Self::ScopeNotAllowed => "scope_not_allowed",
            Self::TokenNotForTarget => "token_not_for_target",
            Self::TargetDenied => "target_denied",
            Self::TargetUnlisted => "target_unlisted",
            Self::TargetAmbiguous => "target_ambiguous",
            Self::MethodNotSupported => "method_not_supported",
            Self::Misconfigured => "misconfigured",
            Self::Internal => "internal",
        }
    }

    /// Parses the wire form back (used to map a trigger's error seen through the token endpoint).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// The HTTP status a gateway client should see: 401 for a bad or missing user token,
    /// 403 for policy, 503 when a dependency is down or throttling, 500 for misconfiguration.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::BadEvent | Self::SubjectAmbiguous | Self::MethodNotSupported => 400,
            Self::SubjectMissing
            | Self::SubjectMalformed
            | Self::SubjectHeaderRejected
            | Self::SubjectAlgNotAllowed
            | Self::SubjectIssuerNotAllowed
            | Self::SubjectUnknownKey
            | Self::SubjectBadSignature
            | Self::SubjectExpired
            | Self::SubjectNotYetValid
            | Self::SubjectTooOld
            | Self::SubjectClaimInvalid
            | Self::SubjectWrongTokenUse
            | Self::SubjectWrongAudience
            | Self::SubjectWrongTenant
            | Self::SubjectIsMachine
            | Self::SubjectAlreadyDelegated
            | Self::SubjectRevoked
            | Self::TokenNotForTarget => 401,
            Self::CallerNotAllowed
            | Self::SubjectClientNotAllowed
            | Self::SubjectClaimMissing
            | Self::SubjectUserDisabled
            | Self::OboDenied
            | Self::ScopeNotAllowed
            | Self::TargetDenied
            | Self::TargetUnlisted
            | Self::TargetAmbiguous => 403,
            Self::JwksUnavailable | Self::IdpUnavailable | Self::IdpThrottled => 503,
            Self::IdpClientRejected
            | Self::OboClaimsMissing
            | Self::ClaimsTooLarge
            | Self::Misconfigured
            | Self::Internal => 500,
        }
    }

    /// Whether the same request may succeed if retried later.
    pub const fn retryable(self) -> bool {
        matches!(self, Self::JwksUnavailable | Self::IdpUnavailable | Self::IdpThrottled | Self::Internal)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejection: a stable reason code plus a short human message that never holds token
/// material, secrets or caller-controlled free text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Rejection {
    /// The stable reason code.
    pub reason: ReasonCode,
    /// A human message without secrets.
    pub message: String,
}

impl Rejection {
    /// A rejection with a message.
    pub fn new(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ReasonCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert_eq!(ReasonCode::from_code(code.as_str()), Some(*code));
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(ReasonCode::from_code("nope"), None);
    }

    #[test]
    fn display_starts_with_the_code() {
        let r = Rejection::new(ReasonCode::SubjectExpired, "the token has expired");
        assert_eq!(r.to_string(), "subject_expired: the token has expired");
        assert_eq!(ReasonCode::SubjectExpired.http_status(), 401);
        assert!(ReasonCode::JwksUnavailable.retryable());
        assert!(!ReasonCode::SubjectBadSignature.retryable());
    }
}
