//! `obo-bench`: runs every measurement of `make bench` and prints one table; writes the same
//! figures to `target/bench/report-<unix time>.json` and `target/bench/latest.json`.
//!
//! ```text
//! obo-bench [--quick] [--skip PART]... [--only PART]... [--reuse-criterion] [--bin-dir DIR]
//!           [--bench-target TRIPLE]
//! PART: criterion, cold-start, size, rss, latency, load, memory, simulation
//! ```
//!
//! `make bench` builds what it needs first (the deployed musl build for this machine, arm64
//! binaries for the sizes) and passes `--bin-dir` (where the binaries that run are; default
//! `target/release`) and `--bench-target` (the target triple of the criterion benches; default the
//! host's). `--quick` shortens the slow parts (fewer cold starts, shorter load, a tenth of the
//! memory run's invocations, criterion's last estimates reused); `make bench` runs them all in full.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use obo_bench::cost::{Durations, Prices};
use obo_bench::fixture::Paths;
use obo_bench::report::{Failure, Figure, Report};
use obo_bench::shared_tier::TierModel;
use obo_bench::workload::Workload;
use obo_bench::{
    charts, cold_start, criterion, economics, flat_memory, latency, load, machine, quota, rss, simulation,
    size, sweep,
};
use serde_json::{Value, json};

const PARTS: [&str; 8] =
    ["criterion", "cold-start", "size", "rss", "latency", "load", "memory", "simulation"];
const USAGE: &str = "usage: obo-bench [--quick] [--skip PART]... [--only PART]... [--reuse-criterion] \
                     [--bin-dir DIR] [--bench-target TRIPLE]\nPART: criterion, cold-start, size, rss, latency, load, memory, simulation";

