//! The read models' reports as the command line shows them: throughput and a case's
//! audit trail for the terminal; the steering group's and the funder's documents come
//! from `stod-reports`, shared with the dashboard.
//!
//! Pure functions over the projector's reports and a [`Catalogue`] for names, so the
//! layout is tested without a server. Everything here is Swedish.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use stod_events::event::ExitOutcome;
use stod_events::ids::{CaseId, Date, EventId};
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::disclosure::Cell;
use stod_projections::published::PublishedGoal;
use stod_projections::throughput::{Goal, NOT_RECORDED};
use stod_projections::{AuditEntry, PublishedFunder, PublishedSteering, ThroughputReport};
use stod_reports::{key_name, period_title};
pub use stod_reports::{long_date, Basis};

use crate::args::{ReportFormat, ThroughputArgs};
use crate::error::CliError;
use crate::show::local_time;
use crate::sv::{event_type_label, sus_group_label, Term, SUS_GROUPS};

impl From<ReportFormat> for stod_reports::Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Text => stod_reports::Format::Text,
            ReportFormat::Md => stod_reports::Format::Md,
            ReportFormat::Html => stod_reports::Format::Html,
        }
    }
}

/// The steering group's report (counts already protected by the projector).
pub fn steering(r: &PublishedSteering, basis: &Basis, cat: &Catalogue, format: ReportFormat, printed: &str) -> String {
    stod_reports::steering::steering(r, basis, cat, format.into(), printed)
}

/// The funder's follow-up (counts already protected by the projector).
pub fn funder(r: &PublishedFunder, basis: &Basis, cat: &Catalogue, format: ReportFormat, printed: &str) -> String {
    stod_reports::funder::funder(r, basis, cat, format.into(), printed)
}

/// The period of `report throughput`, as the projector reads it. The projector checks
/// the values; this checks that the flag and the shape agree, so `--year 2025-03` is not
/// silently a month.
pub fn period(args: &ThroughputArgs) -> Result<String, CliError> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (value, ok, example) = if let Some(y) = &args.year {
        (y.trim(), digits(y.trim(), 4), "--year 2025")
    } else if let Some(q) = &args.quarter {
        let ok = q
            .trim()
            .split_once(['-'])
            .is_some_and(|(y, q)| digits(y, 4) && (q.starts_with('Q') || q.starts_with('q')) && digits(&q[1..], 1));
        (q.trim(), ok, "--quarter 2025-Q2")
    } else if let Some(m) = &args.month {
        let ok = m
            .trim()
            .split_once('-')
            .is_some_and(|(y, m)| digits(y, 4) && (1..=2).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()));
        (m.trim(), ok, "--month 2025-03")
    } else {
        return Err(CliError::Usage("ange en period: --year, --quarter eller --month".into()));
    };
    if ok {
        // Checked here too, so a month 13 is refused without asking a server.
        value.parse::<stod_projections::Period>().map_err(|e| CliError::Invalid(e.to_string()))?;
        Ok(value.to_owned())
    } else {
        Err(CliError::Invalid(format!("{value:?} passar inte flaggan: skriv t.ex. {example}")))
    }
}

/// A horizontal bar of `value` out of `max`, `width` cells wide, in eighths of a cell.
pub fn bar(value: u32, max: u32, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max == 0 || value == 0 {
        return String::new();
    }
    let eighths = (u64::from(value) * width as u64 * 8).div_ceil(u64::from(max)) as usize;
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    s
}

/// Rows of a breakdown, largest first, "not recorded" last.
fn breakdown(cat: &Catalogue, kind: CodeKind, counts: &BTreeMap<String, u32>) -> Vec<(String, u32)> {
    let mut rows: Vec<(bool, String, u32)> =
        counts.iter().map(|(k, n)| (k == NOT_RECORDED, key_name(cat, kind, k), *n)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|(_, name, n)| (name, n)).collect()
}

/// The goal in one line, as every report starts (exact counts: the throughput report
/// is a case-level role's view).
pub fn goal_line(goal: &Goal) -> String {
    let exact = PublishedGoal {
        year: goal.year,
        target: goal.target,
        as_of: goal.as_of,
        persons_so_far: Cell::Shown(goal.persons_so_far),
        carried_in: Cell::Shown(goal.carried_in),
        intakes_so_far: Cell::Shown(goal.intakes_so_far),
        forecast: Cell::Shown(goal.forecast),
        on_track: goal.on_track,
    };
    stod_reports::steering::goal_line(&exact)
}

