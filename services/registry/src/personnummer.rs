//! Swedish personal identity numbers (*personnummer*) and coordination numbers
//! (*samordningsnummer*): parsing, validation and the one normal form the registry
//! hashes. Pure: no I/O, and "today" is a parameter.
//!
//! Accepted, with any spaces around or inside:
//!
//! | form | meaning |
//! |---|---|
//! | `YYYYMMDD-NNNN`, `YYYYMMDDNNNN` | the full form |
//! | `YYMMDD-NNNN`, `YYMMDDNNNN` | the short form; the century is the one that puts the date within the last 100 years |
//! | `YYMMDD+NNNN` | the short form of someone 100 years or older |
//!
//! A samordningsnummer has 60 added to the day (`19900374-...` is born 14 March 1990).
//! Checked: digits where digits belong, a real calendar date, not in the future, and the
//! Luhn check digit over the ten-digit form.
//!
//! A number is never shown whole, in an error or a log line: [`Personnummer`]'s `Debug`
//! and `Display` and every error message show only the date part, e.g. `19900314-****`.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// What the registry accepts, for error messages and the protocol's `valid` field.
pub const VALID_FORMS: &str = "skriv ÅÅÅÅMMDD-NNNN, t.ex. 19811218-9876 (även ÅÅÅÅMMDDNNNN, ÅÅMMDD-NNNN \
     eller ÅÅMMDD+NNNN för den som är 100 år eller äldre); ett samordningsnummer har dagen + 60";

/// A valid personnummer or samordningsnummer in its normal form: twelve digits,
/// `YYYYMMDDNNNN`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Personnummer {
    digits: [u8; 12],
}

impl Personnummer {
    /// Parses `input` as of `today` (the century of the short form and the future
    /// check depend on it).
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, PersonnummerError> {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(PersonnummerError::format("inget personnummer angavs"));
        }
        let (body, separator) = split_separator(&compact)?;
        if let Some(bad) = body.chars().find(|c| !c.is_ascii_digit()) {
            let what = if bad.is_alphabetic() { "en bokstav" } else { "ett otillåtet tecken" };
            return Err(PersonnummerError::format(format!(
                "numret innehåller {what}; bara siffror och ett bindestreck (eller +) före de fyra sista siffrorna är tillåtna"
            )));
        }
        let d: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        let (year, rest) = match d.len() {
            12 => {
                if separator == Some('+') {
                    return Err(PersonnummerError::format(
                        "plustecken används bara i den korta formen ÅÅMMDD+NNNN; i den långa formen står århundradet redan i numret",
                    ));
                }
                (number(&d[0..4]) as i32, &d[4..])
            }
            10 => {
                let yy = number(&d[0..2]) as i32;
                let (month, day) = (number(&d[2..4]), number(&d[4..6]));
                let mut year = today.year() - today.year().rem_euclid(100) + yy;
                // The latest year with these two digits that does not put the date
                // after today (an invalid date is reported below, with its year).
                if (year, month, real_day(day)) > (today.year(), today.month(), today.day()) {
                    year -= 100;
                }
                if separator == Some('+') {
                    year -= 100;
                }
                (year, &d[..])
            }
            n => {
                return Err(PersonnummerError::format(format!(
                    "numret har {n} siffror; ett personnummer har 12 (ÅÅÅÅMMDDNNNN) eller 10 (ÅÅMMDDNNNN)"
                )))
            }
        };
        let ten: Vec<u8> = if d.len() == 12 { d[2..].to_vec() } else { d.clone() };
        let month = number(&rest[rest.len() - 8..rest.len() - 6]);
        let day_field = number(&rest[rest.len() - 6..rest.len() - 4]);
        let mut digits = [0u8; 12];
        digits[0] = (year / 1000 % 10) as u8;
        digits[1] = (year / 100 % 10) as u8;
        digits[2..].copy_from_slice(&ten);
        let masked = mask(&digits);
        if year < 1800 {
            return Err(PersonnummerError::date(format!(
                "{masked}: året {year} är inte rimligt för en levande person"
            )));
        }
        let day = real_day(day_field);
        let Some(born) = NaiveDate::from_ymd_opt(year, month, day) else {
            let why = if !(1..=12).contains(&month) {
                format!("månaden {month:02} finns inte")
            } else {
                format!("dagen {day_field:02} finns inte i den månaden")
            };
            return Err(PersonnummerError::date(format!(
                "{masked}: {why}; datumdelen ska vara ett verkligt datum (för samordningsnummer dag + 60)"
            )));
        };
        if born > today {
            return Err(PersonnummerError::future(format!("{masked}: födelsedatumet ligger i framtiden")));
        }
        if luhn_check_digit(&ten[..9]) != ten[9] {
            return Err(PersonnummerError::check_digit(format!(
                "kontrollsiffran stämmer inte: {masked} har fel sista siffra; kontrollera att alla siffror är rätt skrivna"
            )));
        }
        Ok(Self { digits })
    }

    /// The normal form, `YYYYMMDDNNNN`: what the registry hashes. Never log it.
    pub fn normalised(&self) -> String {
        self.digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// A samordningsnummer (day + 60) rather than a personnummer.
    pub fn is_coordination_number(&self) -> bool {
        self.digits[6] * 10 + self.digits[7] > 60
    }

    /// `YYYYMMDD-****`: enough for a person to recognise which number was meant.
    pub fn masked(&self) -> String {
        mask(&self.digits)
    }
}

