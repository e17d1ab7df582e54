//! stod's integration tests, in one binary (see `tests/Cargo.toml`).
//!
//! Every test starts its own real nats-server through `stod-nats-server`;
//! run `scripts/install-nats-server` once first.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

mod access;
mod audit;
mod auth;
mod backup;
mod bad_input;
mod event_log;
mod faults;
mod group_commit;
mod http;
mod insider;
mod mirror;
mod nats_server;
mod projections;
mod published;
mod quarantine;
mod registry;
mod secured;
mod write_path;
