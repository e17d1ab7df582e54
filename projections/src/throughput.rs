//! Throughput (*genomströmning*): who was in the operation in a period, who came, who
//! left and where to, and progress toward the goal of persons per year.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use stod_events::event::{ExitOutcome, Gender, SusOutcomeGroup};
use stod_events::ids::{Date, ParticipantRef};

use crate::period::Period;
use crate::record::Journey;
use crate::stats::{median, percent};

/// The goal the funder set: at least this many persons a year in the operation.
pub const GOAL_PERSONS_PER_YEAR: u32 = 20;

/// Key for a missing value in a breakdown (anonymous participants have no
/// municipality, referrer or support source).
pub const NOT_RECORDED: &str = "ej_registrerat";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughputReport {
    pub period: String,
    pub from: Date,
    pub to: Date,
    /// Distinct persons in the operation at some time in the period.
    pub persons: u32,
    /// Intakes in the period.
    pub intakes: u32,
    /// In the operation on the last day of the period.
    pub active_at_end: u32,
    pub exits: u32,
    pub exits_by_outcome: BTreeMap<ExitOutcome, u32>,
    pub exits_by_sus_group: BTreeMap<SusOutcomeGroup, u32>,
    /// Exits to a job.
    pub exits_to_employment: u32,
    /// Exits to a job, studies or clearly closer to the labour market.
    pub exits_to_throughput: u32,
    pub share_to_employment_percent: Option<u32>,
    pub share_to_throughput_percent: Option<u32>,
    /// Median days from intake to first placement, for first placements in the period.
    pub median_days_to_first_placement: Option<i64>,
    /// Median days from intake to exit, for exits in the period.
    pub median_days_to_exit: Option<i64>,
    /// Persons in the operation by dimension.
    pub by_municipality: BTreeMap<String, u32>,
    pub by_referrer: BTreeMap<String, u32>,
    pub by_gender: BTreeMap<Gender, u32>,
    pub by_support_at_start: BTreeMap<String, u32>,
    /// Persons with a placement running at some time in the period, by site / work area.
    pub by_site: BTreeMap<String, u32>,
    pub by_work_area: BTreeMap<String, u32>,
    /// Of those taken in during the period: how far they got (so far).
    pub funnel: Funnel,
    /// Per month of the period.
    pub months: Vec<MonthRow>,
    /// Progress toward the yearly goal, for the period's year.
    pub goal: Goal,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    pub intakes: u32,
    pub with_placement: u32,
    pub with_training: u32,
    pub exited: u32,
    pub exited_to_employment: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthRow {
    pub month: String,
    pub intakes: u32,
    pub exits: u32,
    pub active_at_end: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    pub year: i32,
    pub target: u32,
    /// The date the figures are as of (the period end, or today if earlier).
    pub as_of: Date,
    /// Distinct persons in the operation from 1 January to `as_of`.
    pub persons_so_far: u32,
    /// Already in the operation on 1 January.
    pub carried_in: u32,
    /// Taken in from 1 January to `as_of`.
    pub intakes_so_far: u32,
    /// Persons expected by 31 December if intakes continue at the pace so far.
    pub forecast: u32,
    pub on_track: bool,
}

fn count_persons<'a>(journeys: impl Iterator<Item = &'a Journey>) -> u32 {
    let persons: BTreeSet<ParticipantRef> = journeys.filter_map(|j| j.intake.as_ref().map(|i| i.participant)).collect();
    persons.len() as u32
}

