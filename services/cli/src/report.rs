//! The command line's side of the reports: its format flag, the period flags, and the
//! JSON a case list is taken out of. The reports themselves are rendered by
//! `stod-reports`, shared with the dashboard.

use stod_events::reference::Catalogue;
use stod_projections::{PublishedFunder, PublishedSteering};
pub use stod_reports::{long_date, Basis};

use crate::args::{ReportFormat, ThroughputArgs};
use crate::error::CliError;

impl From<ReportFormat> for stod_reports::Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Text => stod_reports::Format::Text,
            ReportFormat::Md => stod_reports::Format::Md,
            ReportFormat::Html => stod_reports::Format::Html,
        }
    }
}

/// The steering group's report (counts already protected by the projector).
pub fn steering(r: &PublishedSteering, basis: &Basis, cat: &Catalogue, format: ReportFormat, printed: &str) -> String {
    stod_reports::steering::steering(r, basis, cat, format.into(), printed)
}

/// The funder's follow-up (counts already protected by the projector).
pub fn funder(r: &PublishedFunder, basis: &Basis, cat: &Catalogue, format: ReportFormat, printed: &str) -> String {
    stod_reports::funder::funder(r, basis, cat, format.into(), printed)
}

/// The period of `report throughput`, as the projector reads it. The projector checks
/// the values; this checks that the flag and the shape agree, so `--year 2025-03` is not
/// silently a month.
pub fn period(args: &ThroughputArgs) -> Result<String, CliError> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (value, ok, example) = if let Some(y) = &args.year {
        (y.trim(), digits(y.trim(), 4), "--year 2025")
    } else if let Some(q) = &args.quarter {
        let ok = q
            .trim()
            .split_once(['-'])
            .is_some_and(|(y, q)| digits(y, 4) && (q.starts_with('Q') || q.starts_with('q')) && digits(&q[1..], 1));
        (q.trim(), ok, "--quarter 2025-Q2")
    } else if let Some(m) = &args.month {
        let ok = m
            .trim()
            .split_once('-')
            .is_some_and(|(y, m)| digits(y, 4) && (1..=2).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()));
        (m.trim(), ok, "--month 2025-03")
    } else {
        return Err(CliError::Usage("ange en period: --year, --quarter eller --month".into()));
    };
    if ok {
        // Checked here too, so a month 13 is refused without asking a server.
        value.parse::<stod_projections::Period>().map_err(|e| CliError::Invalid(e.to_string()))?;
        Ok(value.to_owned())
    } else {
        Err(CliError::Invalid(format!("{value:?} passar inte flaggan: skriv t.ex. {example}")))
    }
}

/// The steering group sees counts only: the alerts' case lists are removed from the
/// JSON too (the projector includes them for case-level roles).
pub fn without_case_ids(mut reply: serde_json::Value) -> serde_json::Value {
    if let Some(alerts) = reply.pointer_mut("/report/alerts").and_then(|a| a.as_object_mut()) {
        for group in alerts.values_mut() {
            if let Some(group) = group.as_object_mut() {
                group.remove("cases");
            }
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_reports::fixtures::steering_report;

    #[test]
    fn periods_must_match_their_flag() {
        let args = |y: Option<&str>, q: Option<&str>, m: Option<&str>| ThroughputArgs {
            year: y.map(Into::into),
            quarter: q.map(Into::into),
            month: m.map(Into::into),
            today: None,
        };
        assert_eq!(period(&args(Some("2025"), None, None)).unwrap(), "2025");
        assert_eq!(period(&args(None, Some("2025-Q2"), None)).unwrap(), "2025-Q2");
        assert_eq!(period(&args(None, None, Some("2025-03"))).unwrap(), "2025-03");
        // Wrong shapes and impossible values (quarter 5, month 13) are refused here.
        for bad in [
            args(Some("2025-03"), None, None),
            args(None, Some("2025-03"), None),
            args(None, None, Some("2025-Q1")),
            args(None, Some("2025-Q5"), None),
            args(None, None, Some("2025-13")),
        ] {
            assert_eq!(period(&bad).unwrap_err().exit_code(), crate::error::exit_code::INVALID);
        }
    }

    #[test]
    fn the_steering_groups_json_has_no_case_ids() {
        let exact = steering_report();
        let case = exact.alerts.intake_without_placement.cases[0].to_string();
        let json = serde_json::json!({"status": "ok", "report": serde_json::to_value(&exact).unwrap()});
        assert!(json.to_string().contains(&case), "the exact report names the case");
        let cleaned = without_case_ids(json);
        assert!(!cleaned.to_string().contains(&case));
        assert_eq!(cleaned["report"]["alerts"]["intake_without_placement"]["count"], 1);
    }
}
