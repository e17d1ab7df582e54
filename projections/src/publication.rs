//! The days published figures may stand on: month ends that have passed.
//!
//! Small-count protection ([`crate::disclosure`]) keeps one table from giving a person
//! away. Two tables for neighbouring days would not need to: the difference between the
//! steering group's status on the 14th and on the 15th is what happened to the few
//! people whose facts are dated the 15th, in full detail. So the reports that leave the
//! system are computed only as of a month end, and only one that has passed (today's
//! month end is still being written). "Today" in a published report is the last such
//! month end. Between two allowed days lies a whole month; the month's own figures are
//! a protected table of their own (the months of the throughput report, the changes
//! since the previous meeting). What remains, and how it is handled, is in
//! `docs/decisions/0012-insider-trust-boundary.md`.

use chrono::{Datelike, NaiveDate};
use stod_events::ids::Date;

/// The last day of `date`'s month.
pub fn month_end(date: Date) -> Date {
    let d = date.naive();
    let first_of_next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    };
    first_of_next.and_then(|n| n.pred_opt()).map(Date::new).unwrap_or(date)
}

pub fn is_month_end(date: Date) -> bool {
    month_end(date) == date
}

/// The latest day a published report may stand on when it is `today`: the last day of
/// the month before today's.
pub fn latest(today: Date) -> Date {
    let d = today.naive();
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).and_then(|first| first.pred_opt()).map(Date::new).unwrap_or(today)
}

/// A day a published report cannot stand on, with what would be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotPublishable(pub String);

impl std::fmt::Display for NotPublishable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotPublishable {}

/// `date` if a published report may stand on it when it is `today`; `what` names the
/// parameter in the message.
pub fn check(what: &str, date: Date, today: Date) -> Result<Date, NotPublishable> {
    let last = latest(today);
    if !is_month_end(date) {
        let before = latest(date);
        return Err(NotPublishable(format!(
            "{what} {date} är inget månadsslut: publicerade siffror gäller per den sista dagen i en månad, \
             t.ex. {before} eller {}{}",
            month_end(date),
            if month_end(date) > last { format!(" (senast {last})") } else { String::new() }
        )));
    }
    if date > last {
        return Err(NotPublishable(format!(
            "{what} {date}: månaden är inte slut, så siffrorna kan inte publiceras än; senaste möjliga dag är {last}"
        )));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn month_ends_include_leap_days_and_december() {
        assert_eq!(month_end(d("2024-02-03")), d("2024-02-29"));
        assert_eq!(month_end(d("2025-02-28")), d("2025-02-28"));
        assert_eq!(month_end(d("2025-12-01")), d("2025-12-31"));
        assert!(is_month_end(d("2025-04-30")) && !is_month_end(d("2025-04-29")));
    }

    #[test]
    fn the_latest_publishable_day_is_the_previous_month_end() {
        assert_eq!(latest(d("2026-12-07")), d("2026-11-30"));
        assert_eq!(latest(d("2026-12-01")), d("2026-11-30"));
        // On a month end itself that month is not over yet.
        assert_eq!(latest(d("2026-11-30")), d("2026-10-31"));
        assert_eq!(latest(d("2026-01-15")), d("2025-12-31"));
    }

    #[test]
    fn only_passed_month_ends_are_accepted_and_the_refusal_names_valid_days() {
        let today = d("2026-12-07");
        assert_eq!(check("as_of", d("2026-11-30"), today), Ok(d("2026-11-30")));
        assert_eq!(check("as_of", d("2020-02-29"), today), Ok(d("2020-02-29")));
        let mid = check("as_of", d("2026-06-15"), today).unwrap_err().0;
        assert!(mid.contains("2026-05-31") && mid.contains("2026-06-30"), "{mid}");
        let this_month = check("as_of", d("2026-12-31"), today).unwrap_err().0;
        assert!(this_month.contains("2026-11-30"), "{this_month}");
        let this_month_mid = check("as_of", d("2026-12-06"), today).unwrap_err().0;
        assert!(this_month_mid.contains("senast 2026-11-30"), "{this_month_mid}");
    }
}
