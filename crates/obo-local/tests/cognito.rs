//! The Cognito emulator over real HTTP on loopback: discovery and JWKS (tokens verified with
//! obo-core's own verifier), the token endpoint (client authentication, scopes, metadata, the
//! real trigger logic in process, both trigger-error forms), token exchange, faults, and the
//! AWS JSON API through the real `aws-sdk-cognitoidentityprovider`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as sdk;
use jsonwebtoken::Algorithm;
use obo_core::clock::system_clock;
use obo_core::http::HttpClient;
use obo_core::subject::issuer::TrustedIssuer;
use obo_core::subject::jwks::{KeyStore, KeyStoreSettings};
use obo_core::subject::jwt::decompose;
use obo_core::subject::verify::{IssuerPolicy, TokenChecks, TokenVerifier};
use obo_core::trigger::{Trigger, TriggerConfig};
use obo_core::{ReasonCode, Rejection};
use obo_local::cognito::*;
use obo_local::invoke::{BoxFuture, Invoke, InvokeError};
use serde_json::{Map, Value, json};

const ALICE_PASSWORD: &str = "Alice-local-1!";

/// The real trigger logic (`obo_core::trigger::Trigger`) in process, answering as the
/// `pre-token` binary does: the event with its response, or a function error whose type is the
/// reason code and whose message starts with it.
struct InProcessTrigger(Trigger);

impl InProcessTrigger {
    async fn new(cognito: &CognitoEmulator, extra: &[(&str, &str)]) -> Arc<Self> {
        let mut env: HashMap<String, String> = HashMap::from([
            ("OBO_CALLER_CLIENT_IDS".into(), OBO_CLIENT.into()),
            ("OBO_SUBJECT_CLIENT_IDS".into(), USER_CLIENT.into()),
            ("OBO_SUBJECT_ISSUERS".into(), cognito.issuer().into()),
        ]);
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let config = TriggerConfig::from_env(&env).expect("trigger config");
        Arc::new(Self(Trigger::new(config, system_clock()).await.expect("trigger")))
    }
}

impl Invoke for InProcessTrigger {
    fn invoke(&self, event: Value, deadline: Duration) -> BoxFuture<'_, Result<Value, InvokeError>> {
        Box::pin(async move {
            match tokio::time::timeout(deadline, self.0.handle(event)).await {
                Err(_) => Err(InvokeError::Timeout(deadline)),
                Ok(Ok(answered)) => Ok(serde_json::to_value(answered).expect("event serializes")),
                Ok(Err(Rejection { reason, message })) => Err(InvokeError::Function {
                    error_type: reason.as_str().to_owned(),
                    error_message: format!("{reason}: {message}"),
                }),
            }
        })
    }
}

/// A trigger that keeps every event it receives and answers with a fixed response object.
struct RecordingTrigger {
    events: Mutex<Vec<Value>>,
    response: Value,
}

impl RecordingTrigger {
    fn new(response: Value) -> Arc<Self> {
        Arc::new(Self { events: Mutex::default(), response })
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }
}

impl Invoke for RecordingTrigger {
    fn invoke(&self, mut event: Value, _deadline: Duration) -> BoxFuture<'_, Result<Value, InvokeError>> {
        self.events.lock().unwrap().push(event.clone());
        event["response"] = self.response.clone();
        Box::pin(async move { Ok(event) })
    }
}

async fn start() -> CognitoEmulator {
    CognitoEmulator::start(PoolConfig::demo()).await.expect("emulator")
}

fn verifier(issuer: &str) -> TokenVerifier {
    let http = HttpClient::new(Duration::from_secs(2)).unwrap();
    let keys = Arc::new(KeyStore::new(http, system_clock(), KeyStoreSettings::default()));
    let checks = TokenChecks {
        issuers: IssuerPolicy::Listed(vec![TrustedIssuer::parse(issuer).unwrap()]),
        algorithms: vec![Algorithm::RS256],
        leeway_secs: 0,
        max_age_secs: None,
        max_token_bytes: 16 * 1024,
    };
    TokenVerifier::new(checks, keys, system_clock())
}

