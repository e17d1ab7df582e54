//! What `stod audit` shows: a case's history with its links, the result of verifying
//! the log or an export, an export's summary, and a replayed report's basis and its
//! differences from now, in Swedish; and the JSON shapes of the history.
//!
//! Pure functions over the service's [`CaseView`], `stod-audit`'s results and a
//! [`Catalogue`] for names, so the layout is tested without a server.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use stod_audit::{BundleCheck, Cutoff, Difference, Finding, Manifest, Verification};
use stod_events::event::{CorrectionReason, ExitOutcome, Fact, Gender, SusOutcomeGroup};
use stod_events::ids::{Code, EventId};
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::throughput::NOT_RECORDED;
use stod_protocol::{CaseView, EventView};
use stod_store::{AccessFilter, AccessView, StoredAccess};

use crate::projections::grouped;
use crate::report::long_date;
use crate::sv::{sus_group_label, Term};
use stod_reports::case as show;
use stod_reports::local_time;

/// Another event of the case that an event points to, or is pointed to by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub stream_sequence: u64,
    pub event_id: EventId,
    /// English type name of the linked event (`corrected`, `retracted`, a fact's type).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Why, when the linked event is a correction or retraction.
    pub reason: Option<CorrectionReason>,
}

impl Link {
    fn to(e: &EventView) -> Self {
        Link {
            stream_sequence: e.stream_sequence,
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            reason: e.reason,
        }
    }
}

/// One event of `stod audit history --json`: the log's view of it (times in UTC) and
/// its links both ways.
#[derive(Debug, Serialize)]
pub struct HistoryEvent<'a> {
    #[serde(flatten)]
    pub event: &'a EventView,
    /// For a correction or retraction: the stream sequence of the event it changes
    /// (`corrects` is its id); `null` if that event is not in the case.
    pub corrects_sequence: Option<u64>,
    /// Later corrections of this event, in stream order; the last one is in force.
    pub corrected_by: Vec<Link>,
    /// The retraction of this event, if any.
    pub retracted_by: Option<Link>,
    /// For a correction: what it changes in the version before it (the original, or
    /// the previous correction), field by field; empty otherwise.
    pub changes: Vec<Change>,
}

/// One field a correction changes. `field` is the date (`occurred_on`) or a path in the
/// fact as `stod case show --json` shows it (`site`, `registration.consented.referrer`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// The fields that differ between two versions of a fact.
fn changes(before: (&stod_events::ids::Date, &Fact), after: (&stod_events::ids::Date, &Fact)) -> Vec<Change> {
    let mut out = Vec::new();
    if before.0 != after.0 {
        out.push(Change {
            field: "occurred_on".into(),
            before: before.0.to_string().into(),
            after: after.0.to_string().into(),
        });
    }
    out.extend(stod_audit::compare(before.1, after.1).into_iter().map(|d| Change {
        field: d.figure,
        before: d.then,
        after: d.now,
    }));
    out
}

/// `stod audit history --json`.
#[derive(Debug, Serialize)]
pub struct History<'a> {
    pub case_id: stod_events::ids::CaseId,
    pub open: bool,
    pub void: bool,
    pub events: Vec<HistoryEvent<'a>>,
}

impl<'a> History<'a> {
    pub fn of(view: &'a CaseView) -> Self {
        let by_id: BTreeMap<EventId, &EventView> = view.events.iter().map(|e| (e.event_id, e)).collect();
        let mut corrected_by: BTreeMap<EventId, Vec<Link>> = BTreeMap::new();
        let mut retracted_by: BTreeMap<EventId, Link> = BTreeMap::new();
        for e in &view.events {
            match (e.corrects, &e.fact) {
                (Some(target), Some(_)) => corrected_by.entry(target).or_default().push(Link::to(e)),
                (Some(target), None) => {
                    retracted_by.entry(target).or_insert_with(|| Link::to(e));
                }
                (None, _) => {}
            }
        }
        // Each fact's version in force so far, to say what a correction changes.
        let mut current: BTreeMap<EventId, (&stod_events::ids::Date, &Fact)> = BTreeMap::new();
        let events = view
            .events
            .iter()
            .map(|e| {
                let mut changed = Vec::new();
                match (e.corrects, &e.fact) {
                    (None, Some(fact)) => {
                        current.insert(e.event_id, (&e.occurred_on, fact));
                    }
                    (Some(target), Some(fact)) => {
                        if let Some(before) = current.insert(target, (&e.occurred_on, fact)) {
                            changed = changes(before, (&e.occurred_on, fact));
                        }
                    }
                    _ => {}
                }
                HistoryEvent {
                    event: e,
                    corrects_sequence: e.corrects.and_then(|t| by_id.get(&t)).map(|t| t.stream_sequence),
                    corrected_by: corrected_by.remove(&e.event_id).unwrap_or_default(),
                    retracted_by: retracted_by.remove(&e.event_id),
                    changes: changed,
                }
            })
            .collect();
        History { case_id: view.case_id, open: view.open, void: view.void, events }
    }
}

