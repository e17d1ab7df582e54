//! The real thing: commands through `stod-client` to the command service.

use std::time::{Duration, Instant};

use stod_client::Client;
use stod_events::ids::{CaseId, ParticipantRef};

use crate::latency::Latencies;
use crate::workload::{journey_step, split, JOURNEY_LEN};
use crate::BenchError;

/// Latencies of the command path, all together and split by what the service
/// does for them.
#[derive(Clone, Debug, Default)]
pub struct CommandLatencies {
    pub all: Latencies,
    /// Intakes: a case load that finds nothing, the participant index (a read
    /// and a compare-and-set write), then the append.
    pub intake: Latencies,
    /// Everything else: with one instance the case comes from its cache, then
    /// the append.
    pub follow_up: Latencies,
}

impl CommandLatencies {
    fn record(&mut self, step: usize, latency: Duration) {
        self.all.record(latency);
        // Step 0 of every journey is the intake (see `journey_step`).
        let by_kind = if step % JOURNEY_LEN == 0 { &mut self.intake } else { &mut self.follow_up };
        by_kind.record(latency);
    }
}

/// Submits `total` commands from `concurrency` tasks and returns every
/// command's latency (request to accepted reply) and the wall time of the
/// whole phase. Any reply but "accepted" ends the run with an error.
pub async fn run(
    client: &Client,
    total: usize,
    concurrency: usize,
) -> Result<(CommandLatencies, Duration), BenchError> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for count in split(total, concurrency) {
        let client = client.clone();
        tasks.spawn(async move { one_case_worker(&client, count).await });
    }
    let mut samples = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        samples.extend(done??);
    }
    // The clock stops before the histograms are built, so building them costs
    // the measurement nothing.
    let wall = started.elapsed();
    let mut all = CommandLatencies::default();
    samples.into_iter().for_each(|(step, latency)| all.record(step, latency));
    Ok((all, wall))
}

/// One case worker: `count` commands, each awaited, on new cases of its own,
/// `JOURNEY_LEN` per case. Returns each command's journey step and latency.
async fn one_case_worker(client: &Client, count: usize) -> Result<Vec<(usize, Duration)>, BenchError> {
    let mut latencies = Vec::with_capacity(count);
    let mut case = CaseId::new();
    let mut participant = ParticipantRef::new();
    for i in 0..count {
        if i % JOURNEY_LEN == 0 {
            case = CaseId::new();
            participant = ParticipantRef::new();
        }
        let (step, command) = journey_step(i, participant);
        let start = Instant::now();
        let result = client.submit(case, command).await;
        let elapsed = start.elapsed();
        let not_accepted = |reply: String| BenchError::NotAccepted { step, case: case.to_string(), elapsed, reply };
        match result {
            Ok(accepted) if !accepted.duplicate => latencies.push((i % JOURNEY_LEN, elapsed)),
            // Every submission is new, so the service has never seen it.
            Ok(accepted) => return Err(not_accepted(format!("answered as a duplicate: {accepted:?}"))),
            Err(e) => return Err(not_accepted(format!("{:?}: {e}", e.kind()))),
        }
    }
    Ok(latencies)
}
