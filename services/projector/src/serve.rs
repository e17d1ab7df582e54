//! Read-model queries over NATS (queue group `stod-projector`).

use std::sync::Arc;

use async_nats::service::{Request, ServiceExt};
use futures::StreamExt;
use serde::Serialize;
use stod_projections::{
    funder, link_corrections, protect_funder, protect_steering, protect_throughput, steering, throughput, CaseRecord,
    Period, SteeringReport, ThroughputReport,
};
use stod_protocol::{
    parse_body, parse_subject, queries, FunderQuery, HistoryQuery, ReportReply, SteeringQuery, ThroughputQuery,
    QUERY_PREFIX,
};
use stod_store::{AccessLog, AccessRecord, AccessView};
use tokio::sync::watch;
use tracing::warn;

use crate::runner::RunningProjector;
use crate::store::{Generation, ReadStore};

pub const QUEUE_GROUP: &str = "stod-projector";

/// How this service names itself in access records.
pub const ACCESS_VIA: &str = "projector";

/// The query endpoints, subscribed and confirmed by the server.
pub struct Bound {
    client: async_nats::Client,
    service: async_nats::service::Service,
    endpoints: Vec<async_nats::service::endpoint::Endpoint>,
    /// Where case-level queries (`history`) are recorded before they are answered;
    /// `None` only when the projector was started without an access log.
    access: Option<AccessLog>,
}

/// Subscribes the query endpoints; returns once the server has them, so a query sent
/// after this cannot miss them. With `access`, every `history` query is recorded there
/// before it is answered, and refused when it cannot be.
pub async fn bind(client: &async_nats::Client, access: Option<AccessLog>) -> Result<Bound, String> {
    let service = client
        .service_builder()
        .description("stod: read models (throughput, steering-group status, audit history)")
        .queue_group(QUEUE_GROUP)
        .start("stod-projector", env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| e.to_string())?;
    let mut endpoints = Vec::new();
    for name in [
        queries::THROUGHPUT,
        queries::STEERING,
        queries::HISTORY,
        queries::PROJECTION_STATUS,
        queries::PUBLISHED_THROUGHPUT,
        queries::PUBLISHED_STEERING,
        queries::PUBLISHED_FUNDER,
    ] {
        endpoints.push(
            service
                .endpoint_builder()
                .name(name)
                .add(format!("{QUERY_PREFIX}.*.{name}"))
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    endpoints.push(
        service
            .endpoint_builder()
            .name(queries::REBUILD)
            .add(format!("{}.*.{}", queries::OPS_PREFIX, queries::REBUILD))
            .await
            .map_err(|e| e.to_string())?,
    );
    client.flush().await.map_err(|e| e.to_string())?;
    Ok(Bound { client: client.clone(), service, endpoints, access })
}

/// Report answers by what they depend on, so that asking again (a dashboard reloaded,
/// several people at a meeting) is answered at once: a report folds every case, about
/// half a second at 1M events. Keyed by the query's name and body (not the user: the
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
        Some((generation.number, checkpoint, crate::today_in_sweden()))
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

/// Serves queries until `stop` turns true.
pub async fn serve(
    bound: Bound,
    projector: Arc<RunningProjector>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let Bound { client, service, endpoints, access } = bound;
    let mut requests = futures::stream::select_all(endpoints);
    let answers = Arc::new(Answers::default());
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            next = requests.next() => {
                let Some(request) = next else { break };
                let projector = projector.clone();
                let access = access.clone();
                let answers = answers.clone();
                tokio::spawn(async move { answer(&projector, access.as_ref(), &answers, request).await });
            }
        }
    }
    drop(requests);
    service.stop().await.map_err(|e| e.to_string())?;
    // The server must have the unsubscriptions before we count as stopped.
    client.flush().await.map_err(|e| e.to_string())
}

async fn answer(projector: &RunningProjector, access: Option<&AccessLog>, answers: &Answers, request: Request) {
    let subject = request.message.subject.to_string();
    let body = request.message.payload.clone();
    let name = subject.rsplit('.').next().unwrap_or_default().to_owned();
    // Reports only: a case-level query (history) is recorded and read every time.
    let cacheable = matches!(
        name.as_str(),
        queries::THROUGHPUT
            | queries::STEERING
            | queries::PUBLISHED_THROUGHPUT
            | queries::PUBLISHED_STEERING
            | queries::PUBLISHED_FUNDER
    );
    // Checked against the subject's shape first: a malformed subject is never served
    // from the cache.
    let basis =
        (cacheable && parse_subject(QUERY_PREFIX, &subject).is_ok()).then(|| Answers::basis(projector)).flatten();
    if let Some(hit) = basis.and_then(|b| answers.get(b, &name, &body)) {
        if let Err(e) = request.respond(Ok(hit.into())).await {
            warn!(subject, "could not deliver a reply: {e}");
        }
        return;
    }
    let reply = match name.as_str() {
        queries::THROUGHPUT => json(&report(projector, &subject, &body, throughput_report)),
        queries::STEERING => json(&report(projector, &subject, &body, steering_report)),
        queries::PUBLISHED_THROUGHPUT => json(&report(projector, &subject, &body, |ctx, q| {
            Ok(protect_throughput(&throughput_report(ctx, q)?, projector.min_count()))
        })),
        queries::PUBLISHED_STEERING => json(&report(projector, &subject, &body, |ctx, q| {
            Ok(protect_steering(&steering_report(ctx, q)?, projector.min_count()))
        })),
        queries::PUBLISHED_FUNDER => json(&report(projector, &subject, &body, |ctx, q: FunderQuery| {
            let period = parse_period(&q.period)?;
            let records = ctx.records()?;
            let today = crate::today_in_sweden();
            let journeys: Vec<_> = records.iter().map(|c| c.journey_on(today)).collect();
            Ok(protect_funder(&funder(&journeys, period), projector.min_count()))
        })),
        queries::HISTORY => match record_access(access, &subject, &body).await {
            Err(refused) => json(&refused),
            Ok(()) => json(&report(projector, &subject, &body, |ctx, q: HistoryQuery| {
                let mut entries = ctx.generation.audit(&q.case_id).map_err(|e| Fault(e.to_string()))?;
                if entries.is_empty() {
                    return Err(Bad(format!("ärendet {} finns inte", q.case_id)));
                }
                link_corrections(&mut entries);
                Ok(entries)
            })),
        },
        queries::PROJECTION_STATUS => json(&projector.status()),
        queries::REBUILD => match projector.start_rebuild().await {
            Ok(generation) => json(&serde_json::json!({"status": "started", "generation": generation})),
            Err(e) => json(&serde_json::json!({"status": "unavailable", "message": e.to_string()})),
        },
        _ => json(&ReportReply::<()>::Invalid { message: format!("okänd fråga {subject}") }),
    };
    if let Some(basis) = basis {
        answers.put(basis, &name, &body, &reply);
    }
    if let Err(e) = request.respond(Ok(reply.into())).await {
        warn!(subject, "could not deliver a reply: {e}");
    }
}

