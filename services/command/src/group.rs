//! Group commit: the appends that are ready at the same moment, one event per case,
//! go to JetStream as one atomic batch.
//!
//! With `sync_interval: always` every acknowledged publish costs an fsync, and
//! nats-server does not share one fsync between concurrent publishes. An atomic batch
//! costs a few fsyncs whatever its size (decision 0010), so under load one batch does
//! the work of many publishes.
//!
//! The committer takes no decision: it is handed sealed events, each with the sequence
//! its case must be at, and answers each exactly as a single append would (stored at a
//! sequence, a duplicate of a stored submission, a conflict, or a fault). The handler
//! reacts to those answers as it always did, so a conflict re-decides only the command
//! whose case moved.
//!
//! How a group is sent:
//! - fewer than `min_batch` events: each as a single append, concurrently. A lone
//!   command is sent at once, without waiting for company;
//! - otherwise: one atomic batch. If the server refuses it (a stale case, a retried
//!   submission, anything), nothing of it was stored and the server does not say which
//!   event was at fault, so every event is then appended on its own, concurrently:
//!   the stale one gets its conflict, the retried one its "duplicate", the rest are
//!   stored, and no command waits on another case's conflict longer than that.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stod_events::ids::CaseId;
use stod_events::SealedEvent;
use stod_store::{Appended, BatchAppend, EventStore, StoreError, StoreErrorKind, MAX_BATCH};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::debug;

/// How the committer groups appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCommitConfig {
    /// When more than one append is waiting, how long to wait for more before sending
    /// (never waited for a lone append). Zero: send what is waiting, and let the
    /// batches in flight be the window, as classic group commit does.
    pub window: Duration,
    /// Groups smaller than this are sent as single appends: an atomic batch costs a
    /// few fsyncs, a single append one.
    pub min_batch: usize,
    /// Most events in one batch (at most nats-server's 1,000).
    pub max_batch: usize,
    /// Groups being committed at once by this instance (nats-server allows 50 open
    /// batches per stream, shared by every instance).
    pub in_flight: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self { window: Duration::ZERO, min_batch: 4, max_batch: 256, in_flight: 2 }
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    /// Atomic batches stored.
    pub batches: AtomicU64,
    /// Events stored in them.
    pub batched_events: AtomicU64,
    /// Batches refused (conflict, duplicate, fault) and sent again one by one.
    pub refused_batches: AtomicU64,
    /// Events sent as single appends (small groups and refused batches).
    pub single_appends: AtomicU64,
}

/// A snapshot of [`GroupCommitStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitCounts {
    pub batches: u64,
    pub batched_events: u64,
    pub refused_batches: u64,
    pub single_appends: u64,
}

/// One append waiting for its group.
struct Pending {
    sealed: SealedEvent,
    expected_last: u64,
    message_id: String,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

impl Pending {
    fn case(&self) -> CaseId {
        self.sealed.event.case_id
    }
}

/// The handle the handler appends through. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::UnboundedSender<Pending>,
    stats: Arc<GroupCommitStats>,
}