fn claims(token: &str) -> Map<String, Value> {
    decompose(token, 16 * 1024).expect("a JWT").claims
}

fn header(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn secret(cognito: &CognitoEmulator, client_id: &str) -> String {
    cognito.client_secret(client_id).expect("a machine client").expose().to_owned()
}

/// `POST /oauth2/token`; returns the status and the JSON body.
async fn token_request(
    cognito: &CognitoEmulator,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(cognito.token_endpoint()).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token endpoint");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

async fn client_credentials(
    cognito: &CognitoEmulator,
    client_id: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let secret = secret(cognito, client_id);
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    token_request(cognito, Some((client_id, &secret)), &form).await
}

async fn alice(cognito: &CognitoEmulator) -> UserTokens {
    cognito.sign_in(USER_CLIENT, "alice", ALICE_PASSWORD).await.expect("alice signs in")
}

fn obo_metadata(token: &str) -> String {
    json!({"onBehalfOfToken": token}).to_string()
}

#[tokio::test]
async fn discovery_jwks_and_user_tokens_shaped_and_signed_as_cognitos() {
    let cognito = start().await;
    assert!(
        cognito.issuer().starts_with("http://127.0.0.1:")
            && cognito.issuer().ends_with("/us-east-1_OboLocal")
    );
    let http = reqwest::Client::new();
    let discovery: Value =
        serde_json::from_str(&http.get(cognito.discovery_url()).send().await.unwrap().text().await.unwrap())
            .unwrap();
    assert_eq!(discovery["issuer"], cognito.issuer());
    assert_eq!(discovery["jwks_uri"], cognito.jwks_url());
    assert_eq!(discovery["token_endpoint"], cognito.token_endpoint());
    let jwks: Value =
        serde_json::from_str(&http.get(cognito.jwks_url()).send().await.unwrap().text().await.unwrap())
            .unwrap();
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);

    let tokens = alice(&cognito).await;
    let verifier = verifier(cognito.issuer());
    let access = verifier.verify(&tokens.access_token, None).await.expect("access token verifies");
    let id = verifier.verify(&tokens.id_token, None).await.expect("ID token verifies");
    let (access_kid, id_kid) =
        (header(&tokens.access_token)["kid"].clone(), header(&tokens.id_token)["kid"].clone());
    assert_ne!(access_kid, id_kid, "access and ID tokens use different keys");
    assert!(kids.contains(&access_kid.as_str().unwrap()) && kids.contains(&id_kid.as_str().unwrap()));
    assert!(header(&tokens.access_token).get("typ").is_none());

    let alice = cognito.config().user("alice").unwrap();
    assert_eq!(access["sub"], alice.sub.as_str());
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], USER_CLIENT);
    assert_eq!(access["username"], "alice");
    assert_eq!(access["scope"], USER_API_SCOPE);
    assert_eq!(access["cognito:groups"], json!(["crm-users"]));
    for absent in ["aud", "custom:org_id", "email"] {
        assert!(!access.contains_key(absent), "access tokens have no {absent}");
    }
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], USER_CLIENT);
    assert_eq!(id["cognito:username"], "alice");
    assert_eq!(id["custom:org_id"], "acme");
    assert_eq!(id["email"], "alice@acme.example");
    assert_eq!(id["origin_jti"], access["origin_jti"]);

    let err = cognito.sign_in(USER_CLIENT, "alice", "wrong").await.unwrap_err();
    assert_eq!(err.code, "NotAuthorizedException");
    let err = cognito.sign_in(USER_CLIENT, "carol", "Carol-local-1!").await.unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("NotAuthorizedException", "User is disabled."));
}

