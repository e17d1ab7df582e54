//! One command, from request to reply.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use stod_events::case::{decide, Action, Command, Context, Rejection};
use stod_events::codec;
use stod_events::ids::{CaseId, Date, EventId, ParticipantRef, Timestamp, UserId};
use stod_events::reference::Catalogue;
use stod_protocol::{Assigned, CommandReply, CommandRequest};
use stod_store::{Claim, ParticipantIndex, StoreError, StoreErrorKind};
use tracing::{debug, warn};

use crate::cases::{Cases, LoadedCase};
use crate::group::{GroupCommitConfig, GroupCommitCounts, GroupCommitter};

/// Tunables of the command path.
#[derive(Clone)]
pub struct HandlerConfig {
    /// How often a command is decided again after losing a race on its case.
    pub max_attempts: u32,
    /// How often an append whose acknowledgement timed out is sent again (same bytes,
    /// same message id) before answering "unavailable".
    pub ack_retries: u32,
    /// A participant claim whose case has no intake yet is taken to be in flight (its
    /// writer between claiming and appending) for this long; after that it is stale.
    pub claim_grace: Duration,
    /// Today's business date. Swedish time in production; fixed in some tests.
    pub today: Arc<dyn Fn() -> Date + Send + Sync>,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 16,
            ack_retries: 2,
            claim_grace: Duration::from_secs(30),
            today: Arc::new(stod_events::sweden::today),
        }
    }
}

/// Decides and appends commands. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Handler {
    inner: Arc<Inner>,
}

struct Inner {
    cases: Cases,
    /// Appends through group commit when set (`ServiceOptions::group_commit`).
    committer: Option<GroupCommitter>,
    participants: ParticipantIndex,
    catalogue: RwLock<Arc<Catalogue>>,
    config: HandlerConfig,
}

/// What stops a command from getting a definite answer. Either way nothing was
/// recorded by this attempt (or the outcome is unknown and a retry is safe).
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug: logged in full, answered as "unavailable" without details.
    #[error("internal error: {0}")]
    Internal(String),
}

enum ClaimOutcome {
    Ours,
    OpenElsewhere(CaseId),
    InFlight,
}

impl Handler {
    pub fn new(cases: Cases, participants: ParticipantIndex, catalogue: Catalogue, config: HandlerConfig) -> Self {
        Self::build(cases, participants, catalogue, config, None)
    }

    /// The same handler, appending through group commit: single-event appends that
    /// are ready at the same moment share one atomic batch.
    pub fn with_group_commit(
        cases: Cases,
        participants: ParticipantIndex,
        catalogue: Catalogue,
        config: HandlerConfig,
        group: GroupCommitConfig,
    ) -> Self {
        let committer = GroupCommitter::start(cases.store().clone(), group);
        Self::build(cases, participants, catalogue, config, Some(committer))
    }

    fn build(
        cases: Cases,
        participants: ParticipantIndex,
        catalogue: Catalogue,
        config: HandlerConfig,
        committer: Option<GroupCommitter>,
    ) -> Self {
        let catalogue = RwLock::new(Arc::new(catalogue));
        Self { inner: Arc::new(Inner { cases, committer, participants, catalogue, config }) }
    }

    /// What group commit did so far; `None` when it is off.
    pub fn group_commit_counts(&self) -> Option<GroupCommitCounts> {
        self.inner.committer.as_ref().map(GroupCommitter::counts)
    }