/// Stores the access record of a `history` query before anything of the case is read,
/// whatever the answer will be (an attempt on a case that is not there is recorded
/// too). A query that names no case is left for [`report`] to call invalid: it shows
/// nothing. When the record cannot be stored, the query is refused.
async fn record_access(access: Option<&AccessLog>, subject: &str, body: &[u8]) -> Result<(), ReportReply<()>> {
    let Some(log) = access else { return Ok(()) };
    let Ok((user, query)) =
        parse_subject(QUERY_PREFIX, subject).and_then(|p| Ok((p.user, parse_body::<HistoryQuery>(body)?)))
    else {
        return Ok(());
    };
    match log.record(&AccessRecord::new(user, query.case_id, AccessView::History, ACCESS_VIA)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            warn!(case = %query.case_id, "history query refused: the access log did not store its record: {e}");
            Err(ReportReply::Unavailable {
                message: format!("åtkomstloggen kunde inte skrivas, så ärendet visas inte: {e}"),
            })
        }
    }
}

fn parse_period(period: &str) -> Result<Period, QueryError> {
    period.parse().map_err(|e: stod_projections::period::BadPeriod| Bad(e.to_string()))
}

fn throughput_report(ctx: &QueryCtx<'_>, q: ThroughputQuery) -> Result<ThroughputReport, QueryError> {
    let period = parse_period(&q.period)?;
    let records = ctx.records()?;
    let today = q.today.unwrap_or_else(crate::today_in_sweden);
    // As things stood on `today`: an earlier `today` leaves out what came after.
    let journeys: Vec<_> = records.iter().map(|c| c.journey_on(today)).collect();
    Ok(throughput(&journeys, period, today))
}

fn steering_report(ctx: &QueryCtx<'_>, q: SteeringQuery) -> Result<SteeringReport, QueryError> {
    if q.previous_meeting.is_some_and(|p| p >= q.as_of) {
        return Err(Bad(format!(
            "föregående möte ({}) måste ligga före {}",
            q.previous_meeting.map(|p| p.to_string()).unwrap_or_default(),
            q.as_of
        )));
    }
    let records = ctx.records()?;
    let journeys: Vec<_> = records.iter().map(|c| c.journey_on(q.as_of)).collect();
    Ok(steering(&journeys, q.as_of, q.previous_meeting))
}

/// A query the user got wrong (4xx), or a failure of ours (5xx).
enum QueryError {
    Bad(String),
    Fault(String),
}
use QueryError::{Bad, Fault};

/// What a query reads: the live generation, and the checkpoint its answer includes.
struct QueryCtx<'a> {
    store: &'a ReadStore,
    generation: Generation,
    checkpoint: std::cell::Cell<u64>,
}

impl QueryCtx<'_> {
    /// Every case record, and the answer's checkpoint becomes theirs.
    fn records(&self) -> Result<Arc<Vec<CaseRecord>>, QueryError> {
        let (checkpoint, records) = self.store.case_records(&self.generation).map_err(|e| Fault(e.to_string()))?;
        self.checkpoint.set(checkpoint);
        Ok(records)
    }
}

fn report<Q: serde::de::DeserializeOwned, T: Serialize>(
    projector: &RunningProjector,
    subject: &str,
    body: &[u8],
    build: impl FnOnce(&QueryCtx<'_>, Q) -> Result<T, QueryError>,
) -> ReportReply<T> {
    let query = match parse_subject(QUERY_PREFIX, subject).and_then(|_| parse_body::<Q>(body)) {
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
    let ctx = QueryCtx {
        store: projector.store(),
        checkpoint: std::cell::Cell::new(generation.checkpoint().unwrap_or(0)),
        generation,
    };
    match build(&ctx, query) {
        Ok(report) => ReportReply::Ok { checkpoint: ctx.checkpoint.get(), generation: ctx.generation.number, report },
        Err(Bad(message)) => ReportReply::Invalid { message },
        Err(Fault(message)) => ReportReply::Unavailable { message },
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| format!(r#"{{"status":"unavailable","message":"{e}"}}"#).into_bytes())
}
