//! TargetVerifier against a real loopback issuer (discovery + JWKS served by TestServer) and
//! tokens signed with real RSA keys.

use std::sync::Arc;
use std::time::Duration;

use obo_core::ReasonCode;
use obo_core::clock::ManualClock;
use obo_core::http::HttpClient;
use obo_core::subject::jwks::{KeyStore, KeyStoreSettings};
use obo_target::{TargetConfig, TargetVerifier};
use obo_testkit::issuer::StaticIssuer;
use obo_testkit::tokens::{User, access_claims, id_claims, m2m_claims};
use obo_testkit::{RsaSigner, keys};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_800_000_000;
const OBO: &str = "obo-client";
const SYNC: &str = "sync-client";
const SCOPE: &str = "crm/obo";

struct Issuer {
    _server: StaticIssuer,
    issuer: String,
    signer: RsaSigner,
    clock: Arc<ManualClock>,
}

impl Issuer {
    async fn start() -> Self {
        let signer = RsaSigner::generate("k1");
        let server = StaticIssuer::start("us-east-1_TEST", &[&signer]).await;
        Self { issuer: server.issuer.clone(), _server: server, signer, clock: ManualClock::at_secs(NOW) }
    }

    fn verifier(&self, config: impl FnOnce(TargetConfig) -> TargetConfig) -> TargetVerifier {
        let http = HttpClient::new(Duration::from_secs(1)).unwrap();
        let keys = Arc::new(KeyStore::new(http, self.clock.clone(), KeyStoreSettings::default()));
        let base = TargetConfig::new(&self.issuer, OBO, SCOPE).unwrap().with_service_clients([SYNC]);
        TargetVerifier::with_key_store(config(base), keys, self.clock.clone())
    }

    fn m2m(&self, client: &str, scopes: &[&str]) -> Value {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        m2m_claims(&self.issuer, client, &scopes, NOW, 3600)
    }

    /// An enriched token as the pre-token trigger makes it for alice of acme.
    fn obo(&self) -> Value {
        let mut claims = self.m2m(OBO, &[SCOPE]);
        let extra = json!({"obo_sub": "sub-alice", "obo_username": "alice", "obo_client_id": "web-client",
            "obo_iss": self.issuer, "obo_exp": NOW + 600, "obo_jti": "j1", "obo_groups": ["sales"],
            "org_id": "acme", "tenant": "t-1"});
        merge(&mut claims, extra);
        claims
    }

    fn sign(&self, claims: &Value) -> String {
        self.signer.sign(claims)
    }
}

fn merge(claims: &mut Value, extra: Value) {
    let map: &mut Map<String, Value> = claims.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        map.insert(k.clone(), v.clone());
    }
}

fn alice() -> User {
    User {
        sub: "sub-alice".into(),
        username: "alice".into(),
        groups: vec!["sales".into()],
        attributes: json!({"custom:org_id": "acme"}).as_object().unwrap().clone(),
    }
}

#[tokio::test]
async fn an_enriched_token_yields_the_user_and_org() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    let who = v.verify_obo(&iss.sign(&iss.obo())).await.unwrap();
    assert_eq!(who.user_sub, "sub-alice");
    assert_eq!(who.username.as_deref(), Some("alice"));
    assert_eq!(who.org_id.as_deref(), Some("acme"));
    assert_eq!(who.groups, ["sales"]);
    assert_eq!(who.user_client_id.as_deref(), Some("web-client"));
    assert_eq!(who.user_issuer.as_deref(), Some(iss.issuer.as_str()));
    assert_eq!(who.obo_exp, NOW + 600);
    assert_eq!(who.token.client_id, OBO);
    assert_eq!(who.token.scopes().collect::<Vec<_>>(), [SCOPE]);

    let tenant = iss.verifier(|c| c.with_org_claim("tenant"));
    assert_eq!(tenant.verify_obo(&iss.sign(&iss.obo())).await.unwrap().org_id.as_deref(), Some("t-1"));
}

#[tokio::test]
async fn user_tokens_are_refused_clearly() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    let access = iss.sign(&access_claims(&iss.issuer, "web-client", &alice(), NOW, 3600));
    let id = iss.sign(&id_claims(&iss.issuer, "web-client", &alice(), NOW, 3600));
    for token in [&access, &id] {
        let err = v.verify_obo(token).await.unwrap_err();
        assert_eq!(err.reason, ReasonCode::TokenNotForTarget, "{err}");
        assert!(err.message.contains("user's own token"));
        assert_eq!(v.verify_service(token).await.unwrap_err().reason, ReasonCode::TokenNotForTarget);
    }
    // Even a user token whose client happens to be the OBO client and that carries the scope.
    let mut sneaky = access_claims(&iss.issuer, OBO, &alice(), NOW, 3600);
    sneaky["scope"] = json!(SCOPE);
    let err = v.verify_obo(&iss.sign(&sneaky)).await.unwrap_err();
    assert_eq!(err.reason, ReasonCode::TokenNotForTarget);
}

