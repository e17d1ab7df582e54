//! The audit trail: every event of a case in order, who recorded it when, and which
//! later events correct or retract it.

use serde::{Deserialize, Serialize};
use stod_events::event::CorrectionReason;
use stod_events::ids::{CaseId, Date, EventId, Timestamp, UserId};
use stod_events::{Event, SealedEvent};

/// One event as the audit trail lists it. What it says is in the log itself; this is
/// the index to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub stream_sequence: u64,
    pub event_id: EventId,
    pub case_id: CaseId,
    /// English type name, e.g. `placement_started`.
    pub event_type: String,
    pub occurred_on: Date,
    pub recorded_at: Timestamp,
    pub recorded_by: UserId,
    /// For corrections and retractions: the event changed, and why.
    pub corrects: Option<EventId>,
    pub reason: Option<CorrectionReason>,
    pub chain_hash: String,
    /// Filled in when listed: the later events that correct or retract this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_by: Vec<EventId>,
}

impl AuditEntry {
    pub fn new(stream_sequence: u64, sealed: &SealedEvent) -> Self {
        let ev = &sealed.event;
        let reason = match &ev.event {
            Event::Fact(_) => None,
            Event::Corrected(c) => Some(c.reason),
            Event::Retracted(r) => Some(r.reason),
        };
        AuditEntry {
            stream_sequence,
            event_id: ev.event_id,
            case_id: ev.case_id,
            event_type: ev.event_type().name().to_owned(),
            occurred_on: ev.occurred_on,
            recorded_at: ev.recorded_at,
            recorded_by: ev.recorded_by.clone(),
            corrects: ev.event.target(),
            reason,
            chain_hash: sealed.chain_hash.to_hex(),
            changed_by: Vec::new(),
        }
    }
}

/// Links each entry to the later entries that change it (entries of one case, in
/// stream order).
pub fn link_corrections(entries: &mut [AuditEntry]) {
    let links: Vec<(EventId, EventId)> =
        entries.iter().filter_map(|e| e.corrects.map(|target| (target, e.event_id))).collect();
    for (target, by) in links {
        if let Some(t) = entries.iter_mut().find(|e| e.event_id == target) {
            t.changed_by.push(by);
        }
    }
}
