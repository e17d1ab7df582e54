//! Inputs that cargo fuzz once found (`scripts/fuzz`), replayed on every test run: the
//! decoders must answer each with an error or a value, never a panic. Also replays the
//! golden fixtures through the same checks as the fuzz targets.

use std::path::Path;

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != ".keep")
        .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).ok()?)))
        .collect();
    out.sort();
    out
}

#[test]
fn the_event_decoder_survives_every_recorded_input() {
    let mut seen = 0;
    for (name, bytes) in inputs("fuzz/regressions/decode_event").into_iter().chain(inputs("events/tests/fixtures/v1")) {
        if let Ok(sealed) = stod_events::codec::decode(&bytes) {
            assert_eq!(sealed.bytes, bytes, "{name}: a decoded event keeps its exact bytes");
        }
        seen += 1;
    }
    assert!(seen >= 12, "the golden fixtures at least: {seen}");
}

#[test]
fn the_command_decoder_survives_every_recorded_input() {
    let catalogue = stod_events::reference::Catalogue::default_catalogue();
    let today = stod_events::ids::Date::from_ymd(2026, 11, 27).expect("a date");
    let ctx = stod_events::case::Context { catalogue: &catalogue, today, open_case_of_participant: None };
    for (_, bytes) in inputs("fuzz/regressions/command_request") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if let Ok(command) = serde_json::from_value::<stod_events::case::Command>(value["command"].clone()) {
                let _ = stod_events::case::decide(&stod_events::case::CaseState::default(), &command, &ctx);
            }
        }
    }
}
