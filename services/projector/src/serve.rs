//! Read-model queries over NATS (queue group `stod-projector`).

use serde::Serialize;
use stod_events::ids::UserId;
use stod_nats_service::{Endpoint, Request, Running, Service, Spec};
use stod_projections::{
    link_corrections, protect_funder, protect_steering, protect_throughput, publication, Caseload, CaseloadQuery,
    Period, SteeringReport, ThroughputReport,
};
use stod_protocol::{
    parse_body, queries, FunderQuery, HistoryQuery, ReportReply, RequestError, SteeringQuery, ThroughputQuery,
    QUERY_PREFIX,
};
use stod_store::{AccessLog, AccessRecord, AccessView};
use tracing::warn;

use crate::runner::{ProjectorOptions, RunningProjector};
use crate::store::Generation;

pub const QUEUE_GROUP: &str = "stod-projector";

/// How this service names itself in access records.
pub const ACCESS_VIA: &str = "projector";

/// A running projector with its queries ([`shutdown`](stod_nats_service::Running::shutdown)
/// stops answering, then stops folding and flushes the store).
pub type ProjectorService = Running<Queries>;

/// The query endpoints: every report, the status and the rebuild.
pub(crate) fn spec(opts: &ProjectorOptions) -> Spec {
    let mut endpoints: Vec<Endpoint> = [
        queries::THROUGHPUT,
        queries::STEERING,
        queries::HISTORY,
        queries::CASELOAD,
        queries::PROJECTION_STATUS,
        queries::PUBLISHED_THROUGHPUT,
        queries::PUBLISHED_STEERING,
        queries::PUBLISHED_FUNDER,
    ]
    .into_iter()
    .map(|name| Endpoint::new(name, format!("{QUERY_PREFIX}.*.{name}")))
    .collect();
    endpoints.push(Endpoint::new(queries::REBUILD, format!("{}.*.{}", queries::OPS_PREFIX, queries::REBUILD)));
    Spec::new(
        "stod-projector",
        "stod: read models (throughput, steering-group status, audit history)",
        QUEUE_GROUP,
        endpoints,
    )
    .with_max_in_flight(opts.max_in_flight)
    .with_replies(opts.replies)
}

/// What answers the projector's queries: the running projector, where case-level
/// queries are recorded, and the answers kept until the read models move.
pub struct Queries {
    projector: RunningProjector,
    /// Where case-level queries (`history`) are recorded before they are answered;
    /// `None` only when the projector was started without an access log.
    access: Option<AccessLog>,
    answers: Answers,
}

impl Queries {
    pub(crate) fn new(projector: RunningProjector, access: Option<AccessLog>) -> Self {
        Self { projector, access, answers: Answers::default() }
    }

    pub fn projector(&self) -> &RunningProjector {
        &self.projector
    }
}

impl Service for Queries {
    async fn handle(&self, request: Request) -> Vec<u8> {
        answer(&self.projector, self.access.as_ref(), &self.answers, &request).await
    }

    fn bad_subject(&self, subject: &str) -> Vec<u8> {
        json(&ReportReply::<()>::Invalid { message: RequestError::Subject(subject.to_owned()).to_string() })
    }

    async fn stopped(&self) {
        self.projector.stop().await;
    }
}

/// Report answers by what they depend on, so that asking again (a dashboard reloaded,
/// several people at a meeting) is answered at once without summing buckets again.
/// Keyed by the query's name and body (not the user: the
/// answer is the same for everyone allowed to ask); emptied when the read models move
/// (another generation or checkpoint) or the date changes, and bounded.
#[derive(Default)]
struct Answers {
    inner: std::sync::Mutex<AnswersInner>,
}

#[derive(Default)]
struct AnswersInner {
    /// Generation, checkpoint and date the cached answers hold for.
    basis: Option<(u64, u64, stod_events::ids::Date)>,
    by_query: std::collections::HashMap<(String, Vec<u8>), Vec<u8>>,
}

const MAX_CACHED_ANSWERS: usize = 256;

impl Answers {
    /// What answers depend on right now; `None` when the read models cannot say.
    fn basis(projector: &RunningProjector) -> Option<(u64, u64, stod_events::ids::Date)> {
        let generation = projector.store().live().ok().flatten()?;
        let checkpoint = generation.checkpoint().ok()?;
        Some((generation.number, checkpoint, stod_events::sweden::today()))
    }

    fn get(&self, basis: (u64, u64, stod_events::ids::Date), name: &str, body: &[u8]) -> Option<Vec<u8>> {
        let inner = self.inner.lock().ok()?;
        if inner.basis != Some(basis) {
            return None;
        }
        inner.by_query.get(&(name.to_owned(), body.to_vec())).cloned()
    }

    /// Keeps a successful answer computed on `basis`.
    fn put(&self, basis: (u64, u64, stod_events::ids::Date), name: &str, body: &[u8], reply: &[u8]) {
        if !reply.starts_with(br#"{"status":"ok""#) {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.basis != Some(basis) || inner.by_query.len() >= MAX_CACHED_ANSWERS {
            inner.by_query.clear();
            inner.basis = Some(basis);
        }
        inner.by_query.insert((name.to_owned(), body.to_vec()), reply.to_vec());
    }
}

