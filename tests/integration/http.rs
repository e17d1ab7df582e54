//! The HTTP service over a seeded system: real nats-server, command service, projector
//! and sled store; the router called without a socket (axum's `oneshot`) for the API,
//! and over a real socket for headless Chromium.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use stod_events::ids::{Date, UserId};
use stod_projections::{
    fold_all, funder, protect_funder, protect_steering, protect_throughput, steering, throughput, CaseRecord, Period,
};
use stod_tests::{read_log, TestResult, TestSystem};
use tower::ServiceExt;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

/// A system with two years of demo journeys recorded through the command path, the
/// projector caught up, and the HTTP app on it.
struct Seeded {
    system: TestSystem,
    app: axum::Router,
    state: stod_http::AppState,
    last: u64,
}

async fn seeded(participants: u32) -> TestResult<Seeded> {
    // Before the services start, so their commands are counted (as `stod up` does).
    let metrics = stod_http::metrics::install();
    let system = TestSystem::start_with_projector().await?;
    let client = system.client("anna").await?;
    let subs = stod_demo::generate(&stod_demo::DemoParams { participants, years: 2, seed: 5, today: d("2025-12-31") });
    let report = stod_demo::seed(&client, subs.clone(), 8, |_| {}).await?;
    assert_eq!((report.accepted, report.rejected), (subs.len() as u64, 0));
    let last = read_log(&system.nats.js).await?.len() as u64;
    tokio::time::timeout(Duration::from_secs(60), system.projector()?.wait_for(last)).await??;
    let state = stod_http::AppState::new(system.nats.client.clone(), UserId::parse("styrgrupp")?, metrics);
    Ok(Seeded { app: stod_http::app(state.clone()), state, system, last })
}

impl Seeded {
    async fn get(&self, uri: &str) -> TestResult<(StatusCode, String, Vec<u8>)> {
        let response = self.app.clone().oneshot(Request::get(uri).body(Body::empty())?).await?;
        let status = response.status();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), 16 << 20).await?.to_vec();
        Ok((status, content_type, body))
    }

    async fn json(&self, uri: &str) -> TestResult<Value> {
        let (status, content_type, body) = self.get(uri).await?;
        assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
        assert!(content_type.starts_with("application/json"), "{uri}: {content_type}");
        Ok(serde_json::from_slice(&body)?)
    }

    async fn records(&self) -> TestResult<Vec<CaseRecord>> {
        let log = read_log(&self.system.nats.js).await?;
        Ok(fold_all(log.iter().map(|e| (e.stream_sequence, &e.sealed.event))).into_values().collect())
    }

    async fn shutdown(self) {
        self.system.shutdown().await;
    }
}

/// Every integer in a published report that is a count is 0 or at least `min`.
/// The fields listed are not counts of persons (years, the goal, the threshold itself,
/// percentages and medians, which are hidden instead when their base is small).
fn assert_no_small_cell(value: &Value, min: u64, path: &str) {
    const NOT_COUNTS: [&str; 10] = [
        "year",
        "target",
        "forecast",
        "min_count",
        "checkpoint",
        "generation",
        "share_to_employment_percent",
        "share_to_throughput_percent",
        "median_days_to_first_placement",
        "median_days_to_exit",
    ];
    match value {
        Value::Number(n) => {
            let n = n.as_u64().unwrap_or(0);
            assert!(n == 0 || n >= min, "{path} = {n} is a published count below {min}");
        }
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| assert_no_small_cell(v, min, &format!("{path}[{i}]")))
        }
        Value::Object(map) => {
            for (k, v) in map {
                if !NOT_COUNTS.contains(&k.as_str()) {
                    assert_no_small_cell(v, min, &format!("{path}.{k}"));
                }
            }
        }
        _ => {}
    }
}

/// Counts the hidden cells ("<5" and "x") in a published report.
fn hidden_cells(value: &Value) -> usize {
    match value {
        Value::String(s) => usize::from(s == "x" || s.starts_with('<')),
        Value::Array(items) => items.iter().map(hidden_cells).sum(),
        Value::Object(map) => map.values().map(hidden_cells).sum(),
        _ => 0,
    }
}