fn goal_detail(goal: &Goal) -> String {
    format!(
        "{} personer i verksamheten {}: {} inskrivna före 1 januari och {} nya inskrivningar t.o.m. {}.",
        goal.persons_so_far, goal.year, goal.carried_in, goal.intakes_so_far, goal.as_of
    )
}

/// A count with its share, e.g. `   4   44 %`.
fn with_share(n: u32, share: Option<u32>) -> String {
    match share {
        Some(p) => format!("{n:>4}  {p:>3} %"),
        None => format!("{n:>4}"),
    }
}

fn count_share(n: u32, whole: u32) -> String {
    with_share(n, stod_projections::stats::percent(n, whole))
}

/// A block of the throughput report: a heading (none for the key figures) and rows of
/// label and value. Rendered with one label width for the whole report.
struct Block {
    heading: Option<&'static str>,
    rows: Vec<(String, String)>,
    /// Shown instead of rows when there are none.
    empty: &'static str,
}

fn render_blocks(out: &mut String, blocks: &[Block]) {
    let indent = |b: &Block| if b.heading.is_some() { 2 } else { 0 };
    let width =
        blocks.iter().flat_map(|b| b.rows.iter().map(move |(l, _)| l.chars().count() + indent(b))).max().unwrap_or(0);
    for b in blocks {
        if let Some(h) = b.heading {
            let _ = writeln!(out, "\n{h}");
        }
        let pad = " ".repeat(indent(b));
        if b.rows.is_empty() {
            let _ = writeln!(out, "{pad}{}", b.empty);
        }
        for (label, value) in &b.rows {
            let w = width - indent(b);
            let _ = writeln!(out, "{pad}{label:<w$}  {value}");
        }
    }
}

/// The throughput report for the terminal.
pub fn throughput_text(r: &ThroughputReport, basis: &Basis, cat: &Catalogue) -> String {
    let mut out = String::new();
    let ongoing = r.to > r.goal.as_of && r.from <= r.goal.as_of;
    let _ = writeln!(out, "Genomströmning {} ({} – {})", period_title(&r.period), r.from, r.to);
    if ongoing {
        let _ = writeln!(out, "Perioden pågår: siffrorna gäller t.o.m. {}.", r.goal.as_of);
    }
    let _ = writeln!(out, "{}", basis.sentence());
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", goal_line(&r.goal));
    let _ = writeln!(out, "  {}", goal_detail(&r.goal));

    let count = |n: u32| format!("{n:>4}");
    let days = |d: Option<i64>| d.map_or_else(|| format!("{:>4}", "–"), |d| format!("{d:>4} dagar"));
    let active_label = if ongoing { "Aktiva i dag" } else { "Aktiva vid periodens slut" };
    let key = Block {
        heading: None,
        rows: vec![
            ("Personer i verksamheten under perioden".into(), count(r.persons)),
            ("Inskrivningar".into(), count(r.intakes)),
            (active_label.into(), count(r.active_at_end)),
            ("Avslut".into(), count(r.exits)),
            ("  till arbete".into(), with_share(r.exits_to_employment, r.share_to_employment_percent)),
            (
                "  till arbete, studier eller närmare arbetsmarknaden".into(),
                with_share(r.exits_to_throughput, r.share_to_throughput_percent),
            ),
            ("Median från inskrivning till första praktik".into(), days(r.median_days_to_first_placement)),
            ("Median från inskrivning till avslut".into(), days(r.median_days_to_exit)),
        ],
        empty: "",
    };
    let sus = Block {
        heading: Some("Avslut per SUS-grupp"),
        rows: SUS_GROUPS
            .iter()
            .map(|g| {
                (
                    sus_group_label(*g).to_owned(),
                    count_share(r.exits_by_sus_group.get(g).copied().unwrap_or(0), r.exits),
                )
            })
            .collect(),
        empty: "",
    };
    let outcomes = Block {
        heading: Some("Avslut per utfall"),
        rows: ExitOutcome::ALL
            .iter()
            .filter_map(|o| r.exits_by_outcome.get(o).map(|n| (o.label().to_owned(), count_share(*n, r.exits))))
            .collect(),
        empty: "inga avslut under perioden",
    };
    let persons = |heading, kind, counts: &BTreeMap<String, u32>| Block {
        heading: Some(heading),
        rows: breakdown(cat, kind, counts).into_iter().map(|(name, n)| (name, count_share(n, r.persons))).collect(),
        empty: "inga",
    };
    let in_placement = |heading, kind, counts: &BTreeMap<String, u32>| Block {
        heading: Some(heading),
        rows: breakdown(cat, kind, counts).into_iter().map(|(name, n)| (name, count(n))).collect(),
        empty: "ingen praktik under perioden",
    };
    let f = &r.funnel;
    let steps = [
        ("inskrivna", f.intakes),
        ("har haft praktik", f.with_placement),
        ("har gått utbildning", f.with_training),
        ("avslutade", f.exited),
        ("avslutade till arbete", f.exited_to_employment),
    ];
    let funnel = Block {
        heading: Some("Inskrivna under perioden: hur långt de har kommit hittills"),
        rows: steps.iter().map(|(l, n)| ((*l).to_owned(), format!("{n:>4}  {}", bar(*n, f.intakes, 24)))).collect(),
        empty: "",
    };
    let blocks = [
        key,
        sus,
        outcomes,
        persons("Personer per kommun", CodeKind::Municipality, &r.by_municipality),
        persons("Personer per remittent", CodeKind::Referrer, &r.by_referrer),
        Block {
            heading: Some("Personer per kön"),
            rows: r.by_gender.iter().map(|(g, n)| (g.label().to_owned(), count_share(*n, r.persons))).collect(),
            empty: "inga",
        },
        persons("Personer per försörjning vid start", CodeKind::SupportSource, &r.by_support_at_start),
        in_placement("Personer i praktik per arbetsplats", CodeKind::Site, &r.by_site),
        in_placement("Personer i praktik per arbetsområde", CodeKind::WorkArea, &r.by_work_area),
        funnel,
    ];
    let _ = writeln!(out);
    render_blocks(&mut out, &blocks);
    month_table(&mut out, r);
    out
}

