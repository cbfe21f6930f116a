//! The Runtime API host running a real `lambda_runtime` binary (examples/fixture_lambda.rs):
//! answers, function errors, deadlines, crashes and init errors, restarts, log capture, and one
//! invocation at a time per environment.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use obo_local::invoke::{Invoke, InvokeError};
use obo_local::lambda_host::{FunctionConfig, LambdaFunction, LogStream};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(10);

/// target/debug/examples/fixture_lambda, next to this test's own executable.
fn fixture() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let debug = exe.parent().and_then(|deps| deps.parent()).expect("target/debug");
    let path = debug.join("examples").join("fixture_lambda");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p obo-local` (which builds examples) or `cargo build -p obo-local --examples`",
        path.display()
    );
    path
}

async fn start(config: FunctionConfig) -> LambdaFunction {
    let function = LambdaFunction::start(config).await.expect("start fixture");
    function.ready(DEADLINE).await.expect("fixture ready");
    function
}

async fn fixture_function() -> LambdaFunction {
    start(FunctionConfig::new("fixture", fixture()).env("FIXTURE_VAR", "from-config")).await
}

#[tokio::test]
async fn echoes_with_lambda_context_and_a_clean_environment() {
    let function = fixture_function().await;
    let vars = [
        "FIXTURE_VAR",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_LOG_FORMAT",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN",
        "CARGO_MANIFEST_DIR",
        "HOME",
    ];
    let before = obo_testkit::tokens::now_secs() * 1000;
    let out = function.invoke(json!({"action": "echo", "n": 1, "vars": vars}), DEADLINE).await.unwrap();
    assert_eq!(out["echo"]["n"], 1);
    let ctx = &out["context"];
    assert_eq!(ctx["invoked_function_arn"], "arn:aws:lambda:us-east-1:000000000000:function:fixture");
    assert_eq!(ctx["function_name"], "fixture");
    assert_eq!(ctx["memory"], 128);
    assert!(ctx["request_id"].as_str().is_some_and(|id| id.len() >= 32));
    assert!(ctx["xray_trace_id"].as_str().is_some_and(|t| t.starts_with("Root=1-")));
    let deadline = ctx["deadline"].as_u64().unwrap();
    assert!(deadline >= before + 9_000 && deadline <= before + 12_000, "deadline {deadline} vs {before}");
    let v = &out["vars"];
    assert_eq!(v["FIXTURE_VAR"], "from-config");
    assert_eq!(v["AWS_LAMBDA_FUNCTION_NAME"], "fixture");
    assert_eq!(v["AWS_LAMBDA_LOG_FORMAT"], "JSON");
    assert_eq!(v["AWS_EC2_METADATA_DISABLED"], "true");
    assert_eq!(v["AWS_REGION"], "us-east-1");
    assert_eq!(v["AWS_ACCESS_KEY_ID"], "ASIAOBOLOCALFAKEKEY0");
    assert!(v["AWS_SESSION_TOKEN"].is_string());
    // Nothing of the host's own environment leaks into the function.
    assert_eq!(v["CARGO_MANIFEST_DIR"], Value::Null);
    assert_eq!(v["HOME"], Value::Null);
    assert_eq!(out["pid"], json!(function.pid().await.unwrap()));
    let stats = function.stats();
    assert_eq!((stats.invocations, stats.environments, stats.crashes), (1, 1, 0));
}

#[tokio::test]
async fn function_errors_are_reported_and_the_environment_stays() {
    let function = fixture_function().await;
    let pid = function.pid().await;
    let err = function.invoke(json!({"action": "error", "message": "no such account"}), DEADLINE).await;
    assert_eq!(
        err,
        Err(InvokeError::Function {
            error_type: "FixtureError".into(),
            error_message: "no such account".into()
        })
    );
    let err = function.invoke(json!({"action": "panic"}), DEADLINE).await.unwrap_err();
    assert!(matches!(err, InvokeError::Function { .. }), "{err:?}");
    assert!(function.invoke(json!({}), DEADLINE).await.is_ok());
    assert_eq!(function.pid().await, pid, "a function error does not restart the environment");
    assert_eq!(function.stats().function_errors, 2);
}

#[tokio::test]
async fn a_deadline_stops_the_environment_and_the_next_call_restarts_it() {
    let function = fixture_function().await;
    let first_pid = function.pid().await.unwrap();
    let started = Instant::now();
    let err = function.invoke(json!({"action": "sleep", "ms": 30_000}), Duration::from_millis(500)).await;
    assert_eq!(err, Err(InvokeError::Timeout(Duration::from_millis(500))));
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    let out = function.invoke(json!({}), DEADLINE).await.unwrap();
    assert_ne!(out["pid"], json!(first_pid), "a new process answers");
    let stats = function.stats();
    assert_eq!((stats.timeouts, stats.environments, stats.crashes), (1, 2, 0));
    assert!(function.logs().iter().any(|l| l.contains("Task timed out after 0.50 seconds")));
    // Each environment that answered an event recorded its cold start.
    let cold = function.cold_starts();
    assert_eq!(cold.len(), 1, "the first environment never answered: {cold:?}");
    assert!(cold[0].init > Duration::ZERO && cold[0].total() >= cold[0].init);
}

#[tokio::test]
async fn a_crash_is_reported_and_the_function_restarts() {
    let function = fixture_function().await;
    let err = function.invoke(json!({"action": "exit", "code": 7}), DEADLINE).await.unwrap_err();
    match &err {
        InvokeError::Crashed(message) => {
            assert!(message.contains("Runtime exited with error: exit status: 7"), "{message}")
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    let out = function.invoke(json!({"n": 2}), DEADLINE).await.unwrap();
    assert_eq!(out["echo"]["n"], 2);
    let stats = function.stats();
    assert_eq!((stats.crashes, stats.environments), (1, 2));
}

#[tokio::test]
async fn an_init_error_is_reported_with_its_message_on_every_attempt() {
    let function =
        LambdaFunction::start(FunctionConfig::new("broken", fixture()).env("FIXTURE_INIT", "fail"))
            .await
            .unwrap();
    let err = function.ready(DEADLINE).await.unwrap_err();
    let InvokeError::Crashed(message) = err else { panic!("expected an init error, got {err:?}") };
    assert!(message.contains("Runtime.InitError.misconfigured"), "{message}");
    assert!(message.contains("FIXTURE_INIT"), "{message}");
    // Each invocation tries a new environment, which fails its init again.
    for _ in 0..2 {
        let err = function.invoke(json!({}), DEADLINE).await.unwrap_err();
        assert!(matches!(&err, InvokeError::Crashed(m) if m.contains("FIXTURE_INIT")), "{err:?}");
    }
    assert_eq!(function.stats().environments, 3);
    assert!(function.logs().iter().any(|l| l.starts_with("INIT_REPORT")));
}

#[tokio::test]
async fn an_exit_during_init_is_a_crash() {
    let function = LambdaFunction::start(FunctionConfig::new("quits", fixture()).env("FIXTURE_INIT", "exit"))
        .await
        .unwrap();
    let err = function.invoke(json!({}), DEADLINE).await.unwrap_err();
    assert!(matches!(&err, InvokeError::Crashed(m) if m.contains("exit status: 2")), "{err:?}");
}

#[tokio::test]
async fn a_missing_binary_fails_to_start() {
    let err = LambdaFunction::start(FunctionConfig::new("none", "/nonexistent/bootstrap")).await.unwrap_err();
    assert!(matches!(&err, InvokeError::Crashed(m) if m.contains("could not start")), "{err:?}");
}

#[tokio::test]
async fn captures_stdout_stderr_and_platform_lines() {
    let function = fixture_function().await;
    let mut live = function.follow_logs();
    let mark = function.log_mark();
    function.invoke(json!({"action": "log", "lines": ["hello-from-fixture"]}), DEADLINE).await.unwrap();
    // Output pipes are read asynchronously: wait for the stderr line to arrive.
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let line = live.recv().await.unwrap();
            if line.stream == LogStream::Stderr && line.text == "stderr: hello-from-fixture" {
                break;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "stderr line never followed: {:?}", function.logs());
    let lines = function.logs_since(mark);
    assert!(lines.iter().any(|l| l.stream == LogStream::Stdout && l.text == "hello-from-fixture"));
    assert!(lines.iter().any(|l| l.stream == LogStream::Platform && l.text.starts_with("START RequestId: ")));
    assert!(
        lines.iter().any(|l| l.stream == LogStream::Platform && l.text.starts_with("REPORT RequestId: "))
    );
    assert!(function.logs().iter().any(|l| l == "fixture init done"), "init output is kept too");
}

#[tokio::test]
async fn concurrent_invocations_run_one_at_a_time_in_one_process() {
    let function = Arc::new(fixture_function().await);
    let calls = (0..3).map(|i| {
        let f = function.clone();
        tokio::spawn(async move { f.invoke(json!({"action": "sleep", "ms": 150, "i": i}), DEADLINE).await })
    });
    let mut spans = Vec::new();
    for call in calls {
        let out = call.await.unwrap().unwrap();
        spans.push((
            out["started_ms"].as_u64().unwrap(),
            out["ended_ms"].as_u64().unwrap(),
            out["pid"].as_u64().unwrap(),
        ));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "invocations overlapped: {spans:?}");
        assert_eq!(pair[0].2, pair[1].2, "one process served them all");
    }
    assert_eq!(function.stats().environments, 1);
}

#[tokio::test]
async fn a_queued_invocation_times_out_within_its_own_deadline() {
    let function = Arc::new(fixture_function().await);
    let busy = {
        let f = function.clone();
        tokio::spawn(async move { f.invoke(json!({"action": "sleep", "ms": 1_500}), DEADLINE).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = function.invoke(json!({}), Duration::from_millis(300)).await;
    assert_eq!(err, Err(InvokeError::Timeout(Duration::from_millis(300))));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(busy.await.unwrap().is_ok(), "the running invocation is not disturbed");
}

#[tokio::test]
async fn shutdown_stops_the_process_and_drop_kills_it() {
    let function = fixture_function().await;
    let pid = function.pid().await.unwrap();
    function.shutdown().await;
    assert!(!process_alive(pid), "process {pid} survived shutdown");
    assert!(function.pid().await.is_none());

    let function = fixture_function().await;
    let pid = function.pid().await.unwrap();
    drop(function);
    let gone = tokio::time::timeout(Duration::from_secs(5), async {
        while process_alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "process {pid} outlived its host");
}

/// Whether `pid` is a live (not zombie) process.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
