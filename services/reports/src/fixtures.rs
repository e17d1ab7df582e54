//! Builders for tests of what renders a case (here and in the command line's tests):
//! events as the command service shows them. Only with the `fixtures` feature.
#![allow(clippy::unwrap_used)]

use stod_events::event::{CorrectionReason, Fact, PlacementNo, PlacementStarted};
use stod_events::ids::{Code, Date, EventId, SubmissionId, Timestamp, UserId};
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
