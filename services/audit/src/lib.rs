//! Auditing the event log: prove it intact, export it, and see the past as it was.
//!
//! # Layout
//!
//! - [`verify`]: walks every case's SHA-256 chain and names each changed, missing,
//!   inserted, reordered or misplaced event.
//! - [`bundle`]: a self-contained export (events, chain heads, manifest with digests)
//!   and its offline check.
//! - [`replay`]: the read models as they stood at a past instant or stream sequence,
//!   and the figures that differ from now.
//!
//! Everything here works on bytes and events handed to it; reading the stream is the
//! caller's job, so an auditor can run it on an export without NATS.

pub mod bundle;
pub mod replay;
pub mod verify;

pub use bundle::{check, export, BundleCheck, Manifest, SetAside};
pub use replay::{compare, records_at, Cutoff, Difference};
pub use verify::{verify, verify_setting_aside, ChainHead, Finding, Record, Verification};
