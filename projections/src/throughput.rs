//! Throughput (*genomströmning*): who was in the operation in a period, who came, who
//! left and where to, and progress toward the goal of persons per year.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use stod_events::event::{ExitOutcome, Gender, SusOutcomeGroup};
use stod_events::ids::{Date, ParticipantRef};

use crate::period::Period;
use crate::record::Journey;
use crate::stats::percent;

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

/// The additive parts of a throughput report: what a set of journeys (or the
/// projector's aggregates, [`crate::model`]) contributes. Two tallies of disjoint sets
/// of persons add up to the tally of both; [`ThroughputTally::finish`] makes the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThroughputTally {
    pub persons: u32,
    pub intakes: u32,
    pub active_at_end: u32,
    pub exits_by_outcome: BTreeMap<ExitOutcome, u32>,
    /// Days from intake to first placement → how many.
    pub days_to_first_placement: BTreeMap<i64, u32>,
    pub days_to_exit: BTreeMap<i64, u32>,
    pub by_municipality: BTreeMap<String, u32>,
    pub by_referrer: BTreeMap<String, u32>,
    pub by_gender: BTreeMap<Gender, u32>,
    pub by_support_at_start: BTreeMap<String, u32>,
    pub by_site: BTreeMap<String, u32>,
    pub by_work_area: BTreeMap<String, u32>,
    pub funnel: Funnel,
    /// Per month of the period: intakes, exits, active at the month's end.
    pub months: Vec<(u32, u32, u32)>,
    pub goal: GoalTally,
}

/// The additive parts of a [`Goal`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoalTally {
    pub persons_so_far: u32,
    pub carried_in: u32,
    pub intakes_so_far: u32,
}

pub(crate) fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u32>, from: &BTreeMap<K, u32>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// The median of a histogram (value → how many); of an even count, the mean of the two
/// middle values rounded down.
pub(crate) fn histogram_median(h: &BTreeMap<i64, u32>) -> Option<i64> {
    let n: u64 = h.values().map(|c| u64::from(*c)).sum();
    if n == 0 {
        return None;
    }
    // The values at 0-based ranks `lo` and `hi` (equal for an odd count).
    let (lo, hi) = if n % 2 == 1 { (n / 2, n / 2) } else { (n / 2 - 1, n / 2) };
    let (mut at, mut lo_v, mut hi_v) = (0u64, None, None);
    for (v, c) in h {
        let next = at + u64::from(*c);
        if lo_v.is_none() && lo < next {
            lo_v = Some(*v);
        }
        if hi < next {
            hi_v = Some(*v);
            break;
        }
        at = next;
    }
    Some((lo_v? + hi_v?).div_euclid(2))
}

impl GoalTally {
    pub fn add(&mut self, o: &GoalTally) {
        self.persons_so_far += o.persons_so_far;
        self.carried_in += o.carried_in;
        self.intakes_so_far += o.intakes_so_far;
    }

    /// The goal for `year` as of `today` (see [`goal`]).
    pub fn finish(&self, year: i32, today: Date) -> Goal {
        let year_period = Period::Year(year);
        let (jan1, dec31) = (year_period.start(), year_period.end());
        let as_of = today.min(dec31).max(jan1);
        let GoalTally { persons_so_far, carried_in, intakes_so_far } = *self;
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
}

impl ThroughputTally {
    pub fn add(&mut self, o: &ThroughputTally) {
        self.persons += o.persons;
        self.intakes += o.intakes;
        self.active_at_end += o.active_at_end;
        add_map(&mut self.exits_by_outcome, &o.exits_by_outcome);
        add_map(&mut self.days_to_first_placement, &o.days_to_first_placement);
        add_map(&mut self.days_to_exit, &o.days_to_exit);
        add_map(&mut self.by_municipality, &o.by_municipality);
        add_map(&mut self.by_referrer, &o.by_referrer);
        add_map(&mut self.by_gender, &o.by_gender);
        add_map(&mut self.by_support_at_start, &o.by_support_at_start);
        add_map(&mut self.by_site, &o.by_site);
        add_map(&mut self.by_work_area, &o.by_work_area);
        let f = &o.funnel;
        self.funnel.intakes += f.intakes;
        self.funnel.with_placement += f.with_placement;
        self.funnel.with_training += f.with_training;
        self.funnel.exited += f.exited;
        self.funnel.exited_to_employment += f.exited_to_employment;
        if self.months.len() < o.months.len() {
            self.months.resize(o.months.len(), (0, 0, 0));
        }
        for (m, n) in self.months.iter_mut().zip(&o.months) {
            *m = (m.0 + n.0, m.1 + n.1, m.2 + n.2);
        }
        self.goal.add(&o.goal);
    }