#[tokio::test]
async fn service_tokens_list_tools_but_do_not_act_for_users() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    let sync = iss.sign(&iss.m2m(SYNC, &[SCOPE]));
    assert_eq!(v.verify_service(&sync).await.unwrap().client_id, SYNC);
    assert_eq!(v.verify_obo(&sync).await.unwrap_err().reason, ReasonCode::SubjectClientNotAllowed);

    // The OBO client's token without obo claims (trigger did not run): fine for listing only.
    let bare = iss.sign(&iss.m2m(OBO, &["other/x", SCOPE]));
    assert_eq!(v.verify_service(&bare).await.unwrap().client_id, OBO);
    assert_eq!(v.verify_obo(&bare).await.unwrap_err().reason, ReasonCode::OboClaimsMissing);

    let stranger = iss.sign(&iss.m2m("stranger", &[SCOPE]));
    assert_eq!(v.verify_service(&stranger).await.unwrap_err().reason, ReasonCode::SubjectClientNotAllowed);
}

#[tokio::test]
async fn scope_binds_the_token_to_this_target() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    for scopes in [&[][..], &["weather/read"], &["crm/obo-admin"], &["crm"]] {
        let mut claims = iss.obo();
        claims["scope"] = json!(scopes.join(" "));
        let err = v.verify_obo(&iss.sign(&claims)).await.unwrap_err();
        assert_eq!(err.reason, ReasonCode::TokenNotForTarget, "{scopes:?}");
    }
    let mut claims = iss.obo();
    claims.as_object_mut().unwrap().remove("scope");
    assert_eq!(v.verify_obo(&iss.sign(&claims)).await.unwrap_err().reason, ReasonCode::TokenNotForTarget);
}

#[tokio::test]
async fn a_token_for_several_targets_or_another_target_is_refused() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    // Another target's scope only, and a multi-target token (this target's scope among others).
    for scopes in [&["hr/obo"][..], &[SCOPE, "hr/obo"], &["hr/obo", SCOPE]] {
        let mut claims = iss.obo();
        claims["scope"] = json!(scopes.join(" "));
        let err = v.verify_obo(&iss.sign(&claims)).await.unwrap_err();
        assert_eq!(err.reason, ReasonCode::TokenNotForTarget, "{scopes:?}");
    }
    // This target's own group: its other scopes are fine, another target's still are not.
    let grouped = iss.verifier(|c| c.with_scope_group(["crm/write"]).unwrap());
    let mut claims = iss.obo();
    claims["scope"] = json!(format!("{SCOPE} crm/write"));
    assert_eq!(grouped.verify_obo(&iss.sign(&claims)).await.unwrap().user_sub, "sub-alice");
    claims["scope"] = json!(format!("{SCOPE} crm/write hr/obo"));
    let err = grouped.verify_obo(&iss.sign(&claims)).await.unwrap_err();
    assert_eq!(err.reason, ReasonCode::TokenNotForTarget);
    assert!(TargetConfig::new(&iss.issuer, OBO, SCOPE).unwrap().with_scope_group(["a b"]).is_err());
}

#[tokio::test]
async fn listed_user_issuers_bind_obo_iss() {
    let iss = Issuer::start().await;
    // Not listed: any obo_iss the trigger vouched for (one issuer stays as simple as before).
    let mut other_user_pool = iss.obo();
    other_user_pool["obo_iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other");
    assert!(iss.verifier(|c| c).verify_obo(&iss.sign(&other_user_pool)).await.is_ok());

    let listed = iss.verifier(|c| c.with_user_issuers([iss.issuer.clone()]));
    assert_eq!(
        listed.verify_obo(&iss.sign(&iss.obo())).await.unwrap().user_issuer.as_deref(),
        Some(&*iss.issuer)
    );
    let err = listed.verify_obo(&iss.sign(&other_user_pool)).await.unwrap_err();
    assert_eq!(err.reason, ReasonCode::SubjectIssuerNotAllowed);
    let mut without = iss.obo();
    without.as_object_mut().unwrap().remove("obo_iss");
    assert_eq!(
        listed.verify_obo(&iss.sign(&without)).await.unwrap_err().reason,
        ReasonCode::OboClaimsMissing
    );
    let mut listy = iss.obo();
    listy["obo_iss"] = json!([iss.issuer]);
    assert_eq!(
        listed.verify_obo(&iss.sign(&listy)).await.unwrap_err().reason,
        ReasonCode::SubjectClaimInvalid
    );
}