/// "7 (Praktik påbörjad)", or "12 (Rättelse, fel datum)".
fn link_text(link: &Link, label: &str) -> String {
    match link.reason {
        Some(reason) => format!("{} ({label}, {})", link.stream_sequence, reason.label()),
        None => format!("{} ({label})", link.stream_sequence),
    }
}

/// The auditor's history of a case: every event in stream order with both times, who
/// recorded it, its content and its links both ways.
pub fn history_text(view: &CaseView, cat: &Catalogue) -> String {
    let history = History::of(view);
    let (status, facts) = show::status_and_facts(view, cat);
    let label_of: BTreeMap<EventId, &str> = view.events.iter().map(|e| (e.event_id, e.label.as_str())).collect();
    let label = |l: &Link| label_of.get(&l.event_id).copied().unwrap_or(l.event_type.as_str()).to_owned();

    let mut out = String::new();
    let _ = writeln!(out, "Ärende {}: historik ur händelseloggen", view.case_id);
    let _ = writeln!(out, "  Status:     {status}");
    let _ = writeln!(
        out,
        "  Händelser:  {} i loggens ordning; första talet är händelsens sekvensnummer i loggen",
        view.events.len()
    );
    let width = view.events.iter().map(|e| e.stream_sequence.to_string().len()).max().unwrap_or(1);
    let pad = " ".repeat(width + 2);
    let line = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "{pad}{key:<13}{value}");
    };
    for (h, fact) in history.events.iter().zip(&facts) {
        let e = h.event;
        let _ = writeln!(out);
        let mut title = format!("{:>width$}  {}", e.stream_sequence, e.label);
        if let Some(target) = e.corrects {
            match h.corrects_sequence {
                Some(seq) => {
                    let _ = write!(title, " av {seq} ({})", label_of.get(&target).copied().unwrap_or("?"));
                }
                None => {
                    let _ = write!(title, " av händelse {target}");
                }
            }
        }
        if let Some(reason) = e.reason {
            let _ = write!(title, ", orsak: {}", reason.label());
        }
        if h.retracted_by.is_some() {
            title.push_str("   [MAKULERAD]");
        } else if !h.corrected_by.is_empty() {
            title.push_str("   [RÄTTAD]");
        }
        let _ = writeln!(out, "{title}");
        line(&mut out, "inträffade", &e.occurred_on.to_string());
        line(&mut out, "registrerad", &format!("{} av {}", local_time(e.recorded_at), e.recorded_by));
        if let Some(text) = fact {
            let key = if e.corrects.is_some() { "ny lydelse" } else { "innehåll" };
            line(&mut out, key, text);
            if let Some(Fact::Enrolled(en)) = &e.fact {
                line(&mut out, "", &format!("Deltagare: {}", en.participant));
            }
        }
        if let Some(target) = e.corrects {
            let verb = if e.fact.is_some() { "rättar" } else { "makulerar" };
            let what = match h.corrects_sequence {
                Some(seq) => format!("{seq} ({})", label_of.get(&target).copied().unwrap_or("?")),
                None => format!("händelse {target}, som inte finns i ärendet"),
            };
            line(&mut out, verb, &what);
            if !h.changes.is_empty() {
                let listed: Vec<String> = h
                    .changes
                    .iter()
                    .map(|c| {
                        let field = if c.field == "occurred_on" { "datum" } else { c.field.as_str() };
                        format!("{field} {} → {}", value_text(&c.before), value_text(&c.after))
                    })
                    .collect();
                line(&mut out, "ändrar", &listed.join("; "));
            }
        }
        for (i, c) in h.corrected_by.iter().enumerate() {
            let in_force = if i + 1 == h.corrected_by.len() && h.retracted_by.is_none() { "; gäller nu" } else { "" };
            line(&mut out, "rättad av", &format!("{}{in_force}", link_text(c, &label(c))));
        }
        if let Some(r) = &h.retracted_by {
            line(&mut out, "makulerad av", &link_text(r, &label(r)));
        }
        let hash: String = e.chain_hash.chars().take(16).collect();
        line(&mut out, "händelse", &format!("{} · inlämning {} · kedjehash {hash}…", e.event_id, e.submission_id));
    }
    let _ = write!(
        out,
        "\nTider är svensk tid. UTC, hela kedjehashen och länkarna: stod audit history {} --json\n\
         Att kedjan är obruten visar stod audit verify.",
        view.case_id
    );
    out
}