/// The masked form only: a `{:?}` in a log line or a panic must not leak the number.
impl fmt::Debug for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personnummer({})", self.masked())
    }
}

impl fmt::Display for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

fn mask(digits: &[u8; 12]) -> String {
    let date: String = digits[..8].iter().map(|d| char::from(b'0' + d)).collect();
    format!("{date}-****")
}

/// Splits off the one separator allowed, before the last four digits.
fn split_separator(compact: &str) -> Result<(String, Option<char>), PersonnummerError> {
    let separators: Vec<(usize, char)> = compact.char_indices().filter(|(_, c)| *c == '-' || *c == '+').collect();
    match separators.as_slice() {
        [] => Ok((compact.to_owned(), None)),
        [(at, sep)] if compact[at + 1..].chars().count() == 4 => {
            Ok((format!("{}{}", &compact[..*at], &compact[at + 1..]), Some(*sep)))
        }
        [_] => Err(PersonnummerError::format("bindestrecket (eller +) ska stå före de fyra sista siffrorna")),
        _ => Err(PersonnummerError::format("numret har fler än ett bindestreck eller plustecken")),
    }
}

fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, d| n * 10 + u32::from(*d))
}

/// A samordningsnummer's day, less its 60.
fn real_day(day: u32) -> u32 {
    if day > 60 {
        day - 60
    } else {
        day
    }
}

/// The Luhn check digit of the first nine digits of the ten-digit form.
pub fn luhn_check_digit(nine: &[u8]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Why a number was refused, for callers that react per kind (tests assert on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersonnummerErrorKind {
    /// Wrong length, letters or stray characters, a misplaced separator.
    Format,
    /// The date part is not a calendar date.
    Date,
    /// The Luhn check digit does not match: most often a typo.
    CheckDigit,
    /// The date of birth is after today.
    Future,
}

impl PersonnummerErrorKind {
    /// The protocol's token for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::Date => "date",
            Self::CheckDigit => "check_digit",
            Self::Future => "future",
        }
    }
}

/// A refused number, with a Swedish message that says what was wrong. It never holds
/// the whole number: at most its date part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ogiltigt personnummer: {message}")]
pub struct PersonnummerError {
    kind: PersonnummerErrorKind,
    message: String,
}

impl PersonnummerError {
    fn new(kind: PersonnummerErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    fn format(message: impl Into<String>) -> Self {
        Self::new(PersonnummerErrorKind::Format, message)
    }
    fn date(message: impl Into<String>) -> Self {
        Self::new(PersonnummerErrorKind::Date, message)
    }
    fn future(message: impl Into<String>) -> Self {
        Self::new(PersonnummerErrorKind::Future, message)
    }
    fn check_digit(message: impl Into<String>) -> Self {
        Self::new(PersonnummerErrorKind::CheckDigit, message)
    }

    pub fn kind(&self) -> PersonnummerErrorKind {
        self.kind
    }

    /// What was wrong, in Swedish, without the number.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What is valid, in Swedish.
    pub fn valid(&self) -> &'static str {
        VALID_FORMS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
    }

    /// `YYMMDDNNN` plus its correct check digit: numbers made up here, so no real
    /// person's number is written into the tests.
    fn with_check(nine: &str) -> String {
        let d: Vec<u8> = nine.bytes().map(|b| b - b'0').collect();
        format!("{nine}{}", luhn_check_digit(&d))
    }

    fn parse(s: &str) -> Result<Personnummer, PersonnummerError> {
        Personnummer::parse(s, today())
    }

    fn kind(s: &str) -> PersonnummerErrorKind {
        parse(s).expect_err(s).kind()
    }

    #[test]
    fn the_check_digit_is_luhn_over_the_ten_digit_form() {
        // The textbook example: 811218-987 has check digit 6.
        assert_eq!(luhn_check_digit(&[8, 1, 1, 2, 1, 8, 9, 8, 7]), 6);
        assert_eq!(luhn_check_digit(&[9, 0, 0, 3, 1, 4, 1, 2, 3]), 2);
    }

