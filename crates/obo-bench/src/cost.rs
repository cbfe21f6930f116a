//! What a design costs per million tool calls at AWS's list prices: Cognito machine-to-machine
//! token requests, and Lambda requests plus compute for the interceptor (every tool call) and
//! the pre-token trigger (every token request).

use serde::Serialize;

/// Prices in US dollars (us-east-1 list prices; arm64 Lambda).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prices {
    /// Per 1,000 M2M token requests (client_credentials or GetClientToken).
    pub per_1000_m2m_tokens: f64,
    /// Per million Lambda requests.
    pub per_million_lambda_requests: f64,
    /// Per GB-second of arm64 Lambda compute (first pricing tier).
    pub per_gb_second_arm64: f64,
    /// The functions' memory size, GB (128 MB).
    pub memory_gb: f64,
    /// DynamoDB on demand, per million read request units (the shared tier).
    pub per_million_read_units: f64,
    /// DynamoDB on demand, per million write request units.
    pub per_million_write_units: f64,
}

impl Prices {
    /// $2.25 per 1,000 M2M tokens; Lambda $0.20 per million requests and $0.0000133334 per
    /// GB-second on arm64, at 128 MB; DynamoDB on demand $0.125 per million read and $0.625 per
    /// million write request units (us-east-1, since the November 2024 price cut).
    pub const AWS: Self = Self {
        per_1000_m2m_tokens: 2.25,
        per_million_lambda_requests: 0.20,
        per_gb_second_arm64: 0.000_013_333_4,
        memory_gb: 0.125,
        per_million_read_units: 0.125,
        per_million_write_units: 0.625,
    };
}

/// How long each kind of invocation takes, ms, and where the figure comes from. Lambda bills
/// whole milliseconds, at least one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Durations {
    /// The interceptor serving a call without a token request (hit or pass-through).
    pub interceptor_hit_ms: f64,
    /// The interceptor making a token request (the trigger's run included).
    pub interceptor_miss_ms: f64,
    /// The pre-token trigger on an M2M event.
    pub trigger_ms: f64,
    /// Where these come from.
    pub source: String,
}

/// Lambda's billed duration of a run of `ms`.
pub fn billed_ms(ms: f64) -> f64 {
    ms.ceil().max(1.0)
}

/// One design's cost per million tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    /// Cognito token requests.
    pub cognito: f64,
    /// Lambda requests (interceptor and trigger).
    pub lambda_requests: f64,
    /// Lambda compute (GB-seconds).
    pub lambda_compute: f64,
    /// The sum.
    pub total: f64,
}

impl Cost {
    /// The cost per million tool calls of `exchanges` token requests over `calls` tool calls.
    pub fn per_million_calls(calls: u64, exchanges: u64, d: &Durations, p: &Prices) -> Self {
        if calls == 0 {
            return Self { cognito: 0.0, lambda_requests: 0.0, lambda_compute: 0.0, total: 0.0 };
        }
        let scale = 1e6 / calls as f64;
        let (calls, exchanges) = (calls as f64, exchanges as f64);
        let cognito = exchanges * p.per_1000_m2m_tokens / 1000.0 * scale;
        let lambda_requests = (calls + exchanges) * p.per_million_lambda_requests / 1e6 * scale;
        let billed = (calls - exchanges) * billed_ms(d.interceptor_hit_ms)
            + exchanges * (billed_ms(d.interceptor_miss_ms) + billed_ms(d.trigger_ms));
        let lambda_compute = billed / 1000.0 * p.memory_gb * p.per_gb_second_arm64 * scale;
        Self { cognito, lambda_requests, lambda_compute, total: cognito + lambda_requests + lambda_compute }
    }
}

/// What the shared tier adds per million tool calls: its DynamoDB requests, and the Lambda time
/// spent waiting for them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TierCost {
    /// `GetItem` (one read unit each: strongly consistent, item under 4 KB) and `PutItem` (write
    /// units per KB, lost races included).
    pub dynamodb: f64,
    /// Lambda compute for the table round trips (a get per local miss, a put per mint).
    pub lambda_compute: f64,
}

impl TierCost {
    /// The tier's cost per million of `calls` tool calls.
    pub fn per_million_calls(
        calls: u64,
        tier: &crate::shared_tier::TierCounts,
        model: &crate::shared_tier::TierModel,
        p: &Prices,
    ) -> Self {
        if calls == 0 {
            return Self { dynamodb: 0.0, lambda_compute: 0.0 };
        }
        let scale = 1e6 / calls as f64;
        let write_units = ((tier.writes + tier.lost_writes) * model.write_units()) as f64;
        let dynamodb =
            (tier.reads as f64 * p.per_million_read_units + write_units * p.per_million_write_units) / 1e6
                * scale;
        let waited_ms = (tier.reads * model.get_ms + (tier.writes + tier.lost_writes) * model.put_ms) as f64;
        let lambda_compute = waited_ms / 1000.0 * p.memory_gb * p.per_gb_second_arm64 * scale;
        Self { dynamodb, lambda_compute }
    }

    /// The sum.
    pub fn total(&self) -> f64 {
        self.dynamodb + self.lambda_compute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_per_million_calls() {
        let d = Durations {
            interceptor_hit_ms: 0.01,
            interceptor_miss_ms: 4.2,
            trigger_ms: 0.03,
            source: "test".into(),
        };
        assert_eq!((billed_ms(0.01), billed_ms(4.2), billed_ms(7.0)), (1.0, 5.0, 7.0));
        // Uncached: every one of 1M calls is an exchange.
        let all = Cost::per_million_calls(1_000, 1_000, &d, &Prices::AWS);
        assert!((all.cognito - 2250.0).abs() < 1e-9);
        assert!((all.lambda_requests - 0.40).abs() < 1e-9);
        // 6 billed ms × 0.125 GB × 1M = 750 GB-s.
        assert!((all.lambda_compute - 750.0 * 0.000_013_333_4).abs() < 1e-9);
        let half = Cost::per_million_calls(1_000, 500, &d, &Prices::AWS);
        assert!((half.cognito - 1125.0).abs() < 1e-9 && (half.lambda_requests - 0.30).abs() < 1e-9);
        assert!((half.total - (half.cognito + half.lambda_requests + half.lambda_compute)).abs() < 1e-12);
        assert_eq!(Cost::per_million_calls(0, 0, &d, &Prices::AWS).total, 0.0);
    }

    #[test]
    fn the_tier_pays_a_read_per_local_miss_and_write_units_per_put() {
        let tier = crate::shared_tier::TierCounts {
            reads: 1_000,
            writes: 300,
            lost_writes: 10,
            ..Default::default()
        };
        let model = crate::shared_tier::TierModel::DEFAULT;
        let c = TierCost::per_million_calls(1_000_000, &tier, &model, &Prices::AWS);
        // 1,000 × $0.125/1M + 310 × 2 units × $0.625/1M.
        assert!((c.dynamodb - (1_000.0 * 0.125 + 620.0 * 0.625) / 1e6).abs() < 1e-12);
        assert!(c.lambda_compute > 0.0 && c.total() > c.dynamodb);
    }
}
