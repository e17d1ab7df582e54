//! The real `stod` binary against a real nats-server, the command service and the
//! projector.
//!
//! Each test starts its own nats-server (free port, own store dir) and the command
//! service in-process (with the projector when it reads reports), then runs the binary
//! with `--nats-url`, `--user` and `--json`. Tests assert on exit codes and JSON, never
//! on Swedish wording.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use stod_command::ServiceOptions;
use stod_events::ids::Date;
use stod_nats_server::NatsServer;
use stod_projector::ProjectorOptions;
use stod_system::{Nats, RegistryKeySource, System};

const USER: &str = "anna";

/// One nats-server with the command service on it, and the registry and the
/// projector if asked for, started as `stod up` starts them (`stod-system`).
struct Stack {
    /// Kept alive for the test; dropping it kills the server and removes its data.
    _server: NatsServer,
    system: Option<System>,
    /// The projector's store; removed on drop.
    _projections: Option<tempfile::TempDir>,
    client: async_nats::Client,
    url: String,
}

impl Stack {
    async fn build(registry: bool, projector: bool) -> Self {
        let server = NatsServer::ephemeral().await.expect("nats-server starts");
        let url = server.url();
        let client = async_nats::connect(&url).await.expect("connect");
        let mut builder =
            System::builder(Nats::Existing { url: url.clone(), credentials: None }).command(ServiceOptions::default());
        if registry {
            let key = stod_registry::RegistryKey::generate().expect("random key");
            builder = builder.registry(RegistryKeySource::Key(key));
        }
        let projections = projector.then(|| tempfile::tempdir().expect("tempdir"));
        if let Some(dir) = &projections {
            builder = builder.projector(ProjectorOptions::new(dir.path().join("projections")));
        }
        let system = builder.start().await.expect("the system starts");
        Self { _server: server, system: Some(system), _projections: projections, client, url }
    }

    async fn start() -> Self {
        Self::build(false, false).await
    }

    /// The stack with the participant registry in-process too.
    async fn with_registry() -> Self {
        Self::build(true, false).await
    }

    /// The stack with the projector (read models) in-process too.
    async fn with_projector() -> Self {
        Self::build(false, true).await
    }

    /// `stod <args> --nats-url <url> --user anna --json`.
    async fn stod(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--nats-url", &self.url, "--user", USER, "--json"]);
        run(&all, &[]).await
    }

    /// `stod <args> --nats-url <url> --user anna`, for people.
    async fn stod_text(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--nats-url", &self.url, "--user", USER]);
        run(&all, &[]).await
    }

    /// Waits until the read models hold every event in the log.
    async fn caught_up(&self) -> u64 {
        let js = async_nats::jetstream::new(self.client.clone());
        let mut stream = js.get_stream(stod_store::STREAM_NAME).await.expect("stream");
        let end = stream.info().await.expect("stream info").state.last_sequence;
        let system = self.system.as_ref().expect("running");
        let projector = system.projector().expect("a stack with a projector").projector();
        tokio::time::timeout(Duration::from_secs(20), projector.wait_for(end))
            .await
            .expect("the read models catch up")
            .expect("projector running");
        end
    }

    /// Asks the projector directly, as any NATS client would.
    async fn ask(&self, subject: &str, body: Value) -> Value {
        let reply = stod_client::request_as_subject_user(
            &self.client,
            subject,
            body.to_string().into_bytes(),
            Duration::from_secs(10),
        )
        .await
        .expect("projector answers");
        serde_json::from_slice(&reply.payload).expect("JSON reply")
    }

    async fn stop(mut self) {
        if let Some(system) = self.system.take() {
            system.shutdown().await;
        }
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The single JSON value on stdout.
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:?}"))
    }

    fn ok(self) -> Value {
        assert_eq!(self.code, 0, "{self:?}");
        self.json()
    }
}

