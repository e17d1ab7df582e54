//! The read models maintained as events arrive: compact case state and aggregates, so
//! that every report is a sum of a few buckets, not a pass over cases
//! (decision 0014).
//!
//! # How a report is made
//!
//! Cases are grouped into *units*: all cases of one participant, or a case with no
//! intake on its own. A unit is *regular* when it is one case whose facts are in the
//! order the case rules keep (one intake, every date on or after it, everything but
//! follow-ups on or before the exit, placements ended by the exit, each placement and
//! training started, ended and completed at most once). A regular unit's contribution
//! goes into [`Aggregates`]: counts by day and dimension, intervals as start and end
//! counts, medians as histograms. Every other unit is *explicit*: its journeys are
//! folded when a report is asked, with the same functions as the plain fold
//! ([`crate::throughput::throughput_tally`] and its siblings). The two tallies add up
//! to the report.
//!
//! A report asked "as known on D" sees only facts that occurred on or before D
//! ([`crate::CaseRecord::journey_on`]). For a regular case that clamps every range to
//! D, so one set of aggregates answers for every D.
//!
//! When a batch of events arrives, the contribution of every unit it touches is taken
//! out (computed from the state before the batch), the events are applied, and the
//! contributions are put back from the new state. A correction or retraction therefore
//! moves a fact from one bucket to another, and a unit that stops being regular (a
//! participant's second case) moves from the aggregates to the explicit set.
//! `tests/model.rs` checks the result against the plain fold for random histories.

use std::collections::{BTreeMap, HashMap};

use stod_events::event::{Event, ExitOutcome, Fact, Gender, SusOutcomeGroup};
use stod_events::ids::{CaseId, Code, Date, EventId, ParticipantRef, UserId};
use stod_events::RecordedEvent;

use crate::caseload::{Caseload, CaseloadEntry, CaseloadQuery};
use crate::funder::{age_band, gender_column, serde_key, FunderReport, FunderTally, AGE_BANDS};
use crate::period::Period;
use crate::record::{Intake, Item, Journey};
use crate::steering::{
    steering_tally, AlertGroup, SteeringReport, SteeringTally, INTAKE_WITHOUT_PLACEMENT_DAYS, LONG_STAY_DAYS,
    OPEN_PLACEMENT_DAYS,
};
use crate::throughput::{throughput_tally, GoalTally, ThroughputReport, ThroughputTally, NOT_RECORDED};

/// A code as a small number, resolved through [`Symbols`] (never zero, so that an
/// optional code takes no more room than a code).
pub type Sym = std::num::NonZeroU32;

/// The codes seen, each stored once.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    codes: Vec<Code>,
    index: HashMap<Code, Sym>,
}

impl Symbols {
    pub fn intern(&mut self, code: &Code) -> Sym {
        if let Some(s) = self.index.get(code) {
            return *s;
        }
        self.codes.push(code.clone());
        let s = Sym::new(self.codes.len() as u32).unwrap_or(Sym::MIN);
        self.index.insert(code.clone(), s);
        s
    }

    pub fn code(&self, sym: Sym) -> Code {
        self.codes[sym.get() as usize - 1].clone()
    }
}

/// One fact of a case in compact form.
#[derive(Clone, Debug)]
struct CompactFact {
    event_id: EventId,
    date: Date,
    retracted: bool,
    item: Item<Sym>,
}

/// A case as the model keeps it: what its journey needs, and no more.
#[derive(Clone, Debug, Default)]
pub struct CompactCase {
    last_sequence: u64,
    /// Who recorded the first intake (an index into [`Model`]'s users): the case's
    /// responsible case worker until a reassignment (a fact among `facts`).
    recorder: Option<u32>,
    facts: Vec<CompactFact>,
}

impl CompactCase {
    fn live(&self) -> impl Iterator<Item = &CompactFact> {
        self.facts.iter().filter(|f| !f.retracted)
    }

    /// Every participant a live intake names, sorted.
    fn participants(&self) -> Vec<ParticipantRef> {
        let mut ps: Vec<ParticipantRef> = self
            .live()
            .filter_map(|f| match &f.item {
                Item::Intake { participant, .. } => Some(*participant),
                _ => None,
            })
            .collect();
        ps.sort_unstable();
        ps.dedup();
        ps
    }

    fn own_journey(&self, case: CaseId) -> Journey<Sym> {
        Journey::from_items(Some(case), self.live().map(|f| (f.date, f.item.clone())), None)
    }

    fn journey(&self, case: CaseId, symbols: &Symbols, until: Option<Date>) -> Journey {
        Journey::from_items(Some(case), self.live().map(|f| (f.date, f.item.map(|s| symbols.code(*s)))), until)
    }

