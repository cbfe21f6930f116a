//! The figures drawn: SVG charts next to `target/bench/latest.json`, from the same details (a
//! chart whose part did not run this time is not drawn).
//!
//! - `rss.svg`: resident memory over the invocations of the `memory` part, per function;
//! - `latency.svg`: tool-call latency p50/p99 (cache hit, shared-tier hit when measured, miss,
//!   pass-through) from the `latency` part;
//! - `token-requests.svg`: token requests per 10 minutes over the simulated day, per design;
//! - `validity-sweep.svg`: $ per million tool calls against the minted token's validity.
//!
//! SVG only (plotters' SVG backend): no font files or C libraries; text is laid out by the viewer.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde_json::{Map, Value};

type Drawn = Result<(), Box<dyn std::error::Error>>;

const SIZE: (u32, u32) = (900, 520);
const COLOURS: [RGBColor; 5] = [RED, BLUE, GREEN, MAGENTA, BLACK];

/// Draws every chart whose data is in `details`; the paths written.
pub fn write(dir: &Path, details: &Map<String, Value>) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut draw = |name: &str, chart: &dyn Fn(&Path) -> Drawn, present: bool| -> Result<(), String> {
        if !present {
            return Ok(());
        }
        let path = dir.join(name);
        chart(&path).map_err(|e| format!("{name}: {e}"))?;
        written.push(path);
        Ok(())
    };
    let memory = details.get("memory");
    let latency = details.get("latency");
    let simulation = details.get("simulation");
    draw("rss.svg", &|p| rss(p, memory.unwrap_or(&Value::Null)), memory.is_some())?;
    draw("latency.svg", &|p| latencies(p, latency.unwrap_or(&Value::Null)), latency.is_some())?;
    let quota = simulation.and_then(|s| s.get("quota"));
    draw("token-requests.svg", &|p| token_requests(p, quota.unwrap_or(&Value::Null)), quota.is_some())?;
    let sweep = simulation.and_then(|s| s.get("validity_sweep"));
    draw("validity-sweep.svg", &|p| validity_sweep(p, sweep.unwrap_or(&Value::Null)), sweep.is_some())?;
    Ok(written)
}

/// A chart frame: caption, margins and label areas, the same on every chart.
fn framed<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder.caption(caption, ("sans-serif", 20)).margin(15).x_label_area_size(40).y_label_area_size(70);
    builder
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

fn max_of<'a>(values: impl IntoIterator<Item = &'a f64>) -> f64 {
    values.into_iter().copied().fold(0.0, f64::max)
}

/// `VmRSS` (MB) against invocations, one line per function.
fn rss(path: &Path, memory: &Value) -> Drawn {
    let runs: Vec<(&str, Vec<f64>, f64)> =
        [("hello_lambda", "hello-world"), ("pre_token", "pre-token"), ("interceptor", "interceptor")]
            .into_iter()
            .map(|(key, label)| {
                let run = &memory[key];
                let mb: Vec<f64> = numbers(&run["vmrss_bytes"]).into_iter().map(|b| b / 1e6).collect();
                (label, mb, run["invocations"].as_f64().unwrap_or(0.0))
            })
            .collect();
    let x_max = runs.iter().map(|r| r.2).fold(1.0, f64::max);
    let y_max = max_of(runs.iter().flat_map(|r| &r.1)) * 1.2 + 1.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = framed(&root, "Resident memory over invocations (make bench, memory)")
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart.configure_mesh().x_desc("invocations after warm-up").y_desc("VmRSS, MB").draw()?;
    for ((label, mb, invocations), colour) in runs.iter().zip(COLOURS) {
        let step = if mb.len() > 1 { invocations / (mb.len() - 1) as f64 } else { 0.0 };
        let points = mb.iter().enumerate().map(|(i, y)| (i as f64 * step, *y));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// p50 and p99 per kind of tool call, as bars.
fn latencies(path: &Path, latency: &Value) -> Drawn {
    let kinds: Vec<(&str, f64, f64)> = [
        ("hit", "cache hit"),
        ("shared_hit", "shared-tier hit"),
        ("miss", "cache miss"),
        ("passthrough", "pass-through"),
    ]
    .into_iter()
    .filter_map(|(key, label)| {
        let s = latency.get(key)?;
        Some((label, s["p50_ms"].as_f64()?, s["p99_ms"].as_f64()?))
    })
    .collect();
    let y_max = max_of(kinds.iter().map(|k| &k.2)) * 1.2 + 0.1;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = framed(&root, "Tool-call latency through the local stack, p50 and p99")
        .build_cartesian_2d(0.0..kinds.len() as f64, 0.0..y_max)?;
    let labels: Vec<&str> = kinds.iter().map(|k| k.0).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(kinds.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.26 {
                labels.get(i).map_or(String::new(), |l| (*l).to_owned())
            } else {
                String::new()
            }
        })
        .y_desc("ms")
        .draw()?;
    for (i, (_, p50, p99)) in kinds.iter().enumerate() {
        let x = i as f64;
        chart.draw_series([
            Rectangle::new([(x + 0.15, 0.0), (x + 0.48, *p50)], BLUE.filled()),
            Rectangle::new([(x + 0.52, 0.0), (x + 0.85, *p99)], RED.filled()),
        ])?;
    }
    chart
        .draw_series([Rectangle::new([(0.0, 0.0), (0.0, 0.0)], BLUE.filled())])?
        .label("p50")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE.filled()));
    chart
        .draw_series([Rectangle::new([(0.0, 0.0), (0.0, 0.0)], RED.filled())])?
        .label("p99")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RED.filled()));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// Token requests per 10 minutes over the day, one line per design.
