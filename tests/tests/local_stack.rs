//! The whole on-behalf-of flow through the local stack, with the real `pre-token` and
//! `interceptor` binaries under the local Lambda Runtime API, the Cognito and gateway emulators
//! and the demo targets, driven by a real MCP client. Each negative case says which layer
//! refuses it.

use std::time::Duration;

use obo_e2e::binary;
use obo_local::client::{McpClient, call, connect, refusal_reason};
use obo_local::cognito::{MintOptions, OBO_CLIENT, OTHER_USER_CLIENT, TriggerErrorForm, USER_CLIENT};
use obo_local::stack::{Stack, StackOptions, target_scope};
use obo_local::targets::weather::TODAY;
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

fn options() -> StackOptions {
    StackOptions::new(binary("pre-token").parent().expect("bin dir"))
}

async fn start(options: StackOptions) -> Stack {
    Stack::start(options).await.expect("the local stack starts")
}

async fn sign_in(stack: &Stack, username: &str) -> String {
    let password = stack.cognito.user(username).expect("user").password.clone();
    let tokens = stack.cognito.sign_in(USER_CLIENT, username, password.expose()).await.expect("sign in");
    tokens.access_token
}

async fn client(stack: &Stack, token: &str) -> McpClient {
    connect(&stack.gateway_url(), Some(token)).await.expect("MCP session through the gateway")
}

/// The error a tool call ended with, as text (a JSON-RPC error with its data, or the transport
/// error for statuses the MCP client does not read as JSON-RPC).
async fn call_error(client: &McpClient, name: &str) -> String {
    match client.call_tool(call(name, json!({}))).await {
        Ok(result) => panic!("{name} succeeded: {result:?}"),
        Err(err) => format!("{err:?} {err}"),
    }
}

async fn whoami(client: &McpClient) -> Value {
    let result = client.call_tool(call("crm___whoami", json!({}))).await.expect("crm___whoami");
    result.structured_content.expect("structured content")
}

fn obo_requests(stack: &Stack) -> u64 {
    stack.cognito.counters().client(OBO_CLIENT).m2m_requests()
}

fn obo_tokens_issued(stack: &Stack) -> u64 {
    stack.cognito.counters().client(OBO_CLIENT).tokens_issued
}

fn kill(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

fn payload(token: &str) -> Value {
    obo_core::subject::jwt::unverified_claims(token, 64 * 1024).map(Value::Object).unwrap_or(Value::Null)
}

#[tokio::test]
async fn each_user_reaches_crm_as_themselves_and_no_user_token_reaches_a_target() {
    let stack = start(options()).await;
    let alice = sign_in(&stack, "alice").await;
    let bob = sign_in(&stack, "bob").await;
    let (alice_client, bob_client) = (client(&stack, &alice).await, client(&stack, &bob).await);

    // 20 calls by 2 users: exactly 2 client_credentials requests reach Cognito.
    for i in 0..10 {
        for (client, sub, org) in [
            (&alice_client, "a11ce000-0000-4000-8000-00000000a11c", "acme"),
            (&bob_client, "b0b00000-0000-4000-8000-000000000b0b", "globex"),
        ] {
            if i % 2 == 0 {
                let who = whoami(client).await;
                assert_eq!((who["obo_sub"].as_str(), who["org_id"].as_str()), (Some(sub), Some(org)));
                assert_eq!(who["token_client_id"], OBO_CLIENT);
            } else {
                let result = client
                    .call_tool(call("crm___get_account", json!({"account_id": "A-1"})))
                    .await
                    .expect("get_account");
                assert_eq!(result.structured_content.unwrap()["account"]["org_id"], org);
            }
        }
    }
    assert_eq!(obo_requests(&stack), 2, "one exchange per user, then cache hits");

    // weather (passthrough) gets the gateway's own credential, never an on-behalf-of token.
    let forecast =
        alice_client.call_tool(call("weather___get_forecast", json!({"city": "Lima"}))).await.unwrap();
    assert_eq!(forecast.structured_content.unwrap()["city"], "Lima");
    assert!(!stack.weather.authorizations().values().is_empty());
    for value in stack.weather.authorizations().values() {
        let claims = payload(value.trim_start_matches("Bearer "));
        assert!(claims.get("obo_sub").is_none(), "weather got an on-behalf-of token");
    }
    assert_eq!(obo_requests(&stack), 2);

    // No user token ever reached a target; crm only saw tokens of the OBO or tool-sync clients.
    for token in [&alice, &bob] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!stack.crm.authorizations().any_contains(signature));
        assert!(!stack.weather.authorizations().any_contains(signature));
    }
    let minted: Vec<String> = stack
        .crm
        .authorizations()
        .values()
        .into_iter()
        .map(|v| v.trim_start_matches("Bearer ").to_owned())
        .filter(|t| payload(t).get("obo_sub").is_some())
        .collect();
    assert!(!minted.is_empty());

    // The captured output of both Lambda processes holds none of the tokens of this test.
    let logs: String = stack.lambda_logs().into_iter().map(|(_, line)| line + "\n").collect();
    assert!(logs.contains("interceptor answered") && logs.contains("pre-token trigger answered"));
    for token in [&alice, &bob].into_iter().chain(minted.iter()) {
        for part in token.split('.').skip(1) {
            assert!(!logs.contains(part), "a token part reached a Lambda's logs");
        }
    }
    alice_client.cancel().await.unwrap();
    bob_client.cancel().await.unwrap();
}