    /// Whether the facts keep the order [`Aggregates`] rely on (see the module docs).
    fn is_regular(&self) -> bool {
        let live: Vec<&CompactFact> = self.live().collect();
        let intakes: Vec<Date> =
            live.iter().filter(|f| matches!(f.item, Item::Intake { .. })).map(|f| f.date).collect();
        let [intake] = intakes[..] else { return false };
        let exits: Vec<Date> = live.iter().filter(|f| matches!(f.item, Item::Exit { .. })).map(|f| f.date).collect();
        if exits.len() > 1 || live.iter().any(|f| f.date < intake) {
            return false;
        }
        let exit = exits.first().copied();
        // Placements by number: start day, ended. Trainings: start day, completed.
        let mut started: Vec<(u16, Date, bool)> = Vec::new();
        let mut trainings: Vec<(u16, Option<Date>, bool)> = Vec::new();
        for f in &live {
            match &f.item {
                Item::PlacementStarted { number, .. } => {
                    // A placement after the exit would run outside the case.
                    if exit.is_some_and(|x| f.date > x) || started.iter().any(|p| p.0 == *number) {
                        return false;
                    }
                    started.push((*number, f.date, false));
                }
                Item::PlacementEnded { number, .. } => match started.iter_mut().find(|p| p.0 == *number) {
                    Some((_, start, ended)) if !*ended && *start <= f.date => *ended = true,
                    _ => return false,
                },
                Item::TrainingStarted { number, .. } => {
                    if trainings.iter().any(|t| t.0 == *number) {
                        return false;
                    }
                    trainings.push((*number, Some(f.date), false));
                }
                Item::TrainingCompleted { number, .. } => {
                    let at = match trainings.iter().position(|t| t.0 == *number) {
                        Some(at) => at,
                        None => {
                            trainings.push((*number, None, false));
                            trainings.len() - 1
                        }
                    };
                    let t = &mut trainings[at];
                    if t.2 || t.1.is_some_and(|s| s > f.date) {
                        return false;
                    }
                    t.2 = true;
                }
                _ => {}
            }
        }
        true
    }
}

/// What a bucket counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    /// Intakes by day, with dimensions.
    Start,
    /// Exits by day, with dimensions.
    End,
    /// Every placement's start and end, every training completion and assessment.
    PlacementStart,
    PlacementEnd,
    TrainingDone,
    Assessed,
    /// Per case and site (or work area), its placements merged into disjoint spans.
    SpanStart,
    SpanEnd,
    /// Per case and site, the days a placement runs while the case is open.
    RunStart,
    RunEnd,
}

/// What a day series is broken down by. Codes are symbols; `None` is "not recorded".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Dim {
    All,
    Municipality(Option<Sym>),
    Referrer(Option<Sym>),
    Support(Option<Sym>),
    Gender(Gender),
    /// Index into [`crate::funder::AGE_BANDS`] (or its length: not recorded) × gender.
    Age(u8, Gender),
    Anonymous,
    SupportGender(Option<Sym>, Gender),
    Outcome(ExitOutcome),
    GroupGender(SusOutcomeGroup, Gender),
    ExitSupportGender(Option<Sym>, Gender),
    Site(Sym),
    Area(Sym),
}

/// Histograms, pairs and spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Other {
    /// By the first placement's day, days from intake; by exit day, days in.
    DaysToFirstPlacement,
    DaysToExit,
    /// Pairs of (intake day, day of something later) for the intake cohort's funnel.
    FirstPlacement,
    FirstTraining,
    Exited,
    ExitedToEmployment,
    /// Spans of days on which a case is on an alert list.
    IntakeWithoutPlacement,
    LongStay,
    OpenPlacement,
}

/// One bucket entry of a unit's contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    Day(Kind, Dim, Date),
    Hist(Other, Date, i64),
    Pair(Other, Date, Date),
    /// A gap between two spans of one case at one site or work area.
    Gap(Dim, Date, Date),
    Span(Other, Date, Date, CaseId),
}

/// The furthest day: a span that has not ended.
fn open() -> Date {
    Date::new(chrono::NaiveDate::MAX)
}

fn first_day() -> Date {
    Date::new(chrono::NaiveDate::MIN)
}

fn prev(d: Date) -> Date {
    Date::new(d.naive().pred_opt().unwrap_or(d.naive()))
}

fn next(d: Date) -> Date {
    Date::new(d.naive().succ_opt().unwrap_or(d.naive()))
}

fn add_days(d: Date, days: i64) -> Date {
    Date::new(d.naive().checked_add_signed(chrono::Duration::days(days)).unwrap_or(chrono::NaiveDate::MAX))
}