/// Every JSON endpoint answers with exactly the figures the read models hold (the pure
/// fold of the log, protected with the default threshold), at the log's last event, and
/// no count under 5 leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_serves_the_published_read_models() -> TestResult {
    let s = seeded(30).await?;
    let records = s.records().await?;
    let min = stod_projections::disclosure::DEFAULT_MIN_COUNT;

    let today = d("2025-12-31");
    let journeys: Vec<_> = records.iter().map(|c| c.journey_on(today)).collect();
    for period in ["2025", "2024-Q3", "2025-06"] {
        let got = s.json(&format!("/api/v1/throughput?period={period}&today={today}")).await?;
        let expected = protect_throughput(&throughput(&journeys, period.parse()?, today), min);
        assert_eq!(got["report"], serde_json::to_value(&expected)?, "throughput {period}");
        assert_eq!(got["checkpoint"], s.last, "figures as of the last event");
        assert_no_small_cell(&got["report"], min.into(), "throughput");
    }

    let (as_of, previous) = (d("2025-06-30"), d("2025-03-31"));
    let journeys_then: Vec<_> = records.iter().map(|c| c.journey_on(as_of)).collect();
    let got = s.json(&format!("/api/v1/steering?as_of={as_of}&previous_meeting={previous}")).await?;
    let expected = protect_steering(&steering(&journeys_then, as_of, Some(previous)), min);
    assert_eq!(got["report"], serde_json::to_value(&expected)?);
    assert_no_small_cell(&got["report"], min.into(), "steering");
    let case_ids: Vec<String> = records.iter().map(|r| r.case_id.to_string()).collect();
    let text = got.to_string();
    assert!(case_ids.iter().all(|id| !text.contains(id.as_str())), "no case id in the steering group's report");

    let all: Vec<_> = records.iter().map(CaseRecord::journey).collect();
    let mut any_hidden = 0;
    for period in ["2025", "2024"] {
        let got = s.json(&format!("/api/v1/funder?period={period}")).await?;
        let expected = protect_funder(&funder(&all, period.parse::<Period>()?), min);
        assert_eq!(got["report"], serde_json::to_value(&expected)?, "funder {period}");
        assert_no_small_cell(&got["report"], min.into(), "funder");
        any_hidden += hidden_cells(&got["report"]);
    }
    assert!(any_hidden > 0, "30 participants split by age, support and gender must have small cells to hide");

    let status = s.json("/api/v1/projections/status").await?;
    assert_eq!(status["checkpoint"], s.last);
    assert!(status["generation"].as_u64() >= Some(1));
    assert!(status["fault"].is_null());

    // The OpenAPI description documents exactly the routes served.
    let spec = s.json("/api/openapi.json").await?;
    let mut documented: Vec<&str> =
        spec["paths"].as_object().map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
    documented.sort_unstable();
    let mut served = vec![
        "/",
        "/styrgrupp",
        "/uppfoljning",
        "/api/v1/throughput",
        "/api/v1/steering",
        "/api/v1/funder",
        "/api/v1/funder.csv",
        "/api/v1/projections/status",
        "/api/openapi.json",
        "/healthz",
        "/metrics",
    ];
    served.sort_unstable();
    assert_eq!(documented, served);
    for path in served {
        let (status, ..) = s.get(path).await?;
        assert_eq!(status, StatusCode::OK, "{path} answers");
    }
    s.shutdown().await;
    Ok(())
}