    /// Replaces the reference data in force (from the shared store's watch).
    pub fn set_catalogue(&self, catalogue: Catalogue) {
        *self.inner.catalogue.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalogue);
    }

    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.inner.catalogue.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn cases(&self) -> &Cases {
        &self.inner.cases
    }

    /// Handles one command submitted by `user`. Never panics; every outcome is a reply.
    pub async fn handle(&self, user: UserId, request: CommandRequest) -> CommandReply {
        match self.try_handle(&user, &request).await {
            Ok(reply) => reply,
            Err(e) => {
                if let Fault::Internal(_) = e {
                    tracing::error!(case = %request.case_id, submission = %request.submission_id, "{e}");
                } else {
                    warn!(case = %request.case_id, submission = %request.submission_id, "command unavailable: {e}");
                }
                CommandReply::Unavailable {
                    message: "händelseloggen kan inte nås just nu; försök igen (samma inskickning registreras aldrig två gånger)".into(),
                }
            }
        }
    }

    async fn try_handle(&self, user: &UserId, req: &CommandRequest) -> Result<CommandReply, Fault> {
        let cfg = &self.inner.config;
        let cases = &self.inner.cases;
        for attempt in 0..cfg.max_attempts {
            // The first conflict is usually just a stale cache (another instance
            // appended): reload at once. Only repeated losses mean a real race, and
            // then concurrent losers are spread out so they do not collide in lockstep.
            if attempt > 1 {
                let jitter = (req.submission_id.as_uuid().as_u128() as u64 ^ u64::from(attempt)) % 5;
                tokio::time::sleep(Duration::from_millis(u64::from(attempt) + jitter)).await;
            }
            let case = cases.load(&req.case_id, attempt > 0).await?;
            if let Some(ids) = case.state.already_applied(&req.submission_id) {
                return Ok(accepted(req.case_id, ids.to_vec(), &case, true));
            }
            let catalogue = self.catalogue();
            let mut ctx = Context { today: (cfg.today)(), catalogue: &catalogue, open_case_of_participant: None };
            let mut events = match decide(&case.state, &req.command, &ctx) {
                Ok(events) => events,
                // The case came from this instance's cache or from a replica (direct
                // gets), and either may lag behind another instance's append (the
                // placement this command ends, or this very submission, recorded
                // there). An acceptance is checked by the conditional append; a
                // rejection is checked here, against the stream leader.
                Err(rejection) => {
                    let current = cases.store().last_sequence_of_case(&req.case_id).await?;
                    if current != case.last_sequence && attempt + 1 < cfg.max_attempts {
                        cases.forget(&req.case_id);
                        continue;
                    }
                    return Ok(rejected(rejection));
                }
            };
            if let Some(participant) = enrolled_participant(&req.command) {
                match self.claim_participant(participant, req.case_id).await {
                    Ok(ClaimOutcome::Ours) => {}
                    Ok(ClaimOutcome::OpenElsewhere(other)) => {
                        ctx.open_case_of_participant = Some(other);
                        match decide(&case.state, &req.command, &ctx) {
                            Err(rejection) => return Ok(rejected(rejection)),
                            Ok(again) => events = again,
                        }
                    }
                    Ok(ClaimOutcome::InFlight) => continue,
                    Err(e) if e.kind() == StoreErrorKind::Conflict => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            // Every command records exactly one event today; a multi-event command
            // would need an atomic batch to stay all-or-nothing.
            let [new] = <[_; 1]>::try_from(events)
                .map_err(|events| Fault::Internal(format!("a command produced {} events", events.len())))?;
            let recorded = new.record(req.case_id, req.submission_id, user.clone(), Timestamp::now());
            let sealed = codec::seal(recorded, &case.state.last_hash).map_err(|e| Fault::Internal(e.to_string()))?;
            match self.append(&sealed, case.last_sequence, req).await {
                Ok(appended) if appended.duplicate => {
                    // An earlier attempt of this very submission was stored: answer
                    // with what it recorded, not with the event we just built.
                    cases.forget(&req.case_id);
                    let original = cases.store().get(appended.stream_sequence).await?;
                    if original.sealed.event.case_id != req.case_id {
                        return Ok(CommandReply::Invalid {
                            message: format!(
                                "inskickningen {} användes redan för ett annat ärende; varje inskickning behöver ett eget id",
                                req.submission_id
                            ),
                        });
                    }
                    return Ok(CommandReply::Accepted {
                        case_id: req.case_id,
                        event_ids: vec![original.sealed.event.event_id],
                        stream_sequence: appended.stream_sequence,
                        duplicate: true,
                        assigned: assigned(&original.sealed),
                        registered: None,
                    });
                }
                Ok(appended) => {
                    // Taken out of the cache, the case is changed in place: copied only
                    // when another command holds it at this moment.
                    cases.forget(&req.case_id);
                    let mut next = case;
                    Arc::make_mut(&mut next).apply(appended.stream_sequence, &sealed);
                    cases.put(req.case_id, next);
                    debug!(case = %req.case_id, seq = appended.stream_sequence, "appended");
                    return Ok(CommandReply::Accepted {
                        case_id: req.case_id,
                        event_ids: vec![sealed.event.event_id],
                        stream_sequence: appended.stream_sequence,
                        duplicate: false,
                        assigned: assigned(&sealed),
                        registered: None,
                    });
                }
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    debug!(case = %req.case_id, attempt, "lost a race; deciding again");
                    cases.forget(&req.case_id);
                    continue;
                }
                Err(e) => {
                    cases.forget(&req.case_id);
                    return Err(e.into());
                }
            }
        }
        Ok(CommandReply::Conflict {
            message: "ärendet ändrades av någon annan samtidigt; läs in det igen och försök på nytt".into(),
        })
    }

    /// Appends, resending the same bytes with the same message id after an ack
    /// timeout: the outcome of a timed-out append is unknown. A resend either stores
    /// it, or (if the first try was stored) fails the expected-sequence check, which
    /// nats-server makes before the message-id check; the conflict path then finds
    /// the submission among the case's events and answers with the original result
    /// (decision 0010 records what the server does).
    async fn append(
        &self,
        sealed: &stod_events::SealedEvent,
        expected: u64,
        req: &CommandRequest,
    ) -> Result<stod_store::Appended, StoreError> {
        let message_id = req.submission_id.to_string();
        let mut tries = 0;
        loop {
            let started = std::time::Instant::now();
            let result = match &self.inner.committer {
                Some(committer) => {
                    let result = committer.append(sealed, expected, &message_id).await;
                    // Includes the wait for a group to form and for a batch slot; the
                    // batch itself is `stod_append_batch_seconds`.
                    metrics::histogram!("stod_group_append_seconds").record(started.elapsed().as_secs_f64());
                    result
                }
                None => {
                    let result = self.inner.cases.store().append(sealed, expected, &message_id).await;
                    // Durable append latency: publish until the fsynced acknowledgement.
                    metrics::histogram!("stod_append_seconds").record(started.elapsed().as_secs_f64());
                    result
                }
            };
            match result {
                Err(e) if e.kind() == StoreErrorKind::Timeout && tries < self.inner.config.ack_retries => {
                    tries += 1;
                    warn!(case = %req.case_id, "append not acknowledged in time; resending the same event");
                }
                other => return other,
            }
        }
    }

    /// Makes `case_id` the participant's current case, unless another case of theirs
    /// is open (or is being opened right now).
    async fn claim_participant(
        &self,
        participant: ParticipantRef,
        case_id: CaseId,
    ) -> Result<ClaimOutcome, StoreError> {
        let index = &self.inner.participants;
        // Most intakes are a participant's first: a claim made outright is one round
        // trip. Only when one exists is it read and weighed below.
        match index.claim(&participant, case_id, None).await {
            Ok(_) => return Ok(ClaimOutcome::Ours),
            Err(e) if e.kind() == StoreErrorKind::Conflict => {}
            Err(e) => return Err(e),
        }
        for _ in 0..5 {
            let current = index.current(&participant).await?;
            let previous: Option<Claim> = match current {
                None => None,
                Some(c) if c.case_id == case_id => return Ok(ClaimOutcome::Ours),
                Some(c) => {
                    let other = self.inner.cases.load(&c.case_id, true).await?;
                    if other.state.summary.is_open() {
                        return Ok(ClaimOutcome::OpenElsewhere(c.case_id));
                    }
                    let age = Timestamp::now().as_micros() - c.claimed_at.as_micros();
                    let grace = i64::try_from(self.inner.config.claim_grace.as_micros()).unwrap_or(i64::MAX);
                    if other.state.is_empty() && age < grace {
                        return Ok(ClaimOutcome::InFlight);
                    }
                    Some(c)
                }
            };
            match index.claim(&participant, case_id, previous.as_ref()).await {
                Ok(_) => return Ok(ClaimOutcome::Ours),
                Err(e) if e.kind() == StoreErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(ClaimOutcome::InFlight)
    }
}

fn enrolled_participant(command: &Command) -> Option<ParticipantRef> {
    match command {
        Command::Record { action: Action::Enroll { participant, .. }, .. } => Some(*participant),
        _ => None,
    }
}

fn accepted(case_id: CaseId, event_ids: Vec<EventId>, case: &LoadedCase, duplicate: bool) -> CommandReply {
    let stream_sequence = event_ids.iter().filter_map(|id| case.sequences.get(id)).copied().max().unwrap_or(0);
    // The number as the case holds it now (a correction keeps it).
    let assigned = event_ids
        .first()
        .and_then(|id| case.state.facts.iter().find(|f| &f.event_id == id))
        .and_then(|entry| Assigned::of(&entry.fact));
    CommandReply::Accepted { case_id, event_ids, stream_sequence, duplicate, assigned, registered: None }
}

/// The number a new event hands out (a placement's, a course's).
fn assigned(sealed: &stod_events::SealedEvent) -> Option<Assigned> {
    match &sealed.event.event {
        stod_events::Event::Fact(fact) => Assigned::of(fact),
        _ => None,
    }
}

fn rejected(rejection: Rejection) -> CommandReply {
    CommandReply::Rejected { kind: rejection.kind(), message: rejection.to_string(), valid: rejection.valid_values() }
}
