//! Auditing against a running system: replay to a past moment reproduces what was
//! reported then, the comparison names exactly what later corrections changed, and
//! the live stream verifies and exports intact.

use std::collections::BTreeSet;
use std::time::Duration;

use stod_audit::{compare, records_at, Cutoff, Record};
use stod_events::case::Command;
use stod_events::event::{CorrectionReason, ExitOutcome, Exited, Fact, PlacementNo, PlacementStarted};
use stod_events::ids::{CaseId, Date, Timestamp};
use stod_projections::{steering, throughput, CaseRecord, Period, SteeringReport, ThroughputReport};
use stod_protocol::{SteeringQuery, ThroughputQuery};
use stod_store::{EventLogConfig, EventStore};
use stod_tests::journey::*;
use stod_tests::{read_log, TestResult, TestSystem};

async fn ask<T: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    subject: &str,
    body: Vec<u8>,
) -> TestResult<T> {
    let reply = stod_tests::request(client, subject, body).await?;
    let value: serde_json::Value = serde_json::from_slice(&reply.payload)?;
    if value["status"] != "ok" {
        return Err(format!("{subject}: {value}").into());
    }
    Ok(serde_json::from_value(value["report"].clone())?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_reproduces_what_was_reported_and_names_what_corrections_changed() -> TestResult {
    let system = TestSystem::start_with_projector().await?;
    let c = system.client("anna").await?;
    let pl = system.client("projektledare").await?;

    let (one, two) = (CaseId::new(), CaseId::new());
    c.submit(one, at("2025-01-10", intake())).await?;
    let placed = c.submit(one, at("2025-01-20", place("vaderbacken"))).await?;
    c.submit(two, at("2025-02-01", intake())).await?;
    let exit =
        stod_events::case::Action::Exit { outcome: ExitOutcome::Studies, support_at_exit: Some(code("studiemedel")) };
    let exited = c.submit(two, at("2025-03-01", exit)).await?;
    system.projector()?.wait_for(exited.stream_sequence).await?;

    // What the steering group and the funder were shown.
    let steering_q =
        serde_json::to_vec(&SteeringQuery { as_of: d("2025-06-30"), previous_meeting: Some(d("2025-01-31")) })?;
    let throughput_q = serde_json::to_vec(&ThroughputQuery { period: "2025".into(), today: Some(d("2025-12-31")) })?;
    let shown_steering: SteeringReport =
        ask(&system.nats.client, "stod.query.styrgrupp.steering", steering_q.clone()).await?;
    let shown_throughput: ThroughputReport =
        ask(&system.nats.client, "stod.query.styrgrupp.throughput", throughput_q.clone()).await?;
    let t = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Later, the project leader corrects the site and the exit outcome.
    pl.submit(
        one,
        Command::Correct {
            target: placed.event_ids[0],
            reason: CorrectionReason::EntryError,
            occurred_on: d("2025-01-20"),
            replacement: Fact::PlacementStarted(PlacementStarted {
                placement: PlacementNo(1),
                site: code("industrisparet"),
                work_area: code("montering"),
                hours_per_week: 20,
            }),
        },
    )
    .await?;
    let fixed = pl
        .submit(
            two,
            Command::Correct {
                target: exited.event_ids[0],
                reason: CorrectionReason::LateInformation,
                occurred_on: d("2025-03-01"),
                replacement: Fact::Exited(Exited {
                    outcome: ExitOutcome::EmploymentUnsubsidised,
                    support_at_exit: Some(code("lon")),
                }),
            },
        )
        .await?;
    system.projector()?.wait_for(fixed.stream_sequence).await?;
    let live_throughput: ThroughputReport =
        ask(&system.nats.client, "stod.query.styrgrupp.throughput", throughput_q).await?;
    let live_steering: SteeringReport = ask(&system.nats.client, "stod.query.styrgrupp.steering", steering_q).await?;
    assert_ne!(live_throughput, shown_throughput, "the corrections show in the live report");

    // Replay from the log as known at T.
    let log = read_log(&system.nats.js).await?;
    let then = records_at(log.iter().map(|e| (e.stream_sequence, &e.sealed.event)), Cutoff::RecordedBy(t));
    let journeys: Vec<_> = then.values().map(CaseRecord::journey).collect();
    assert_eq!(
        throughput(&journeys, Period::Year(2025), d("2025-12-31")),
        shown_throughput,
        "replay reproduces the report as shown"
    );
    let journeys_on: Vec<_> = then.values().map(|r| r.journey_on(d("2025-06-30"))).collect();
    assert_eq!(steering(&journeys_on, d("2025-06-30"), Some(d("2025-01-31"))), shown_steering);
    // The same by stream sequence.
    let by_seq =
        records_at(log.iter().map(|e| (e.stream_sequence, &e.sealed.event)), Cutoff::Sequence(exited.stream_sequence));
    assert_eq!(by_seq, then);

    // Figure by figure: exactly what the two corrections changed (worked out by hand).
    let changed: BTreeSet<String> =
        compare(&shown_throughput, &live_throughput).into_iter().map(|d| d.figure).collect();
    let expected: BTreeSet<String> = [
        "exits_by_outcome.studies",
        "exits_by_outcome.employment_unsubsidised",
        "exits_by_sus_group.studies",
        "exits_by_sus_group.employment",
        "exits_to_employment",
        "share_to_employment_percent",
        "by_site.vaderbacken",
        "by_site.industrisparet",
        "funnel.exited_to_employment",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(changed, expected);
    let steering_changed: BTreeSet<String> =
        compare(&shown_steering, &live_steering).into_iter().map(|d| d.figure).collect();
    // As of 30 June: case one's running placement moved site; case two's exit moved group.
    let expected: BTreeSet<String> = [
        "active_per_site.vaderbacken",
        "active_per_site.industrisparet",
        "since_previous.exits_by_sus_group.studies",
        "since_previous.exits_by_sus_group.employment",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(steering_changed, expected);
    system.shutdown().await;
    Ok(())
}

/// The live stream, read as stored, verifies intact; an export of it checks intact
/// offline and its chain heads match the stream's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_verifies_and_exports_intact() -> TestResult {
    let system = TestSystem::start().await?;
    let c = system.client("anna").await?;
    let subs = stod_demo::generate(&stod_demo::DemoParams {
        participants: 12,
        years: 1,
        seed: 8,
        today: Date::from_ymd(2025, 12, 31).unwrap(),
    });
    stod_demo::seed(&c, subs, 4, |_| {}).await?;
    let store = EventStore::open(system.nats.js.clone(), &EventLogConfig::default()).await?;
    let mut records = Vec::new();
    let last = store
        .read_raw(1, |m| {
            let case =
                m.subject.rsplit('.').next().and_then(|t| t.parse::<CaseId>().ok()).unwrap_or(CaseId::from([0; 16]));
            records.push(Record { stream_sequence: m.stream_sequence, subject_case: case, bytes: m.bytes });
        })
        .await?;
    assert_eq!(last, records.len() as u64);
    let v = stod_audit::verify(records.clone(), 1);
    assert!(v.intact(), "{:?}", v.findings);
    let dir = tempfile::tempdir()?;
    let (manifest, exported) = stod_audit::export(&dir.path().join("bundle"), records, 1, &Default::default())?;
    assert_eq!((manifest.events, manifest.last_sequence), (last, last));
    assert_eq!(exported.heads, v.heads);
    let check = stod_audit::check(&dir.path().join("bundle"))?;
    assert!(check.intact(), "{check:?}");
    system.shutdown().await;
    Ok(())
}
