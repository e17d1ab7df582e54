//! The contract of the stod event log, and the case rules over it.
//!
//! Everything here is pure: no tokio, NATS or sled. The write path and the projections
//! in `services/` and `projections/` do the I/O around it.
//!
//! # Layout
//!
//! - [`ids`]: identifiers, dates and timestamps with pinned wire forms.
//! - [`event`]: the events (facts, corrections, retractions); each payload struct is a
//!   frozen wire version.
//! - [`envelope`]: what every event carries besides its content, and the hash chain.
//! - [`codec`]: the one binary codec (bincode `=2.0.1`), with the byte layout auditors
//!   can check by hand.
//! - [`reference`]: codes for municipalities, sites, courses, ... with Swedish names.
//! - [`sweden`]: Swedish time: today's business date, instants in local time.
//! - [`case`]: `decide` (every rule) and `CaseState::evolve` (no rule).
//!
//! # Example
//!
//! ```
//! use stod_events::case::{decide, Action, CaseState, Command, Context};
//! use stod_events::event::{Gender, Registration, AnonymityReason};
//! use stod_events::ids::{Date, ParticipantRef};
//! use stod_events::reference::Catalogue;
//!
//! let catalogue = Catalogue::default_catalogue();
//! let today = Date::from_ymd(2025, 3, 1).unwrap();
//! let ctx = Context { today, catalogue: &catalogue, open_case_of_participant: None };
//! let intake = Command::Record {
//!     occurred_on: today,
//!     action: Action::Enroll {
//!         participant: ParticipantRef::new(),
//!         gender: Gender::Woman,
//!         registration: Registration::Anonymous(AnonymityReason::NoConsent),
//!     },
//! };
//! let events = decide(&CaseState::default(), &intake, &ctx).unwrap();
//! assert_eq!(events.len(), 1);
//! ```

pub mod case;
pub mod codec;
pub mod envelope;
pub mod event;
pub mod ids;
pub mod reference;
pub mod sweden;

pub use envelope::{ChainHash, RecordedEvent, SealedEvent};
pub use event::{Event, EventType, Fact};
