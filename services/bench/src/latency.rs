//! Latencies of one kind of operation, and their summary.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency recorded exactly; anything slower is recorded as this.
/// A minute is far past any timeout in the write path.
const MAX_MICROS: u64 = 60_000_000;

/// A histogram of latencies in microseconds, 3 significant figures.
#[derive(Clone, Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Self {
        // The bounds are constants that hdrhistogram accepts (low >= 1, high >= 2 * low,
        // sigfig <= 5), so this cannot fail.
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid");
        Self { histogram }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds another task's latencies to these.
    pub fn merge(&mut self, other: &Latencies) {
        // Same bounds on both sides, so adding cannot go out of range.
        self.histogram.add(&other.histogram).expect("histograms with equal bounds add");
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Throughput over `wall` (the time from the first task's start to the last
    /// task's end) and the latency distribution.
    pub fn summary(&self, wall: Duration) -> Summary {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let count = self.count();
        let seconds = wall.as_secs_f64();
        Summary {
            count,
            seconds,
            per_second: if seconds > 0.0 { count as f64 / seconds } else { 0.0 },
            mean_ms: self.histogram.mean() / 1000.0,
            p50_ms: ms(self.histogram.value_at_quantile(0.50)),
            p90_ms: ms(self.histogram.value_at_quantile(0.90)),
            p99_ms: ms(self.histogram.value_at_quantile(0.99)),
            max_ms: ms(self.histogram.max()),
        }
    }
}

/// Throughput and latency of one measured phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Operations measured.
    pub count: u64,
    /// Wall-clock time of the phase.
    pub seconds: f64,
    pub per_second: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_latencies() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for ms in 1..=50 {
            a.record(Duration::from_millis(ms));
        }
        for ms in 51..=100 {
            b.record(Duration::from_millis(ms));
        }
        a.merge(&b);
        let s = a.summary(Duration::from_secs(2));
        assert_eq!(s.count, 100);
        assert_eq!(s.per_second, 50.0);
        // 3 significant figures: within 0.1 % of the true value.
        assert!((s.p50_ms - 50.0).abs() < 0.1, "p50 {}", s.p50_ms);
        assert!((s.p99_ms - 99.0).abs() < 0.1, "p99 {}", s.p99_ms);
        assert!((s.max_ms - 100.0).abs() < 0.1, "max {}", s.max_ms);
    }

    #[test]
    fn absurd_latencies_are_clamped_not_lost() {
        let mut l = Latencies::new();
        l.record(Duration::ZERO);
        l.record(Duration::from_secs(3600));
        assert_eq!(l.count(), 2);
    }
}