/// What an access showed, in Swedish.
pub fn access_view_label(view: AccessView) -> &'static str {
    match view {
        AccessView::Case => "ärendet ur händelseloggen",
        AccessView::History => "granskningsspåret ur läsmodellen",
        AccessView::RegistryLookup => "sökning i deltagarregistret",
        AccessView::RegistryRegister => "registrering i deltagarregistret",
        AccessView::RegistryErase => "gallring i deltagarregistret",
        AccessView::AuditRun => "granskning av hela loggen",
        AccessView::Caseload => "ärendelistan",
        _ => "annan vy",
    }
}

/// What an access was about: the case, the person's reference, or the log and range.
fn access_target(a: &stod_store::AccessRecord) -> String {
    match (a.case_id, a.participant, &a.log) {
        (Some(case), _, _) => case.to_string(),
        (None, Some(p), _) => format!("deltagare {p}"),
        (None, None, Some(log)) => {
            let log = match log.as_str() {
                "events" => "händelseloggen",
                "access" => "åtkomstloggen",
                "quarantine" => "karantänlistan",
                other => other,
            };
            format!("{log} {}–{}", a.from.unwrap_or(0), a.to.unwrap_or(0))
        }
        (None, None, None) => "ingen träff i registret".to_owned(),
    }
}

/// The service that recorded an access, in Swedish.
fn via_label(via: &str) -> &str {
    match via {
        "command" => "kommandotjänsten",
        "projector" => "läsmodellerna",
        "registry" => "deltagarregistret",
        other => other,
    }
}

/// `stod audit access`: one line per access, oldest first, in Swedish local time.
pub fn access_text(records: &[StoredAccess], filter: &AccessFilter) -> String {
    let mut out = String::from("Åtkomstloggen: vem som har tittat på vad\n");
    let mut conditions = Vec::new();
    if let Some(case) = filter.case_id {
        conditions.push(format!("ärende {case}"));
    }
    if let Some(user) = &filter.user {
        conditions.push(format!("användare {user}"));
    }
    if let Some(since) = filter.since {
        conditions.push(format!("från {}", local_time(since)));
    }
    if let Some(until) = filter.until {
        conditions.push(format!("till och med {}", local_time(until)));
    }
    let _ = writeln!(
        out,
        "Urval: {}",
        if conditions.is_empty() { "alla åtkomster".to_owned() } else { conditions.join(" · ") }
    );
    out.push('\n');
    if records.is_empty() {
        out.push_str("Inga åtkomster i urvalet.");
        return out;
    }
    let width =
        records.iter().map(|r| r.record.user.as_str().chars().count()).max().unwrap_or(0).max("Användare".len());
    let _ = writeln!(out, "{:<19}  {:<width$}  {:<48}  {:<32}  Via", "Tidpunkt", "Användare", "Vad", "Visat");
    for r in records {
        let a = &r.record;
        let _ = writeln!(
            out,
            "{:<19}  {:<width$}  {:<48}  {:<32}  {}",
            local_time(a.at),
            a.user.as_str(),
            access_target(a),
            access_view_label(a.view),
            via_label(&a.via)
        );
    }
    let _ = write!(
        out,
        "\n{} åtkomst{}. Tider är svensk tid; UTC och varje posts id: --json.\n\
         En post skrivs innan ärendet visas, också när ärendet inte finns eller svaret uteblev.",
        grouped(records.len() as u64),
        if records.len() == 1 { "" } else { "er" }
    );
    out
}

/// A finding's place in the log, for the first column.
fn finding_position(f: &Finding) -> String {
    match (f, f.stream_sequence()) {
        // Name the sequences that are gone, not the one after them.
        (Finding::Missing { after_sequence, count: 1, .. }, _) => format!("sekv {}", after_sequence + 1),
        (Finding::Missing { after_sequence, before_sequence, .. }, _) => {
            format!("sekv {}–{}", after_sequence + 1, before_sequence.saturating_sub(1))
        }
        (_, Some(seq)) => format!("sekv {seq}"),
        (_, None) => "kedjeslut".to_owned(),
    }
}

/// Findings sorted by sequence (chain-head findings last), one per line.
fn findings_text(out: &mut String, findings: &[Finding]) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.stream_sequence().unwrap_or(u64::MAX));
    let width = sorted.iter().map(|f| finding_position(f).chars().count()).max().unwrap_or(0);
    let _ = writeln!(out, "\nFel, i loggens ordning:");
    for f in sorted {
        let _ = writeln!(out, "  {:<width$}  {}", finding_position(f), f.describe_sv());
    }
}

fn range(v: &Verification) -> String {
    if v.events == 0 {
        "inga händelser".to_owned()
    } else {
        format!("{}, sekvens {}–{}", grouped(v.events), grouped(v.first_sequence), grouped(v.last_sequence))
    }
}

fn verdict(intact: bool, problems: usize) -> String {
    if intact {
        "HEL. Alla ärendens kedjor håller: ingen händelse är ändrad, saknas,\n\
         \x20             har lagts in i efterhand eller står i fel ordning."
            .to_owned()
    } else {
        format!("INTE HEL: {problems} fel, se nedan.")
    }
}

