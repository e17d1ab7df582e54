//! Builders for tests of what renders a case (here and in the command line's tests):
//! events as the command service shows them. Only with the `fixtures` feature.
#![allow(clippy::unwrap_used)]

use stod_events::event::{CorrectionReason, Fact, PlacementNo, PlacementStarted, SusOutcomeGroup};
use stod_events::ids::{CaseId, Code, Date, EventId, SubmissionId, Timestamp, UserId};
use stod_projections::steering::{AlertGroup, Alerts, Changes};
use stod_projections::throughput::Goal;
use stod_projections::SteeringReport;
use stod_protocol::EventView;

/// An event as the command service shows it: recorded by anna on 2025-03-14 at noon
/// (Swedish time), a correction when `corrects` is set with a fact, a retraction without.
pub fn event(seq: u64, fact: Option<Fact>, corrects: Option<EventId>, reason: Option<CorrectionReason>) -> EventView {
    let (event_type, label) = match (&fact, corrects) {
        (Some(_), Some(_)) => ("corrected", "Rättelse".to_owned()),
        (None, _) => ("retracted", "Makulering".to_owned()),
        (Some(f), None) => (f.event_type().name(), f.event_type().label_sv().to_owned()),
    };
    EventView {
        stream_sequence: seq,
        event_id: EventId::new(),
        event_type: event_type.to_owned(),
        label,
        occurred_on: Date::from_ymd(2025, 3, 14).unwrap(),
        recorded_at: Timestamp::from_micros(1_741_950_000_000_000).unwrap(),
        recorded_by: UserId::parse("anna").unwrap(),
        submission_id: SubmissionId::new(),
        fact,
        corrects,
        reason,
        chain_hash: "ab".repeat(32),
    }
}

/// Placement 1 at `site`, in assembly, 20 hours a week.
pub fn placement(site: &str) -> Fact {
    Fact::PlacementStarted(PlacementStarted {
        placement: PlacementNo(1),
        site: Code::parse(site).unwrap(),
        work_area: Code::parse("montering").unwrap(),
        hours_per_week: 20,
    })
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

/// The year 2025's goal of 20 as known on `as_of`: `persons` so far (7 carried in).
pub fn goal(persons: u32, forecast: u32, as_of: &str) -> Goal {
    Goal {
        year: 2025,
        target: 20,
        as_of: date(as_of),
        persons_so_far: persons,
        carried_in: 7,
        intakes_so_far: persons - 7,
        forecast,
        on_track: forecast >= 20,
    }
}

/// The steering group's exact report on 30 June 2025, with small counts in it and one
/// case named in an alert.
pub fn steering_report() -> SteeringReport {
    SteeringReport {
        as_of: date("2025-06-30"),
        previous_meeting: Some(date("2025-03-31")),
        goal: goal(18, 21, "2025-06-30"),
        active_participants: 9,
        active_per_site: [("industrisparet".to_owned(), 4), ("vaderbacken".to_owned(), 2)].into(),
        since_previous: Changes {
            intakes: 3,
            exits: 2,
            exits_by_sus_group: [(SusOutcomeGroup::Employment, 2)].into(),
            ..Changes::default()
        },
        alerts: Alerts {
            intake_without_placement: AlertGroup { count: 1, cases: vec![CaseId::new()], truncated: false },
            ..Alerts::default()
        },
    }
}
