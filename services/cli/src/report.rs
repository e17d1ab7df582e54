//! The read models' reports as people read them: throughput, the steering group's
//! status (text, Markdown, HTML) and a case's audit trail.
//!
//! Pure functions over the projector's reports and a [`Catalogue`] for names, so the
//! layout is tested without a server. Everything here is Swedish.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::Datelike;
use stod_events::event::ExitOutcome;
use stod_events::ids::{CaseId, Code, Date, EventId};
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::steering::{INTAKE_WITHOUT_PLACEMENT_DAYS, LONG_STAY_DAYS, OPEN_PLACEMENT_DAYS};
use stod_projections::throughput::{Goal, NOT_RECORDED};
use stod_projections::{AuditEntry, SteeringReport, ThroughputReport};

use crate::args::{ReportFormat, ThroughputArgs};
use crate::error::CliError;
use crate::show::local_time;
use crate::sv::{event_type_label, sus_group_label, Term, SUS_GROUPS};

/// What a report was computed from, for the reader who wants to know how fresh it is.
#[derive(Clone, Debug)]
pub enum Basis {
    /// The read models answered.
    ReadModel {
        /// The last event of the log the figures include.
        checkpoint: u64,
        /// The read models' generation that answered.
        generation: u64,
    },
    /// `audit replay` rebuilt the figures from the log as it stood at a moment; the
    /// text says which moment and which events.
    Replay(String),
}

impl Basis {
    fn sentence(&self) -> String {
        match self {
            Basis::ReadModel { checkpoint, generation } => format!(
                "Underlag: händelseloggen t.o.m. händelse {checkpoint} (läsmodell, generation {generation})."
            ),
            Basis::Replay(what) => format!("Underlag: {what}"),
        }
    }
}

/// The period of `report throughput`, as the projector reads it. The projector checks
/// the values; this checks that the flag and the shape agree, so `--year 2025-03` is not
/// silently a month.
pub fn period(args: &ThroughputArgs) -> Result<String, CliError> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (value, ok, example) = if let Some(y) = &args.year {
        (y.trim(), digits(y.trim(), 4), "--year 2025")
    } else if let Some(q) = &args.quarter {
        let ok = q.trim().split_once(['-']).is_some_and(|(y, q)| digits(y, 4) && (q.starts_with('Q') || q.starts_with('q')) && digits(&q[1..], 1));
        (q.trim(), ok, "--quarter 2025-Q2")
    } else if let Some(m) = &args.month {
        let ok = m.trim().split_once('-').is_some_and(|(y, m)| digits(y, 4) && (1..=2).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()));
        (m.trim(), ok, "--month 2025-03")
    } else {
        return Err(CliError::Usage("ange en period: --year, --quarter eller --month".into()));
    };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(CliError::Invalid(format!("{value:?} passar inte flaggan: skriv t.ex. {example}")))
    }
}

const MONTHS: [&str; 12] = [
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november",
    "december",
];

/// "30 juni 2025".
pub fn long_date(date: Date) -> String {
    let d = date.naive();
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// "år 2025", "kvartal 2 2025", "mars 2025" from the report's period token.
fn period_title(period: &str) -> String {
    if let Some((y, q)) = period.split_once("-Q") {
        return format!("kvartal {q} {y}");
    }
    if let Some((y, m)) = period.split_once('-') {
        if let Some(name) = m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))) {
            return format!("{name} {y}");
        }
    }
    format!("år {period}")
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

/// The display name of a breakdown key (a code, or the key for "not recorded").
fn key_name(cat: &Catalogue, kind: CodeKind, key: &str) -> String {
    if key == NOT_RECORDED {
        return "ej registrerat (anonyma)".to_owned();
    }
    match Code::parse(key) {
        Ok(code) => cat.name(kind, &code).to_owned(),
        Err(_) => key.to_owned(),
    }
}

/// Rows of a breakdown, largest first, "not recorded" last.
fn breakdown(cat: &Catalogue, kind: CodeKind, counts: &BTreeMap<String, u32>) -> Vec<(String, u32)> {
    let mut rows: Vec<(bool, String, u32)> =
        counts.iter().map(|(k, n)| (k == NOT_RECORDED, key_name(cat, kind, k), *n)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|(_, name, n)| (name, n)).collect()
}