/// `stod audit verify` against the live log.
pub fn verification_text(v: &Verification, source: &str, read: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Granskning av händelseloggen ({source})");
    let _ = writeln!(out, "  Händelser:  {}", range(v));
    let _ = writeln!(out, "  Ärenden:    {}", grouped(v.cases));
    let _ = writeln!(out, "  Läst:       {read}");
    let _ = writeln!(out, "  Resultat:   {}", verdict(v.intact(), v.findings.len()));
    if v.newer_events > 0 {
        let _ = writeln!(
            out,
            "  Obs:        {} händelser är av en nyare typ än den här versionen av stod kan läsa; deras kedjor är kontrollerade. Uppdatera stod för att läsa dem.",
            grouped(v.newer_events)
        );
    }
    if !v.findings.is_empty() {
        findings_text(&mut out, &v.findings);
    }
    let _ = write!(
        out,
        "\nVarje ärendes sista händelse skyddas av kedjehuvudena i en export: stod audit export sparar dem,\n\
         och stod audit verify --bundle jämför med dem."
    );
    out
}

/// `stod audit verify --bundle DIR`.
pub fn bundle_text(check: &BundleCheck, dir: &str) -> String {
    let m = &check.manifest;
    let v = &check.verification;
    let mut out = String::new();
    let _ = writeln!(out, "Granskning av exporten {dir} (utan NATS)");
    let _ = writeln!(out, "  Format:         {}, exporterad {} (svensk tid)", m.format, local_time(m.created_at));
    let _ = writeln!(out, "  Händelser:      {}", range(v));
    if v.events != m.events || v.last_sequence != m.last_sequence {
        let _ = writeln!(
            out,
            "                  enligt manifestet: {}, sekvens {}–{}",
            grouped(m.events),
            grouped(m.first_sequence),
            grouped(m.last_sequence)
        );
    }
    let _ = writeln!(out, "  Ärenden:        {}", grouped(v.cases));
    let _ = writeln!(out, "  Kontrollsumma:  {}", m.digest);
    let _ = writeln!(out, "                  (jämför med den som antecknades vid exporten)");
    let files: Vec<&str> = m.files.keys().map(String::as_str).collect();
    let files_line = if check.file_problems.is_empty() {
        format!("{} stämmer med manifestet", files.join(" och "))
    } else {
        format!("{} problem, se nedan", check.file_problems.len())
    };
    let _ = writeln!(out, "  Filer:          {files_line}");
    let problems = check.file_problems.len() + v.findings.len();
    let _ = writeln!(out, "  Resultat:       {}", verdict(check.intact(), problems).replace('\n', "\n    "));
    if !check.file_problems.is_empty() {
        let _ = writeln!(out, "\nFilproblem:");
        for p in &check.file_problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    if !v.findings.is_empty() {
        findings_text(&mut out, &v.findings);
    }
    out.trim_end().to_owned()
}

/// `stod audit export`: what was written and how to check it later.
pub fn export_text(m: &Manifest, dir: &str, read: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Exporten är skriven till {dir}");
    let _ = writeln!(out, "  Format:         {}, skapad {} (svensk tid)", m.format, local_time(m.created_at));
    let span = if m.events == 0 {
        "inga händelser".to_owned()
    } else {
        format!("{}, sekvens {}–{}", grouped(m.events), grouped(m.first_sequence), grouped(m.last_sequence))
    };
    let _ = writeln!(out, "  Händelser:      {span}");
    let _ = writeln!(out, "  Ärenden:        {}", grouped(m.cases));
    let _ = writeln!(out, "  Läst:           {read}");
    for (name, sha) in &m.files {
        let _ = writeln!(out, "  {:<16}SHA-256 {sha}", format!("{name}:"));
    }
    let _ = writeln!(out, "  Kontrollsumma:  {}", m.digest);
    let _ = writeln!(out);
    let _ = writeln!(out, "Anteckna kontrollsumman på annat ställe (t.ex. i granskningsprotokollet): den visar senare");
    let _ = writeln!(out, "att exporten är oförändrad. Kontrollera exporten utan NATS med");
    let _ = writeln!(out, "  stod audit verify --bundle {dir}");
    let _ = write!(
        out,
        "eller utan stod: sha256sum ger filernas kontrollsummor i manifest.json, och docs/event-format.md\n\
         visar hur varje händelses kedjehash räknas."
    );
    out
}

/// Which moment a replay shows, for its heading and basis.
pub fn moment_text(cutoff: &Cutoff) -> String {
    match cutoff {
        Cutoff::Sequence(n) => format!("vid sekvens {}", grouped(*n)),
        Cutoff::RecordedBy(t) => format!("{} svensk tid (UTC {t})", local_time(*t)),
    }
}

/// What a replay included, as the report's basis sentence.
pub fn replay_basis(cutoff: &Cutoff, included: u64, through: u64, total: u64) -> String {
    let counted = format!("{} av {} händelser", grouped(included), grouped(total));
    let what = match cutoff {
        Cutoff::Sequence(_) => counted,
        Cutoff::RecordedBy(_) if included == 0 => "inga händelser var registrerade då".to_owned(),
        Cutoff::RecordedBy(_) => format!("{counted}, t.o.m. händelse {}", grouped(through)),
    };
    format!("händelseloggen som den stod {}: {what}; återskapad av stod audit replay.", moment_text(cutoff))
}

/// The figures that differ between then and now, as a table; "Inga skillnader" if none.
pub fn differences_text(diffs: &[Difference], then_report: &Value, cat: &Catalogue) -> String {
    if diffs.is_empty() {
        return "Inga skillnader: senare händelser ändrar ingen av rapportens siffror.".to_owned();
    }
    let mut sorted: Vec<&Difference> = diffs.iter().collect();
    sorted.sort_by_cached_key(|d| figure_order(&d.figure));
    let rows: Vec<(String, String, String)> = sorted
        .iter()
        .map(|d| (figure_label(&d.figure, then_report, cat), value_text(&d.then), value_text(&d.now)))
        .collect();
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0).max("Uppgift".len());
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).max(3);
    let w2 = rows.iter().map(|r| r.2.chars().count()).max().unwrap_or(0).max(2);
    let mut out = String::new();
    let count = if rows.len() == 1 {
        "1 uppgift skiljer sig".to_owned()
    } else {
        format!("{} uppgifter skiljer sig", rows.len())
    };
    let _ = writeln!(out, "{count}:");
    let _ = writeln!(out, "  {:<w0$}  {:>w1$}  {:>w2$}", "Uppgift", "Då", "Nu");
    for (label, then, now) in rows {
        let _ = writeln!(out, "  {label:<w0$}  {then:>w1$}  {now:>w2$}");
    }
    out.trim_end().to_owned()
}

