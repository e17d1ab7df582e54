//! Where output goes: people get Swedish text, programs (`--json`) get one JSON value
//! per line on stdout and nothing else there. Messages about failures go to stderr in
//! both modes.

use std::io::Write;

use serde::Serialize;

#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Prints the result: `json` in JSON mode, otherwise the text `human` builds.
    pub fn result<T: Serialize + ?Sized>(&self, json: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string(json) {
                Ok(line) => stdout_line(&line),
                Err(e) => eprintln!("stod: kunde inte skriva JSON: {e}"),
            }
        } else {
            stdout_line(&human());
        }
    }

    /// A line for people only (progress, hints); nothing in JSON mode.
    pub fn say(&self, text: &str) {
        if !self.json {
            stdout_line(text);
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`stod case show ... | head`).
fn stdout_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