fn token_requests(path: &Path, quota: &Value) -> Drawn {
    let designs = ["uncached", "per_environment", "shared_tier", "ideal_per_environment", "ideal_shared"];
    let series: Vec<(&str, Vec<f64>)> =
        designs.iter().map(|d| (*d, numbers(&quota["token_requests_per_10_minutes"][d]))).collect();
    let buckets = series.iter().map(|s| s.1.len()).max().unwrap_or(0);
    let y_max = max_of(series.iter().flat_map(|s| &s.1)) * 1.1 + 1.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = framed(&root, "Cognito token requests per 10 minutes, simulated day")
        .build_cartesian_2d(0.0..(buckets as f64 / 6.0).max(1.0), 0.0..y_max)?;
    chart.configure_mesh().x_desc("hour of the day").y_desc("token requests / 10 min").draw()?;
    for ((name, values), colour) in series.iter().zip(COLOURS) {
        let points = values.iter().enumerate().map(|(i, v)| ((i as f64 + 0.5) / 6.0, *v));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(name.replace('_', " "))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// $ per million tool calls against the minted token's validity (the revocation bound).
fn validity_sweep(path: &Path, sweep: &Value) -> Drawn {
    let points = sweep.as_array().cloned().unwrap_or_default();
    let designs = ["uncached", "per_environment", "shared_tier", "ideal_shared"];
    let cost = |p: &Value, d: &str| p["cost_per_million_calls"][d].as_f64().unwrap_or(0.0);
    let y_max = points.iter().flat_map(|p| designs.map(|d| cost(p, d))).fold(0.0, f64::max) * 1.1 + 1.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = framed(&root, "Cost per million tool calls against minted-token validity")
        .build_cartesian_2d(0.0..65.0, (0.0..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("validity = revocation bound, minutes")
        .y_desc("$ per 1M tool calls (log)")
        .draw()?;
    for (design, colour) in designs.iter().zip(COLOURS) {
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p["validity_minutes"].as_f64().unwrap_or(0.0), cost(p, design).max(0.01)))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))?
            .label(design.replace('_', " "))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn draws_what_is_there() {
        let dir = std::env::temp_dir().join(format!("obo-bench-charts-{}", std::process::id()));
        let mut details = Map::new();
        details.insert(
            "latency".into(),
            json!({"hit": {"p50_ms": 1.0, "p99_ms": 2.0}, "miss": {"p50_ms": 5.0, "p99_ms": 9.0}}),
        );
        details.insert(
            "simulation".into(),
            json!({"quota": {"token_requests_per_10_minutes": {"uncached": [3, 4], "shared_tier": [1, 1]}},
                   "validity_sweep": [{"validity_minutes": 5, "cost_per_million_calls": {"uncached": 9.0}}]}),
        );
        let written = write(&dir, &details).unwrap();
        let names: Vec<String> =
            written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["latency.svg", "token-requests.svg", "validity-sweep.svg"]);
        let svg = std::fs::read_to_string(dir.join("token-requests.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("shared tier"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
