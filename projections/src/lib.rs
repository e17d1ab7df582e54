//! stod's read models as pure folds: no tokio, NATS or sled.
//!
//! The projection runner (`services/projector`) feeds events in stream order into
//! [`CaseRecord::apply`] and stores the records; reports are pure functions of them.
//!
//! # Layout
//!
//! - [`record`]: [`CaseRecord`] (one row per case, corrections applied) and the
//!   [`Journey`] derived from it.
//! - [`throughput`](mod@throughput): persons, intakes, exits by outcome and SUS group, shares,
//!   durations, breakdowns, funnel, months and the yearly goal with a forecast.
//! - [`steering`](mod@steering): the steering-group status as of a meeting date.
//! - [`audit`]: the audit index entry of each event, with correction links.
//! - [`caseload`]: per case who is responsible, where it stands and what is due (the
//!   worklist rules, `docs/worklist.md`).
//! - [`funder`](mod@funder): the funder's follow-up in the style of SUS (exact two-way counts).
//! - [`disclosure`]: small-count protection: `"<5"` and secondary suppression.
//! - [`published`]: the protected forms of throughput, steering and the funder's
//!   follow-up, as they may leave the system.
//! - [`publication`]: the days published figures may stand on (passed month ends).
//! - [`period`]: years, quarters, months.
//!
//! Counts in the folds are exact. Hiding small counts from the steering group and the
//! funder is done where figures leave the system ([`published`]), not in the folds.

pub mod audit;
pub mod caseload;
pub mod disclosure;
pub mod funder;
pub mod model;
pub mod period;
pub mod publication;
pub mod published;
pub mod record;
pub mod stats;
pub mod steering;
pub mod throughput;

pub use audit::{link_corrections, AuditEntry};
pub use caseload::{due_items, CaseStatus, Caseload, CaseloadEntry, CaseloadQuery, DueItem, DueRule};
pub use disclosure::{protect_breakdown, protect_count, protect_cross, Breakdown, Cell, CrossTable, DEFAULT_MIN_COUNT};
pub use funder::{funder, protect_funder, FunderReport, PublishedFunder};
pub use model::Model;
pub use period::Period;
pub use published::{protect_steering, protect_throughput, PublishedSteering, PublishedThroughput};
pub use record::{CaseRecord, Journey};
pub use steering::{steering, SteeringReport};
pub use throughput::{throughput, ThroughputReport, GOAL_PERSONS_PER_YEAR};

/// The version of the read models' shape and meaning. A runner that finds a store
/// built by another version rebuilds it from the log.
pub const PROJECTION_VERSION: u32 = 5;

use std::collections::BTreeMap;

use stod_events::ids::CaseId;
use stod_events::RecordedEvent;

/// Folds events (with their stream sequences, in order) into case records.
pub fn fold_all<'a>(events: impl IntoIterator<Item = (u64, &'a RecordedEvent)>) -> BTreeMap<CaseId, CaseRecord> {
    let mut records = BTreeMap::new();
    for (seq, ev) in events {
        records.entry(ev.case_id).or_insert_with(|| CaseRecord::new(ev.case_id)).apply(seq, ev);
    }
    records
}
