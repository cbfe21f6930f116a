//! Where and from what a run was measured: CPU, memory, kernel, toolchain, commit. Figures are
//! only comparable on the same machine; the report says which one.

use std::process::Command;

use serde_json::{Value, json};

/// The first line of `/proc/cpuinfo` starting with `key`, its value.
fn cpuinfo(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// A command's first output line, if it runs.
fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok().filter(|o| o.status.success())?;
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned)
}

/// `MemTotal` in GB.
fn memory_gb() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((kb / 1e6 * 10.0).round() / 10.0)
}

/// The description.
pub fn describe(workspace: &std::path::Path) -> Value {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    json!({
        "cpu": cpuinfo("model name").or_else(|| cpuinfo("CPU part")),
        "logical_cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "memory_gb": memory_gb(),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
        "arch": std::env::consts::ARCH,
        "rustc": first_line(&rustc, &["--version"]),
        "commit": first_line("git", &["-C", &workspace.display().to_string(), "rev-parse", "--short", "HEAD"]),
    })
}

/// One line for the screen: `Intel Xeon … , 2 logical CPUs, 24.1 GB, Linux 6.1`.
pub fn summary(machine: &Value) -> String {
    format!(
        "{}, {} logical CPUs, {} GB RAM, Linux {}, {}",
        machine["cpu"].as_str().unwrap_or("unknown CPU"),
        machine["logical_cpus"],
        machine["memory_gb"],
        machine["kernel"].as_str().unwrap_or("?"),
        machine["rustc"].as_str().unwrap_or("rustc ?"),
    )
}
