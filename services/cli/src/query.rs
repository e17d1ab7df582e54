//! Asking the read models (the projector) over NATS.
//!
//! The projector answers `stod.query.<user>.<throughput|steering|history>` with a
//! `ReportReply`, `projection-status` with its status, and `stod.ops.<user>.rebuild`
//! by starting a rebuild. The client library covers the command service only, so the
//! command line asks here, with the same retry policy (`STOD_CLIENT_RETRIES`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use stod_client::{Client, RetryPolicy};
use stod_events::ids::UserId;
use stod_protocol::{queries, query_subject, ReportReply};
use tracing::debug;

use crate::connect;
use crate::error::CliError;

pub use stod_protocol::{ProjectionStatus, RebuildProgress};

/// A report as the projector answered it: the reply's JSON as received (what `--json`
/// prints), and the report read from it.
pub struct Answer<T> {
    pub raw: Value,
    pub checkpoint: u64,
    pub generation: u64,
    pub report: T,
}

/// A connection for read-model queries, as one user.
#[derive(Clone)]
pub struct Reader {
    nats: async_nats::Client,
    user: UserId,
    policy: RetryPolicy,
}

/// What one attempt at a request came to.
enum Attempt {
    Reply(Vec<u8>),
    /// Worth another try: nobody listening, no reply in time.
    Retry(String),
}

impl Reader {
    pub async fn connect(url: &str, user: UserId) -> Result<Self, CliError> {
        let policy = connect::retry_policy()?;
        let nats = connect::nats(url, &format!("stod {user}"), &policy).await?;
        Ok(Self::new(nats, user, policy))
    }

    pub fn new(nats: async_nats::Client, user: UserId, policy: RetryPolicy) -> Self {
        Self { nats, user, policy }
    }

    /// The command service's client on the same connection (for reference-data names).
    pub fn client(&self) -> Client {
        Client::from_nats(self.nats.clone(), self.user.clone()).with_retry(self.policy)
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    /// A report query. An `invalid` reply is the user's mistake (exit 6, with the
    /// projector's Swedish message); `unavailable` (still building, a fault) and no
    /// projector at all are retried, then exit 5.
    pub async fn report<Q: Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        query: &Q,
    ) -> Result<Answer<T>, CliError> {
        let subject = query_subject(&self.user, name);
        let body = serde_json::to_vec(query).map_err(|e| CliError::Other(format!("internt fel: {e}")))?;
        let mut backoff = self.policy.backoff;
        let mut last = String::new();
        for attempt in 0..=self.policy.retries {
            if attempt > 0 {
                debug!(subject, attempt, "retrying: {last}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            let bytes = match self.attempt(&subject, &body).await {
                Attempt::Reply(bytes) => bytes,
                Attempt::Retry(why) => {
                    last = why;
                    continue;
                }
            };
            let raw: Value = serde_json::from_slice(&bytes).map_err(|e| unexpected(&subject, e))?;
            match serde_json::from_value::<ReportReply<T>>(raw.clone()).map_err(|e| unexpected(&subject, e))? {
                ReportReply::Ok { checkpoint, generation, report } => {
                    return Ok(Answer { raw, checkpoint, generation, report })
                }
                ReportReply::Invalid { message } => return Err(CliError::Invalid(message)),
                ReportReply::Unavailable { message } => last = format!("läsmodellerna: {message}"),
            }
        }
        Err(CliError::Unavailable(last))
    }

    /// The projector's status, as JSON and read.
    pub async fn status(&self) -> Result<(Value, ProjectionStatus), CliError> {
        let subject = query_subject(&self.user, queries::PROJECTION_STATUS);
        let mut backoff = self.policy.backoff;
        let mut last = String::new();
        for attempt in 0..=self.policy.retries {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            match self.attempt(&subject, b"{}").await {
                Attempt::Reply(bytes) => {
                    let raw: Value = serde_json::from_slice(&bytes).map_err(|e| unexpected(&subject, e))?;
                    let status = serde_json::from_value(raw.clone()).map_err(|e| unexpected(&subject, e))?;
                    return Ok((raw, status));
                }
                Attempt::Retry(why) => last = why,
            }
        }
        Err(CliError::Unavailable(last))
    }

    /// Asks a projector to start a rebuild; returns the new generation's number.
    ///
    /// Retried only while nobody listens: a request that timed out may have started a
    /// rebuild, and asking again would queue a second one.
    pub async fn start_rebuild(&self) -> Result<u64, CliError> {
        let subject = format!("{}.{}.{}", queries::OPS_PREFIX, self.user, queries::REBUILD);
        let mut backoff = self.policy.backoff;
        for attempt in 0..=self.policy.retries {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            let request =
                async_nats::Request::new().payload(b"{}".to_vec().into()).timeout(Some(self.policy.request_timeout));
            match self.nats.send_request(subject.clone(), request).await {
                Ok(msg) => {
                    let reply: Value = serde_json::from_slice(&msg.payload).map_err(|e| unexpected(&subject, e))?;
                    return match (reply["status"].as_str(), reply["generation"].as_u64()) {
                        (Some("started"), Some(generation)) => Ok(generation),
                        (Some("unavailable"), _) => Err(CliError::Unavailable(format!(
                            "projektorn kunde inte börja bygga om: {}",
                            reply["message"].as_str().unwrap_or("okänt fel")
                        ))),
                        _ => Err(unexpected(&subject, reply)),
                    };
                }
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => continue,
                Err(e) => {
                    return Err(CliError::Unavailable(format!(
                        "inget svar från projektorn ({e}); ombyggnaden kan ha startat: se `stod projections status`"
                    )))
                }
            }
        }
        Err(CliError::Unavailable(no_projector(&subject)))
    }

    async fn attempt(&self, subject: &str, body: &[u8]) -> Attempt {
        let request =
            async_nats::Request::new().payload(body.to_vec().into()).timeout(Some(self.policy.request_timeout));
        match self.nats.send_request(subject.to_owned(), request).await {
            Ok(msg) => Attempt::Reply(msg.payload.to_vec()),
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Attempt::Retry(no_projector(subject)),
            Err(e) => Attempt::Retry(format!("inget svar på {subject}: {e}")),
        }
    }
}

fn no_projector(subject: &str) -> String {
    format!(
        "ingen projektor (läsmodeller) svarar på {subject}: den körs av `stod up` eller `stod projector` \
         mot samma NATS"
    )
}

fn unexpected(subject: &str, detail: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("oväntat svar på {subject}: {detail}"))
}
