//! Tests of the pure core: case rules (given/when/then), codec and golden fixtures,
//! and properties. No I/O beyond reading the committed fixture files.

mod arb;
mod codec;
mod fuzz_regressions;
mod properties;
mod rules;
mod support;
