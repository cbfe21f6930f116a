//! Where the AWS SDK-backed parts (`crate::aws`, cargo feature `aws`) are plugged into the
//! trigger and the interceptor: the one place a build with the SDK and one without differ. A
//! build without it has none of them, and its configuration refuses what would need one, naming
//! the variable (`OBO_USER_LOOKUP`, `OBO_TOKEN_TRANSPORT=sdk`, a secret ARN or pool id,
//! `OBO_SHARED_CACHE`).

use crate::interceptor::mint::SdkParts;
use crate::trigger::{UserDirectory, UserLookupSetting};

/// Whether this build has the AWS SDK-backed parts.
pub(crate) const AVAILABLE: bool = cfg!(feature = "aws");

/// The interceptor's SDK-backed parts, on the SDK configuration from the environment; `None`
/// without the SDK.
pub(crate) async fn load() -> Option<Box<dyn SdkParts>> {
    #[cfg(feature = "aws")]
    return Some(Box::new(crate::aws::load().await));
    #[cfg(not(feature = "aws"))]
    None
}

/// The trigger's user directory for `setting`: Cognito with short timeouts (the whole trigger must
/// answer Cognito within 5 s); `None` for no lookup, and without the SDK (whose configuration
/// refuses `OBO_USER_LOOKUP`).
pub(crate) async fn user_directory(setting: UserLookupSetting) -> Option<Box<dyn UserDirectory>> {
    #[cfg(feature = "aws")]
    {
        use crate::aws::user_lookup::{LookupMode, UserLookup};
        let mode = match setting {
            UserLookupSetting::None => return None,
            UserLookupSetting::AdminGetUser => LookupMode::AdminGetUser,
            UserLookupSetting::GetUser => LookupMode::GetUser,
        };
        Some(Box::new(UserLookup::from_env(mode, std::time::Duration::from_millis(1500)).await))
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = setting;
        None
    }
}