    /// The report these figures make for `period` as known on `today`.
    pub fn finish(mut self, period: Period, today: Date) -> ThroughputReport {
        for m in [&mut self.by_municipality, &mut self.by_referrer, &mut self.by_support_at_start] {
            m.retain(|_, v| *v > 0);
        }
        self.by_site.retain(|_, v| *v > 0);
        self.by_work_area.retain(|_, v| *v > 0);
        self.by_gender.retain(|_, v| *v > 0);
        self.exits_by_outcome.retain(|_, v| *v > 0);
        let exits: u32 = self.exits_by_outcome.values().sum();
        let mut exits_by_sus_group = BTreeMap::new();
        for (outcome, n) in &self.exits_by_outcome {
            *exits_by_sus_group.entry(outcome.sus_group()).or_default() += n;
        }
        let exits_to_employment = exits_by_sus_group.get(&SusOutcomeGroup::Employment).copied().unwrap_or(0);
        let exits_to_throughput =
            self.exits_by_outcome.iter().filter(|(o, _)| o.is_throughput()).map(|(_, n)| n).sum::<u32>();
        let months = period
            .months()
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let (intakes, exits, active_at_end) = self.months.get(i).copied().unwrap_or_default();
                MonthRow { month: m.to_string(), intakes, exits, active_at_end }
            })
            .collect();
        ThroughputReport {
            period: period.to_string(),
            from: period.start(),
            to: period.end(),
            persons: self.persons,
            intakes: self.intakes,
            active_at_end: self.active_at_end,
            exits,
            exits_by_outcome: self.exits_by_outcome,
            exits_by_sus_group,
            exits_to_employment,
            exits_to_throughput,
            share_to_employment_percent: percent(exits_to_employment, exits),
            share_to_throughput_percent: percent(exits_to_throughput, exits),
            median_days_to_first_placement: histogram_median(&self.days_to_first_placement),
            median_days_to_exit: histogram_median(&self.days_to_exit),
            by_municipality: self.by_municipality,
            by_referrer: self.by_referrer,
            by_gender: self.by_gender,
            by_support_at_start: self.by_support_at_start,
            by_site: self.by_site,
            by_work_area: self.by_work_area,
            funnel: self.funnel,
            months,
            goal: self.goal.finish(period.year(), today),
        }
    }
}

/// The throughput report for `period`, as far as known on `today` (figures after
/// `today` cannot exist yet; the goal forecast extrapolates from `today`).
pub fn throughput(journeys: &[Journey], period: Period, today: Date) -> ThroughputReport {
    throughput_tally(journeys, period, today).finish(period, today)
}