#[tokio::test]
async fn obo_claims_are_checked() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    let cases = [
        (json!({"obo_exp": NOW}), ReasonCode::SubjectExpired),
        (json!({"obo_exp": NOW - 1}), ReasonCode::SubjectExpired),
        (json!({"obo_exp": "soon"}), ReasonCode::SubjectClaimInvalid),
        (json!({"obo_sub": 7}), ReasonCode::SubjectClaimInvalid),
        (json!({"obo_sub": ""}), ReasonCode::SubjectClaimInvalid),
        (json!({"obo_groups": "sales"}), ReasonCode::SubjectClaimInvalid),
        (json!({"org_id": 42}), ReasonCode::SubjectClaimInvalid),
        (json!({"token_use": "id"}), ReasonCode::SubjectWrongTokenUse),
        (json!({"client_id": ["obo-client"]}), ReasonCode::SubjectClaimInvalid),
    ];
    for (patch, reason) in cases {
        let mut claims = iss.obo();
        merge(&mut claims, patch.clone());
        assert_eq!(v.verify_obo(&iss.sign(&claims)).await.unwrap_err().reason, reason, "{patch}");
    }
    for missing in ["obo_sub", "obo_exp"] {
        let mut claims = iss.obo();
        claims.as_object_mut().unwrap().remove(missing);
        assert_eq!(v.verify_obo(&iss.sign(&claims)).await.unwrap_err().reason, ReasonCode::OboClaimsMissing);
    }
    // The delegation ends with the user's token, even though the machine token lives on.
    iss.clock.advance_secs(601);
    assert_eq!(v.verify_obo(&iss.sign(&iss.obo())).await.unwrap_err().reason, ReasonCode::SubjectExpired);
}

#[tokio::test]
async fn signature_issuer_and_time_come_first() {
    let iss = Issuer::start().await;
    let v = iss.verifier(|c| c);
    let impostor = RsaSigner::generate("k1");
    assert_eq!(
        v.verify_obo(&impostor.sign(&iss.obo())).await.unwrap_err().reason,
        ReasonCode::SubjectBadSignature
    );
    let mut other = iss.obo();
    other["iss"] = json!("http://127.0.0.1:1/us-east-1_OTHER");
    assert_eq!(
        v.verify_obo(&iss.sign(&other)).await.unwrap_err().reason,
        ReasonCode::SubjectIssuerNotAllowed
    );
    let mut expired = iss.obo();
    expired["exp"] = json!(NOW - 1);
    assert_eq!(v.verify_obo(&iss.sign(&expired)).await.unwrap_err().reason, ReasonCode::SubjectExpired);
    let hs = keys::hs256(&json!({"alg": "HS256", "kid": "k1"}), &iss.obo(), &iss.signer.public_key_der());
    assert_eq!(v.verify_obo(&hs).await.unwrap_err().reason, ReasonCode::SubjectAlgNotAllowed);
    assert_eq!(v.verify_obo("not-a-jwt").await.unwrap_err().reason, ReasonCode::SubjectMalformed);
}

#[tokio::test]
async fn keys_unavailable_is_a_server_side_failure() {
    let signer = RsaSigner::generate("k1");
    // Nothing listens there (a port bound and released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}/us-east-1_GONE");
    let clock = ManualClock::at_secs(NOW);
    let http = HttpClient::new(Duration::from_millis(300)).unwrap();
    let keys = Arc::new(KeyStore::new(http, clock.clone(), KeyStoreSettings::default()));
    let v = TargetVerifier::with_key_store(TargetConfig::new(&issuer, OBO, SCOPE).unwrap(), keys, clock);
    let mut claims = m2m_claims(&issuer, OBO, &[SCOPE.to_owned()], NOW, 3600);
    claims["obo_sub"] = json!("u");
    let err = v.verify_obo(&signer.sign(&claims)).await.unwrap_err();
    assert_eq!(err.reason, ReasonCode::JwksUnavailable);
    assert_eq!(obo_target::rejection_status(&err), http::StatusCode::SERVICE_UNAVAILABLE);
}