/// Disjoint spans covering `spans` (closed day ranges), in order.
fn merge(mut spans: Vec<(Date, Date)>) -> Vec<(Date, Date)> {
    spans.sort();
    let mut out: Vec<(Date, Date)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn age_index(i: &Intake<Sym>) -> u8 {
    let band = age_band(i);
    AGE_BANDS.iter().position(|b| *b == band).unwrap_or(AGE_BANDS.len()) as u8
}

/// The bucket entries of one regular case (see the module docs for what each means).
fn contribution(case: CaseId, j: &Journey<Sym>, out: &mut Vec<Entry>) {
    let Some(i) = &j.intake else { return };
    let g = i.gender;
    let start_dims = [
        Dim::All,
        Dim::Municipality(i.municipality),
        Dim::Referrer(i.referrer),
        Dim::Support(i.support_at_start),
        Dim::Gender(g),
        Dim::Age(age_index(i), g),
    ];
    let anonymous = i.anonymous.then_some(Dim::Anonymous);
    for d in start_dims.iter().chain(&anonymous) {
        out.push(Entry::Day(Kind::Start, *d, i.date));
    }
    out.push(Entry::Day(Kind::Start, Dim::SupportGender(i.support_at_start, g), i.date));
    let exit = j.exit.as_ref();
    if let Some(x) = exit {
        for d in start_dims.iter().chain(&anonymous) {
            out.push(Entry::Day(Kind::End, *d, x.date));
        }
        out.push(Entry::Day(Kind::End, Dim::Outcome(x.outcome), x.date));
        out.push(Entry::Day(Kind::End, Dim::GroupGender(x.outcome.sus_group(), g), x.date));
        out.push(Entry::Day(Kind::End, Dim::ExitSupportGender(x.support_at_exit, g), x.date));
        out.push(Entry::Hist(Other::DaysToExit, x.date, i.date.days_until(x.date)));
        out.push(Entry::Pair(Other::Exited, i.date, x.date));
        if x.outcome.sus_group() == SusOutcomeGroup::Employment {
            out.push(Entry::Pair(Other::ExitedToEmployment, i.date, x.date));
        }
    }
    let exit_day = exit.map(|x| x.date);
    for p in &j.placements {
        out.push(Entry::Day(Kind::PlacementStart, Dim::All, p.start));
        if let Some(e) = p.end {
            out.push(Entry::Day(Kind::PlacementEnd, Dim::All, e));
        }
    }
    for t in &j.trainings {
        if let Some(c) = t.completed {
            out.push(Entry::Day(Kind::TrainingDone, Dim::All, c));
        }
    }
    for a in &j.assessments {
        out.push(Entry::Day(Kind::Assessed, Dim::All, a.date));
    }
    let first_placement = j.first_placement_start();
    if let Some(f) = first_placement {
        out.push(Entry::Hist(Other::DaysToFirstPlacement, f, i.date.days_until(f)));
        out.push(Entry::Pair(Other::FirstPlacement, i.date, f));
    }
    if let Some(t) = j.trainings.iter().filter_map(|t| t.start.or(t.completed)).min() {
        out.push(Entry::Pair(Other::FirstTraining, i.date, t));
    }
    // Placements by site and by work area, merged per case.
    let mut by: BTreeMap<Dim, Vec<(Date, Date)>> = BTreeMap::new();
    for p in &j.placements {
        // Counted while the case is open too: a placement is clipped at the exit.
        let end = p.end.unwrap_or_else(open);
        let span = (p.start, exit_day.map_or(end, |x| end.min(x)));
        by.entry(Dim::Site(p.site)).or_default().push(span);
        by.entry(Dim::Area(p.work_area)).or_default().push(span);
    }
    for (key, spans) in by {
        let merged = merge(spans);
        for (s, e) in &merged {
            out.push(Entry::Day(Kind::SpanStart, key, *s));
            if *e != open() {
                out.push(Entry::Day(Kind::SpanEnd, key, *e));
            }
            // While the case is open (steering's "running on the day").
            if matches!(key, Dim::Site(_)) {
                let end = exit_day.map_or(*e, |x| (*e).min(prev(x)));
                if *s <= end {
                    out.push(Entry::Day(Kind::RunStart, key, *s));
                    if end != open() {
                        out.push(Entry::Day(Kind::RunEnd, key, end));
                    }
                }
            }
        }
        for w in merged.windows(2) {
            out.push(Entry::Gap(key, w[0].1, w[1].0));
        }
    }
    // Alert spans: on which days the case is on each list.
    let closes = |d: Option<Date>| d.map_or_else(open, prev);
    let until = closes(first_placement.min(exit_day).or(first_placement).or(exit_day));
    let from = add_days(i.date, INTAKE_WITHOUT_PLACEMENT_DAYS);
    if from <= until {
        out.push(Entry::Span(Other::IntakeWithoutPlacement, from, until, case));
    }
    let (from, until) = (add_days(i.date, LONG_STAY_DAYS + 1), closes(exit_day));
    if from <= until {
        out.push(Entry::Span(Other::LongStay, from, until, case));
    }
    let open_spans: Vec<(Date, Date)> = j
        .placements
        .iter()
        .map(|p| (add_days(p.start, OPEN_PLACEMENT_DAYS + 1), closes(p.end).min(closes(exit_day))))
        .filter(|(s, e)| s <= e)
        .collect();
    for (s, e) in merge(open_spans) {
        out.push(Entry::Span(Other::OpenPlacement, s, e, case));
    }
}

/// Counts by day, with a running total per month so that a sum over any range reads
/// at most two partial months and the months between.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct DaySeries {
    days: BTreeMap<Date, i64>,
    months: BTreeMap<i32, i64>,
}

fn month_of(d: Date) -> i32 {
    use chrono::Datelike;
    d.naive().year() * 12 + d.naive().month0() as i32
}

fn month_start(m: i32) -> Date {
    Date::new(chrono::NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).unwrap_or_default())
}

impl DaySeries {
    fn add(&mut self, d: Date, by: i64) {
        bump(&mut self.days, d, by);
        bump(&mut self.months, month_of(d), by);
    }

    fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Sum over `from..=to`.
    fn sum(&self, from: Date, to: Date) -> i64 {
        if from > to {
            return 0;
        }
        let (mf, mt) = (month_of(from), month_of(to));
        if mt - mf < 2 {
            return self.days.range(from..=to).map(|(_, v)| v).sum();
        }
        let head: i64 = self.days.range(from..month_start(mf + 1)).map(|(_, v)| v).sum();
        let middle: i64 = self.months.range(mf + 1..mt).map(|(_, v)| v).sum();
        let tail: i64 = self.days.range(month_start(mt)..=to).map(|(_, v)| v).sum();
        head + middle + tail
    }

    fn upto(&self, to: Date) -> i64 {
        let Some((first, _)) = self.days.first_key_value() else { return 0 };
        self.sum(*first, to)
    }
}

/// Counts by day, histograms, pairs, gaps and spans of the regular units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregates {
    days: BTreeMap<(Kind, Dim), DaySeries>,
    hist: BTreeMap<Other, BTreeMap<(Date, i64), i64>>,
    pairs: BTreeMap<Other, BTreeMap<(Date, Date), i64>>,
    gaps: BTreeMap<Dim, BTreeMap<(Date, Date), i64>>,
    /// (end, start, case) so that the spans covering a day are found from its end side.
    /// Counted, not a set, so that taking out and putting back commute.
    spans: BTreeMap<Other, BTreeMap<(Date, Date, CaseId), i64>>,
}