/// What to run, and how long.
#[derive(Debug)]
struct Options {
    parts: Vec<&'static str>,
    reuse_criterion: bool,
    cold_start_runs: usize,
    latency_users: usize,
    load_clients: usize,
    load_duration: Duration,
    cache_users: usize,
    memory_invocations: u64,
    bin_dir: Option<PathBuf>,
    bench_target: Option<String>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        parts: PARTS.to_vec(),
        reuse_criterion: false,
        cold_start_runs: 21,
        latency_users: 100,
        load_clients: 16,
        load_duration: Duration::from_secs(20),
        cache_users: 10_000,
        memory_invocations: flat_memory::INVOCATIONS,
        bin_dir: None,
        bench_target: None,
    };
    let (mut only, mut skip) = (Vec::new(), Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut part = || {
            let name = args.next().ok_or(format!("{arg} needs a PART"))?;
            PARTS.iter().copied().find(|p| p == name).ok_or(format!("unknown PART {name:?}"))
        };
        match arg.as_str() {
            "--quick" => {
                o = Options {
                    reuse_criterion: true,
                    cold_start_runs: 7,
                    latency_users: 20,
                    load_clients: 4,
                    memory_invocations: flat_memory::INVOCATIONS / 10,
                    ..o
                };
                o.load_duration = Duration::from_secs(5);
            }
            "--reuse-criterion" => o.reuse_criterion = true,
            "--only" => only.push(part()?),
            "--skip" => skip.push(part()?),
            "--bin-dir" => o.bin_dir = Some(args.next().ok_or("--bin-dir needs a DIR")?.into()),
            "--bench-target" => {
                o.bench_target = Some(args.next().ok_or("--bench-target needs a TRIPLE")?.clone())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    o.parts.retain(|p| (only.is_empty() || only.contains(p)) && !skip.contains(p));
    Ok(o)
}

/// The workspace this binary was built from.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

/// One part's rows and details, or why it failed.
type Part = Result<(Vec<Figure>, Value), String>;

fn record(report: &mut Report, name: &str, part: Part) {
    match part {
        Ok((figures, details)) => {
            report.figures.extend(figures);
            report.details.insert(name.to_owned(), details);
        }
        Err(error) => {
            eprintln!("obo-bench: {name} failed: {error}");
            report.failures.push(Failure { part: name.to_owned(), error });
        }
    }
}

/// What earlier parts measured that a later one uses: the cost model's durations.
#[derive(Default)]
struct Measured {
    fast: Option<criterion::Estimates>,
    miss_ms: Option<f64>,
}

impl Measured {
    /// Measured durations where this run has them; Lambda's 1 ms billing minimum otherwise.
    fn durations(&self) -> Durations {
        let mut d = Durations {
            interceptor_hit_ms: 0.0,
            interceptor_miss_ms: 0.0,
            trigger_ms: 0.0,
            source: "not measured in this run: Lambda's 1 ms minimum".into(),
        };
        let mut sources = Vec::new();
        if let Some(e) = self.fast {
            d.interceptor_hit_ms = e.interceptor_hit_us / 1000.0;
            d.trigger_ms = e.trigger_handler_us / 1000.0;
            sources.push("hit and trigger: criterion medians");
        }
        if let Some(ms) = self.miss_ms {
            d.interceptor_miss_ms = ms;
            sources.push("miss: the interceptor's median handler time in the local stack (loopback Cognito)");
        }
        if !sources.is_empty() {
            d.source = sources.join("; ");
        }
        d
    }
}

/// Runs one part.
async fn run_part(part: &str, o: &Options, paths: &Paths, measured: &mut Measured) -> Part {
    match part {
        "criterion" => criterion::measure(
            &paths.workspace,
            &paths.target_dir,
            !o.reuse_criterion,
            o.bench_target.as_deref(),
        )
        .map(|e| {
            measured.fast = Some(e);
            (criterion::figures(&e), criterion::details(&e))
        }),
        "cold-start" => cold_start::measure(paths, o.cold_start_runs)
            .await
            .map(|c| (cold_start::figures(&c), cold_start::details(&c))),
        "size" => {
            size::measure(&paths.workspace, &paths.lambda_dir).map(|s| (size::figures(&s), size::details(&s)))
        }
        "rss" => rss::measure(paths, o.cache_users).await.map(|m| (rss::figures(&m), rss::details(&m))),
        "latency" => latency::measure(paths, o.latency_users).await.map(|l| {
            measured.miss_ms = Some(l.handler_miss_ms);
            (latency::figures(&l), latency::details(&l))
        }),
        "load" => load::measure(paths, o.load_clients, o.load_duration)
            .await
            .map(|l| (load::figures(&l), load::details(&l))),
        "memory" => flat_memory::measure(paths, o.memory_invocations)
            .await
            .map(|m| (flat_memory::figures(&m), flat_memory::details(&m))),
        "simulation" => simulation_part(&measured.durations()),
        other => Err(format!("unknown part {other}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("obo-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut paths = Paths::new(&workspace());
    if let Some(dir) = &o.bin_dir {
        paths.bin_dir = dir.clone();
    }
    let unix_time = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (mut report, mut measured) = (Report::default(), Measured::default());
    for part in &o.parts {
        eprintln!("obo-bench: {part} …");
        let result = run_part(part, &o, &paths, &mut measured).await;
        record(&mut report, part, result);
    }
    let machine = machine::describe(&paths.workspace);
    println!("\ncognito-obo benchmarks — {}\n", machine::summary(&machine));
    print!("{}", report.table());
    let meta = json!({"unix_time": unix_time, "machine": machine, "arguments": args, "parts": o.parts,
                      "lambda_metrics": "production default (OBO_METRICS unset) for the binaries; off in criterion"});
    let bench_dir = paths.target_dir.join("bench");
    match report.write(&bench_dir, unix_time, meta) {
        Ok(path) => println!("\nwritten to {} and latest.json", path.display()),
        Err(e) => eprintln!("obo-bench: could not write the report: {e}"),
    }
    match charts::write(&bench_dir, &report.details) {
        Ok(written) => written.iter().for_each(|path| println!("chart: {}", path.display())),
        Err(e) => eprintln!("obo-bench: could not draw the charts: {e}"),
    }
    if report.missed() > 0 {
        println!("{} goal(s) missed", report.missed());
    }
    if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn simulation_part(durations: &Durations) -> Part {
    let workload = Workload::DAY;
    let settings = simulation::default_settings()?;
    let calls = workload.generate()?;
    let (outcome, series) = simulation::replay_day(&workload, settings, &calls, &TierModel::DEFAULT);
    // What smaller caches would lose, for choosing OBO_CACHE_MAX_ENTRIES.
    let by_size: Vec<(usize, u64)> = [50, 100, 200, 400, 1_000]
        .into_iter()
        .map(|size| {
            (size, simulation::replay(&workload, simulation::with_size(settings, size), &calls).exchanges)
        })
        .collect();
    let prices = Prices::AWS;
    let mut details = economics::details(&workload, &outcome, durations, &prices);
    details["exchanges_by_cache_size"] = by_size
        .iter()
        .map(|(size, exchanges)| json!({"max_entries": size, "exchanges": exchanges}))
        .collect();
    details["quota"] = quota::details(&workload, &outcome, &series);
    let points = sweep::run(&workload, settings, &calls, durations, &prices);
    details["validity_sweep"] = sweep::details(&points);
    let mut figures = economics::figures(&workload, &outcome, durations, &prices);
    figures.extend(quota::figures(&workload, &outcome, &series));
    figures.extend(sweep::figures(&points));
    Ok((figures, details))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        options(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&[]).unwrap().parts, PARTS);
        let quick = parse(&["--quick", "--skip", "load"]).unwrap();
        assert!(quick.reuse_criterion && quick.cold_start_runs == 7 && !quick.parts.contains(&"load"));
        assert_eq!(parse(&["--only", "size", "--only", "simulation"]).unwrap().parts, ["size", "simulation"]);
        assert!(parse(&["--only", "nope"]).is_err());
        assert!(parse(&["--skip"]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }
}
