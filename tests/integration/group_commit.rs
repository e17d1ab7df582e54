//! Group commit as a property: many commands at once, some racing on one case, some
//! independent, some retried, through two service instances that batch their appends.
//! Whatever the interleaving, the log must say exactly what the replies said.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use stod_audit::verify::{verify, Record};
use stod_client::ClientError;
use stod_events::case::Command;
use stod_events::ids::{CaseId, EventId, SubmissionId};
use stod_tests::journey::*;
use stod_tests::{TestResult, TestSystem};

use crate::write_path::group_commit;

/// One command of a generated round.
#[derive(Clone, Debug)]
enum Op {
    /// A placement on one of the round's open cases: races with the others on that
    /// case and is decided again when it loses (and accepted unless the case exited).
    Place(usize),
    /// An exit: refused while a placement is open or after another exit.
    Exit(usize),
    /// An intake on a case of its own: independent of everything else.
    Intake,
    /// The same submission as an earlier op, sent again at the same time.
    Retry(usize),
}

const CASES: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..CASES).prop_map(Op::Place),
        2 => (0..CASES).prop_map(Op::Exit),
        3 => Just(Op::Intake),
        2 => (0usize..32).prop_map(Op::Retry),
    ]
}

#[test]
fn group_commit_records_exactly_what_it_answers() -> TestResult {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let system = runtime.block_on(TestSystem::start_with(2, group_commit()))?;
    let client = runtime.block_on(system.client("anna"))?;
    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    let result = runner.run(&proptest::collection::vec(op(), 4..32), |ops| {
        runtime.block_on(round(&system, &client, &ops)).map_err(|e| TestCaseError::fail(e.to_string()))
    });
    let counts: Vec<_> = system.services().iter().filter_map(|s| s.handler().group_commit_counts()).collect();
    runtime.block_on(system.shutdown());
    result.map_err(|e| e.to_string())?;
    eprintln!("group commit: {counts:?}");
    assert!(counts.iter().map(|c| c.batches).sum::<u64>() > 0, "some commands were batched: {counts:?}");
    assert!(counts.iter().map(|c| c.refused_batches).sum::<u64>() > 0, "some batches held a conflict: {counts:?}");
    Ok(())
}

async fn round(system: &TestSystem, client: &stod_client::Client, ops: &[Op]) -> TestResult {
    let cases: Vec<CaseId> = (0..CASES).map(|_| CaseId::new()).collect();
    for case in &cases {
        client.submit(*case, at("2025-01-10", intake())).await?;
    }
    // Every op's submission: its own, or an earlier op's for a retry.
    let mut submissions: Vec<(SubmissionId, CaseId, Command)> = Vec::new();
    for op in ops {
        let next = match op {
            Op::Place(i) => (SubmissionId::new(), cases[*i], at("2025-01-20", place("vaderbacken"))),
            Op::Exit(i) => (SubmissionId::new(), cases[*i], at("2025-03-01", exit_to_job())),
            Op::Intake => (SubmissionId::new(), CaseId::new(), at("2025-02-01", intake())),
            Op::Retry(j) if !submissions.is_empty() => submissions[j % submissions.len()].clone(),
            Op::Retry(_) => (SubmissionId::new(), CaseId::new(), at("2025-02-01", intake())),
        };
        submissions.push(next);
    }
    let replies = futures::future::join_all(
        submissions.iter().map(|(sub, case, command)| client.submit_as(*sub, *case, command.clone())),
    )
    .await;

    // What the replies say, per submission.
    let mut accepted: BTreeMap<SubmissionId, BTreeSet<Vec<EventId>>> = BTreeMap::new();
    for ((sub, _, _), reply) in submissions.iter().zip(&replies) {
        match reply {
            Ok(a) => {
                accepted.entry(*sub).or_default().insert(a.event_ids.clone());
            }
            Err(ClientError::Rejected { .. }) => {}
            Err(e) => return Err(format!("neither accepted nor rejected: {e:?}").into()),
        }
    }

    let log = system.log().await?;
    let round_cases: BTreeSet<CaseId> = submissions.iter().map(|(_, c, _)| *c).chain(cases.iter().copied()).collect();
    let mut stored: BTreeMap<SubmissionId, Vec<EventId>> = BTreeMap::new();
    for e in log.iter().filter(|e| round_cases.contains(&e.sealed.event.case_id)) {
        stored.entry(e.sealed.event.submission_id).or_default().push(e.sealed.event.event_id);
    }
    for (sub, case, _) in &submissions {
        match accepted.get(sub) {
            Some(answers) => {
                let events = stored.get(sub).ok_or_else(|| format!("accepted {sub} on {case} is not in the log"))?;
                if events.len() != 1 {
                    return Err(format!("{sub} is in the log {} times", events.len()).into());
                }
                if answers.len() != 1 || !answers.contains(events) {
                    return Err(format!("{sub}: answered {answers:?}, stored {events:?}").into());
                }
            }
            None => {
                if stored.contains_key(sub) {
                    return Err(format!("rejected {sub} on {case} is in the log").into());
                }
            }
        }
    }
    let expected = CASES + accepted.len();
    let in_round: usize = stored.values().map(Vec::len).sum();
    if in_round != expected {
        return Err(format!("{in_round} events for this round, expected {expected}").into());
    }
    // Every case's chain and sequences, over the whole log so far.
    let records = log.iter().map(|e| Record {
        stream_sequence: e.stream_sequence,
        subject_case: e.sealed.event.case_id,
        bytes: e.sealed.bytes.clone(),
    });
    let verification = verify(records, 1);
    if !verification.intact() {
        return Err(format!("the chains do not verify: {:?}", verification.findings).into());
    }
    Ok(())
}