/// Wrong parameters get a 400 that names the parameter and says what is valid; unknown
/// paths a 404. JSON under /api/, a Swedish page elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_get_a_clear_4xx() -> TestResult {
    let s = seeded(6).await?;
    for (uri, names) in [
        ("/api/v1/throughput?period=2025-13", "period"),
        ("/api/v1/throughput?period=last%20year", "period"),
        ("/api/v1/throughput?period=1999", "period"),
        ("/api/v1/throughput?period=2025&today=31/12/2025", "today"),
        ("/api/v1/throughput?year=2025", "year"),
        ("/api/v1/steering?as_of=2025-02-30", "as_of"),
        ("/api/v1/steering?as_of=2025-06-30&previous_meeting=2025-07-01", "2025-07-01"),
        ("/api/v1/steering?as_of=2025-06-30&previous_meeting=2025-06-30", "2025-06-30"),
        // Published figures stand on passed month ends only.
        ("/api/v1/steering?as_of=2025-11-14", "2025-11-14 är inget månadsslut"),
        ("/api/v1/steering?as_of=2025-11-30&previous_meeting=2025-11-13", "2025-11-13 är inget månadsslut"),
        ("/api/v1/throughput?period=2025&today=2025-11-14", "2025-11-14 är inget månadsslut"),
        ("/api/v1/steering?as_of=2199-12-31", "månaden är inte slut"),
        ("/api/v1/funder?period=Q2", "period"),
        ("/api/v1/funder.csv?period=2025-Q5", "period"),
        ("/api/v1/funder?period=2025&format=xlsx", "format"),
    ] {
        let (status, content_type, body) = s.get(uri).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(content_type.starts_with("application/json"), "{uri}: {content_type}");
        let body: Value = serde_json::from_slice(&body)?;
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(names), "{uri}: the error names what was wrong: {body}");
        assert!(body["valid"].as_str().is_some_and(|v| !v.is_empty()), "{uri}: says what is valid: {body}");
    }
    let (status, content_type, body) = s.get("/api/v1/nothing").await?;
    assert_eq!((status, content_type.starts_with("application/json")), (StatusCode::NOT_FOUND, true));
    assert!(String::from_utf8(body)?.contains("/api/v1/nothing"));
    for uri in [
        "/?as_of=igår",
        "/?as_of=2025-11-14",
        "/?year=2025-03",
        "/styrgrupp?as_of=2025-06-30&previous_meeting=2025-09-01",
        "/uppfoljning?period=x",
    ] {
        let (status, content_type, body) = s.get(uri).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(content_type.starts_with("text/html"), "{uri}: {content_type}");
        let page = String::from_utf8(body)?;
        assert!(page.contains("Felaktig förfrågan") && page.contains("Giltigt:"), "{uri}: {page}");
    }
    let (status, content_type, _) = s.get("/finns-inte").await?;
    assert_eq!((status, content_type.starts_with("text/html")), (StatusCode::NOT_FOUND, true));
    s.shutdown().await;
    Ok(())
}

/// The funder's CSV opens in Swedish Excel: BOM, semicolons, Swedish characters intact,
/// and parsed back it holds the same cells as the JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_funder_csv_parses_back_to_the_published_figures() -> TestResult {
    let s = seeded(30).await?;
    let (status, content_type, body) = s.get("/api/v1/funder.csv?period=2025").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(body.starts_with("\u{feff}".as_bytes()), "UTF-8 byte-order mark for Excel");
    let text = std::str::from_utf8(&body[3..])?;
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        ["Period", "Från", "Till", "Tabell", "Kategori", "Kvinnor", "Män", "Annan/vill inte uppge", "Totalt"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    assert!(rows.iter().all(|r| r.len() == header.len()), "every row has every column");
    assert!(rows.iter().all(|r| &r[0] == "2025" && &r[1] == "2025-01-01" && &r[2] == "2025-12-31"));

    let json = s.json("/api/v1/funder?period=2025").await?;
    let report: stod_projections::PublishedFunder = serde_json::from_value(json["report"].clone())?;
    let tables = [
        ("Deltagare efter ålder och kön", &report.participants_by_age),
        ("Nya deltagare efter försörjning vid start", &report.intakes_by_support),
        ("Avslutade efter avslutsanledning (SUS-grupp)", &report.exits_by_sus_group),
        ("Avslutade efter försörjning vid avslut", &report.exits_by_support),
    ];
    for (title, table) in tables {
        let in_csv: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[3] == title).collect();
        assert_eq!(in_csv.len(), table.rows.len() + 1, "{title}: one row per category plus the total");
        for (row, csv_row) in table.rows.iter().zip(&in_csv) {
            let cells: Vec<String> = row.cells.iter().map(ToString::to_string).chain([row.total.to_string()]).collect();
            assert_eq!(csv_row.iter().skip(5).collect::<Vec<_>>(), cells, "{title}");
        }
        let total = in_csv.last().expect("a total row");
        assert_eq!(&total[4], "Totalt");
        let totals: Vec<String> =
            table.column_totals.iter().map(ToString::to_string).chain([table.total.to_string()]).collect();
        assert_eq!(total.iter().skip(5).collect::<Vec<_>>(), totals, "{title} totals");
    }
    assert!(rows.iter().any(|r| r[4].contains("år")), "age bands in Swedish");
    assert!(rows.iter().any(|r| r[4] == *"förvärvsarbete"), "SUS groups in Swedish");
    s.shutdown().await;
    Ok(())
}

