//! The protected forms of the throughput report and the steering-group status: what
//! may leave the system for the steering group or the funder.
//!
//! Every count is a [`Cell`]. Breakdowns whose rows add up to a key figure (persons,
//! intakes, exits) are protected as additive tables, and the key figure *is* the
//! table's total cell, so the two never disagree and a hidden total is hidden
//! everywhere it appears. Tables sharing a total hide it alike
//! ([`crate::disclosure`]). Figures that are not tied to others by an equation get
//! primary suppression only. Shares and medians are withheld (`None`) when they would
//! rest on hidden or too few counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stod_events::event::SusOutcomeGroup;
use stod_events::ids::Date;

use crate::disclosure::{protect_breakdown, protect_breakdowns_linked, protect_count, Breakdown, Cell};
use crate::funder::{serde_key, GENDERS, SUS_GROUPS};
use crate::period::Period;
use crate::stats::percent;
use crate::steering::SteeringReport;
use crate::throughput::{Goal, ThroughputReport};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedThroughput {
    pub period: String,
    pub from: Date,
    pub to: Date,
    pub min_count: u32,
    /// The total of the person breakdowns below.
    pub persons: Cell,
    /// The total of the months' intakes.
    pub intakes: Cell,
    pub active_at_end: Cell,
    /// The total of `exits_by_sus_group` (and of the months' exits).
    pub exits: Cell,
    /// Additive, total = exits; all four groups, in SUS order.
    pub exits_by_sus_group: Breakdown,
    /// The employment row of `exits_by_sus_group`.
    pub exits_to_employment: Cell,
    /// Employment + studies + job-seeking: shown when it follows from shown cells.
    pub exits_to_throughput: Cell,
    /// `None` when the numerator or the denominator is hidden.
    pub share_to_employment_percent: Option<u32>,
    pub share_to_throughput_percent: Option<u32>,
    /// `None` when it would rest on fewer than `min_count` persons.
    pub median_days_to_first_placement: Option<i64>,
    pub median_days_to_exit: Option<i64>,
    /// Additive, total = persons.
    pub by_municipality: Breakdown,
    pub by_referrer: Breakdown,
    pub by_gender: Breakdown,
    pub by_support_at_start: Breakdown,
    /// Not additive (a person may have placements at several sites): primary only.
    pub by_site: Breakdown,
    pub by_work_area: Breakdown,
    pub funnel: PublishedFunnel,
    pub months: Vec<PublishedMonth>,
    pub goal: PublishedGoal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFunnel {
    /// The same figure as the report's `intakes`.
    pub intakes: Cell,
    pub with_placement: Cell,
    pub with_training: Cell,
    pub exited: Cell,
    pub exited_to_employment: Cell,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedMonth {
    pub month: String,
    pub intakes: Cell,
    pub exits: Cell,
    pub active_at_end: Cell,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedGoal {
    pub year: i32,
    pub target: u32,
    pub as_of: Date,
    pub persons_so_far: Cell,
    pub carried_in: Cell,
    pub intakes_so_far: Cell,
    /// A count too: after year end it *is* `persons_so_far`, so it is protected like one.
    pub forecast: Cell,
    pub on_track: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedSteering {
    pub as_of: Date,
    pub previous_meeting: Option<Date>,
    pub min_count: u32,
    pub goal: PublishedGoal,
    pub active_participants: Cell,
    /// Not additive: primary only.
    pub active_per_site: Breakdown,
    pub since_previous: PublishedChanges,
    pub alerts: PublishedAlerts,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedChanges {
    pub intakes: Cell,
    /// The total of `exits_by_sus_group`.
    pub exits: Cell,
    /// Additive, total = exits; all four groups, in SUS order.
    pub exits_by_sus_group: Breakdown,
    pub placements_started: Cell,
    pub placements_ended: Cell,
    pub trainings_completed: Cell,
    pub assessments: Cell,
}

/// Alert counts only: which cases is for case-level roles, never for a published report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedAlerts {
    pub intake_without_placement: Cell,
    pub stays_over_12_months: Cell,
    pub open_placements_without_end: Cell,
}

fn pairs(m: &BTreeMap<String, u32>) -> Vec<(String, u32)> {
    m.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// All four SUS groups, zeros included, so the table has the same rows every time.
fn sus_rows(m: &BTreeMap<SusOutcomeGroup, u32>) -> Vec<(String, u32)> {
    SUS_GROUPS.iter().map(|g| (serde_key(g), m.get(g).copied().unwrap_or(0))).collect()
}

fn total_cell(b: &Breakdown, exact: u32, min: u32) -> Cell {
    b.total.unwrap_or_else(|| protect_count(exact, min))
}

fn row_cell(b: &Breakdown, key: &str) -> Option<Cell> {
    b.rows.iter().find(|r| r.key == key).map(|r| r.count)
}

/// A share, only if both its counts are shown.
fn share(part: Cell, whole: Cell) -> Option<u32> {
    percent(part.value()?, whole.value()?)
}

/// `persons_so_far` is given when the caller publishes the same figure elsewhere
/// (a whole-year report as of year end).
fn publish_goal(g: &Goal, min: u32, persons_so_far: Option<Cell>) -> PublishedGoal {
    let persons_so_far = persons_so_far.unwrap_or_else(|| protect_count(g.persons_so_far, min));
    // After year end the forecast is what happened: the persons so far.
    let year_over = g.as_of >= Period::Year(g.year).end();
    PublishedGoal {
        year: g.year,
        target: g.target,
        as_of: g.as_of,
        persons_so_far,
        carried_in: protect_count(g.carried_in, min),
        intakes_so_far: protect_count(g.intakes_so_far, min),
        forecast: if year_over { persons_so_far } else { protect_count(g.forecast, min) },
        on_track: g.on_track,
    }
}

/// Employment + studies + job-seeking from the protected SUS table: exact when it
/// follows from shown cells (E + S + J, or total − other); otherwise hidden.
fn throughput_cell(groups: &Breakdown, exact: u32, min: u32) -> Cell {
    let key = |g: SusOutcomeGroup| row_cell(groups, &serde_key(&g)).and_then(|c| c.value());
    let parts: Option<u32> =
        [SusOutcomeGroup::Employment, SusOutcomeGroup::Studies, SusOutcomeGroup::JobSeeking].into_iter().map(key).sum();
    let rest = groups.total.and_then(|t| t.value()).zip(key(SusOutcomeGroup::Other)).map(|(t, o)| t.saturating_sub(o));
    match parts.or(rest) {
        Some(v) => Cell::Shown(v),
        None if exact >= min => Cell::Protected,
        // Below the threshold (not 0: a 0 sum means three shown zeros).
        None => Cell::Small { below: min },
    }
}

/// The throughput report as it may leave the system, counts below `min` hidden.
pub fn protect_throughput(r: &ThroughputReport, min: u32) -> PublishedThroughput {
    let p = |n: u32| protect_count(n, min);

    let gender: Vec<(String, u32)> =
        GENDERS.iter().map(|g| (serde_key(g), r.by_gender.get(g).copied().unwrap_or(0))).collect();
    let [by_municipality, by_referrer, by_gender, by_support_at_start] = protect_breakdowns_linked(
        [&pairs(&r.by_municipality), &pairs(&r.by_referrer), &gender, &pairs(&r.by_support_at_start)],
        r.persons,
        min,
    );
    let persons = total_cell(&by_gender, r.persons, min);

    let month_exits: Vec<(String, u32)> = r.months.iter().map(|m| (m.month.clone(), m.exits)).collect();
    let [exits_by_sus_group, months_exits] =
        protect_breakdowns_linked([&sus_rows(&r.exits_by_sus_group), &month_exits], r.exits, min);
    let exits = total_cell(&exits_by_sus_group, r.exits, min);
    let exits_to_employment = row_cell(&exits_by_sus_group, &serde_key(&SusOutcomeGroup::Employment))
        .unwrap_or_else(|| p(r.exits_to_employment));
    let exits_to_throughput = throughput_cell(&exits_by_sus_group, r.exits_to_throughput, min);

    let month_intakes: Vec<(String, u32)> = r.months.iter().map(|m| (m.month.clone(), m.intakes)).collect();
    let months_intakes = protect_breakdown(&month_intakes, Some(r.intakes), min);
    let intakes = total_cell(&months_intakes, r.intakes, min);
    let months = r
        .months
        .iter()
        .zip(months_intakes.rows.iter().zip(&months_exits.rows))
        .map(|(m, (i, x))| PublishedMonth {
            month: m.month.clone(),
            intakes: i.count,
            exits: x.count,
            active_at_end: p(m.active_at_end),
        })
        .collect();

    // A whole year's report as of its end: the goal's persons so far are the persons.
    let same_persons = r.period == Period::Year(r.goal.year).to_string() && r.goal.as_of == r.to;
    let enough = |n: u32| min <= 1 || n >= min;
    PublishedThroughput {
        period: r.period.clone(),
        from: r.from,
        to: r.to,
        min_count: min,
        persons,
        intakes,
        active_at_end: p(r.active_at_end),
        exits,
        share_to_employment_percent: share(exits_to_employment, exits),
        share_to_throughput_percent: share(exits_to_throughput, exits),
        exits_by_sus_group,
        exits_to_employment,
        exits_to_throughput,
        // The first-placement median counts first placements in the period, which the
        // report does not count; the period's cohort with a placement stands in (an
        // approximation: placements of people taken in earlier are not in it).
        median_days_to_first_placement: r.median_days_to_first_placement.filter(|_| enough(r.funnel.with_placement)),
        median_days_to_exit: r.median_days_to_exit.filter(|_| enough(r.exits)),
        by_municipality,
        by_referrer,
        by_gender,
        by_support_at_start,
        by_site: protect_breakdown(&pairs(&r.by_site), None, min),
        by_work_area: protect_breakdown(&pairs(&r.by_work_area), None, min),
        funnel: PublishedFunnel {
            intakes,
            with_placement: p(r.funnel.with_placement),
            with_training: p(r.funnel.with_training),
            exited: p(r.funnel.exited),
            exited_to_employment: p(r.funnel.exited_to_employment),
        },
        months,
        goal: publish_goal(&r.goal, min, same_persons.then_some(persons)),
    }
}

/// The steering-group status as it may leave the meeting room: counts only (never
/// which cases), below `min` hidden.
pub fn protect_steering(r: &SteeringReport, min: u32) -> PublishedSteering {
    let p = |n: u32| protect_count(n, min);
    let c = &r.since_previous;
    let exits_by_sus_group = protect_breakdown(&sus_rows(&c.exits_by_sus_group), Some(c.exits), min);
    PublishedSteering {
        as_of: r.as_of,
        previous_meeting: r.previous_meeting,
        min_count: min,
        goal: publish_goal(&r.goal, min, None),
        active_participants: p(r.active_participants),
        active_per_site: protect_breakdown(&pairs(&r.active_per_site), None, min),
        since_previous: PublishedChanges {
            intakes: p(c.intakes),
            exits: total_cell(&exits_by_sus_group, c.exits, min),
            exits_by_sus_group,
            placements_started: p(c.placements_started),
            placements_ended: p(c.placements_ended),
            trainings_completed: p(c.trainings_completed),
            assessments: p(c.assessments),
        },
        alerts: PublishedAlerts {
            intake_without_placement: p(r.alerts.intake_without_placement.count),
            stays_over_12_months: p(r.alerts.stays_over_12_months.count),
            open_placements_without_end: p(r.alerts.open_placements_without_end.count),
        },
    }
}