async fn answer(
    projector: &RunningProjector,
    access: Option<&AccessLog>,
    answers: &Answers,
    request: &Request,
) -> Vec<u8> {
    let name = request.name.as_str();
    let body = &request.payload[..];
    // Reports only: a case-level query (history) is recorded and read every time.
    let cacheable = matches!(
        name,
        queries::THROUGHPUT
            | queries::STEERING
            | queries::PUBLISHED_THROUGHPUT
            | queries::PUBLISHED_STEERING
            | queries::PUBLISHED_FUNDER
    );
    let basis = cacheable.then(|| Answers::basis(projector)).flatten();
    if let Some(hit) = basis.and_then(|b| answers.get(b, name, body)) {
        return hit;
    }
    let reply = match name {
        queries::THROUGHPUT => json(&report(projector, body, throughput_report)),
        queries::STEERING => json(&report(projector, body, steering_report)),
        // Published figures stand on passed month ends only (`stod_projections::publication`).
        queries::PUBLISHED_THROUGHPUT => json(&report(projector, body, |ctx, q: ThroughputQuery| {
            let today = match q.today {
                Some(day) => publishable("today", day)?,
                None => publication::latest(stod_events::sweden::today()),
            };
            Ok(protect_throughput(
                &throughput_report(ctx, ThroughputQuery { today: Some(today), ..q })?,
                projector.min_count(),
            ))
        })),
        queries::PUBLISHED_STEERING => json(&report(projector, body, |ctx, q: SteeringQuery| {
            publishable("as_of", q.as_of)?;
            if let Some(previous) = q.previous_meeting {
                publishable("previous_meeting", previous)?;
            }
            Ok(protect_steering(&steering_report(ctx, q)?, projector.min_count()))
        })),
        queries::PUBLISHED_FUNDER => json(&report(projector, body, |ctx, q: FunderQuery| {
            let period = parse_period(&q.period)?;
            let known_on = publication::latest(stod_events::sweden::today());
            let report = ctx.model(|m| m.funder(period, known_on))?;
            Ok(protect_funder(&report, projector.min_count()))
        })),
        queries::HISTORY => match record_access(access, &request.user, body).await {
            Err(refused) => json(&refused),
            Ok(()) => json(&report(projector, body, |ctx, q: HistoryQuery| {
                let mut entries = ctx.generation.audit(&q.case_id).map_err(|e| Fault(e.to_string()))?;
                if entries.is_empty() {
                    return Err(Bad(format!("ärendet {} finns inte", q.case_id)));
                }
                link_corrections(&mut entries);
                Ok(entries)
            })),
        },
        queries::CASELOAD => caseload(projector, access, &request.user, body).await,
        queries::PROJECTION_STATUS => {
            let mut status = projector.status();
            status.log_end = projector.log_end().await;
            json(&status)
        }
        queries::REBUILD => match projector.start_rebuild().await {
            Ok(generation) => json(&serde_json::json!({"status": "started", "generation": generation})),
            Err(e) => json(&serde_json::json!({"status": "unavailable", "message": e.to_string()})),
        },
        _ => json(&ReportReply::<()>::Invalid { message: format!("okänd fråga {}", request.subject) }),
    };
    if let Some(basis) = basis {
        answers.put(basis, name, body, &reply);
    }
    reply
}

/// Stores the access record of a `history` query before anything of the case is read,
/// whatever the answer will be (an attempt on a case that is not there is recorded
/// too). A query that names no case is left for [`report`] to call invalid: it shows
/// nothing. When the record cannot be stored, the query is refused.
async fn record_access(access: Option<&AccessLog>, user: &UserId, body: &[u8]) -> Result<(), ReportReply<()>> {
    let Some(log) = access else { return Ok(()) };
    let Ok(query) = parse_body::<HistoryQuery>(body) else {
        return Ok(());
    };
    match log.record(&AccessRecord::new(user.clone(), query.case_id, AccessView::History, ACCESS_VIA)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            warn!(case = %query.case_id, "history query refused: the access log did not store its record: {e}");
            Err(ReportReply::Unavailable {
                message: format!("åtkomstloggen kunde inte skrivas, så ärendet visas inte: {e}"),
            })
        }
    }
}

