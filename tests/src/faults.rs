//! The fault suite's tools (`tests/integration/faults.rs`): a load of realistic
//! submissions from many clients that retries unknown outcomes with the same
//! submission id, the check of the log against what the clients were told, child
//! processes to SIGKILL, a NATS cluster on loopback, and the figures each scenario
//! prints.
//!
//! Two forms: the short one for CI (default) and a long one with more clients, kills
//! and events (`STOD_FAULTS=long`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stod_client::{ClientError, RetryPolicy};
use stod_events::case::Command;
use stod_events::ids::{CaseId, Date, EventId, SubmissionId};
use stod_nats_server::{NatsServer, ServerOptions};
use stod_store::StoredEvent;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::time::{sleep, timeout, Instant};

use crate::TestResult;

/// Whether the long form was asked for (`STOD_FAULTS=long`).
pub fn long_form() -> bool {
    std::env::var("STOD_FAULTS").is_ok_and(|v| v.eq_ignore_ascii_case("long"))
}

/// `short` in CI, `long` on demand.
pub fn scaled<T>(short: T, long: T) -> T {
    if long_form() {
        long
    } else {
        short
    }
}

/// What one scenario saw, printed as a table at its end.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub scenario: String,
    pub form: &'static str,
    pub clients: usize,
    /// SIGKILLs delivered (nats-server nodes, services, projector).
    pub kills: u32,
    /// Distinct submissions sent.
    pub submissions: u64,
    /// Submissions the clients were told were recorded.
    pub acknowledged: u64,
    /// Events in those acknowledgements.
    pub events_acknowledged: u64,
    pub events_in_log: u64,
    /// Acknowledged events missing from the log. Must be 0.
    pub lost: u64,
    /// Events recorded more than once for one submission, or event ids stored twice.
    /// Must be 0.
    pub duplicated: u64,
    /// Events in the log that no acknowledged or unresolved submission explains (a
    /// rejected submission that was recorded anyway). Must be 0.
    pub unexplained: u64,
    /// Tries that ended without a definite answer (timeout, no responder,
    /// "unavailable", conflict), each retried with the same submission id.
    pub unknown_outcomes: u64,
    /// Submissions whose first try had no definite answer and a later one did.
    pub resolved: u64,
    /// Of those, how many the service answered "already recorded" (the first try had
    /// been recorded; the client just never heard).
    pub resolved_as_recorded: u64,
    /// Submissions still without a definite answer when the run's time ran out.
    pub unresolved: u64,
    pub rejected: u64,
    /// Read models after the faults vs a clean rebuild; `None` where not compared.
    pub digests_equal: Option<bool>,
    pub seconds: f64,
    /// Anything else worth a line: scenario-specific figures.
    pub notes: Vec<String>,
}

impl Figures {
    pub fn new(scenario: &str) -> Self {
        Self { scenario: scenario.to_owned(), form: scaled("short", "long"), ..Self::default() }
    }

    /// Folds a load's outcome and its check against the log into the figures.
    pub fn add_load(&mut self, load: &LoadOutcome, check: &LogCheck) {
        self.submissions += load.submitted;
        self.acknowledged += load.acknowledged.len() as u64;
        self.events_acknowledged += load.acknowledged.values().map(|a| a.len() as u64).sum::<u64>();
        self.unknown_outcomes += load.unknown_outcomes;
        self.resolved += load.resolved;
        self.resolved_as_recorded += load.resolved_as_recorded;
        self.unresolved += load.unresolved.len() as u64;
        self.rejected += load.rejected.len() as u64;
        self.events_in_log = check.events_in_log;
        self.lost += check.lost;
        self.duplicated += check.duplicated;
        self.unexplained += check.unexplained;
    }

