//! A per-user limit on registry requests: a guard against running through personnummer.
//!
//! The check digit follows from the other digits, so the adult personnummer space is
//! about 1.7·10⁷ numbers; at the default 30 requests a minute one user would need about
//! a year to try them all. Each user has a bucket of `per_minute` requests that refills
//! evenly over a minute. The buckets are this instance's: with several registry
//! instances a user's limit is that many times higher.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use stod_events::ids::UserId;

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<UserId, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute: per_minute.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `user`'s bucket, or says how long until there is one.
    pub fn check(&self, user: &UserId) -> Result<(), Duration> {
        self.check_at(user, Instant::now())
    }

    fn check_at(&self, user: &UserId, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.entry(user.clone()).or_insert((capacity, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_the_limit_then_waits_and_others_are_not_affected() {
        let limiter = RateLimiter::new(3);
        let (anna, bo) = (UserId::parse("anna").unwrap(), UserId::parse("bo").unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(&anna, t0).is_ok());
        }
        let wait = limiter.check_at(&anna, t0).unwrap_err();
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(limiter.check_at(&bo, t0).is_ok(), "another user has a bucket of their own");
        assert!(limiter.check_at(&anna, t0 + Duration::from_secs(20)).is_ok(), "a minute refills the limit evenly");
    }
}
