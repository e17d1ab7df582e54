//! Group commit: the appends that are ready at the same moment, one event per case,
//! go to JetStream as one atomic batch.
//!
//! With `sync_interval: always` every acknowledged publish costs an fsync, and
//! nats-server does not share one fsync between concurrent publishes. An atomic batch
//! costs a mostly fixed amount whatever its size (decision 0010), so under load one
//! batch can do the work of many publishes.
//!
//! The committer takes no decision: it is handed sealed events, each with the sequence
//! its case must be at, and answers each exactly as a single append would (stored at a
//! sequence, a duplicate of a stored submission, a conflict, or a fault). The handler
//! reacts to those answers as it always did, so a conflict re-decides only the command
//! whose case moved.
//!
//! How a group is sent:
//! - a lone event (nothing else waiting or in flight): straight to the store as a
//!   single append, without waiting for company or passing through the committer;
//! - a group too small for a batch to pay off: each as a single append, concurrently.
//!   What "too small" means depends on the server and its disk: on nats-server 2.15.1
//!   an atomic batch of a one-replica file stream is staged in a file store of its
//!   own, created and removed per batch, which costs milliseconds whether the disk's
//!   fsync is fast or slow (decision 0010). So the committer learns it: it fits
//!   `time = fixed + per event × size` to the batches and to the groups of singles it
//!   has sent, and batches a group only when the fit says the batch is done sooner
//!   (see [`CostModel`]). Until both fits are known it uses `min_batch`;
//! - otherwise: one atomic batch. If the server refuses it (a stale case, a retried
//!   submission, anything), nothing of it was stored and the server does not say which
//!   event was at fault, so every event is then appended on its own, concurrently:
//!   the stale one gets its conflict, the retried one its "duplicate", the rest are
//!   stored, and no command waits on another case's conflict longer than that.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// When other appends are waiting or in flight, how long a group waits for more
    /// before it is sent (never waited for a lone append). Zero: send what is waiting,
    /// and let the batches in flight be the window, as classic group commit does.
    pub window: Duration,
    /// Groups smaller than this are sent as single appends, until the committer has
    /// measured what a batch and a single append cost (or always, without `adapt`).
    pub min_batch: usize,
    /// Learn from measured times which groups are worth a batch (see [`CostModel`]).
    /// Off only where a test must force batches.
    pub adapt: bool,
    /// Most events in one batch (at most nats-server's 1,000).
    pub max_batch: usize,
    /// Groups being committed at once by this instance (nats-server allows 50 open
    /// batches per stream, shared by every instance).
    pub in_flight: usize,
    /// How long a batch may wait for its acknowledgement before its events are sent
    /// again one by one. A batch takes milliseconds; when the server dies under it,
    /// the acknowledgement never comes, and every group behind the ones in flight
    /// would wait out the store's whole ack timeout.
    pub batch_timeout: Duration,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self {
            window: Duration::ZERO,
            min_batch: 4,
            adapt: true,
            max_batch: 256,
            in_flight: 2,
            batch_timeout: Duration::from_secs(1),
        }
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
    /// Events sent as single appends (lone appends, small groups and refused batches).
    pub single_appends: AtomicU64,
}

/// A snapshot of [`GroupCommitStats`]. Snapshots of several instances add up, and the
/// difference of two of one instance is what it did in between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupCommitCounts {
    pub batches: u64,
    pub batched_events: u64,
    pub refused_batches: u64,
    pub single_appends: u64,
}

impl std::ops::Add for GroupCommitCounts {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            batches: self.batches + o.batches,
            batched_events: self.batched_events + o.batched_events,
            refused_batches: self.refused_batches + o.refused_batches,
            single_appends: self.single_appends + o.single_appends,
        }
    }
}

impl std::ops::Sub for GroupCommitCounts {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            batches: self.batches - o.batches,
            batched_events: self.batched_events - o.batched_events,
            refused_batches: self.refused_batches - o.refused_batches,
            single_appends: self.single_appends - o.single_appends,
        }
    }
}

impl std::iter::Sum for GroupCommitCounts {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
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
    store: EventStore,
    /// Appends asked for and not yet answered, across every handle.
    busy: Arc<AtomicUsize>,
}

