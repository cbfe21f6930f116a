//! The pre-token-generation trigger as Cognito runs it (pool `LambdaVersion` `V3_0`): the V3
//! event, the invocation with Cognito's fixed 5 s deadline (no retries here), and the answer
//! applied to the tokens.
//!
//! An answer that tries to add, override or suppress a reserved claim (`sub`, `iss`, `exp`,
//! `client_id`, `scope`, any `cognito:` claim, `aud` unless equal to the client id, …) fails the
//! request as `InvalidLambdaResponseException`: the emulator is stricter than Cognito may be, so
//! that a trigger that passes here cannot depend on Cognito quietly dropping such a claim.

use std::time::{Duration, Instant};

use obo_core::trigger::claims::is_reserved;
use obo_core::trigger::event::{
    CLIENT_CREDENTIALS, CallerContext, ClaimsAndScopeOverrideDetails, PreTokenEvent, PreTokenRequest,
    PreTokenResponse, TokenGeneration,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::config::{PoolConfig, PoolUser};
use super::controls::TriggerOutcome;
use crate::invoke::{Invoke, InvokeError};

/// Cognito's fixed trigger deadline.
pub const TRIGGER_DEADLINE: Duration = Duration::from_secs(5);

/// The trigger's name in Cognito's error messages.
pub(crate) const TRIGGER_NAME: &str = "PreTokenGenerationV3_0";

/// How the trigger failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// It answered with a function error.
    Function,
    /// It timed out or crashed.
    Unavailable,
    /// Its answer cannot be applied.
    InvalidResponse,
}

/// A failed trigger: the request fails with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TriggerFailure {
    pub(crate) kind: FailureKind,
    /// The function's message, or what is wrong with its answer.
    pub(crate) message: String,
}

impl TriggerFailure {
    fn invalid(message: impl Into<String>) -> Self {
        Self { kind: FailureKind::InvalidResponse, message: message.into() }
    }

    /// The text Cognito puts in its error (`… failed with error <errorMessage>.`).
    pub(crate) fn description(&self) -> String {
        match self.kind {
            FailureKind::InvalidResponse => format!("Invalid {TRIGGER_NAME} response: {}.", self.message),
            _ => format!("{TRIGGER_NAME} failed with error {}.", self.message),
        }
    }
}