fn month_table(out: &mut String, r: &ThroughputReport) {
    let max_flow = r.months.iter().map(|m| m.intakes.max(m.exits)).max().unwrap_or(0);
    let max_active = r.months.iter().map(|m| m.active_at_end).max().unwrap_or(0);
    let _ = writeln!(out, "\nMånad för månad");
    let _ = writeln!(out, "  {:<10} {:<13} {:<13} aktiva vid månadens slut", "", "inskrivna", "avslut");
    for m in &r.months {
        let start = m.month.split_once('-').and_then(|(y, mm)| Date::from_ymd(y.parse().ok()?, mm.parse().ok()?, 1));
        let name =
            start.map_or(m.month.as_str(), |d| stod_reports::MONTHS[chrono::Datelike::month0(&d.naive()) as usize]);
        // A month that has not begun has no figures yet.
        let future = start.is_some_and(|start| start > r.goal.as_of);
        if future {
            let _ = writeln!(out, "  {name:<10} {:>3}", "–");
            continue;
        }
        let _ = writeln!(
            out,
            "  {name:<10} {:>3} {:<9} {:>3} {:<9} {:>3} {}",
            m.intakes,
            bar(m.intakes, max_flow, 8),
            m.exits,
            bar(m.exits, max_flow, 8),
            m.active_at_end,
            bar(m.active_at_end, max_active, 20),
        );
    }
}

/// A few lines for `stod up --demo`: the goal and the main counts of this year.
pub fn throughput_summary(r: &ThroughputReport) -> String {
    format!(
        "Genomströmning {} t.o.m. {}:\n  {}\n  {} personer i verksamheten, {} inskrivningar, {} aktiva i dag\n  {} avslut: {} till arbete, {} till arbete, studier eller närmare arbetsmarknaden",
        r.period,
        r.goal.as_of,
        goal_line(&r.goal),
        r.persons,
        r.intakes,
        r.active_at_end,
        r.exits,
        r.exits_to_employment,
        r.exits_to_throughput,
    )
}