/// Where a figure comes in the printed reports, so the differences read in the same
/// order as the report (paths alone sort `months[10]` before `months[2]`).
fn figure_order(path: &str) -> (usize, usize, usize, usize, String) {
    const SECTIONS: [&str; 30] = [
        "period",
        "from",
        "to",
        "as_of",
        "previous_meeting",
        "goal",
        "persons",
        "intakes",
        "active_at_end",
        "exits",
        "exits_to_employment",
        "exits_to_throughput",
        "share_to_employment_percent",
        "share_to_throughput_percent",
        "median_days_to_first_placement",
        "median_days_to_exit",
        "exits_by_sus_group",
        "exits_by_outcome",
        "by_municipality",
        "by_referrer",
        "by_gender",
        "by_support_at_start",
        "by_site",
        "by_work_area",
        "funnel",
        "months",
        "since_previous",
        "active_participants",
        "active_per_site",
        "alerts",
    ];
    // Fields within a section, in the order the reports print them.
    const FIELDS: [&str; 22] = [
        "persons_so_far",
        "carried_in",
        "intakes_so_far",
        "forecast",
        "on_track",
        "target",
        "month",
        "intakes",
        "with_placement",
        "with_training",
        "exited",
        "exited_to_employment",
        "exits",
        "exits_by_sus_group",
        "placements_started",
        "placements_ended",
        "trainings_completed",
        "assessments",
        "active_at_end",
        "intake_without_placement",
        "stays_over_12_months",
        "open_placements_without_end",
    ];
    const GROUPS: [&str; 4] = ["employment", "studies", "job_seeking", "other"];
    let rank = |list: &[&str], s: &str| list.iter().position(|x| *x == s).unwrap_or(list.len());
    // A field, or a key of a fixed breakdown (SUS groups, outcomes) in the reports' order.
    let key_rank = |head: &str, s: &str| {
        let fixed = if head == "exits_by_outcome" {
            ExitOutcome::ALL
                .iter()
                .position(|o| serde_json::to_value(o).ok().as_ref().and_then(Value::as_str) == Some(s))
        } else {
            GROUPS.iter().position(|x| *x == s)
        };
        FIELDS
            .iter()
            .position(|x| *x == s)
            .or(fixed.map(|i| FIELDS.len() + i))
            .unwrap_or(FIELDS.len() + ExitOutcome::ALL.len())
    };
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, rest),
        None => (path, ""),
    };
    let (head, index) = match head.strip_suffix(']').and_then(|h| h.split_once('[')) {
        Some((head, i)) => (head, i.parse().unwrap_or(0)),
        None => (head, 0),
    };
    let mut parts = rest.split('.');
    let field = parts.next().map_or(0, |f| key_rank(head, f));
    let group = parts.next().map_or(0, |g| key_rank(head, g));
    (rank(&SECTIONS, head), index, field, group, path.to_owned())
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "–".to_owned(),
        Value::Bool(true) => "ja".to_owned(),
        Value::Bool(false) => "nej".to_owned(),
        Value::Number(n) => n.as_u64().map_or_else(|| n.to_string(), grouped),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A breakdown key's name: a code's reference-data name, or a fixed value's label.
