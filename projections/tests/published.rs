//! The published (protected) reports: the funder's follow-up counted by hand, and
//! nothing small, inconsistent or identifying in what leaves the system.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Days;
use serde_json::Value;
use stod_events::event::{ExitOutcome, Gender};
use stod_events::ids::{CaseId, Code, Date, ParticipantRef};
use stod_projections::disclosure::{protect_breakdown, Cell};
use stod_projections::funder::CountTable;
use stod_projections::period::Period;
use stod_projections::record::{Exit, Intake, Placement};
use stod_projections::throughput::NOT_RECORDED as NOT_RECORDED_ROW;
use stod_projections::{funder, protect_funder, protect_steering, protect_throughput, steering, throughput, Journey};

use common::audit_cross;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// A consented intake (birth year and support source given) or an anonymous one.
fn intake(who: ParticipantRef, date: &str, gender: Gender, consented: Option<(u16, &str)>) -> Intake {
    Intake {
        date: d(date),
        participant: who,
        gender,
        anonymous: consented.is_none(),
        municipality: consented.map(|_| code("2084")),
        referrer: consented.map(|_| code("af")),
        support_at_start: consented.map(|(_, s)| code(s)),
        birth_year: consented.map(|(b, _)| b),
        region_of_birth: None,
    }
}

fn journey(intake: Option<Intake>, exit: Option<(&str, ExitOutcome, Option<&str>)>) -> Journey {
    Journey {
        case_id: Some(CaseId::new()),
        intake,
        exit: exit.map(|(date, outcome, support)| Exit { date: d(date), outcome, support_at_exit: support.map(code) }),
        ..Journey::default()
    }
}

/// Ten cases, seven persons in the operation in 2025 (W woman, M man, O other).
fn hand_made() -> Vec<Journey> {
    use ExitOutcome::*;
    use Gender::{Man as M, Other as O, Woman as W};
    let p = ParticipantRef::new;
    let twice = p();
    vec![
        // A: W, 2025 - 1990 = 35 → 30-39; exits to a job.
        journey(
            Some(intake(p(), "2025-02-01", W, Some((1990, "forsorjningsstod")))),
            Some(("2025-06-01", EmploymentUnsubsidised, Some("lon"))),
        ),
        // B: M, 2025 - 2006 = 19 → 16-19; still in.
        journey(Some(intake(p(), "2025-03-01", M, Some((2006, "a-kassa")))), None),
        // C: W, anonymous → not recorded; exits job-seeking, no support recorded.
        journey(Some(intake(p(), "2025-04-01", W, None)), Some(("2025-08-01", MovedCloser, None))),
        // D: O, carried in, 2024 - 1960 = 64 → 60-64; exits for health in 2025.
        journey(
            Some(intake(p(), "2024-05-01", O, Some((1960, "sjukpenning")))),
            Some(("2025-01-15", Health, Some("sjukpenning"))),
        ),
        // P, first case: W, 2024 - 1995 = 29 → 25-29; breaks off in 2025.
        journey(
            Some(intake(twice, "2024-09-01", W, Some((1995, "forsorjningsstod")))),
            Some(("2025-02-01", Discontinued, Some("forsorjningsstod"))),
        ),
        // P, second case: 2025 - 1995 = 30 → 30-39; the latest intake decides her row.
        journey(Some(intake(twice, "2025-09-01", W, Some((1995, "a-kassa")))), None),
        // F: M, 2025 - 2012 = 13, below the bands → not recorded; exits to studies.
        journey(
            Some(intake(p(), "2025-05-01", M, Some((2012, "forsorjningsstod")))),
            Some(("2025-11-01", Studies, Some("studiemedel"))),
        ),
        // G: M, 2025 - 1950 = 75 → 65-.
        journey(Some(intake(p(), "2025-06-01", M, Some((1950, "ingen")))), None),
        // H: left on 31 Dec 2024: not in 2025.
        journey(Some(intake(p(), "2023-01-01", W, Some((1985, "ingen")))), Some(("2024-12-31", Other, Some("ingen")))),
        // Void (intake retracted): counts nowhere.
        journey(None, Some(("2025-03-01", Other, Some("ingen")))),
        // J: starts in 2026.
        journey(Some(intake(p(), "2026-01-05", W, Some((1985, "ingen")))), None),
    ]
}