/// Adds `by` to a bucket; an emptied bucket is removed, so equal contents give equal maps.
fn bump<K: Ord>(m: &mut BTreeMap<K, i64>, k: K, by: i64) {
    match m.entry(k) {
        std::collections::btree_map::Entry::Occupied(mut e) => {
            *e.get_mut() += by;
            if *e.get() == 0 {
                e.remove();
            }
        }
        std::collections::btree_map::Entry::Vacant(e) => {
            if by != 0 {
                e.insert(by);
            }
        }
    }
}

fn bump_nested<K: Ord + Copy, L: Ord>(m: &mut BTreeMap<K, BTreeMap<L, i64>>, k: K, l: L, by: i64) {
    let inner = m.entry(k).or_default();
    bump(inner, l, by);
    if inner.is_empty() {
        m.remove(&k);
    }
}

impl Aggregates {
    fn apply(&mut self, entries: &[Entry], sign: i64) {
        for e in entries {
            self.add(*e, sign);
        }
    }

    /// Adds many units' entries at once: equal entries are counted first, so that each
    /// bucket is looked up once however many units share it (a settle's cost is in the
    /// lookups, and most units share their days and dimensions with many others).
    fn apply_counted(&mut self, entries: &mut Vec<Entry>) {
        entries.sort_unstable();
        let mut run = entries.iter().copied().peekable();
        while let Some(e) = run.next() {
            let mut by = 1;
            while run.next_if_eq(&e).is_some() {
                by += 1;
            }
            self.add(e, by);
        }
        entries.clear();
    }

    /// Adds another's counts to these.
    fn merge(&mut self, other: Aggregates) {
        if self.days.is_empty()
            && self.hist.is_empty()
            && self.pairs.is_empty()
            && self.gaps.is_empty()
            && self.spans.is_empty()
        {
            *self = other;
            return;
        }
        for ((k, dim), series) in other.days {
            for (d, by) in series.days {
                self.add(Entry::Day(k, dim, d), by);
            }
        }
        for (k, m) in other.hist {
            for ((d, v), by) in m {
                self.add(Entry::Hist(k, d, v), by);
            }
        }
        for (k, m) in other.pairs {
            for ((a, b), by) in m {
                self.add(Entry::Pair(k, a, b), by);
            }
        }
        for (dim, m) in other.gaps {
            for ((a, b), by) in m {
                self.add(Entry::Gap(dim, a, b), by);
            }
        }
        for (k, m) in other.spans {
            for ((e, s, case), by) in m {
                self.add(Entry::Span(k, s, e, case), by);
            }
        }
    }

    fn add(&mut self, e: Entry, by: i64) {
        match e {
            Entry::Day(k, dim, d) => {
                let series = self.days.entry((k, dim)).or_default();
                series.add(d, by);
                if series.is_empty() {
                    self.days.remove(&(k, dim));
                }
            }
            Entry::Hist(k, d, v) => bump_nested(&mut self.hist, k, (d, v), by),
            Entry::Pair(k, a, b) => bump_nested(&mut self.pairs, k, (a, b), by),
            Entry::Gap(dim, a, b) => bump_nested(&mut self.gaps, dim, (a, b), by),
            Entry::Span(k, s, e, case) => bump_nested(&mut self.spans, k, (e, s, case), by),
        }
    }

    /// Sum of a day series over `from..=to`.
    fn sum(&self, kind: Kind, dim: Dim, from: Date, to: Date) -> i64 {
        self.days.get(&(kind, dim)).map_or(0, |m| m.sum(from, to))
    }

    fn upto(&self, kind: Kind, dim: Dim, to: Date) -> i64 {
        self.days.get(&(kind, dim)).map_or(0, |m| m.upto(to))
    }

    /// The dimensions of `kind` that `pick` accepts.
    fn dims<T>(&self, kind: Kind, pick: impl Fn(Dim) -> Option<T>) -> Vec<(Dim, T)> {
        self.days
            .range((kind, Dim::All)..)
            .take_while(|((k, _), _)| *k == kind)
            .filter_map(|((_, d), _)| Some((*d, pick(*d)?)))
            .collect()
    }

    /// Units in the operation at some time in `[from, to]`, as known on `known`, for one
    /// dimension: started by `min(to, known)`, not ended before `min(from, known + 1)`.
    fn active_during(&self, dim: Dim, from: Date, to: Date, known: Date) -> i64 {
        let (a, b) = (to.min(known), from.min(next(known)));
        self.upto(Kind::Start, dim, a) - self.upto(Kind::End, dim, prev(b))
    }

    /// In the operation on `day` (intake on or before, exit not before), as known on `known`.
    fn active_on(&self, day: Date, known: Date) -> i64 {
        self.upto(Kind::Start, Dim::All, day.min(known)) - self.upto(Kind::End, Dim::All, prev(day).min(known))
    }

    /// Distinct (case, site or area) spans meeting `[from, to]` as known on `known`.
    fn spans_during(&self, key: Dim, from: Date, to: Date, known: Date) -> i64 {
        let (a, b) = (to.min(known), from.min(next(known)));
        let gaps: i64 = self.gaps.get(&key).map_or(0, |m| {
            m.range((b, first_day())..)
                .take_while(|((l, _), _)| *l <= a)
                .filter(|((_, r), _)| *r <= a)
                .map(|(_, v)| v)
                .sum()
        });
        self.upto(Kind::SpanStart, key, a) - self.upto(Kind::SpanEnd, key, prev(b)) - gaps
    }

