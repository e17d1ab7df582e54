//! Swedish time. Every business date is a date in Sweden ("today" is today in
//! Europe/Stockholm), and people read the server's instants in Swedish local time.
//! The one place the time zone is named.

use chrono::{DateTime, TimeZone as _};
use chrono_tz::Tz;

use crate::ids::{Date, Timestamp};

/// The time zone of every business date.
pub const ZONE: Tz = chrono_tz::Europe::Stockholm;

/// Today's date in Sweden.
pub fn today() -> Date {
    Date::new(now().date_naive())
}

/// Now, in Swedish local time.
pub fn now() -> DateTime<Tz> {
    chrono::Utc::now().with_timezone(&ZONE)
}

/// An instant in Swedish local time.
pub fn local(t: Timestamp) -> DateTime<Tz> {
    t.utc().with_timezone(&ZONE)
}

/// The Swedish calendar date of an instant.
pub fn date_of(t: Timestamp) -> Date {
    Date::new(local(t).date_naive())
}

/// 00:00 in Sweden on `day` (the clock never changes at midnight there); `None` only
/// at the ends of the calendar.
pub fn midnight(day: Date) -> Option<Timestamp> {
    ZONE.from_local_datetime(&day.naive().and_time(chrono::NaiveTime::MIN))
        .single()
        .and_then(|dt| Timestamp::from_micros(dt.to_utc().timestamp_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_in_swedish_time_across_the_clock_changes() {
        let summer = Timestamp::from_micros(1_751_320_800_000_000).unwrap(); // 2025-06-30T22:00:00Z
        assert_eq!(local(summer).format("%Y-%m-%d %H:%M").to_string(), "2025-07-01 00:00");
        assert_eq!(date_of(summer), Date::from_ymd(2025, 7, 1).unwrap());
        let winter = Timestamp::from_micros(1_735_686_000_000_000).unwrap(); // 2024-12-31T23:00:00Z
        assert_eq!(date_of(winter), Date::from_ymd(2025, 1, 1).unwrap());
        assert_eq!(midnight(Date::from_ymd(2025, 1, 1).unwrap()), Some(winter));
    }
}