    /// Prints the table (shown with `--nocapture`, and on failure).
    pub fn print(&self) {
        let digests = match self.digests_equal {
            Some(true) => "equal".to_owned(),
            Some(false) => "DIFFERENT".to_owned(),
            None => "-".to_owned(),
        };
        let rows: Vec<(&str, String)> = vec![
            ("form", self.form.to_owned()),
            ("clients", self.clients.to_string()),
            ("SIGKILLs", self.kills.to_string()),
            ("submissions", self.submissions.to_string()),
            ("acknowledged", self.acknowledged.to_string()),
            ("events acknowledged", self.events_acknowledged.to_string()),
            ("events in log", self.events_in_log.to_string()),
            ("lost (must be 0)", self.lost.to_string()),
            ("duplicated (must be 0)", self.duplicated.to_string()),
            ("unexplained (must be 0)", self.unexplained.to_string()),
            ("unknown outcomes retried", self.unknown_outcomes.to_string()),
            ("resolved after unknown", self.resolved.to_string()),
            ("  of which already recorded", self.resolved_as_recorded.to_string()),
            ("unresolved at the end", self.unresolved.to_string()),
            ("rejected", self.rejected.to_string()),
            ("read-model digests", digests),
            ("seconds", format!("{:.1}", self.seconds)),
        ];
        let mut out = format!("\n== fault scenario: {} ==\n", self.scenario);
        for (name, value) in rows {
            out.push_str(&format!("  {name:<30} {value:>10}\n"));
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        eprintln!("{out}");
    }

    /// The invariants every scenario must hold.
    #[track_caller]
    pub fn assert_sound(&self) {
        assert_eq!(self.lost, 0, "{}: acknowledged events lost", self.scenario);
        assert_eq!(self.duplicated, 0, "{}: events recorded twice", self.scenario);
        assert_eq!(self.unexplained, 0, "{}: events nobody was told about", self.scenario);
        assert_eq!(
            self.rejected, 0,
            "{}: the demo's commands are all valid; a rejection is a wrong decision",
            self.scenario
        );
        assert_ne!(self.digests_equal, Some(false), "{}: read models differ from a clean rebuild", self.scenario);
    }
}

/// A load of submissions: demo journeys, each case's commands in order, cases spread
/// over the clients.
#[derive(Clone, Debug)]
pub struct Load {
    pub participants: u32,
    pub seed: u64,
    /// Gives up on a submission still without an answer this long after the load
    /// started (bounds the run).
    pub deadline: Duration,
    /// How long one try waits for its reply.
    pub request_timeout: Duration,
}

/// What the clients were told.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    pub submitted: u64,
    /// Submission -> the events the service said it recorded.
    pub acknowledged: HashMap<SubmissionId, Vec<EventId>>,
    pub rejected: HashSet<SubmissionId>,
    pub unresolved: HashSet<SubmissionId>,
    pub unknown_outcomes: u64,
    pub resolved: u64,
    pub resolved_as_recorded: u64,
    /// Submissions never sent: later commands of a case whose earlier command stayed
    /// unresolved or was rejected.
    pub skipped: u64,
}

/// Live counter of acknowledged submissions, so a fault loop can wait for progress.
pub type Progress = Arc<AtomicU64>;

/// The demo's submissions for `load`, and the date they are valid up to.
fn demo_submissions(load: &Load) -> Vec<stod_demo::Submission> {
    // Today, so the service's "not in the future" rule accepts every date.
    let today: Date = stod_events::sweden::today();
    stod_demo::generate(&stod_demo::DemoParams { participants: load.participants, years: 2, seed: load.seed, today })
}