/// The throughput report for `period`, as far as known on `today` (figures after
/// `today` cannot exist yet; the goal forecast extrapolates from `today`).
pub fn throughput(journeys: &[Journey], period: Period, today: Date) -> ThroughputReport {
    let (from, to) = (period.start(), period.end());
    let in_period = |d: Date| from <= d && d <= to;
    let active: Vec<&Journey> = journeys.iter().filter(|j| j.active_during(from, to)).collect();

    let exits: Vec<(&Journey, ExitOutcome)> =
        journeys.iter().filter_map(|j| j.exit.as_ref().filter(|x| in_period(x.date)).map(|x| (j, x.outcome))).collect();
    let mut exits_by_outcome = BTreeMap::new();
    let mut exits_by_sus_group = BTreeMap::new();
    for (_, outcome) in &exits {
        *exits_by_outcome.entry(*outcome).or_default() += 1;
        *exits_by_sus_group.entry(outcome.sus_group()).or_default() += 1;
    }
    let exits_to_employment = exits.iter().filter(|(_, o)| o.sus_group() == SusOutcomeGroup::Employment).count() as u32;
    let exits_to_throughput = exits.iter().filter(|(_, o)| o.is_throughput()).count() as u32;

    let days_to_first_placement = journeys
        .iter()
        .filter_map(|j| Some((j.intake.as_ref()?.date, j.first_placement_start()?)))
        .filter(|(_, first)| in_period(*first))
        .map(|(intake, first)| intake.days_until(first))
        .collect();
    let days_to_exit =
        exits.iter().filter_map(|(j, _)| Some(j.intake.as_ref()?.date.days_until(j.exit.as_ref()?.date))).collect();

    let mut by_municipality = BTreeMap::new();
    let mut by_referrer = BTreeMap::new();
    let mut by_gender = BTreeMap::new();
    let mut by_support_at_start = BTreeMap::new();
    let mut site_persons: BTreeMap<String, BTreeSet<ParticipantRef>> = BTreeMap::new();
    let mut area_persons: BTreeMap<String, BTreeSet<ParticipantRef>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for j in &active {
        let Some(i) = &j.intake else { continue };
        for p in j.placements.iter().filter(|p| p.start <= to && p.end.is_none_or(|e| e >= from)) {
            site_persons.entry(p.site.to_string()).or_default().insert(i.participant);
            area_persons.entry(p.work_area.to_string()).or_default().insert(i.participant);
        }
        // A person counts once per dimension even with two cases in the period.
        if !seen.insert(i.participant) {
            continue;
        }
        let key = |c: &Option<stod_events::ids::Code>| c.as_ref().map_or(NOT_RECORDED.to_owned(), |c| c.to_string());
        *by_municipality.entry(key(&i.municipality)).or_default() += 1;
        *by_referrer.entry(key(&i.referrer)).or_default() += 1;
        *by_support_at_start.entry(key(&i.support_at_start)).or_default() += 1;
        *by_gender.entry(i.gender).or_default() += 1;
    }
    let sizes =
        |m: BTreeMap<String, BTreeSet<ParticipantRef>>| m.into_iter().map(|(k, v)| (k, v.len() as u32)).collect();

    let cohort: Vec<&Journey> =
        journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| in_period(i.date))).collect();
    let funnel = Funnel {
        intakes: cohort.len() as u32,
        with_placement: cohort.iter().filter(|j| !j.placements.is_empty()).count() as u32,
        with_training: cohort.iter().filter(|j| !j.trainings.is_empty()).count() as u32,
        exited: cohort.iter().filter(|j| j.exit.is_some()).count() as u32,
        exited_to_employment: cohort
            .iter()
            .filter(|j| j.exit.as_ref().is_some_and(|x| x.outcome.sus_group() == SusOutcomeGroup::Employment))
            .count() as u32,
    };

    let months = period
        .months()
        .into_iter()
        .map(|m| MonthRow {
            month: m.to_string(),
            intakes: journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| m.contains(i.date))).count() as u32,
            exits: journeys.iter().filter(|j| j.exit.as_ref().is_some_and(|x| m.contains(x.date))).count() as u32,
            active_at_end: journeys.iter().filter(|j| j.active_on(m.end())).count() as u32,
        })
        .collect();

    ThroughputReport {
        period: period.to_string(),
        from,
        to,
        persons: count_persons(active.iter().copied()),
        intakes: cohort.len() as u32,
        active_at_end: journeys.iter().filter(|j| j.active_on(to.min(today))).count() as u32,
        exits: exits.len() as u32,
        exits_by_outcome,
        exits_by_sus_group,
        exits_to_employment,
        exits_to_throughput,
        share_to_employment_percent: percent(exits_to_employment, exits.len() as u32),
        share_to_throughput_percent: percent(exits_to_throughput, exits.len() as u32),
        median_days_to_first_placement: median(days_to_first_placement),
        median_days_to_exit: median(days_to_exit),
        by_municipality,
        by_referrer,
        by_gender,
        by_support_at_start,
        by_site: sizes(site_persons),
        by_work_area: sizes(area_persons),
        funnel,
        months,
        goal: goal(journeys, period.year(), today),
    }
}

/// Progress toward the yearly goal as of `today` (or year end, for a past year).
pub fn goal(journeys: &[Journey], year: i32, today: Date) -> Goal {
    let year_period = Period::Year(year);
    let (jan1, dec31) = (year_period.start(), year_period.end());
    let as_of = today.min(dec31).max(jan1);
    let carried_in = count_persons(
        journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| i.date < jan1) && j.active_on(jan1)),
    );
    let intakes_so_far =
        count_persons(journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| jan1 <= i.date && i.date <= as_of)));
    let persons_so_far = count_persons(journeys.iter().filter(|j| j.active_during(jan1, as_of)));
    let forecast = if today >= dec31 {
        persons_so_far
    } else if today < jan1 {
        carried_in
    } else {
        let elapsed = jan1.days_until(as_of) + 1;
        let year_days = jan1.days_until(dec31) + 1;
        // Intakes continue at the pace so far; rounded to the nearest person.
        let projected = (i64::from(intakes_so_far) * year_days * 2 + elapsed) / (2 * elapsed);
        // Never below what is already certain.
        (carried_in + projected as u32).max(persons_so_far)
    };
    Goal {
        year,
        target: GOAL_PERSONS_PER_YEAR,
        as_of,
        persons_so_far,
        carried_in,
        intakes_so_far,
        forecast,
        on_track: forecast >= GOAL_PERSONS_PER_YEAR,
    }
}
