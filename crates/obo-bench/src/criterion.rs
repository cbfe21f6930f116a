//! Figures 1 and 2, from obo-core's criterion benches (`crates/obo-core/benches/`): the trigger's
//! warm path beside a bare `jsonwebtoken` decode, and the interceptor's cache hit beside the
//! bare JSON round trip of the same event. The benches drive the handlers in-process, so their
//! configurations set `OBO_METRICS=off`. Criterion's median estimate is used: the most robust to other
//! work on a shared machine. `make bench` runs them for the deployed build's target family
//! (`x86_64-unknown-linux-musl`, with the Lambdas' allocator: see the benches).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::report::{Figure, Goal, Unit};

/// Medians, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    /// The full M2M trigger handler, JSON in → JSON out.
    pub trigger_handler_us: f64,
    /// A bare RS256 `jsonwebtoken::decode` of the same token.
    pub bare_decode_us: f64,
    /// The interceptor's whole handler on a cache hit (2 KB event).
    pub interceptor_hit_us: f64,
    /// Parsing and serialising the same 2 KB event, nothing else.
    pub json_roundtrip_us: f64,
}

/// The criterion ids read, in the order of [`Estimates`]' fields.
const BENCHES: [&str; 4] = [
    "trigger_warm/full_m2m_handler",
    "trigger_warm/bare_jsonwebtoken_decode",
    "interceptor_cache_hit_2kb",
    "interceptor_floor_json_2kb",
];

/// Runs the benches (unless `rerun` is false: then the last run's estimates are read), for
/// `target` (a target triple; the host's when `None`).
pub fn measure(
    workspace: &Path,
    target_dir: &Path,
    rerun: bool,
    target: Option<&str>,
) -> Result<Estimates, String> {
    let started = SystemTime::now();
    if rerun {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace)
            .args(["bench", "-p", "obo-core", "--bench", "trigger_warm", "--bench", "interceptor_hit"])
            .args(target.map(|t| ["--target", t]).into_iter().flatten())
            .status()
            .map_err(|e| format!("cargo bench: {e}"))?;
        if !status.success() {
            return Err(format!("cargo bench failed: {status}"));
        }
    }
    let mut values = [0.0; 4];
    for (value, id) in values.iter_mut().zip(BENCHES) {
        let path = target_dir.join("criterion").join(id).join("new/estimates.json");
        if rerun && std::fs::metadata(&path).and_then(|m| m.modified()).is_ok_and(|m| m < started) {
            return Err(format!("{} was not written by this run", path.display()));
        }
        *value = median_us(&path)?;
    }
    let [trigger_handler_us, bare_decode_us, interceptor_hit_us, json_roundtrip_us] = values;
    Ok(Estimates { trigger_handler_us, bare_decode_us, interceptor_hit_us, json_roundtrip_us })
}

/// The median point estimate of a criterion `estimates.json`, in µs.
fn median_us(path: &PathBuf) -> Result<f64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (run without --reuse-criterion)", path.display()))?;
    let estimates: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    estimates["median"]["point_estimate"]
        .as_f64()
        .map(|ns| ns / 1000.0)
        .ok_or_else(|| format!("{}: no median", path.display()))
}

/// The rows.
pub fn figures(e: &Estimates) -> Vec<Figure> {
    vec![
        Figure::new("trigger_warm_us", "Trigger warm path (M2M handler)", e.trigger_handler_us, Unit::Micros)
            .floor("bare RS256 decode", e.bare_decode_us)
            .goal(Goal::RatioAtMost { ratio: 1.5 })
            .note("event JSON in → response JSON out, JWKS cached; criterion median, OBO_METRICS=off"),
        Figure::new(
            "interceptor_hit_us",
            "Interceptor cache hit (2 KB tools/call)",
            e.interceptor_hit_us,
            Unit::Micros,
        )
        .floor("JSON parse+serialize", e.json_roundtrip_us)
        .goal(Goal::AtMost { value: 50.0 })
        .note("whole handler, event JSON text in → output JSON text out; criterion median, OBO_METRICS=off"),
    ]
}

/// The raw estimates, for the JSON report.
pub fn details(e: &Estimates) -> Value {
    json!({
        "statistic": "criterion median",
        "trigger_handler_us": e.trigger_handler_us,
        "bare_decode_us": e.bare_decode_us,
        "interceptor_hit_us": e.interceptor_hit_us,
        "json_roundtrip_us": e.json_roundtrip_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_median_in_microseconds() {
        let dir = std::env::temp_dir().join(format!("obo-bench-criterion-{}", std::process::id()));
        for (i, id) in BENCHES.iter().enumerate() {
            let d = dir.join("criterion").join(id).join("new");
            std::fs::create_dir_all(&d).unwrap();
            let ns = 1000.0 * (i + 1) as f64;
            std::fs::write(d.join("estimates.json"), json!({"median": {"point_estimate": ns}}).to_string())
                .unwrap();
        }
        let e = measure(&dir, &dir, false, None).unwrap();
        assert_eq!(
            (e.trigger_handler_us, e.bare_decode_us, e.interceptor_hit_us, e.json_roundtrip_us),
            (1.0, 2.0, 3.0, 4.0)
        );
        let rows = figures(&e);
        assert_eq!(rows[0].ratio(), Some(0.5));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(measure(&dir, &dir, false, None).unwrap_err().contains("estimates.json"));
    }
}