    fn pairs_in(&self, kind: Other, from: Date, to: Date, known: Date) -> i64 {
        if from > to {
            return 0;
        }
        self.pairs.get(&kind).map_or(0, |m| {
            m.range((from, first_day())..)
                .take_while(|((i, _), _)| *i <= to)
                .filter(|((_, d), _)| *d <= known)
                .map(|(_, v)| v)
                .sum()
        })
    }

    fn histogram(&self, kind: Other, from: Date, to: Date) -> BTreeMap<i64, u32> {
        let mut h = BTreeMap::new();
        if from > to {
            return h;
        }
        if let Some(m) = self.hist.get(&kind) {
            for ((_, v), n) in m.range((from, i64::MIN)..=(to, i64::MAX)) {
                *h.entry(*v).or_default() += count(*n);
            }
        }
        h
    }

    fn spans_on(&self, kind: Other, day: Date) -> AlertGroup {
        let cases: Vec<CaseId> = self.spans.get(&kind).map_or_else(Vec::new, |set| {
            set.range((day, first_day(), CaseId::from_uuid(uuid::Uuid::nil()))..)
                .filter(|((_, s, _), n)| *s <= day && **n > 0)
                .map(|((_, _, c), _)| *c)
                .collect()
        });
        AlertGroup { count: cases.len() as u32, cases, truncated: false }
    }
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A unit's contribution.
enum Share {
    Regular(Vec<Entry>),
    Explicit(Vec<CaseId>),
}

/// A unit: all cases of a participant, or a case without an intake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Unit {
    Participant(ParticipantRef),
    Case(CaseId),
}

