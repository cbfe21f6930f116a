//! `obo-local`: the local stack from the command line.
//!
//! - `obo-local demo` — starts the stack, runs the demo (alice and bob through the gateway) and
//!   prints the transcript, then shuts everything down;
//! - `obo-local up` — starts the stack and keeps it running for any MCP client.
//!
//! `--bin-dir DIR` says where the Lambda binaries are (default: next to this executable).
//! `up --external-idp yes` has users sign in at a local OpenID provider shaped like Auth0 instead of
//! the pool (docs/identity-providers.md); `demo` always ends with that part.
//! `up --shared-cache yes` runs the shared cache tier: moto's DynamoDB-compatible server (`make
//! test-tools` installs it), the table, two interceptor environments the gateway takes turns with
//! (docs/shared-cache.md); the demo runs without it and says how to see it.
//! `up --env-file FILE` also writes `GATEWAY_URL`, `USER_NAME` and a fresh `USER_TOKEN` (alice from
//! the pool, carol with `--external-idp yes`; from the pool also as `ALICE_TOKEN`) to FILE (mode
//! 0600) for scripts such as `make inspector`.

use std::path::PathBuf;
use std::process::ExitCode;

use obo_local::cognito::USER_CLIENT;
use obo_local::shared_table::SharedCache;
use obo_local::stack::{Stack, StackOptions};

fn usage() -> ExitCode {
    eprintln!(
        "usage: obo-local <demo|up> [--bin-dir DIR] [--env-file FILE] [--external-idp yes] [--shared-cache yes]"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first().cloned() else { return usage() };
    // Flags come in `--name value` pairs after the command.
    let flags = &args[1..];
    let known = |name: &String| {
        ["--bin-dir", "--env-file", "--external-idp", "--shared-cache"].contains(&name.as_str())
    };
    if !flags.len().is_multiple_of(2) || !flags.chunks(2).all(|pair| known(&pair[0])) {
        return usage();
    }
    let bin_dir = match flag(&args, "--bin-dir") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default(),
    };
    let mut options = StackOptions::new(&bin_dir);
    if command == "up" && flag(&args, "--external-idp") == Some("yes") {
        options = options.with_external_idp();
    }
    if command == "up" && flag(&args, "--shared-cache") == Some("yes") {
        options = options.with_shared_cache(SharedCache::Local);
    }
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let code = match command.as_str() {
        "demo" => demo(&stack).await,
        "up" => up(&stack, flag(&args, "--env-file").map(PathBuf::from)).await,
        _ => usage(),
    };
    stack.shutdown().await;
    // The demo's second part runs its own stack, once the first one is stopped.
    match (command.as_str(), code) {
        ("demo", ExitCode::SUCCESS) => external_demo(&bin_dir).await,
        (_, code) => code,
    }
}

/// The value after `name`, if given.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// Writes `GATEWAY_URL` and a fresh user access token to `path`, readable by its owner only:
/// `USER_TOKEN` (alice from the pool, or carol from the OpenID provider with `--external-idp`),
/// and, from the pool, the same as `ALICE_TOKEN`.
async fn write_env_file(stack: &Stack, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (user, token) = match &stack.oidc {
        Some(oidc) => ("carol", oidc.sign_in("carol").await.map_err(std::io::Error::other)?),
        None => {
            let alice = stack.cognito.config().user("alice").map(|u| u.password.clone()).unwrap_or_default();
            let tokens = stack
                .cognito
                .sign_in(USER_CLIENT, "alice", alice.expose())
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            ("alice", tokens.access_token)
        }
    };
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    writeln!(file, "GATEWAY_URL={}\nUSER_NAME={user}\nUSER_TOKEN={token}", stack.gateway_url())?;
    if stack.oidc.is_none() {
        writeln!(file, "ALICE_TOKEN={token}")?;
    }
    Ok(())
}

fn cold_start(function: &obo_local::lambda_host::LambdaFunction) -> String {
    match function.cold_starts().first() {
        Some(c) => format!("{:.1} ms", c.total().as_secs_f64() * 1000.0),
        None => "not yet invoked".into(),
    }
}

