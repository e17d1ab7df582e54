//! stod's command service: the only writer of the event log.
//!
//! For each command it loads the case from the log, runs the case rules
//! (`stod_events::case::decide`), seals the event into its chain and appends it with
//! optimistic concurrency. Losing a race means deciding again on the new state, so the
//! loser gets the true answer ("already exited"), not a spurious error.
//!
//! # Layout
//!
//! - [`handler`]: one command from request to reply: idempotency, the participant
//!   index, decide, append, retry.
//! - [`group`]: group commit (optional): concurrent appends to different cases as
//!   one JetStream atomic batch.
//! - [`cases`]: loading cases, with a cache that is safe to be stale.
//! - [`serve`]: the NATS service endpoints (queue group `stod-command`); a case query
//!   is recorded in the access log (`stod_store::access`) before it is answered.
//! - [`ops`]: the operator's requests: extending the reference data, setting a foreign
//!   message of the log aside.
//! - [`audit`]: the auditors' reads of whole logs, each run recorded first.
//!
//! # What it does not do
//!
//! It reads no read model (projections are downstream of the log, never upstream of a
//! decision), and it trusts no user named in a request body: `recorded_by` is the user
//! token of the subject the request arrived on.

pub mod audit;
pub mod cases;
pub mod group;
pub mod handler;
pub mod ops;
pub mod serve;

pub use group::{GroupCommitConfig, GroupCommitCounts};
pub use handler::{Handler, HandlerConfig};
pub use serve::{start, CommandService, RunningService, ServiceOptions, StartError, ACCESS_VIA, QUEUE_GROUP};
