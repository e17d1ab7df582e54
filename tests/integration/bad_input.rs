//! A corpus of malformed and hostile input through every entry point: each is answered
//! with a clear error, and nothing is appended.
//!
//! The command corpus is generated from valid requests: every field of an intake and of
//! a placement replaced by each of a list of bad values (wrong types, huge strings,
//! impossible and far-away dates, unknown codes, control characters), plus raw bodies
//! (invalid UTF-8, deep nesting, oversized) and bad subjects.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use stod_events::ids::{CaseId, SubmissionId};
use stod_protocol::{CommandReply, CommandRequest};
use stod_tests::journey::*;
use stod_tests::{TestResult, TestSystem};
use tower::ServiceExt;

/// Every leaf of `value` with its path, for replacing one at a time.
fn leaves(value: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, [path.clone(), vec![k.clone()]].concat(), out)),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| leaves(v, [path.clone(), vec![i.to_string()]].concat(), out))
        }
        _ => out.push(path),
    }
}

fn replace(value: &Value, path: &[String], with: Value) -> Value {
    let mut v = value.clone();
    let mut cursor = &mut v;
    for key in path {
        cursor = match cursor {
            Value::Object(map) => map.get_mut(key).expect("path"),
            Value::Array(items) => items.get_mut(key.parse::<usize>().expect("index")).expect("path"),
            _ => unreachable!("a leaf has no children"),
        };
    }
    *cursor = with;
    v
}

/// Values that are wrong wherever they stand in a valid request.
fn bad_values() -> Vec<(&'static str, Value)> {
    vec![
        ("a number", json!(123_456_789)),
        ("a negative number", json!(-1)),
        ("a fraction", json!(2.5)),
        ("true", json!(true)),
        ("an empty string", json!("")),
        ("a list", json!(["2084"])),
        ("an object", json!({ "nested": { "deeper": [1, 2, 3] } })),
        ("a 10 KiB string", json!("å".repeat(5_000))),
        ("control characters", json!("\u{0000}\u{0007}\u{001b}[2J")),
        ("a far-future date", json!("9999-12-31")),
        ("an impossible date", json!("2025-02-30")),
    ]
}

/// The requests a case worker sends every day, as JSON.
fn valid_requests() -> TestResult<Vec<(&'static str, &'static str, Value)>> {
    let request = |command| CommandRequest::new(CaseId::new(), SubmissionId::new(), command);
    Ok(vec![
        ("intake", "stod.cmd.anna.record", serde_json::to_value(request(at("2025-01-10", intake())))?),
        (
            "placement",
            "stod.cmd.anna.record",
            serde_json::to_value(request(at("2025-01-20", place("industrisparet"))))?,
        ),
    ])
}