mod lambda {
    use std::collections::HashMap;

    use super::*;

    fn context(tool: &str) -> HashMap<String, String> {
        [
            ("bedrockAgentCoreMessageVersion", "1.0"),
            ("bedrockAgentCoreToolName", tool),
            ("bedrockAgentCoreGatewayId", "gw-1"),
            ("bedrockAgentCoreTargetId", "T1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn event(token: Value) -> Value {
        json!({"account": "A-42", "_obo_token": token})
    }

    async fn reason(v: &TargetVerifier, event: Value, tool: Option<&str>) -> ReasonCode {
        let custom = tool.map(context);
        let err = v.verify_lambda_call(event.clone(), custom.as_ref()).await.unwrap_err();
        if let Some(token) = event.get("_obo_token").and_then(Value::as_str) {
            assert!(!err.message.contains(token), "the error quotes the token");
        }
        err.reason
    }

    #[tokio::test]
    async fn a_delivered_token_yields_the_arguments_and_the_user() {
        let iss = Issuer::start().await;
        let v = iss.verifier(|c| c);
        let custom = context("billing___get_invoice");
        let call = v.verify_lambda_call(event(json!(iss.sign(&iss.obo()))), Some(&custom)).await.unwrap();
        assert_eq!((call.target.as_str(), call.tool.as_str()), ("billing", "get_invoice"));
        assert_eq!(Value::Object(call.arguments), json!({"account": "A-42"}));
        assert_eq!(call.identity.user_sub, "sub-alice");
        assert_eq!(call.identity.org_id.as_deref(), Some("acme"));
    }

    #[tokio::test]
    async fn every_token_the_header_path_refuses_is_refused() {
        let iss = Issuer::start().await;
        let v = iss.verifier(|c| c);
        let tool = Some("billing___get_invoice");
        // Missing, not a string.
        assert_eq!(reason(&v, json!({"account": "A-42"}), tool).await, ReasonCode::SubjectMissing);
        assert_eq!(reason(&v, event(json!(["x"])), tool).await, ReasonCode::SubjectMalformed);
        // Wrong scope, another target's token.
        let mut wrong = iss.obo();
        wrong["scope"] = json!("crm/other");
        assert_eq!(reason(&v, event(json!(iss.sign(&wrong))), tool).await, ReasonCode::TokenNotForTarget);
        let mut other_target = iss.obo();
        other_target["scope"] = json!("hr/obo");
        let other = iss.sign(&other_target);
        assert_eq!(reason(&v, event(json!(other)), tool).await, ReasonCode::TokenNotForTarget);
        // Expired: the machine token, and the delegation (`obo_exp`).
        let mut expired = iss.obo();
        expired["exp"] = json!(NOW - 1);
        assert_eq!(reason(&v, event(json!(iss.sign(&expired))), tool).await, ReasonCode::SubjectExpired);
        let mut delegation_over = iss.obo();
        delegation_over["obo_exp"] = json!(NOW);
        let over = iss.sign(&delegation_over);
        assert_eq!(reason(&v, event(json!(over)), tool).await, ReasonCode::SubjectExpired);
        // A plain user token, and a machine token that acts for nobody.
        let user = iss.sign(&access_claims(&iss.issuer, "web-client", &alice(), NOW, 3600));
        assert_eq!(reason(&v, event(json!(user)), tool).await, ReasonCode::TokenNotForTarget);
        let bare = iss.sign(&iss.m2m(OBO, &[SCOPE]));
        assert_eq!(reason(&v, event(json!(bare)), tool).await, ReasonCode::OboClaimsMissing);
        // Signed by someone else.
        let forger = RsaSigner::generate("k1");
        let forged = forger.sign(&iss.obo());
        assert_eq!(reason(&v, event(json!(forged)), tool).await, ReasonCode::SubjectBadSignature);
    }

    #[tokio::test]
    async fn events_the_gateway_never_sends_are_bad_events() {
        let iss = Issuer::start().await;
        let v = iss.verifier(|c| c);
        let token = json!(iss.sign(&iss.obo()));
        assert_eq!(reason(&v, event(token.clone()), None).await, ReasonCode::BadEvent);
        for name in ["get_invoice", "___get_invoice", "billing___"] {
            assert_eq!(reason(&v, event(token.clone()), Some(name)).await, ReasonCode::BadEvent, "{name}");
        }
        assert_eq!(reason(&v, json!([token]), Some("billing___x")).await, ReasonCode::BadEvent);
    }
}