fn table(rows: &[&str], counts: &[[u32; 3]]) -> CountTable {
    CountTable {
        rows: rows.iter().map(|r| r.to_string()).collect(),
        columns: vec!["woman".into(), "man".into(), "other".into()],
        counts: counts.iter().map(|c| c.to_vec()).collect(),
    }
}

#[test]
fn funder_follow_up_counted_by_hand() {
    let r = funder(&hand_made(), Period::Year(2025));
    // Persons in 2025: A B C D P F G = 7 (H left before, J came after, the void case
    // has no intake). P counts once, in her latest intake's band.
    assert_eq!(
        r.participants_by_age,
        table(
            &["16-19", "20-24", "25-29", "30-39", "40-49", "50-59", "60-64", "65-", NOT_RECORDED_ROW],
            &[[0, 1, 0], [0, 0, 0], [0, 0, 0], [2, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 1, 0]]
        )
    );
    assert_eq!(r.anonymous_participants, 1);
    // Intakes in 2025 (cases): A fs W, B ak M, C – W, P's second ak W, F fs M, G ingen M.
    assert_eq!(
        r.intakes_by_support,
        table(
            &["a-kassa", "forsorjningsstod", "ingen", NOT_RECORDED_ROW],
            &[[1, 1, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]]
        )
    );
    // Exits in 2025: A job W, C job-seeking W, D health O, P's first discontinued W,
    // F studies M (H left in 2024; the void case counts nowhere).
    assert_eq!(
        r.exits_by_sus_group,
        table(&["employment", "studies", "job_seeking", "other"], &[[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 1]])
    );
    assert_eq!(
        r.exits_by_support,
        table(
            &["forsorjningsstod", "lon", "sjukpenning", "studiemedel", NOT_RECORDED_ROW],
            &[[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]
        )
    );
    // The SUS groups are always all there, even in an empty period.
    let empty = funder(&[], Period::Year(2025));
    assert_eq!(empty.exits_by_sus_group.rows.len(), 4);
    assert_eq!(empty.participants_by_age.rows.len(), 8);
    assert!(empty.intakes_by_support.rows.is_empty());
}

/// A small pseudo-random operation, the same every run.
fn population(n: u64, seed: u64) -> Vec<Journey> {
    let mut state = seed;
    let mut next = |m: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % m
    };
    let start = d("2024-06-01").naive();
    let end = d("2025-12-31").naive();
    let pick = |xs: &[&'static str], i: u64| xs[i as usize % xs.len()];
    (0..n)
        .map(|_| {
            let gender = match next(10) {
                0..=4 => Gender::Woman,
                5..=8 => Gender::Man,
                _ => Gender::Other,
            };
            let day = start + Days::new(next(560));
            let consented = next(10) != 0;
            let mut i = intake(ParticipantRef::new(), "2000-01-01", gender, None);
            i.date = Date::new(day);
            if consented {
                i.anonymous = false;
                i.municipality = Some(code(pick(&["2084", "2061", "2085"], next(3))));
                i.referrer = Some(code(pick(&["af", "ame-ludvika", "egen", "soc"], next(4))));
                i.support_at_start =
                    Some(code(pick(&["forsorjningsstod", "a-kassa", "sjukpenning", "ingen"], next(4))));
                i.birth_year = Some(1955 + next(52) as u16);
            }
            let mut j = Journey { case_id: Some(CaseId::new()), intake: Some(i), ..Journey::default() };
            if next(10) < 7 {
                j.placements.push(Placement {
                    number: 1,
                    site: code(pick(&["industrisparet", "vaderbacken", "disponentparken", "luddes"], next(4))),
                    work_area: code(pick(&["montering", "odling", "butik"], next(3))),
                    hours_per_week: 20,
                    start: Date::new(day + Days::new(10 + next(30))),
                    end: None,
                    end_reason: None,
                });
            }
            let exit_day = day + Days::new(60 + next(340));
            if next(2) == 0 && exit_day <= end {
                let outcome = ExitOutcome::ALL[next(9) as usize];
                let support =
                    consented.then(|| code(pick(&["lon", "studiemedel", "a-kassa", "forsorjningsstod"], next(4))));
                j.exit = Some(Exit { date: Date::new(exit_day), outcome, support_at_exit: support });
            }
            j
        })
        .collect()
}

#[test]
fn the_protected_funder_follow_up_cannot_be_worked_out() {
    for (journeys, min) in
        [(hand_made(), 5), (hand_made(), 2), (population(60, 1), 5), (population(120, 7), 5), (population(40, 3), 3)]
    {
        let r = funder(&journeys, Period::Year(2025));
        let p = protect_funder(&r, min);
        audit_cross(&r.participants_by_age.counts, &p.participants_by_age, min);
        audit_cross(&r.intakes_by_support.counts, &p.intakes_by_support, min);
        audit_cross(&r.exits_by_sus_group.counts, &p.exits_by_sus_group, min);
        audit_cross(&r.exits_by_support.counts, &p.exits_by_support, min);
        common::assert_cell(p.anonymous_participants, r.anonymous_participants, min);
        // The two exit tables count the same exits by gender: same bottom margin.
        assert_eq!(p.exits_by_sus_group.column_totals, p.exits_by_support.column_totals);
        assert_eq!(p.exits_by_sus_group.total, p.exits_by_support.total);
        assert_no_small_count(&serde_json::to_value(&p).unwrap(), min);
    }
}

/// Fields that hold numbers but no count of persons or cases.
const NOT_COUNTS: [&str; 7] = [
    "year",
    "target",
    "min_count",
    "share_to_employment_percent",
    "share_to_throughput_percent",
    "median_days_to_first_placement",
    "median_days_to_exit",
];

/// Walks a published report: every count (every number, bar [`NOT_COUNTS`]) is 0 or
/// at least `min`, and every hidden one reads `"<min"` or `"x"`. Returns how many
/// counts it saw, so a test can tell it walked something.
fn assert_no_small_count(v: &Value, min: u32) -> usize {
    match v {
        Value::Number(n) => {
            let n = n.as_u64().expect("counts are whole numbers");
            assert!(n == 0 || n >= u64::from(min), "count {n} shown below {min}");
            1
        }
        Value::String(s) if s.starts_with('<') => {
            assert_eq!(s, &format!("<{min}"));
            1
        }
        Value::String(s) if s == "x" => 1,
        Value::Array(xs) => xs.iter().map(|x| assert_no_small_count(x, min)).sum(),
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !NOT_COUNTS.contains(&k.as_str()))
            .map(|(_, x)| assert_no_small_count(x, min))
            .sum(),
        _ => 0,
    }
}

