//! Token requests over the simulated day, per design, second by second: the peak rate against
//! Cognito's quota, and the chart of requests over the day.

use serde::Serialize;

/// The designs the day simulation compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// A token request per on-behalf-of call.
    Uncached,
    /// The interceptor as deployed by default: one real cache per execution environment.
    PerEnvironment,
    /// The real caches with the shared tier behind them (race window modelled).
    SharedTier,
    /// An ideal cache per execution environment.
    IdealPerEnvironment,
    /// One ideal cache for all environments.
    IdealShared,
}

impl Design {
    /// Every design, in column order.
    pub const ALL: [Design; 5] = [
        Self::Uncached,
        Self::PerEnvironment,
        Self::SharedTier,
        Self::IdealPerEnvironment,
        Self::IdealShared,
    ];

    /// The name in reports and charts.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uncached => "uncached",
            Self::PerEnvironment => "per_environment",
            Self::SharedTier => "shared_tier",
            Self::IdealPerEnvironment => "ideal_per_environment",
            Self::IdealShared => "ideal_shared",
        }
    }
}

/// Token requests per second of the day, per design.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    per_second: Vec<[u32; 5]>,
}

impl Series {
    /// An empty day of `day_ms`.
    pub fn new(day_ms: u64) -> Self {
        Self { per_second: vec![[0; 5]; day_ms.div_ceil(1000) as usize] }
    }

    /// One token request of `design` at `at_ms` from the start of the day.
    pub fn add(&mut self, at_ms: u64, design: Design) {
        let second = (at_ms / 1000) as usize;
        if second >= self.per_second.len() {
            self.per_second.resize(second + 1, [0; 5]);
        }
        self.per_second[second][design as usize] += 1;
    }

    /// The busiest second of each design.
    pub fn peak_per_second(&self) -> [u32; 5] {
        let mut peak = [0; 5];
        for second in &self.per_second {
            for (p, n) in peak.iter_mut().zip(second) {
                *p = (*p).max(*n);
            }
        }
        peak
    }

    /// Token requests per bucket of `bucket_s` seconds, per design.
    pub fn buckets(&self, bucket_s: usize) -> Vec<[u32; 5]> {
        self.per_second
            .chunks(bucket_s.max(1))
            .map(|chunk| {
                let mut sum = [0; 5];
                for second in chunk {
                    for (s, n) in sum.iter_mut().zip(second) {
                        *s += n;
                    }
                }
                sum
            })
            .collect()
    }

    /// Total token requests per design.
    #[cfg(test)]
    fn totals(&self) -> [u64; 5] {
        let mut total = [0u64; 5];
        for second in &self.per_second {
            for (t, n) in total.iter_mut().zip(second) {
                *t += u64::from(*n);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_buckets_and_totals() {
        let mut s = Series::new(3_000);
        s.add(10, Design::Uncached);
        s.add(900, Design::Uncached);
        s.add(1_500, Design::Uncached);
        s.add(2_999, Design::SharedTier);
        s.add(5_000, Design::IdealShared);
        assert_eq!(s.peak_per_second(), [2, 0, 1, 0, 1]);
        assert_eq!(s.buckets(2), vec![[3, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1]]);
        assert_eq!(s.totals(), [3, 0, 1, 0, 1]);
    }
}
