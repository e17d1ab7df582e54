//! The event decoder never panics, and what it accepts re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sealed) = stod_events::codec::decode(data) {
        assert_eq!(sealed.bytes.as_slice(), data, "a decoded event keeps its exact bytes");
        let again = stod_events::codec::decode(&sealed.bytes).expect("its own bytes decode");
        assert_eq!(again.event, sealed.event);
    }
});