fn key_label(kind: CodeKind, key: &str, cat: &Catalogue) -> String {
    if key == NOT_RECORDED {
        return "ej registrerat (anonyma)".to_owned();
    }
    Code::parse(key).map_or_else(|_| key.to_owned(), |code| cat.name(kind, &code).to_owned())
}

fn serde_label<T: serde::de::DeserializeOwned>(key: &str, label: impl Fn(T) -> String) -> String {
    serde_json::from_value::<T>(Value::String(key.to_owned())).map_or_else(|_| key.to_owned(), label)
}

/// The Swedish name of a figure of the throughput or steering report, from its path in
/// the report's JSON (`exits_by_outcome.studies`, `months[3].intakes`). Unknown paths are
/// shown as they are.
pub fn figure_label(path: &str, then_report: &Value, cat: &Catalogue) -> String {
    let goal = |field: &str| -> Option<&'static str> {
        Some(match field {
            "year" => "år",
            "target" => "antal personer per år",
            "as_of" => "t.o.m. datum",
            "persons_so_far" => "personer i verksamheten hittills",
            "carried_in" => "inskrivna före 1 januari",
            "intakes_so_far" => "nya inskrivningar hittills",
            "forecast" => "prognos för helåret",
            "on_track" => "på väg",
            _ => return None,
        })
    };
    let top = |field: &str| -> Option<&'static str> {
        Some(match field {
            "period" => "Period",
            "from" => "Periodens första dag",
            "to" => "Periodens sista dag",
            "persons" => "Personer i verksamheten under perioden",
            "intakes" => "Inskrivningar",
            "active_at_end" => "Aktiva vid periodens slut",
            "exits" => "Avslut",
            "exits_to_employment" => "Avslut till arbete",
            "exits_to_throughput" => "Avslut till arbete, studier eller närmare arbetsmarknaden",
            "share_to_employment_percent" => "Andel avslut till arbete, %",
            "share_to_throughput_percent" => "Andel avslut till arbete, studier eller närmare arbetsmarknaden, %",
            "median_days_to_first_placement" => "Median dagar från inskrivning till första praktik",
            "median_days_to_exit" => "Median dagar från inskrivning till avslut",
            "as_of" => "Mötesdatum",
            "previous_meeting" => "Förra mötet",
            "active_participants" => "Aktiva deltagare",
            _ => return None,
        })
    };
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let label = match (head, rest) {
        (field, "") => top(field).map(str::to_owned),
        ("goal", field) => goal(field).map(|g| format!("Mål: {g}")),
        ("exits_by_outcome", key) => {
            Some(format!("Avslut per utfall: {}", serde_label(key, |o: ExitOutcome| o.label().to_owned())))
        }
        ("exits_by_sus_group", key) => Some(format!(
            "Avslut per SUS-grupp: {}",
            serde_label(key, |g: SusOutcomeGroup| sus_group_label(g).to_owned())
        )),
        ("by_municipality", key) => {
            Some(format!("Personer per kommun: {}", key_label(CodeKind::Municipality, key, cat)))
        }
        ("by_referrer", key) => Some(format!("Personer per remittent: {}", key_label(CodeKind::Referrer, key, cat))),
        ("by_gender", key) => Some(format!("Personer per kön: {}", serde_label(key, |g: Gender| g.label().to_owned()))),
        ("by_support_at_start", key) => {
            Some(format!("Personer per försörjning vid start: {}", key_label(CodeKind::SupportSource, key, cat)))
        }
        ("by_site", key) => {
            Some(format!("Personer i praktik per arbetsplats: {}", key_label(CodeKind::Site, key, cat)))
        }
        ("by_work_area", key) => {
            Some(format!("Personer i praktik per arbetsområde: {}", key_label(CodeKind::WorkArea, key, cat)))
        }
        ("active_per_site", key) => Some(format!("Aktiva i praktik på {}", key_label(CodeKind::Site, key, cat))),
        ("funnel", field) => {
            let step = match field {
                "intakes" => Some("inskrivna"),
                "with_placement" => Some("har haft praktik"),
                "with_training" => Some("har gått utbildning"),
                "exited" => Some("avslutade"),
                "exited_to_employment" => Some("avslutade till arbete"),
                _ => None,
            };
            step.map(|s| format!("Inskrivna under perioden: {s}"))
        }
        ("since_previous", field) => {
            let (field, key) = field.split_once('.').unwrap_or((field, ""));
            let what = match (field, key) {
                ("intakes", "") => Some("inskrivningar".to_owned()),
                ("exits", "") => Some("avslut".to_owned()),
                ("exits_by_sus_group", key) => Some(format!(
                    "avslut till {}",
                    serde_label(key, |g: SusOutcomeGroup| sus_group_label(g).to_owned())
                )),
                ("placements_started", "") => Some("praktiker påbörjade".to_owned()),
                ("placements_ended", "") => Some("praktiker avslutade".to_owned()),
                ("trainings_completed", "") => Some("utbildningar genomförda".to_owned()),
                ("assessments", "") => Some("bedömningar av stegförflyttning".to_owned()),
                _ => None,
            };
            what.map(|w| format!("Sedan förra mötet: {w}"))
        }
        ("alerts", group) => {
            let what = match group {
                "intake_without_placement.count" => Some("inskrivna utan praktik"),
                "stays_over_12_months.count" => Some("i verksamheten mer än 12 månader"),
                "open_placements_without_end.count" => Some("praktik mer än 6 månader utan avslut"),
                _ => None,
            };
            what.map(|w| format!("Att uppmärksamma: {w}"))
        }
        _ => month_label(path, then_report),
    };
    label.unwrap_or_else(|| path.to_owned())
}