/// `/healthz` says ok once the read models hold the log, and 503 when the projector
/// is gone; `/metrics` has commands by outcome, append latency and the read models'
/// position and lag.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_and_metrics_tell_the_operator_what_is_wrong() -> TestResult {
    let s = seeded(8).await?;
    let health = s.json("/healthz").await?;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["projections"]["caught_up"], true, "{health}");
    assert_eq!(health["nats"]["stream_last_sequence"], s.last);

    let (status, _, body) = s.get("/metrics").await?;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body)?;
    let value = |name: &str| -> Option<f64> {
        text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
    };
    // Other tests in this binary may record into the same process-wide recorder, so
    // counts are at least ours.
    let accepted = value("stod_commands_total{outcome=\"accepted\"}").unwrap_or(0.0);
    assert!(accepted >= 1.0, "commands counted:\n{text}");
    assert!(
        value("stod_append_seconds_count").unwrap_or(0.0) >= accepted.min(1.0),
        "append latency histogram:\n{text}"
    );
    assert!(text.contains("stod_append_seconds_bucket{le=\"0.005\"}"), "{text}");
    assert_eq!(value("stod_projection_checkpoint"), Some(s.last as f64), "{text}");
    assert_eq!(value("stod_projection_lag_events"), Some(0.0), "{text}");
    assert_eq!(value("stod_projection_up"), Some(1.0));

    let Seeded { mut system, state, .. } = s;
    system.system.take_projector().ok_or("a projector")?.shutdown().await;
    let app = stod_http::app(state);
    let response = app.oneshot(Request::get("/healthz").body(Body::empty())?).await?;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 20).await?)?;
    assert_eq!(body["projections"]["reachable"], false, "{body}");
    system.shutdown().await;
    Ok(())
}

/// The dashboard in a real browser: headless Chromium loads the page of a seeded
/// system over a real socket; the goal figure and the charts are there, and a
/// screenshot is saved as a test artifact (`target/test-artifacts/dashboard.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_renders_in_headless_chromium() -> TestResult {
    let chromium = std::env::var("STOD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: run `bash scripts/install-chromium` (scripts/test does), or set STOD_CHROMIUM"
    );
    let s = seeded(30).await?;
    let http = stod_http::start("127.0.0.1:0".parse()?, s.state.clone()).await?;
    let url = format!("http://{}/?year=2025&as_of=2025-12-31&previous_meeting=2025-09-30", http.addr);
    let expected = s.json("/api/v1/throughput?period=2025&today=2025-12-31").await?;
    let persons = expected["report"]["goal"]["persons_so_far"].to_string().trim_matches('"').to_owned();

    let profile = tempfile::tempdir()?;
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let screenshot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = |extra: Vec<String>| {
        let mut cmd = tokio::process::Command::new(&chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
        cmd
    };
    let dom = tokio::time::timeout(Duration::from_secs(90), run(vec!["--dump-dom".into()]).output()).await??;
    assert!(dom.status.success(), "chromium --dump-dom: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8(dom.stdout)?;
    let goal = dom.split("id=\"goal-persons\"").nth(1).unwrap_or_default();
    assert!(
        goal.contains(&format!("<div class=\"value\">{persons}</div>")),
        "the goal figure {persons} is shown: {goal:.300}"
    );
    for chart in ["chart-goal", "chart-months", "chart-funnel", "chart-outcomes"] {
        let after = dom.split(&format!("id=\"{chart}\"")).nth(1).unwrap_or_default();
        assert!(
            after.trim_start().trim_start_matches('>').trim_start().starts_with("<svg"),
            "{chart} holds an SVG chart"
        );
    }
    assert!(dom.contains("Styrgruppens läge per 31 december 2025"), "the steering group's status is on the page");

    let shot = tokio::time::timeout(
        Duration::from_secs(90),
        run(vec![format!("--screenshot={}", screenshot.display()), "--window-size=1280,3000".into()]).output(),
    )
    .await??;
    assert!(shot.status.success(), "chromium --screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot)?;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "a real screenshot ({} bytes)", png.len());
    http.shutdown().await;
    s.shutdown().await;
    Ok(())
}

/// With users (as `stod up` runs it): no login is a 401 that asks for one, a wrong
/// token too; the steering group sees the published pages and API, never operations
/// (403), and never a count under 5; the operator sees everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_requires_a_login_and_the_right_role() -> TestResult {
    use base64::Engine as _;
    let s = seeded(30).await?;
    let dir = tempfile::tempdir()?;
    let auth = stod_auth::AuthDir::new(dir.path().join("auth"));
    let styr = auth.add_user(&UserId::parse("styr")?, stod_auth::Role::SteeringGroup)?;
    let drift = auth.add_user(&UserId::parse("drift")?, stod_auth::Role::Operator)?;
    let service = auth.add_user(&UserId::parse("stod-http")?, stod_auth::Role::Http)?;
    let app = stod_http::app(s.state.clone().with_access(stod_http::Access::Users(auth)));
    let basic = |user: &str, token: &str| {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}")))
    };
    let get = |uri: &str, login: Option<String>| {
        let app = app.clone();
        let mut request = Request::get(uri);
        if let Some(login) = login {
            request = request.header("authorization", login);
        }
        let request = request.body(Body::empty());
        async move {
            let response = app.oneshot(request?).await?;
            let status = response.status();
            let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or("").to_owned());
            let body = axum::body::to_bytes(response.into_body(), 16 << 20).await?.to_vec();
            TestResult::Ok((status, challenge, body))
        }
    };
    let pages = [
        "/",
        "/styrgrupp?as_of=2025-12-31",
        "/uppfoljning?period=2025",
        "/api/v1/throughput?period=2025",
        "/api/v1/steering?as_of=2025-12-31",
        "/api/v1/funder?period=2025",
        "/api/v1/funder.csv?period=2025",
    ];
    let operations = ["/healthz", "/metrics", "/api/v1/projections/status"];
    for uri in pages.iter().chain(&operations) {
        let (status, challenge, _) = get(uri, None).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} without a login");
        assert!(challenge.is_some_and(|c| c.starts_with("Basic")), "{uri} asks for a login");
        let (status, ..) = get(uri, Some(basic("styr", "not-the-token"))).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} with a wrong token");
        let (status, ..) = get(uri, Some(basic("stod-http", &service.http_token))).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: a service's user does not log in here");
        let (status, ..) = get(uri, Some(basic("drift", &drift.http_token))).await?;
        assert_eq!(status, StatusCode::OK, "{uri} for the operator");
    }
    for uri in operations {
        let (status, _, body) = get(uri, Some(basic("styr", &styr.http_token))).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri} is not for the steering group");
        assert!(String::from_utf8(body)?.contains("drift"), "{uri}: the 403 says who may");
    }
    for uri in pages {
        let (status, _, body) = get(uri, Some(basic("styr", &styr.http_token))).await?;
        assert_eq!(status, StatusCode::OK, "{uri} for the steering group");
        if uri.starts_with("/api/v1/") && !uri.contains(".csv") {
            let value: Value = serde_json::from_slice(&body)?;
            assert_no_small_cell(&value["report"], 5, uri);
        }
    }
    s.shutdown().await;
    Ok(())
}

