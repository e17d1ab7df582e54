//! The command decoder (the write path's JSON) never panics, and a request it accepts
//! can be decided on an empty case without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stod_events::case::{decide, CaseState, Context};
use stod_events::reference::Catalogue;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = stod_protocol::parse_body::<stod_protocol::CommandRequest>(data) else { return };
    let catalogue = Catalogue::default_catalogue();
    let today = stod_events::ids::Date::from_ymd(2026, 11, 27).expect("a date");
    let ctx = Context { catalogue: &catalogue, today, open_case_of_participant: None };
    let _ = decide(&CaseState::default(), &request.command, &ctx);
});
