//! Steering-group status (*styrgruppsrapport*) as of a meeting date.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stod_events::event::SusOutcomeGroup;
use stod_events::ids::{CaseId, Date};

use crate::record::Journey;
use crate::throughput::{goal, Goal};

/// Alert thresholds, in days.
pub const INTAKE_WITHOUT_PLACEMENT_DAYS: i64 = 30;
pub const LONG_STAY_DAYS: i64 = 365;
pub const OPEN_PLACEMENT_DAYS: i64 = 182;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SteeringReport {
    pub as_of: Date,
    /// The previous meeting's date; changes are counted after it up to `as_of`.
    pub previous_meeting: Option<Date>,
    pub goal: Goal,
    pub active_participants: u32,
    /// Participants with a placement running on `as_of`, by site.
    pub active_per_site: BTreeMap<String, u32>,
    pub since_previous: Changes,
    pub alerts: Alerts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub intakes: u32,
    pub exits: u32,
    pub exits_by_sus_group: BTreeMap<SusOutcomeGroup, u32>,
    pub placements_started: u32,
    pub placements_ended: u32,
    pub trainings_completed: u32,
    pub assessments: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerts {
    /// Open cases with no placement 30+ days after intake.
    pub intake_without_placement: AlertGroup,
    /// Open cases in the operation for more than 12 months.
    pub stays_over_12_months: AlertGroup,
    /// Placements running for more than six months with no end recorded.
    pub open_placements_without_end: AlertGroup,
}

/// A count, and (for case-level roles only) which cases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertGroup {
    pub count: u32,
    pub cases: Vec<CaseId>,
}

impl AlertGroup {
    fn add(&mut self, case: Option<CaseId>) {
        self.count += 1;
        self.cases.extend(case);
    }
}

/// The status as of `as_of`, from journeys as they stood on that date
/// (see [`crate::record::CaseRecord::journey_on`]).
pub fn steering(journeys_on: &[Journey], as_of: Date, previous_meeting: Option<Date>) -> SteeringReport {
    let after_previous = |d: Date| previous_meeting.is_none_or(|p| d > p) && d <= as_of;
    let active: Vec<&Journey> = journeys_on.iter().filter(|j| j.active_on(as_of) && j.exit.is_none()).collect();

    let mut active_per_site: BTreeMap<String, u32> = BTreeMap::new();
    let mut alerts = Alerts::default();
    for j in &active {
        let Some(intake) = &j.intake else { continue };
        let running: Vec<_> =
            j.placements.iter().filter(|p| p.start <= as_of && p.end.is_none_or(|e| e >= as_of)).collect();
        let mut sites: Vec<&str> = running.iter().map(|p| p.site.as_str()).collect();
        sites.dedup();
        for site in sites {
            *active_per_site.entry(site.to_owned()).or_default() += 1;
        }
        if j.placements.is_empty() && intake.date.days_until(as_of) >= INTAKE_WITHOUT_PLACEMENT_DAYS {
            alerts.intake_without_placement.add(j.case_id);
        }
        if intake.date.days_until(as_of) > LONG_STAY_DAYS {
            alerts.stays_over_12_months.add(j.case_id);
        }
        if running.iter().any(|p| p.end.is_none() && p.start.days_until(as_of) > OPEN_PLACEMENT_DAYS) {
            alerts.open_placements_without_end.add(j.case_id);
        }
    }

    let mut changes = Changes::default();
    for j in journeys_on {
        if j.intake.as_ref().is_some_and(|i| after_previous(i.date)) {
            changes.intakes += 1;
        }
        if let Some(x) = j.exit.as_ref().filter(|x| after_previous(x.date)) {
            changes.exits += 1;
            *changes.exits_by_sus_group.entry(x.outcome.sus_group()).or_default() += 1;
        }
        changes.placements_started += j.placements.iter().filter(|p| after_previous(p.start)).count() as u32;
        changes.placements_ended += j.placements.iter().filter(|p| p.end.is_some_and(after_previous)).count() as u32;
        changes.trainings_completed +=
            j.trainings.iter().filter(|t| t.completed.is_some_and(after_previous)).count() as u32;
        changes.assessments += j.assessments.iter().filter(|a| after_previous(a.date)).count() as u32;
    }

    SteeringReport {
        as_of,
        previous_meeting,
        goal: goal(journeys_on, as_of.year(), as_of),
        active_participants: active.len() as u32,
        active_per_site,
        since_previous: changes,
        alerts,
    }
}