/// Runs `load` over `clients` (one NATS connection each), each retrying every try
/// without a definite answer with the same submission id until the deadline.
pub async fn run_load(clients: Vec<stod_client::Client>, load: &Load, progress: Progress) -> TestResult<LoadOutcome> {
    let subs = demo_submissions(load);
    let mut order: Vec<CaseId> = Vec::new();
    let mut by_case: HashMap<CaseId, Vec<stod_demo::Submission>> = HashMap::new();
    for s in subs {
        if !by_case.contains_key(&s.case_id) {
            order.push(s.case_id);
        }
        by_case.entry(s.case_id).or_default().push(s);
    }
    let n = clients.len().max(1);
    let mut shares: Vec<Vec<Vec<stod_demo::Submission>>> = (0..n).map(|_| Vec::new()).collect();
    for (i, case) in order.iter().enumerate() {
        shares[i % n].push(by_case.remove(case).unwrap_or_default());
    }
    let deadline = Instant::now() + load.deadline;
    let policy = RetryPolicy { request_timeout: load.request_timeout, retries: 0, backoff: Duration::from_millis(10) };
    let mut tasks = tokio::task::JoinSet::new();
    for (client, cases) in clients.into_iter().zip(shares) {
        let client = client.with_retry(policy);
        let progress = progress.clone();
        tasks.spawn(async move { drive(client, cases, deadline, progress).await });
    }
    let mut total = LoadOutcome::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined??;
        total.submitted += part.submitted;
        total.acknowledged.extend(part.acknowledged);
        total.rejected.extend(part.rejected);
        total.unresolved.extend(part.unresolved);
        total.unknown_outcomes += part.unknown_outcomes;
        total.resolved += part.resolved;
        total.resolved_as_recorded += part.resolved_as_recorded;
        total.skipped += part.skipped;
    }
    Ok(total)
}