/// The caseload: made off the async workers (it walks every case), cut to fit one
/// NATS message, and recorded in the access log before it is sent, like any read of
/// case-level facts.
async fn caseload(projector: &RunningProjector, access: Option<&AccessLog>, user: &UserId, body: &[u8]) -> Vec<u8> {
    let unavailable = |message: String| json(&ReportReply::<()>::Unavailable { message });
    let query: CaseloadQuery = match parse_body(body) {
        Ok(q) => q,
        Err(e) => return json(&ReportReply::<()>::Invalid { message: e.to_string() }),
    };
    let generation = match projector.store().live() {
        Ok(Some(g)) => g,
        Ok(None) => return unavailable("läsmodellerna byggs fortfarande; försök igen om en stund".into()),
        Err(e) => return unavailable(e.to_string()),
    };
    let today = query.today.unwrap_or_else(stod_events::sweden::today);
    let g = generation.clone();
    let built = tokio::task::spawn_blocking(move || g.with_model(|s| (s.checkpoint, s.model.caseload(&query, today))));
    let (checkpoint, mut caseload) = match built.await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return unavailable(e.to_string()),
        Err(e) => return unavailable(format!("the caseload panicked: {e}")),
    };
    caseload.fit(Caseload::MAX_JSON_BYTES);
    if let Some(log) = access {
        let only = if caseload.total == 1 { caseload.cases.first().map(|c| c.case_id) } else { None };
        let record = AccessRecord::caseload(user.clone(), caseload.cases.len() as u32, only, ACCESS_VIA);
        if let Err(e) = log.record(&record).await {
            warn!("caseload refused: the access log did not store its record: {e}");
            return unavailable(format!("åtkomstloggen kunde inte skrivas, så ärendelistan visas inte: {e}"));
        }
    }
    json(&ReportReply::Ok { checkpoint, generation: generation.number, report: caseload })
}

/// `day` if a published report may stand on it today.
fn publishable(what: &str, day: stod_events::ids::Date) -> Result<stod_events::ids::Date, QueryError> {
    publication::check(what, day, stod_events::sweden::today()).map_err(|e| Bad(e.0))
}

fn parse_period(period: &str) -> Result<Period, QueryError> {
    period.parse().map_err(|e: stod_projections::period::BadPeriod| Bad(e.to_string()))
}

fn throughput_report(ctx: &QueryCtx, q: ThroughputQuery) -> Result<ThroughputReport, QueryError> {
    let period = parse_period(&q.period)?;
    let today = q.today.unwrap_or_else(stod_events::sweden::today);
    // As things stood on `today`: an earlier `today` leaves out what came after.
    ctx.model(|m| m.throughput(period, today))
}

fn steering_report(ctx: &QueryCtx, q: SteeringQuery) -> Result<SteeringReport, QueryError> {
    if q.previous_meeting.is_some_and(|p| p >= q.as_of) {
        return Err(Bad(format!(
            "föregående möte ({}) måste ligga före {}",
            q.previous_meeting.map(|p| p.to_string()).unwrap_or_default(),
            q.as_of
        )));
    }
    let mut report = ctx.model(|m| m.steering(q.as_of, q.previous_meeting))?;
    let alerts = &mut report.alerts;
    for group in [
        &mut alerts.intake_without_placement,
        &mut alerts.stays_over_12_months,
        &mut alerts.open_placements_without_end,
    ] {
        group.limit_cases();
    }
    Ok(report)
}

/// A query the user got wrong (4xx), or a failure of ours (5xx).
enum QueryError {
    Bad(String),
    Fault(String),
}
use QueryError::{Bad, Fault};

/// What a query reads: the live generation, and the checkpoint its answer includes.
struct QueryCtx {
    generation: Generation,
    checkpoint: std::cell::Cell<u64>,
}

impl QueryCtx {
    /// A report from the generation's model; the answer's checkpoint becomes the model's.
    fn model<T>(&self, read: impl FnOnce(&stod_projections::Model) -> T) -> Result<T, QueryError> {
        let (checkpoint, answer) =
            self.generation.with_model(|s| (s.checkpoint, read(&s.model))).map_err(|e| Fault(e.to_string()))?;
        self.checkpoint.set(checkpoint);
        Ok(answer)
    }
}

fn report<Q: serde::de::DeserializeOwned, T: Serialize>(
    projector: &RunningProjector,
    body: &[u8],
    build: impl FnOnce(&QueryCtx, Q) -> Result<T, QueryError>,
) -> ReportReply<T> {
    let query = match parse_body::<Q>(body) {
        Ok(q) => q,
        Err(e) => return ReportReply::Invalid { message: e.to_string() },
    };
    let generation = match projector.store().live() {
        Ok(Some(g)) => g,
        Ok(None) => {
            return ReportReply::Unavailable {
                message: "läsmodellerna byggs fortfarande; försök igen om en stund".into(),
            }
        }
        Err(e) => return ReportReply::Unavailable { message: e.to_string() },
    };
    // Read before the figures, so it never claims more than they hold; a query that
    // folds case records reports exactly theirs.
    let ctx = QueryCtx { checkpoint: std::cell::Cell::new(generation.checkpoint().unwrap_or(0)), generation };
    match build(&ctx, query) {
        Ok(report) => ReportReply::Ok { checkpoint: ctx.checkpoint.get(), generation: ctx.generation.number, report },
        Err(Bad(message)) => ReportReply::Invalid { message },
        Err(Fault(message)) => ReportReply::Unavailable { message },
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| format!(r#"{{"status":"unavailable","message":"{e}"}}"#).into_bytes())
}