/// The steering group sees counts only: the alerts' case lists are removed from the
/// JSON too (the projector includes them for case-level roles).
pub fn without_case_ids(mut reply: serde_json::Value) -> serde_json::Value {
    if let Some(alerts) = reply.pointer_mut("/report/alerts").and_then(|a| a.as_object_mut()) {
        for group in alerts.values_mut() {
            if let Some(group) = group.as_object_mut() {
                group.remove("cases");
            }
        }
    }
    reply
}

/// A case's audit trail: one block per event, in log order, with who recorded it when
/// and the correction links both ways.
pub fn history_text(case: CaseId, entries: &[AuditEntry], basis: &Basis) -> String {
    let seq_of: BTreeMap<EventId, (u64, &str)> =
        entries.iter().map(|e| (e.event_id, (e.stream_sequence, e.event_type.as_str()))).collect();
    let link = |id: &EventId| match seq_of.get(id) {
        Some((seq, kind)) => format!("{seq} ({})", event_type_label(kind)),
        None => format!("händelse {id}"),
    };
    let mut out = String::new();
    let _ = writeln!(out, "Ärende {case}: granskningsspår");
    let _ = writeln!(out, "{} händelser i loggens ordning. {}", entries.len(), basis.sentence());
    let _ = writeln!(out);
    let width = entries.iter().map(|e| e.stream_sequence.to_string().len()).max().unwrap_or(1).max(4);
    let label_width = entries.iter().map(|e| label_of(e).chars().count()).max().unwrap_or(8).max(8);
    let _ = writeln!(
        out,
        "{:>width$}  {:<label_width$}  {:<10}  {:<19}  Av",
        "Sekv", "Händelse", "Inträffade", "Registrerad"
    );
    let pad = " ".repeat(width + 2);
    for e in entries {
        let _ = writeln!(
            out,
            "{:>width$}  {:<label_width$}  {}  {}  {}",
            e.stream_sequence,
            label_of(e),
            e.occurred_on,
            local_time(e.recorded_at),
            e.recorded_by
        );
        if let Some(target) = &e.corrects {
            let verb = if e.event_type == "retracted" { "makulerar" } else { "rättar" };
            let _ = writeln!(out, "{pad}{verb} {}", link(target));
        }
        for by in &e.changed_by {
            let is_retraction = entries.iter().any(|x| x.event_id == *by && x.event_type == "retracted");
            let verb = if is_retraction { "makuleras av" } else { "rättas av" };
            let _ = writeln!(out, "{pad}{verb} {}", link(by));
        }
        let hash: String = e.chain_hash.chars().take(16).collect();
        let _ = writeln!(out, "{pad}händelse {} · kedjehash {hash}…", e.event_id);
    }
    let _ = write!(out, "\nTider är svensk tid. Hela kedjehashen och alla fält: stod case history {case} --json");
    out
}

