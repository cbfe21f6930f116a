//! The fixed workload of the cost simulation: who calls which target when, and in which
//! execution environment, drawn from a seeded generator so every run sees the same calls.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// The workload's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Distinct users.
    pub users: u32,
    /// Zipf exponent of their activity: user of rank `k` makes calls in proportion to `1/k^s`.
    pub zipf_exponent: f64,
    /// Targets behind the gateway, each call picks one uniformly.
    pub targets: u8,
    /// Of which the first `obo_targets` act on behalf of users (the others pass through).
    pub obo_targets: u8,
    /// Tool calls over the day.
    pub calls: u32,
    /// The day's length, ms; call times are uniform over it.
    pub day_ms: u64,
    /// Lifetime of a user token, ms; a user signs in again when it has expired.
    pub user_token_ms: u64,
    /// Lifetime of a minted (M2M) token, ms.
    pub m2m_token_ms: u64,
    /// Lambda execution environments of the interceptor, each call lands on one uniformly.
    pub environments: u8,
    /// The generator's seed.
    pub seed: u64,
}

impl Workload {
    /// The workload of the Performance section: 1,000 users with Zipf(1.1) activity, 5 targets
    /// of which 3 use OBO, 200,000 tool calls over an 8-hour day, user tokens of 60 minutes,
    /// M2M tokens of 15 minutes, 4 execution environments.
    pub const DAY: Self = Self {
        users: 1_000,
        zipf_exponent: 1.1,
        targets: 5,
        obo_targets: 3,
        calls: 200_000,
        day_ms: 8 * 3_600_000,
        user_token_ms: 3_600_000,
        m2m_token_ms: 900_000,
        environments: 4,
        seed: 20_261_127,
    };

    /// The calls, in time order.
    pub fn generate(&self) -> Result<Vec<Call>, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let zipf = Zipf::new(f64::from(self.users), self.zipf_exponent).map_err(|e| format!("Zipf: {e}"))?;
        let mut calls: Vec<Call> = (0..self.calls)
            .map(|_| Call {
                at_ms: rng.random_range(0..self.day_ms),
                // Zipf samples ranks 1..=users as floats.
                user: (zipf.sample(&mut rng) as u32).clamp(1, self.users) - 1,
                target: rng.random_range(0..self.targets),
                environment: rng.random_range(0..self.environments),
            })
            .collect();
        calls.sort_by_key(|c| c.at_ms);
        Ok(calls)
    }
}

/// One tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// When, ms from the start of the day.
    pub at_ms: u64,
    /// Who (0-based rank: 0 is the most active user).
    pub user: u32,
    /// Which target (0-based).
    pub target: u8,
    /// Which execution environment serves it.
    pub environment: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Workload {
        Workload { users: 100, calls: 20_000, ..Workload::DAY }
    }

    #[test]
    fn the_same_seed_gives_the_same_calls_in_time_order() {
        let a = small().generate().unwrap();
        assert_eq!(a, small().generate().unwrap());
        assert_ne!(a, Workload { seed: 1, ..small() }.generate().unwrap());
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(
            a.iter().all(|c| c.user < 100 && c.target < 5 && c.environment < 4 && c.at_ms < small().day_ms)
        );
    }

    #[test]
    fn activity_follows_zipf() {
        let calls = small().generate().unwrap();
        let mut per_user = vec![0u32; 100];
        for c in &calls {
            per_user[c.user as usize] += 1;
        }
        // P(rank k) = k^-1.1 / H, H = Σ_{k≤100} k^-1.1 ≈ 4.278.
        let h: f64 = (1..=100).map(|k| f64::from(k).powf(-1.1)).sum();
        for (rank, expected) in [(1u32, 1.0 / h), (2, 2f64.powf(-1.1) / h), (10, 10f64.powf(-1.1) / h)] {
            let seen = f64::from(per_user[rank as usize - 1]) / calls.len() as f64;
            assert!((seen - expected).abs() < 0.15 * expected, "rank {rank}: {seen} vs {expected}");
        }
        let targets = calls.iter().filter(|c| c.target < 3).count() as f64 / calls.len() as f64;
        assert!((targets - 0.6).abs() < 0.02, "{targets}");
    }
}
