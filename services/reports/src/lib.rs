//! stod's reports as people read them, in Swedish.
//!
//! Pure functions from the read models' published (small-count protected) reports and a
//! [`Catalogue`] for names to documents: the steering group's status and the funder's
//! follow-up as text, Markdown, HTML and CSV, and the dashboard's charts as SVG. The
//! command line and the HTTP service both render through here, so a printed report, a
//! file sent to the funder and the dashboard never disagree.
//!
//! # Layout
//!
//! - [`sv`]: the Swedish words for the domain's fixed values.
//! - [`case`]: a case's history as a case worker reads it (`stod case show`), and its
//!   audit trail from the read models (`stod case history`).
//! - [`caseload`]: the caseload (`stod case list`) and the worklist (`stod worklist`).
//! - [`throughput`]: the throughput report (exact, for the terminal) and the
//!   dashboard's sections of the published one.
//! - [`doc`]: a report as sections of rows or tables, rendered to text, Markdown, HTML.
//! - [`html`]: the one HTML page every document and dashboard page is (maud).
//! - [`steering`]: the steering group's status report.
//! - [`funder`]: the funder's follow-up (SUS style), including the CSV for Excel.
//! - [`charts`]: SVG charts (goal, months, funnel, outcomes, sites).
//!
//! # What it does not do
//!
//! It never sees an exact count of a published report: protection is applied before
//! (`stod_projections::disclosure`), so nothing rendered here can leak a small cell.

use chrono::Datelike;
use stod_events::ids::{Code, Date};
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::throughput::NOT_RECORDED;

pub mod case;
pub mod caseload;
pub mod charts;
pub mod doc;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod funder;
pub mod html;
pub mod steering;
pub mod sv;
pub mod throughput;

pub use doc::Format;

/// What a report was computed from, for the reader who wants to know how fresh it is.
#[derive(Clone, Debug)]
pub enum Basis {
    /// The read models answered.
    ReadModel {
        /// The last event of the log the figures include.
        checkpoint: u64,
        /// The read models' generation that answered.
        generation: u64,
    },
    /// `audit replay` rebuilt the figures from the log as it stood at a moment; the
    /// text says which moment and which events.
    Replay(String),
}

impl Basis {
    pub fn sentence(&self) -> String {
        match self {
            Basis::ReadModel { checkpoint, generation } => {
                format!("Underlag: händelseloggen t.o.m. händelse {checkpoint} (läsmodell, generation {generation}).")
            }
            Basis::Replay(what) => format!("Underlag: {what}"),
        }
    }
}

pub const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

/// "30 juni 2025".
pub fn long_date(date: Date) -> String {
    let d = date.naive();
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// "år 2025", "kvartal 2 2025", "mars 2025" from a period token.
pub fn period_title(period: &str) -> String {
    if let Some((y, q)) = period.split_once("-Q") {
        return format!("kvartal {q} {y}");
    }
    if let Some((y, m)) = period.split_once('-') {
        if let Some(name) = m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))) {
            return format!("{name} {y}");
        }
    }
    format!("år {period}")
}

/// "jan", "feb", ... for a month token `2025-03`, for chart axes.
pub fn short_month(month: &str) -> String {
    month
        .split_once('-')
        .and_then(|(_, m)| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .map_or_else(|| month.to_owned(), |name| name.chars().take(3).collect())
}

/// The display name of a breakdown key: a reference-data code, or the key for "not
/// recorded" (anonymous participants have no municipality, referrer or support source).
pub fn key_name(cat: &Catalogue, kind: CodeKind, key: &str) -> String {
    if key == NOT_RECORDED {
        return "ej registrerat (anonyma)".to_owned();
    }
    match Code::parse(key) {
        Ok(code) => cat.name(kind, &code).to_owned(),
        Err(_) => key.to_owned(),
    }
}

/// An instant as a Swedish wall-clock time, `2025-03-14 12:00:00`.
pub fn local_time(t: stod_events::ids::Timestamp) -> String {
    stod_events::sweden::local(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// When a document is printed: now in Sweden, to the minute.
pub fn printed_now() -> String {
    stod_events::sweden::now().format("%Y-%m-%d %H:%M").to_string()
}

/// The explanation every protected report carries.
pub fn protection_note(min_count: u32) -> String {
    if min_count <= 1 {
        "Alla antal visas exakt (ingen maskering).".to_owned()
    } else {
        format!(
            "Antal under {min_count} visas som \"<{min_count}\". Celler markerade \"x\" är dolda för att ett litet antal \
             inte ska kunna räknas fram ur summor. Nollor visas."
        )
    }
}
