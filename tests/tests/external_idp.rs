//! Users from a standard OpenID provider (the local Auth0-shaped one) through the whole stack:
//! the gateway's `CUSTOM_JWT` authorizer set to that provider with AgentCore's rules, both real
//! Lambdas trusting it through the `auth0` issuer profile, and the pool minting the on-behalf-of
//! tokens. Each negative case says which layer refuses it.

use obo_e2e::binary;
use obo_local::client::{McpClient, call, connect, refusal_reason};
use obo_local::oidc::{API_AUDIENCE, MACHINE_CLIENT, WEB_CLIENT};
use obo_local::stack::{Stack, StackOptions};
use serde_json::{Value, json};

async fn stack(required_org: bool) -> Stack {
    let mut options = StackOptions::new(binary("pre-token").parent().expect("bin dir")).with_external_idp();
    if required_org {
        options = options.trigger_var("OBO_REQUIRED_CLAIMS", "org_id");
    }
    Stack::start(options).await.expect("the local stack starts with the external provider")
}

async fn client(stack: &Stack, token: &str) -> McpClient {
    connect(&stack.gateway_url(), Some(token)).await.expect("MCP session through the gateway")
}

async fn whoami(client: &McpClient) -> Result<Value, String> {
    match client.call_tool(call("crm___whoami", json!({}))).await {
        Ok(result) => Ok(result.structured_content.expect("structured content")),
        Err(err) => Err(refusal_reason(&err).unwrap_or_else(|| err.to_string())),
    }
}

#[tokio::test]
async fn a_user_of_the_external_provider_reaches_crm_as_herself_with_her_organization() {
    let stack = stack(false).await;
    let oidc = stack.oidc.as_ref().expect("external provider");
    let carol = oidc.users().iter().find(|u| u.username == "carol").expect("carol").clone();
    let token = oidc.sign_in("carol").await.expect("carol signs in");
    let session = client(&stack, &token).await;
    let who = whoami(&session).await.expect("carol reaches crm");
    assert_eq!(who["obo_sub"], carol.sub.as_str());
    assert_eq!(who["org_id"], "org_acme");
    // The target names the user by (issuer, sub): the provider's issuer, not the pool's.
    let logs = stack.lambda_logs();
    assert!(logs.iter().any(|(f, l)| f == "pre-token" && l.contains("enriched")), "the trigger enriched");
    // A user without an organization is enriched without `org_id` (not required here).
    let token = oidc.sign_in("dave").await.expect("dave signs in");
    let who = whoami(&client(&stack, &token).await).await.expect("dave reaches crm");
    assert!(who["org_id"].is_null(), "no organization claimed for dave: {who}");
    let _ = session.cancel().await;
}

#[tokio::test]
async fn required_organization_machine_tokens_and_other_apis_are_refused() {
    let stack = stack(true).await;
    let oidc = stack.oidc.as_ref().expect("external provider");
    // OBO_REQUIRED_CLAIMS=org_id: dave has none, the trigger refuses (subject_claim_missing).
    let dave = oidc.sign_in("dave").await.expect("dave signs in");
    assert_eq!(whoami(&client(&stack, &dave).await).await.err().as_deref(), Some("subject_claim_missing"));
    let carol = oidc.sign_in("carol").await.expect("carol signs in");
    assert!(whoami(&client(&stack, &carol).await).await.is_ok());

    let post = |form: Vec<(&'static str, &'static str)>| {
        let url = oidc.token_endpoint();
        async move {
            let response = reqwest::Client::new().post(url).form(&form).send().await.expect("token endpoint");
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            body["access_token"].as_str().expect("a token").to_owned()
        }
    };
    // The provider's machine token for the same API: the gateway's custom claim rule (azp) refuses
    // it, before any Lambda (HTTP 401 at the gateway).
    let machine = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", MACHINE_CLIENT),
        ("audience", API_AUDIENCE),
    ])
    .await;
    assert!(
        connect(&stack.gateway_url(), Some(&machine)).await.is_err(),
        "the gateway refuses the machine token"
    );
    // A user token for another API of the same tenant: the gateway's allowedAudience refuses it.
    let other_api = post(vec![
        ("grant_type", "password"),
        ("username", "carol"),
        ("password", obo_local::oidc::PASSWORD),
        ("client_id", WEB_CLIENT),
        ("audience", "https://billing.obo.local/api"),
    ])
    .await;
    assert!(
        connect(&stack.gateway_url(), Some(&other_api)).await.is_err(),
        "the gateway refuses another API's token"
    );
}

/// `obo-local up --external-idp yes --env-file FILE` writes a token of the provider's user (not
/// the pool's alice) that reaches crm as that user, in a file only its owner can read.
#[tokio::test]
async fn up_with_the_external_provider_writes_its_users_token_to_the_env_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("obo-env-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let env_file = dir.join("env");
    /// Stops `obo-local up` however the test ends: Ctrl-C (it stops its Lambdas), then a kill.
    struct Up(std::process::Child);
    impl Drop for Up {
        fn drop(&mut self) {
            let pid = self.0.id().to_string();
            let _ = std::process::Command::new("kill").args(["-INT", &pid]).status();
            for _ in 0..100 {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _up = Up(std::process::Command::new(binary("obo-local"))
        .args(["up", "--external-idp", "yes", "--env-file"])
        .arg(&env_file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("obo-local up starts"));
    let mut vars = std::collections::HashMap::new();
    for _ in 0..300 {
        let text = std::fs::read_to_string(&env_file).unwrap_or_default();
        vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if vars.contains_key("USER_TOKEN") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mode = std::fs::metadata(&env_file).expect("the env file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(vars.get("USER_NAME").map(String::as_str), Some("carol"), "{:?}", vars.keys());
    assert!(!vars.contains_key("ALICE_TOKEN"), "no pool token with the external provider");
    let session = connect(&vars["GATEWAY_URL"], Some(&vars["USER_TOKEN"])).await.expect("MCP session");
    let who = whoami(&session).await.expect("carol reaches crm");
    assert_eq!(who["org_id"], "org_acme");
    let _ = std::fs::remove_dir_all(&dir);
}