#[tokio::test]
async fn client_credentials_with_basic_and_post_auth_and_scope_checks() {
    let cognito = start().await;
    let verifier = verifier(cognito.issuer());

    // Basic, no scope asked: all of the client's scopes, as Cognito does.
    let (status, body) = client_credentials(&cognito, TOOL_SYNC_CLIENT, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["token_type"].as_str(), body["expires_in"].as_u64()), (Some("Bearer"), Some(3600)));
    let token = verifier.verify(body["access_token"].as_str().unwrap(), None).await.unwrap();
    assert_eq!(token["scope"], "cognito-obo/crm cognito-obo/weather");
    assert_eq!(
        (token["sub"].as_str(), token["client_id"].as_str()),
        (Some(TOOL_SYNC_CLIENT), Some(TOOL_SYNC_CLIENT))
    );
    assert_eq!(token["token_use"], "access");

    // client_secret_post, one scope.
    let secret = secret(&cognito, TOOL_SYNC_CLIENT);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", TOOL_SYNC_CLIENT),
        ("client_secret", secret.as_str()),
        ("scope", "cognito-obo/weather"),
    ];
    let (status, body) = token_request(&cognito, None, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["scope"], "cognito-obo/weather");

    // Refusals, in Cognito's OAuth form.
    let (status, body) = client_credentials(&cognito, OBO_CLIENT, &[("scope", "cognito-obo/weather")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    let (status, body) =
        token_request(&cognito, Some((OBO_CLIENT, "wrong")), &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")));
    let (status, body) =
        token_request(&cognito, None, &[("grant_type", "client_credentials"), ("client_id", USER_CLIENT)])
            .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client")),
        "a public client has no secret"
    );
    let (status, body) = client_credentials(&cognito, OBO_CLIENT, &[("grant_type", "password")]).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        token_request(&cognito, Some((OBO_CLIENT, &secret)), &[("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = client_credentials(&cognito, OBO_CLIENT, &[("aws_client_metadata", "[1]")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));

    let counters = cognito.counters();
    assert_eq!(counters.client(TOOL_SYNC_CLIENT).client_credentials, 2);
    assert_eq!(counters.client(TOOL_SYNC_CLIENT).tokens_issued, 2);
    assert_eq!(counters.client(OBO_CLIENT).tokens_issued, 0);
    assert_eq!(counters.total.client_credentials, 6);
}

#[tokio::test]
async fn the_trigger_gets_the_v3_event_with_decoded_metadata_and_its_answer_is_applied() {
    let cognito = start().await;
    let trigger = RecordingTrigger::new(json!({"claimsAndScopeOverrideDetails": {
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"org_id": "acme", "tags": ["a", "b"], "aud": OBO_CLIENT},
            "scopesToAdd": ["extra/scope"],
        },
        "idTokenGeneration": {"claimsToAddOrOverride": {"ignored_for_m2m": true}},
    }}));
    cognito.set_trigger(Some(trigger.clone()));
    let metadata = json!({"onBehalfOfToken": "a.b.c", "note": "x y&z"}).to_string();
    let (status, body) =
        client_credentials(&cognito, OBO_CLIENT, &[("aws_client_metadata", &metadata)]).await;
    assert_eq!(status, 200, "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["org_id"], "acme");
    assert_eq!(token["tags"], json!(["a", "b"]));
    assert_eq!(token["aud"], OBO_CLIENT);
    assert_eq!(token["scope"], "cognito-obo/crm extra/scope");
    assert!(!token.contains_key("ignored_for_m2m"));

    let events = trigger.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["version"], "3");
    assert_eq!(e["triggerSource"], "TokenGeneration_ClientCredentials");
    assert_eq!(e["userName"], "ClientCredentials");
    assert_eq!(
        (e["region"].as_str(), e["userPoolId"].as_str()),
        (Some("us-east-1"), Some("us-east-1_OboLocal"))
    );
    assert_eq!(e["callerContext"]["clientId"], OBO_CLIENT);
    assert_eq!(e["request"]["userAttributes"], json!({}));
    assert_eq!(e["request"]["groupConfiguration"], Value::Null);
    assert_eq!(e["request"]["scopes"], json!(["cognito-obo/crm"]));
    assert_eq!(e["request"]["clientMetadata"], json!({"onBehalfOfToken": "a.b.c", "note": "x y&z"}));
    assert_eq!(e["response"]["claimsAndScopeOverrideDetails"], Value::Null);

    // A user sign-in runs it with TokenGeneration_Authentication and the user's attributes.
    let unchanged = RecordingTrigger::new(Value::Null);
    cognito.set_trigger(Some(unchanged.clone()));
    alice(&cognito).await;
    let e = &unchanged.events()[0];
    assert_eq!(e["triggerSource"], "TokenGeneration_Authentication");
    assert_eq!(e["userName"], "alice");
    assert_eq!(e["callerContext"]["clientId"], USER_CLIENT);
    assert_eq!(e["request"]["userAttributes"]["custom:org_id"], "acme");
    assert_eq!(e["request"]["groupConfiguration"]["groupsToOverride"], json!(["crm-users"]));

    // The event log names metadata keys, never their values.
    let log: Vec<PoolEvent> = cognito.events();
    assert_eq!(log[0].metadata_keys, ["note", "onBehalfOfToken"]);
    assert!(matches!(log[0].trigger, TriggerOutcome::Answered { .. }));
    assert!(!format!("{log:?}").contains("a.b.c") && !log[0].to_string().contains("a.b.c"));
}

#[tokio::test]
async fn on_behalf_of_tokens_with_the_real_trigger_logic() {
    let cognito = start().await;
    cognito.set_trigger(Some(InProcessTrigger::new(&cognito, &[]).await));
    let user = alice(&cognito).await;
    let metadata = obo_metadata(&user.access_token);
    let (status, body) =
        client_credentials(&cognito, OBO_CLIENT, &[("aws_client_metadata", &metadata)]).await;
    assert_eq!(status, 200, "{body}");
    let minted =
        verifier(cognito.issuer()).verify(body["access_token"].as_str().unwrap(), None).await.unwrap();
    let alice = cognito.config().user("alice").unwrap();
    assert_eq!(minted["sub"], OBO_CLIENT);
    assert_eq!(minted["obo_sub"], alice.sub.as_str());
    assert_eq!(minted["obo_username"], "alice");
    assert_eq!(minted["obo_client_id"], USER_CLIENT);
    assert_eq!(minted["obo_groups"], json!(["crm-users"]));
    assert_eq!(minted["scope"], "cognito-obo/crm");

    let events = cognito.events();
    let last = events.last().unwrap();
    let text = last.to_string();
    assert!(text.contains("issued") && text.contains("obo_sub"), "{text}");
    for part in user.access_token.split('.') {
        assert!(!format!("{events:?}").contains(part), "the event log holds no token material");
    }
}

#[tokio::test]
async fn trigger_errors_in_the_described_and_the_bare_form() {
    let cognito = start().await;
    cognito.set_trigger(Some(InProcessTrigger::new(&cognito, &[]).await));
    let user = alice(&cognito).await;
    let metadata = obo_metadata(&user.access_token);

    // A machine client that may not act on behalf of users: the trigger refuses.
    let (status, body) =
        client_credentials(&cognito, OTHER_MACHINE_CLIENT, &[("aws_client_metadata", &metadata)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(
        body["error_description"],
        "PreTokenGenerationV3_0 failed with error caller_not_allowed: this app client may not act on behalf of users."
    );
    // An expired user token.
    let expired = cognito.mint_access_token("alice", &MintOptions::expired()).unwrap();
    let (_, body) =
        client_credentials(&cognito, OBO_CLIENT, &[("aws_client_metadata", &obo_metadata(&expired))]).await;
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("PreTokenGenerationV3_0 failed with error subject_expired:"),
        "{description}"
    );
    assert_eq!(ReasonCode::from_code("subject_expired"), Some(ReasonCode::SubjectExpired));

    cognito.set_trigger_error_form(TriggerErrorForm::Bare);
    let (status, body) =
        client_credentials(&cognito, OTHER_MACHINE_CLIENT, &[("aws_client_metadata", &metadata)]).await;
    assert_eq!((status, body), (400, json!({"error": "invalid_request"})));

    assert_eq!(cognito.counters().total.tokens_issued, 1, "only alice's sign-in issued tokens");
    let failed =
        cognito.events().into_iter().filter(|e| matches!(e.trigger, TriggerOutcome::Failed { .. })).count();
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn a_trigger_answer_touching_reserved_claims_fails_the_request() {
    let cognito = start().await;
    let trigger = RecordingTrigger::new(json!({"claimsAndScopeOverrideDetails": {
        "accessTokenGeneration": {"claimsToAddOrOverride": {"sub": "someone-else"}},
    }}));
    cognito.set_trigger(Some(trigger));
    let (status, body) = client_credentials(&cognito, OBO_CLIENT, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("Invalid PreTokenGenerationV3_0 response: the claim `sub`"),
        "{description}"
    );
    let err = cognito.sign_in(USER_CLIENT, "alice", ALICE_PASSWORD).await.unwrap_err();
    assert_eq!(err.code, "InvalidLambdaResponseException");
}

#[tokio::test]
async fn jwks_down_makes_the_trigger_fail_closed_and_faults_are_injected() {
    let cognito = start().await;
    let user = alice(&cognito).await;
    cognito.set_jwks_available(false);
    // A fresh trigger (cold cache) meets the JWKS outage.
    cognito.set_trigger(Some(InProcessTrigger::new(&cognito, &[]).await));
    let status = reqwest::get(cognito.jwks_url()).await.unwrap().status().as_u16();
    assert_eq!(status, 503);
    let metadata = obo_metadata(&user.access_token);
    let (status, body) =
        client_credentials(&cognito, OBO_CLIENT, &[("aws_client_metadata", &metadata)]).await;
    assert_eq!(status, 400);
    assert!(body["error_description"].as_str().unwrap().contains("jwks_unavailable"), "{body}");
    cognito.set_jwks_available(true);

    cognito.set_trigger(None);
    cognito.fail_token_requests(429, 2);
    for _ in 0..2 {
        let (status, body) = client_credentials(&cognito, OBO_CLIENT, &[]).await;
        assert_eq!((status, body["error"].as_str()), (429, Some("too_many_requests")));
    }
    assert_eq!(client_credentials(&cognito, OBO_CLIENT, &[]).await.0, 200);
    cognito.fail_token_requests(500, 1);
    assert_eq!(client_credentials(&cognito, OBO_CLIENT, &[]).await.0, 500);
    let counts = cognito.counters().client(OBO_CLIENT);
    assert_eq!((counts.client_credentials, counts.tokens_issued), (5, 1));
}

#[tokio::test]
async fn minted_tokens_for_negative_tests() {
    let cognito = start().await;
    let verifier = verifier(cognito.issuer());
    let good = cognito.mint_access_token("bob", &MintOptions::default()).unwrap();
    let bob = verifier.verify(&good, None).await.unwrap();
    assert_eq!((bob["username"].as_str(), bob["client_id"].as_str()), (Some("bob"), Some(USER_CLIENT)));
    let reason = |r: Result<Map<String, Value>, Rejection>| r.unwrap_err().reason;
    let expired = cognito.mint_access_token("bob", &MintOptions::expired()).unwrap();
    assert_eq!(reason(verifier.verify(&expired, None).await), ReasonCode::SubjectExpired);
    let forged = cognito.mint_access_token("bob", &MintOptions::default().forged()).unwrap();
    assert_eq!(reason(verifier.verify(&forged, None).await), ReasonCode::SubjectBadSignature);
    let other_pool =
        MintOptions::default().issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other");
    let other = cognito.mint_access_token("bob", &other_pool).unwrap();
    assert_eq!(reason(verifier.verify(&other, None).await), ReasonCode::SubjectIssuerNotAllowed);
    let other_client =
        cognito.mint_access_token("bob", &MintOptions::default().client(OTHER_USER_CLIENT)).unwrap();
    assert_eq!(claims(&other_client)["client_id"], OTHER_USER_CLIENT);
    let id = cognito
        .mint_id_token("carol", &MintOptions::default().claim("custom:org_id", json!("evil")))
        .unwrap();
    assert_eq!(verifier.verify(&id, None).await.unwrap()["custom:org_id"], "evil");
    assert_eq!(cognito.counters().total.tokens_issued, 0, "direct mints are not counted");
}

#[tokio::test]
async fn token_exchange_issues_the_users_token_for_the_exchanging_client() {
    let cognito = start().await;
    let trigger = RecordingTrigger::new(Value::Null);
    cognito.set_trigger(Some(trigger.clone()));
    let user = alice(&cognito).await;
    let exchange_secret = secret(&cognito, EXCHANGE_CLIENT);
    let auth = Some((EXCHANGE_CLIENT, exchange_secret.as_str()));
    let grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    let access_type = "urn:ietf:params:oauth:token-type:access_token";
    let form =
        [("grant_type", grant), ("subject_token", &user.access_token), ("subject_token_type", access_type)];
    let (status, body) = token_request(&cognito, auth, &form).await;
    assert_eq!(status, 200, "{body}");
    let exchanged =
        verifier(cognito.issuer()).verify(body["access_token"].as_str().unwrap(), None).await.unwrap();
    let alice = cognito.config().user("alice").unwrap();
    assert_eq!(exchanged["sub"], alice.sub.as_str());
    assert_eq!(exchanged["client_id"], EXCHANGE_CLIENT);
    assert_eq!(exchanged["scope"], "cognito-obo/crm");
    assert_eq!(exchanged["username"], "alice");
    assert!(exchanged["exp"].as_u64() <= claims(&user.access_token)["exp"].as_u64());
    assert!(!exchanged.contains_key("act"));
    assert_eq!(trigger.events().len(), 1, "token exchange does not run the trigger (only the sign-in did)");

    // With an actor token: an `act` claim naming the actor.
    let (_, actor) = client_credentials(&cognito, TOOL_SYNC_CLIENT, &[]).await;
    let actor = actor["access_token"].as_str().unwrap();
    let mut delegated = form.to_vec();
    delegated.extend([("actor_token", actor), ("actor_token_type", access_type)]);
    let (status, body) = token_request(&cognito, auth, &delegated).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["act"],
        json!({"sub": TOOL_SYNC_CLIENT, "client_id": TOOL_SYNC_CLIENT})
    );

    // Refusals.
    let other =
        cognito.mint_access_token("alice", &MintOptions::default().client(OTHER_USER_CLIENT)).unwrap();
    let expired = cognito.mint_access_token("alice", &MintOptions::expired()).unwrap();
    for bad in [other.as_str(), expired.as_str(), "not.a.token"] {
        let form = [("grant_type", grant), ("subject_token", bad), ("subject_token_type", access_type)];
        let (status, body) = token_request(&cognito, auth, &form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    }
    let obo_secret = secret(&cognito, OBO_CLIENT);
    let (status, body) = token_request(&cognito, Some((OBO_CLIENT, &obo_secret)), &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    assert!(cognito.sign_out("alice"));
    let (_, body) = token_request(&cognito, auth, &form).await;
    assert_eq!(body["error"], "invalid_grant", "a revoked subject token is refused");
    assert_eq!(cognito.counters().client(EXCHANGE_CLIENT).token_exchange, 6);
}

async fn sdk_client(cognito: &CognitoEmulator) -> sdk::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(sdk::config::Region::new("us-east-1"))
        .endpoint_url(cognito.base_url())
        .credentials_provider(sdk::config::Credentials::new(
            "AKIDLOCALTEST",
            "local-test-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    sdk::Client::new(&config)
}

#[tokio::test]
async fn the_real_aws_sdk_works_against_the_emulator() {
    let cognito = start().await;
    cognito.set_trigger(Some(InProcessTrigger::new(&cognito, &[]).await));
    let client = sdk_client(&cognito).await;

    let auth = client
        .initiate_auth()
        .client_id(USER_CLIENT)
        .auth_flow(sdk::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", ALICE_PASSWORD)
        .send()
        .await
        .expect("InitiateAuth");
    let result = auth.authentication_result().expect("AuthenticationResult");
    let access = result.access_token().unwrap().to_owned();
    assert!(result.id_token().is_some() && result.refresh_token().is_some());
    assert_eq!((result.expires_in(), result.token_type()), (3600, Some("Bearer")));
    assert_eq!(claims(&access)["username"], "alice");

    let err = client
        .initiate_auth()
        .client_id(USER_CLIENT)
        .auth_flow(sdk::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", "nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_not_authorized_exception(), "{err:?}");

    let obo_secret = secret(&cognito, OBO_CLIENT);
    let issued = client
        .get_client_token()
        .client_id(OBO_CLIENT)
        .secret(&obo_secret)
        .scopes("cognito-obo/crm")
        .client_metadata("onBehalfOfToken", &access)
        .send()
        .await
        .expect("GetClientToken");
    let minted = issued.client_authentication_result().expect("ClientAuthenticationResult");
    assert_eq!(minted.token_type(), Some("Bearer"));
    assert_eq!(claims(minted.access_token().unwrap())["obo_username"], "alice");
    assert_eq!(cognito.counters().client(OBO_CLIENT).get_client_token, 1);

    let refused = client
        .get_client_token()
        .client_id(OTHER_MACHINE_CLIENT)
        .secret(secret(&cognito, OTHER_MACHINE_CLIENT))
        .client_metadata("onBehalfOfToken", &access)
        .send()
        .await
        .unwrap_err();
    let meta = sdk::error::ProvideErrorMetadata::meta(&refused);
    assert_eq!(meta.code(), Some("UserLambdaValidationException"));
    assert!(meta.message().unwrap().contains("caller_not_allowed"), "{meta:?}");

    let user =
        client.admin_get_user().user_pool_id(cognito.pool_id()).username("alice").send().await.unwrap();
    let attrs: HashMap<&str, &str> =
        user.user_attributes().iter().map(|a| (a.name(), a.value().unwrap_or_default())).collect();
    assert_eq!(attrs["custom:org_id"], "acme");
    assert_eq!(attrs["sub"], cognito.config().user("alice").unwrap().sub);
    assert!(user.enabled());
    assert_eq!(user.user_status().map(|s| s.as_str()), Some("CONFIRMED"));
    let carol =
        client.admin_get_user().user_pool_id(cognito.pool_id()).username("carol").send().await.unwrap();
    assert!(!carol.enabled());
    let missing = client.admin_get_user().user_pool_id(cognito.pool_id()).username("nobody").send().await;
    assert!(missing.unwrap_err().into_service_error().is_user_not_found_exception());

    let described = client
        .describe_user_pool_client()
        .user_pool_id(cognito.pool_id())
        .client_id(OBO_CLIENT)
        .send()
        .await
        .unwrap();
    let described = described.user_pool_client().unwrap();
    assert_eq!(described.client_secret(), Some(obo_secret.as_str()));
    assert_eq!(described.allowed_o_auth_scopes(), ["cognito-obo/crm"]);

    let me = client.get_user().access_token(&access).send().await.expect("GetUser");
    assert_eq!(me.username(), "alice");
    assert!(cognito.sign_out("alice"));
    let revoked = client.get_user().access_token(&access).send().await.unwrap_err().into_service_error();
    assert!(revoked.is_not_authorized_exception(), "{revoked:?}");
    let unknown =
        client.get_user().access_token("not-a-token").send().await.unwrap_err().into_service_error();
    assert!(unknown.is_not_authorized_exception(), "{unknown:?}");
}

#[tokio::test]
async fn admin_operations_need_a_sigv4_signature() {
    let cognito = start().await;
    let response = reqwest::Client::new()
        .post(cognito.base_url())
        .header("x-amz-target", "AWSCognitoIdentityProviderService.AdminGetUser")
        .header("content-type", "application/x-amz-json-1.1")
        .body(json!({"UserPoolId": cognito.pool_id(), "Username": "alice"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
}

/// target/debug, next to this test's own executable.
fn debug_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent().and_then(|deps| deps.parent()).expect("target/debug").to_path_buf()
}

#[tokio::test]
async fn the_real_pre_token_binary_under_the_lambda_host() {
    use obo_local::lambda_host::{FunctionConfig, LambdaFunction};
    // The trigger build with the AWS SDK (`OBO_USER_LOOKUP`); `make test` builds it first.
    let binary = debug_dir().join("pre-token-lookup");
    assert!(binary.exists(), "{} is missing: `cargo build --workspace --bins` first", binary.display());
    let cognito = start().await;
    let config = FunctionConfig::new("pre-token-lookup", binary).envs([
        ("OBO_CALLER_CLIENT_IDS", OBO_CLIENT),
        ("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT),
        ("OBO_SUBJECT_ISSUERS", cognito.issuer()),
        ("OBO_USER_LOOKUP", "admin-get-user"),
        ("OBO_CLAIM_MAP", "org_id=@custom:org_id"),
        // The SDK inside the binary finds the emulator the way users point it anywhere.
        ("AWS_ENDPOINT_URL", cognito.base_url().as_str()),
    ]);
    let function = Arc::new(LambdaFunction::start(config).await.expect("pre-token starts"));
    function.ready(Duration::from_secs(20)).await.expect("pre-token initialises");
    cognito.set_trigger(Some(function.clone()));

    let mut issued = Vec::new();
    for (name, password, org) in [("alice", ALICE_PASSWORD, "acme"), ("bob", "Bob-local-1!", "globex")] {
        let user = cognito.sign_in(USER_CLIENT, name, password).await.expect("sign-in through the trigger");
        let metadata = obo_metadata(&user.access_token);
        let (status, body) =
            client_credentials(&cognito, OBO_CLIENT, &[("aws_client_metadata", &metadata)]).await;
        assert_eq!(status, 200, "{body}");
        let minted = body["access_token"].as_str().unwrap().to_owned();
        let c = claims(&minted);
        assert_eq!(c["obo_sub"], cognito.config().user(name).unwrap().sub.as_str());
        assert_eq!(c["org_id"], org, "from AdminGetUser against the emulator");
        issued.extend([user.access_token, user.id_token, minted]);
    }
    let user = alice(&cognito).await;
    let (status, body) = client_credentials(
        &cognito,
        OTHER_MACHINE_CLIENT,
        &[("aws_client_metadata", &obo_metadata(&user.access_token))],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error_description"].as_str().unwrap().contains("caller_not_allowed"), "{body}");
    issued.push(user.access_token);

    assert_eq!(cognito.events().iter().filter(|e| e.operation == Operation::AdminGetUser).count(), 2);
    let logs = function.logs().join("\n");
    assert!(logs.contains("pre-token trigger answered"), "{logs}");
    for token in &issued {
        for part in token.split('.') {
            assert!(!logs.contains(part), "a token part appears in the function's logs");
        }
    }
    function.shutdown().await;
}