/// Paths where a replacement can still be valid (an optional field set to another
/// valid value is not bad input): excluded by what they are, not by trial.
fn optional(path: &[String]) -> bool {
    path.last().is_some_and(|k| k == "region_of_birth")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_command_corpus_is_refused_with_a_clear_error_and_nothing_is_appended() -> TestResult {
    let system = TestSystem::start().await?;
    let nats = system.nats.client.clone();
    let mut corpus: Vec<(String, String, Vec<u8>)> = Vec::new();
    for (name, subject, valid) in valid_requests()? {
        let mut paths = Vec::new();
        leaves(&valid, Vec::new(), &mut paths);
        for path in paths.iter().filter(|p| !optional(p)) {
            for (what, bad) in bad_values() {
                let mutated = replace(&valid, path, bad.clone());
                if mutated == valid {
                    continue;
                }
                corpus.push((
                    format!("{name}: {} = {what}", path.join(".")),
                    subject.to_owned(),
                    serde_json::to_vec(&mutated)?,
                ));
            }
        }
        // Unknown fields, and a field missing.
        let mut extra = valid.clone();
        extra["command"]["injected"] = json!("'; DROP TABLE events; --");
        corpus.push((format!("{name}: an unknown field"), subject.to_owned(), serde_json::to_vec(&extra)?));
        let mut missing = valid.clone();
        missing.as_object_mut().map(|m| m.remove("submission_id"));
        corpus.push((format!("{name}: no submission id"), subject.to_owned(), serde_json::to_vec(&missing)?));
    }
    let valid_intake =
        serde_json::to_value(CommandRequest::new(CaseId::new(), SubmissionId::new(), at("2025-01-10", intake())))?;
    let raw: Vec<(&str, Vec<u8>)> = vec![
        ("invalid UTF-8", vec![0xff, 0xfe, 0xfd, b'{', 0xc3, 0x28]),
        ("invalid UTF-8 inside a string", [&b"{\"case_id\": \""[..], &[0xc3, 0x28], b"\"}"].concat()),
        ("deep nesting", format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)).into_bytes()),
        ("deep object nesting", format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes()),
        (
            "over the 64 KiB request limit",
            serde_json::to_vec(&replace(
                &valid_intake,
                &["command".into(), "occurred_on".into()],
                json!("x".repeat(70_000)),
            ))?,
        ),
        ("empty body", Vec::new()),
        ("JSON null", b"null".to_vec()),
        ("a bare string", b"\"record\"".to_vec()),
        ("truncated JSON", serde_json::to_vec(&valid_intake)?[..40].to_vec()),
        ("two documents", [serde_json::to_vec(&valid_intake)?, serde_json::to_vec(&valid_intake)?].concat()),
        ("a number too large for any field", b"{\"case_id\": 1e999999}".to_vec()),
        ("NUL bytes", vec![0; 512]),
    ];
    for (what, body) in raw {
        corpus.push((what.to_owned(), "stod.cmd.anna.record".to_owned(), body));
    }
    let body = serde_json::to_vec(&valid_intake)?;
    for subject in [
        "stod.cmd.Anna.record",
        "stod.cmd.anna.delete",
        "stod.cmd.anna.correct",
        "stod.cmd.anna.retract",
        "stod.cmd.a%20b.record",
    ] {
        corpus.push((format!("subject {subject}"), subject.to_owned(), body.clone()));
    }
    assert!(corpus.len() >= 100, "{} cases", corpus.len());

    let mut refused = 0;
    for (what, subject, body) in &corpus {
        let reply = match stod_tests::request(&nats, &subject, body.clone()).await {
            Ok(reply) => reply,
            // No service listens on a subject that is no command: nothing can take it.
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders && subject.ends_with(".delete") => {
                refused += 1;
                continue;
            }
            Err(e) => return Err(format!("{what}: {e}").into()),
        };
        let reply: CommandReply = serde_json::from_slice(&reply.payload)
            .map_err(|e| format!("{what}: the reply is not a CommandReply: {e}"))?;
        match &reply {
            CommandReply::Invalid { message } => assert!(!message.trim().is_empty(), "{what}: an empty message"),
            CommandReply::Rejected { message, .. } => assert!(!message.trim().is_empty(), "{what}: an empty message"),
            other => panic!("{what}: expected a clear refusal, got {other:?}"),
        }
        refused += 1;
    }
    // Past the server's own limit the message never leaves the client.
    let oversized = vec![b' '; 2 << 20];
    assert!(
        stod_tests::request(&nats, "stod.cmd.anna.record", oversized).await.is_err(),
        "2 MiB is refused before it is sent"
    );
    assert!(system.log().await?.is_empty(), "nothing appended");
    eprintln!("bad input: {refused} malformed or hostile commands refused with a message, 0 appended");
    // The service still serves.
    system.client("anna").await?.submit(CaseId::new(), at("2025-01-10", intake())).await?;
    system.shutdown().await;
    Ok(())
}

/// Percent-encodes what a browser would in a query string.
fn encode(uri: &str) -> String {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut out = format!("{path}?");
    for b in query.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~=&%".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The HTTP entry point: every bad query string is a 4xx with a JSON body saying what
/// was wrong; no request reaches the read models with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_query_corpus_gets_4xx_from_the_http_service() -> TestResult {
    let system = TestSystem::start().await?;
    let state =
        stod_http::AppState::new(system.nats.client.clone(), stod_events::ids::UserId::parse("styrgrupp")?, None);
    let app = stod_http::app(state);
    let bad_periods = [
        "2025-13",
        "2025-00",
        "2025-Q0",
        "2025-Q5",
        "1999",
        "2201",
        "ÅÅÅÅ",
        "2025-",
        "-2025",
        "2025-1-1",
        "%00",
        "9".repeat(400).leak(),
        "2025%0A2026",
        "../../etc/passwd",
        "<script>alert(1)</script>",
    ];
    let bad_dates = [
        "2025-02-30",
        "2025-13-01",
        "31/12/2025",
        "0000-00-00",
        "2025-06-31",
        "idag",
        "2025-06-30T00:00",
        "%F0%9F%92%A9",
        "' OR 1=1 --",
    ];
    let mut cases: Vec<String> = Vec::new();
    for p in bad_periods {
        for endpoint in ["/api/v1/throughput", "/api/v1/funder", "/api/v1/funder.csv"] {
            cases.push(format!("{endpoint}?period={p}"));
        }
    }
    for d in bad_dates {
        cases.push(format!("/api/v1/steering?as_of={d}"));
        cases.push(format!("/api/v1/steering?as_of=2025-06-30&previous_meeting={d}"));
        cases.push(format!("/api/v1/throughput?period=2025&today={d}"));
    }
    for extra in ["case_id=1", "user=admin", "min_count=1", "period=2025&period=2026x"] {
        cases.push(format!("/api/v1/funder?period=2025&{extra}"));
    }
    assert!(cases.len() >= 70, "{}", cases.len());
    for uri in &cases {
        let response = app.clone().oneshot(Request::get(encode(uri)).body(Body::empty())?).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
        assert!(status.is_client_error(), "{uri}: {status}");
        let body: Value = serde_json::from_slice(&body).map_err(|e| format!("{uri}: not JSON: {e}"))?;
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{uri}: {body}");
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    eprintln!("bad input: {} malformed queries answered 4xx with a message", cases.len());
    system.shutdown().await;
    Ok(())
}