impl GroupCommitter {
    /// Starts the committer task; it ends when every handle is dropped.
    pub fn start(store: EventStore, config: GroupCommitConfig) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let stats = Arc::new(GroupCommitStats::default());
        tokio::spawn(run(store, config, waiting, stats.clone()));
        Self { queue, stats }
    }

    /// Appends one event, in a group if others are ready. Answers as
    /// [`EventStore::append`] would.
    pub async fn append(&self, sealed: &SealedEvent, expected_last: u64, message_id: &str) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { sealed: sealed.clone(), expected_last, message_id: message_id.to_owned(), reply };
        let stopped = || StoreError::unavailable("the group committer has stopped");
        self.queue.send(pending).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub fn counts(&self) -> GroupCommitCounts {
        let s = &self.stats;
        GroupCommitCounts {
            batches: s.batches.load(Ordering::Relaxed),
            batched_events: s.batched_events.load(Ordering::Relaxed),
            refused_batches: s.refused_batches.load(Ordering::Relaxed),
            single_appends: s.single_appends.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    store: EventStore,
    config: GroupCommitConfig,
    mut waiting: mpsc::UnboundedReceiver<Pending>,
    stats: Arc<GroupCommitStats>,
) {
    let max_batch = config.max_batch.clamp(1, MAX_BATCH);
    let permits = Arc::new(Semaphore::new(config.in_flight.max(1)));
    // Appends held back because their case already had one in the group being
    // gathered: they start the next group, in arrival order.
    let mut held: VecDeque<Pending> = VecDeque::new();
    loop {
        // Gather only once a group may be sent: appends arriving meanwhile wait in
        // the queue and join this group, which is what makes groups grow under load.
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let mut group = Vec::new();
        let mut cases = HashSet::new();
        let mut next_held = VecDeque::new();
        for p in held.drain(..) {
            if group.len() < max_batch && cases.insert(p.case()) {
                group.push(p);
            } else {
                next_held.push_back(p);
            }
        }
        held = next_held;
        if group.is_empty() {
            match waiting.recv().await {
                Some(p) => {
                    cases.insert(p.case());
                    group.push(p);
                }
                None => return,
            }
        }
        let mut take = |p: Pending, group: &mut Vec<Pending>, held: &mut VecDeque<Pending>| {
            if group.len() < max_batch && cases.insert(p.case()) {
                group.push(p);
            } else {
                held.push_back(p);
            }
        };
        while group.len() < max_batch {
            match waiting.try_recv() {
                Ok(p) => take(p, &mut group, &mut held),
                Err(_) => break,
            }
        }
        // Wait for company only when there is some: a lone append goes at once.
        if !config.window.is_zero() && group.len() > 1 && group.len() < max_batch {
            let deadline = tokio::time::Instant::now() + config.window;
            while group.len() < max_batch {
                match tokio::time::timeout_at(deadline, waiting.recv()).await {
                    Ok(Some(p)) => take(p, &mut group, &mut held),
                    _ => break,
                }
            }
        }
        let (store, stats, min_batch) = (store.clone(), stats.clone(), config.min_batch.max(2));
        tokio::spawn(async move {
            commit(&store, group, min_batch, &stats).await;
            drop(permit);
        });
    }
}

async fn commit(store: &EventStore, group: Vec<Pending>, min_batch: usize, stats: &GroupCommitStats) {
    if group.len() >= min_batch {
        let items: Vec<BatchAppend<'_>> = group
            .iter()
            .map(|p| BatchAppend { event: &p.sealed, expected_last: p.expected_last, message_id: &p.message_id })
            .collect();
        let started = std::time::Instant::now();
        let result = store.append_batch(&items).await;
        metrics::histogram!("stod_append_batch_seconds").record(started.elapsed().as_secs_f64());
        match result {
            Ok(appended) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.batched_events.fetch_add(appended.len() as u64, Ordering::Relaxed);
                metrics::histogram!("stod_append_batch_size").record(appended.len() as f64);
                for (p, a) in group.into_iter().zip(appended) {
                    let _ = p.reply.send(Ok(a));
                }
                return;
            }
            Err(e) => {
                stats.refused_batches.fetch_add(1, Ordering::Relaxed);
                let kind = e.kind();
                if kind != StoreErrorKind::Conflict && kind != StoreErrorKind::DuplicateInBatch {
                    tracing::warn!(events = group.len(), "atomic batch failed; appending its events one by one: {e}");
                } else {
                    debug!(events = group.len(), "atomic batch refused; appending its events one by one: {e}");
                }
            }
        }
    }
    // One by one, all at once: each gets the answer a single append gets. After a
    // timed-out batch this is also the safe resend: a message id JetStream already
    // stored is answered as a duplicate, not stored again.
    stats.single_appends.fetch_add(group.len() as u64, Ordering::Relaxed);
    let sends = group.into_iter().map(|p| async move {
        let result = store.append(&p.sealed, p.expected_last, &p.message_id).await;
        let _ = p.reply.send(result);
    });
    futures::future::join_all(sends).await;
}