/// The goal in one line, as every report starts.
pub fn goal_line(goal: &Goal) -> String {
    let year_over = goal.as_of.naive().month() == 12 && goal.as_of.naive().day() == 31;
    if year_over {
        let verdict = if goal.persons_so_far >= goal.target { "målet nått" } else { "målet inte nått" };
        format!("Mål: minst {} personer per år — {}: {} personer ({verdict})", goal.target, goal.year, goal.persons_so_far)
    } else {
        let verdict = if goal.on_track { "på väg" } else { "inte på väg" };
        format!(
            "Mål: minst {} personer per år — hittills {}, prognos {} ({verdict})",
            goal.target, goal.persons_so_far, goal.forecast
        )
    }
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
            .map(|g| (sus_group_label(*g).to_owned(), count_share(r.exits_by_sus_group.get(g).copied().unwrap_or(0), r.exits)))
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
        let name = start.map_or(m.month.as_str(), |d| MONTHS[d.naive().month0() as usize]);
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

/// The steering group's report as a document: sections of labelled counts, rendered
/// the same way to text, Markdown and HTML so the three never disagree.
struct Doc {
    title: String,
    lead: Vec<String>,
    sections: Vec<Section>,
    footer: Vec<String>,
}

struct Section {
    heading: String,
    intro: Option<String>,
    rows: Vec<Row>,
}

struct Row {
    label: String,
    value: String,
    /// A part of the row above (shown indented).
    sub: bool,
}

fn row(label: impl Into<String>, value: impl ToString) -> Row {
    Row { label: label.into(), value: value.to_string(), sub: false }
}

fn sub(label: impl Into<String>, value: impl ToString) -> Row {
    Row { label: label.into(), value: value.to_string(), sub: true }
}

fn steering_doc(r: &SteeringReport, basis: &Basis, cat: &Catalogue, printed: &str) -> Doc {
    let g = &r.goal;
    let goal = Section {
        heading: format!("Mål {}", g.year),
        intro: Some(goal_line(g)),
        rows: vec![
            row(format!("Personer i verksamheten {} t.o.m. {}", g.year, g.as_of), g.persons_so_far),
            sub("inskrivna före 1 januari", g.carried_in),
            sub("nya inskrivningar", g.intakes_so_far),
            row("Prognos för helåret, i nuvarande takt", g.forecast),
            row("Mål", g.target),
        ],
    };

    let c = &r.since_previous;
    let (heading, intro) = match r.previous_meeting {
        Some(p) => (
            format!("Sedan förra mötet ({})", long_date(p)),
            format!("Händelser med datum efter {p} t.o.m. {}.", r.as_of),
        ),
        None => ("Sedan start".to_owned(), format!("Inget tidigare möte angivet: allt t.o.m. {}.", r.as_of)),
    };
    let mut change_rows = vec![row("Inskrivningar", c.intakes), row("Avslut", c.exits)];
    for group in SUS_GROUPS {
        change_rows.push(sub(format!("till {}", sus_group_label(group)), c.exits_by_sus_group.get(&group).copied().unwrap_or(0)));
    }
    change_rows.extend([
        row("Praktiker påbörjade", c.placements_started),
        row("Praktiker avslutade", c.placements_ended),
        row("Utbildningar genomförda", c.trainings_completed),
        row("Bedömningar av stegförflyttning", c.assessments),
    ]);
    let changes = Section { heading, intro: Some(intro), rows: change_rows };

    let mut sites: Vec<(String, u32)> = breakdown(cat, CodeKind::Site, &r.active_per_site);
    sites.retain(|(_, n)| *n > 0);
    let mut active_rows = vec![row("Aktiva deltagare", r.active_participants)];
    active_rows.extend(sites.into_iter().map(|(name, n)| sub(format!("i praktik på {name}"), n)));
    let active = Section {
        heading: format!("Aktiva deltagare per {}", long_date(r.as_of)),
        intro: Some(
            "Per arbetsplats: deltagare med pågående praktik där (två samtidiga praktiker räknas på båda). \
             Övriga aktiva har ingen pågående praktik."
                .into(),
        ),
        rows: active_rows,
    };

    let a = &r.alerts;
    let alerts = Section {
        heading: "Att uppmärksamma".into(),
        intro: Some(format!("Antal öppna ärenden per {}.", r.as_of)),
        rows: vec![
            row(
                format!("Inskrivna för minst {INTAKE_WITHOUT_PLACEMENT_DAYS} dagar sedan utan praktik"),
                a.intake_without_placement.count,
            ),
            row(format!("I verksamheten mer än 12 månader ({LONG_STAY_DAYS} dagar)"), a.stays_over_12_months.count),
            row(
                format!("Praktik som pågått mer än 6 månader ({OPEN_PLACEMENT_DAYS} dagar) utan avslut"),
                a.open_placements_without_end.count,
            ),
        ],
    };

    Doc {
        title: format!("Styrgruppsrapport {}", long_date(r.as_of)),
        lead: vec![
            "Stödplattformen, arbetsträning i Ludvika och Smedjebacken.".into(),
            format!(
                "Läget per {}{}.",
                r.as_of,
                r.previous_meeting.map(|p| format!(", förändringar sedan mötet {p}")).unwrap_or_default()
            ),
        ],
        sections: vec![goal, changes, active, alerts],
        footer: vec![
            "Endast antal: rapporten innehåller inga uppgifter om enskilda deltagare eller ärenden.".into(),
            basis.sentence(),
            format!("Utskriven {printed} ur stod."),
        ],
    }
}

/// The steering group's report in the chosen format. `printed` is the local time it
/// is made, so a printed copy says how current it is.
pub fn steering(r: &SteeringReport, basis: &Basis, cat: &Catalogue, format: ReportFormat, printed: &str) -> String {
    let doc = steering_doc(r, basis, cat, printed);
    match format {
        ReportFormat::Text => doc_text(&doc),
        ReportFormat::Md => doc_markdown(&doc),
        ReportFormat::Html => doc_html(&doc),
    }
}

fn doc_text(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", doc.title);
    let _ = writeln!(out, "{}", "=".repeat(doc.title.chars().count()));
    for l in &doc.lead {
        let _ = writeln!(out, "{l}");
    }
    let width = doc
        .sections
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| r.label.chars().count() + if r.sub { 2 } else { 0 }))
        .max()
        .unwrap_or(0);
    for s in &doc.sections {
        let _ = writeln!(out, "\n{}", s.heading);
        if let Some(intro) = &s.intro {
            for line in wrap(intro, TEXT_WIDTH) {
                let _ = writeln!(out, "  {line}");
            }
        }
        for r in &s.rows {
            let label = if r.sub { format!("  {}", r.label) } else { r.label.clone() };
            let _ = writeln!(out, "  {label:<width$}  {:>4}", r.value);
        }
    }
    let _ = writeln!(out);
    for l in &doc.footer {
        let _ = writeln!(out, "{l}");
    }
    out
}

