//! A hand-made year: 13 participants (two carried in from 2024), one correction and
//! one retraction. Every expected figure below was worked out by hand from the
//! scenario (the working is in the comments), not computed by the code under test.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use stod_events::event::*;
use stod_events::ids::*;
use stod_events::RecordedEvent;
use stod_projections::period::Period;
use stod_projections::{fold_all, steering, throughput, CaseRecord, Journey};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

#[derive(Default)]
struct Log {
    events: Vec<(u64, RecordedEvent)>,
}

struct Person {
    case: CaseId,
}

impl Log {
    fn push(&mut self, case: CaseId, date: &str, event: Event) -> EventId {
        let id = EventId::new();
        let seq = self.events.len() as u64 + 1;
        self.events.push((
            seq,
            RecordedEvent {
                event_id: id,
                case_id: case,
                occurred_on: d(date),
                recorded_at: Timestamp::from_micros(1_735_689_600_000_000 + seq as i64 * 1_000_000).unwrap(),
                recorded_by: UserId::parse("handlaggare").unwrap(),
                submission_id: SubmissionId::new(),
                event,
            },
        ));
        id
    }

    fn fact(&mut self, case: CaseId, date: &str, fact: Fact) -> EventId {
        self.push(case, date, Event::Fact(fact))
    }

    #[allow(clippy::too_many_arguments)]
    fn enroll(&mut self, date: &str, gender: Gender, muni: &str, referrer: &str, support: &str) -> (Person, EventId) {
        let case = CaseId::new();
        let id = self.fact(
            case,
            date,
            Fact::Enrolled(Enrolled {
                participant: ParticipantRef::new(),
                gender,
                registration: Registration::Consented(EnrolmentDetails {
                    municipality: code(muni),
                    referrer: code(referrer),
                    support_at_start: code(support),
                    birth_year: 1985,
                    region_of_birth: None,
                }),
            }),
        );
        (Person { case }, id)
    }

    fn place(&mut self, p: &Person, date: &str, n: u16, site: &str, area: &str) -> EventId {
        self.fact(
            p.case,
            date,
            Fact::PlacementStarted(PlacementStarted {
                placement: PlacementNo(n),
                site: code(site),
                work_area: code(area),
                hours_per_week: 20,
            }),
        )
    }

    fn end_placement(&mut self, p: &Person, date: &str, n: u16, reason: PlacementEndReason) {
        self.fact(p.case, date, Fact::PlacementEnded(PlacementEnded { placement: PlacementNo(n), reason }));
    }

    fn exit(&mut self, p: &Person, date: &str, outcome: ExitOutcome, support: Option<&str>) {
        self.fact(p.case, date, Fact::Exited(Exited { outcome, support_at_exit: support.map(code) }));
    }

    fn assess(&mut self, p: &Person, date: &str) {
        self.fact(
            p.case,
            date,
            Fact::ProgressAssessed(ProgressAssessed {
                instrument: code("work-star"),
                assessor: Assessor::Joint,
                scores: vec![AreaScore { area: code("stability"), score: 5 }],
            }),
        );
    }

    fn records(&self, up_to: usize) -> BTreeMap<CaseId, CaseRecord> {
        fold_all(self.events[..up_to].iter().map(|(s, e)| (*s, e)))
    }

    fn journeys(&self) -> Vec<Journey> {
        self.records(self.events.len()).values().map(CaseRecord::journey).collect()
    }

    fn journeys_on(&self, date: &str) -> Vec<Journey> {
        self.records(self.events.len()).values().map(|r| r.journey_on(d(date))).collect()
    }
}

struct Scenario {
    log: Log,
    /// Log length just before the correction and just before the retraction.
    before_correction: usize,
    before_retraction: usize,
}

