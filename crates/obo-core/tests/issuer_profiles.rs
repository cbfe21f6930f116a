//! Issuer profiles through the trigger, against a real loopback OpenID provider: for each profile
//! the right token is enriched, and the wrong audience, the wrong client, no audience, the
//! provider's machine token, an ID token and another tenant are each refused with a reason code.
//! Claim sets follow the provider's own documentation (cited next to each fixture); only the
//! values the test controls (issuer, audience, client, times) are replaced.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use common::{CRM_SCOPE, NOW, OBO_CLIENT, m2m_event};
use obo_core::ReasonCode;
use obo_core::clock::{ManualClock, SharedClock};
use obo_core::trigger::{Trigger, TriggerConfig};
use obo_testkit::{RsaSigner, TestServer};
use serde_json::{Value, json};

const DISCOVERY: &str = "/.well-known/openid-configuration";

/// A loopback OpenID provider serving discovery and JWKS for any issuer path registered on it.
struct Provider {
    server: TestServer,
    key: RsaSigner,
    issuers: Arc<Mutex<Vec<String>>>,
}

struct ProviderState {
    issuers: Arc<Mutex<Vec<String>>>,
    jwks: Value,
}

async fn serve(State(s): State<Arc<ProviderState>>, uri: Uri) -> Response {
    let path = uri.path();
    let issuers = s.issuers.lock().unwrap().clone();
    for issuer in issuers {
        let base_path =
            issuer.split_once("://").map(|(_, r)| r).and_then(|r| r.find('/').map(|i| &r[i..])).unwrap_or("");
        let base_path = base_path.trim_end_matches('/');
        if path == format!("{base_path}{DISCOVERY}") {
            let jwks_uri = format!("{}/keys", issuer.trim_end_matches('/'));
            return axum::Json(json!({"issuer": issuer, "jwks_uri": jwks_uri})).into_response();
        }
        if path == format!("{base_path}/keys") {
            return axum::Json(s.jwks.clone()).into_response();
        }
    }
    axum::http::StatusCode::NOT_FOUND.into_response()
}

impl Provider {
    async fn start() -> Self {
        let key = RsaSigner::generate("k1");
        let issuers = Arc::new(Mutex::new(Vec::new()));
        let state =
            Arc::new(ProviderState { issuers: issuers.clone(), jwks: obo_testkit::keys::jwks(&[&key]) });
        let server = TestServer::start(Router::new().fallback(serve).with_state(state)).await;
        Self { server, key, issuers }
    }

    /// Registers and returns the issuer `http://127.0.0.1:<port><path>`.
    fn issuer(&self, path: &str) -> String {
        let issuer = self.server.url(path);
        self.issuers.lock().unwrap().push(issuer.clone());
        issuer
    }

    fn sign(&self, claims: &Value) -> String {
        self.key.sign(claims)
    }

    fn sign_typ(&self, typ: &str, claims: &Value) -> String {
        self.key.sign_with_header(&json!({"alg": "RS256", "kid": "k1", "typ": typ}), claims)
    }
}

