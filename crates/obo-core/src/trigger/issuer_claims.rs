//! The trigger's claim maps per issuer profile, and the claims every on-behalf-of token must
//! carry (`OBO_REQUIRED_CLAIMS`): a user whose token lacks the organization claim is refused
//! when `org_id` is required, enriched without it otherwise.

use serde_json::{Map, Value};

use crate::env::{ConfigError, Env};
use crate::reason::{ReasonCode, Rejection};
use crate::subject::issuer_profile::ProfileName;
use crate::subject::verify::VerifierSettings;
use crate::trigger::claims::ClaimMap;

/// The claim map of each issuer with a non-Cognito profile, by issuer.
pub type IssuerClaimMaps = Vec<(String, ClaimMap)>;

/// `OBO_CLAIM_MAP` built once per issuer with a non-Cognito profile (its username, client and
/// groups claims as the defaults' sources), and the validated `OBO_REQUIRED_CLAIMS`.
pub fn claim_maps(
    env: &Env<'_>,
    verifier: &VerifierSettings,
    spec: &str,
    cognito: &ClaimMap,
) -> Result<(IssuerClaimMaps, Vec<String>), ConfigError> {
    let mut maps = Vec::new();
    for profile in verifier.profiles.listed().iter().filter(|p| p.name != ProfileName::Cognito) {
        let map = ClaimMap::obo_with(&profile.claim_defaults(), spec).map_err(|e| {
            ConfigError::new("OBO_CLAIM_MAP", format!("for issuer {:?}: {e}", profile.issuer))
        })?;
        maps.push((profile.issuer.clone(), map));
    }
    let required = env.list("OBO_REQUIRED_CLAIMS")?;
    for claim in &required {
        let mapped = |m: &ClaimMap| m.rules().iter().any(|r| &r.target == claim);
        if !mapped(cognito) && !maps.iter().any(|(_, m)| mapped(m)) {
            return Err(ConfigError::new(
                "OBO_REQUIRED_CLAIMS",
                format!("`{claim}` is not a claim OBO_CLAIM_MAP produces"),
            ));
        }
    }
    Ok((maps, required))
}

/// The claim map for a subject of issuer `iss`.
pub fn map_for<'m>(maps: &'m [(String, ClaimMap)], cognito: &'m ClaimMap, iss: &str) -> &'m ClaimMap {
    maps.iter().find(|(i, _)| i == iss).map_or(cognito, |(_, m)| m)
}

/// Every required claim is in the claims to add.
pub fn check_required(required: &[String], claims: &Map<String, Value>) -> Result<(), Rejection> {
    match required.iter().find(|c| !claims.contains_key(c.as_str())) {
        Some(missing) => Err(Rejection::new(
            ReasonCode::SubjectClaimMissing,
            format!("the user's token gives no `{missing}`, which every on-behalf-of token must carry"),
        )),
        None => Ok(()),
    }
}
