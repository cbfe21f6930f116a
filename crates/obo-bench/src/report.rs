//! The figures of one run: each with its value on this machine, the floor measured in the same
//! run, their ratio and the goal. Printed as one table, and written as JSON so runs can be
//! compared (`target/bench/report-<unix time>.json` and `target/bench/latest.json`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

/// The unit of a number, which also says how it is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
    /// Megabytes (10^6 bytes).
    Megabytes,
    /// A count.
    Count,
    /// A fraction, printed as a percentage.
    Fraction,
    /// US dollars.
    Dollars,
    /// Per second.
    PerSecond,
}

impl Unit {
    /// `value` with this unit, for the table.
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Micros => format!("{value:.1} µs"),
            Self::Millis => format!("{value:.2} ms"),
            Self::Megabytes => format!("{value:.2} MB"),
            Self::Count => format!("{value:.0}"),
            Self::Fraction => format!("{:.2} %", value * 100.0),
            Self::Dollars => format!("${value:.2}"),
            Self::PerSecond => format!("{value:.0}/s"),
        }
    }
}

/// What a figure must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Goal {
    /// Reported only.
    None,
    /// The value is at most this (in the figure's unit).
    AtMost {
        /// The limit.
        value: f64,
    },
    /// The ratio to the floor is at most this.
    RatioAtMost {
        /// The limit.
        ratio: f64,
    },
    /// Both of the above.
    Both {
        /// The limit on the value.
        value: f64,
        /// The limit on the ratio.
        ratio: f64,
    },
    /// A check that passed or not (the value is a count of problems, 0 passes).
    Zero,
}

/// The floor a figure is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Floor {
    /// What the floor is (e.g. "bare jsonwebtoken decode").
    pub label: String,
    /// Its value, in the figure's unit.
    pub value: f64,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// A stable key for comparing runs.
    pub id: String,
    /// The name shown in the table.
    pub name: String,
    /// The value on this machine.
    pub value: f64,
    /// Its unit.
    pub unit: Unit,
    /// The floor measured in the same run, if the figure has one.
    pub floor: Option<Floor>,
    /// The goal.
    pub goal: Goal,
    /// A short remark shown under the table (what the figure includes, a setting).
    pub note: Option<String>,
}

impl Figure {
    /// A figure with no floor and no goal.
    pub fn new(id: &str, name: &str, value: f64, unit: Unit) -> Self {
        Self { id: id.into(), name: name.into(), value, unit, floor: None, goal: Goal::None, note: None }
    }

    /// With a floor.
    pub fn floor(mut self, label: &str, value: f64) -> Self {
        self.floor = Some(Floor { label: label.into(), value });
        self
    }

    /// With a goal.
    pub fn goal(mut self, goal: Goal) -> Self {
        self.goal = goal;
        self
    }

    /// With a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Value ÷ floor, when there is a non-zero floor.
    pub fn ratio(&self) -> Option<f64> {
        self.floor.as_ref().filter(|f| f.value > 0.0).map(|f| self.value / f.value)
    }

    /// Whether the goal is met; `None` when there is no goal.
    pub fn pass(&self) -> Option<bool> {
        let ratio_ok = |limit: f64| self.ratio().is_some_and(|r| r <= limit);
        match self.goal {
            Goal::None => None,
            Goal::AtMost { value } => Some(self.value <= value),
            Goal::RatioAtMost { ratio } => Some(ratio_ok(ratio)),
            Goal::Both { value, ratio } => Some(self.value <= value && ratio_ok(ratio)),
            Goal::Zero => Some(self.value == 0.0),
        }
    }

    fn goal_text(&self) -> String {
        match self.goal {
            Goal::None => "-".into(),
            Goal::AtMost { value } => format!("≤ {}", self.unit.format(value)),
            Goal::RatioAtMost { ratio } => format!("≤ {ratio}×"),
            Goal::Both { value, ratio } => format!("≤ {}, ≤ {ratio}×", self.unit.format(value)),
            Goal::Zero => "0".into(),
        }
    }

    fn json(&self) -> Value {
        let mut out = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        out.insert("ratio".into(), self.ratio().into());
        out.insert("pass".into(), self.pass().into());
        Value::Object(out)
    }
}

