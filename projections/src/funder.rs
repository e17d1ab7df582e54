//! The funder's follow-up, in the style of SUS (the national follow-up system for
//! coordination associations): persons by age band and gender, support sources at
//! start and at exit, outcomes at exit by SUS group, per period.
//!
//! [`funder`] counts exactly; [`protect_funder`] is the form that may leave the system.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stod_events::event::{Gender, SusOutcomeGroup};
use stod_events::ids::{Code, Date, ParticipantRef};

use crate::disclosure::{protect_count, protect_cross, protect_cross_linked, Cell, CrossTable};
use crate::period::Period;
use crate::record::{Intake, Journey};
use crate::throughput::NOT_RECORDED;

/// SUS's age bands, by age at intake (intake year − birth year).
pub const AGE_BANDS: [&str; 8] = ["16-19", "20-24", "25-29", "30-39", "40-49", "50-59", "60-64", "65-"];

/// The genders in column order (as [`Gender`] orders them).
pub(crate) const GENDERS: [Gender; 3] = [Gender::Woman, Gender::Man, Gender::Other];

/// SUS groups in row order (as [`SusOutcomeGroup`] orders them).
pub(crate) const SUS_GROUPS: [SusOutcomeGroup; 4] =
    [SusOutcomeGroup::Employment, SusOutcomeGroup::Studies, SusOutcomeGroup::JobSeeking, SusOutcomeGroup::Other];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunderReport {
    pub period: String,
    pub from: Date,
    pub to: Date,
    /// Distinct persons in the operation at some time in the period, by age band at intake × gender.
    pub participants_by_age: CountTable,
    /// Intakes (cases started) in the period, by support source at start × gender.
    pub intakes_by_support: CountTable,
    /// Exits in the period, by SUS outcome group × gender.
    pub exits_by_sus_group: CountTable,
    /// Exits in the period, by support source at exit × gender.
    pub exits_by_support: CountTable,
    /// Of the participants: how many were registered anonymously (gender and start year only).
    pub anonymous_participants: u32,
}

/// Exact two-way counts (rows × columns), before protection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountTable {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `counts[row][column]`.
    pub counts: Vec<Vec<u32>>,
}

/// The funder's follow-up as it may leave the system: every table protected with
/// [`crate::disclosure::protect_cross`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFunder {
    pub period: String,
    pub from: Date,
    pub to: Date,
    pub min_count: u32,
    pub participants_by_age: CrossTable,
    pub intakes_by_support: CrossTable,
    pub exits_by_sus_group: CrossTable,
    pub exits_by_support: CrossTable,
    pub anonymous_participants: Cell,
}

/// The machine key of a serde enum value (`"woman"`, `"job_seeking"`): the same word
/// the JSON of the exact reports uses.
pub(crate) fn serde_key<T: Serialize + std::fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{value:?}").to_lowercase(),
    }
}

/// The age band of an intake, or [`NOT_RECORDED`] (anonymous, no birth year, or
/// outside the bands: SUS starts at 16).
pub(crate) fn age_band<C>(intake: &Intake<C>) -> &'static str {
    let Some(birth_year) = intake.birth_year else { return NOT_RECORDED };
    let age = i64::from(intake.date.year()) - i64::from(birth_year);
    let index = match age {
        16..=19 => 0,
        20..=24 => 1,
        25..=29 => 2,
        30..=39 => 3,
        40..=49 => 4,
        50..=59 => 5,
        60..=64 => 6,
        65.. => 7,
        _ => return NOT_RECORDED,
    };
    AGE_BANDS[index]
}

pub(crate) fn code_key(code: &Option<Code>) -> String {
    code.as_ref().map_or_else(|| NOT_RECORDED.to_owned(), Code::to_string)
}

/// Row key × gender counts, built up one person or case at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<String, [u32; 3]>);

/// The column of a gender.
pub(crate) fn gender_column(gender: Gender) -> usize {
    GENDERS.iter().position(|g| *g == gender).unwrap_or(GENDERS.len() - 1)
}

impl Tally {
    pub fn add(&mut self, key: &str, gender: Gender) {
        self.0.entry(key.to_owned()).or_default()[gender_column(gender)] += 1;
    }

    pub fn add_all(&mut self, o: &Tally) {
        for (k, v) in &o.0 {
            let row = self.0.entry(k.clone()).or_default();
            for (a, b) in row.iter_mut().zip(v) {
                *a += b;
            }
        }
    }