fn label_of(e: &AuditEntry) -> String {
    let label = event_type_label(&e.event_type);
    match e.reason {
        Some(reason) => format!("{label} ({})", reason.label()),
        None => label.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_events::event::{CorrectionReason, Gender, SusOutcomeGroup};
    use stod_events::ids::{Timestamp, UserId};
    use stod_projections::steering::{AlertGroup, Alerts, Changes};
    use stod_projections::throughput::{Funnel, MonthRow};
    use stod_projections::SteeringReport;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn goal(persons: u32, forecast: u32, as_of: &str) -> Goal {
        Goal {
            year: 2025,
            target: 20,
            as_of: date(as_of),
            persons_so_far: persons,
            carried_in: 7,
            intakes_so_far: persons - 7,
            forecast,
            on_track: forecast >= 20,
        }
    }

    fn throughput_report() -> ThroughputReport {
        ThroughputReport {
            period: "2025".into(),
            from: date("2025-01-01"),
            to: date("2025-12-31"),
            persons: 18,
            intakes: 11,
            active_at_end: 9,
            exits: 9,
            exits_by_outcome: [
                (ExitOutcome::EmploymentUnsubsidised, 4),
                (ExitOutcome::Studies, 2),
                (ExitOutcome::Health, 3),
            ]
            .into(),
            exits_by_sus_group: [
                (SusOutcomeGroup::Employment, 4),
                (SusOutcomeGroup::Studies, 2),
                (SusOutcomeGroup::Other, 3),
            ]
            .into(),
            exits_to_employment: 4,
            exits_to_throughput: 6,
            share_to_employment_percent: Some(44),
            share_to_throughput_percent: Some(67),
            median_days_to_first_placement: Some(14),
            median_days_to_exit: None,
            by_municipality: [("2084".to_owned(), 15), (NOT_RECORDED.to_owned(), 3)].into(),
            by_referrer: [("af".to_owned(), 18)].into(),
            by_gender: [(Gender::Woman, 10), (Gender::Man, 8)].into(),
            by_support_at_start: [("forsorjningsstod".to_owned(), 18)].into(),
            by_site: [("industrisparet".to_owned(), 6)].into(),
            by_work_area: BTreeMap::new(),
            funnel: Funnel { intakes: 11, with_placement: 9, with_training: 4, exited: 3, exited_to_employment: 1 },
            months: (1..=12)
                .map(|m| MonthRow { month: format!("2025-{m:02}"), intakes: m % 3, exits: 1, active_at_end: 8 + m % 4 })
                .collect(),
            goal: goal(18, 21, "2025-06-30"),
        }
    }

    #[test]
    fn bars_are_proportional_in_eighths() {
        assert_eq!(bar(0, 10, 8), "");
        assert_eq!(bar(10, 10, 8), "████████");
        assert_eq!(bar(5, 10, 8), "████");
        assert_eq!(bar(1, 16, 8), "▌");
        assert_eq!(bar(3, 0, 8), "");
    }

    #[test]
    fn periods_must_match_their_flag() {
        let args = |y: Option<&str>, q: Option<&str>, m: Option<&str>| ThroughputArgs {
            year: y.map(Into::into),
            quarter: q.map(Into::into),
            month: m.map(Into::into),
            today: None,
        };
        assert_eq!(period(&args(Some("2025"), None, None)).unwrap(), "2025");
        assert_eq!(period(&args(None, Some("2025-Q2"), None)).unwrap(), "2025-Q2");
        assert_eq!(period(&args(None, None, Some("2025-03"))).unwrap(), "2025-03");
        // Wrong shapes and impossible values (quarter 5, month 13) are refused here.
        for bad in [
            args(Some("2025-03"), None, None),
            args(None, Some("2025-03"), None),
            args(None, None, Some("2025-Q1")),
            args(None, Some("2025-Q5"), None),
            args(None, None, Some("2025-13")),
        ] {
            assert_eq!(period(&bad).unwrap_err().exit_code(), crate::error::exit_code::INVALID);
        }
    }

    #[test]
    fn throughput_text_has_the_goal_names_and_months() {
        let text = throughput_text(
            &throughput_report(),
            &Basis::ReadModel { checkpoint: 412, generation: 2 },
            &Catalogue::default_catalogue(),
        );
        assert!(text.contains("Mål: minst 20 personer per år — hittills 18, prognos 21 (på väg)"), "{text}");
        assert!(text.contains("Perioden pågår"), "{text}");
        assert!(text.contains("händelse 412"), "{text}");
        assert!(
            text.contains("Ludvika") && text.contains("Arbetsförmedlingen") && text.contains("Industrispåret"),
            "{text}"
        );
        assert!(text.contains("ej registrerat (anonyma)"), "{text}");
        assert!(
            text.contains("förvärvsarbete") && text.contains("aktivt arbetssökande") && text.contains("övriga"),
            "{text}"
        );
        assert!(text.contains("44 %") && text.contains("67 %"), "{text}");
        assert!(text.contains("juni") && text.contains('█'), "{text}");
        // July onwards has not happened on 30 June.
        let july = text.lines().find(|l| l.trim_start().starts_with("juli")).unwrap();
        assert!(!july.contains('█'), "{july}");
    }

    #[test]
    fn a_finished_year_says_whether_the_goal_was_reached() {
        let mut g = goal(23, 23, "2024-12-31");
        g.year = 2024;
        assert_eq!(goal_line(&g), "Mål: minst 20 personer per år — 2024: 23 personer (målet nått)");
        let short = goal(12, 15, "2025-06-30");
        assert!(goal_line(&short).ends_with("prognos 15 (inte på väg)"));
    }

    fn steering_report() -> SteeringReport {
        SteeringReport {
            as_of: date("2025-06-30"),
            previous_meeting: Some(date("2025-03-31")),
            goal: goal(18, 21, "2025-06-30"),
            active_participants: 9,
            active_per_site: [("industrisparet".to_owned(), 4), ("vaderbacken".to_owned(), 2)].into(),
            since_previous: Changes {
                intakes: 3,
                exits: 2,
                exits_by_sus_group: [(SusOutcomeGroup::Employment, 2)].into(),
                ..Changes::default()
            },
            alerts: Alerts {
                intake_without_placement: AlertGroup { count: 1, cases: vec![CaseId::new()] },
                ..Alerts::default()
            },
        }
    }

    #[test]
    fn the_steering_report_renders_protected_counts_only_in_every_format() {
        let exact = steering_report();
        let case = exact.alerts.intake_without_placement.cases[0].to_string();
        let r = stod_projections::protect_steering(&exact, 5);
        let cat = Catalogue::default_catalogue();
        let basis = &Basis::ReadModel { checkpoint: 99, generation: 1 };
        for format in [ReportFormat::Text, ReportFormat::Md, ReportFormat::Html] {
            let doc = steering(&r, basis, &cat, format, "2025-07-01 09:00");
            assert!(doc.contains("30 juni 2025"), "{doc}");
            assert!(doc.contains("hittills 18, prognos 21 (på väg)"), "{doc}");
            assert!(doc.contains("Våderbacken"), "{doc}");
            assert!(doc.contains("2025-07-01 09:00"), "{doc}");
            assert!(doc.contains("Antal under 5 visas som"), "the reader is told about protection: {doc}");
            assert!(!doc.contains(&case), "no case ids: {doc}");
        }
        let text = steering(&r, basis, &cat, ReportFormat::Text, "x");
        // 2 on Våderbacken and 3 intakes since the last meeting are below 5.
        assert!(text.lines().any(|l| l.contains("Våderbacken") && l.trim_end().ends_with("<5")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("  Inskrivningar") && l.trim_end().ends_with("<5")), "{text}");
        let html = steering(&r, basis, &cat, ReportFormat::Html, "x");
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<td class=\"num\">18</td>"), "{html}");
        assert!(html.contains("<svg"), "the HTML form has charts: {html}");
        assert!(
            !html.contains("<script") && !html.contains("<link") && !html.contains("src="),
            "self-contained: {html}"
        );
        let md = steering(&r, basis, &cat, ReportFormat::Md, "x");
        assert!(md.starts_with("# Styrgruppsrapport 30 juni 2025") && md.contains("|---|---:|"), "{md}");

        let json = serde_json::json!({"status": "ok", "report": serde_json::to_value(&exact).unwrap()});
        let cleaned = without_case_ids(json);
        assert!(!cleaned.to_string().contains(&case));
        assert_eq!(cleaned["report"]["alerts"]["intake_without_placement"]["count"], 1);
    }

    #[test]
    fn history_links_corrections_both_ways_in_local_time() {
        let case = CaseId::new();
        let entry = |seq: u64, kind: &str, corrects: Option<EventId>| AuditEntry {
            stream_sequence: seq,
            event_id: EventId::new(),
            case_id: case,
            event_type: kind.into(),
            occurred_on: date("2025-03-14"),
            recorded_at: Timestamp::from_micros(1_741_950_000_000_000).unwrap(),
            recorded_by: UserId::parse("anna").unwrap(),
            corrects,
            reason: corrects.map(|_| CorrectionReason::WrongDate),
            chain_hash: "ab".repeat(32),
            changed_by: Vec::new(),
        };
        let intake = entry(3, "enrolled", None);
        let mut placement = entry(7, "placement_started", None);
        let fix = entry(12, "corrected", Some(placement.event_id));
        placement.changed_by.push(fix.event_id);
        let text = history_text(case, &[intake, placement, fix], &Basis::ReadModel { checkpoint: 12, generation: 1 });
        assert!(text.contains("Inskrivning") && text.contains("Rättelse (fel datum)"), "{text}");
        assert!(text.contains("rättas av 12 (Rättelse)") && text.contains("rättar 7 (Praktik påbörjad)"), "{text}");
        assert!(text.contains("2025-03-14 12:00:00  anna"), "{text}");
    }
}
