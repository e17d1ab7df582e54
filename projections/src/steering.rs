//! Steering-group status (*styrgruppsrapport*) as of a meeting date.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stod_events::event::SusOutcomeGroup;
use stod_events::ids::{CaseId, Date};

use crate::record::Journey;
use crate::throughput::{add_map, goal_tally, Goal, GoalTally};

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
    /// `cases` holds only the first [`AlertGroup::MAX_CASES`] of `count` (an answer has to
    /// fit in one NATS message); absent when it holds them all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl AlertGroup {
    /// The most cases an answer lists per alert: 1000 case ids are about 38 KB of JSON,
    /// and at 10M events an alert held 1.2M cases, an answer of more than the 1 MiB NATS
    /// takes in one message.
    pub const MAX_CASES: usize = 1000;

    /// Keeps the first [`MAX_CASES`](Self::MAX_CASES) cases; the count stays exact.
    pub fn limit_cases(&mut self) {
        if self.cases.len() > Self::MAX_CASES {
            self.cases.truncate(Self::MAX_CASES);
            self.truncated = true;
        }
    }

    fn add(&mut self, case: Option<CaseId>) {
        self.count += 1;
        self.cases.extend(case);
    }
}

/// The additive parts of a steering report (see [`crate::throughput::ThroughputTally`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SteeringTally {
    pub active_participants: u32,
    pub active_per_site: BTreeMap<String, u32>,
    pub since_previous: Changes,
    pub alerts: Alerts,
    pub goal: GoalTally,
}

fn add_alert(into: &mut AlertGroup, from: &AlertGroup) {
    into.count += from.count;
    into.cases.extend_from_slice(&from.cases);
}

impl SteeringTally {
    pub fn add(&mut self, o: &SteeringTally) {
        self.active_participants += o.active_participants;
        add_map(&mut self.active_per_site, &o.active_per_site);
        let (c, d) = (&mut self.since_previous, &o.since_previous);
        c.intakes += d.intakes;
        c.exits += d.exits;
        add_map(&mut c.exits_by_sus_group, &d.exits_by_sus_group);
        c.placements_started += d.placements_started;
        c.placements_ended += d.placements_ended;
        c.trainings_completed += d.trainings_completed;
        c.assessments += d.assessments;
        add_alert(&mut self.alerts.intake_without_placement, &o.alerts.intake_without_placement);
        add_alert(&mut self.alerts.stays_over_12_months, &o.alerts.stays_over_12_months);
        add_alert(&mut self.alerts.open_placements_without_end, &o.alerts.open_placements_without_end);
        self.goal.add(&o.goal);
    }

    /// The report: alert cases in case order, empty rows left out.
    pub fn finish(mut self, as_of: Date, previous_meeting: Option<Date>) -> SteeringReport {
        self.active_per_site.retain(|_, n| *n > 0);
        self.since_previous.exits_by_sus_group.retain(|_, n| *n > 0);
        for a in [
            &mut self.alerts.intake_without_placement,
            &mut self.alerts.stays_over_12_months,
            &mut self.alerts.open_placements_without_end,
        ] {
            a.cases.sort_unstable();
        }
        SteeringReport {
            as_of,
            previous_meeting,
            goal: self.goal.finish(as_of.year(), as_of),
            active_participants: self.active_participants,
            active_per_site: self.active_per_site,
            since_previous: self.since_previous,
            alerts: self.alerts,
        }
    }
}

/// The status as of `as_of`, from journeys as they stood on that date
/// (see [`crate::record::CaseRecord::journey_on`]).
pub fn steering(journeys_on: &[Journey], as_of: Date, previous_meeting: Option<Date>) -> SteeringReport {
    steering_tally(journeys_on, as_of, previous_meeting).finish(as_of, previous_meeting)
}

/// What `journeys_on` (as they stood on `as_of`, in case order) add to the status.
pub fn steering_tally(journeys_on: &[Journey], as_of: Date, previous_meeting: Option<Date>) -> SteeringTally {
    let after_previous = |d: Date| previous_meeting.is_none_or(|p| d > p) && d <= as_of;
    let active: Vec<&Journey> = journeys_on.iter().filter(|j| j.active_on(as_of) && j.exit.is_none()).collect();

    let mut active_per_site: BTreeMap<String, u32> = BTreeMap::new();
    let mut alerts = Alerts::default();
    for j in &active {
        let Some(intake) = &j.intake else { continue };
        let running: Vec<_> =
            j.placements.iter().filter(|p| p.start <= as_of && p.end.is_none_or(|e| e >= as_of)).collect();
        let mut sites: Vec<&str> = running.iter().map(|p| p.site.as_str()).collect();
        sites.sort_unstable();
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

    SteeringTally {
        active_participants: active.len() as u32,
        active_per_site,
        since_previous: changes,
        alerts,
        goal: goal_tally(journeys_on, as_of.year(), as_of),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_lists_at_most_max_cases_and_keeps_its_count() {
        let cases: Vec<CaseId> = (0..AlertGroup::MAX_CASES + 5).map(|_| CaseId::new()).collect();
        let mut group = AlertGroup { count: cases.len() as u32, cases: cases.clone(), truncated: false };
        group.limit_cases();
        assert_eq!(group.count as usize, AlertGroup::MAX_CASES + 5, "the count stays exact");
        assert_eq!(group.cases, cases[..AlertGroup::MAX_CASES], "the first ones");
        assert!(group.truncated);
        assert_eq!(serde_json::to_value(&group).unwrap()["truncated"], true);

        let mut small = AlertGroup { count: 2, cases: cases[..2].to_vec(), truncated: false };
        small.limit_cases();
        assert_eq!((small.cases.len(), small.truncated), (2, false));
        // Absent when the list is whole, so earlier answers and readers are unchanged.
        let json = serde_json::to_value(&small).unwrap();
        assert!(json.get("truncated").is_none(), "{json}");
        let read: AlertGroup = serde_json::from_value(serde_json::json!({ "count": 1, "cases": [] })).unwrap();
        assert!(!read.truncated);
    }
}