/// `months[3].intakes` → "april 2025: inskrivna".
fn month_label(path: &str, then_report: &Value) -> Option<String> {
    let rest = path.strip_prefix("months[")?;
    let (index, field) = rest.split_once("].")?;
    let month = then_report.get("months")?.get(index.parse::<usize>().ok()?)?.get("month")?.as_str()?;
    let name = format!("{month}-01").parse().map_or_else(
        |_| month.to_owned(),
        |d| {
            let long = long_date(d);
            long.split_once(' ').map_or(long.clone(), |(_, month_year)| month_year.to_owned())
        },
    );
    let what = match field {
        "intakes" => "inskrivna",
        "exits" => "avslut",
        "active_at_end" => "aktiva vid månadens slut",
        "month" => "månad",
        _ => return None,
    };
    Some(format!("{name}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_events::ids::{CaseId, Timestamp, UserId};
    use stod_reports::fixtures::{event, placement};

    #[test]
    fn history_links_corrections_and_retractions_both_ways() {
        let place = event(7, Some(placement("atervinningsbutiken")), None, None);
        let fix = event(12, Some(placement("vaderbacken")), Some(place.event_id), Some(CorrectionReason::EntryError));
        let gone = event(15, None, Some(place.event_id), Some(CorrectionReason::Duplicate));
        let view = CaseView {
            case_id: CaseId::new(),
            open: true,
            void: false,
            open_placements: vec![],
            open_trainings: vec![],
            events: vec![place.clone(), fix.clone(), gone.clone()],
        };
        let h = History::of(&view);
        assert_eq!(h.events[0].corrected_by.iter().map(|l| l.stream_sequence).collect::<Vec<_>>(), [12]);
        assert_eq!(h.events[0].retracted_by.as_ref().map(|l| l.stream_sequence), Some(15));
        assert_eq!(h.events[1].corrects_sequence, Some(7));
        assert_eq!(h.events[2].corrects_sequence, Some(7));
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["events"][0]["type"], "placement_started");
        assert_eq!(json["events"][0]["recorded_at"], "2025-03-14T11:00:00.000000Z");
        assert_eq!(json["events"][0]["corrected_by"][0]["reason"], "entry_error");
        assert_eq!(
            json["events"][1]["changes"],
            serde_json::json!([{"field": "site", "before": "atervinningsbutiken", "after": "vaderbacken"}])
        );
        assert_eq!(json["events"][0]["changes"], serde_json::json!([]));

        let text = history_text(&view, &Catalogue::default_catalogue());
        assert!(text.contains("Rättelse av 7 (Praktik påbörjad), orsak: felregistrering"), "{text}");
        assert!(text.contains("rättad av    12 (Rättelse, felregistrering)"), "{text}");
        assert!(text.contains("makulerad av 15 (Makulering, dubblett)"), "{text}");
        assert!(text.contains("rättar       7 (Praktik påbörjad)"), "{text}");
        assert!(text.contains("ändrar       site atervinningsbutiken → vaderbacken"), "{text}");
        assert!(text.contains("Återvinningsbutiken") && text.contains("Våderbacken"), "{text}");
        // Noon in Stockholm is 11:00 UTC in March.
        assert!(text.contains("registrerad  2025-03-14 12:00:00 av anna"), "{text}");
    }

    #[test]
    fn accesses_are_listed_in_swedish_local_time() {
        let case: CaseId = "01900000-0000-7000-8000-000000000001".parse().unwrap();
        let record = |seq: u64, user: &str, view: AccessView, via: &str| StoredAccess {
            stream_sequence: seq,
            record: stod_store::AccessRecord {
                // 2025-06-30T16:00:00Z is 18:00 in Stockholm.
                at: Timestamp::from_micros(1_751_299_200_000_000).unwrap(),
                ..stod_store::AccessRecord::new(UserId::parse(user).unwrap(), case, view, via)
            },
        };
        let records =
            [record(1, "anna", AccessView::Case, "command"), record(2, "revisor", AccessView::History, "projector")];
        let filter = AccessFilter { case_id: Some(case), ..AccessFilter::default() };
        let text = access_text(&records, &filter);
        assert!(text.contains(&format!("Urval: ärende {case}")), "{text}");
        assert!(text.contains("2025-06-30 18:00:00  anna"), "{text}");
        assert!(text.contains("granskningsspåret ur läsmodellen  läsmodellerna"), "{text}");
        assert!(text.contains("2 åtkomster."), "{text}");
        assert!(access_text(&[], &AccessFilter::default()).contains("Inga åtkomster"));
    }

    #[test]
    fn findings_are_listed_by_sequence_with_their_case() {
        let case = CaseId::new();
        let v = Verification {
            events: 20,
            cases: 3,
            first_sequence: 1,
            last_sequence: 20,
            findings: vec![
                Finding::HeadMismatch { case_id: case, expected_events: 4, found_events: 3 },
                Finding::Changed { stream_sequence: 12, case_id: case },
                Finding::Missing { after_sequence: 4, before_sequence: 6, count: 1 },
            ],
            heads: BTreeMap::new(),
            newer_events: 0,
        };
        let text = verification_text(&v, "nats://x", "på 0,1 s");
        assert!(text.contains("INTE HEL: 3 fel"), "{text}");
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} in {text}"));
        assert!(at("sekv 5 ") < at("sekv 12") && at("sekv 12") < at("kedjeslut"), "{text}");
        assert!(text.contains(&case.to_string()), "{text}");
        let ok = Verification { findings: vec![], ..v };
        assert!(verification_text(&ok, "nats://x", "").contains("HEL. Alla"));
    }

    #[test]
    fn differing_figures_have_swedish_names() {
        let cat = Catalogue::default_catalogue();
        let then = serde_json::json!({"months": [{"month": "2025-01"}, {"month": "2025-02"}, {"month": "2025-03"}, {"month": "2025-04"}]});
        assert_eq!(figure_label("exits_by_outcome.studies", &then, &cat), "Avslut per utfall: studier");
        assert_eq!(figure_label("exits_by_sus_group.employment", &then, &cat), "Avslut per SUS-grupp: förvärvsarbete");
        assert_eq!(figure_label("months[3].intakes", &then, &cat), "april 2025: inskrivna");
        assert_eq!(figure_label("by_site.vaderbacken", &then, &cat), "Personer i praktik per arbetsplats: Våderbacken");
        assert_eq!(figure_label("goal.forecast", &then, &cat), "Mål: prognos för helåret");
        assert_eq!(
            figure_label("since_previous.exits_by_sus_group.studies", &then, &cat),
            "Sedan förra mötet: avslut till studier"
        );
        assert_eq!(
            figure_label("alerts.stays_over_12_months.count", &then, &cat),
            "Att uppmärksamma: i verksamheten mer än 12 månader"
        );
        assert_eq!(figure_label("something_new", &then, &cat), "something_new");

        let diffs = vec![
            Difference { figure: "exits_to_employment".into(), then: 0.into(), now: 1.into() },
            Difference { figure: "exits_by_outcome.studies".into(), then: 1.into(), now: Value::Null },
        ];
        let table = differences_text(&diffs, &then, &cat);
        assert!(table.starts_with("2 uppgifter skiljer sig"), "{table}");
        assert!(table.lines().any(|l| l.contains("Avslut till arbete") && l.trim_end().ends_with("0   1")), "{table}");
        assert!(table.lines().any(|l| l.contains("utfall: studier") && l.trim_end().ends_with("1   –")), "{table}");
        assert!(differences_text(&[], &then, &cat).starts_with("Inga skillnader"));
        // In the report's order: months by number, not by their paths' spelling.
        let mut paths = vec![
            "months[10].exits",
            "months[2].intakes",
            "goal.forecast",
            "persons",
            "months[2].exits",
            "exits_by_sus_group.job_seeking",
            "exits_by_sus_group.employment",
            "since_previous.assessments",
            "since_previous.exits_by_sus_group.other",
            "since_previous.exits_by_sus_group.studies",
        ];
        paths.sort_by_cached_key(|p| figure_order(p));
        assert_eq!(
            paths,
            [
                "goal.forecast",
                "persons",
                "exits_by_sus_group.employment",
                "exits_by_sus_group.job_seeking",
                "months[2].intakes",
                "months[2].exits",
                "months[10].exits",
                "since_previous.exits_by_sus_group.studies",
                "since_previous.exits_by_sus_group.other",
                "since_previous.assessments",
            ]
        );
    }
}
