//! The one retry policy of every request and connection.

use std::time::Duration;

use crate::ClientError;

/// Environment variable: how often a request (or the connection) is retried when the
/// outcome is unknown. 0 fails at once.
pub const RETRIES_ENV: &str = "STOD_CLIENT_RETRIES";

/// The longest pause between two tries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Retry policy for requests whose outcome is unknown.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// How long one request waits for its reply.
    pub request_timeout: Duration,
    /// Further tries after the first.
    pub retries: u32,
    /// Wait before the first retry; doubles each time, up to 2 s.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(5), retries: 6, backoff: Duration::from_millis(100) }
    }
}

impl RetryPolicy {
    /// The default, with the number of retries from [`RETRIES_ENV`] if it is set.
    pub fn from_env() -> Result<Self, ClientError> {
        let mut policy = Self::default();
        if let Ok(value) = std::env::var(RETRIES_ENV) {
            policy.retries = value.trim().parse().map_err(|_| {
                ClientError::Usage(format!("{RETRIES_ENV}={value:?} är inget antal: ange ett heltal, t.ex. 0 eller 6"))
            })?;
        }
        Ok(policy)
    }

    /// The pauses before each retry.
    pub(crate) fn pauses(&self) -> impl Iterator<Item = Duration> {
        let first = self.backoff;
        std::iter::successors(Some(first), |d| Some((*d * 2).min(MAX_BACKOFF))).take(self.retries as usize)
    }
}