/// Counts an append as busy until it is answered or its caller gives up.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    /// Marks one more append busy; says whether it is the only one.
    fn enter(count: &Arc<AtomicUsize>) -> (Self, bool) {
        let alone = count.fetch_add(1, Ordering::AcqRel) == 0;
        (Self(count.clone()), alone)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl GroupCommitter {
    /// Starts the committer task; it ends when every handle is dropped.
    pub fn start(store: EventStore, config: GroupCommitConfig) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let stats = Arc::new(GroupCommitStats::default());
        let busy = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(store.clone(), config, waiting, stats.clone(), busy.clone()));
        Self { queue, stats, store, busy }
    }

    /// Appends one event, in a group if others are ready. Answers as
    /// [`EventStore::append`] would.
    pub async fn append(
        &self,
        sealed: &SealedEvent,
        expected_last: u64,
        message_id: &str,
    ) -> Result<Appended, StoreError> {
        let (_busy, alone) = Busy::enter(&self.busy);
        if alone {
            // Nothing waiting or in flight: a lone append goes straight to the store,
            // without the hops through the committer's tasks.
            self.stats.single_appends.fetch_add(1, Ordering::Relaxed);
            return self.store.append(sealed, expected_last, message_id).await;
        }
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
    busy: Arc<AtomicUsize>,
) {
    let max_batch = config.max_batch.clamp(1, MAX_BATCH);
    let permits = Arc::new(Semaphore::new(config.in_flight.max(1)));
    let costs = Arc::new(std::sync::Mutex::new(CostModel::new(config.min_batch, config.adapt)));
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
        // Wait for company only when there is some (appends beyond this group are
        // unanswered: waiting, in flight or sent alone): a lone append goes at once.
        let company = busy.load(Ordering::Acquire) > group.len();
        if !config.window.is_zero() && company && group.len() < max_batch {
            let deadline = tokio::time::Instant::now() + config.window;
            while group.len() < max_batch {
                match tokio::time::timeout_at(deadline, waiting.recv()).await {
                    Ok(Some(p)) => take(p, &mut group, &mut held),
                    _ => break,
                }
            }
        }
        let as_batch = {
            // Nothing panics while holding it; if something ever did, the model is
            // still a valid one.
            let mut costs = costs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            metrics::gauge!("stod_group_commit_break_even").set(costs.break_even().min(MAX_BATCH + 1) as f64);
            costs.choose_batch(group.len())
        };
        let (store, stats, costs, timeout) = (store.clone(), stats.clone(), costs.clone(), config.batch_timeout);
        tokio::spawn(async move {
            let size = group.len();
            let started = std::time::Instant::now();
            let sent = commit(&store, group, as_batch, timeout, &stats).await;
            let mut costs = costs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match sent {
                Sent::Batch | Sent::Singles => costs.observe(sent == Sent::Batch, size, started.elapsed()),
                // It cost at least the wait; recording that keeps a server too slow
                // for batches from being sent batches for ever.
                Sent::BatchTimedOut => costs.observe(true, size, timeout),
                Sent::Refused => {}
            }
            drop(permit);
        });
    }
}

/// How a group went, for the cost model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// As one stored batch: the time taken is a batch's cost.
    Batch,
    /// As single appends: the time taken is theirs.
    Singles,
    /// As a batch that was not acknowledged in time, then one by one.
    BatchTimedOut,
    /// As a batch the server refused (a conflict, a retried submission), then one by
    /// one: the time says nothing about either way.
    Refused,
}