/// One client's share: its cases one after the other, each case's commands in order.
async fn drive(
    client: stod_client::Client,
    cases: Vec<Vec<stod_demo::Submission>>,
    deadline: Instant,
    progress: Progress,
) -> Result<LoadOutcome, String> {
    let mut out = LoadOutcome::default();
    for subs in cases {
        let mut recorded: HashMap<SubmissionId, EventId> = HashMap::new();
        let mut case_stopped = false;
        for s in subs {
            if case_stopped {
                out.skipped += 1;
                continue;
            }
            let mut command = s.command.clone();
            if let (Some(target), Command::Correct { target: t, .. }) = (s.corrects_submission, &mut command) {
                match recorded.get(&target) {
                    Some(id) => *t = *id,
                    None => {
                        out.skipped += 1;
                        continue;
                    }
                }
            }
            let user_client = client.as_user(s.user.clone());
            out.submitted += 1;
            let mut unknown_tries = 0u64;
            let mut backoff = Duration::from_millis(20);
            loop {
                match user_client.submit_as(s.submission_id, s.case_id, command.clone()).await {
                    Ok(accepted) => {
                        if unknown_tries > 0 {
                            out.resolved += 1;
                            if accepted.duplicate {
                                out.resolved_as_recorded += 1;
                            }
                        }
                        if let Some(id) = accepted.event_ids.first() {
                            recorded.insert(s.submission_id, *id);
                        }
                        out.acknowledged.insert(s.submission_id, accepted.event_ids);
                        progress.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(ClientError::Rejected { kind, message, .. }) => {
                        if unknown_tries > 0 {
                            out.resolved += 1;
                        }
                        eprintln!(
                            "rejected after {unknown_tries} unknown tries: submission {} case {} {kind:?}: {message}",
                            s.submission_id, s.case_id
                        );
                        out.rejected.insert(s.submission_id);
                        case_stopped = true;
                        break;
                    }
                    Err(ClientError::Unavailable(_) | ClientError::Conflict(_)) => {
                        unknown_tries += 1;
                        out.unknown_outcomes += 1;
                        if Instant::now() >= deadline {
                            out.unresolved.insert(s.submission_id);
                            case_stopped = true;
                            break;
                        }
                        sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                    }
                    Err(e) => return Err(format!("submission {} got an unexpected answer: {e}", s.submission_id)),
                }
            }
        }
    }
    Ok(out)
}

/// The log held against what the clients were told.
#[derive(Debug, Default)]
pub struct LogCheck {
    pub events_in_log: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub unexplained: u64,
    /// Unresolved submissions that turned out to be recorded (once).
    pub unresolved_present: u64,
}

/// Every acknowledged submission is in the log exactly once with the event ids it was
/// told; an unresolved one is absent or present once; nothing else is there (events
/// in `preexisting` submissions are ignored).
pub fn check_log(log: &[StoredEvent], load: &LoadOutcome, preexisting: &HashSet<SubmissionId>) -> LogCheck {
    let mut check = LogCheck { events_in_log: log.len() as u64, ..LogCheck::default() };
    let mut by_submission: HashMap<SubmissionId, Vec<EventId>> = HashMap::new();
    let mut seen_ids: HashSet<EventId> = HashSet::new();
    for e in log {
        let event = &e.sealed.event;
        if !seen_ids.insert(event.event_id) {
            check.duplicated += 1;
        }
        by_submission.entry(event.submission_id).or_default().push(event.event_id);
    }
    for (sub, told) in &load.acknowledged {
        let stored = by_submission.get(sub).map(Vec::as_slice).unwrap_or(&[]);
        check.lost += told.iter().filter(|id| !stored.contains(id)).count() as u64;
        check.duplicated += stored.len().saturating_sub(told.len()) as u64;
    }
    for sub in &load.unresolved {
        match by_submission.get(sub).map_or(0, Vec::len) {
            0 => {}
            1 => check.unresolved_present += 1,
            n => check.duplicated += n as u64 - 1,
        }
    }
    for (sub, events) in &by_submission {
        let explained =
            load.acknowledged.contains_key(sub) || load.unresolved.contains(sub) || preexisting.contains(sub);
        if !explained {
            check.unexplained += events.len() as u64;
        }
    }
    check
}

/// A child process of ours (a service binary of `stod-tests`), SIGKILLed on drop and
/// when the test process dies.
pub struct ChildProcess {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Where its stderr goes (appended across restarts), for faults it reports.
    log: PathBuf,
    child: Option<tokio::process::Child>,
}

impl ChildProcess {
    pub fn new(program: impl Into<PathBuf>, args: &[&str], log: &Path) -> Self {
        Self {
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            log: log.to_path_buf(),
            child: None,
        }
    }

    /// Sets an environment variable for the next starts; `None` removes it.
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.to_owned(), v.to_owned()));
        }
    }

    /// Starts the process; with `wait_ready`, waits for it to print `ready`.
    pub async fn start(&mut self, wait_ready: bool) -> TestResult {
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(if wait_ready { Stdio::piped() } else { Stdio::null() })
            .stderr(stderr)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: runs between fork and exec; prctl is async-signal-safe and allocates nothing.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        if wait_ready {
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut lines = BufReader::new(stdout).lines();
            match timeout(Duration::from_secs(30), lines.next_line()).await {
                Ok(Ok(Some(line))) if line.trim() == "ready" => {}
                other => return Err(format!("{} did not get ready: {other:?}", self.program.display()).into()),
            }
        }
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, and reap it.
    pub async fn kill(&mut self) -> TestResult {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// What the process wrote to stderr, over all its starts.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The group commit the fault scenarios run with: eager enough that 16 clients form
/// batches (a group of two is a batch; a group waits 1 ms for company), so a kill can
/// find atomic batches in flight.
pub fn group_commit_config() -> stod_command::GroupCommitConfig {
    // Batches forced (no learning), since the crashes are to hit batches in flight.
    stod_command::GroupCommitConfig {
        window: Duration::from_millis(1),
        min_batch: 2,
        adapt: false,
        ..Default::default()
    }
}

/// Set (to anything) for `stod-test-command` to append through group commit with
/// [`group_commit_config`] and report its counts on stderr.
pub const GROUP_COMMIT_ENV: &str = "STOD_TEST_GROUP_COMMIT";

/// What `stod-test-command` writes once per start, before `ready`.
const GROUP_COMMIT_STARTED: &str = "group commit on:";
/// What it writes whenever its counts changed (at most every 100 ms).
const GROUP_COMMIT_COUNTS: &str = "group commit counts:";

/// The line a child writes when it starts with group commit.
pub fn group_commit_started_line(config: &stod_command::GroupCommitConfig) -> String {
    format!("{GROUP_COMMIT_STARTED} {config:?}")
}

/// The line a child writes to report its counts (parsed by [`reported_group_commit`]).
pub fn group_commit_counts_line(c: &stod_command::GroupCommitCounts) -> String {
    format!("{GROUP_COMMIT_COUNTS} {}", serde_json::json!(c))
}

/// From a child's stderr over all its starts: how many starts ran with group commit,
/// and the sum of each start's last reported counts. A SIGKILL takes the counts of the
/// last moments before it, so the sum is a lower bound.
pub fn reported_group_commit(log: &str) -> (u32, stod_command::GroupCommitCounts) {
    let mut starts: Vec<stod_command::GroupCommitCounts> = Vec::new();
    for line in log.lines() {
        if line.starts_with(GROUP_COMMIT_STARTED) {
            starts.push(Default::default());
        } else if let (Some(rest), Some(last)) = (line.strip_prefix(GROUP_COMMIT_COUNTS), starts.last_mut()) {
            // A line cut short by the SIGKILL is no report.
            if let Ok(counts) = serde_json::from_str(rest.trim()) {
                *last = counts;
            }
        }
    }
    (starts.len() as u32, starts.into_iter().sum())
}

/// Group commit's counts as a line of a scenario's figures.
pub fn describe_group_commit(c: &stod_command::GroupCommitCounts) -> String {
    let mean = if c.batches == 0 { 0.0 } else { c.batched_events as f64 / c.batches as f64 };
    format!(
        "group commit: {} atomic batches of {} events (mean {mean:.1}), {} batches refused and sent one by one, {} single appends",
        c.batches, c.batched_events, c.refused_batches, c.single_appends
    )
}

/// Clients for a load: `n` NATS connections to `urls` (several servers: a client
/// fails over between them), with the first URL rotated so connections spread.
pub async fn clients(urls: &[String], n: usize) -> TestResult<Vec<stod_client::Client>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut rotated = urls.to_vec();
        rotated.rotate_left(i % urls.len().max(1));
        let nats = async_nats::ConnectOptions::new()
            .name(format!("stod-faults client {i}"))
            .retry_on_initial_connect()
            .connect(rotated.as_slice())
            .await?;
        out.push(stod_client::Client::from_nats(nats, stod_events::ids::UserId::parse("anna")?));
    }
    Ok(out)
}

