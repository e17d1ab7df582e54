//! Synthetic but realistic participant journeys, reproducible from a seed.
//!
//! [`generate`] is pure: the same [`DemoParams`] give the same commands, ids included,
//! on every machine and in every future version of this crate (it uses its own
//! SplitMix64 generator, not a library whose sequence could change). Every command is
//! checked with the real case rules while generating, so the demo never asks for
//! something a case worker could not do. [`seed`] submits them through the real
//! command path.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use stod_events::case::{decide, Action, CaseState, Command, Context, TrainingRef};
use stod_events::codec;
use stod_events::event::*;
use stod_events::ids::*;
use stod_events::reference::Catalogue;
use stod_events::SealedEvent;
use uuid::Uuid;

/// What to generate.
#[derive(Clone, Debug)]
pub struct DemoParams {
    /// Participants over the whole span.
    pub participants: u32,
    /// Years of history, ending at `today`.
    pub years: u32,
    pub seed: u64,
    /// No business date after this day.
    pub today: Date,
}

/// One command to submit, in the order to submit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub case_id: CaseId,
    pub submission_id: SubmissionId,
    pub user: UserId,
    pub command: Command,
    /// For a correction: the submission that recorded the fact it corrects. Event ids
    /// are assigned when a command is recorded, so the target is resolved then.
    pub corrects_submission: Option<SubmissionId>,
}

/// The event id used for a submission's event when events are made locally
/// ([`generate`]'s own checks, [`seal_locally`]): derived from the submission, so
/// reproducible.
fn local_event_id(submission: SubmissionId) -> EventId {
    EventId::from_uuid(*submission.as_uuid())
}