#[test]
fn published_throughput_shows_no_small_count_and_agrees_with_itself() {
    for (journeys, min) in
        [(population(60, 1), 5), (population(150, 2), 5), (population(30, 5), 3), (population(200, 9), 10)]
    {
        for period in [Period::Year(2025), Period::Quarter(2025, 2), Period::Month(2025, 3)] {
            let r = throughput(&journeys, period, d("2025-12-31"));
            let p = protect_throughput(&r, min);
            let json = serde_json::to_value(&p).unwrap();
            assert!(assert_no_small_count(&json, min) > 50);
            // Key figures are their tables' totals.
            for b in [&p.by_municipality, &p.by_referrer, &p.by_gender, &p.by_support_at_start] {
                assert_eq!(b.total, Some(p.persons));
            }
            assert_eq!(p.exits_by_sus_group.total, Some(p.exits));
            assert_eq!(p.funnel.intakes, p.intakes);
            assert_eq!(p.exits_to_employment, p.exits_by_sus_group.rows[0].count);
            // Shares only from shown counts.
            assert_eq!(
                p.share_to_employment_percent.is_some(),
                !p.exits_to_employment.is_hidden() && !p.exits.is_hidden() && r.exits > 0
            );
            assert_eq!(
                p.share_to_throughput_percent.is_some(),
                !p.exits_to_throughput.is_hidden() && !p.exits.is_hidden() && r.exits > 0
            );
            if r.exits < min {
                assert_eq!(p.median_days_to_exit, None);
            }
            // The months' columns are protected tables with the period's totals.
            let intakes: Vec<(String, u32)> = r.months.iter().map(|m| (m.month.clone(), m.intakes)).collect();
            let months_intakes: Vec<Cell> = p.months.iter().map(|m| m.intakes).collect();
            let expected: Vec<Cell> =
                protect_breakdown(&intakes, Some(r.intakes), min).rows.iter().map(|r| r.count).collect();
            assert_eq!(months_intakes, expected);
            // A whole year as of its end: the goal's persons are the report's persons.
            if period == Period::Year(2025) {
                assert_eq!(p.goal.persons_so_far, p.persons);
                assert_eq!(p.goal.forecast, p.persons);
            }
            // Round trip.
            assert_eq!(serde_json::from_value::<stod_projections::PublishedThroughput>(json).unwrap(), p);
        }
    }
}