/// W = woman, M = man; L = Ludvika (2084), S = Smedjebacken (2061).
fn scenario() -> Scenario {
    use ExitOutcome::*;
    use Gender::{Man as M, Woman as W};
    let mut log = Log::default();
    // Carried in from 2024.
    let (p1, _) = log.enroll("2024-10-01", W, "2084", "ame-ludvika", "forsorjningsstod");
    log.place(&p1, "2024-10-15", 1, "industrisparet", "montering");
    let (_p2, _) = log.enroll("2024-11-15", M, "2061", "ame-smedjebacken", "sjuk-aktivitetsersattning");
    // 2025.
    let (p3, _) = log.enroll("2025-01-15", W, "2084", "ame-ludvika", "forsorjningsstod");
    log.place(&p3, "2025-02-01", 1, "atervinningsbutiken", "butik");
    log.fact(
        p3.case,
        "2025-02-10",
        Fact::TrainingStarted(TrainingStarted {
            training: TrainingNo(1),
            course: code("sfi"),
            provider: code("vbu-komvux"),
        }),
    );
    let (p4, _) = log.enroll("2025-02-03", W, "2084", "af", "a-kassa");
    log.place(&p4, "2025-02-10", 1, "luddes-hundcenter", "djurskotsel");
    log.assess(&p3, "2025-03-01");
    let (p5, _) = log.enroll("2025-03-01", M, "2061", "ame-smedjebacken", "forsorjningsstod");
    log.place(&p5, "2025-03-15", 1, "industrisparet", "forpackning");
    let (p6, _) = log.enroll("2025-03-20", W, "2061", "ame-smedjebacken", "sjukpenning");
    log.end_placement(&p1, "2025-03-31", 1, PlacementEndReason::Employment);
    log.exit(&p1, "2025-04-01", EmploymentUnsubsidised, Some("lon"));
    log.place(&p6, "2025-04-01", 1, "vaderbacken", "odling");
    let p7 = Person { case: CaseId::new() };
    log.fact(
        p7.case,
        "2025-04-10",
        Fact::Enrolled(Enrolled {
            participant: ParticipantRef::new(),
            gender: W,
            registration: Registration::Anonymous(AnonymityReason::NoConsent),
        }),
    );
    let (p8, _) = log.enroll("2025-05-05", M, "2084", "af", "aktivitetsstod");
    log.place(&p8, "2025-05-12", 1, "industrisparet", "maskinarbete");
    log.end_placement(&p6, "2025-05-15", 1, PlacementEndReason::Health);
    log.exit(&p6, "2025-05-20", Health, Some("sjukpenning"));
    log.fact(
        p3.case,
        "2025-05-20",
        Fact::TrainingCompleted(TrainingCompleted {
            training: TrainingNo(1),
            course: code("sfi"),
            provider: code("vbu-komvux"),
            hours: 120,
            credential_earned: true,
        }),
    );
    let (p9, _) = log.enroll("2025-06-02", W, "2084", "ame-ludvika", "forsorjningsstod");
    log.exit(&p7, "2025-06-10", MovedCloser, None);
    log.place(&p9, "2025-06-16", 1, "disponentparken", "fastighet-utemiljo");
    log.assess(&p9, "2025-06-20");
    log.end_placement(&p3, "2025-06-30", 1, PlacementEndReason::Completed);
    log.exit(&p3, "2025-07-01", Studies, Some("studiemedel"));
    let (p10, p10_intake) = log.enroll("2025-08-18", M, "2084", "ame-ludvika", "forsorjningsstod");
    let (p11, _) = log.enroll("2025-09-01", W, "2061", "ame-smedjebacken", "forsorjningsstod");
    // Recorded at the wrong site first...
    let wrong = log.place(&p11, "2025-09-08", 1, "odla-pa-angen", "somnad");
    log.end_placement(&p5, "2025-09-30", 1, PlacementEndReason::Employment);
    log.exit(&p5, "2025-10-01", EmploymentSubsidised, Some("lon"));
    let (p12, _) = log.enroll("2025-11-10", M, "2084", "egen", "ingen");
    log.end_placement(&p8, "2025-11-30", 1, PlacementEndReason::Completed);
    log.exit(&p8, "2025-12-01", MovedCloser, Some("a-kassa"));
    let (_p13, _) = log.enroll("2025-12-01", W, "2084", "ame-ludvika", "forsorjningsstod");
    let _ = p12;
    // ...then corrected to the industrial track.
    let before_correction = log.events.len();
    log.push(
        p11.case,
        "2025-09-08",
        Event::Corrected(Corrected {
            target: wrong,
            reason: CorrectionReason::EntryError,
            replacement: Fact::PlacementStarted(PlacementStarted {
                placement: PlacementNo(1),
                site: code("industrisparet"),
                work_area: code("somnad"),
                hours_per_week: 20,
            }),
        }),
    );
    // P10 was registered in error: the intake is retracted, the case is void.
    let before_retraction = log.events.len();
    log.push(
        p10.case,
        "2025-08-18",
        Event::Retracted(Retracted { target: p10_intake, reason: CorrectionReason::WrongCase }),
    );
    Scenario { log, before_correction, before_retraction }
}

fn map<K: Ord + Clone>(pairs: &[(K, u32)]) -> BTreeMap<K, u32> {
    pairs.iter().cloned().collect()
}