/// The reason code a prompt request was refused with.
async fn prompt_refusal(client: &McpClient, name: &str) -> String {
    match client.get_prompt(GetPromptRequestParams::new(name)).await {
        Err(e) => refusal_reason(&e).unwrap_or_else(|| panic!("{name}: {e}")),
        Ok(answer) => panic!("{name} was answered: {answer:?}"),
    }
}

#[tokio::test]
async fn prompts_carry_the_user_resources_never_do_and_denied_routes_are_refused() {
    let stack = start(options()).await;
    let alice = sign_in(&stack, "alice").await;
    let alice_client = client(&stack, &alice).await;

    // AgentCore's naming rules: prompts prefixed, resource URIs as the target names them.
    let prompts = alice_client.list_all_prompts().await.expect("prompts/list");
    assert_eq!(prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["crm___account_brief"]);
    let resources = alice_client.list_all_resources().await.expect("resources/list");
    assert_eq!(resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(), [TODAY]);
    assert!(alice_client.list_all_resource_templates().await.expect("templates").is_empty());

    // crm's prompt acts for alice, with a token minted for crm.
    let mut arguments = serde_json::Map::new();
    arguments.insert("account_id".into(), json!("A-7"));
    let prompt = alice_client
        .get_prompt(GetPromptRequestParams::new("crm___account_brief").with_arguments(arguments))
        .await
        .expect("prompts/get on the obo target");
    let text = &prompt.messages[0].content.as_text().expect("a text message").text;
    let brief: Value = serde_json::from_str(text).unwrap();
    assert_eq!(brief["account_id"], "A-7");
    assert_eq!(brief["acting_for"]["obo_sub"], "a11ce000-0000-4000-8000-00000000a11c");
    assert_eq!(brief["acting_for"]["token_client_id"], OBO_CLIENT);
    assert_eq!(obo_requests(&stack), 1);

    // weather's resource is read with the gateway's own credential: never a minted token.
    let read =
        alice_client.read_resource(ReadResourceRequestParams::new(TODAY)).await.expect("resources/read");
    assert!(
        matches!(&read.contents[0], ResourceContents::TextResourceContents { text, .. } if text.contains("sunny"))
    );
    for value in stack.weather.authorizations().values() {
        assert!(
            payload(value.trim_start_matches("Bearer ")).get("obo_sub").is_none(),
            "weather got an OBO token"
        );
    }

    // A deny target's prompt and an unlisted one are refused by the interceptor.
    assert_eq!(prompt_refusal(&alice_client, "admin___runbook").await, "target_denied");
    assert_eq!(prompt_refusal(&alice_client, "payroll___runbook").await, "target_unlisted");
    assert_eq!(obo_requests(&stack), 1);

    // No user token reached a target; the Lambdas logged the resource's scheme, not its URI.
    let signature = alice.rsplit('.').next().unwrap();
    assert!(!stack.crm.authorizations().any_contains(signature));
    assert!(!stack.weather.authorizations().any_contains(signature));
    let logs: String = stack.lambda_logs().into_iter().map(|(_, line)| line + "\n").collect();
    assert!(logs.contains(r#""uri_scheme":"weather""#), "{logs}");
    assert!(!logs.contains("forecast/today"));
    for part in alice.split('.').skip(1) {
        assert!(!logs.contains(part), "a token part reached a Lambda's logs");
    }
    alice_client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_demo_shows_prompts_resources_and_a_denied_route() {
    let stack = start(options()).await;
    let mut out = Vec::new();
    let summary = obo_local::demo::run(&stack, &mut out).await.expect("the demo runs");
    let transcript = String::from_utf8(out).unwrap();
    assert!(!summary.user_token_reached_a_target, "{transcript}");
    assert_eq!(summary.denied_reason.as_deref(), Some("target_denied"), "{transcript}");
    assert!(summary.weather_resource.as_deref().is_some_and(|t| t.contains("sunny")), "{transcript}");
    let alice_sub = &summary.crm_saw[0].1;
    assert_eq!(summary.crm_prompt_saw, [("alice".to_owned(), alice_sub.clone())], "{transcript}");
    assert!(
        transcript.contains("prompts/get crm___account_brief")
            && transcript.contains("resources/read weather://")
    );
}

#[tokio::test]
async fn the_gateway_authorizer_refuses_bad_user_tokens_before_anything_is_minted() {
    let stack = start(options()).await;
    let other_pool = stack.cognito.issuer().replace("us-east-1_OboLocal", "us-east-1_OtherPool");
    let cases = [
        ("forged", MintOptions { forged: true, ..MintOptions::default() }, "subject_bad_signature"),
        ("expired", MintOptions::expired(), "subject_expired"),
        ("another pool", MintOptions::default().issuer(other_pool), "subject_issuer_not_allowed"),
        (
            "another app client",
            MintOptions::default().client(OTHER_USER_CLIENT),
            "subject_client_not_allowed",
        ),
    ];
    for (case, mint, reason) in cases {
        let token = stack.cognito.mint_access_token("alice", &mint).unwrap();
        // Layer: the gateway's CUSTOM_JWT authorizer answers 401 before the interceptor runs.
        let refused = match connect(&stack.gateway_url(), Some(&token)).await {
            Err(err) => format!("{err:?} {err}"),
            Ok(client) => call_error(&client, "crm___whoami").await,
        };
        // A 401 with `WWW-Authenticate: Bearer error="invalid_token"` (the MCP client's AuthRequired).
        assert!(refused.contains("AuthRequired") && refused.contains("invalid_token"), "{case}: {refused}");
        assert!(refused.contains(reason), "{case}: {refused}");
    }
    assert_eq!(obo_requests(&stack), 0, "no token request for a refused user");
}

#[tokio::test]
async fn the_trigger_refuses_a_user_of_another_app_client_when_the_gateway_lets_it_through() {
    // A gateway that accepts users of two apps, a trigger that accepts one: the trigger's own
    // client check is what refuses (layer: trigger, seen through Cognito and the interceptor).
    let mut opts = options();
    opts.gateway_allowed_clients.push(OTHER_USER_CLIENT.to_owned());
    let stack = start(opts).await;
    let token =
        stack.cognito.mint_access_token("alice", &MintOptions::default().client(OTHER_USER_CLIENT)).unwrap();
    let client = client(&stack, &token).await;
    let refused = call_error(&client, "crm___whoami").await;
    assert!(refused.contains("subject_client_not_allowed"), "{refused}");
    assert_eq!(obo_requests(&stack), 1, "the request reached Cognito");
    assert_eq!(obo_tokens_issued(&stack), 0, "but nothing was minted");

    // With the trigger's error form undocumented, a bare 400 must still fail closed.
    stack.cognito.set_trigger_error_form(TriggerErrorForm::Bare);
    let other =
        stack.cognito.mint_access_token("bob", &MintOptions::default().client(OTHER_USER_CLIENT)).unwrap();
    let refused = call_error(&self::client(&stack, &other).await, "crm___whoami").await;
    assert!(refused.contains("obo_denied"), "{refused}");
    assert_eq!(obo_tokens_issued(&stack), 0);
}

#[tokio::test]
async fn an_interceptor_that_verifies_inbound_tokens_refuses_before_calling_cognito() {
    let mut opts = options()
        .interceptor_var("OBO_VERIFY_INBOUND", "true")
        .interceptor_var("OBO_SUBJECT_ISSUERS", "{issuer}")
        .interceptor_var("OBO_SUBJECT_CLIENT_IDS", USER_CLIENT);
    opts.gateway_allowed_clients.push(OTHER_USER_CLIENT.to_owned());
    let stack = start(opts).await;
    let token =
        stack.cognito.mint_access_token("alice", &MintOptions::default().client(OTHER_USER_CLIENT)).unwrap();
    let refused = call_error(&client(&stack, &token).await, "crm___whoami").await;
    assert!(refused.contains("subject_client_not_allowed"), "{refused}");
    assert_eq!(obo_requests(&stack), 0, "layer: the interceptor, before any paid Cognito call");
    // Its own users still pass.
    let alice = sign_in(&stack, "alice").await;
    assert_eq!(whoami(&client(&stack, &alice).await).await["org_id"], "acme");
}

#[tokio::test]
async fn jwks_down_fails_closed_with_a_retryable_error() {
    let stack = start(options()).await;
    let alice = sign_in(&stack, "alice").await;
    let bob = sign_in(&stack, "bob").await;
    // alice's call warms the gateway's keys; then the JWKS goes down and the trigger restarts
    // cold (a new execution environment), so it must fetch keys and cannot.
    whoami(&client(&stack, &alice).await).await;
    stack.cognito.set_jwks_available(false);
    kill("-KILL", stack.trigger.pid().await.expect("trigger pid"));
    let refused = call_error(&client(&stack, &bob).await, "crm___whoami").await;
    // A JSON-RPC error (the gateway answered 503) whose data says why and that a retry may work.
    assert!(refused.contains(r#"{"reason":"jwks_unavailable","retryable":true}"#), "{refused}");
    assert_eq!(obo_tokens_issued(&stack), 1, "only alice's");
}

#[tokio::test]
async fn throttling_is_retried_a_bounded_number_of_times() {
    let stack = start(options()).await;
    stack.cognito.fail_token_requests(429, 100);
    let alice = sign_in(&stack, "alice").await;
    let refused = call_error(&client(&stack, &alice).await, "crm___whoami").await;
    assert!(refused.contains("idp_throttled"), "{refused}");
    assert_eq!(obo_requests(&stack), 3, "one attempt and at most two retries");
    // One throttled answer, then Cognito recovers: the retry succeeds.
    stack.cognito.fail_token_requests(429, 1);
    let bob = sign_in(&stack, "bob").await;
    assert_eq!(whoami(&client(&stack, &bob).await).await["org_id"], "globex");
}

#[tokio::test]
async fn crashes_and_hangs_become_clear_errors_and_the_stack_keeps_serving() {
    let mut opts = options();
    opts.interceptor_deadline = Duration::from_secs(2);
    opts.trigger_deadline = Duration::from_secs(2);
    let stack = start(opts).await;
    let alice = sign_in(&stack, "alice").await;
    let alice_client = client(&stack, &alice).await;

    // A hung interceptor: the gateway gives up at the deadline; the host replaces it.
    kill("-STOP", stack.interceptor.pid().await.expect("interceptor pid"));
    let refused = call_error(&alice_client, "crm___whoami").await;
    assert!(refused.to_lowercase().contains("interceptor"), "{refused}");
    assert_eq!(whoami(&alice_client).await["org_id"], "acme", "a new environment serves");

    // A trigger that crashes in the middle of an invocation: Cognito fails the token request.
    let bob = sign_in(&stack, "bob").await;
    let trigger_pid = stack.trigger.pid().await.expect("trigger pid");
    kill("-STOP", trigger_pid);
    let bob_client = client(&stack, &bob).await;
    let call = tokio::spawn(async move {
        let text = call_error(&bob_client, "crm___whoami").await;
        (bob_client, text)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill("-KILL", trigger_pid);
    let (_bob_client, refused) = call.await.unwrap();
    assert!(refused.contains("obo_denied") || refused.contains("idp_unavailable"), "{refused}");
    // A new sign-in (a new cache key): the restarted trigger serves.
    let bob = sign_in(&stack, "bob").await;
    assert_eq!(whoami(&client(&stack, &bob).await).await["org_id"], "globex");
}

#[tokio::test]
async fn with_the_get_user_lookup_the_trigger_refuses_a_signed_out_user() {
    // pre-token-lookup (the trigger with the AWS SDK) calls GetUser with the user's token through
    // the SDK's endpoint override; a signed-out user's token still verifies offline, but not there.
    let mut opts = options().trigger_var("OBO_USER_LOOKUP", "get-user");
    opts.trigger_binary = binary("pre-token-lookup");
    let stack = start(opts).await;
    let alice = sign_in(&stack, "alice").await;
    assert_eq!(whoami(&client(&stack, &alice).await).await["org_id"], "acme");

    let bob = sign_in(&stack, "bob").await;
    assert!(stack.cognito.sign_out("bob"));
    let refused = call_error(&client(&stack, &bob).await, "crm___whoami").await;
    assert!(refused.contains("subject_revoked"), "{refused}");
    assert_eq!(obo_tokens_issued(&stack), 1, "only alice's");
}

/// What whoever holds the on-behalf-of client's secret can ask Cognito directly: a
/// client_credentials token carrying `user_token`, with `scope` (`None`: the parameter left out,
/// so Cognito grants every scope of the client). The HTTP status and the error description.
async fn direct_obo_request(stack: &Stack, user_token: &str, scope: Option<&str>) -> (u16, String) {
    let secret = stack.cognito.client_secret(OBO_CLIENT).expect("OBO client secret").expose().to_owned();
    let metadata = json!({"onBehalfOfToken": user_token}).to_string();
    let mut form = vec![("grant_type", "client_credentials"), ("aws_client_metadata", metadata.as_str())];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = reqwest::Client::new()
        .post(stack.cognito.token_endpoint())
        .basic_auth(OBO_CLIENT, Some(secret))
        .form(&form)
        .send()
        .await
        .expect("token endpoint");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error_description"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn an_obo_token_is_for_one_target_whoever_asks_for_it() {
    // The on-behalf-of client may also ask for weather's scope (a pool where one machine client
    // serves several targets): the trigger's scope groups, fed from the same OBO_TARGETS value as
    // the interceptor, are what keeps each token to one target. Layer: the trigger.
    let mut opts = options();
    let obo = opts.pool.clients.iter_mut().find(|c| c.client_id == OBO_CLIENT).expect("OBO client");
    obo.allowed_oauth_scopes.push(target_scope("weather"));
    let stack = start(opts).await;
    let alice = sign_in(&stack, "alice").await;
    let (crm, weather) = (target_scope("crm"), target_scope("weather"));
    let both = format!("{crm} {weather}");
    for (case, scope) in
        [("no scope: Cognito grants all of the client's", None), ("two targets' scopes", Some(&*both))]
    {
        let (status, description) = direct_obo_request(&stack, &alice, scope).await;
        assert_eq!(status, 400, "{case}");
        assert!(description.contains("scope_not_allowed"), "{case}: {description}");
    }
    assert_eq!(obo_tokens_issued(&stack), 0, "no multi-target token was minted");
    let (status, _) = direct_obo_request(&stack, &alice, Some(&weather)).await;
    assert_eq!(status, 400, "weather is no on-behalf-of target: its scope is in no group");
    let (status, description) = direct_obo_request(&stack, &alice, Some(&crm)).await;
    assert_eq!(status, 200, "one target's scope: {description}");

    // Through the gateway, crm still works; then Cognito sends an event without `scopes` (as some
    // of AWS's sample events are): refused, never read as "any scope".
    assert_eq!(whoami(&client(&stack, &alice).await).await["org_id"], "acme");
    stack.cognito.set_trigger_scopes_omitted(true);
    let bob = sign_in(&stack, "bob").await;
    let refused = call_error(&client(&stack, &bob).await, "crm___whoami").await;
    assert!(refused.contains("scope_not_allowed"), "{refused}");
    stack.cognito.set_trigger_scopes_omitted(false);
    let bob = sign_in(&stack, "bob").await;
    assert_eq!(whoami(&client(&stack, &bob).await).await["org_id"], "globex");
}

#[tokio::test]
async fn with_the_admin_get_user_lookup_a_reused_user_name_is_not_the_old_users() {
    // alice's token outlives alice: she is deleted and her user name given to someone of another
    // organisation. AdminGetUser(username) now finds the new user; the trigger compares `sub`
    // and refuses (layer: trigger, seen through Cognito and the interceptor).
    let mut opts = options()
        .trigger_var("OBO_USER_LOOKUP", "admin-get-user")
        .trigger_var("OBO_CLAIM_MAP", "org_id=@custom:org_id");
    opts.trigger_binary = binary("pre-token-lookup");
    let stack = start(opts).await;
    let old = sign_in(&stack, "alice").await;
    let mut newcomer = stack.cognito.user("alice").expect("alice");
    assert!(stack.cognito.delete_user("alice"));
    newcomer.sub = "0e3c0e3c-0000-4000-8000-0000000e3c0e".into();
    newcomer.attributes.insert("custom:org_id".into(), "globex".into());
    newcomer.groups.clear();
    stack.cognito.create_user(newcomer).expect("the name is free again");

    let refused = call_error(&client(&stack, &old).await, "crm___whoami").await;
    assert!(refused.contains("subject_revoked"), "{refused}");
    assert_eq!(obo_tokens_issued(&stack), 0, "the old token got nobody's attributes");
    // The new alice is served as herself, in her own organisation.
    let new = sign_in(&stack, "alice").await;
    let who = whoami(&client(&stack, &new).await).await;
    assert_eq!(
        (who["obo_sub"].as_str(), who["org_id"].as_str()),
        (Some("0e3c0e3c-0000-4000-8000-0000000e3c0e"), Some("globex"))
    );

    // A deleted user whose name nobody took: not found, subject_revoked too.
    let bob = sign_in(&stack, "bob").await;
    assert!(stack.cognito.delete_user("bob"));
    let refused = call_error(&client(&stack, &bob).await, "crm___whoami").await;
    assert!(refused.contains("subject_revoked"), "{refused}");
}
