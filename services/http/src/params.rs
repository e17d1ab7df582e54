//! Query strings read with errors a person can act on: an unknown parameter, a date
//! that is not a date or a period that is not a period each get a 400 that names the
//! parameter and says what would be valid.

use std::collections::HashMap;

use stod_events::ids::Date;
use stod_projections::{publication, Period};

use crate::error::ApiError;

pub struct Params(HashMap<String, String>);

impl Params {
    /// Refuses any parameter not in `allowed` (a typo should not silently give another
    /// report than the one asked for). Empty values, as a form sends for a blank field,
    /// count as absent.
    pub fn read(map: HashMap<String, String>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut unknown: Vec<&String> = map.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            let valid = if allowed.is_empty() { "inga parametrar".to_owned() } else { allowed.join(", ") };
            return Err(ApiError::bad(format!("okänd parameter {first:?}"), valid));
        }
        Ok(Params(map.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect()))
    }

    pub fn date(&self, name: &str) -> Result<Option<Date>, ApiError> {
        self.0
            .get(name)
            .map(|v| {
                v.trim().parse::<Date>().map_err(|_| {
                    ApiError::bad(format!("{name}: {v:?} är inget datum"), "ett datum ÅÅÅÅ-MM-DD, t.ex. 2026-06-30")
                })
            })
            .transpose()
    }

    /// A day a published report may stand on: a month end that has passed
    /// (`stod_projections::publication`).
    pub fn published_date(&self, name: &str) -> Result<Option<Date>, ApiError> {
        let Some(day) = self.date(name)? else { return Ok(None) };
        let today = stod_events::sweden::today();
        publication::check(name, day, today).map(Some).map_err(|e| {
            ApiError::bad(
                e.0,
                format!("den sista dagen i en månad som har passerat, senast {}", publication::latest(today)),
            )
        })
    }

    pub fn period(&self, name: &str) -> Result<Option<Period>, ApiError> {
        self.0
            .get(name)
            .map(|v| {
                v.trim().parse::<Period>().map_err(|_| {
                    ApiError::bad(
                        format!("{name}: {v:?} är ingen period"),
                        "ett år (2026), ett kvartal (2026-Q2) eller en månad (2026-03), år 2000–2200",
                    )
                })
            })
            .transpose()
    }
}

/// Checks that the previous meeting lies before the report's date.
pub fn check_meetings(as_of: Date, previous: Option<Date>) -> Result<(), ApiError> {
    match previous {
        Some(p) if p >= as_of => Err(ApiError::bad(
            format!("föregående möte ({p}) ligger inte före rapportdatumet ({as_of})"),
            format!("ett datum före {as_of}, eller inget"),
        )),
        _ => Ok(()),
    }
}

/// The day published figures stand on when none is asked for: the last passed month end.
pub fn published_today() -> Date {
    publication::latest(stod_events::sweden::today())
}
