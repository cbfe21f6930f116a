//! Cognito pre-token-generation trigger events (V2_0 and V3_0), owned here because
//! `aws_lambda_events` cannot parse the V3 `TokenGeneration_ClientCredentials` event (its
//! trigger-source enum lacks it and its claim values are strings) and its default response
//! would emit an empty `groupOverrideDetails`, which strips the user's groups.
//!
//! Parsing is lenient: unknown fields are kept (and written back), everything AWS has shown as
//! null or absent is optional, and the incoming `response` (AWS's own samples carry `[]` there)
//! is ignored.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The trigger source of machine-to-machine (client_credentials) token requests.
pub const CLIENT_CREDENTIALS: &str = "TokenGeneration_ClientCredentials";

/// The client-metadata key that carries the user's token.
pub(crate) const ON_BEHALF_OF_TOKEN: &str = "onBehalfOfToken";

/// A pre-token-generation event, as Cognito sends it and as the trigger returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreTokenEvent {
    /// Event version (`"1"`, `"2"`, `"3"`); kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
    /// `TokenGeneration_*`.
    #[serde(default)]
    pub trigger_source: String,
    /// The pool's region.
    #[serde(default)]
    pub region: String,
    /// The pool id.
    #[serde(default)]
    pub user_pool_id: String,
    /// The user name, or `ClientCredentials` for M2M requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Who asked for the token.
    #[serde(default)]
    pub caller_context: CallerContext,
    /// The request details.
    #[serde(default)]
    pub request: PreTokenRequest,
    /// The trigger's answer; the incoming value is ignored.
    #[serde(default, deserialize_with = "ignore_incoming")]
    pub response: PreTokenResponse,
    /// Fields this version does not know, written back unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl PreTokenEvent {
    /// Whether this is a machine-to-machine (client_credentials) request.
    pub fn is_client_credentials(&self) -> bool {
        self.trigger_source == CLIENT_CREDENTIALS
    }
}

/// `callerContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerContext {
    /// SDK version of the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sdk_version: Option<String>,
    /// The app client that asked for the token.
    #[serde(default)]
    pub client_id: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `request`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreTokenRequest {
    /// User attributes (`{}` for M2M requests).
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_attributes: Map<String, Value>,
    /// The user's groups (`null` for M2M requests); kept as sent (`preferredRole` has been seen
    /// as a string and as an array).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub group_configuration: Option<Value>,
    /// Granted scopes (V3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Caller-controlled, unvalidated metadata (`aws_client_metadata` for M2M requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<Map<String, Value>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `response`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreTokenResponse {
    /// `null` leaves the tokens as Cognito would issue them.
    pub claims_and_scope_override_details: Option<ClaimsAndScopeOverrideDetails>,
}

/// `claimsAndScopeOverrideDetails`: only the keys that are meant are emitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimsAndScopeOverrideDetails {
    /// ID-token changes (user flows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_generation: Option<TokenGeneration>,
    /// Access-token changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_generation: Option<TokenGeneration>,
    /// Group changes (user flows only). An empty one removes the user's groups: emit it only to
    /// copy or change the request's `groupConfiguration` (see [`group_override_copy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_override_details: Option<Value>,
}

/// `accessTokenGeneration` / `idTokenGeneration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenGeneration {
    /// Claims to add or override; values of any JSON type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_to_add_or_override: Option<Map<String, Value>>,
    /// Claims to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_to_suppress: Option<Vec<String>>,
    /// Scopes to add (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_to_add: Option<Vec<String>>,
    /// Scopes to remove (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_to_suppress: Option<Vec<String>>,
}

impl PreTokenResponse {
    /// A response that adds `claims` to the access token and changes nothing else.
    pub fn add_access_claims(claims: Map<String, Value>) -> Self {
        Self {
            claims_and_scope_override_details: Some(ClaimsAndScopeOverrideDetails {
                access_token_generation: Some(TokenGeneration {
                    claims_to_add_or_override: Some(claims),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }
}

/// The `groupOverrideDetails` that keeps the user's groups and roles as the request states them,
/// the way AWS documents it: `groupsToOverride` and `iamRolesToOverride` copied from
/// `groupConfiguration`, `preferredRole` only when it is a string (AWS's own sample event shows it
/// as an array, which the response schema does not accept). `None` when `groupConfiguration` is
/// null, absent or not an object: the key is then left out of the response.
pub(crate) fn group_override_copy(group_configuration: Option<&Value>) -> Option<Value> {
    let source = group_configuration?.as_object()?;
    let mut copy = Map::with_capacity(3);
    for key in ["groupsToOverride", "iamRolesToOverride"] {
        if let Some(list @ Value::Array(items)) = source.get(key)
            && items.iter().all(Value::is_string)
        {
            copy.insert(key.to_owned(), list.clone());
        }
    }
    if let Some(role @ Value::String(_)) = source.get("preferredRole") {
        copy.insert("preferredRole".to_owned(), role.clone());
    }
    Some(Value::Object(copy))
}

fn ignore_incoming<'de, D: Deserializer<'de>>(d: D) -> Result<PreTokenResponse, D::Error> {
    serde::de::IgnoredAny::deserialize(d)?;
    Ok(PreTokenResponse::default())
}

/// `Some` whenever the field is present, `null` included, so that it is echoed as sent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