fn strings(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn throughput_for_the_year() {
    let s = scenario();
    let r = throughput(&s.log.journeys(), Period::Year(2025), d("2025-12-31"));
    // In the operation at some time in 2025: P1–P9, P11–P13 (P10 void) = 12.
    assert_eq!(r.persons, 12);
    // Intakes in 2025: P3–P9, P11, P12, P13 = 10.
    assert_eq!(r.intakes, 10);
    // Active on 31 Dec: P2, P4, P9, P11, P12, P13.
    assert_eq!(r.active_at_end, 6);
    // Exits: P1 job, P3 studies, P5 subsidised job, P6 health, P7 and P8 closer.
    assert_eq!(r.exits, 6);
    use ExitOutcome::*;
    assert_eq!(
        r.exits_by_outcome,
        map(&[(EmploymentUnsubsidised, 1), (EmploymentSubsidised, 1), (Studies, 1), (MovedCloser, 2), (Health, 1)])
    );
    use SusOutcomeGroup as G;
    assert_eq!(r.exits_by_sus_group, map(&[(G::Employment, 2), (G::Studies, 1), (G::JobSeeking, 2), (G::Other, 1)]));
    assert_eq!((r.exits_to_employment, r.exits_to_throughput), (2, 5));
    // 2/6 = 33 %, 5/6 = 83 %.
    assert_eq!((r.share_to_employment_percent, r.share_to_throughput_percent), (Some(33), Some(83)));
    // First placements in 2025, days after intake: P3 17, P4 7, P5 14, P6 12, P8 7,
    // P9 14, P11 7 → 7 7 7 12 14 14 17 → 12.
    assert_eq!(r.median_days_to_first_placement, Some(12));
    // Days to exit: P1 182, P3 167, P5 214, P6 61, P7 61, P8 210 → (167+182)/2 = 174.
    assert_eq!(r.median_days_to_exit, Some(174));
    assert_eq!(r.by_municipality, strings(&[("2084", 7), ("2061", 4), ("ej_registrerat", 1)]));
    assert_eq!(
        r.by_referrer,
        strings(&[("ame-ludvika", 4), ("ame-smedjebacken", 4), ("af", 2), ("egen", 1), ("ej_registrerat", 1)])
    );
    assert_eq!(r.by_gender, map(&[(Gender::Woman, 8), (Gender::Man, 4)]));
    assert_eq!(
        r.by_support_at_start,
        strings(&[
            ("forsorjningsstod", 6),
            ("sjuk-aktivitetsersattning", 1),
            ("a-kassa", 1),
            ("sjukpenning", 1),
            ("aktivitetsstod", 1),
            ("ingen", 1),
            ("ej_registrerat", 1)
        ])
    );
    // Placements running in 2025: industrisparet P1, P5, P8, P11 (corrected).
    assert_eq!(
        r.by_site,
        strings(&[
            ("industrisparet", 4),
            ("atervinningsbutiken", 1),
            ("luddes-hundcenter", 1),
            ("vaderbacken", 1),
            ("disponentparken", 1)
        ])
    );
    assert_eq!(r.by_work_area.len(), 8);
    assert_eq!(r.by_work_area["somnad"], 1);
    // Cohort of the 10 intakes: 7 placed, 1 trained, 5 exited (P3 P5 P6 P7 P8), 1 to a job (P5).
    assert_eq!(
        (
            r.funnel.intakes,
            r.funnel.with_placement,
            r.funnel.with_training,
            r.funnel.exited,
            r.funnel.exited_to_employment
        ),
        (10, 7, 1, 5, 1)
    );
    let months: Vec<(u32, u32, u32)> = r.months.iter().map(|m| (m.intakes, m.exits, m.active_at_end)).collect();
    assert_eq!(
        months,
        [
            (1, 0, 3), // Jan: P3 in; P1 P2 P3
            (1, 0, 4), // Feb: P4
            (2, 0, 6), // Mar: P5 P6
            (1, 1, 6), // Apr: P7 in, P1 out
            (1, 1, 6), // May: P8 in, P6 out
            (1, 1, 6), // Jun: P9 in, P7 out
            (0, 1, 5), // Jul: P3 out
            (0, 0, 5), // Aug: (P10 void)
            (1, 0, 6), // Sep: P11
            (0, 1, 5), // Oct: P5 out
            (1, 0, 6), // Nov: P12
            (1, 1, 6), // Dec: P13 in, P8 out
        ]
    );
    // The year is over: the forecast is what happened. 12 < 20.
    let g = &r.goal;
    assert_eq!((g.carried_in, g.intakes_so_far, g.persons_so_far, g.forecast, g.on_track), (2, 10, 12, 12, false));
}

#[test]
fn goal_forecast_mid_year() {
    let s = scenario();
    let g = stod_projections::throughput::goal(&s.log.journeys(), 2025, d("2025-06-30"));
    // Carried in P1 P2; intakes to 30 Jun: P3–P9 = 7; persons so far P1–P9 = 9.
    // 181 days of 365 gone: 7 × 365 / 181 = 14.1 → 14 more; 2 + 14 = 16.
    assert_eq!((g.carried_in, g.intakes_so_far, g.persons_so_far, g.forecast, g.on_track), (2, 7, 9, 16, false));
}

#[test]
fn steering_status_at_midsummer() {
    let s = scenario();
    let r = steering(&s.log.journeys_on("2025-06-30"), d("2025-06-30"), Some(d("2025-04-30")));
    // As known for 30 Jun: P3's exit on 1 Jul has not happened yet.
    // Active: P2, P3, P4, P5, P8, P9.
    assert_eq!(r.active_participants, 6);
    // P3's placement ends 30 Jun, so still running that day; P5 and P8 at the track.
    assert_eq!(
        r.active_per_site,
        strings(&[("atervinningsbutiken", 1), ("disponentparken", 1), ("industrisparet", 2), ("luddes-hundcenter", 1)])
    );
    // Since 30 Apr: P8, P9 in; P6 (health) and P7 (closer) out; P8, P9 placed;
    // P6, P3 placements ended; P3's SFI completed; P9 assessed.
    let c = &r.since_previous;
    assert_eq!(
        (c.intakes, c.exits, c.placements_started, c.placements_ended, c.trainings_completed, c.assessments),
        (2, 2, 2, 2, 1, 1)
    );
    assert_eq!(c.exits_by_sus_group, map(&[(SusOutcomeGroup::JobSeeking, 1), (SusOutcomeGroup::Other, 1)]));
    // Only P2 has waited 30+ days without a placement; nobody 12 months; no placement
    // over six months.
    assert_eq!(
        (
            r.alerts.intake_without_placement.count,
            r.alerts.stays_over_12_months.count,
            r.alerts.open_placements_without_end.count
        ),
        (1, 0, 0)
    );
    assert_eq!((r.goal.persons_so_far, r.goal.forecast), (9, 16));
}

#[test]
fn steering_status_at_year_end_raises_the_alerts() {
    let s = scenario();
    let r = steering(&s.log.journeys_on("2025-12-31"), d("2025-12-31"), Some(d("2025-10-31")));
    assert_eq!(r.active_participants, 6);
    assert_eq!(r.active_per_site, strings(&[("disponentparken", 1), ("industrisparet", 1), ("luddes-hundcenter", 1)]));
    // P2 (411 days), P12 (51), P13 (exactly 30) without a placement; P2 over a year;
    // P4 (324 days) and P9 (198) placements open over six months, P11 (114) not.
    let a = &r.alerts;
    assert_eq!(
        (a.intake_without_placement.count, a.stays_over_12_months.count, a.open_placements_without_end.count),
        (3, 1, 2)
    );
    assert_eq!(a.intake_without_placement.cases.len(), 3);
    let c = &r.since_previous;
    assert_eq!((c.intakes, c.exits, c.placements_started, c.placements_ended), (2, 1, 0, 1));
}

#[test]
fn the_correction_and_the_retraction_change_the_figures_as_a_user_expects() {
    let s = scenario();
    let journeys = |n: usize| -> Vec<Journey> { s.log.records(n).values().map(CaseRecord::journey).collect() };
    let before = throughput(&journeys(s.before_correction), Period::Year(2025), d("2025-12-31"));
    // Before the correction P11 sat at odla-pa-angen; before the retraction P10 counted.
    assert_eq!(before.by_site.get("odla-pa-angen"), Some(&1));
    assert_eq!(before.by_site["industrisparet"], 3);
    assert_eq!((before.persons, before.intakes), (13, 11));
    let corrected = throughput(&journeys(s.before_retraction), Period::Year(2025), d("2025-12-31"));
    assert_eq!(corrected.by_site.get("odla-pa-angen"), None);
    assert_eq!(corrected.by_site["industrisparet"], 4);
    assert_eq!((corrected.persons, corrected.intakes), (13, 11));
    let after = throughput(&journeys(s.log.events.len()), Period::Year(2025), d("2025-12-31"));
    assert_eq!((after.persons, after.intakes), (12, 10));
}

#[test]
fn folding_twice_or_redelivering_changes_nothing() {
    let s = scenario();
    let once = s.log.records(s.log.events.len());
    let mut twice = once.clone();
    for (seq, ev) in &s.log.events {
        twice.get_mut(&ev.case_id).unwrap().apply(*seq, ev);
    }
    assert_eq!(twice, once);
}