/// The submission ids already in a log.
pub fn submissions_in(log: &[StoredEvent]) -> HashSet<SubmissionId> {
    log.iter().map(|e| e.sealed.event.submission_id).collect()
}

/// The digest of read models built from scratch from `log`, in odd-sized batches.
pub fn clean_digest(log: &[StoredEvent]) -> TestResult<String> {
    let dir = tempfile::tempdir()?;
    let clean = stod_projector::ReadStore::open(dir.path())?.new_generation()?;
    let all: Vec<_> = log.iter().map(|e| (e.stream_sequence, Some(e.sealed.clone()))).collect();
    for chunk in all.chunks(777) {
        clean.apply(chunk)?;
    }
    Ok(clean.digest()?)
}

/// A projector's store after its process was SIGKILLed, held against a clean rebuild
/// of the log up to the store's own checkpoint: sled writes each batch with its
/// checkpoint atomically but flushes every 200 ms, so a kill may take back the last
/// batches, never half of one. Returns (digests equal, surviving checkpoint).
pub fn compare_with_clean_rebuild(read: &Path, log: &[StoredEvent]) -> TestResult<(bool, u64)> {
    let store = stod_projector::ReadStore::open(read)?;
    let live = store.live()?.ok_or("no live read models")?;
    let checkpoint = live.checkpoint()?;
    let survived = live.digest()?;
    drop((live, store));
    let prefix = log.get(..checkpoint as usize).ok_or("checkpoint past the log's end")?;
    Ok((survived == clean_digest(prefix)?, checkpoint))
}

