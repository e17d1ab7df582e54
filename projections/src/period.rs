//! Reporting periods: a year, a quarter or a month.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use stod_events::ids::Date;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Year(i32),
    /// Year and quarter 1–4.
    Quarter(i32, u32),
    /// Year and month 1–12.
    Month(i32, u32),
}

/// A period that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPeriod(pub String);

impl fmt::Display for BadPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "okänd period {:?}: skriv ett år (2025), ett kvartal (2025-Q2) eller en månad (2025-03)", self.0)
    }
}

impl std::error::Error for BadPeriod {}

const YEARS: std::ops::RangeInclusive<i32> = 2000..=2200;

impl FromStr for Period {
    type Err = BadPeriod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPeriod(s.to_owned());
        let t = s.trim();
        let period = if let Some((y, q)) = t.split_once("-Q").or_else(|| t.split_once("-q")) {
            let (y, q) = (y.parse().map_err(|_| bad())?, q.parse().map_err(|_| bad())?);
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            Period::Quarter(y, q)
        } else if let Some((y, m)) = t.split_once('-') {
            let (y, m) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
            Period::Month(y, m)
        } else {
            Period::Year(t.parse().map_err(|_| bad())?)
        };
        if !YEARS.contains(&period.year()) {
            return Err(bad());
        }
        Ok(period)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Date {
    // Callers pass validated years (2000–2200), months and day 1.
    Date::new(NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN))
}

impl Period {
    pub fn year(&self) -> i32 {
        match *self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => y,
        }
    }

    /// First day.
    pub fn start(&self) -> Date {
        match *self {
            Period::Year(y) => ymd(y, 1, 1),
            Period::Quarter(y, q) => ymd(y, 3 * (q - 1) + 1, 1),
            Period::Month(y, m) => ymd(y, m, 1),
        }
    }

    /// Last day.
    pub fn end(&self) -> Date {
        let next = match *self {
            Period::Year(y) => ymd(y + 1, 1, 1),
            Period::Quarter(y, 4) => ymd(y + 1, 1, 1),
            Period::Quarter(y, q) => ymd(y, 3 * q + 1, 1),
            Period::Month(y, 12) => ymd(y + 1, 1, 1),
            Period::Month(y, m) => ymd(y, m + 1, 1),
        };
        Date::new(next.naive().pred_opt().unwrap_or(next.naive()))
    }

    pub fn contains(&self, date: Date) -> bool {
        self.start() <= date && date <= self.end()
    }

    /// The months of the period, in order.
    pub fn months(&self) -> Vec<Period> {
        let (start, end) = (self.start().naive(), self.end().naive());
        let mut out = Vec::new();
        let (mut y, mut m) = (start.year(), start.month());
        while (y, m) <= (end.year(), end.month()) {
            out.push(Period::Month(y, m));
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_bound() {
        let q: Period = "2025-Q2".parse().unwrap();
        assert_eq!((q.start().to_string(), q.end().to_string()), ("2025-04-01".into(), "2025-06-30".into()));
        let m: Period = "2024-02".parse().unwrap();
        assert_eq!(m.end().to_string(), "2024-02-29");
        let y: Period = "2025".parse().unwrap();
        assert_eq!(y.months().len(), 12);
        for bad in ["", "25", "2025-13", "2025-Q5", "abc", "1999"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
