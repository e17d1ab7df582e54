//! Value parsers: every value a person types is checked before anything is sent,
//! with a Swedish message that says what is valid.

use stod_events::event::AreaScore;
use stod_events::ids::{Code, Date, Timestamp, UserId};

use stod_audit::Cutoff;

pub(crate) fn parse_user(s: &str) -> Result<UserId, String> {
    UserId::parse(s).map_err(|e| format!("ogiltigt användarnamn: {e}"))
}

/// A case as a person gives it: the whole id, or the start of it as `stod case list`
/// prints it (at least 4 characters), resolved against the read models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseRef {
    Id(stod_events::ids::CaseId),
    Prefix(String),
}

pub(crate) fn parse_case(s: &str) -> Result<CaseRef, String> {
    let t = s.trim();
    if let Ok(id) = t.parse() {
        return Ok(CaseRef::Id(id));
    }
    let prefix = t.to_ascii_lowercase();
    if (4..36).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Ok(CaseRef::Prefix(prefix));
    }
    Err(format!(
        "{s:?} är inget ärende-id: ange hela id:t, t.ex. 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e, \
         eller minst 4 tecken av början som `stod case list` visar det, t.ex. 0195b8a2"
    ))
}

pub(crate) fn parse_date(s: &str) -> Result<Date, String> {
    s.parse().map_err(|_| format!("{s:?} är inget datum: skriv ÅÅÅÅ-MM-DD, t.ex. 2025-03-14"))
}

/// `--as-of` of `audit replay`: `seq:N`, an RFC 3339 instant, or a Swedish wall-clock
/// time. A wall-clock time the clock change makes ambiguous or skips is refused rather
/// than guessed: an audit must say exactly which moment it means.
pub fn parse_as_of(s: &str) -> Result<Cutoff, String> {
    let t = s.trim();
    if let Some(n) = t.strip_prefix("seq:") {
        return match n.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Cutoff::Sequence(n)),
            _ => Err(format!("{s:?}: sekvensnumret måste vara ett heltal från 1, t.ex. seq:412")),
        };
    }
    parse_instant(s, "skriv t.ex. 2025-06-30T18:00 (svensk tid), 2025-06-30T16:00:00Z eller seq:412")
        .map(Cutoff::RecordedBy)
}

/// `--since` of `audit access`: a bare date is the start of that day in Sweden.
pub(crate) fn parse_since(s: &str) -> Result<Timestamp, String> {
    match s.trim().parse::<Date>() {
        Ok(day) => swedish_midnight(day, s),
        Err(_) => parse_instant(s, MOMENT_EXAMPLE),
    }
}

/// `--until` of `audit access`: a bare date includes the whole day in Sweden.
pub(crate) fn parse_until(s: &str) -> Result<Timestamp, String> {
    match s.trim().parse::<Date>() {
        Ok(day) => {
            let next =
                day.naive().succ_opt().map(Date::new).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))?;
            let start = swedish_midnight(next, s)?;
            Timestamp::from_micros(start.as_micros() - 1).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))
        }
        Err(_) => parse_instant(s, MOMENT_EXAMPLE),
    }
}

pub(crate) const MOMENT_EXAMPLE: &str =
    "skriv t.ex. 2025-06-30, 2025-06-30T18:00 (svensk tid) eller 2025-06-30T16:00:00Z";

/// 00:00 in Sweden on `day`.
pub(crate) fn swedish_midnight(day: Date, s: &str) -> Result<Timestamp, String> {
    stod_events::sweden::midnight(day).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))
}

/// An RFC 3339 instant or a Swedish wall-clock time. A wall-clock time the clock change
/// makes ambiguous or skips is refused rather than guessed.
pub(crate) fn parse_instant(s: &str, example: &str) -> Result<Timestamp, String> {
    use chrono::{LocalResult, NaiveDateTime, TimeZone};
    let t = s.trim();
    let instant = |utc: chrono::DateTime<chrono::Utc>| {
        Timestamp::from_micros(utc.timestamp_micros()).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))
    };
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return instant(dt.to_utc());
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok());
    let Some(naive) = naive else {
        if t.parse::<Date>().is_ok() {
            return Err(format!("{s:?} är bara ett datum: ange även klockslag, t.ex. {t}T23:59:59 för dagens slut"));
        }
        return Err(format!("{s:?} är ingen tidpunkt: {example}"));
    };
    match stod_events::sweden::ZONE.from_local_datetime(&naive) {
        LocalResult::Single(dt) => instant(dt.to_utc()),
        LocalResult::Ambiguous(a, b) => Err(format!(
            "{s:?} inträffar två gånger i svensk tid (vintertiden börjar): ange tidszonen, {} eller {}",
            a.to_rfc3339(),
            b.to_rfc3339()
        )),
        LocalResult::None => Err(format!("{s:?} finns inte i svensk tid (sommartiden börjar): {example}")),
    }
}

pub(crate) fn parse_code(s: &str) -> Result<Code, String> {
    Code::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} är inget giltigt id: väntade ett UUID, t.ex. 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e"))
}

pub(crate) fn parse_score(s: &str) -> Result<AreaScore, String> {
    let (area, score) = s.split_once('=').ok_or_else(|| format!("{s:?}: skriv OMRÅDE=POÄNG, t.ex. motivation=6"))?;
    let area = Code::parse(area.trim()).map_err(|e| e.to_string())?;
    let score = score.trim().parse().map_err(|_| format!("{s:?}: poängen måste vara ett heltal 0–255"))?;
    Ok(AreaScore { area, score })
}

pub(crate) fn parse_set(s: &str) -> Result<(String, String), String> {
    let (field, value) = s.split_once('=').ok_or_else(|| format!("{s:?}: skriv FÄLT=VÄRDE, t.ex. site=vaderbacken"))?;
    let field = field.trim();
    if field.is_empty() {
        return Err(format!("{s:?}: fältnamnet saknas"));
    }
    Ok((field.to_owned(), value.trim().to_owned()))
}