/// Runs the binary with a clean environment for stod's own variables.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stod"));
    cmd.args(args)
        .env_remove("STOD_USER")
        .env_remove("STOD_NATS_URL")
        .env("STOD_CLIENT_RETRIES", "2")
        .env("STOD_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("stod runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A business date `n` days before today in Sweden.
fn days_ago(n: i64) -> String {
    let today = stod_events::sweden::today();
    Date::new(today.naive() - chrono::Duration::days(n)).to_string()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// A new consented intake; returns (case id, participant).
async fn intake(stack: &Stack, date: &str) -> (String, String) {
    let reply = stack
        .stod(&[
            "intake",
            "--date",
            date,
            "--gender",
            "kvinna",
            "--municipality",
            "2084",
            "--referrer",
            "af",
            "--support",
            "forsorjningsstod",
            "--birth-year",
            "1990",
        ])
        .await
        .ok();
    assert_eq!(reply["status"], "accepted");
    (str_of(&reply, "case_id").to_owned(), str_of(&reply, "participant").to_owned())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_journey_is_recorded_in_order_by_the_user() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(30)).await;
    let c = case.as_str();

    let placed = stack
        .stod(&[
            "place",
            "--case",
            c,
            "--date",
            &days_ago(29),
            "--site",
            "industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "20",
        ])
        .await
        .ok();
    assert_eq!(placed["placement"], 1);
    let started = stack
        .stod(&[
            "training",
            "start",
            "--case",
            c,
            "--date",
            &days_ago(28),
            "--course",
            "sfi",
            "--provider",
            "vbu-komvux",
        ])
        .await
        .ok();
    assert_eq!(started["training"], 1);
    stack
        .stod(&[
            "training",
            "complete",
            "--case",
            c,
            "--date",
            &days_ago(10),
            "--training",
            "1",
            "--hours",
            "40",
            "--credential",
        ])
        .await
        .ok();
    stack
        .stod(&[
            "assess",
            "--case",
            c,
            "--date",
            &days_ago(9),
            "--instrument",
            "work-star",
            "--assessor",
            "gemensam",
            "--score",
            "motivation=6",
            "--score",
            "stability=4",
        ])
        .await
        .ok();
    stack
        .stod(&["end-placement", "--case", c, "--date", &days_ago(5), "--placement", "1", "--reason", "anstallning"])
        .await
        .ok();
    stack
        .stod(&["exit", "--case", c, "--date", &days_ago(4), "--outcome", "anstallning", "--support", "lon"])
        .await
        .ok();
    stack.stod(&["follow-up", "--case", c, "--date", &days_ago(0), "--months", "3", "--status", "anstalld"]).await.ok();

    let view = stack.stod(&["case", "show", c]).await.ok();
    let events = view["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().map(|e| str_of(e, "type")).collect();
    assert_eq!(
        types,
        [
            "enrolled",
            "placement_started",
            "training_started",
            "training_completed",
            "progress_assessed",
            "placement_ended",
            "exited",
            "followed_up"
        ]
    );
    assert!(events.iter().all(|e| e["recorded_by"] == USER));
    let sequences: Vec<u64> = events.iter().map(|e| e["stream_sequence"].as_u64().expect("seq")).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    assert_eq!(view["open"], false);

    // The human form works too.
    let human = run(&["case", "show", c, "--nats-url", &stack.url, "--user", USER], &[]).await;
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.lines().count() > 8, "{human:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_site_is_rejected_with_the_valid_sites() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(3)).await;
    let run = stack
        .stod(&[
            "place",
            "--case",
            &case,
            "--date",
            &days_ago(2),
            "--site",
            "vaderbaken",
            "--work-area",
            "montering",
            "--hours",
            "20",
        ])
        .await;
    assert_eq!(run.code, 3, "{run:?}");
    let reply = run.json();
    assert_eq!(reply["status"], "rejected");
    assert_eq!(reply["kind"], "unknown_code");
    let valid: Vec<&str> = reply["valid"].as_array().expect("valid").iter().filter_map(Value::as_str).collect();
    assert!(valid.contains(&"vaderbacken") && valid.contains(&"industrisparet"), "{valid:?}");
    assert!(!run.stderr.trim().is_empty());

    // Nothing was recorded.
    let view = stack.stod(&["case", "show", &case]).await.ok();
    assert_eq!(view["events"].as_array().map(Vec::len), Some(1));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_malformed_user_is_a_usage_error() {
    // No server needed: the user is checked before connecting.
    let no_user =
        run(&["case", "show", "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e", "--nats-url", "nats://127.0.0.1:1"], &[]).await;
    assert_eq!(no_user.code, 2, "{no_user:?}");
    assert!(!no_user.stderr.trim().is_empty());
    let bad_user = run(&["case", "show", "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e", "--user", "Anna Svensson"], &[]).await;
    assert_eq!(bad_user.code, 2, "{bad_user:?}");
    let no_date = run(
        &[
            "place",
            "--case",
            "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e",
            "--site",
            "x",
            "--work-area",
            "y",
            "--hours",
            "1",
            "--user",
            "anna",
        ],
        &[],
    )
    .await;
    assert_eq!(no_date.code, 2, "{no_date:?}");
}

/// A dashboard other machines can reach is served over TLS, or the operator says in so
/// many words that a proxy in front does it; refused before anything starts.
#[tokio::test(flavor = "multi_thread")]
async fn a_reachable_dashboard_without_tls_is_refused() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port().to_string();
    let open = run(&["up", "--data", path(data.path()), "--port", &port, "--http", "0.0.0.0:0"], &[]).await;
    assert_eq!(open.code, 2, "{open:?}");
    assert!(open.stderr.contains("--tls-cert") && open.stderr.contains("--http-insecure"), "{open:?}");
    assert!(!data.path().join("nats").exists(), "no server was started: {open:?}");
    let half = run(&["up", "--data", path(data.path()), "--port", &port, "--tls-cert", "cert.pem"], &[]).await;
    assert_eq!(half.code, 2, "a certificate without its key: {half:?}");
    assert!(half.stderr.contains("--tls-key"), "{half:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_nats_exits_5_quickly() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let run = run(
        &["case", "show", "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e", "--nats-url", &url, "--user", USER, "--json"],
        &[("STOD_CLIENT_RETRIES", "0")],
    )
    .await;
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(run.json()["status"], "unavailable");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

/// `--nats-url` takes the nodes of a cluster, comma-separated; one of them down is fine.
#[tokio::test(flavor = "multi_thread")]
async fn several_nats_urls_are_accepted() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(3)).await;
    let urls = format!("nats://127.0.0.1:{},{}", free_port(), stack.url);
    let view = run(&["case", "show", &case, "--nats-url", &urls, "--user", USER, "--json"], &[]).await;
    assert_eq!(view.code, 0, "{view:?}");
    assert_eq!(view.json()["events"].as_array().map(Vec::len), Some(1));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correction_with_set_changes_the_site() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(10)).await;
    stack
        .stod(&[
            "place",
            "--case",
            &case,
            "--date",
            &days_ago(9),
            "--site",
            "atervinningsbutiken",
            "--work-area",
            "butik",
            "--hours",
            "15",
        ])
        .await
        .ok();
    let view = stack.stod(&["case", "show", &case]).await.ok();
    let placement = str_of(&view["events"][1], "event_id").to_owned();

    let bad = stack
        .stod(&[
            "correct",
            "--case",
            &case,
            "--event",
            &placement,
            "--reason",
            "felregistrering",
            "--set",
            "sajt=vaderbacken",
        ])
        .await;
    assert_eq!(bad.code, 2, "{bad:?}");

    let fixed = stack
        .stod(&[
            "correct",
            "--case",
            &case,
            "--event",
            &placement,
            "--reason",
            "felregistrering",
            "--set",
            "site=vaderbacken",
        ])
        .await
        .ok();
    assert_eq!(fixed["status"], "accepted");

    let view = stack.stod(&["case", "show", &case]).await.ok();
    let events = view["events"].as_array().expect("events");
    assert_eq!(events.len(), 3);
    let correction = &events[2];
    assert_eq!(correction["type"], "corrected");
    assert_eq!(correction["corrects"].as_str(), Some(placement.as_str()));
    assert_eq!(correction["reason"], "entry_error");
    assert_eq!(correction["fact"]["site"], "vaderbacken");
    assert_eq!(correction["fact"]["work_area"], "butik");
    assert_eq!(correction["occurred_on"].as_str(), Some(days_ago(9).as_str()));

    // Correcting again to the same content changes nothing and is refused.
    let again = stack
        .stod(&[
            "correct",
            "--case",
            &case,
            "--event",
            &placement,
            "--reason",
            "felregistrering",
            "--set",
            "site=vaderbacken",
        ])
        .await;
    assert_eq!(again.code, 3, "{again:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_show_lists_the_default_sites() {
    let stack = Stack::start().await;
    let reply = stack.stod(&["reference", "show"]).await.ok();
    assert!(reply["fingerprint"].as_str().is_some_and(|f| f.len() == 64));
    let sites: Vec<&str> =
        reply["catalogue"]["sites"].as_array().expect("sites").iter().map(|s| str_of(s, "code")).collect();
    assert!(sites.contains(&"industrisparet"), "{sites:?}");
    let only_sites = stack.stod(&["reference", "show", "--kind", "site"]).await.ok();
    assert_eq!(only_sites["catalogue"]["sites"], reply["catalogue"]["sites"]);
    assert_eq!(only_sites["catalogue"]["courses"].as_array().map(Vec::len), Some(0));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_load_adds_a_site_that_place_accepts() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (case, _) = intake(&stack, &days_ago(5)).await;
    let place = |site: &'static str| {
        let case = case.clone();
        let stack = &stack;
        async move {
            stack
                .stod(&[
                    "place",
                    "--case",
                    &case,
                    "--date",
                    &days_ago(4),
                    "--site",
                    site,
                    "--work-area",
                    "montering",
                    "--hours",
                    "10",
                ])
                .await
        }
    };
    assert_eq!(place("ny-verkstad").await.code, 3);

    let good = dir.path().join("sites.toml");
    std::fs::write(&good, "[[sites]]\ncode = \"ny-verkstad\"\nname = \"Nya verkstaden\"\n").expect("write");
    let loaded = stack.stod(&["reference", "load", path(&good)]).await.ok();
    assert_eq!(loaded["status"], "loaded");
    assert_eq!(loaded["in_force"], true, "{loaded}");
    let fingerprint = str_of(&loaded, "fingerprint").to_owned();
    assert_eq!(place("ny-verkstad").await.ok()["status"], "accepted");

    // A bad file is refused whole: the catalogue stays as it was.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[sites]]\ncode = \"another\"\nname = \"Another\"\n[[sites]]\ncode = \"Bad Code\"\nname = \"x\"\n",
    )
    .expect("write");
    let refused = stack.stod(&["reference", "load", path(&bad)]).await;
    assert_eq!(refused.code, 6, "{refused:?}");
    let scale = dir.path().join("scale.toml");
    std::fs::write(
        &scale,
        "[[instruments]]\ncode = \"work-star\"\nname = \"W\"\nscale_min = 0\nscale_max = 5\nareas = [{ code = \"a\", name = \"A\" }]\n",
    )
    .expect("write");
    assert_eq!(stack.stod(&["reference", "load", path(&scale)]).await.code, 6);
    let now = stack.stod(&["reference", "show"]).await.ok();
    assert_eq!(str_of(&now, "fingerprint"), fingerprint);
    stack.stop().await;
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resent_submission_is_recorded_once() {
    let stack = Stack::start().await;
    let case = "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e";
    let args = [
        "intake",
        "--date",
        &days_ago(1),
        "--gender",
        "man",
        "--anonymous",
        "skyddad-identitet",
        "--case",
        case,
        "--participant",
        "0195b8a2-7c4e-7d31-9a56-000000000001",
        "--submission",
        "0195b8a2-7c4e-7d31-9a56-000000000002",
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = stack.stod(&args).await.ok();
    let second = stack.stod(&args).await.ok();
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_eq!(first["event_ids"], second["event_ids"]);
    let view = stack.stod(&["case", "show", case]).await.ok();
    assert_eq!(view["events"].as_array().map(Vec::len), Some(1));

    let missing = stack.stod(&["case", "show", "0195b8a2-7c4e-7d31-9a56-00000000dead"]).await;
    assert_eq!(missing.code, 7, "{missing:?}");
    assert_eq!(missing.json()["status"], "not_found");
    stack.stop().await;
}

/// A running `stod up` or `stod projector`, its JSON lines arriving on a channel.
struct Up {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Up {
    /// `stod up --demo` in `root/data` on a free port, once its figures are shown: the
    /// running system, its data dir, its NATS URL and the demo's accepted submissions.
    fn with_demo(root: &Path) -> (Self, std::path::PathBuf, String, u64) {
        let data = root.join("data");
        let port = free_port();
        let up = Self::start(&data, port);
        up.expect("ready", Duration::from_secs(30));
        let events = up.expect("demo", Duration::from_secs(60))["accepted"].as_u64().expect("accepted");
        up.expect("figures", Duration::from_secs(60));
        (up, data, format!("nats://127.0.0.1:{port}"), events)
    }

    fn start(data: &Path, port: u16) -> Self {
        // Any free port for the dashboard: tests run beside each other and other programs.
        Self::spawn(&[
            "up",
            "--demo",
            "--json",
            "--data",
            path(data),
            "--port",
            &port.to_string(),
            "--http",
            "127.0.0.1:0",
        ])
    }

    fn spawn(args: &[&str]) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stod"))
            .args(args)
            .env_remove("STOD_NATS_URL")
            .env_remove("STOD_USER")
            .env("STOD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("stod up starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next JSON line, which must have this status.
    fn expect(&self, status: &str, within: Duration) -> Value {
        let line = self.lines.recv_timeout(within).unwrap_or_else(|e| panic!("no {status:?} line from stod up: {e}"));
        assert_eq!(line["status"], status, "{line}");
        line
    }

    /// SIGTERM, then the exit code, which must come within a few seconds.
    fn terminate(mut self) -> i32 {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own, not yet reaped child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let stopped = self.lines.recv_timeout(Duration::from_secs(1)).ok();
                assert_eq!(stopped.map(|v| v["status"].clone()), Some(Value::from("stopped")));
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "stod up did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // Only reached on a failed test: leave no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_demo_records_once_shows_figures_and_stops_on_sigterm() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");

    let up = Up::start(data.path(), port);
    let ready = up.expect("ready", Duration::from_secs(30));
    assert_eq!(ready["nats_url"].as_str(), Some(url.as_str()));
    assert_eq!(ready["managed"], true);
    assert!(ready["projections_dir"].as_str().is_some_and(|d| d.ends_with("projections")), "{ready}");
    let demo = up.expect("demo", Duration::from_secs(60));
    assert_eq!(demo["recorded"], true);
    assert_eq!(demo["rejected"], 0, "{demo}");
    let events = demo["accepted"].as_u64().expect("accepted");
    let cases: Vec<String> =
        demo["cases"].as_array().expect("cases").iter().map(|c| str_of_value(c).to_owned()).collect();
    assert_eq!(cases.len(), 40, "{demo}");
    assert!(events >= 200, "{demo}");

    // Then this year's figures, from the read models holding the whole demo.
    let figures = up.expect("figures", Duration::from_secs(60));
    assert_eq!(figures["checkpoint"].as_u64(), Some(events));
    let this_year = stod_events::sweden::today().year();
    assert_eq!(figures["report"]["period"].as_str(), Some(this_year.to_string().as_str()));
    assert!(figures["report"]["persons"].as_u64().is_some_and(|n| n > 0), "{figures}");

    // Secure by default: the managed server lets no anonymous client in.
    assert!(async_nats::connect(&url).await.is_err(), "anonymous access refused");
    let operator = ready["operator_credentials"].as_str().expect("the operator's credentials").to_owned();
    assert!(ready["dashboard"].as_str().is_some_and(|d| d.starts_with("http://127.0.0.1:")), "{ready}");
    assert!(Path::new(&operator).exists(), "{ready}");

    // The operator adds people; each gets only their role's rights, from the server.
    let env = [("STOD_NATS_URL", url.as_str())];
    let handed = tempfile::tempdir().expect("tempdir");
    let out = |name: &str| handed.path().join(format!("{name}.creds")).display().to_string();
    let added = run(
        &[
            "user",
            "add",
            "granskare",
            "--role",
            "revisor",
            "--data",
            path(data.path()),
            "--out",
            &out("granskare"),
            "--json",
        ],
        &env,
    )
    .await;
    assert_eq!(added.code, 0, "{added:?}");
    let added = added.json();
    assert_eq!(added["server_reloaded"], true, "{added}");
    assert!(
        !data.path().join("auth/credentials/granskare.creds").exists(),
        "a person's credentials are handed over, not kept on the server"
    );
    let anna = run(
        &["user", "add", "anna", "--role", "handlaggare", "--data", path(data.path()), "--out", &out("anna"), "--json"],
        &env,
    )
    .await
    .json();
    let anna_creds = anna["credentials"].as_str().expect("creds").to_owned();
    let as_anna = [("STOD_NATS_URL", url.as_str()), ("STOD_CREDENTIALS", anna_creds.as_str())];
    let retract = run(
        &[
            "retract",
            "--case",
            &cases[0],
            "--event",
            "0195b8a2-7c4e-7d31-9a56-00000000beef",
            "--reason",
            "dubblett",
            "--json",
        ],
        &as_anna,
    )
    .await;
    assert_eq!(retract.code, 9, "a case worker may not retract: {retract:?}");
    assert_eq!(retract.json()["status"], "forbidden");
    let as_other = run(&["case", "show", &cases[0], "--user", "bo", "--json"], &as_anna).await;
    assert_eq!(as_other.code, 2, "--user cannot override the credentials: {as_other:?}");
    let shown = run(&["case", "show", &cases[0], "--json"], &as_anna).await;
    assert_eq!(shown.code, 0, "{shown:?}");

    // The demo went through the command path: the log has it, case by case (read as
    // the auditor just added).
    let creds = stod_auth::Credentials::load(Path::new(added["credentials"].as_str().expect("creds"))).expect("creds");
    let client =
        stod_client::ConnectOptions::new(&url).credentials(creds).connect().await.expect("connect as the auditor");
    let mut recorded = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for case in &cases {
        let view = poll(|| client.case(case.parse().expect("case id"))).await;
        recorded += view.events.len();
        kinds.extend(view.events.into_iter().map(|e| e.event_type));
    }
    assert_eq!(recorded as u64, events);
    for expected in ["enrolled", "placement_started", "training_started", "progress_assessed", "exited", "corrected"] {
        assert!(kinds.contains(expected), "demo has no {expected}: {kinds:?}");
    }
    assert_eq!(up.terminate(), 0);

    // Everything `stod up` wrote is its user's alone (umask 077): the managed server's
    // store, the users, the keys, the read models.
    let mut loose = Vec::new();
    let mut dirs = vec![data.path().to_owned()];
    let mut seen = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            seen += 1;
            if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0 {
                loose.push(entry.path());
            }
            if meta.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    assert!(seen > 10 && loose.is_empty(), "{seen} entries; readable by others: {loose:?}");

    // The seeder, who may record in the demo workers' names, is gone with the demo.
    let users = run(&["user", "list", "--data", path(data.path()), "--json"], &[]).await.ok();
    let names: Vec<&str> =
        users["users"].as_array().expect("users").iter().filter_map(|u| u["user"].as_str()).collect();
    assert!(!names.contains(&"demo") && names.contains(&"anna"), "{users}");

    // Again on the same data: demo data goes into an empty log only.
    let again =
        run(&["up", "--demo", "--json", "--data", path(data.path()), "--port", &port.to_string(), "--no-http"], &[])
            .await;
    assert_eq!(again.code, 2, "--demo on a log with events is refused: {again:?}");
    assert_eq!(again.json()["status"], "usage");
    // Without --demo it starts, and the operator's token is not shown again.
    let up =
        Up::spawn(&["up", "--json", "--data", path(data.path()), "--port", &port.to_string(), "--http", "127.0.0.1:0"]);
    up.expect("ready", Duration::from_secs(30));
    assert_eq!(up.terminate(), 0);
}

/// The demo of the report tests: fixed dates, so the figures are the same every day.
const DEMO: [&str; 9] = ["demo", "seed", "--participants", "20", "--years", "2", "--seed", "11", "--today"];
const DEMO_TODAY: &str = "2025-12-31";

async fn seed_demo(stack: &Stack) -> Value {
    let args = [&DEMO[..], &[DEMO_TODAY]].concat();
    stack.stod(&args).await.ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_from_a_seeded_demo_are_the_projectors_answers() {
    let stack = Stack::with_projector().await;
    let seeded = seed_demo(&stack).await;
    assert_eq!(seeded["status"], "seeded");
    assert_eq!(seeded["rejected"], 0, "{seeded}");
    assert!(seeded["accepted"].as_u64().is_some_and(|n| n > 20), "{seeded}");
    let end = stack.caught_up().await;

    // Throughput: exactly what the projector answers anyone who asks.
    let cli = stack.stod(&["report", "throughput", "--year", "2025", "--today", DEMO_TODAY]).await.ok();
    let direct =
        stack.ask("stod.query.anna.throughput", serde_json::json!({"period": "2025", "today": DEMO_TODAY})).await;
    assert_eq!(cli, direct);
    assert_eq!(cli["status"], "ok");
    assert_eq!(cli["checkpoint"].as_u64(), Some(end));
    let quarter = stack.stod(&["report", "throughput", "--quarter", "2025-Q2", "--today", DEMO_TODAY]).await.ok();
    assert_eq!(quarter["report"]["months"].as_array().map(Vec::len), Some(3));
    let human = stack.stod_text(&["report", "throughput", "--month", "2025-03", "--today", DEMO_TODAY]).await;
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.lines().count() > 30, "{human:?}");

    // The steering group's report: counts only, also as a printable page.
    let steering = stack.stod(&["report", "styrgrupp", "--as-of", "2025-06-30", "--previous", "2025-03-31"]).await.ok();
    assert_eq!(steering["status"], "ok");
    let report = &steering["report"];
    assert_eq!(report["previous_meeting"], "2025-03-31");
    assert!(report["alerts"].as_object().expect("alerts").values().all(|a| a.get("cases").is_none()), "{report}");
    let persons = report["goal"]["persons_so_far"].as_u64().expect("goal");
    let html = stack.stod_text(&["report", "styrgrupp", "--as-of", "2025-06-30", "--format", "html"]).await;
    assert_eq!(html.code, 0, "{html:?}");
    assert!(html.stdout.starts_with("<!DOCTYPE html>"), "{}", html.stdout);
    assert!(html.stdout.contains(&format!("<td class=\"num\">{persons}</td>")), "{}", html.stdout);
    let backwards = stack.stod(&["report", "styrgrupp", "--as-of", "2025-06-30", "--previous", "2025-07-01"]).await;
    assert_eq!(backwards.code, 6, "{backwards:?}");
    // Published figures stand on month ends: the 15th is refused, with the days that would do.
    let mid_month = stack.stod_text(&["report", "styrgrupp", "--as-of", "2025-06-15"]).await;
    assert_eq!(mid_month.code, 6, "{mid_month:?}");
    assert!(mid_month.stderr.contains("2025-05-31") && mid_month.stderr.contains("2025-06-30"), "{mid_month:?}");
    // Without --as-of: the last month end that has passed.
    let latest = stod_projections::publication::latest(stod_events::sweden::today());
    let implicit = stack.stod(&["report", "styrgrupp"]).await.ok();
    assert_eq!(implicit["report"]["as_of"], latest.to_string());
    let direct = stack
        .ask(
            "stod.query.anna.published-steering",
            serde_json::json!({"as_of": "2025-06-30", "previous_meeting": "2025-03-31"}),
        )
        .await;
    assert_eq!(steering, direct, "the command line prints the projector's published report");

    // The funder's follow-up: the published report, and CSV for Excel.
    let funder = stack.stod(&["report", "uppfoljning", "--period", "2025"]).await.ok();
    assert_eq!(funder, stack.ask("stod.query.anna.published-funder", serde_json::json!({"period": "2025"})).await);
    assert_eq!(funder["report"]["min_count"], 5);
    let csv = stack.stod_text(&["report", "uppfoljning", "--period", "2025", "--format", "csv"]).await;
    assert_eq!(csv.code, 0, "{csv:?}");
    assert!(csv.stdout.starts_with("\u{feff}Period;Från;Till;Tabell;Kategori;Kvinnor;Män;"), "{}", csv.stdout);
    assert!(csv.stdout.lines().count() > 10, "{}", csv.stdout);
    let text = stack.stod_text(&["report", "uppfoljning", "--period", "2025"]).await;
    assert!(text.stdout.contains("Deltagare efter ålder och kön"), "{text:?}");
    let bad = stack.stod(&["report", "uppfoljning", "--period", "2025-13"]).await;
    assert_eq!(bad.code, 6, "{bad:?}");

    // A case's audit trail from the read model: the log's events, in order, with the
    // corrections linked to what they correct.
    let cases: Vec<&str> = seeded["cases"].as_array().expect("cases").iter().map(str_of_value).collect();
    let mut corrections = 0;
    for case in &cases {
        let history = stack.stod(&["case", "history", case]).await.ok();
        let from_log = stack.stod(&["case", "show", case]).await.ok();
        let entries = history["report"].as_array().expect("entries");
        let ids = |list: &[Value], key: &str| list.iter().map(|e| str_of(e, key).to_owned()).collect::<Vec<_>>();
        assert_eq!(ids(entries, "event_id"), ids(from_log["events"].as_array().expect("events"), "event_id"));
        assert_eq!(entries[0]["event_type"], "enrolled");
        let sequences: Vec<u64> = entries.iter().map(|e| e["stream_sequence"].as_u64().expect("seq")).collect();
        assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
        for fix in entries.iter().filter(|e| e["event_type"] == "corrected") {
            corrections += 1;
            let target =
                entries.iter().find(|e| e["event_id"] == fix["corrects"]).expect("the corrected event is listed");
            assert!(target["changed_by"].as_array().expect("changed_by").contains(&fix["event_id"]));
        }
    }
    assert!(corrections > 0, "the demo has corrections");
    let unknown = stack.stod(&["case", "history", "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e"]).await;
    assert_eq!(unknown.code, 7, "{unknown:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seeding_twice_records_nothing_new_and_a_rebuild_swaps_in_a_new_generation() {
    let stack = Stack::with_projector().await;
    let first = seed_demo(&stack).await;
    let again = seed_demo(&stack).await;
    assert_eq!(again["accepted"], 0, "{again}");
    assert_eq!(again["duplicates"], first["accepted"], "{again}");
    assert_eq!(again["cases"], first["cases"]);
    let end = stack.caught_up().await;
    assert_eq!(end, first["accepted"].as_u64().expect("accepted"));

    let before = stack.stod(&["projections", "status"]).await.ok();
    assert_eq!(before["checkpoint"].as_u64(), Some(end));
    let rebuilt = stack.stod(&["projections", "rebuild", "styrgrupp"]).await.ok();
    assert!(rebuilt["generation"].as_u64() > before["generation"].as_u64(), "{before} then {rebuilt}");
    assert_eq!(rebuilt["rebuild"], Value::Null);
    assert_eq!(rebuilt["fault"], Value::Null);
    assert_eq!(rebuilt["checkpoint"].as_u64(), Some(end));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_period_exits_6_and_no_projector_exits_5() {
    let stack = Stack::with_projector().await;
    for period in [["--month", "2025-13"], ["--year", "1999"], ["--quarter", "2025-03"]] {
        let run = stack.stod(&[&["report", "throughput"][..], &period[..]].concat()).await;
        assert_eq!(run.code, 6, "{period:?}: {run:?}");
        assert_eq!(run.json()["status"], "invalid");
        assert!(!run.stderr.trim().is_empty());
    }
    let both = stack.stod(&["report", "throughput", "--year", "2025", "--month", "2025-03"]).await;
    assert_eq!(both.code, 2, "{both:?}");

    // The command service alone answers no report.
    let bare = Stack::start().await;
    let url = bare.url.clone();
    let run = run(
        &["report", "throughput", "--year", "2025", "--nats-url", &url, "--user", USER, "--json"],
        &[("STOD_CLIENT_RETRIES", "0")],
    )
    .await;
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(run.json()["status"], "unavailable");
    bare.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standalone_projector_answers_and_keeps_its_store_to_itself() {
    let stack = Stack::start().await;
    seed_demo(&stack).await;
    let data = tempfile::tempdir().expect("tempdir");
    let args = ["projector", "--json", "--data", path(data.path()), "--nats-url", &stack.url];
    let projector = Up::spawn(&args);
    let ready = projector.expect("ready", Duration::from_secs(30));
    assert!(ready["data_dir"].as_str().is_some_and(|d| d.ends_with("projections")), "{ready}");

    // A second projector on the same store is refused before it touches it.
    let second = run(&args, &[]).await;
    assert_eq!(second.code, 1, "{second:?}");

    let status = poll(|| async {
        let s = stack.stod(&["projections", "status"]).await.ok();
        if s["generation"].as_u64() > Some(0) && s["rebuild"].is_null() {
            Ok(s)
        } else {
            Err(s)
        }
    })
    .await;
    assert_eq!(status["fault"], Value::Null);
    let figures = stack.stod(&["report", "throughput", "--year", "2025", "--today", DEMO_TODAY]).await.ok();
    assert_eq!(figures["status"], "ok");
    assert_eq!(projector.terminate(), 0);
    stack.stop().await;
}

fn str_of_value(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Retries a query until it answers, for up to ten seconds.
async fn poll<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(mut query: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match query().await {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => panic!("no answer: {e:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_history_links_corrections_and_retractions_both_ways() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(10)).await;
    stack
        .stod(&[
            "place",
            "--case",
            &case,
            "--date",
            &days_ago(9),
            "--site",
            "atervinningsbutiken",
            "--work-area",
            "butik",
            "--hours",
            "15",
        ])
        .await
        .ok();
    stack
        .stod(&[
            "assess",
            "--case",
            &case,
            "--date",
            &days_ago(8),
            "--instrument",
            "work-star",
            "--assessor",
            "gemensam",
            "--score",
            "motivation=6",
        ])
        .await
        .ok();
    let view = stack.stod(&["case", "show", &case]).await.ok();
    let placement = str_of(&view["events"][1], "event_id").to_owned();
    let assessment = str_of(&view["events"][2], "event_id").to_owned();
    stack
        .stod(&[
            "correct",
            "--case",
            &case,
            "--event",
            &placement,
            "--reason",
            "felregistrering",
            "--set",
            "site=vaderbacken",
        ])
        .await
        .ok();
    stack.stod(&["retract", "--case", &case, "--event", &assessment, "--reason", "dubblett"]).await.ok();

    let history = stack.stod(&["audit", "history", &case]).await.ok();
    let events = history["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().map(|e| str_of(e, "type")).collect();
    assert_eq!(types, ["enrolled", "placement_started", "progress_assessed", "corrected", "retracted"]);
    let seq = |i: usize| events[i]["stream_sequence"].as_u64().expect("seq");
    assert!((1..5).all(|i| seq(i - 1) < seq(i)), "stream order: {history}");
    // The correction and the corrected event point at each other; so do the retraction
    // and the retracted event.
    assert_eq!(events[3]["corrects"].as_str(), Some(placement.as_str()));
    assert_eq!(events[3]["corrects_sequence"].as_u64(), Some(seq(1)));
    assert_eq!(events[1]["corrected_by"][0]["stream_sequence"].as_u64(), Some(seq(3)));
    assert_eq!(events[1]["corrected_by"][0]["reason"], "entry_error");
    assert_eq!(events[4]["corrects_sequence"].as_u64(), Some(seq(2)));
    assert_eq!(events[2]["retracted_by"]["stream_sequence"].as_u64(), Some(seq(4)));
    assert_eq!(events[0]["corrected_by"].as_array().map(Vec::len), Some(0));
    assert_eq!(events[0]["retracted_by"], Value::Null);
    // The content, what the correction changed, the recorder and UTC times.
    assert_eq!(events[3]["fact"]["site"], "vaderbacken");
    assert_eq!(
        events[3]["changes"],
        serde_json::json!([{"field": "site", "before": "atervinningsbutiken", "after": "vaderbacken"}])
    );
    assert!(events.iter().all(|e| e["recorded_by"] == USER && str_of(e, "recorded_at").ends_with('Z')), "{history}");
    assert!(events.iter().all(|e| str_of(e, "chain_hash").len() == 64), "{history}");

    let human = stack.stod_text(&["audit", "history", &case]).await;
    assert_eq!(human.code, 0, "{human:?}");
    let missing = stack.stod(&["audit", "history", "0195b8a2-7c4e-7d31-9a56-00000000dead"]).await;
    assert_eq!(missing.code, 7, "{missing:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_replay_shows_the_report_as_it_stood_before_a_correction() {
    let stack = Stack::with_projector().await;
    let (case, _) = intake(&stack, "2025-03-03").await;
    let c = case.as_str();
    stack
        .stod(&[
            "place",
            "--case",
            c,
            "--date",
            "2025-03-10",
            "--site",
            "industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "20",
        ])
        .await
        .ok();
    stack
        .stod(&["end-placement", "--case", c, "--date", "2025-05-02", "--placement", "1", "--reason", "klar"])
        .await
        .ok();
    stack.stod(&["exit", "--case", c, "--date", "2025-05-05", "--outcome", "studier", "--support", "lon"]).await.ok();
    let before = stack.caught_up().await;
    let year = ["--today", "2025-12-31"];
    let live_then = stack.stod(&[&["report", "throughput", "--year", "2025"][..], &year].concat()).await.ok();

    // The exit was to a job, not studies.
    let view = stack.stod(&["case", "show", c]).await.ok();
    let exit = str_of(&view["events"][3], "event_id").to_owned();
    let recorded_then = str_of(&view["events"][3], "recorded_at").to_owned();
    stack
        .stod(&[
            "correct",
            "--case",
            c,
            "--event",
            &exit,
            "--reason",
            "felregistrering",
            "--set",
            "outcome=anstallning",
        ])
        .await
        .ok();
    stack.caught_up().await;
    let live_now = stack.stod(&[&["report", "throughput", "--year", "2025"][..], &year].concat()).await.ok();
    assert_ne!(live_then["report"], live_now["report"]);

    let replay = |as_of: String, extra: &'static [&'static str]| {
        let stack = &stack;
        async move {
            let args = [
                &["audit", "replay", "--as-of", as_of.as_str(), "--report", "throughput", "--period", "2025"][..],
                &year,
                extra,
            ]
            .concat();
            stack.stod(&args).await.ok()
        }
    };
    // By stream sequence and by the instant the last event before the correction was
    // recorded: the report as it was then.
    let by_sequence = replay(format!("seq:{before}"), &[]).await;
    assert_eq!(by_sequence["report"], live_then["report"]);
    assert_eq!(by_sequence["checkpoint"].as_u64(), Some(before));
    assert_eq!(by_sequence["events_included"].as_u64(), Some(before));
    let by_time = replay(recorded_then, &[]).await;
    assert_eq!(by_time["report"], live_then["report"]);

    // --compare-now: what the correction changed, figure by figure.
    let compared = replay(format!("seq:{before}"), &["--compare-now"]).await;
    assert_eq!(compared["compare_now"]["report"], live_now["report"]);
    let differences = compared["compare_now"]["differences"].as_array().expect("differences");
    let figure = |name: &str| {
        differences
            .iter()
            .find(|d| d["figure"] == name)
            .unwrap_or_else(|| panic!("{name} not in {differences:?}"))
            .clone()
    };
    assert_eq!(
        (figure("exits_to_employment")["then"].as_u64(), figure("exits_to_employment")["now"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(figure("exits_by_outcome.studies")["then"].as_u64(), Some(1));
    assert_eq!(figure("exits_by_outcome.studies")["now"], Value::Null);
    let human = stack
        .stod_text(
            &[
                &[
                    "audit",
                    "replay",
                    "--as-of",
                    &format!("seq:{before}"),
                    "--report",
                    "throughput",
                    "--period",
                    "2025",
                    "--compare-now",
                ][..],
                &year,
            ]
            .concat(),
        )
        .await;
    assert_eq!(human.code, 0, "{human:?}");

    // The steering group's and the funder's reports replay too.
    let meeting = ["--report", "styrgrupp", "--meeting", "2025-06-30", "--previous", "2025-03-31"];
    let steering = stack
        .stod(&[&["audit", "replay", "--as-of", &format!("seq:{before}")][..], &meeting, &["--compare-now"]].concat())
        .await
        .ok();
    assert_eq!(steering["report"]["since_previous"]["exits"].as_u64(), Some(1));
    assert!(steering["compare_now"]["differences"].as_array().is_some_and(|d| !d.is_empty()), "{steering}");
    let funder = stack.stod(&["audit", "replay", "--as-of", "seq:1", "--report", "funder"]).await;
    assert_eq!(funder.code, 2, "--period is required: {funder:?}");
    let funder = stack
        .stod(&[
            "audit",
            "replay",
            "--as-of",
            &format!("seq:{before}"),
            "--report",
            "funder",
            "--period",
            "2025",
            "--compare-now",
        ])
        .await
        .ok();
    assert_eq!(funder["report_kind"], "funder");
    // The correction moved an exit from studies to employment: the SUS table changed.
    let differences = funder["compare_now"]["differences"].as_array().cloned().unwrap_or_default();
    assert!(
        differences.iter().any(|d| d["figure"].as_str().is_some_and(|f| f.starts_with("exits_by_sus_group"))),
        "{funder}"
    );
    let beyond =
        stack.stod(&["audit", "replay", "--as-of", "seq:999", "--report", "throughput", "--period", "2025"]).await;
    assert_eq!(beyond.code, 6, "{beyond:?}");
    stack.stop().await;
}

/// Flips one bit in the middle of the stored bytes of the event at `sequence` in an
/// export's events.log (layout in services/audit/src/bundle.rs).
fn flip_a_bit_of(events_log: &Path, sequence: u64) {
    let mut bytes = std::fs::read(events_log).expect("events.log");
    let mut at = 8;
    loop {
        let seq = u64::from_be_bytes(bytes[at..at + 8].try_into().expect("sequence"));
        let len = u32::from_be_bytes(bytes[at + 24..at + 28].try_into().expect("length")) as usize;
        if seq == sequence {
            bytes[at + 28 + len / 2] ^= 0x01;
            break;
        }
        at += 28 + len;
    }
    std::fs::write(events_log, bytes).expect("write events.log");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_holds_and_an_offline_export_names_a_changed_event() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(5)).await;
    stack
        .stod(&[
            "place",
            "--case",
            &case,
            "--date",
            &days_ago(4),
            "--site",
            "industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "20",
        ])
        .await
        .ok();
    stack
        .stod(&[
            "assess",
            "--case",
            &case,
            "--date",
            &days_ago(3),
            "--instrument",
            "work-star",
            "--assessor",
            "gemensam",
            "--score",
            "motivation=6",
        ])
        .await
        .ok();
    let verified = stack.stod(&["audit", "verify"]).await.ok();
    assert_eq!(verified["intact"], true, "{verified}");
    assert_eq!(verified["events"].as_u64(), Some(3));
    assert_eq!((verified["first_sequence"].as_u64(), verified["last_sequence"].as_u64()), (Some(1), Some(3)));
    assert_eq!(verified["findings"].as_array().map(Vec::len), Some(0));

    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("granskning");
    let exported = stack.stod(&["audit", "export", "--out", path(&bundle)]).await.ok();
    assert_eq!(exported["manifest"]["events"].as_u64(), Some(3));
    assert_eq!(exported["intact"], true);

    // Offline: there is no NATS at this address, and none is needed.
    let offline_args = ["audit", "verify", "--bundle", path(&bundle), "--json", "--nats-url", "nats://127.0.0.1:1"];
    let offline = || run(&offline_args, &[("STOD_CLIENT_RETRIES", "0")]);
    let checked = offline().await.ok();
    assert_eq!(checked["intact"], true, "{checked}");
    assert_eq!(checked["manifest"]["digest"], exported["manifest"]["digest"]);

    flip_a_bit_of(&bundle.join("events.log"), 2);
    let tampered = offline().await;
    assert_eq!(tampered.code, 8, "{tampered:?}");
    let report = tampered.json();
    assert_eq!(report["intact"], false);
    let findings = report["verification"]["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["stream_sequence"].as_u64() == Some(2) && f["case_id"] == case.as_str()),
        "{report}"
    );
    assert!(report["file_problems"].as_array().is_some_and(|p| !p.is_empty()), "{report}");
    assert!(!tampered.stderr.trim().is_empty());

    let again = stack.stod(&["audit", "export", "--out", path(&bundle)]).await;
    assert_eq!(again.code, 6, "{again:?}");
    assert_eq!(again.json()["status"], "invalid");
    stack.stop().await;
}

/// A made-up personnummer with a correct check digit (no real person's number).
fn test_personnummer(eleven: &str) -> String {
    let ten: Vec<u8> = eleven[2..].bytes().map(|b| b - b'0').collect();
    format!("{eleven}{}", stod_registry::personnummer::luhn_check_digit(&ten))
}

#[tokio::test(flavor = "multi_thread")]
async fn case_find_and_participant_erase_by_personnummer() {
    let stack = Stack::with_registry().await;
    let pnr = test_personnummer("19900314123");
    let short = format!("{}-{}", &pnr[2..8], &pnr[8..]);
    let intake_args = |number: &str| {
        vec![
            "intake".to_owned(),
            "--personnummer".into(),
            number.to_owned(),
            "--date".into(),
            days_ago(10),
            "--gender".into(),
            "kvinna".into(),
            "--municipality".into(),
            "2084".into(),
            "--referrer".into(),
            "af".into(),
            "--support".into(),
            "forsorjningsstod".into(),
            "--birth-year".into(),
            "1990".into(),
        ]
    };
    let args = intake_args(&pnr);
    let reply = stack.stod(&args.iter().map(String::as_str).collect::<Vec<_>>()).await.ok();
    assert_eq!((reply["status"].as_str(), reply["registered"].as_bool()), (Some("accepted"), Some(true)));
    let (case, participant) = (str_of(&reply, "case_id").to_owned(), str_of(&reply, "participant").to_owned());

    let found = stack.stod(&["case", "find", "--personnummer", &short]).await.ok();
    assert_eq!((str_of(&found, "participant"), str_of(&found, "case_id")), (participant.as_str(), case.as_str()));
    assert_eq!(found["case_open"], true);

    // --personnummer names the participant; --participant too is a usage error.
    let mut both = intake_args(&pnr);
    both.extend(["--participant".to_owned(), participant.clone()]);
    let both = stack.stod(&both.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(both.code, 2, "{both:?}");

    // A wrong check digit: invalid (6), and the number is not echoed.
    let typo = format!("{}{}", &pnr[..11], (pnr.as_bytes()[11] - b'0' + 1) % 10);
    let invalid = stack.stod(&["case", "find", "--personnummer", &typo]).await;
    assert_eq!(invalid.code, 6, "{invalid:?}");
    assert!(!invalid.stderr.contains(&typo[8..]) && !invalid.stdout.contains(&typo[8..]), "{invalid:?}");

    // Without --yes nothing is erased.
    let unconfirmed = stack.stod(&["participant", "erase", "--personnummer", &pnr]).await;
    assert_eq!(unconfirmed.code, 2, "{unconfirmed:?}");
    stack.stod(&["case", "find", "--personnummer", &pnr]).await.ok();

    let erased = stack.stod(&["participant", "erase", "--personnummer", &pnr, "--yes"]).await.ok();
    assert_eq!(erased["status"], "erased");
    let gone = stack.stod(&["case", "find", "--personnummer", &pnr]).await;
    assert_eq!(gone.code, 7, "{gone:?}");
    assert_eq!(gone.json()["status"], "not_found");
    assert!(!gone.stderr.trim().is_empty() && !gone.stderr.contains(&pnr[8..]), "{gone:?}");
    let again = stack.stod(&["participant", "erase", "--personnummer", &pnr, "--yes"]).await;
    assert_eq!(again.code, 7, "{again:?}");

    // The case itself is still in the log, under its random reference.
    let view = stack.stod(&["case", "show", &case]).await.ok();
    assert_eq!(view["events"].as_array().map(Vec::len), Some(1));
    stack.stop().await;
}

/// A corpus of bad command lines: each exits with usage (2), refused (3), invalid (6) or
/// not found (7) and a message on stderr, and nothing reaches the log.
#[tokio::test(flavor = "multi_thread")]
async fn bad_command_lines_are_refused_with_a_message_and_record_nothing() {
    let stack = Stack::start().await;
    let huge = "x".repeat(100_000);
    let cases: Vec<Vec<&str>> = vec![
        vec!["intake", "--date", "2025-02-30", "--gender", "kvinna", "--anonymous", "inget-samtycke"],
        vec!["intake", "--date", "9999-12-31", "--gender", "kvinna", "--anonymous", "inget-samtycke"],
        vec!["intake", "--date", "0001-01-01", "--gender", "kvinna", "--anonymous", "inget-samtycke"],
        vec!["intake", "--date", "igår", "--gender", "kvinna", "--anonymous", "inget-samtycke"],
        vec!["intake", "--date", "2025-03-01", "--gender", "robot", "--anonymous", "inget-samtycke"],
        vec![
            "intake",
            "--date",
            "2025-03-01",
            "--gender",
            "kvinna",
            "--municipality",
            "9999",
            "--referrer",
            "af",
            "--support",
            "forsorjningsstod",
            "--birth-year",
            "1990",
        ],
        vec![
            "intake",
            "--date",
            "2025-03-01",
            "--gender",
            "kvinna",
            "--municipality",
            "2084",
            "--referrer",
            "af",
            "--support",
            "forsorjningsstod",
            "--birth-year",
            "1790",
        ],
        vec![
            "intake",
            "--date",
            "2025-03-01",
            "--gender",
            "kvinna",
            "--municipality",
            "2084",
            "--referrer",
            "af",
            "--support",
            "forsorjningsstod",
            "--birth-year",
            "-5",
        ],
        vec![
            "intake",
            "--date",
            "2025-03-01",
            "--gender",
            "kvinna",
            "--municipality",
            &huge,
            "--referrer",
            "af",
            "--support",
            "forsorjningsstod",
            "--birth-year",
            "1990",
        ],
        vec!["intake", "--date", "2025-03-01", "--gender", "kvinna"],
        vec![
            "intake",
            "--date",
            "2025-03-01",
            "--gender",
            "kvinna",
            "--anonymous",
            "inget-samtycke",
            "--case",
            "not-a-uuid",
        ],
        vec![
            "place",
            "--case",
            "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e",
            "--date",
            "2025-03-01",
            "--site",
            "Industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "20",
        ],
        vec![
            "place",
            "--case",
            "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e",
            "--date",
            "2025-03-01",
            "--site",
            "industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "300",
        ],
        vec![
            "place",
            "--case",
            "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e",
            "--date",
            "2025-03-01",
            "--site",
            "industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "tjugo",
        ],
        vec![
            "exit",
            "--case",
            "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e",
            "--date",
            "2025-03-01",
            "--outcome",
            "lottovinst",
            "--support",
            "lon",
        ],
        vec!["case", "show", "'; DROP TABLE cases; --"],
        vec!["case", "show", "../../etc/passwd"],
        vec!["report", "throughput", "--year", "2025-03"],
        vec!["report", "throughput", "--month", "2025-13"],
        vec!["report", "styrgrupp", "--as-of", "30/6/2025"],
        vec!["report", "uppfoljning", "--period", "<script>"],
        vec!["audit", "replay", "--as-of", "seq:-1", "--report", "throughput", "--period", "2025"],
        vec!["audit", "replay", "--as-of", "2025-03-30T02:30", "--report", "throughput", "--period", "2025"],
        vec!["reference", "show", "--kind", "planet"],
        vec!["nonsense-command"],
    ];
    for args in &cases {
        let mut all: Vec<&str> = args.clone();
        all.extend(["--nats-url", &stack.url, "--user", USER]);
        let run = run(&all, &[("STOD_CLIENT_RETRIES", "0")]).await;
        let shown: Vec<String> = args.iter().map(|a| a.chars().take(40).collect()).collect();
        assert!(matches!(run.code, 2 | 3 | 6 | 7), "{shown:?}: exit {}: {:.500}", run.code, run.stderr);
        assert!(!run.stderr.trim().is_empty(), "{shown:?}: a message on stderr");
    }
    let js = async_nats::jetstream::new(stack.client.clone());
    let info = js.get_stream(stod_store::STREAM_NAME).await.expect("stream").info().await.expect("info").state.messages;
    assert_eq!(info, 0, "nothing recorded");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_access_lists_who_looked_at_a_case() {
    let stack = Stack::start().await;
    let (case, _) = intake(&stack, &days_ago(3)).await;
    stack.stod(&["case", "show", &case]).await.ok();
    stack.stod(&["audit", "history", &case]).await.ok();

    let listed = stack.stod(&["audit", "access", "--case", &case]).await.ok();
    assert_eq!(listed["count"], 2, "{listed}");
    for record in listed["records"].as_array().expect("records") {
        assert_eq!((record["user"].as_str(), record["case_id"].as_str()), (Some(USER), Some(case.as_str())));
        assert_eq!((record["view"].as_str(), record["via"].as_str()), (Some("case"), Some("command")));
        assert!(str_of(record, "at").ends_with('Z'), "{record}");
    }
    let nobody = stack.stod(&["audit", "access", "--case", &case, "--by", "bertil"]).await.ok();
    assert_eq!(nobody["count"], 0);
    let human = stack.stod_text(&["audit", "access", "--case", &case]).await;
    assert_eq!(human.code, 0, "{human:?}");
    let backwards = stack.stod(&["audit", "access", "--since", "2025-06-30", "--until", "2025-06-01"]).await;
    assert_eq!(backwards.code, 6, "{backwards:?}");
    stack.stop().await;
}

/// The operator's backup and restore, as the README tells it: a backup user, a backup
/// while the system runs, its offline check, a damaged copy refused, a restore into a
/// new directory with every event.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_backs_up_checks_and_restores_from_the_command_line() {
    let root = tempfile::tempdir().expect("tempdir");
    let (up, data, url, events) = Up::with_demo(root.path());

    let creds = root.path().join("backupen.creds");
    let added = run(
        &["user", "add", "backupen", "--role", "sakerhetskopiering", "--data", path(&data), "--out", path(&creds)],
        &[],
    )
    .await;
    assert_eq!(added.code, 0, "{added:?}");
    let env = [("STOD_NATS_URL", url.as_str()), ("STOD_CREDENTIALS", path(&creds))];
    // The backup user may not read a case or a report.
    let refused = run(&["report", "throughput", "--year", "2025", "--json"], &env).await;
    assert_eq!(refused.code, 9, "{refused:?}");

    let backups = root.path().join("backups");
    let taken = run(&["backup", "--out", path(&backups), "--data", path(&data), "--json"], &env).await.ok();
    assert_eq!((taken["number"].as_u64(), taken["kind"].as_str()), (Some(1), Some("full")), "{taken}");
    assert_eq!(taken["logs"]["events"]["messages"].as_u64(), Some(events), "{taken}");
    let again = run(&["backup", "--out", path(&backups), "--data", path(&data), "--json"], &env).await.ok();
    assert_eq!(again["kind"], "incremental", "{again}");
    assert_eq!(again["logs"]["events"]["messages"], 0, "nothing new: {again}");
    let signer = taken["signer"].as_str().expect("signed with the backup user's key").to_owned();
    assert!(signer.starts_with('U'), "{taken}");
    let verified = run(&["backup", "verify", path(&backups), "--signer", &signer, "--json"], &[]).await.ok();
    assert_eq!(verified["intact"], true, "{verified}");
    assert_eq!(verified["signed_by"]["nkey"].as_str(), Some(signer.as_str()), "{verified}");
    let other = nkeys::KeyPair::new_user().public_key();
    let wrong = run(&["backup", "verify", path(&backups), "--signer", &other, "--json"], &[]).await;
    assert_eq!(wrong.code, 8, "another key's backup is not trusted: {wrong:?}");
    assert_eq!(verified["events"].as_u64(), Some(events), "{verified}");
    assert_eq!(up.terminate(), 0);

    // One changed byte: refused by the check and by the restore, which writes nothing.
    let damaged = root.path().join("damaged");
    std::fs::create_dir_all(damaged.join("0001")).expect("dir");
    for n in ["0001", "0002"] {
        std::fs::create_dir_all(damaged.join(n)).expect("dir");
        for entry in std::fs::read_dir(backups.join(n)).expect("backup") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), damaged.join(n).join(entry.file_name())).expect("copy");
        }
    }
    let file = damaged.join("0001/events.log");
    let mut bytes = std::fs::read(&file).expect("events");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&file, bytes).expect("write");
    assert_eq!(run(&["backup", "verify", path(&damaged)], &[]).await.code, 8);
    let not_restored = root.path().join("not-restored");
    let refused = run(&["restore", "--from", path(&damaged), "--data", path(&not_restored)], &[]).await;
    assert_eq!(refused.code, 8, "{refused:?}");
    assert!(!not_restored.exists());

    let restored = root.path().join("restored");
    let done = run(&["restore", "--from", path(&backups), "--data", path(&restored), "--json"], &[]).await.ok();
    assert_eq!(done["counts"]["events"].as_u64(), Some(events), "{done}");
    assert_eq!(done["checkpoint"].as_u64(), Some(events), "{done}");
    assert!(restored.join("auth/credentials/drift.creds").exists(), "a new operator for the restored system");
    let over = run(&["restore", "--from", path(&backups), "--data", path(&restored)], &[]).await;
    assert_ne!(over.code, 0, "never over existing data: {over:?}");
    assert!(over.stderr.contains("inte tom"), "{over:?}");
}

/// The log never crosses a network in clear by accident: a mirror's leaf node port
/// reachable from other machines needs TLS, and so does a mirror's upstream.
#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_link_beyond_this_machine_without_tls_is_refused() {
    let data = tempfile::tempdir().expect("tempdir");
    let up = run(&["up", "--data", path(data.path()), "--no-http", "--mirror-listen", "0.0.0.0:7422"], &[]).await;
    assert_eq!(up.code, 2, "{up:?}");
    assert!(up.stderr.contains("--mirror-tls-cert"), "{up:?}");
    let creds = data.path().join("spegel.creds");
    let added =
        run(&["user", "add", "spegel", "--role", "spegel", "--data", path(data.path()), "--out", path(&creds)], &[])
            .await;
    assert_eq!(added.code, 0, "{added:?}");
    let mirror = run(
        &[
            "mirror",
            "--data",
            path(&data.path().join("m")),
            "--upstream",
            "nats-leaf://primar.example:7422",
            "--credentials",
            path(&creds),
        ],
        &[],
    )
    .await;
    assert_eq!(mirror.code, 2, "{mirror:?}");
    assert!(mirror.stderr.contains("--upstream-ca"), "{mirror:?}");
}

/// `stod case list` and `stod worklist`: my cases (the intakes I recorded) or all,
/// what is due on each by the worklist rules, the command that resolves it, and the
/// item gone once the fact is recorded. Bad filters are refused with the valid values.
#[tokio::test(flavor = "multi_thread")]
async fn case_list_and_worklist_show_what_is_due_and_clear_when_resolved() {
    let stack = Stack::with_projector().await;
    // Mine: one without a placement for 40 days (due since 10 days ago), one new.
    let (waiting, _) = intake(&stack, &days_ago(40)).await;
    let (fresh, _) = intake(&stack, &days_ago(10)).await;
    // Bertil's: also without a placement.
    let theirs = run(
        &[
            "intake",
            "--date",
            &days_ago(50),
            "--gender",
            "man",
            "--anonymous",
            "inget-samtycke",
            "--nats-url",
            &stack.url,
            "--user",
            "bertil",
            "--json",
        ],
        &[],
    )
    .await
    .ok();
    let theirs = str_of(&theirs, "case_id").to_owned();
    stack.caught_up().await;

    let mine = stack.stod(&["case", "list"]).await.ok();
    assert_eq!(mine["status"], "ok", "{mine}");
    let listed: Vec<&str> = mine["report"]["cases"].as_array().unwrap().iter().map(|c| str_of(c, "case_id")).collect();
    // The one with something due first.
    assert_eq!(listed, vec![waiting.as_str(), fresh.as_str()], "{mine}");
    let first = &mine["report"]["cases"][0];
    assert_eq!(first["responsible"], USER);
    assert_eq!(first["status"], "active");
    assert_eq!(first["due"][0]["rule"], "no_placement");
    assert_eq!(first["due"][0]["since"], days_ago(10));
    assert_eq!(mine["report"]["cases"][1]["due"].as_array().unwrap().len(), 0);

    let all = stack.stod(&["case", "list", "--all"]).await.ok();
    assert_eq!(all["report"]["total"], 3, "{all}");
    let due = stack.stod(&["case", "list", "--all", "--due"]).await.ok();
    let due_ids: Vec<&str> = due["report"]["cases"].as_array().unwrap().iter().map(|c| str_of(c, "case_id")).collect();
    assert_eq!(due_ids, vec![theirs.as_str(), waiting.as_str()], "oldest due first: {due}");
    let bertils = stack.stod(&["case", "list", "--responsible", "bertil"]).await.ok();
    assert_eq!(bertils["report"]["total"], 1, "{bertils}");

    let work = stack.stod(&["worklist"]).await.ok();
    let items = work["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{work}");
    assert_eq!(items[0]["case_id"], waiting.as_str());
    assert_eq!(items[0]["rule"], "no_placement");
    let command = str_of(&items[0], "command");
    assert!(command.starts_with(&format!("stod place --case {waiting} --date ")), "{command}");
    let text = stack.stod_text(&["worklist"]).await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("Ingen praktik 30 dagar efter inskrivningen"), "{}", text.stdout);
    assert!(text.stdout.contains(&format!("stod place --case {waiting}")), "{}", text.stdout);

    // Resolved: the placement recorded (the case given by the start of its id), the
    // item is gone; Bertil's stays on his list.
    stack
        .stod(&[
            "place",
            "--case",
            &waiting[..13],
            "--date",
            &days_ago(5),
            "--site",
            "industrisparet",
            "--work-area",
            "montering",
            "--hours",
            "20",
        ])
        .await
        .ok();
    stack.caught_up().await;
    let work = stack.stod(&["worklist"]).await.ok();
    assert_eq!(work["items"].as_array().unwrap().len(), 0, "{work}");
    let text = stack.stod_text(&["worklist"]).await;
    assert!(text.stdout.contains("Inget att göra."), "{}", text.stdout);
    let placed = stack.stod(&["case", "list", "--site", "industrisparet"]).await.ok();
    assert_eq!(placed["report"]["cases"][0]["case_id"], waiting.as_str(), "{placed}");
    assert_eq!(placed["report"]["cases"][0]["placement"], 1);
    let everyone = stack.stod(&["worklist", "--all"]).await.ok();
    assert_eq!(everyone["items"][0]["case_id"], theirs.as_str(), "{everyone}");

    // A case by the start of its id: unique enough, it is the case; shared by two
    // cases (ids begin with their creation time, so two made seconds apart share
    // at least their first 4 characters), refused with both; unknown, not found.
    let unique = &waiting[..13];
    let shown = stack.stod(&["case", "show", unique]).await.ok();
    assert_eq!(shown["case_id"], waiting.as_str(), "{shown}");
    let shared: String = waiting.chars().zip(fresh.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect();
    assert!(shared.len() >= 4, "{waiting} and {fresh}");
    let ambiguous = stack.stod(&["case", "show", &shared]).await;
    assert_eq!(ambiguous.code, 2, "{ambiguous:?}");
    assert!(ambiguous.stdout.contains(&waiting) && ambiguous.stdout.contains(&fresh), "{ambiguous:?}");
    let unknown = stack.stod(&["case", "show", "ffff-ffff"]).await;
    assert_eq!(unknown.code, 7, "{unknown:?}");
    let short = stack.stod(&["case", "show", "01a"]).await;
    assert_eq!(short.code, 2, "{short:?}");
    assert!(short.stderr.contains("minst 4 tecken"), "{short:?}");

    // Handed over: the case leaves my list for Bertil's, and its history says so.
    let handed = stack.stod(&["reassign", "--case", &fresh, "--to", "bertil"]).await.ok();
    assert_eq!(handed["status"], "accepted", "{handed}");
    stack.caught_up().await;
    let mine = stack.stod(&["case", "list"]).await.ok();
    assert_eq!(mine["report"]["total"], 1, "{mine}");
    let bertils = stack.stod(&["case", "list", "--responsible", "bertil"]).await.ok();
    let ids: Vec<&str> = bertils["report"]["cases"].as_array().unwrap().iter().map(|c| str_of(c, "case_id")).collect();
    assert_eq!(ids.len(), 2, "{bertils}");
    assert!(ids.contains(&fresh.as_str()) && ids.contains(&theirs.as_str()), "{bertils}");
    let shown = stack.stod_text(&["case", "show", &fresh]).await;
    assert!(shown.stdout.contains("Ny ansvarig") && shown.stdout.contains("bertil"), "{}", shown.stdout);

    // Bad filters: refused before anything is asked, with what is valid.
    let bad = stack.stod(&["worklist", "--rule", "nope"]).await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("no_placement, long_placement"), "{bad:?}");
    let bad = stack.stod(&["case", "list", "--status", "open"]).await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("active, exited eller no_intake"), "{bad:?}");
    stack.stop().await;
}

/// On the server `stod up` manages, with users: a case worker's worklist of the demo's
/// cases; the auditor and the steering group are refused the caseload by the server,
/// and an auditor giving the start of a case id is told to give all of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_worklist_is_the_case_workers_on_a_server_with_users() {
    let root = tempfile::tempdir().expect("tempdir");
    let (up, data, url, _) = Up::with_demo(root.path());
    let mut creds = std::collections::BTreeMap::new();
    for (user, role) in [("anna", "handlaggare"), ("revisor", "revisor"), ("styr", "styrgrupp")] {
        let file = root.path().join(format!("{user}.creds"));
        let added = run(&["user", "add", user, "--role", role, "--data", path(&data), "--out", path(&file)], &[]).await;
        assert_eq!(added.code, 0, "{added:?}");
        creds.insert(user, file);
    }
    let as_user = |user: &str| -> [(&'static str, String); 2] {
        [("STOD_NATS_URL", url.clone()), ("STOD_CREDENTIALS", path(&creds[user]).to_owned())]
    };
    let go = |args: Vec<String>, user: &str| {
        let env = as_user(user);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args, &[(env[0].0, env[0].1.as_str()), (env[1].0, env[1].1.as_str())]).await
        }
    };
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();

    // The demo records as anna among others: her worklist has what is due on her cases.
    let work = go(words("worklist --json"), "anna").await.ok();
    let items = work["items"].as_array().expect("items");
    assert!(!items.is_empty(), "two years of demo journeys leave something due: {work}");
    assert!(items.iter().all(|i| i["responsible"] == "anna"), "{work}");
    let case = str_of(&items[0], "case_id").to_owned();
    let shown = go(words(&format!("case show {} --json", &case[..13])), "anna").await.ok();
    assert_eq!(shown["case_id"], case.as_str(), "{shown}");

    // Refused by the server, not by this program.
    assert_eq!(go(words("worklist"), "revisor").await.code, 9);
    assert_eq!(go(words("case list --all"), "styr").await.code, 9);
    // The start of an id needs the caseload: an auditor is told to give all of it.
    let prefix = go(words(&format!("case show {}", &case[..13])), "revisor").await;
    assert_eq!(prefix.code, 2, "{prefix:?}");
    assert!(prefix.stderr.contains("ange hela ärende-id:t"), "{prefix:?}");
    let whole = go(words(&format!("case show {case} --json")), "revisor").await.ok();
    assert_eq!(whole["case_id"], case.as_str(), "the whole id works for the auditor: {whole}");
    assert_eq!(up.terminate(), 0);
}
