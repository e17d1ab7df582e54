//! The JSON API: the published read models, as the projector answered them.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use stod_client::Report;
use stod_projections::{Period, PublishedFunder, PublishedSteering, PublishedThroughput};
use stod_protocol::{queries, FunderQuery, SteeringQuery, ThroughputQuery};

use crate::error::ApiError;
use crate::params::{check_meetings, published_today, Params};
use crate::AppState;

/// A report with what it was computed from (the same envelope as over NATS).
#[derive(Serialize)]
pub struct Envelope<T> {
    /// The last event of the log the figures include.
    pub checkpoint: u64,
    /// The read models' generation that answered.
    pub generation: u64,
    pub report: T,
}

impl<T> From<Report<T>> for Envelope<T> {
    fn from(r: Report<T>) -> Self {
        Envelope { checkpoint: r.checkpoint, generation: r.generation, report: r.report }
    }
}

pub(crate) async fn fetch_throughput(
    state: &AppState,
    period: Period,
    today: Option<stod_events::ids::Date>,
) -> Result<Report<PublishedThroughput>, ApiError> {
    let query = ThroughputQuery { period: period.to_string(), today };
    Ok(state.client().report(queries::PUBLISHED_THROUGHPUT, &query).await?)
}

pub(crate) async fn fetch_steering(
    state: &AppState,
    as_of: stod_events::ids::Date,
    previous: Option<stod_events::ids::Date>,
) -> Result<Report<PublishedSteering>, ApiError> {
    check_meetings(as_of, previous)?;
    let query = SteeringQuery { as_of, previous_meeting: previous };
    Ok(state.client().report(queries::PUBLISHED_STEERING, &query).await?)
}

pub(crate) async fn fetch_funder(state: &AppState, period: Period) -> Result<Report<PublishedFunder>, ApiError> {
    let query = FunderQuery { period: period.to_string() };
    Ok(state.client().report(queries::PUBLISHED_FUNDER, &query).await?)
}

/// The year of the last passed month end (in January, the year just ended).
pub(crate) fn this_year() -> Period {
    Period::Year(published_today().year())
}

/// `GET /api/v1/throughput?period=2026&today=2026-06-30` (`today` a passed month end,
/// the last one by default)
pub async fn throughput(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Envelope<PublishedThroughput>>, ApiError> {
    let p = Params::read(q, &["period", "today"])?;
    let period = p.period("period")?.unwrap_or_else(this_year);
    Ok(Json(fetch_throughput(&state, period, p.published_date("today")?).await?.into()))
}

/// `GET /api/v1/steering?as_of=2026-06-30&previous_meeting=2026-03-31` (month ends; `as_of`
/// the last passed one by default)
pub async fn steering(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Envelope<PublishedSteering>>, ApiError> {
    let p = Params::read(q, &["as_of", "previous_meeting"])?;
    let as_of = p.published_date("as_of")?.unwrap_or_else(published_today);
    Ok(Json(fetch_steering(&state, as_of, p.published_date("previous_meeting")?).await?.into()))
}

/// `GET /api/v1/funder?period=2026`
pub async fn funder(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Envelope<PublishedFunder>>, ApiError> {
    let p = Params::read(q, &["period"])?;
    let period = p.period("period")?.unwrap_or_else(this_year);
    Ok(Json(fetch_funder(&state, period).await?.into()))
}

/// `GET /api/v1/funder.csv?period=2026`: a file for Swedish Excel.
pub async fn funder_csv(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = Params::read(q, &["period"])?;
    let period = p.period("period")?.unwrap_or_else(this_year);
    let report = fetch_funder(&state, period).await?;
    let cat = state.catalogue().await;
    let csv = stod_reports::funder::funder_csv(&report.report, &cat).map_err(|e| ApiError::Internal(e.to_string()))?;
    let disposition = format!("attachment; filename=\"uppfoljning-{period}.csv\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        csv,
    )
        .into_response())
}

/// `GET /api/v1/projections/status`
pub async fn projection_status(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::read(q, &[])?;
    Ok(Json(state.client().projection_status().await?.status).into_response())
}

/// `GET /api/openapi.json`
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

/// Anything else: 404, as JSON under `/api/` and as a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    let err = ApiError::NotFound(format!("{} finns inte", uri.path()));
    if uri.path().starts_with("/api/") {
        err.into_response()
    } else {
        err.into_page()
    }
}
