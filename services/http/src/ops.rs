//! For operators: `/healthz` (can we reach NATS, are the read models built and caught
//! up) and `/metrics` (Prometheus text format).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use stod_protocol::ProjectionStatus;

use crate::AppState;

/// What the health check found.
struct Health {
    nats: bool,
    last_sequence: Option<u64>,
    projections: Result<ProjectionStatus, String>,
}

async fn check(state: &AppState) -> Health {
    let nats = matches!(state.nats().connection_state(), async_nats::connection::State::Connected);
    // The log's end as the projector reads it: this service reaches no stream itself.
    let projections = state.client().projection_status().await.map(|s| s.status).map_err(|e| e.to_string());
    let last_sequence = projections.as_ref().ok().and_then(|s| s.log_end);
    if last_sequence.is_none() {
        tracing::warn!("health: the event log's end is not known (the projector cannot read it or cannot be asked)");
    }
    Health { nats, last_sequence, projections }
}

/// 200 when NATS and the event stream are reachable and the read models are built
/// and not stopped on a fault; 503 otherwise. Lag behind the log is reported (and
/// `caught_up`), but a read model that is a few events behind still serves.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let h = check(&state).await;
    let (projections, healthy_projections) = match &h.projections {
        Ok(s) => {
            let lag = h.last_sequence.map(|last| last.saturating_sub(s.checkpoint));
            let ok = s.generation > 0 && s.fault.is_none();
            (
                json!({
                    "reachable": true,
                    "built": s.generation > 0,
                    "generation": s.generation,
                    "checkpoint": s.checkpoint,
                    "lag_events": lag,
                    "caught_up": lag == Some(0) && s.rebuild.is_none(),
                    "rebuilding": s.rebuild.is_some(),
                    "fault": s.fault,
                }),
                ok,
            )
        }
        Err(e) => (json!({ "reachable": false, "error": e }), false),
    };
    let healthy = h.nats && h.last_sequence.is_some() && healthy_projections;
    let body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "nats": { "connected": h.nats, "stream_last_sequence": h.last_sequence },
        "projections": projections,
    });
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

/// The recorder's metrics (commands by outcome, append and command latency, from the
/// services in this process) plus gauges read at scrape time: the log's last
/// sequence, the read models' position, lag and rebuild progress.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = state.metrics() else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled in this process\n").into_response();
    };
    let h = check(&state).await;
    metrics::gauge!("stod_nats_connected").set(if h.nats { 1.0 } else { 0.0 });
    if let Some(last) = h.last_sequence {
        metrics::gauge!("stod_stream_last_sequence").set(last as f64);
    }
    match &h.projections {
        Ok(s) => {
            metrics::gauge!("stod_projection_up").set(1.0);
            metrics::gauge!("stod_projection_generation").set(s.generation as f64);
            metrics::gauge!("stod_projection_checkpoint").set(s.checkpoint as f64);
            if let Some(last) = h.last_sequence {
                metrics::gauge!("stod_projection_lag_events").set(last.saturating_sub(s.checkpoint) as f64);
            }
            metrics::gauge!("stod_projection_fault").set(if s.fault.is_some() { 1.0 } else { 0.0 });
            let (position, target) = s.rebuild.as_ref().map_or((0, 0), |r| (r.position, r.target));
            metrics::gauge!("stod_projection_rebuild_position").set(position as f64);
            metrics::gauge!("stod_projection_rebuild_target").set(target as f64);
        }
        Err(_) => metrics::gauge!("stod_projection_up").set(0.0),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}
