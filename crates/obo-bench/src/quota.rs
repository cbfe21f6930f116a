//! The simulated day's token requests per second against Cognito's default quota for client
//! credentials, per design, and the user arrival rate at which each design would reach it.
//!
//! Quota: Cognito user pools' `ClientAuthentication` category (the token endpoint's
//! `client_credentials` grant and `GetClientToken`), 150 requests per second per account and
//! Region by default, adjustable
//! (<https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html>).
//!
//! Scaling: token requests grow in proportion to the users signing in (each user's calls and
//! cache keys are their own), so a design whose busiest minute averages `r` requests per second
//! at `a` sign-ins per hour reaches the quota at about `a × 150 / r` sign-ins per hour. The
//! busiest single second is reported beside it (at today's rate it is mostly Poisson noise).

use serde_json::{Value, json};

use crate::report::{Figure, Unit};
use crate::series::{Design, Series};
use crate::simulation::Outcome;
use crate::workload::Workload;

/// Cognito's default `ClientAuthentication` quota, requests per second.
pub const COGNITO_CLIENT_CREDENTIALS_RPS: f64 = 150.0;

/// One design's peaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// The design.
    pub design: Design,
    /// Token requests in the busiest second.
    pub second: u32,
    /// Mean requests per second over the busiest minute.
    pub minute_mean: f64,
    /// Sign-ins per hour at which the busiest minute would average the quota.
    pub arrivals_at_quota: f64,
}

/// Each design's peaks over the day.
pub fn peaks(w: &Workload, o: &Outcome, series: &Series) -> Vec<Peak> {
    let hours = w.day_ms as f64 / 3.6e6;
    let arrivals = o.user_tokens as f64 / hours;
    let seconds = series.peak_per_second();
    let mut minutes = [0u32; 5];
    for bucket in series.buckets(60) {
        for (m, n) in minutes.iter_mut().zip(bucket) {
            *m = (*m).max(n);
        }
    }
    Design::ALL
        .into_iter()
        .map(|design| {
            let i = design as usize;
            let minute_mean = f64::from(minutes[i]) / 60.0;
            let arrivals_at_quota = match minute_mean > 0.0 {
                true => arrivals * COGNITO_CLIENT_CREDENTIALS_RPS / minute_mean,
                false => f64::INFINITY,
            };
            Peak { design, second: seconds[i], minute_mean, arrivals_at_quota }
        })
        .collect()
}

/// One row per design.
pub fn figures(w: &Workload, o: &Outcome, series: &Series) -> Vec<Figure> {
    let arrivals = o.user_tokens as f64 / (w.day_ms as f64 / 3.6e6);
    peaks(w, o, series)
        .into_iter()
        .map(|p| {
            let name = format!("Peak token requests/s, {}", p.design.as_str().replace('_', " "));
            Figure::new(&format!("peak_token_rps_{}", p.design.as_str()), &name, p.minute_mean, Unit::PerSecond)
                .note(format!(
                    "busiest minute's mean {:.2}/s, busiest second {}; Cognito's default client-credentials quota \
                     {COGNITO_CLIENT_CREDENTIALS_RPS:.0}/s is reached at ~{:.0} sign-ins/hour ({:.0}× today's {:.0})",
                    p.minute_mean,
                    p.second,
                    p.arrivals_at_quota,
                    p.arrivals_at_quota / arrivals,
                    arrivals
                ))
        })
        .collect()
}

/// The peaks, and the day's requests per 10 minutes (the chart's data).
pub fn details(w: &Workload, o: &Outcome, series: &Series) -> Value {
    let peaks: serde_json::Map<String, Value> = peaks(w, o, series)
        .into_iter()
        .map(|p| {
            let row = json!({"busiest_second": p.second, "busiest_minute_mean_per_second": p.minute_mean,
                             "sign_ins_per_hour_at_quota": p.arrivals_at_quota});
            (p.design.as_str().to_owned(), row)
        })
        .collect();
    let buckets = series.buckets(600);
    let per_design: serde_json::Map<String, Value> = Design::ALL
        .into_iter()
        .map(|d| (d.as_str().to_owned(), json!(buckets.iter().map(|b| b[d as usize]).collect::<Vec<_>>())))
        .collect();
    json!({
        "quota_per_second": COGNITO_CLIENT_CREDENTIALS_RPS,
        "quota_source": "https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html (ClientAuthentication)",
        "sign_ins_per_hour": o.user_tokens as f64 / (w.day_ms as f64 / 3.6e6),
        "peaks": peaks,
        "token_requests_per_10_minutes": per_design,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_reached_in_proportion_to_the_busiest_minute() {
        let w = Workload { day_ms: 3_600_000, ..Workload::DAY };
        let o = Outcome { user_tokens: 100, ..Outcome::default() };
        let mut s = Series::new(w.day_ms);
        for i in 0..120 {
            s.add(i * 500, Design::Uncached);
        }
        s.add(0, Design::SharedTier);
        let p = peaks(&w, &o, &s);
        assert_eq!((p[0].second, p[0].minute_mean), (2, 2.0));
        // 100 sign-ins/hour at 2/s: 150/s at 7,500 sign-ins/hour.
        assert!((p[0].arrivals_at_quota - 7_500.0).abs() < 1e-9);
        assert!(p[1].arrivals_at_quota.is_infinite());
        assert_eq!(figures(&w, &o, &s).len(), 5);
    }
}