async fn trigger(profiles: &Value, extra: &[(&str, &str)]) -> Trigger {
    let mut env: HashMap<String, String> = [
        ("OBO_CALLER_CLIENT_IDS", OBO_CLIENT.to_owned()),
        ("OBO_ISSUER_PROFILES", profiles.to_string()),
        ("OBO_METRICS", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = TriggerConfig::from_env(&env).expect("valid profile configuration");
    let clock: SharedClock = ManualClock::at_secs(NOW);
    Trigger::new(config, clock).await.expect("trigger")
}

/// The claims the trigger adds for `token`, or the reason it refused.
async fn run(trigger: &Trigger, token: &str) -> Result<Value, ReasonCode> {
    match trigger.handle(m2m_event(OBO_CLIENT, Some(token))).await {
        Ok(event) => {
            let out = serde_json::to_value(&event.response).unwrap();
            Ok(out["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"].clone())
        }
        Err(rejection) => Err(rejection.reason),
    }
}

fn with(base: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut c = base.clone();
    f(&mut c);
    c
}

fn times(claims: &mut Value) {
    claims["iat"] = json!(NOW - 60);
    claims["exp"] = json!(NOW + 3600);
}

async fn refused(trigger: &Trigger, case: &str, token: &str, reason: ReasonCode) {
    assert_eq!(run(trigger, token).await.err(), Some(reason), "{case}");
}

#[tokio::test]
async fn auth0_access_tokens() {
    let idp = Provider::start().await;
    let iss = idp.issuer("/tenant/");
    let other_tenant = idp.issuer("/other-tenant/");
    let api = "https://test-server/api";
    let client = "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja";
    let profiles = json!({
        iss.clone(): {"profile": "auth0", "audience": api, "clients": [client]},
        other_tenant.clone(): {"profile": "auth0", "audience": "https://other/api", "clients": ["other-client"]},
    });
    let t = trigger(&profiles, &[("OBO_CLAIM_MAP", "org_id=org_id")]).await;
    // Auth0 access token profile "Auth0" (auth0.com/docs/secure/tokens/access-tokens/access-token-profiles):
    // `sub` a user id, `aud` [API identifier, <tenant>/userinfo], `azp` the client; Organizations add
    // `org_id` (auth0.com/docs/manage-users/organizations/using-tokens).
    let mut user = json!({
        "iss": iss, "sub": "auth0|6553da60a54af58e29493993",
        "aud": [api, "https://test.local.dev.auth0.com/userinfo"],
        "azp": client, "scope": "openid profile read:crm", "org_id": "org_9ybsU1dN2dKfDkBi",
    });
    times(&mut user);
    let added = run(&t, &idp.sign(&user)).await.expect("an Auth0 user's access token");
    assert_eq!(added["obo_sub"], "auth0|6553da60a54af58e29493993");
    assert_eq!(added["obo_iss"], iss.as_str());
    assert_eq!(added["obo_client_id"], client, "the client is `azp`: Auth0's `aud` is the API");
    assert_eq!(added["org_id"], "org_9ybsU1dN2dKfDkBi");
    // Same page: a client-credentials token's `sub` is `<client id>@clients`, with `gty`.
    let machine = with(&user, |c| {
        c["sub"] = json!(format!("{client}@clients"));
        c["gty"] = json!("client-credentials");
        c["aud"] = json!(api);
    });
    refused(&t, "machine token", &idp.sign(&machine), ReasonCode::SubjectIsMachine).await;
    // An ID token's `aud` is the client (auth0.com/docs/secure/tokens/id-tokens/id-token-structure).
    let id = with(&user, |c| {
        c["aud"] = json!(client);
        c["nonce"] = json!("n");
    });
    refused(&t, "ID token", &idp.sign(&id), ReasonCode::SubjectWrongAudience).await;
    let other_api = with(&user, |c| c["aud"] = json!(["https://billing/api"]));
    refused(&t, "another API of the tenant", &idp.sign(&other_api), ReasonCode::SubjectWrongAudience).await;
    let no_aud = with(&user, |c| drop(c.as_object_mut().unwrap().remove("aud")));
    refused(&t, "no audience", &idp.sign(&no_aud), ReasonCode::SubjectWrongAudience).await;
    let other_client = with(&user, |c| c["azp"] = json!("another-app"));
    refused(&t, "another client", &idp.sign(&other_client), ReasonCode::SubjectClientNotAllowed).await;
    // Another tenant (its own issuer and audience) with this tenant's audience and client.
    let tenant = with(&user, |c| c["iss"] = json!(other_tenant));
    refused(&t, "another tenant", &idp.sign(&tenant), ReasonCode::SubjectWrongAudience).await;
    let unknown_tenant = with(&user, |c| c["iss"] = json!(idp.server.url("/third/")));
    refused(&t, "an untrusted tenant", &idp.sign(&unknown_tenant), ReasonCode::SubjectIssuerNotAllowed).await;
    let delegated = with(&user, |c| c["act"] = json!({"sub": "agent"}));
    refused(&t, "already delegated", &idp.sign(&delegated), ReasonCode::SubjectAlreadyDelegated).await;
}

#[tokio::test]
async fn rfc9068_access_tokens() {
    let idp = Provider::start().await;
    let iss = idp.issuer("/as");
    let profiles = json!({iss.clone(): {"profile": "rfc9068", "audience": ["https://rs.example.com/"], "clients": ["s6BhdRkqt3"]}});
    let t = trigger(&profiles, &[]).await;
    // RFC 9068 §2.2 and its appendix example: header `typ: at+jwt`, `client_id`, `aud`, `sub`.
    let mut user = json!({"iss": iss, "sub": "5ba552d67", "aud": "https://rs.example.com/",
        "client_id": "s6BhdRkqt3", "scope": "openid profile reademail", "jti": "dbe39bf3a3ba4238a513f51d6e1691c4"});
    times(&mut user);
    let added = run(&t, &idp.sign_typ("at+jwt", &user)).await.expect("an RFC 9068 access token");
    assert_eq!(added["obo_client_id"], "s6BhdRkqt3");
    assert!(run(&t, &idp.sign_typ("application/at+jwt", &user)).await.is_ok(), "the full media type");
    refused(&t, "ID token (typ JWT)", &idp.sign_typ("JWT", &user), ReasonCode::SubjectWrongTokenUse).await;
    refused(&t, "no typ", &idp.sign(&user), ReasonCode::SubjectWrongTokenUse).await;
    // §2.2: with client credentials, `sub` is the client identifier.
    let machine = with(&user, |c| c["sub"] = json!("s6BhdRkqt3"));
    refused(&t, "machine token", &idp.sign_typ("at+jwt", &machine), ReasonCode::SubjectIsMachine).await;
    let other = with(&user, |c| c["aud"] = json!("https://other.example.com/"));
    refused(&t, "wrong audience", &idp.sign_typ("at+jwt", &other), ReasonCode::SubjectWrongAudience).await;
    let no_aud = with(&user, |c| drop(c.as_object_mut().unwrap().remove("aud")));
    refused(&t, "no audience", &idp.sign_typ("at+jwt", &no_aud), ReasonCode::SubjectWrongAudience).await;
    let client = with(&user, |c| c["client_id"] = json!("other"));
    refused(&t, "wrong client", &idp.sign_typ("at+jwt", &client), ReasonCode::SubjectClientNotAllowed).await;
}

#[tokio::test]
async fn okta_custom_authorization_server_tokens() {
    let idp = Provider::start().await;
    let iss = idp.issuer("/oauth2/default");
    let other_server = idp.issuer("/oauth2/aus2other");
    let profiles = json!({
        iss.clone(): {"profile": "okta", "audience": "api://default", "clients": ["0oa1crmclient"]},
        other_server.clone(): {"profile": "okta", "audience": "api://hr", "clients": ["0oa1hrclient"]},
    });
    let t = trigger(&profiles, &[("OBO_CLAIM_MAP", "org_id=org_id")]).await;
    // Okta access token claims (developer.okta.com/docs/concepts/tokens, "Access token" — the same
    // shape as the real token posted in groups.google.com/g/rabbitmq-users/c/O3GdCKf8soM):
    // `ver: 1`, `jti: AT.…`, `cid` the client, `uid` the user id, `scp` a list, `sub` the login.
    let mut user = json!({"ver": 1, "jti": "AT.MNAoEQ_jbKqoinrQo1D0XKjMX28U5d7ZszBceot7-Ts", "iss": iss,
        "aud": "api://default", "sub": "alice@example.com", "cid": "0oa1crmclient", "uid": "00u1alice",
        "scp": ["openid", "profile", "crm"], "auth_time": NOW - 100, "groups": ["Everyone", "crm-users"],
        "org_id": "acme"});
    times(&mut user);
    let added = run(&t, &idp.sign(&user)).await.expect("an Okta user's access token");
    assert_eq!(
        (added["obo_username"].as_str(), added["obo_client_id"].as_str()),
        (Some("alice@example.com"), Some("0oa1crmclient"))
    );
    assert_eq!(added["obo_groups"], json!(["Everyone", "crm-users"]));
    // A client-credentials token: `sub` is the client id, no `uid`.
    let machine = with(&user, |c| {
        c["sub"] = json!("0oa1crmclient");
        c.as_object_mut().unwrap().remove("uid");
    });
    refused(&t, "machine token", &idp.sign(&machine), ReasonCode::SubjectIsMachine).await;
    // Same rabbitmq-users thread: the ID token has `aud` = the client id, no `cid`.
    let id = json!({"sub": "00u1alice", "ver": 1, "iss": iss, "aud": "0oa1crmclient", "iat": NOW - 60,
        "exp": NOW + 3600, "jti": "ID.radCQMOQUmyvcTBmmIL0J6BaS60apUEiC7-vI7pOmkw", "amr": ["pwd"],
        "idp": "00o1", "preferred_username": "alice@example.com", "auth_time": NOW - 100, "at_hash": "fPlsvVszI29LU2UhDyJ9vg"});
    refused(&t, "ID token", &idp.sign(&id), ReasonCode::SubjectWrongAudience).await;
    let no_aud = with(&user, |c| drop(c.as_object_mut().unwrap().remove("aud")));
    refused(&t, "no audience", &idp.sign(&no_aud), ReasonCode::SubjectWrongAudience).await;
    let client = with(&user, |c| c["cid"] = json!("0oa1other"));
    refused(&t, "wrong client", &idp.sign(&client), ReasonCode::SubjectClientNotAllowed).await;
    let server = with(&user, |c| c["iss"] = json!(other_server));
    refused(&t, "another authorization server", &idp.sign(&server), ReasonCode::SubjectWrongAudience).await;
}

#[tokio::test]
async fn entra_v2_tokens_of_one_tenant() {
    let idp = Provider::start().await;
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let other_tid = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    let iss = idp.issuer(&format!("/{tid}/v2.0"));
    let other_iss = idp.issuer(&format!("/{other_tid}/v2.0"));
    let api = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
    let client = "4f3a2c4b-9c1e-4a2d-8f62-0f7d1a3e9b21";
    let profiles = json!({
        iss.clone(): {"profile": "entra", "audience": api, "clients": [client]},
        other_iss.clone(): {"profile": "entra", "audience": "00000000-0000-0000-0000-00000000abcd", "clients": ["x"]},
    });
    let t = trigger(&profiles, &[("OBO_CLAIM_MAP", "org_id=tid")]).await;
    // Microsoft identity platform access token claims reference (learn.microsoft.com/entra/
    // identity-platform/access-token-claims-reference): v2.0 `aud` = the API's client id, `azp`
    // the client, `scp` delegated scopes (a string), `tid`, `oid`, `ver: "2.0"`, `preferred_username`.
    let mut user = json!({"aud": api, "iss": iss, "azp": client, "azpacr": "0", "name": "Alice",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "preferred_username": "alice@contoso.com",
        "rh": "0.A", "scp": "crm.read", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "tid": tid,
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0", "roles": ["Crm.User"]});
    times(&mut user);
    let added = run(&t, &idp.sign(&user)).await.expect("an Entra user's v2.0 access token");
    assert_eq!(added["org_id"], tid, "the organization is the tenant");
    assert_eq!(added["obo_username"], "alice@contoso.com");
    assert_eq!(added["obo_groups"], json!(["Crm.User"]));
    // App-only token, as posted on learn.microsoft.com/answers/questions/256281: `roles`, no `scp`.
    let app = json!({"aud": api, "iss": iss, "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "aio": "x", "azp": client, "azpacr": "1", "oid": "2b1a", "rh": "0.A", "roles": ["API.WRITER", "API.READER"],
        "sub": "2b1a", "tid": tid, "uti": "u", "ver": "2.0"});
    refused(&t, "app-only token", &idp.sign(&app), ReasonCode::SubjectIsMachine).await;
    let idtyp = with(&user, |c| c["idtyp"] = json!("app"));
    refused(&t, "idtyp app", &idp.sign(&idtyp), ReasonCode::SubjectIsMachine).await;
    // ID token (id-token-claims-reference): `aud` is the client, no `scp`.
    let id = with(&user, |c| {
        c["aud"] = json!(client);
        c.as_object_mut().unwrap().remove("scp");
        c["nonce"] = json!("n");
    });
    refused(&t, "ID token", &idp.sign(&id), ReasonCode::SubjectWrongAudience).await;
    // A v1.0 token (`ver: 1.0`, client in `appid`) is not what this profile accepts.
    let v1 = with(&user, |c| c["ver"] = json!("1.0"));
    refused(&t, "v1.0 token", &idp.sign(&v1), ReasonCode::SubjectWrongTokenUse).await;
    // All tenants share the signing keys: a token of another tenant that names this issuer is
    // caught by `tid`; one with its own issuer by that issuer's audience and clients.
    let forged_tid = with(&user, |c| c["tid"] = json!(other_tid));
    refused(&t, "another tenant's tid", &idp.sign(&forged_tid), ReasonCode::SubjectWrongTenant).await;
    let other = with(&user, |c| {
        c["iss"] = json!(other_iss);
        c["tid"] = json!(other_tid);
    });
    refused(&t, "another tenant", &idp.sign(&other), ReasonCode::SubjectWrongAudience).await;
    let aud = with(&user, |c| c["aud"] = json!("api://other"));
    refused(&t, "wrong audience", &idp.sign(&aud), ReasonCode::SubjectWrongAudience).await;
    let no_aud = with(&user, |c| drop(c.as_object_mut().unwrap().remove("aud")));
    refused(&t, "no audience", &idp.sign(&no_aud), ReasonCode::SubjectWrongAudience).await;
    let azp = with(&user, |c| c["azp"] = json!("00000000-0000-0000-0000-000000000001"));
    refused(&t, "wrong client", &idp.sign(&azp), ReasonCode::SubjectClientNotAllowed).await;
}

#[tokio::test]
async fn keycloak_realm_tokens() {
    let idp = Provider::start().await;
    let iss = idp.issuer("/realms/acme");
    let other_realm = idp.issuer("/realms/globex");
    let profiles = json!({
        iss.clone(): {"profile": "keycloak", "audience": "crm-api", "clients": ["crm-web"]},
        other_realm.clone(): {"profile": "keycloak", "audience": "crm-api", "clients": ["other-web"]},
    });
    let t = trigger(&profiles, &[("OBO_CLAIM_MAP", "org_id=organization")]).await;
    // A Keycloak access token (server_admin guide, "Service accounts" and the payload in
    // docs.pistis-market.eu/developers/keycloak/service-accounts): `typ: Bearer`, `azp` the client,
    // `aud` (an audience mapper adds the API), `realm_access.roles`, `preferred_username`.
    let mut user = json!({"jti": "19b582b8-28c5-4a7e-ae0b-0500e11c6bd4", "iss": iss, "aud": ["crm-api", "account"],
        "sub": "d952cf23-bf92-4c8f-a3ff-4972b4f2bc5b", "typ": "Bearer", "azp": "crm-web", "acr": "1",
        "realm_access": {"roles": ["offline_access", "crm-user"]}, "scope": "openid profile email",
        "preferred_username": "alice", "organization": "acme"});
    times(&mut user);
    let added = run(&t, &idp.sign(&user)).await.expect("a Keycloak user's access token");
    assert_eq!(added["obo_groups"], json!(["offline_access", "crm-user"]), "nested roles by JSON Pointer");
    assert_eq!((added["obo_username"].as_str(), added["org_id"].as_str()), (Some("alice"), Some("acme")));
    // Service-account tokens: `preferred_username` `service-account-<client>`, a `client_id` claim.
    let machine = with(&user, |c| {
        c["preferred_username"] = json!("service-account-crm-web");
        c["client_id"] = json!("crm-web");
    });
    refused(&t, "service account token", &idp.sign(&machine), ReasonCode::SubjectIsMachine).await;
    let id = with(&user, |c| c["typ"] = json!("ID"));
    refused(&t, "ID token", &idp.sign(&id), ReasonCode::SubjectWrongTokenUse).await;
    let default_aud = with(&user, |c| c["aud"] = json!("account"));
    refused(&t, "Keycloak's default audience", &idp.sign(&default_aud), ReasonCode::SubjectWrongAudience)
        .await;
    let no_aud = with(&user, |c| drop(c.as_object_mut().unwrap().remove("aud")));
    refused(&t, "no audience", &idp.sign(&no_aud), ReasonCode::SubjectWrongAudience).await;
    let client = with(&user, |c| c["azp"] = json!("admin-cli"));
    refused(&t, "wrong client", &idp.sign(&client), ReasonCode::SubjectClientNotAllowed).await;
    let realm = with(&user, |c| c["iss"] = json!(other_realm));
    refused(&t, "another realm", &idp.sign(&realm), ReasonCode::SubjectClientNotAllowed).await;
    let roles = with(&user, |c| c["realm_access"]["roles"] = json!("crm-user"));
    refused(&t, "roles not a list", &idp.sign(&roles), ReasonCode::SubjectClaimInvalid).await;
}

#[tokio::test]
async fn generic_profiles_and_the_organization_claim() {
    let idp = Provider::start().await;
    let iss = idp.issuer("/idp");
    let profiles = json!({iss.clone(): {"profile": "generic", "audience": ["urn:crm"], "clients": ["web"],
        "client_claim": "appid", "token_type": "claim:token_type=access", "machine": ["sub=client", "!upn"],
        "username_claim": "upn", "groups_claim": ""}});
    let mut user = json!({"iss": iss, "sub": "u-1", "aud": "urn:crm", "appid": "web", "token_type": "access",
        "upn": "alice@corp", "org": "acme", "groups": ["a"]});
    times(&mut user);
    let lenient = trigger(&profiles, &[("OBO_CLAIM_MAP", "org_id=org")]).await;
    let added = run(&lenient, &idp.sign(&user)).await.expect("a generic profile's user");
    assert_eq!(
        (added["obo_username"].as_str(), added["obo_client_id"].as_str()),
        (Some("alice@corp"), Some("web"))
    );
    assert!(added.get("obo_groups").is_none(), "no groups claim configured");
    let no_org = with(&user, |c| drop(c.as_object_mut().unwrap().remove("org")));
    let added =
        run(&lenient, &idp.sign(&no_org)).await.expect("enriched without org_id when it is not required");
    assert!(added.get("org_id").is_none());
    let strict =
        trigger(&profiles, &[("OBO_CLAIM_MAP", "org_id=org"), ("OBO_REQUIRED_CLAIMS", "org_id")]).await;
    refused(&strict, "no organization, org_id required", &idp.sign(&no_org), ReasonCode::SubjectClaimMissing)
        .await;
    assert!(run(&strict, &idp.sign(&user)).await.is_ok());
    let machine = with(&user, |c| drop(c.as_object_mut().unwrap().remove("upn")));
    refused(&lenient, "machine token", &idp.sign(&machine), ReasonCode::SubjectIsMachine).await;
    let refresh = with(&user, |c| c["token_type"] = json!("refresh"));
    refused(&lenient, "another token type", &idp.sign(&refresh), ReasonCode::SubjectWrongTokenUse).await;
    let _ = CRM_SCOPE;
}

/// Cold-start errors: each names `OBO_ISSUER_PROFILES` (or the variable at fault) and the problem.
#[test]
fn profiles_missing_what_they_need_stop_the_cold_start() {
    let entra = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
    type Case = (Value, &'static [(&'static str, &'static str)], &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            json!({"https://a.example/": {"profile": "auth0", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "audience",
        ),
        (
            json!({"https://a.example/": {"profile": "auth0", "audience": "x"}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "clients",
        ),
        (
            json!({"https://a.example": {"profile": "auth0", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "trailing slash",
        ),
        (
            json!({"https://a.example/x": {"profile": "generic", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "client_claim",
        ),
        (
            json!({"https://a.example/x": {"profile": "generic", "audience": "x", "clients": ["c"], "client_claim": "azp"}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "token_type",
        ),
        (
            json!({"https://a.example/x": {"profile": "generic", "audience": "x", "clients": ["c"], "client_claim": "azp", "token_type": "audience"}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "machine",
        ),
        (
            json!({"https://org.okta.com": {"profile": "okta", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "custom authorization server",
        ),
        (
            json!({"https://login.microsoftonline.com/{tenantid}/v2.0": {"profile": "entra", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "multi-tenant",
        ),
        (
            json!({"https://login.microsoftonline.com/common/v2.0": {"profile": "entra", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "multi-tenant",
        ),
        (
            json!({entra: {"profile": "entra", "audience": "x", "clients": ["c"], "tenant_claim": "tid", "tenant": "y"}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "tenant",
        ),
        (
            json!({"https://kc.example/auth": {"profile": "keycloak", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "realms",
        ),
        (
            json!({"https://a.example/x": {"profile": "saml", "audience": "x", "clients": ["c"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "unknown",
        ),
        (
            json!({"https://a.example/x": {"profile": "rfc9068", "audience": "x", "clients": ["c"], "algorithms": ["HS256"]}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "HS256",
        ),
        (
            json!({"https://a.example/x": {"profile": "rfc9068", "audience": "x", "clients": ["c"], "secret": 1}}),
            &[],
            "OBO_ISSUER_PROFILES",
            "secret",
        ),
        (
            json!({}),
            &[("OBO_SUBJECT_ISSUERS", "https://login.example.com/oauth2/default")],
            "OBO_ISSUER_PROFILES",
            "not a Cognito user pool",
        ),
        (
            json!({"https://a.example/x": {"profile": "rfc9068", "audience": "x", "clients": ["c"]}}),
            &[("OBO_REQUIRED_CLAIMS", "org_id")],
            "OBO_REQUIRED_CLAIMS",
            "org_id",
        ),
    ];
    for (profiles, extra, variable, needle) in cases {
        let mut env: HashMap<&str, &str> = HashMap::from([("OBO_CALLER_CLIENT_IDS", OBO_CLIENT)]);
        let raw = profiles.to_string();
        env.insert("OBO_ISSUER_PROFILES", &raw);
        env.extend(extra.iter().copied());
        let err = TriggerConfig::from_env(&env).expect_err(&raw);
        let text = err.to_string();
        assert!(text.contains(variable) && text.contains(needle), "{raw}: {text}");
    }
    // One Cognito issuer stays as simple as before: no profile needed.
    let env = HashMap::from([
        ("OBO_CALLER_CLIENT_IDS", OBO_CLIENT),
        ("OBO_SUBJECT_CLIENT_IDS", "web"),
        ("OBO_SUBJECT_ISSUERS", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"),
    ]);
    assert!(TriggerConfig::from_env(&env).is_ok());
    // An external issuer alone needs no OBO_SUBJECT_CLIENT_IDS: its profile names the clients.
    let raw =
        json!({"https://a.example/x": {"profile": "rfc9068", "audience": "x", "clients": ["c"]}}).to_string();
    let env = HashMap::from([("OBO_CALLER_CLIENT_IDS", OBO_CLIENT), ("OBO_ISSUER_PROFILES", raw.as_str())]);
    assert!(TriggerConfig::from_env(&env).is_ok());
}