/// What `journeys` (each as known on `today`, in case order) add to the throughput of
/// `period`. Persons are counted once among these journeys.
pub fn throughput_tally(journeys: &[Journey], period: Period, today: Date) -> ThroughputTally {
    let (from, to) = (period.start(), period.end());
    let in_period = |d: Date| from <= d && d <= to;
    let active: Vec<&Journey> = journeys.iter().filter(|j| j.active_during(from, to)).collect();

    let exits: Vec<&Journey> = journeys.iter().filter(|j| j.exit.as_ref().is_some_and(|x| in_period(x.date))).collect();
    let mut exits_by_outcome = BTreeMap::new();
    for j in &exits {
        if let Some(x) = &j.exit {
            *exits_by_outcome.entry(x.outcome).or_default() += 1;
        }
    }
    let mut days_to_first_placement = BTreeMap::new();
    for (intake, first) in journeys
        .iter()
        .filter_map(|j| Some((j.intake.as_ref()?.date, j.first_placement_start()?)))
        .filter(|(_, first)| in_period(*first))
    {
        *days_to_first_placement.entry(intake.days_until(first)).or_default() += 1;
    }
    let mut days_to_exit = BTreeMap::new();
    for j in &exits {
        if let (Some(i), Some(x)) = (&j.intake, &j.exit) {
            *days_to_exit.entry(i.date.days_until(x.date)).or_default() += 1;
        }
    }

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
        *by_municipality.entry(code_key(&i.municipality)).or_default() += 1;
        *by_referrer.entry(code_key(&i.referrer)).or_default() += 1;
        *by_support_at_start.entry(code_key(&i.support_at_start)).or_default() += 1;
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
        .map(|m| {
            (
                journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| m.contains(i.date))).count() as u32,
                journeys.iter().filter(|j| j.exit.as_ref().is_some_and(|x| m.contains(x.date))).count() as u32,
                journeys.iter().filter(|j| j.active_on(m.end())).count() as u32,
            )
        })
        .collect();

    ThroughputTally {
        persons: count_persons(active.iter().copied()),
        intakes: cohort.len() as u32,
        active_at_end: journeys.iter().filter(|j| j.active_on(to.min(today))).count() as u32,
        exits_by_outcome,
        days_to_first_placement,
        days_to_exit,
        by_municipality,
        by_referrer,
        by_gender,
        by_support_at_start,
        by_site: sizes(site_persons),
        by_work_area: sizes(area_persons),
        funnel,
        months,
        goal: goal_tally(journeys, period.year(), today),
    }
}

/// The key of an optional code in a breakdown.
pub(crate) fn code_key(c: &Option<stod_events::ids::Code>) -> String {
    c.as_ref().map_or(NOT_RECORDED.to_owned(), |c| c.to_string())
}

/// Progress toward the yearly goal as of `today` (or year end, for a past year).
pub fn goal(journeys: &[Journey], year: i32, today: Date) -> Goal {
    goal_tally(journeys, year, today).finish(year, today)
}

/// What `journeys` add to the goal of `year` as of `today`.
pub fn goal_tally(journeys: &[Journey], year: i32, today: Date) -> GoalTally {
    let year_period = Period::Year(year);
    let (jan1, dec31) = (year_period.start(), year_period.end());
    let as_of = today.min(dec31).max(jan1);
    let carried_in = count_persons(
        journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| i.date < jan1) && j.active_on(jan1)),
    );
    let intakes_so_far =
        count_persons(journeys.iter().filter(|j| j.intake.as_ref().is_some_and(|i| jan1 <= i.date && i.date <= as_of)));
    let persons_so_far = count_persons(journeys.iter().filter(|j| j.active_during(jan1, as_of)));
    GoalTally { persons_so_far, carried_in, intakes_so_far }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_histograms() {
        let h = |v: &[i64]| {
            v.iter().fold(BTreeMap::new(), |mut m, x| {
                *m.entry(*x).or_insert(0u32) += 1;
                m
            })
        };
        assert_eq!(histogram_median(&h(&[])), None);
        assert_eq!(histogram_median(&h(&[5, 1, 3])), Some(3));
        assert_eq!(histogram_median(&h(&[4, 1, 3, 2])), Some(2));
        assert_eq!(histogram_median(&h(&[-3, -2])), Some(-3));
        assert_eq!(histogram_median(&h(&[7, 7, 1, 9])), Some(7));
    }
}