    #[test]
    fn every_accepted_form_gives_the_same_twelve_digits() {
        let ten = with_check("900314123"); // 9003141232
        let (date, last) = ten.split_at(6);
        let expected = format!("19{ten}");
        for form in [
            format!("19{date}-{last}"),
            format!("19{date}{last}"),
            format!("{date}-{last}"),
            format!("{date}{last}"),
            format!("  {date} - {last} "),
            format!("19 {} {} {last}", &date[..2], &date[2..]),
            format!("\t19{date}{last}\n"),
        ] {
            let p = parse(&form).unwrap_or_else(|e| panic!("{form:?}: {e}"));
            assert_eq!(p.normalised(), expected, "{form:?}");
            assert!(!p.is_coordination_number());
        }
    }

    #[test]
    fn the_short_form_takes_the_century_of_the_last_hundred_years() {
        let young = with_check("100101123");
        assert_eq!(parse(&young).unwrap().normalised(), format!("20{young}"));
        // Later this year than today: last century.
        let later = with_check("251231123");
        assert_eq!(parse(&later).unwrap().normalised(), format!("19{later}"));
        let earlier = with_check("250101123");
        assert_eq!(parse(&earlier).unwrap().normalised(), format!("20{earlier}"));
        // '+': a hundred years or older.
        let old = with_check("200505123");
        let (date, last) = old.split_at(6);
        assert_eq!(parse(&format!("{date}+{last}")).unwrap().normalised(), format!("19{old}"));
        let older = with_check("991111123");
        let (date, last) = older.split_at(6);
        assert_eq!(parse(&format!("{date}+{last}")).unwrap().normalised(), format!("18{older}"));
    }

    #[test]
    fn a_coordination_number_has_day_plus_sixty() {
        let s = with_check("900374123");
        let p = parse(&format!("19{s}")).unwrap();
        assert!(p.is_coordination_number());
        assert_eq!(p.normalised(), format!("19{s}"));
        // Day 92 is day 32: no such day.
        assert_eq!(kind(&format!("19{}", with_check("900192123"))), PersonnummerErrorKind::Date);
    }

    #[test]
    fn format_errors() {
        for bad in [
            "",
            "   ",
            "19900314-123",
            "1990031412345",
            "900314-12",
            "19900314-12a4",
            "ABCDEFGHIJKL",
            "19900314/1232",
            "1990-0314-1232",
            "199003-141232",
            "19900314+1232",
            "19900314--1232",
        ] {
            assert_eq!(kind(bad), PersonnummerErrorKind::Format, "{bad:?}");
        }
    }

    #[test]
    fn date_errors() {
        for nine in ["901314123", "900230123", "900000123", "900100123", "910229123", "900431123"] {
            let s = with_check(nine);
            assert_eq!(kind(&format!("19{s}")), PersonnummerErrorKind::Date, "{nine}");
        }
        // 29 February exists in a leap year.
        assert!(parse(&format!("20{}", with_check("000229123"))).is_ok());
        assert_eq!(kind(&format!("17{}", with_check("900314123"))), PersonnummerErrorKind::Date);
    }

    #[test]
    fn a_future_date_is_refused() {
        assert_eq!(kind(&format!("20{}", with_check("250701123"))), PersonnummerErrorKind::Future);
        assert_eq!(kind(&format!("20{}", with_check("300101123"))), PersonnummerErrorKind::Future);
        // Today is fine.
        assert!(parse(&format!("20{}", with_check("250630123"))).is_ok());
    }

    #[test]
    fn a_wrong_check_digit_is_refused_without_showing_the_number() {
        let good = with_check("900314123");
        let last = good.as_bytes()[9] - b'0';
        let bad = format!("19{}{}", &good[..9], (last + 1) % 10);
        let err = parse(&bad).unwrap_err();
        assert_eq!(err.kind(), PersonnummerErrorKind::CheckDigit);
        assert!(err.message().starts_with("kontrollsiffran stämmer inte"), "{err}");
        assert!(err.to_string().contains("19900314-****"), "{err}");
        assert!(!err.to_string().contains(&bad[8..]), "{err}");
        assert!(err.valid().contains("ÅÅÅÅMMDD-NNNN"));
    }

    #[test]
    fn no_error_or_debug_output_shows_the_last_four_digits() {
        let good = format!("19{}", with_check("900314987"));
        let p = parse(&good).unwrap();
        assert_eq!(format!("{p:?}"), "Personnummer(19900314-****)");
        assert_eq!(p.to_string(), "19900314-****");
        let tail = &good[8..];
        for bad in [
            format!("{}x", good),
            format!("19900332{tail}"),
            format!("20990314{tail}"),
            format!("{}{}", &good[..11], (good.as_bytes()[11] - b'0' + 1) % 10),
        ] {
            let err = parse(&bad).unwrap_err();
            assert!(!err.to_string().contains(tail), "{bad}: {err}");
            assert!(!format!("{err:?}").contains(tail), "{bad}: {err:?}");
        }
    }
}