/// A part of the run that could not be measured, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The part (`cold-start`, `rss`, …).
    pub part: String,
    /// What went wrong.
    pub error: String,
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// The rows, in order.
    pub figures: Vec<Figure>,
    /// Per part: the raw measurements behind the rows.
    pub details: Map<String, Value>,
    /// Parts that failed.
    pub failures: Vec<Failure>,
}

impl Report {
    /// The table, with notes below it.
    pub fn table(&self) -> String {
        let rows: Vec<[String; 6]> = self
            .figures
            .iter()
            .map(|f| {
                let floor = f
                    .floor
                    .as_ref()
                    .map_or_else(|| "-".into(), |fl| format!("{} ({})", f.unit.format(fl.value), fl.label));
                let ratio = f.ratio().map_or_else(|| "-".into(), |r| format!("{r:.2}×"));
                let result = match f.pass() {
                    None => "-",
                    Some(true) => "pass",
                    Some(false) => "MISS",
                };
                [f.name.clone(), f.unit.format(f.value), floor, ratio, f.goal_text(), result.into()]
            })
            .collect();
        let header = ["Figure", "Value", "Floor (same run)", "Ratio", "Goal", "Result"].map(String::from);
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String; 6]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            let _ = writeln!(out, "{}", padded.join(" | ").trim_end());
        };
        line(&mut out, &header);
        let _ = writeln!(out, "{}", widths.map(|w| "-".repeat(w)).join("-|-"));
        for row in &rows {
            line(&mut out, row);
        }
        for (i, f) in self.figures.iter().enumerate().filter(|(_, f)| f.note.is_some()) {
            let _ = writeln!(out, "  [{}] {}: {}", i + 1, f.name, f.note.as_deref().unwrap_or_default());
        }
        for failure in &self.failures {
            let _ = writeln!(out, "  FAILED {}: {}", failure.part, failure.error);
        }
        out
    }

    /// The whole report as JSON (`meta` says when and where it was measured).
    pub fn json(&self, meta: Value) -> Value {
        serde_json::json!({
            "meta": meta,
            "figures": self.figures.iter().map(Figure::json).collect::<Vec<_>>(),
            "details": self.details,
            "failures": self.failures,
        })
    }

    /// Writes `report-<unix_time>.json` and `latest.json` into `dir`; returns the first path.
    pub fn write(&self, dir: &Path, unix_time: u64, meta: Value) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_string_pretty(&self.json(meta)).map_err(std::io::Error::other)?;
        let path = dir.join(format!("report-{unix_time}.json"));
        std::fs::write(&path, &text)?;
        std::fs::write(dir.join("latest.json"), &text)?;
        Ok(path)
    }

    /// Whether a goal was missed.
    pub fn missed(&self) -> usize {
        self.figures.iter().filter(|f| f.pass() == Some(false)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_goals_and_the_table() {
        let hit = Figure::new("hit", "Cache hit", 9.0, Unit::Micros).goal(Goal::AtMost { value: 50.0 });
        let warm = Figure::new("warm", "Warm", 30.0, Unit::Micros)
            .floor("bare", 20.0)
            .goal(Goal::RatioAtMost { ratio: 1.4 })
            .note("median");
        let both = Figure::new("cold", "Cold", 10.0, Unit::Millis)
            .floor("hello", 4.0)
            .goal(Goal::Both { value: 30.0, ratio: 2.0 });
        assert_eq!(
            (hit.pass(), warm.ratio(), warm.pass(), both.pass()),
            (Some(true), Some(1.5), Some(false), Some(false))
        );
        assert_eq!(Figure::new("x", "X", 1.0, Unit::Count).goal(Goal::Zero).pass(), Some(false));
        assert_eq!(Figure::new("x", "X", 1.0, Unit::Count).floor("zero", 0.0).ratio(), None);
        let report = Report { figures: vec![hit, warm, both], ..Report::default() };
        let table = report.table();
        assert!(
            table.contains("Warm") && table.contains("20.0 µs (bare)") && table.contains("1.50×"),
            "{table}"
        );
        assert!(table.contains("MISS") && table.contains("[2] Warm: median"), "{table}");
        assert_eq!(report.missed(), 2);
        let json = report.json(serde_json::json!({"host": "test"}));
        assert_eq!(json["figures"][1]["ratio"], 1.5);
        assert_eq!(json["figures"][1]["pass"], false);
        assert_eq!(json["figures"][0]["goal"]["kind"], "at_most");
    }
}
