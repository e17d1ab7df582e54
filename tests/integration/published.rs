//! The days published reports stand on (`stod_projections::publication`), against the
//! projector on a real nats-server: a styrgrupp or finansiär user asking for two days
//! in a row to see what happened to one person in between gets refusals, and every
//! answer standing before the month of a person's change is the same byte for byte
//! before and after the change is recorded.

use std::time::Duration;

use serde_json::{json, Value};
use stod_events::ids::{CaseId, Date};
use stod_projections::publication;
use stod_tests::journey::*;
use stod_tests::{read_log, TestResult, TestSystem};

async fn ask(system: &TestSystem, name: &str, body: &Value) -> TestResult<Value> {
    let subject = format!("stod.query.styrgrupp.{name}");
    let reply = stod_tests::request(&system.nats.client, subject, serde_json::to_vec(body)?).await?;
    Ok(serde_json::from_slice(&reply.payload)?)
}

async fn caught_up(system: &TestSystem) -> TestResult {
    let last = read_log(&system.nats.js).await?.len() as u64;
    tokio::time::timeout(Duration::from_secs(30), system.projector()?.wait_for(last)).await??;
    Ok(())
}

fn days(from: &str, to: &str) -> Vec<Date> {
    let (mut day, to) = (d(from).naive(), d(to).naive());
    let mut out = Vec::new();
    while day <= to {
        out.push(Date::new(day));
        day = day.succ_opt().unwrap();
    }
    out
}

/// Every question a published role can ask that stands on a day before `before`: the
/// steering status as of each month end of 2025 (with and without the previous month
/// end as the previous meeting), and the throughput of the year, the quarter and the
/// month as known on each.
fn questions_before(before: Date) -> Vec<(&'static str, Value)> {
    let ends: Vec<Date> =
        days("2025-01-01", "2025-12-31").into_iter().filter(|d| publication::is_month_end(*d) && *d < before).collect();
    let mut out = Vec::new();
    for (i, end) in ends.iter().enumerate() {
        out.push(("published-steering", json!({ "as_of": end })));
        if i > 0 {
            out.push(("published-steering", json!({ "as_of": end, "previous_meeting": ends[i - 1] })));
        }
        for period in ["2025", "2025-Q4", "2025-10", "2025-11"] {
            out.push(("published-throughput", json!({ "period": period, "today": end })));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adjacent_days_cannot_be_asked_for_and_a_change_shows_only_at_its_month_end() -> TestResult {
    let system = TestSystem::start_with_projector().await?;
    let anna = system.client("anna").await?;
    let today = stod_events::ids::Date::from_ymd(2025, 12, 31).ok_or("date")?;
    let subs = stod_demo::generate(&stod_demo::DemoParams { participants: 30, years: 2, seed: 5, today });
    stod_demo::seed(&anna, subs, 4, |_| {}).await?;
    // The one person whose change an insider wants to read: in since March, leaves for
    // a job on 14 November.
    let case = CaseId::new();
    anna.submit(case, at("2025-03-03", intake())).await?;
    anna.submit(case, at("2025-03-10", place("industrisparet"))).await?;
    caught_up(&system).await?;

    let questions = questions_before(d("2025-11-30"));
    let month_end_question = json!({ "as_of": "2025-11-30", "previous_meeting": "2025-10-31" });
    let month_end_before = ask(&system, "published-steering", &month_end_question).await?;
    let mut before = Vec::new();
    for (name, body) in &questions {
        let answer = ask(&system, name, body).await?;
        assert_eq!(answer["status"], "ok", "{name} {body}: {answer}");
        before.push(answer);
    }

    anna.submit(case, at("2025-11-14", end_placement(1))).await?;
    anna.submit(case, at("2025-11-14", exit_to_job())).await?;
    caught_up(&system).await?;

    // Every answer standing before the month end of the change is unchanged, byte for
    // byte (checkpoint and generation aside, which only say how far the log was read).
    for ((name, body), then) in questions.iter().zip(&before) {
        let now = ask(&system, name, body).await?;
        assert_eq!(now["report"], then["report"], "{name} {body} changed before the month of the change ended");
    }
    // At the month end it shows, among the month's other changes.
    let at_end = ask(&system, "published-steering", &month_end_question).await?;
    assert_eq!(at_end["status"], "ok", "{at_end}");
    assert_ne!(at_end["report"], month_end_before["report"], "the November exit is in the November status");

    // The days around it, asked for in every date parameter, are refused, each refusal
    // naming the month ends that would do.
    let mut refused = 0;
    for day in days("2025-11-01", "2025-12-30").into_iter().filter(|d| !publication::is_month_end(*d)) {
        for (name, body) in [
            ("published-steering", json!({ "as_of": day })),
            ("published-steering", json!({ "as_of": "2025-12-31", "previous_meeting": day })),
            ("published-throughput", json!({ "period": "2025", "today": day })),
            ("published-throughput", json!({ "period": "2025-11", "today": day })),
        ] {
            let answer = ask(&system, name, &body).await?;
            assert_eq!(answer["status"], "invalid", "{name} {body}: {answer}");
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("månadsslut") && message.contains(&publication::month_end(day).to_string()),
                "{message}"
            );
            refused += 1;
        }
    }
    println!("{refused} questions for days that are not month ends refused; {} answers unchanged", questions.len());

    // The current month's end, which has not passed, is refused too; "today" in a
    // published report is the last month end that has.
    let now = stod_events::sweden::today();
    let this_month = ask(&system, "published-steering", &json!({ "as_of": publication::month_end(now) })).await?;
    assert_eq!(this_month["status"], "invalid", "{this_month}");
    let latest = publication::latest(now);
    let implicit = ask(&system, "published-throughput", &json!({ "period": latest.year().to_string() })).await?;
    let explicit =
        ask(&system, "published-throughput", &json!({ "period": latest.year().to_string(), "today": latest })).await?;
    assert_eq!(implicit["status"], "ok", "{implicit}");
    assert_eq!(implicit["report"], explicit["report"], "no today means the last passed month end");
    assert_eq!(implicit["report"]["goal"]["as_of"], json!(latest));
    system.shutdown().await;
    Ok(())
}