/// Sends a group as one batch or as single appends, and says how it went.
async fn commit(
    store: &EventStore,
    group: Vec<Pending>,
    as_batch: bool,
    timeout: Duration,
    stats: &GroupCommitStats,
) -> Sent {
    let mut sent = Sent::Singles;
    if as_batch {
        let items: Vec<BatchAppend<'_>> = group
            .iter()
            .map(|p| BatchAppend { event: &p.sealed, expected_last: p.expected_last, message_id: &p.message_id })
            .collect();
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(timeout, store.append_batch(&items)).await.unwrap_or_else(|_| {
            Err(StoreError::timeout(format!("no acknowledgement of an atomic batch within {timeout:?}")))
        });
        metrics::histogram!("stod_append_batch_seconds").record(started.elapsed().as_secs_f64());
        tracing::trace!(events = items.len(), micros = started.elapsed().as_micros() as u64, "atomic batch answered");
        match result {
            Ok(appended) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.batched_events.fetch_add(appended.len() as u64, Ordering::Relaxed);
                metrics::histogram!("stod_append_batch_size").record(appended.len() as f64);
                for (p, a) in group.into_iter().zip(appended) {
                    let _ = p.reply.send(Ok(a));
                }
                return Sent::Batch;
            }
            Err(e) => {
                sent = if e.kind() == StoreErrorKind::Timeout { Sent::BatchTimedOut } else { Sent::Refused };
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
    // timed-out batch this is also the safe resend: an event the batch did store gets
    // a conflict (its expected sequence is stale), and the handler then finds the
    // submission in the case and answers with what was recorded.
    stats.single_appends.fetch_add(group.len() as u64, Ordering::Relaxed);
    let sends = group.into_iter().map(|p| async move {
        let result = store.append(&p.sealed, p.expected_last, &p.message_id).await;
        let _ = p.reply.send(result);
    });
    futures::future::join_all(sends).await;
    sent
}

/// What the committer has measured of the two ways to send a group, and the choice
/// it makes from that.
///
/// Each way is fitted as `time = fixed + per event × size` over the groups sent that
/// way, weighted towards the recent ones, with time measured from sending to the last
/// answer. A group goes as a batch when the batch fit predicts it done sooner than
/// the singles fit. While either fit lacks samples of different sizes, `min_batch`
/// decides. A way not used for [`STALE_AFTER`] groups is tried on the next one, and
/// every [`PROBE_EVERY`]th group near the break-even size goes the other way, so that
/// both fits follow the server as its load and disk change. A sample far above what
/// its fit predicts (a stall, a reconnect) is clipped, so one outlier cannot swing
/// the choice for long.
#[derive(Clone, Debug)]
pub struct CostModel {
    min_batch: usize,
    adapt: bool,
    batches: Fit,
    singles: Fit,
    /// Groups of two or more chosen for, counting towards the next probe.
    groups: u64,
    /// The group count when each way was last chosen.
    last_batch: u64,
    last_singles: u64,
    /// The largest recent group (decaying): where to probe when batches never pay.
    largest: f64,
    /// Probes spent on a way whose fit is not known yet (bounded: with groups all of
    /// one size a fit never becomes known).
    unmeasured_probes: u32,
}

/// Every how many groups of two or more one near the break-even size is sent the
/// other way.
const PROBE_EVERY: u64 = 16;
/// After how many groups of two or more without a way, it is tried on the next one.
const STALE_AFTER: u64 = 64;
/// A sample is clipped to this many times what its fit predicts.
const CLIP: f64 = 4.0;
/// Most probes spent on a way whose fit is not known yet.
const MAX_UNMEASURED_PROBES: u32 = 32;

impl CostModel {
    pub fn new(min_batch: usize, adapt: bool) -> Self {
        Self {
            min_batch: min_batch.max(2),
            adapt,
            batches: Fit::default(),
            singles: Fit::default(),
            groups: 0,
            last_batch: 0,
            last_singles: 0,
            largest: 0.0,
            unmeasured_probes: 0,
        }
    }

    /// The smallest group worth a batch, as measured so far.
    pub fn break_even(&self) -> usize {
        if !self.adapt {
            return self.min_batch;
        }
        let (Some(batch), Some(single)) = (self.batches.line(), self.singles.line()) else {
            return self.min_batch;
        };
        // fixed_b + per_b × n < fixed_s + per_s × n  ⇔  n > (fixed_b − fixed_s) / (per_s − per_b)
        let gain = single.1 - batch.1;
        if gain <= 0.0 {
            return usize::MAX;
        }
        let n = ((batch.0 - single.0) / gain).floor() + 1.0;
        if n <= 2.0 {
            2
        } else if n >= MAX_BATCH as f64 {
            usize::MAX
        } else {
            n as usize
        }
    }

    /// Whether a group of `size` goes as one atomic batch.
    pub fn choose_batch(&mut self, size: usize) -> bool {
        if size < 2 {
            return false;
        }
        let break_even = self.break_even();
        let batch = size >= break_even;
        if !self.adapt {
            return batch;
        }
        self.groups += 1;
        self.largest = (self.largest * (1.0 - 1.0 / STALE_AFTER as f64)).max(size as f64);
        // The other way, if it has not been used for a while (whatever the size); now
        // and then while its fit is unknown; and now and then near the break-even size
        // (among the largest recent groups when batches never paid), where a wrong
        // estimate costs the most and a probe the least.
        let other_last = if batch { self.last_singles } else { self.last_batch };
        let stale = self.groups - other_last >= STALE_AFTER;
        let near = if break_even == usize::MAX { self.largest.ceil() as usize } else { break_even };
        let (batches_known, singles_known) = (self.batches.line().is_some(), self.singles.line().is_some());
        let other_known = if batch { singles_known } else { batches_known };
        let measured = batches_known && singles_known;
        let mut probe = false;
        if self.groups % PROBE_EVERY == 0 {
            if !other_known && self.unmeasured_probes < MAX_UNMEASURED_PROBES {
                // Any size teaches a fit that has none, or only one size, to go on.
                self.unmeasured_probes += 1;
                probe = true;
            } else if measured {
                probe = size * 2 >= near && size <= near.saturating_mul(2);
            }
        }
        let chosen = batch != (stale || probe);
        if chosen {
            self.last_batch = self.groups;
        } else {
            self.last_singles = self.groups;
        }
        chosen
    }

    /// Records how long a group of `size` took, sent as a batch or as singles.
    pub fn observe(&mut self, as_batch: bool, size: usize, took: Duration) {
        let fit = if as_batch { &mut self.batches } else { &mut self.singles };
        let n = size as f64;
        let mut t = took.as_secs_f64();
        if let Some((fixed, per)) = fit.line() {
            t = t.min(CLIP * (fixed + per * n).max(1e-6));
        }
        fit.observe(n, t);
    }
}

/// An exponentially weighted least-squares line of time against size.
#[derive(Clone, Copy, Debug, Default)]
struct Fit {
    samples: u64,
    n: f64,
    t: f64,
    nn: f64,
    nt: f64,
}

impl Fit {
    /// Weight of the newest sample: about the last hundred groups count.
    const ALPHA: f64 = 0.02;
    /// Samples before the line is trusted.
    const MIN_SAMPLES: u64 = 8;

    fn observe(&mut self, n: f64, t: f64) {
        let a = if self.samples == 0 { 1.0 } else { Self::ALPHA.max(1.0 / (self.samples + 1) as f64) };
        self.n += a * (n - self.n);
        self.t += a * (t - self.t);
        self.nn += a * (n * n - self.nn);
        self.nt += a * (n * t - self.nt);
        self.samples += 1;
    }

    /// `(fixed, per event)` in seconds, once there are enough samples of different
    /// sizes to tell the two apart.
    fn line(&self) -> Option<(f64, f64)> {
        let variance = self.nn - self.n * self.n;
        if self.samples < Self::MIN_SAMPLES || variance < 0.5 {
            return None;
        }
        let per = ((self.nt - self.n * self.t) / variance).max(0.0);
        let fixed = (self.t - per * self.n).max(0.0);
        Some((fixed, per))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    /// Feeds a model with a server where a batch costs `batch_fixed + batch_per × n` ms
    /// and n singles `single_fixed + single_per × n` ms, over groups of 2..=max.
    fn trained(batch_fixed: f64, batch_per: f64, single_fixed: f64, single_per: f64, max: usize) -> CostModel {
        let mut model = CostModel::new(4, true);
        for round in 0..20 {
            for n in 2..=max {
                let as_batch = (n + round) % 2 == 0;
                let took =
                    if as_batch { batch_fixed + batch_per * n as f64 } else { single_fixed + single_per * n as f64 };
                model.observe(as_batch, n, ms(took));
            }
        }
        model
    }

    #[test]
    fn a_lone_event_is_never_batched() {
        let mut model = trained(0.1, 0.01, 0.3, 1.0, 64);
        assert_eq!(model.break_even(), 2);
        assert!((0..100).all(|_| !model.choose_batch(1)));
    }

    #[test]
    fn the_break_even_size_follows_what_was_measured() {
        // About this machine: a batch costs ~3.4 ms + 0.02 ms an event, singles 0.3 ms + 0.1 ms an event.
        let fast_fsync = trained(3.4, 0.02, 0.3, 0.1, 128);
        assert_eq!(fast_fsync.break_even(), 39, "(3.4 - 0.3) / 0.08 = 38.75");
        // A disk where fsync takes 4 ms: batches pay from 4 on.
        let slow_fsync = trained(16.0, 0.02, 4.0, 4.0, 64);
        assert_eq!(slow_fsync.break_even(), 4, "(16 - 4) / 3.98 = 3.02");
        // Batches never cheaper per event: never batch, but now and then try the
        // largest groups as one.
        let mut never = trained(3.5, 0.2, 0.3, 0.1, 64);
        assert_eq!(never.break_even(), usize::MAX);
        let largest = (0..64).filter(|_| never.choose_batch(64)).count();
        assert_eq!(largest, 64 / PROBE_EVERY as usize);
        let smaller = (0..64).filter(|_| never.choose_batch(10)).count();
        assert!(
            smaller <= 1,
            "smaller groups are tried only when batches went unused for {STALE_AFTER} groups: {smaller}"
        );
    }

    #[test]
    fn until_both_ways_are_measured_min_batch_decides() {
        let mut model = CostModel::new(8, true);
        assert_eq!(model.break_even(), 8);
        for n in 2..40 {
            model.observe(true, n, ms(3.5 + 0.02 * n as f64));
        }
        assert_eq!(model.break_even(), 8, "only batches measured");
        // Singles of one size only cannot tell fixed from per-event cost.
        for _ in 0..40 {
            model.observe(false, 5, ms(0.8));
        }
        assert_eq!(model.break_even(), 8);
        for n in 2..40 {
            model.observe(false, n, ms(0.3 + 0.1 * n as f64));
        }
        assert!((35..=45).contains(&model.break_even()), "{}", model.break_even());
    }

    #[test]
    fn a_way_not_yet_measured_is_tried_on_groups_of_any_size_for_a_while() {
        let mut model = CostModel::new(4, true);
        let as_singles = (0..128).filter(|_| !model.choose_batch(100)).count();
        assert_eq!(as_singles, 128 / PROBE_EVERY as usize, "large groups are sometimes sent as singles");
        let mut model = CostModel::new(50, true);
        let as_batches = (0..128).filter(|_| model.choose_batch(3)).count();
        assert_eq!(as_batches, 128 / PROBE_EVERY as usize, "small groups are sometimes sent as a batch");
        // Groups all of one size never make a fit known: the probing then slows to
        // one in STALE_AFTER.
        (0..MAX_UNMEASURED_PROBES as usize * PROBE_EVERY as usize).for_each(|_| {
            model.choose_batch(3);
        });
        let later = (0..1024).filter(|_| model.choose_batch(3)).count();
        assert!(later <= 1024 / STALE_AFTER as usize + 1, "{later}");
    }

    #[test]
    fn an_outlier_is_clipped_and_a_timed_out_batch_counts() {
        let mut model = trained(3.4, 0.02, 0.3, 0.1, 128);
        assert_eq!(model.break_even(), 39);
        // One batch stalls for 5 s (a reconnect): clipped to 4x its prediction, it
        // moves the break-even a little, not to "never".
        model.observe(true, 60, Duration::from_secs(5));
        let after = model.break_even();
        assert!((39..=60).contains(&after), "{after}");
        // A server where every batch times out (1 s) is soon not sent batches.
        for n in (2..130).cycle().take(2000) {
            model.observe(true, n, Duration::from_secs(1));
            model.observe(false, n, ms(0.3 + 0.1 * n as f64));
        }
        assert_eq!(model.break_even(), usize::MAX);
    }

    #[test]
    fn without_adapt_min_batch_is_the_rule_and_nothing_is_probed() {
        let mut model = trained(3.5, 0.02, 0.3, 0.1, 128);
        model.adapt = false;
        model.min_batch = 2;
        assert!((0..200).all(|_| model.choose_batch(2)));
        assert!((0..200).all(|_| model.choose_batch(100)));
    }

    #[test]
    fn groups_far_from_break_even_are_sent_the_better_way_and_some_near_it_are_probed() {
        let mut model = trained(3.4, 0.02, 0.3, 0.1, 128);
        let large_as_singles = (0..256).filter(|_| !model.choose_batch(200)).count();
        assert_eq!(
            large_as_singles,
            256 / STALE_AFTER as usize,
            "large groups batch, but for a try of singles now and then"
        );
        let small_as_batch = (0..256).filter(|_| model.choose_batch(5)).count();
        assert_eq!(
            small_as_batch,
            256 / STALE_AFTER as usize,
            "small groups go as singles, but for a try of a batch now and then"
        );
        let near: Vec<bool> = (0..64).map(|_| model.choose_batch(40)).collect();
        let probes = near.iter().filter(|b| !**b).count();
        assert_eq!(probes, 64 / PROBE_EVERY as usize, "one in {PROBE_EVERY} groups near break-even goes the other way");
    }

    #[test]
    fn a_change_of_disk_is_followed() {
        let mut model = trained(3.4, 0.02, 0.3, 0.1, 128);
        assert_eq!(model.break_even(), 39);
        // fsync becomes slow: singles now cost 2 ms an event.
        for round in 0..200 {
            for n in [4usize, 8, 16, 32, 64] {
                let as_batch = (n + round) % 2 == 0;
                let took = if as_batch { 3.5 + 0.02 * n as f64 } else { 0.3 + 2.0 * n as f64 };
                model.observe(as_batch, n, ms(took));
            }
        }
        assert!(model.break_even() <= 3, "{}", model.break_even());
    }
}