/// SplitMix64: tiny, good enough for synthetic data, and fixed forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// Picks by weight.
    fn pick<'a, T>(&mut self, weighted: &'a [(u64, T)]) -> &'a T {
        let total: u64 = weighted.iter().map(|(w, _)| w).sum();
        let mut r = self.next() % total.max(1);
        for (w, t) in weighted {
            if r < *w {
                return t;
            }
            r -= w;
        }
        &weighted[weighted.len() - 1].1
    }
    fn pick_str(&mut self, weighted: &[(u64, &'static str)]) -> &'static str {
        self.pick::<&'static str>(weighted)
    }
    fn pick_code(&mut self, weighted: &[(u64, &'static str)]) -> Code {
        code(self.pick_str(weighted))
    }
    fn uuid(&mut self) -> Uuid {
        // Version 4 layout with random bits from the generator.
        uuid::Builder::from_random_bytes(((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes())
            .into_uuid()
    }
}

fn add_days(date: Date, days: u64) -> Date {
    Date::new(date.naive().checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX))
}

fn code(s: &str) -> Code {
    // Only called with literal codes from the default catalogue.
    Code::parse(s).unwrap_or_else(|e| panic!("demo code {s:?}: {e}"))
}

const USERS: [&str; 4] = ["anna", "bertil", "cecilia", "projektledare"];

/// Generates the commands of `params.participants` journeys, in submission order.
pub fn generate(params: &DemoParams) -> Vec<Submission> {
    let mut rng = Rng(params.seed);
    let catalogue = Catalogue::default_catalogue();
    let span_days = u64::from(params.years.max(1)) * 365;
    let first_day = Date::new(params.today.naive().checked_sub_days(Days::new(span_days)).unwrap_or(NaiveDate::MIN));
    // (date, tie-breaker, submission): sorted by date so cases interleave as in life.
    let mut planned: Vec<(Date, u64, Submission)> = Vec::new();
    let mut counter = 0u64;
    for _ in 0..params.participants {
        let case_id = CaseId::from_uuid(rng.uuid());
        let user = UserId::parse(USERS[rng.range(0, 2) as usize]).unwrap_or_else(|_| unreachable!());
        let intake_day = add_days(first_day, rng.range(0, span_days.saturating_sub(1)));
        let mut steps: Vec<(Date, Command)> = Vec::new();
        let at = |date: Date, action: Action| (date, Command::Record { occurred_on: date, action });
        let consented = rng.chance(88);
        let gender = *rng.pick(&[(55, Gender::Woman), (43, Gender::Man), (2, Gender::Other)]);
        let registration = if consented {
            Registration::Consented(EnrolmentDetails {
                municipality: rng.pick_code(&[(70, "2084"), (30, "2061")]),
                referrer: rng.pick_code(&[
                    (35, "ame-ludvika"),
                    (15, "ame-smedjebacken"),
                    (25, "af"),
                    (8, "fk"),
                    (7, "socialtjansten"),
                    (5, "region-dalarna"),
                    (5, "egen"),
                ]),
                support_at_start: rng.pick_code(&[
                    (45, "forsorjningsstod"),
                    (20, "sjuk-aktivitetsersattning"),
                    (10, "sjukpenning"),
                    (12, "aktivitetsstod"),
                    (5, "a-kassa"),
                    (8, "ingen"),
                ]),
                birth_year: (intake_day.year() - rng.range(19, 62) as i32) as u16,
                region_of_birth: Some(*rng.pick(&[
                    (55, RegionOfBirth::Sweden),
                    (10, RegionOfBirth::Europe),
                    (35, RegionOfBirth::OutsideEurope),
                ])),
            })
        } else {
            Registration::Anonymous(
                *rng.pick(&[(85, AnonymityReason::NoConsent), (15, AnonymityReason::ProtectedIdentity)]),
            )
        };
        let participant = ParticipantRef::from_uuid(rng.uuid());
        steps.push(at(intake_day, Action::Enroll { participant, gender, registration }));

        let exit_day = add_days(intake_day, rng.range(120, 420));
        let mut day = intake_day;
        let mut placement_no = 0u16;
        let mut training_no = 0u16;
        // One or two placements.
        if rng.chance(85) {
            let placements = if rng.chance(30) { 2 } else { 1 };
            for _ in 0..placements {
                let start = add_days(day, rng.range(3, 45));
                let end = add_days(start, rng.range(30, 200)).min(add_days(exit_day, 0));
                if start >= end {
                    break;
                }
                placement_no += 1;
                let (site, area) = *rng.pick(&[
                    (40, ("industrisparet", "montering")),
                    (10, ("industrisparet", "somnad")),
                    (8, ("industrisparet", "forpackning")),
                    (10, ("atervinningsbutiken", "butik")),
                    (8, ("luddes-hundcenter", "djurskotsel")),
                    (8, ("disponentparken", "fastighet-utemiljo")),
                    (8, ("odla-pa-angen", "odling")),
                    (8, ("vaderbacken", "kok-cafe")),
                ]);
                let hours = *rng.pick(&[(20, 10u8), (40, 20), (25, 30), (15, 40)]);
                steps.push(at(
                    start,
                    Action::StartPlacement { site: code(site), work_area: code(area), hours_per_week: hours },
                ));
                let reason = *rng.pick(&[
                    (60, PlacementEndReason::Completed),
                    (15, PlacementEndReason::NewPlacement),
                    (10, PlacementEndReason::Employment),
                    (8, PlacementEndReason::Health),
                    (7, PlacementEndReason::Discontinued),
                ]);
                steps.push(at(end, Action::EndPlacement { placement: PlacementNo(placement_no), reason }));
                day = end;
            }
        }
        // A course.
        if rng.chance(45) {
            let start = add_days(intake_day, rng.range(10, 90));
            let (course, provider) = *rng.pick(&[
                (35, ("sfi", "vbu-komvux")),
                (15, ("truckkort", "af-leverantor")),
                (15, ("hygien", "vbu-komvux")),
                (10, ("heta-arbeten", "af-leverantor")),
                (15, ("industri-grund", "stodplattformen")),
                (10, ("digital-grund", "studieforbund")),
            ]);
            training_no += 1;
            steps.push(at(start, Action::StartTraining { course: code(course), provider: code(provider) }));
            let done = add_days(start, rng.range(14, 120)).min(exit_day);
            if rng.chance(85) {
                steps.push(at(
                    done,
                    Action::CompleteTraining {
                        training: TrainingRef::Started(TrainingNo(training_no)),
                        hours: rng.range(8, 300) as u16,
                        credential_earned: rng.chance(80),
                    },
                ));
            } else {
                steps.push(at(
                    done,
                    Action::DiscontinueTraining {
                        training: TrainingNo(training_no),
                        reason: *rng.pick(&[
                            (40, TrainingDiscontinuedReason::NotSuitable),
                            (30, TrainingDiscontinuedReason::Health),
                            (30, TrainingDiscontinuedReason::Employment),
                        ]),
                    },
                ));
            }
        }
        // Assessments every three months or so.
        let mut assess_day = add_days(intake_day, rng.range(7, 30));
        let mut level = rng.range(2, 5);
        while assess_day < exit_day {
            let scores = [
                "job-skills",
                "motivation",
                "job-search",
                "stability",
                "basic-skills",
                "workplace-social",
                "challenges",
            ]
            .iter()
            .map(|a| AreaScore { area: code(a), score: (level + rng.range(0, 2)).min(10) as u8 })
            .collect();
            steps.push(at(
                assess_day,
                Action::AssessProgress {
                    instrument: code("work-star"),
                    assessor: *rng.pick(&[(30, Assessor::Participant), (20, Assessor::Staff), (50, Assessor::Joint)]),
                    scores,
                },
            ));
            level = (level + rng.range(0, 2)).min(9);
            assess_day = add_days(assess_day, rng.range(75, 110));
        }
        // Exit.
        let outcome = *rng.pick(&[
            (30, ExitOutcome::EmploymentUnsubsidised),
            (15, ExitOutcome::EmploymentSubsidised),
            (15, ExitOutcome::Studies),
            (20, ExitOutcome::MovedCloser),
            (5, ExitOutcome::OtherProgramme),
            (8, ExitOutcome::Health),
            (3, ExitOutcome::Moved),
            (4, ExitOutcome::Discontinued),
        ]);
        let support_at_exit = consented.then(|| {
            code(match outcome.sus_group() {
                SusOutcomeGroup::Employment => "lon",
                SusOutcomeGroup::Studies => "studiemedel",
                _ => {
                    rng.pick_str(&[(50, "forsorjningsstod"), (25, "aktivitetsstod"), (25, "sjuk-aktivitetsersattning")])
                }
            })
        });
        steps.push(at(exit_day, Action::Exit { outcome, support_at_exit }));
        if rng.chance(60) {
            let status = *rng.pick(&[
                (60, FollowUpStatus::Employed),
                (15, FollowUpStatus::Studying),
                (15, FollowUpStatus::NeitherEmployedNorStudying),
                (10, FollowUpStatus::NoContact),
            ]);
            steps.push(at(add_days(exit_day, 92), Action::FollowUp { point: FollowUpPoint::Months3, status }));
        }

        // Keep what has happened by today, checked by the real rules, in date order.
        steps.sort_by_key(|(d, _)| *d);
        let mut state = CaseState::default();
        let ctx = Context { today: params.today, catalogue: &catalogue, open_case_of_participant: None };
        let apply = |state: &mut CaseState, submission_id: SubmissionId, user: &UserId, command: &Command| -> bool {
            let Ok(new) = decide(state, command, &ctx) else { return false };
            for n in new {
                let mut ev = n.record(
                    case_id,
                    submission_id,
                    user.clone(),
                    Timestamp::from_micros(0).unwrap_or_else(Timestamp::now),
                );
                ev.event_id = local_event_id(submission_id);
                if let Ok(sealed) = codec::seal(ev, &state.last_hash) {
                    state.evolve(&sealed);
                }
            }
            true
        };
        for (date, command) in steps.into_iter().filter(|(d, _)| *d <= params.today) {
            let submission_id = SubmissionId::from_uuid(rng.uuid());
            if !apply(&mut state, submission_id, &user, &command) {
                continue;
            }
            counter += 1;
            planned.push((
                date,
                counter,
                Submission { case_id, submission_id, user: user.clone(), command, corrects_submission: None },
            ));
            // Now and then a project leader fixes a date or a site.
            if rng.chance(3) {
                if let Some(fix) = correction(&mut rng, &state, date) {
                    let correcting = SubmissionId::from_uuid(rng.uuid());
                    let project_leader = UserId::parse("projektledare").unwrap_or_else(|_| unreachable!());
                    if apply(&mut state, correcting, &project_leader, &fix) {
                        counter += 1;
                        planned.push((
                            date,
                            counter,
                            Submission {
                                case_id,
                                submission_id: correcting,
                                user: project_leader,
                                command: fix,
                                corrects_submission: Some(submission_id),
                            },
                        ));
                    }
                }
            }
        }
    }
    planned.sort_by_key(|(d, n, _)| (*d, *n));
    planned.into_iter().map(|(_, _, s)| s).collect()
}

/// A plausible correction of the case's latest fact: another site for a placement, or
/// the day before for anything else.
fn correction(rng: &mut Rng, state: &CaseState, today: Date) -> Option<Command> {
    let last = state.facts.iter().rev().find(|f| !f.retracted)?;
    if let Fact::Enrolled(_) = last.fact {
        return None;
    }
    let (occurred_on, replacement, reason) = match &last.fact {
        Fact::PlacementStarted(p) => {
            let mut p = p.clone();
            p.site = code(if p.site.as_str() == "vaderbacken" { "odla-pa-angen" } else { "vaderbacken" });
            (last.occurred_on, Fact::PlacementStarted(p), CorrectionReason::EntryError)
        }
        other => {
            let earlier = Date::new(last.occurred_on.naive().pred_opt()?);
            let _ = rng.next();
            (earlier, other.clone(), CorrectionReason::WrongDate)
        }
    };
    (occurred_on <= today).then_some(Command::Correct { target: last.event_id, reason, occurred_on, replacement })
}

/// Plays the submissions through the case rules locally and returns the events as
/// the command service would have stored them (ids from the submissions, chains
/// sealed). For benchmarks and tests that need many events fast, without the
/// command path in between.
pub fn seal_locally(submissions: &[Submission], today: Date) -> Vec<SealedEvent> {
    let catalogue = Catalogue::default_catalogue();
    let mut cases: HashMap<CaseId, CaseState> = HashMap::new();
    let mut out = Vec::with_capacity(submissions.len());
    for (i, s) in submissions.iter().enumerate() {
        let state = cases.entry(s.case_id).or_default();
        let ctx = Context { today, catalogue: &catalogue, open_case_of_participant: None };
        let Ok(new) = decide(state, &s.command, &ctx) else { continue };
        for n in new {
            let mut ev = n.record(
                s.case_id,
                s.submission_id,
                s.user.clone(),
                Timestamp::from_micros(1_700_000_000_000_000 + i as i64 * 1000).unwrap_or_else(Timestamp::now),
            );
            ev.event_id = local_event_id(s.submission_id);
            if let Ok(sealed) = codec::seal(ev, &state.last_hash) {
                state.evolve(&sealed);
                out.push(sealed);
            }
        }
    }
    out
}

/// How a seeding run went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub submitted: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

/// Submits through the real command path: cases in parallel (`concurrency` at a
/// time), each case's commands in order. Submitting the same demo twice records
/// nothing new (same submission ids). `progress` is called after each submission.
pub async fn seed(
    client: &stod_client::Client,
    submissions: Vec<Submission>,
    concurrency: usize,
    progress: impl Fn(&SeedReport) + Send + Sync,
) -> Result<SeedReport, stod_client::ClientError> {
    use futures::StreamExt;
    // Group by case, keeping order; interleave cases by their first command.
    let mut order: Vec<CaseId> = Vec::new();
    let mut by_case: HashMap<CaseId, Vec<Submission>> = HashMap::new();
    for s in submissions {
        if !by_case.contains_key(&s.case_id) {
            order.push(s.case_id);
        }
        by_case.entry(s.case_id).or_default().push(s);
    }
    let report = std::sync::Mutex::new(SeedReport::default());
    let progress = &progress;
    let report_ref = &report;
    let results: Vec<Result<(), stod_client::ClientError>> =
        futures::stream::iter(order.into_iter().map(|case| by_case.remove(&case).unwrap_or_default()))
            .map(|subs| async move {
                let mut recorded: HashMap<SubmissionId, EventId> = HashMap::new();
                for s in subs {
                    let mut command = s.command;
                    if let (Some(target_submission), Command::Correct { target, .. }) =
                        (s.corrects_submission, &mut command)
                    {
                        match recorded.get(&target_submission) {
                            Some(id) => *target = *id,
                            None => continue, // its target was not recorded; neither is the fix
                        }
                    }
                    let user_client = client.as_user(s.user.clone());
                    let result = user_client.submit_as(s.submission_id, s.case_id, command).await;
                    if let Ok(a) = &result {
                        if let Some(id) = a.event_ids.first() {
                            recorded.insert(s.submission_id, *id);
                        }
                    }
                    let snapshot = {
                        let mut r = report_ref.lock().unwrap_or_else(|p| p.into_inner());
                        r.submitted += 1;
                        match &result {
                            Ok(a) if a.duplicate => r.duplicates += 1,
                            Ok(_) => r.accepted += 1,
                            Err(stod_client::ClientError::Rejected { .. }) => r.rejected += 1,
                            Err(_) => {}
                        }
                        r.clone()
                    };
                    progress(&snapshot);
                    match result {
                        Ok(_) | Err(stod_client::ClientError::Rejected { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(report.into_inner().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64) -> DemoParams {
        DemoParams { participants: 60, years: 2, seed, today: Date::from_ymd(2025, 12, 31).unwrap() }
    }

    #[test]
    fn the_same_seed_gives_the_same_demo() {
        // Compared without Debug output: a failure would print thousands of lines.
        assert!(generate(&params(7)) == generate(&params(7)), "same seed, same demo");
        assert!(generate(&params(7)) != generate(&params(8)), "another seed, another demo");
    }

    #[test]
    fn every_generated_command_is_accepted_by_the_rules() {
        let subs = generate(&params(3));
        let sealed = seal_locally(&subs, Date::from_ymd(2025, 12, 31).unwrap());
        assert_eq!(sealed.len(), subs.len(), "no generated command is rejected");
        let intakes = sealed.iter().filter(|e| e.event.event_type() == EventType::Enrolled).count();
        assert_eq!(intakes, 60);
        assert!(sealed.iter().any(|e| e.event.event_type() == EventType::Corrected), "some corrections");
        assert!(sealed.iter().all(|e| e.event.occurred_on <= Date::from_ymd(2025, 12, 31).unwrap()));
    }
}
