//! stod's HTTP service: what the steering group, the funder and operators look at.
//!
//! - `/`: the dashboard, in Swedish: the goal, intakes and exits per month, the funnel,
//!   outcomes by SUS group, participants per site, alerts, and the steering group's
//!   status as of a chosen date. Charts are SVG drawn on the server; the page works
//!   without JavaScript.
//! - `/styrgrupp`, `/uppfoljning`: the steering group's report and the funder's
//!   follow-up as printable pages (the same documents `stod report` writes).
//! - `/api/v1/...`: the published read models as JSON (`/api/openapi.json` documents
//!   them), and the funder's follow-up as CSV for Swedish Excel.
//! - `/healthz` and `/metrics` for operators.
//!
//! The service reads the projector's *published* reports over NATS: every count that
//! leaves here has had small counts hidden (`stod_projections::disclosure`). It holds no
//! data of its own and can run anywhere NATS is reachable, as many times as wanted.
//! Case-level views are deliberately not served: they need authenticated roles first.
//!
//! # Layout
//!
//! - [`app`]: the router; tests call it without a socket.
//! - `api`: JSON endpoints; `pages`: the dashboard and printable pages; `ops`: health
//!   and metrics; `params`: reading query strings with errors a person can act on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use stod_client::{Client, RetryPolicy};
use stod_events::ids::UserId;
use stod_events::reference::Catalogue;
use tokio::sync::Mutex;

mod access;
mod api;
pub mod error;
mod layout;
pub mod metrics;
mod ops;
mod pages;
mod params;

pub use access::Access;
pub use error::ApiError;

/// The OpenAPI description of the JSON API, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// How long reference-data names are reused before asking again.
const CATALOGUE_TTL: Duration = Duration::from_secs(30);

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// Who may look, and the users file as last read.
    access: Arc<(Access, access::UsersCache)>,
}

struct Inner {
    /// Asks the projector (reports, status) and the command service (reference data).
    client: Client,
    /// Reads the stream's last sequence for health and lag.
    nats: async_nats::Client,
    /// Renders `/metrics`; `None` where the process installed no recorder.
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Reference-data names, fetched at most every `CATALOGUE_TTL`.
    catalogue: Mutex<Option<(Instant, Arc<Catalogue>)>>,
}

impl AppState {
    /// Queries as `user` on `nats`. A request waits at most a few seconds for the
    /// read models: a person is looking at a page.
    pub fn new(
        nats: async_nats::Client,
        user: UserId,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        let client = Client::from_nats(nats.clone(), user).with_retry(RetryPolicy {
            request_timeout: Duration::from_secs(3),
            retries: 1,
            backoff: Duration::from_millis(200),
        });
        AppState {
            inner: Arc::new(Inner { client, nats, metrics, catalogue: Mutex::new(None) }),
            access: Arc::new((Access::Open, access::UsersCache::default())),
        }
    }

    /// Who may look (default: [`Access::Open`], for tests).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = Arc::new((access, access::UsersCache::default()));
        self
    }

    pub(crate) fn access(&self) -> &Access {
        &self.access.0
    }

    pub(crate) fn users_cache(&self) -> &access::UsersCache {
        &self.access.1
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn nats(&self) -> &async_nats::Client {
        &self.inner.nats
    }

    pub(crate) fn metrics(&self) -> Option<&metrics_exporter_prometheus::PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    /// Names for codes; the shipped defaults if the command service cannot be asked
    /// (a page with a code instead of a name beats no page).
    pub(crate) async fn catalogue(&self) -> Arc<Catalogue> {
        let mut cached = self.inner.catalogue.lock().await;
        if let Some((at, cat)) = cached.as_ref() {
            if at.elapsed() < CATALOGUE_TTL {
                return cat.clone();
            }
        }
        let fetched = match self.inner.client.reference().await {
            Ok((_, file)) => Catalogue::from_file(file).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let cat = match fetched {
            Ok(cat) => Arc::new(cat),
            Err(e) => {
                tracing::warn!("reference data not available, showing the shipped names: {e}");
                return cached.as_ref().map_or_else(|| Arc::new(Catalogue::default_catalogue()), |(_, c)| c.clone());
            }
        };
        *cached = Some((Instant::now(), cat.clone()));
        cat
    }
}

/// How long one request may take before it is answered 408: a person is waiting, and a
/// slow client must not hold a connection open.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The largest request body read (the service takes GET requests; nothing needs more).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every response says to the browser: nothing here may be cached (the figures
/// are about people), framed by another site, sniffed as another type, or load anything
/// from elsewhere. Styles are inline in the page and the SVG charts, nothing else is
/// allowed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn security_headers(router: Router) -> Router {
    use axum::http::{header, HeaderValue};
    use tower_http::set_header::SetResponseHeaderLayer;
    let set = |name, value: &'static str| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    router
        .layer(set(header::CACHE_CONTROL, "no-store"))
        .layer(set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
}

/// The whole HTTP service as a router.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .route("/", get(pages::dashboard))
        .route("/styrgrupp", get(pages::steering))
        .route("/uppfoljning", get(pages::funder))
        .route("/api/v1/throughput", get(api::throughput))
        .route("/api/v1/steering", get(api::steering))
        .route("/api/v1/funder", get(api::funder))
        .route("/api/v1/funder.csv", get(api::funder_csv))
        .route("/api/v1/projections/status", get(api::projection_status))
        .route("/api/openapi.json", get(api::openapi))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::check))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state);
    security_headers(router)
}

/// The certificate and key of HTTPS, as PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// How a running service is stopped.
enum Stopper {
    Plain(tokio::sync::oneshot::Sender<()>),
    Tls(axum_server::Handle<SocketAddr>),
}

/// The service bound to an address, serving until [`RunningHttp::shutdown`].
pub struct RunningHttp {
    pub addr: SocketAddr,
    /// Served over HTTPS.
    pub tls: bool,
    stop: Stopper,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningHttp {
    /// Stops accepting, lets requests in flight finish.
    pub async fn shutdown(self) {
        match self.stop {
            Stopper::Plain(stop) => {
                let _ = stop.send(());
            }
            Stopper::Tls(handle) => handle.graceful_shutdown(Some(REQUEST_TIMEOUT)),
        }
        match self.task.await {
            Ok(Err(e)) => tracing::warn!("HTTP service: {e}"),
            Err(e) => tracing::warn!("HTTP service task: {e}"),
            Ok(Ok(())) => {}
        }
    }
}

/// Binds `addr` (port 0: any free port) and serves `app(state)`.
pub async fn start(addr: SocketAddr, state: AppState) -> std::io::Result<RunningHttp> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningHttp { addr, tls: false, stop: Stopper::Plain(stop), task })
}

/// Binds `addr` and serves `app(state)` over HTTPS with the certificate and key of
/// `tls` (rustls).
pub async fn start_tls(addr: SocketAddr, state: AppState, tls: &TlsFiles) -> std::io::Result<RunningHttp> {
    // Once per process; a second call finds it installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config)?.handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(app(state).into_make_service()).await });
    Ok(RunningHttp { addr, tls: true, stop: Stopper::Tls(handle), task })
}