#[test]
fn a_hidden_share_component_withholds_the_share() {
    use ExitOutcome::*;
    use Gender::Woman as W;
    // 12 exits in 2025: 2 to a job (hidden as "<5"), 10 to studies.
    let mut journeys = Vec::new();
    for k in 0..12 {
        let outcome = if k < 2 { EmploymentUnsubsidised } else { Studies };
        let i = intake(ParticipantRef::new(), "2025-01-10", W, Some((1990, "ingen")));
        journeys.push(journey(Some(i), Some(("2025-06-10", outcome, Some("lon")))));
    }
    let p = protect_throughput(&throughput(&journeys, Period::Year(2025), d("2025-12-31")), 5);
    assert_eq!(p.exits_to_employment, Cell::Small { below: 5 });
    assert_eq!(p.share_to_employment_percent, None);
    // [<5, x, 0, 0 | 12]: studies hidden too, else 12 - 10 gives the 2 away. The
    // throughput (job + studies + job-seeking) still follows from shown cells as
    // total - other = 12 - 0, so it and its share stay shown.
    assert_eq!(p.exits_by_sus_group.rows[1].count, Cell::Protected);
    assert_eq!(p.exits, Cell::Shown(12));
    assert_eq!(p.exits_to_throughput, Cell::Shown(12));
    assert_eq!(p.share_to_throughput_percent, Some(100));
}

#[test]
fn tables_that_share_a_total_hide_it_alike() {
    use Gender::{Man as M, Woman as W};
    // Seven persons: municipalities [1, 1, 5] — the two "<5" are 1 each unless the 5
    // and then (5 = 7 - 2) the total go too; by gender [3, 4, 0] alone would keep its
    // total 7. Shown there, it would give away the municipality table's total.
    let mut journeys = Vec::new();
    for (k, muni) in ["2061", "2085", "2084", "2084", "2084", "2084", "2084"].into_iter().enumerate() {
        let mut i = intake(ParticipantRef::new(), "2025-03-01", if k < 3 { W } else { M }, Some((1990, "ingen")));
        i.municipality = Some(code(muni));
        journeys.push(journey(Some(i), None));
    }
    let p = protect_throughput(&throughput(&journeys, Period::Year(2025), d("2025-12-31")), 5);
    assert_eq!(p.by_municipality.total, Some(Cell::Protected));
    assert_eq!(p.by_gender.total, Some(Cell::Protected));
    assert_eq!(p.persons, Cell::Protected);
    assert_eq!(p.goal.persons_so_far, Cell::Protected);
}

#[test]
fn published_steering_shows_counts_only() {
    let journeys = population(150, 4);
    for (as_of, previous) in
        [("2025-06-30", Some("2025-04-30")), ("2025-12-31", None), ("2025-03-15", Some("2025-03-01"))]
    {
        let r = steering(&journeys, d(as_of), previous.map(d));
        let p = protect_steering(&r, 5);
        let json = serde_json::to_string(&p).unwrap();
        for j in &journeys {
            let id = j.case_id.unwrap().to_string();
            assert!(!json.contains(&id), "case id {id} in {json}");
        }
        assert!(
            r.alerts.intake_without_placement.cases.len() + r.alerts.stays_over_12_months.cases.len() > 0,
            "the scenario raises alerts"
        );
        assert!(assert_no_small_count(&serde_json::to_value(&p).unwrap(), 5) > 10);
        assert_eq!(p.since_previous.exits_by_sus_group.total, Some(p.since_previous.exits));
    }
}