fn base_event(pool: &PoolConfig, source: &str, user_name: &str, client_id: &str) -> PreTokenEvent {
    PreTokenEvent {
        version: Some(json!("3")),
        trigger_source: source.to_owned(),
        region: pool.region().to_owned(),
        user_pool_id: pool.pool_id.clone(),
        user_name: Some(user_name.to_owned()),
        caller_context: CallerContext {
            aws_sdk_version: Some("aws-sdk-unknown-unknown".into()),
            client_id: client_id.to_owned(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The `TokenGeneration_ClientCredentials` event: no user, `groupConfiguration: null`; the
/// granted scopes, or no `scopes` field at all (`None`), as some of AWS's sample events show.
pub(crate) fn machine_event(
    pool: &PoolConfig,
    client_id: &str,
    scopes: Option<&[String]>,
    metadata: Option<Map<String, Value>>,
) -> PreTokenEvent {
    let mut event = base_event(pool, CLIENT_CREDENTIALS, "ClientCredentials", client_id);
    event.request = PreTokenRequest {
        user_attributes: Map::new(),
        group_configuration: Some(Value::Null),
        scopes: scopes.map(<[String]>::to_vec),
        client_metadata: metadata,
        ..Default::default()
    };
    event
}

/// A user event (`TokenGeneration_Authentication`, …) with the user's attributes and groups.
pub(crate) fn user_event(
    pool: &PoolConfig,
    source: &str,
    user: &PoolUser,
    client_id: &str,
    scopes: &[String],
    metadata: Option<Map<String, Value>>,
) -> PreTokenEvent {
    let mut event = base_event(pool, source, &user.username, client_id);
    let mut attributes: Map<String, Value> =
        user.all_attributes().into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    attributes.insert("cognito:user_status".into(), json!("CONFIRMED"));
    event.request = PreTokenRequest {
        user_attributes: attributes,
        group_configuration: Some(json!({
            "groupsToOverride": user.groups,
            "iamRolesToOverride": [],
            "preferredRole": null,
        })),
        scopes: Some(scopes.to_vec()),
        client_metadata: metadata,
        ..Default::default()
    };
    event.response = PreTokenResponse { claims_and_scope_override_details: None };
    event
}

/// Runs the trigger; `Ok(None)` when it leaves the tokens as they are.
pub(crate) async fn invoke(
    trigger: &dyn Invoke,
    event: &PreTokenEvent,
    outcome: &mut TriggerOutcome,
) -> Result<Option<ClaimsAndScopeOverrideDetails>, TriggerFailure> {
    let started = Instant::now();
    let raw = serde_json::to_value(event).unwrap_or(Value::Null);
    let result = match trigger.invoke(raw, TRIGGER_DEADLINE).await {
        Ok(answer) => parse_answer(&answer),
        Err(InvokeError::Function { error_message, .. }) => {
            Err(TriggerFailure { kind: FailureKind::Function, message: error_message })
        }
        Err(InvokeError::Timeout(d)) => Err(TriggerFailure {
            kind: FailureKind::Unavailable,
            message: format!("Task timed out after {:.2} seconds", d.as_secs_f64()),
        }),
        Err(InvokeError::Crashed(message)) => Err(TriggerFailure { kind: FailureKind::Unavailable, message }),
    };
    let duration = started.elapsed();
    *outcome = match &result {
        Ok(_) => TriggerOutcome::Answered { duration },
        Err(failure) => TriggerOutcome::Failed { message: failure.description(), duration },
    };
    result
}

fn parse_answer(answer: &Value) -> Result<Option<ClaimsAndScopeOverrideDetails>, TriggerFailure> {
    let Some(object) = answer.as_object() else {
        return Err(TriggerFailure::invalid("the answer is not the event object"));
    };
    match object.get("response") {
        None | Some(Value::Null) => Ok(None),
        Some(response) => {
            PreTokenResponse::deserialize(response).map(|r| r.claims_and_scope_override_details).map_err(
                |_| TriggerFailure::invalid("`response.claimsAndScopeOverrideDetails` has the wrong shape"),
            )
        }
    }
}

/// Applies `accessTokenGeneration` or `idTokenGeneration` to a token's claims. Scope changes
/// apply to access tokens only. Additions come first, then suppressions.
pub(crate) fn apply(
    claims: &mut Map<String, Value>,
    changes: Option<&TokenGeneration>,
    client_id: &str,
) -> Result<(), TriggerFailure> {
    let Some(changes) = changes else {
        return Ok(());
    };
    for (name, value) in changes.claims_to_add_or_override.iter().flatten() {
        let same_audience = name == "aud" && value.as_str() == Some(client_id);
        if is_reserved(name) && !same_audience {
            return Err(TriggerFailure::invalid(format!("the claim `{name}` cannot be added or overridden")));
        }
        claims.insert(name.clone(), value.clone());
    }
    for name in changes.claims_to_suppress.iter().flatten() {
        if is_reserved(name) {
            return Err(TriggerFailure::invalid(format!("the claim `{name}` cannot be suppressed")));
        }
        claims.remove(name);
    }
    let (add, suppress) = (changes.scopes_to_add.as_deref(), changes.scopes_to_suppress.as_deref());
    if add.is_none() && suppress.is_none() {
        return Ok(());
    }
    if claims.get("token_use").and_then(Value::as_str) != Some("access") {
        return Ok(());
    }
    let mut scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    for scope in add.into_iter().flatten().chain(suppress.into_iter().flatten()) {
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err(TriggerFailure::invalid(format!("the scope {scope:?} is not a valid scope")));
        }
    }
    for scope in add.into_iter().flatten() {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    scopes.retain(|s| !suppress.into_iter().flatten().any(|x| x == s));
    claims.insert("scope".into(), Value::String(scopes.join(" ")));
    Ok(())
}

/// Applies `groupOverrideDetails` (user flows): the groups in both tokens, the IAM roles and the
/// preferred role in the ID token. An empty list removes the claim, as Cognito does.
pub(crate) fn apply_groups(
    access: &mut Map<String, Value>,
    id: &mut Map<String, Value>,
    overrides: Option<&Value>,
) -> Result<(), TriggerFailure> {
    let Some(overrides) = overrides.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let bad = || TriggerFailure::invalid("`groupOverrideDetails` has the wrong shape");
    let object = overrides.as_object().ok_or_else(bad)?;
    let list = |name: &str| -> Result<Vec<Value>, TriggerFailure> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(items.clone()),
            Some(_) => Err(bad()),
        }
    };
    let groups = list("groupsToOverride")?;
    let roles = list("iamRolesToOverride")?;
    for claims in [&mut *access, &mut *id] {
        set_or_remove(claims, "cognito:groups", groups.clone());
    }
    set_or_remove(id, "cognito:roles", roles);
    match object.get("preferredRole") {
        None | Some(Value::Null) => {
            id.remove("cognito:preferred_role");
        }
        Some(Value::String(role)) => {
            id.insert("cognito:preferred_role".into(), json!(role));
        }
        Some(_) => return Err(bad()),
    }
    Ok(())
}

fn set_or_remove(claims: &mut Map<String, Value>, name: &str, values: Vec<Value>) {
    if values.is_empty() {
        claims.remove(name);
    } else {
        claims.insert(name.into(), Value::Array(values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: Value) -> Map<String, Value> {
        json.as_object().cloned().unwrap()
    }

    fn changes(json: Value) -> TokenGeneration {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn adds_overrides_suppresses_and_changes_scopes() {
        let mut c = claims(json!({"token_use": "access", "scope": "a b", "x": 1, "drop": true}));
        let g = changes(json!({
            "claimsToAddOrOverride": {"x": {"nested": [1, 2]}, "aud": "client-1", "org_id": "acme"},
            "claimsToSuppress": ["drop"],
            "scopesToAdd": ["c"],
            "scopesToSuppress": ["a"],
        }));
        apply(&mut c, Some(&g), "client-1").unwrap();
        assert_eq!(c["x"], json!({"nested": [1, 2]}));
        assert_eq!(c["org_id"], "acme");
        assert_eq!(c["aud"], "client-1");
        assert!(!c.contains_key("drop"));
        assert_eq!(c["scope"], "b c");
    }

    #[test]
    fn reserved_claims_fail_the_request() {
        for bad in [
            json!({"claimsToAddOrOverride": {"sub": "someone-else"}}),
            json!({"claimsToAddOrOverride": {"cognito:groups": ["admin"]}}),
            json!({"claimsToAddOrOverride": {"aud": "another-client"}}),
            json!({"claimsToAddOrOverride": {"scope": "admin"}}),
            json!({"claimsToSuppress": ["exp"]}),
            json!({"scopesToAdd": ["two words"]}),
        ] {
            let mut c = claims(json!({"token_use": "access", "sub": "u"}));
            let err = apply(&mut c, Some(&changes(bad.clone())), "client-1").unwrap_err();
            assert_eq!(err.kind, FailureKind::InvalidResponse, "{bad}");
            assert!(err.description().starts_with("Invalid PreTokenGenerationV3_0 response: "));
        }
    }

    #[test]
    fn group_overrides_replace_or_remove_groups() {
        let mut access = claims(json!({"cognito:groups": ["a"]}));
        let mut id = claims(json!({"cognito:groups": ["a"]}));
        let o = json!({"groupsToOverride": ["b"], "iamRolesToOverride": [], "preferredRole": "r"});
        apply_groups(&mut access, &mut id, Some(&o)).unwrap();
        assert_eq!(access["cognito:groups"], json!(["b"]));
        assert_eq!(id["cognito:preferred_role"], "r");
        apply_groups(&mut access, &mut id, Some(&json!({}))).unwrap();
        assert!(!access.contains_key("cognito:groups") && !id.contains_key("cognito:groups"));
    }

    #[test]
    fn the_machine_event_has_cognitos_shape() {
        let pool = PoolConfig::demo();
        let mut metadata = Map::new();
        metadata.insert("onBehalfOfToken".into(), json!("t"));
        let event = machine_event(&pool, "obo-m2m", Some(&["cognito-obo/crm".into()]), Some(metadata));
        let v = serde_json::to_value(&event).unwrap();
        assert_eq!(v["version"], "3");
        assert_eq!(v["triggerSource"], "TokenGeneration_ClientCredentials");
        assert_eq!(v["userName"], "ClientCredentials");
        assert_eq!(v["userPoolId"], "us-east-1_OboLocal");
        assert_eq!(v["region"], "us-east-1");
        assert_eq!(v["callerContext"]["clientId"], "obo-m2m");
        assert_eq!(v["request"]["userAttributes"], json!({}));
        assert_eq!(v["request"]["groupConfiguration"], Value::Null);
        assert!(v["request"].as_object().unwrap().contains_key("groupConfiguration"));
        assert_eq!(v["request"]["scopes"], json!(["cognito-obo/crm"]));
        assert_eq!(v["request"]["clientMetadata"]["onBehalfOfToken"], "t");
        assert_eq!(v["response"]["claimsAndScopeOverrideDetails"], Value::Null);
        let bare = serde_json::to_value(machine_event(&pool, "obo-m2m", None, None)).unwrap();
        assert!(!bare["request"].as_object().unwrap().contains_key("scopes"), "{bare}");
    }
}