/// Where the text form wraps its sentences.
const TEXT_WIDTH: usize = 76;

/// Splits a sentence into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn doc_markdown(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", doc.title);
    for l in &doc.lead {
        let _ = writeln!(out, "{l}  ");
    }
    for s in &doc.sections {
        let _ = writeln!(out, "\n## {}\n", s.heading);
        if let Some(intro) = &s.intro {
            let _ = writeln!(out, "{intro}\n");
        }
        let _ = writeln!(out, "| | Antal |\n|---|---:|");
        for r in &s.rows {
            let label = if r.sub { format!("&emsp;{}", md_escape(&r.label)) } else { md_escape(&r.label) };
            let _ = writeln!(out, "| {label} | {} |", r.value);
        }
    }
    let _ = writeln!(out, "\n---\n");
    for l in &doc.footer {
        let _ = writeln!(out, "*{l}*  ");
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One self-contained page: inline styles, no scripts, fonts or images from elsewhere,
/// laid out for A4 when printed.
const HTML_STYLE: &str = "\
@page { size: A4; margin: 20mm 18mm; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; color: #1a1a1a; max-width: 46em; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #bbb; padding-bottom: 0.15em; }
p.lead { margin: 0.1em 0; color: #333; }
p.intro { margin: 0.2em 0 0.5em; color: #444; font-size: 0.95em; }
p.goal { font-size: 1.1em; font-weight: 600; margin: 0.4em 0; }
table { border-collapse: collapse; width: 100%; }
td { padding: 0.25em 0.4em; border-bottom: 1px solid #eee; vertical-align: top; }
td.num { text-align: right; width: 5em; font-variant-numeric: tabular-nums; }
tr.sub td:first-child { padding-left: 1.8em; color: #444; }
footer { margin-top: 2.5em; font-size: 0.85em; color: #555; border-top: 1px solid #bbb; padding-top: 0.5em; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } table { break-inside: avoid; } }";

fn doc_html(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!DOCTYPE html>\n<html lang=\"sv\">\n<head>\n<meta charset=\"utf-8\">");
    let _ = writeln!(out, "<title>{}</title>\n<style>\n{HTML_STYLE}\n</style>\n</head>\n<body>", html_escape(&doc.title));
    let _ = writeln!(out, "<h1>{}</h1>", html_escape(&doc.title));
    for l in &doc.lead {
        let _ = writeln!(out, "<p class=\"lead\">{}</p>", html_escape(l));
    }
    for (i, s) in doc.sections.iter().enumerate() {
        let _ = writeln!(out, "<section>\n<h2>{}</h2>", html_escape(&s.heading));
        if let Some(intro) = &s.intro {
            // The goal's one-line verdict is the report's headline.
            let class = if i == 0 { "goal" } else { "intro" };
            let _ = writeln!(out, "<p class=\"{class}\">{}</p>", html_escape(intro));
        }
        let _ = writeln!(out, "<table>");
        for r in &s.rows {
            let class = if r.sub { " class=\"sub\"" } else { "" };
            let _ = writeln!(out, "<tr{class}><td>{}</td><td class=\"num\">{}</td></tr>", html_escape(&r.label), html_escape(&r.value));
        }
        let _ = writeln!(out, "</table>\n</section>");
    }
    let _ = writeln!(out, "<footer>");
    for l in &doc.footer {
        let _ = writeln!(out, "<p>{}</p>", html_escape(l));
    }
    let _ = writeln!(out, "</footer>\n</body>\n</html>");
    out
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
            exits_by_outcome: [(ExitOutcome::EmploymentUnsubsidised, 4), (ExitOutcome::Studies, 2), (ExitOutcome::Health, 3)].into(),
            exits_by_sus_group: [(SusOutcomeGroup::Employment, 4), (SusOutcomeGroup::Studies, 2), (SusOutcomeGroup::Other, 3)].into(),
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
    fn sentences_wrap_at_spaces() {
        assert_eq!(wrap("ett två tre fyra", 8), ["ett två", "tre fyra"]);
        assert_eq!(wrap("", 8), [""]);
        assert_eq!(wrap("ordlängreänbredden x", 5), ["ordlängreänbredden", "x"]);
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
        // Values the projector judges (quarter 5, month 13) pass; wrong shapes do not.
        assert!(period(&args(None, Some("2025-Q5"), None)).is_ok());
        for bad in [args(Some("2025-03"), None, None), args(None, Some("2025-03"), None), args(None, None, Some("2025-Q1"))] {
            assert_eq!(period(&bad).unwrap_err().exit_code(), crate::error::exit_code::INVALID);
        }
    }

    #[test]
    fn throughput_text_has_the_goal_names_and_months() {
        let text = throughput_text(&throughput_report(), &Basis::ReadModel { checkpoint: 412, generation: 2 }, &Catalogue::default_catalogue());
        assert!(text.contains("Mål: minst 20 personer per år — hittills 18, prognos 21 (på väg)"), "{text}");
        assert!(text.contains("Perioden pågår"), "{text}");
        assert!(text.contains("händelse 412"), "{text}");
        assert!(text.contains("Ludvika") && text.contains("Arbetsförmedlingen") && text.contains("Industrispåret"), "{text}");
        assert!(text.contains("ej registrerat (anonyma)"), "{text}");
        assert!(text.contains("förvärvsarbete") && text.contains("aktivt arbetssökande") && text.contains("övriga"), "{text}");
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
            since_previous: Changes { intakes: 3, exits: 2, ..Changes::default() },
            alerts: Alerts {
                intake_without_placement: AlertGroup { count: 1, cases: vec![CaseId::new()] },
                ..Alerts::default()
            },
        }
    }

    #[test]
    fn the_steering_report_renders_counts_only_in_every_format() {
        let r = steering_report();
        let cat = Catalogue::default_catalogue();
        let basis = &Basis::ReadModel { checkpoint: 99, generation: 1 };
        let case = r.alerts.intake_without_placement.cases[0].to_string();
        for format in [ReportFormat::Text, ReportFormat::Md, ReportFormat::Html] {
            let doc = steering(&r, basis, &cat, format, "2025-07-01 09:00");
            assert!(doc.contains("30 juni 2025"), "{doc}");
            assert!(doc.contains("hittills 18, prognos 21 (på väg)"), "{doc}");
            assert!(doc.contains("Våderbacken"), "{doc}");
            assert!(doc.contains("2025-07-01 09:00"), "{doc}");
            assert!(!doc.contains(&case), "no case ids: {doc}");
        }
        let html = steering(&r, basis, &cat, ReportFormat::Html, "x");
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<td class=\"num\">18</td>"), "{html}");
        assert!(!html.contains("http") && !html.contains("<script") && !html.contains("<link"), "self-contained: {html}");
        let md = steering(&r, basis, &cat, ReportFormat::Md, "x");
        assert!(md.starts_with("# Styrgruppsrapport 30 juni 2025") && md.contains("|---|---:|"), "{md}");

        let json = serde_json::json!({"status": "ok", "report": serde_json::to_value(&r).unwrap()});
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