fn print_stack(stack: &Stack) {
    println!("cognito-obo local stack (everything on loopback, real Lambda binaries, no AWS account)");
    println!("  Cognito emulator    {}", stack.cognito.issuer());
    println!(
        "  Lambdas             pre-token and interceptor: the real binaries under the local Runtime API"
    );
    println!(
        "  MCP targets         crm (on-behalf-of) {} · weather (passthrough) {}",
        stack.crm.mcp_url(),
        stack.weather.mcp_url()
    );
    println!("  gateway             {}", stack.gateway_url());
    match &stack.shared_table {
        Some(table) => println!(
            "  shared cache tier   DynamoDB table {} at {} (moto), {} interceptor environments in turn",
            obo_local::shared_table::TABLE,
            table.endpoint(),
            stack.interceptors.len()
        ),
        None => println!(
            "  shared cache tier   off (`obo-local up --shared-cache yes` runs it on moto's DynamoDB server; `make test-tools` installs moto)"
        ),
    }
}

async fn demo(stack: &Stack) -> ExitCode {
    print_stack(stack);
    let mut out = std::io::stdout();
    let result = obo_local::demo::run(stack, &mut out).await;
    println!(
        "Cold starts (spawn → first response): pre-token {}, interceptor {}.",
        cold_start(&stack.trigger),
        cold_start(&stack.interceptor)
    );
    match result {
        Ok(summary)
            if !summary.user_token_reached_a_target
                && summary.denied_reason.as_deref() == Some("target_denied") =>
        {
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// The demo's second part: a stack whose users come from the local OpenID provider.
async fn external_demo(bin_dir: &std::path::Path) -> ExitCode {
    let stack = match Stack::start(StackOptions::new(bin_dir).with_external_idp()).await {
        Ok(stack) => stack,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let result = obo_local::demo::run_external(&stack, &mut std::io::stdout()).await;
    stack.shutdown().await;
    match result {
        Ok(summary)
            if summary.crm_saw.iter().any(|(user, _, _, org)| user == "carol" && org == "org_acme") =>
        {
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn up(stack: &Stack, env_file: Option<PathBuf>) -> ExitCode {
    print_stack(stack);
    if let Some(path) = env_file {
        if let Err(err) = write_env_file(stack, &path).await {
            eprintln!("could not write {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
        println!("  wrote GATEWAY_URL, USER_NAME and USER_TOKEN to {}", path.display());
    }
    if let Some(oidc) = &stack.oidc {
        println!("\nUsers sign in at the OpenID provider {} (profile auth0), not the pool:", oidc.issuer());
        for user in oidc.users() {
            println!(
                "  {:<8} password {:<16} org {}",
                user.username,
                obo_local::oidc::PASSWORD,
                user.org_id.as_deref().unwrap_or("-")
            );
        }
        println!(
            "Get a user token:\n  curl -s {} -d grant_type=password -d username=carol -d password='{}' \\\n    -d client_id={} -d audience={}",
            oidc.token_endpoint(),
            obo_local::oidc::PASSWORD,
            obo_local::oidc::WEB_CLIENT,
            obo_local::oidc::API_AUDIENCE
        );
    } else {
        println!("\nUsers (pool {}):", stack.cognito.pool_id());
        for user in &stack.cognito.config().users {
            let org = user.attributes.get("custom:org_id").map(String::as_str).unwrap_or("-");
            println!(
                "  {:<8} password {:<16} org {org}{}",
                user.username,
                user.password.expose(),
                if user.enabled { "" } else { " (disabled)" }
            );
        }
        println!(
            "\nGet a user token (access token of app client {USER_CLIENT}):\n  aws cognito-idp initiate-auth --endpoint-url {} --region {} --no-sign-request \\\n    --client-id {USER_CLIENT} --auth-flow USER_PASSWORD_AUTH --auth-parameters USERNAME=alice,PASSWORD='<password>' \\\n    --query AuthenticationResult.AccessToken --output text",
            stack.cognito.base_url(),
            stack.cognito.region()
        );
    }
    println!("Then point any MCP client at {} with `Authorization: Bearer <token>`.", stack.gateway_url());
    println!("\nPress Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping");
    ExitCode::SUCCESS
}
