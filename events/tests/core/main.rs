//! Tests of the pure core: case rules (given/when/then), codec and golden fixtures,
//! and properties. No I/O beyond reading the committed fixture files.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

mod arb;
mod codec;
mod fuzz_regressions;
mod properties;
mod rules;
mod support;