/// Every response forbids caching, framing, sniffing and loading anything from
/// elsewhere; a request body over the limit is refused before it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn responses_carry_the_security_headers_and_bodies_are_limited() -> TestResult {
    let s = seeded(6).await?;
    for uri in ["/", "/api/v1/throughput?period=2025", "/finns-inte", "/healthz"] {
        let response = s.app.clone().oneshot(Request::get(uri).body(Body::empty())?).await?;
        let h = response.headers();
        let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(header("cache-control"), "no-store", "{uri}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{uri}");
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
    }
    let big = vec![b'x'; stod_http::MAX_BODY_BYTES + 1];
    let request =
        Request::get("/api/v1/throughput?period=2025").header("content-length", big.len()).body(Body::from(big))?;
    let response = s.app.clone().oneshot(request).await?;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    s.shutdown().await;
    Ok(())
}

/// HTTPS from a certificate and key in PEM files, fetched by a client that trusts
/// only that certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_is_served_over_tls_from_pem_files() -> TestResult {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let s = seeded(6).await?;
    let dir = tempfile::tempdir()?;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.key_pair.serialize_pem())?;
    let tls = stod_http::TlsFiles { cert, key };
    let http = stod_http::start_tls("127.0.0.1:0".parse()?, s.state.clone(), &tls).await?;
    assert!(http.tls);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone())?;
    let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(http.addr).await?;
    let mut stream = connector.connect(rustls::pki_types::ServerName::try_from("localhost")?, tcp).await?;
    stream
        .write_all(b"GET /api/v1/throughput?period=2025 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer:.300}");
    assert!(answer.contains("cache-control: no-store"), "{answer:.2000}");
    assert!(answer.contains(&format!("\"checkpoint\":{}", s.last)) && answer.contains("\"report\":"), "{answer:.2000}");
    // Plain HTTP on the TLS port gets nothing useful.
    let mut plain = tokio::net::TcpStream::connect(http.addr).await?;
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await?;
    let mut buf = vec![0; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut buf)).await??;
    assert!(!String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    http.shutdown().await;
    s.shutdown().await;
    Ok(())
}
