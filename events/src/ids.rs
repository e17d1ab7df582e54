//! Identifiers and time values as they are written into the log.
//!
//! Each type pins its own wire representation, so the bytes in the log depend on this
//! file, not on how `uuid` or `chrono` choose to serialise themselves in some future
//! release. Binary formats (the log) get a primitive; human-readable ones (the JSON of
//! requests and replies) get the usual text form: uuid strings, `2025-03-14`, RFC 3339.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Wire form: the 16 bytes of the uuid.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(&self.0)
                } else {
                    self.0.into_bytes().serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    Uuid::parse_str(&s).map(Self).map_err(D::Error::custom)
                } else {
                    <[u8; 16]>::deserialize(d).map(Self::from)
                }
            }
        }

        impl $name {
            /// A new time-ordered (UUIDv7) identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<[u8; 16]> for $name {
            fn from(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl From<$name> for [u8; 16] {
            fn from(id: $name) -> Self {
                id.0.into_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// One participant's journey through the programme (*ärende*).
    CaseId
);
uuid_id!(
    /// One event in the log. UUIDv7, so ids sort roughly by recording time.
    EventId
);
uuid_id!(
    /// One submission by a client. A retried submission carries the same id, which is how
    /// the write path recognises it and answers with the original result.
    SubmissionId
);
uuid_id!(
    /// A random, pseudonymous reference to a participant. The only way a person appears
    /// in the log: the mapping to a real identity lives outside it and can be erased.
    ParticipantRef
);

/// A business date (`occurred_on`): the day the case worker says something happened.
///
/// Wire form: days since 1970-01-01 as `i32`. JSON: `"2025-03-14"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(NaiveDate);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&self.0.format("%Y-%m-%d"))
        } else {
            i32::from(*self).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(|_| D::Error::custom(format!("{s:?} är inget datum: skriv ÅÅÅÅ-MM-DD, t.ex. 2025-03-14")))
        } else {
            Date::try_from(i32::deserialize(d)?).map_err(D::Error::custom)
        }
    }
}

const UNIX_EPOCH_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a valid date"),
};

impl Date {
    pub const fn new(date: NaiveDate) -> Self {
        Self(date)
    }
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(Self)
    }
    pub const fn naive(&self) -> NaiveDate {
        self.0
    }
    pub fn year(&self) -> i32 {
        self.0.year()
    }
    /// Whole days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(&self, later: Date) -> i64 {
        (later.0 - self.0).num_days()
    }
}

impl TryFrom<i32> for Date {
    type Error = String;
    fn try_from(days: i32) -> Result<Self, Self::Error> {
        UNIX_EPOCH_DATE
            .checked_add_signed(chrono::Duration::days(i64::from(days)))
            .map(Self)
            .ok_or_else(|| format!("day number {days} is outside the calendar"))
    }
}

impl From<Date> for i32 {
    fn from(date: Date) -> Self {
        // Every NaiveDate lies within ±262,143 years, so the day count fits in i32.
        (date.0 - UNIX_EPOCH_DATE).num_days() as i32
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({})", self.0)
    }
}

impl FromStr for Date {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map(Self)
    }
}

/// A server-clock instant (`recorded_at`), always UTC.
///
/// Wire form: microseconds since 1970-01-01T00:00:00Z as `i64`. JSON: RFC 3339 in UTC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.as_micros().serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            let t = DateTime::parse_from_rfc3339(&s).map_err(D::Error::custom)?;
            Timestamp::from_micros(t.timestamp_micros()).ok_or_else(|| D::Error::custom("outside the calendar"))
        } else {
            Timestamp::try_from(i64::deserialize(d)?).map_err(D::Error::custom)
        }
    }
}

impl Timestamp {
    /// Now, truncated to the microsecond the wire form keeps, so a value survives an
    /// encode/decode round trip unchanged.
    pub fn now() -> Self {
        Self::from_micros(Utc::now().timestamp_micros()).unwrap_or(Self(DateTime::UNIX_EPOCH))
    }
    pub fn from_micros(micros: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(micros).map(Self)
    }
    pub fn as_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }
    pub const fn utc(&self) -> DateTime<Utc> {
        self.0
    }
    /// The calendar date of this instant in UTC.
    pub fn date_utc(&self) -> Date {
        Date(self.0.date_naive())
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = String;
    fn try_from(micros: i64) -> Result<Self, Self::Error> {
        Self::from_micros(micros).ok_or_else(|| format!("{micros} µs is outside the calendar"))
    }
}

impl From<Timestamp> for i64 {
    fn from(ts: Timestamp) -> Self {
        ts.as_micros()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// The authenticated user who recorded an event. Never taken from a payload: the write
/// path derives it from the credentials the request arrived with.
///
/// Lower-case ASCII letters, digits, `-` and `_`, 1 to 64 characters: it is one token of a
/// NATS subject (`stod.cmd.<user>.<command>`), where `.`, `*`, `>` and spaces cannot appear.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, InvalidToken> {
        check_token(s, 64).map(|()| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidToken;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        check_token(&s, 64).map(|()| Self(s))
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> Self {
        u.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// A reference-data code (site, course, municipality, ...): lower-case ASCII letters,
/// digits, `-` and `_`, 1 to 32 characters. Codes go into the log; display names do not,
/// so a renamed site keeps its history.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    pub fn parse(s: &str) -> Result<Self, InvalidToken> {
        check_token(s, 32).map(|()| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Code {
    type Error = InvalidToken;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        check_token(&s, 32).map(|()| Self(s))
    }
}

impl From<Code> for String {
    fn from(c: Code) -> Self {
        c.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({})", self.0)
    }
}

/// A code or user id that is not of the allowed form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} är inte giltigt: använd 1–{max_len} tecken bland a–z, 0–9, '-' och '_'")]
pub struct InvalidToken {
    pub given: String,
    pub max_len: usize,
}

fn check_token(s: &str, max_len: usize) -> Result<(), InvalidToken> {
    let ok = !s.is_empty()
        && s.len() <= max_len
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvalidToken { given: s.chars().take(80).collect(), max_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_wire_form_is_days_since_epoch() {
        let d = Date::from_ymd(1970, 1, 2).unwrap();
        assert_eq!(i32::from(d), 1);
        assert_eq!(Date::try_from(-1).unwrap(), Date::from_ymd(1969, 12, 31).unwrap());
        assert!(Date::try_from(i32::MAX).is_err());
    }

    #[test]
    fn json_forms_are_text() {
        let d = Date::from_ymd(2025, 3, 14).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2025-03-14\"");
        assert_eq!(serde_json::from_str::<Date>("\"2025-03-14\"").unwrap(), d);
        assert!(serde_json::from_str::<Date>("\"14/3/2025\"").is_err());
        let id: CaseId = "01900000-0000-7000-8000-00000000cafe".parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"01900000-0000-7000-8000-00000000cafe\"");
        assert_eq!(serde_json::from_str::<CaseId>(&json).unwrap(), id);
        let ts = Timestamp::from_micros(1_741_950_000_123_456).unwrap();
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2025-03-14T11:00:00.123456Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
    }

    #[test]
    fn tokens_reject_subject_metacharacters() {
        for bad in ["", "a.b", "a b", "*", ">", "Åsa", &"x".repeat(65)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(UserId::parse("anna_l-2").is_ok());
        assert!(Code::parse(&"x".repeat(33)).is_err());
    }
}