/// The read models of every case, kept up to date event by event.
#[derive(Clone, Debug, Default)]
pub struct Model {
    symbols: Symbols,
    /// The users who recorded intakes, each stored once.
    users: Vec<UserId>,
    user_index: HashMap<UserId, u32>,
    cases: HashMap<CaseId, CompactCase>,
    by_participant: HashMap<ParticipantRef, Vec<CaseId>>,
    /// Cases of units that are not regular, folded when asked.
    /// Each with the number of its units that are not regular (a case naming two
    /// participants is in two units).
    explicit: BTreeMap<CaseId, u32>,
    aggregates: Aggregates,
    /// Cases were folded in by [`Model::fold_bulk`] and the aggregates not yet made.
    unsettled: bool,
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds events into the cases only, leaving the aggregates for one
    /// [`settle`](Model::settle) at the end: how a rebuild or a start makes the model
    /// from many events at once.
    pub fn fold_bulk<'a>(&mut self, events: impl IntoIterator<Item = (u64, &'a RecordedEvent)>) {
        for (seq, ev) in events {
            if self.cases.get(&ev.case_id).is_some_and(|c| seq <= c.last_sequence) {
                continue;
            }
            self.fold(ev.case_id, seq, ev);
            self.unsettled = true;
        }
    }

    /// Whether the aggregates hold every case folded in (reports need that).
    pub fn is_settled(&self) -> bool {
        !self.unsettled
    }

    /// Makes the units and the aggregates afresh from the cases.
    pub fn settle(&mut self) {
        if !self.unsettled {
            return;
        }
        self.by_participant.clear();
        self.explicit.clear();
        self.aggregates = Aggregates::default();
        let mut units: Vec<Unit> = Vec::with_capacity(self.cases.len());
        let mut ids: Vec<CaseId> = self.cases.keys().copied().collect();
        ids.sort_unstable();
        for case in ids {
            for u in self.units_of(case) {
                if let Unit::Participant(p) = u {
                    self.by_participant.entry(p).or_default().push(case);
                }
                units.push(u);
            }
        }
        units.sort_unstable();
        units.dedup();
        // The units' shares are made on every core, each part into its own aggregates,
        // which are then added together (a sum does not depend on the order).
        let parts = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        let this = &*self;
        let made: Vec<(Aggregates, Vec<Share>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = units
                .chunks(units.len().div_ceil(parts).max(1))
                .map(|part| scope.spawn(move || this.shares_counted(part)))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        });
        let mut aggregates = Aggregates::default();
        for (part, explicit) in made {
            aggregates.merge(part);
            for share in explicit {
                self.put(&share, 1);
            }
        }
        self.aggregates = aggregates;
        self.unsettled = false;
    }

    /// The regular shares of `units` counted into aggregates of their own, and the
    /// shares that are not regular.
    fn shares_counted(&self, units: &[Unit]) -> (Aggregates, Vec<Share>) {
        // Counted in batches, so that a settle of millions of cases does not hold all
        // their entries at once.
        const BATCH_ENTRIES: usize = 1 << 18;
        let (mut aggregates, mut pending, mut explicit) = (Aggregates::default(), Vec::new(), Vec::new());
        for unit in units {
            // Unsorted: the batch is sorted as a whole when it is counted.
            match self.share_as(*unit, false) {
                Share::Regular(entries) => {
                    pending.extend_from_slice(&entries);
                    if pending.len() >= BATCH_ENTRIES {
                        aggregates.apply_counted(&mut pending);
                    }
                }
                other => explicit.push(other),
            }
        }
        aggregates.apply_counted(&mut pending);
        (aggregates, explicit)
    }

    /// Cases known.
    pub fn cases(&self) -> usize {
        self.cases.len()
    }

    /// Cases folded at query time (not regular).
    pub fn explicit_cases(&self) -> usize {
        self.explicit.len()
    }

    /// The units a case belongs to: every participant its live intakes name (one, for
    /// a case the rules kept in order), or the case alone if none.
    fn units_of(&self, case: CaseId) -> Vec<Unit> {
        let mut units: Vec<Unit> = self
            .cases
            .get(&case)
            .map(|c| c.participants().into_iter().map(Unit::Participant).collect())
            .unwrap_or_default();
        if units.is_empty() {
            units.push(Unit::Case(case));
        }
        units
    }

    fn members(&self, unit: Unit) -> Vec<CaseId> {
        match unit {
            Unit::Participant(p) => self.by_participant.get(&p).cloned().unwrap_or_default(),
            // A case is its own unit only while it names no participant.
            Unit::Case(c) if self.units_of(c) == [unit] => vec![c],
            Unit::Case(_) => Vec::new(),
        }
    }

    /// What a unit contributes now: bucket entries (sorted) if it is regular, else its
    /// cases to fold when asked.
    fn share(&self, unit: Unit) -> Share {
        self.share_as(unit, true)
    }

    /// [`share`](Model::share), with the entries in no particular order unless `sorted`.
    fn share_as(&self, unit: Unit, sorted: bool) -> Share {
        let members = self.members(unit);
        if let [only] = members[..] {
            if let Some(c) = self.cases.get(&only).filter(|c| c.is_regular()) {
                let mut entries = Vec::new();
                contribution(only, &c.own_journey(only), &mut entries);
                if sorted {
                    entries.sort_unstable();
                }
                return Share::Regular(entries);
            }
        }
        Share::Explicit(members.into_iter().filter(|m| self.cases.contains_key(m)).collect())
    }

    /// Adds (`sign` 1) or takes out (−1) a share.
    fn put(&mut self, share: &Share, sign: i64) {
        match share {
            Share::Regular(entries) => self.aggregates.apply(entries, sign),
            Share::Explicit(cases) => {
                // A case naming two participants is explicit for each: counted per unit.
                for m in cases {
                    let n = self.explicit.entry(*m).or_default();
                    if sign > 0 {
                        *n += 1;
                    } else {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.explicit.remove(m);
                        }
                    }
                }
            }
        }
    }

    /// Replaces a unit's old share by its current one, touching only the buckets that
    /// changed.
    fn replace(&mut self, old: Share, unit: Unit) {
        let new = self.share(unit);
        match (&old, &new) {
            (Share::Regular(before), Share::Regular(after)) => {
                // Both sorted: a merge finds what left and what came (duplicates count).
                let (mut gone, mut came) = (Vec::new(), Vec::new());
                let (mut x, mut y) = (before.iter().copied().peekable(), after.iter().copied().peekable());
                loop {
                    match (x.peek(), y.peek()) {
                        (None, None) => break,
                        (Some(a), Some(b)) => match a.cmp(b) {
                            std::cmp::Ordering::Equal => {
                                x.next();
                                y.next();
                            }
                            std::cmp::Ordering::Less => gone.extend(x.next()),
                            std::cmp::Ordering::Greater => came.extend(y.next()),
                        },
                        (Some(_), None) => gone.extend(x.next()),
                        (None, Some(_)) => came.extend(y.next()),
                    }
                }
                self.aggregates.apply(&gone, -1);
                self.aggregates.apply(&came, 1);
            }
            _ => {
                self.put(&old, -1);
                self.put(&new, 1);
            }
        }
    }

    /// Folds a batch of events (with their stream sequences, in order) in. An event
    /// already folded in (same or lower sequence for its case) changes nothing.
    pub fn apply<'a>(&mut self, events: impl IntoIterator<Item = (u64, &'a RecordedEvent)>) {
        self.settle();
        // The shares of the units this batch touches, as they were before it.
        let mut before_batch: BTreeMap<Unit, Share> = BTreeMap::new();
        for (seq, ev) in events {
            let case = ev.case_id;
            if self.cases.get(&case).is_some_and(|c| seq <= c.last_sequence) {
                continue;
            }
            let before = self.units_of(case);
            for u in &before {
                if !before_batch.contains_key(u) {
                    let share = self.share(*u);
                    before_batch.insert(*u, share);
                }
            }
            self.fold(case, seq, ev);
            let after = self.units_of(case);
            if after != before {
                // Taken while the index still holds the old membership.
                for u in after.iter().filter(|u| !before.contains(u)) {
                    if !before_batch.contains_key(u) {
                        let share = self.share(*u);
                        before_batch.insert(*u, share);
                    }
                }
                for u in &before {
                    if let Unit::Participant(p) = u {
                        if let Some(v) = self.by_participant.get_mut(p) {
                            v.retain(|c| *c != case);
                            if v.is_empty() {
                                self.by_participant.remove(p);
                            }
                        }
                    }
                }
                for u in &after {
                    if let Unit::Participant(p) = u {
                        let v = self.by_participant.entry(*p).or_default();
                        v.push(case);
                        v.sort_unstable();
                    }
                }
            }
        }
        for (unit, old) in before_batch {
            self.replace(old, unit);
        }
    }

    fn fold(&mut self, case: CaseId, seq: u64, ev: &RecordedEvent) {
        let symbols = &mut self.symbols;
        let c = self.cases.entry(case).or_default();
        c.last_sequence = seq;
        match &ev.event {
            Event::Fact(fact) => {
                if matches!(fact, Fact::Enrolled(_)) && c.recorder.is_none() {
                    let users = &mut self.users;
                    let n = *self.user_index.entry(ev.recorded_by.clone()).or_insert_with(|| {
                        users.push(ev.recorded_by.clone());
                        users.len() as u32 - 1
                    });
                    c.recorder = Some(n);
                }
                let item = Item::of(fact).map(|code| symbols.intern(code));
                c.facts.push(CompactFact { event_id: ev.event_id, date: ev.occurred_on, retracted: false, item });
                // Exactly as long as it is: a case grows by a few facts in its life.
                c.facts.shrink_to_fit();
            }
            Event::Corrected(x) => {
                if let Some(f) = c.facts.iter_mut().find(|f| f.event_id == x.target) {
                    f.item = Item::of(&x.replacement).map(|code| symbols.intern(code));
                    f.date = ev.occurred_on;
                }
            }
            Event::Retracted(r) => {
                if let Some(f) = c.facts.iter_mut().find(|f| f.event_id == r.target) {
                    f.retracted = true;
                }
            }
        }
    }

    fn explicit_journeys(&self, known: Date) -> Vec<Journey> {
        self.explicit.keys().filter_map(|c| Some(self.cases.get(c)?.journey(*c, &self.symbols, Some(known)))).collect()
    }

    fn goal_tally(&self, year: i32, known: Date) -> GoalTally {
        let y = Period::Year(year);
        let (jan1, dec31) = (y.start(), y.end());
        let as_of = known.min(dec31).max(jan1);
        let a = &self.aggregates;
        let before = prev(jan1).min(known);
        GoalTally {
            persons_so_far: count(a.active_during(Dim::All, jan1, as_of, known)),
            carried_in: count(a.upto(Kind::Start, Dim::All, before) - a.upto(Kind::End, Dim::All, before)),
            intakes_so_far: count(a.sum(Kind::Start, Dim::All, jan1, as_of.min(known))),
        }
    }

    fn key(&self, code: Option<Sym>) -> String {
        code.map_or_else(|| NOT_RECORDED.to_owned(), |s| self.symbols.code(s).to_string())
    }

    /// The throughput report of `period` as known on `today`; equal to
    /// [`crate::throughput()`] of every case's `journey_on(today)`.
    pub fn throughput(&self, period: Period, today: Date) -> ThroughputReport {
        let (from, to) = (period.start(), period.end());
        let a = &self.aggregates;
        let upto = to.min(today);
        let breakdown = |pick: fn(Dim) -> Option<Option<Sym>>| -> BTreeMap<String, u32> {
            let mut out = BTreeMap::new();
            for (dim, code) in a.dims(Kind::Start, pick) {
                *out.entry(self.key(code)).or_default() += count(a.active_during(dim, from, to, today));
            }
            out
        };
        let mut by_gender = BTreeMap::new();
        for (dim, g) in a.dims(Kind::Start, |d| if let Dim::Gender(g) = d { Some(g) } else { None }) {
            by_gender.insert(g, count(a.active_during(dim, from, to, today)));
        }
        let spans = |pick: fn(Dim) -> Option<Sym>| -> BTreeMap<String, u32> {
            let mut out = BTreeMap::new();
            for (dim, sym) in a.dims(Kind::SpanStart, pick) {
                *out.entry(self.symbols.code(sym).to_string()).or_default() +=
                    count(a.spans_during(dim, from, to, today));
            }
            out
        };
        let mut exits_by_outcome = BTreeMap::new();
        for (dim, o) in a.dims(Kind::End, |d| if let Dim::Outcome(o) = d { Some(o) } else { None }) {
            exits_by_outcome.insert(o, count(a.sum(Kind::End, dim, from, upto)));
        }
        let months = period
            .months()
            .into_iter()
            .map(|m| {
                let (ms, me) = (m.start(), m.end());
                (
                    count(a.sum(Kind::Start, Dim::All, ms, me.min(today))),
                    count(a.sum(Kind::End, Dim::All, ms, me.min(today))),
                    count(a.active_on(me, today)),
                )
            })
            .collect();
        let mut tally = ThroughputTally {
            persons: count(a.active_during(Dim::All, from, to, today)),
            intakes: count(a.sum(Kind::Start, Dim::All, from, upto)),
            active_at_end: count(a.active_on(upto, today)),
            exits_by_outcome,
            days_to_first_placement: a.histogram(Other::DaysToFirstPlacement, from, upto),
            days_to_exit: a.histogram(Other::DaysToExit, from, upto),
            by_municipality: breakdown(|d| if let Dim::Municipality(c) = d { Some(c) } else { None }),
            by_referrer: breakdown(|d| if let Dim::Referrer(c) = d { Some(c) } else { None }),
            by_gender,
            by_support_at_start: breakdown(|d| if let Dim::Support(c) = d { Some(c) } else { None }),
            by_site: spans(|d| if let Dim::Site(c) = d { Some(c) } else { None }),
            by_work_area: spans(|d| if let Dim::Area(c) = d { Some(c) } else { None }),
            funnel: crate::throughput::Funnel {
                intakes: count(a.sum(Kind::Start, Dim::All, from, upto)),
                with_placement: count(a.pairs_in(Other::FirstPlacement, from, upto, today)),
                with_training: count(a.pairs_in(Other::FirstTraining, from, upto, today)),
                exited: count(a.pairs_in(Other::Exited, from, upto, today)),
                exited_to_employment: count(a.pairs_in(Other::ExitedToEmployment, from, upto, today)),
            },
            months,
            goal: self.goal_tally(period.year(), today),
        };
        tally.add(&throughput_tally(&self.explicit_journeys(today), period, today));
        tally.finish(period, today)
    }

    /// The steering-group status as of `as_of`; equal to [`crate::steering()`] of every
    /// case's `journey_on(as_of)`.
    pub fn steering(&self, as_of: Date, previous_meeting: Option<Date>) -> SteeringReport {
        let a = &self.aggregates;
        let since = previous_meeting.map_or_else(first_day, next);
        let changed = |k: Kind| count(a.sum(k, Dim::All, since, as_of));
        let mut exits_by_sus_group = BTreeMap::new();
        for (dim, o) in a.dims(Kind::End, |d| if let Dim::Outcome(o) = d { Some(o) } else { None }) {
            *exits_by_sus_group.entry(o.sus_group()).or_default() += count(a.sum(Kind::End, dim, since, as_of));
        }
        let mut active_per_site = BTreeMap::new();
        for (dim, site) in a.dims(Kind::RunStart, |d| if let Dim::Site(s) = d { Some(s) } else { None }) {
            let n = a.upto(Kind::RunStart, dim, as_of) - a.upto(Kind::RunEnd, dim, prev(as_of));
            *active_per_site.entry(self.symbols.code(site).to_string()).or_default() += count(n);
        }
        let mut tally = SteeringTally {
            active_participants: count(a.upto(Kind::Start, Dim::All, as_of) - a.upto(Kind::End, Dim::All, as_of)),
            active_per_site,
            since_previous: crate::steering::Changes {
                intakes: changed(Kind::Start),
                exits: changed(Kind::End),
                exits_by_sus_group,
                placements_started: changed(Kind::PlacementStart),
                placements_ended: changed(Kind::PlacementEnd),
                trainings_completed: changed(Kind::TrainingDone),
                assessments: changed(Kind::Assessed),
            },
            alerts: crate::steering::Alerts {
                intake_without_placement: a.spans_on(Other::IntakeWithoutPlacement, as_of),
                stays_over_12_months: a.spans_on(Other::LongStay, as_of),
                open_placements_without_end: a.spans_on(Other::OpenPlacement, as_of),
            },
            goal: self.goal_tally(as_of.year(), as_of),
        };
        tally.add(&steering_tally(&self.explicit_journeys(as_of), as_of, previous_meeting));
        tally.finish(as_of, previous_meeting)
    }

    /// The funder's follow-up of `period` as known on `known`; equal to
    /// [`crate::funder()`] of every case's `journey_on(known)`.
    pub fn funder(&self, period: Period, known: Date) -> FunderReport {
        let (from, to) = (period.start(), period.end());
        let upto = to.min(known);
        let a = &self.aggregates;
        let table = |kind: Kind, pick: &dyn Fn(Dim) -> Option<(String, Gender)>, n: &dyn Fn(Dim) -> i64| {
            let mut t = crate::funder::Tally::default();
            for (dim, (row, gender)) in a.dims(kind, pick) {
                t.0.entry(row).or_default()[gender_column(gender)] += count(n(dim));
            }
            t
        };
        let age = |d| match d {
            Dim::Age(band, g) => {
                Some((AGE_BANDS.get(usize::from(band)).copied().unwrap_or(NOT_RECORDED).to_owned(), g))
            }
            _ => None,
        };
        let support = |d| match d {
            Dim::SupportGender(c, g) => Some((self.key(c), g)),
            _ => None,
        };
        let group = |d| match d {
            Dim::GroupGender(o, g) => Some((serde_key(&o), g)),
            _ => None,
        };
        let exit_support = |d| match d {
            Dim::ExitSupportGender(c, g) => Some((self.key(c), g)),
            _ => None,
        };
        let mut tally = FunderTally {
            participants: table(Kind::Start, &age, &|d| a.active_during(d, from, to, known)),
            anonymous_participants: count(a.active_during(Dim::Anonymous, from, to, known)),
            intakes: table(Kind::Start, &support, &|d| a.sum(Kind::Start, d, from, upto)),
            by_group: table(Kind::End, &group, &|d| a.sum(Kind::End, d, from, upto)),
            by_support: table(Kind::End, &exit_support, &|d| a.sum(Kind::End, d, from, upto)),
        };
        tally.add(&crate::funder::funder_tally(&self.explicit_journeys(known), period));
        tally.finish(period)
    }

    /// The caseload: the cases `q` asks for as they stood on `today`, with what is due
    /// then.
    pub fn caseload(&self, q: &CaseloadQuery, today: Date) -> Caseload {
        // Compared without the dashes, so that a start typed either way matches.
        let prefix: Option<String> =
            q.prefix.as_deref().map(|p| p.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase());
        let entries = self
            .cases
            .iter()
            .filter(|(id, _)| prefix.as_deref().is_none_or(|p| id.as_uuid().simple().to_string().starts_with(p)))
            // Whose it is, before its journey is made (the costly part).
            .filter(|(_, c)| q.responsible.is_none() || self.responsible(c, today) == q.responsible.as_ref())
            .filter_map(|(id, c)| {
                let recorder = c.recorder.map(|n| self.users[n as usize].clone());
                let entry = CaseloadEntry::of(&c.journey(*id, &self.symbols, Some(today)), recorder.clone(), today);
                // A lookup by id counts every case held.
                entry.or_else(|| prefix.is_some().then(|| CaseloadEntry::bare(*id, recorder)))
            })
            .filter(|e| q.admits(e))
            .collect();
        Caseload::of(entries, today, q.limit)
    }

    /// Who was responsible for a case on `today`: the latest live reassignment by then,
    /// else the intake's recorder (as [`CaseloadEntry::of`] has it from the journey).
    fn responsible<'a>(&'a self, c: &'a CompactCase, today: Date) -> Option<&'a UserId> {
        c.live()
            .filter(|f| f.date <= today)
            .filter_map(|f| match &f.item {
                Item::Reassigned { responsible } => Some(responsible),
                _ => None,
            })
            .last()
            .or_else(|| c.recorder.map(|n| &self.users[n as usize]))
    }

    /// The aggregates, for comparing two models built differently.
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }
}