    /// `fixed` rows always, in that order; then any other key present, sorted, with
    /// [`NOT_RECORDED`] last (and only if present).
    fn table(mut self, fixed: &[&str]) -> CountTable {
        self.0.retain(|_, row| row.iter().any(|n| *n > 0));
        let mut rows: Vec<String> = fixed.iter().map(|k| (*k).to_owned()).collect();
        let not_recorded = self.0.remove(NOT_RECORDED);
        rows.extend(self.0.keys().filter(|k| !fixed.contains(&k.as_str())).cloned());
        if not_recorded.is_some() && !fixed.contains(&NOT_RECORDED) {
            rows.push(NOT_RECORDED.to_owned());
        }
        let counts = rows
            .iter()
            .map(|k| {
                if k == NOT_RECORDED {
                    not_recorded.unwrap_or_default()
                } else {
                    self.0.get(k).copied().unwrap_or_default()
                }
                .to_vec()
            })
            .collect();
        CountTable { rows, columns: GENDERS.iter().map(serde_key).collect(), counts }
    }
}

/// The additive parts of a funder's report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunderTally {
    pub participants: Tally,
    pub anonymous_participants: u32,
    pub intakes: Tally,
    pub by_group: Tally,
    pub by_support: Tally,
}

impl FunderTally {
    pub fn add(&mut self, o: &FunderTally) {
        self.participants.add_all(&o.participants);
        self.anonymous_participants += o.anonymous_participants;
        self.intakes.add_all(&o.intakes);
        self.by_group.add_all(&o.by_group);
        self.by_support.add_all(&o.by_support);
    }

    pub fn finish(self, period: Period) -> FunderReport {
        let groups: Vec<String> = SUS_GROUPS.iter().map(serde_key).collect();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        FunderReport {
            period: period.to_string(),
            from: period.start(),
            to: period.end(),
            participants_by_age: self.participants.table(&AGE_BANDS),
            intakes_by_support: self.intakes.table(&[]),
            exits_by_sus_group: self.by_group.table(&groups),
            exits_by_support: self.by_support.table(&[]),
            anonymous_participants: self.anonymous_participants,
        }
    }
}

/// The funder's follow-up for `period`, exact.
///
/// Participants are persons (a person with two cases in the period counts once, with
/// the age band and gender of the latest intake); intakes and exits are cases. A case
/// whose intake was retracted is void and counts nowhere (it has no gender to count by).
pub fn funder(journeys: &[Journey], period: Period) -> FunderReport {
    funder_tally(journeys, period).finish(period)
}

/// What `journeys` add to the funder's follow-up of `period`.
pub fn funder_tally(journeys: &[Journey], period: Period) -> FunderTally {
    let (from, to) = (period.start(), period.end());
    let in_period = |d: Date| from <= d && d <= to;

    // The latest intake of each person in the operation during the period.
    let mut latest: BTreeMap<ParticipantRef, &Intake> = BTreeMap::new();
    for j in journeys.iter().filter(|j| j.active_during(from, to)) {
        let Some(i) = &j.intake else { continue };
        let entry = latest.entry(i.participant).or_insert(i);
        if i.date > entry.date {
            *entry = i;
        }
    }
    let mut participants = Tally::default();
    for i in latest.values() {
        participants.add(age_band(i), i.gender);
    }
    let anonymous_participants = latest.values().filter(|i| i.anonymous).count() as u32;

    let mut intakes = Tally::default();
    for i in journeys.iter().filter_map(|j| j.intake.as_ref()).filter(|i| in_period(i.date)) {
        intakes.add(&code_key(&i.support_at_start), i.gender);
    }

    let mut by_group = Tally::default();
    let mut by_support = Tally::default();
    for j in journeys {
        let (Some(i), Some(x)) = (&j.intake, &j.exit) else { continue };
        if in_period(x.date) {
            by_group.add(&serde_key(&x.outcome.sus_group()), i.gender);
            by_support.add(&code_key(&x.support_at_exit), i.gender);
        }
    }
    FunderTally { participants, anonymous_participants, intakes, by_group, by_support }
}

fn protect_table(t: &CountTable, min: u32) -> CrossTable {
    protect_cross(&t.rows, &t.columns, &t.counts, min)
}

/// The funder's follow-up as it may leave the system: each table protected on its
/// own (see [`crate::disclosure`]) except that the two exit tables hide their shared
/// margins alike; the anonymous count with primary suppression.
pub fn protect_funder(r: &FunderReport, min: u32) -> PublishedFunder {
    // Both exit tables count the same exits by gender: their bottom margins are the
    // same figures and must be hidden alike.
    let (groups, support) = (&r.exits_by_sus_group, &r.exits_by_support);
    let [exits_by_sus_group, exits_by_support] =
        protect_cross_linked([(&groups.rows, &groups.counts), (&support.rows, &support.counts)], &groups.columns, min);
    PublishedFunder {
        period: r.period.clone(),
        from: r.from,
        to: r.to,
        min_count: min,
        participants_by_age: protect_table(&r.participants_by_age, min),
        intakes_by_support: protect_table(&r.intakes_by_support, min),
        exits_by_sus_group,
        exits_by_support,
        anonymous_participants: protect_count(r.anonymous_participants, min),
    }
}