/// Asks the projector for its status until its checkpoint reaches `last` with no
/// rebuild running; fails on a fault or after `within`.
pub async fn wait_caught_up(
    nats: &async_nats::Client,
    last: u64,
    within: Duration,
) -> TestResult<stod_protocol::ProjectionStatus> {
    let deadline = Instant::now() + within;
    loop {
        let reply =
            timeout(Duration::from_secs(2), crate::request(nats, "stod.query.drift.projection-status", "{}")).await;
        if let Ok(Ok(reply)) = reply {
            let status: stod_protocol::ProjectionStatus = serde_json::from_slice(&reply.payload)?;
            if let Some(fault) = &status.fault {
                return Err(format!("projector faulted: {fault}").into());
            }
            if status.checkpoint == last && status.rebuild.is_none() {
                return Ok(status);
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("projector did not reach {last} within {within:?}").into());
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `progress` has grown by `by` or `within` passed.
pub async fn wait_progress(progress: &Progress, by: u64, within: Duration) {
    let start = progress.load(Ordering::Relaxed);
    let deadline = Instant::now() + within;
    while progress.load(Ordering::Relaxed) < start + by && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
    }
}

/// How long until `progress` grows from now on (`None` if not within `within`): how
/// soon a system serves again after a fault.
pub async fn time_to_progress(progress: Progress, within: Duration) -> Option<Duration> {
    let (from, since) = (progress.load(Ordering::Relaxed), Instant::now());
    wait_progress(&progress, 1, within).await;
    (progress.load(Ordering::Relaxed) > from).then(|| since.elapsed())
}

/// A free port on 127.0.0.1 (free when asked; a cluster needs its ports up front).
pub fn free_port() -> TestResult<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A NATS cluster on loopback: nodes with JetStream, routes to each other, each with
/// its own store dir and a monitoring port (to read each node's own stream state).
pub struct Cluster {
    pub nodes: Vec<NatsServer>,
    monitoring: Vec<u16>,
    /// Removed after the nodes are gone (fields drop in order).
    _dir: tempfile::TempDir,
}

/// One node's own copy of the stream, from its `/jsz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

impl Cluster {
    pub async fn start(size: usize) -> TestResult<Self> {
        let dir = tempfile::Builder::new().prefix("stod-cluster-").tempdir()?;
        let route_ports: Vec<u16> = (0..size).map(|_| free_port()).collect::<TestResult<_>>()?;
        let client_ports: Vec<u16> = (0..size).map(|_| free_port()).collect::<TestResult<_>>()?;
        let monitoring: Vec<u16> = (0..size).map(|_| free_port()).collect::<TestResult<_>>()?;
        let routes: Vec<String> = route_ports.iter().map(|p| format!("\"nats-route://127.0.0.1:{p}\"")).collect();
        let mut starting = Vec::new();
        for i in 0..size {
            let cluster = format!(
                "cluster {{\n  name: \"stod-faults\"\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}",
                route_ports[i],
                routes.join(", ")
            );
            let opts = ServerOptions::new(dir.path().join(format!("n{}", i + 1)))
                .with_server_name(format!("n{}", i + 1))
                .with_port(client_ports[i])
                .with_monitoring_port(monitoring[i])
                .with_wait_for_jetstream(false)
                .with_extra_config(cluster);
            starting.push(NatsServer::start(opts));
        }
        let nodes = futures::future::try_join_all(starting).await?;
        Ok(Self { nodes, monitoring, _dir: dir })
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NatsServer::url).collect()
    }

    /// The node index of a server name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.server_name() == name)
    }

    /// This node's own state of `stream`, or `None` if it holds no replica (yet).
    pub async fn replica_state(&self, node: usize, stream: &str) -> TestResult<Option<ReplicaState>> {
        let jsz = http_get_json(self.monitoring[node], "/jsz?accounts=true&streams=true").await?;
        let accounts = jsz["account_details"].as_array().cloned().unwrap_or_default();
        for account in accounts {
            for s in account["stream_detail"].as_array().cloned().unwrap_or_default() {
                if s["name"] == stream {
                    let st = &s["state"];
                    let n = |k: &str| st[k].as_u64().unwrap_or(0);
                    return Ok(Some(ReplicaState {
                        messages: n("messages"),
                        bytes: n("bytes"),
                        first_seq: n("first_seq"),
                        last_seq: n("last_seq"),
                    }));
                }
            }
        }
        Ok(None)
    }
}

/// A GET on a local monitoring port, its body parsed as JSON (HTTP/1.0, so the body
/// ends with the connection).
async fn http_get_json(port: u16, path: &str) -> TestResult<serde_json::Value> {
    let mut stream = timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(("127.0.0.1", port))).await??;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await??;
    let text = String::from_utf8_lossy(&response);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("no HTTP body")?;
    Ok(serde_json::from_str(body)?)
}
