//! The throughput report (*genomströmning*) as people read it: the exact report for
//! case-level roles in the terminal, the few lines `stod up --demo` shows, and the
//! dashboard's sections of the published (protected) report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped};
use stod_events::event::ExitOutcome;
use stod_events::ids::Date;
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::disclosure::Cell;
use stod_projections::published::PublishedGoal;
use stod_projections::throughput::{Goal, NOT_RECORDED};
use stod_projections::{PublishedThroughput, ThroughputReport};

use crate::steering::{cell_of, goal_line as goal_line_published, sus_key};
use crate::sv::{sus_group_label, Term, SUS_GROUPS};
use crate::{charts, key_name, period_title, Basis};

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
    goal_line_published(&exact)
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
        let name = start.map_or(m.month.as_str(), |d| crate::MONTHS[chrono::Datelike::month0(&d.naive()) as usize]);
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

/// The dashboard's throughput, from the published (protected) report: the goal with
/// its figures and chart, intakes and exits per month, the funnel, and outcomes by SUS
/// group.
pub fn dashboard_sections(t: &PublishedThroughput) -> Markup {
    html! {
        (goal_section(t))
        (months_section(t))
        (funnel_section(t))
        (outcomes_section(t))
    }
}

fn figure(id: &str, value: impl std::fmt::Display, label: &str) -> Markup {
    html! { div.figure id=(id) { div.value { (value) } div.label { (label) } } }
}

fn goal_section(t: &PublishedThroughput) -> Markup {
    let g = &t.goal;
    html! {
        section #goal {
            h2 { "Mål " (g.year) ": minst " (g.target) " personer" }
            p class={ "goal " (if g.on_track { "verdict-ok" } else { "verdict-no" }) } { (goal_line_published(g)) }
            div.figures {
                (figure("goal-persons", g.persons_so_far, &format!("personer {} t.o.m. {}", g.year, g.as_of)))
                (figure("goal-forecast", g.forecast, "prognos för helåret"))
                (figure("goal-target", g.target, "mål"))
                (figure("active", t.active_at_end, "aktiva just nu"))
            }
            figure.chart #chart-goal { (PreEscaped(charts::goal(g))) }
        }
    }
}

fn months_section(t: &PublishedThroughput) -> Markup {
    html! {
        section #months {
            h2 { "Inskrivningar och avslut per månad" }
            figure.chart #chart-months { (PreEscaped(charts::months("Inskrivningar och avslut", &t.months))) }
            table {
                thead { tr { th { "Månad" } th { "Inskrivningar" } th { "Avslut" } th { "Aktiva vid månadens slut" } } }
                tbody {
                    @for m in &t.months {
                        tr { td { (period_title(&m.month)) } td.num { (m.intakes) } td.num { (m.exits) } td.num { (m.active_at_end) } }
                    }
                    tr.total { td { "Hela perioden" } td.num { (t.intakes) } td.num { (t.exits) } td {} }
                }
            }
        }
    }
}

fn funnel_section(t: &PublishedThroughput) -> Markup {
    let f = &t.funnel;
    let items: Vec<(String, Cell)> = vec![
        ("Inskrivna".into(), f.intakes),
        ("med praktik".into(), f.with_placement),
        ("med utbildning".into(), f.with_training),
        ("avslutade".into(), f.exited),
        ("till arbete".into(), f.exited_to_employment),
    ];
    bars_section(
        "funnel",
        "Från inskrivning till avslut",
        "De som skrevs in under perioden, och hur långt de har kommit.",
        &items,
    )
}

fn outcomes_section(t: &PublishedThroughput) -> Markup {
    let items: Vec<(String, Cell)> = SUS_GROUPS
        .iter()
        .map(|g| (sus_group_label(*g).to_owned(), cell_of(&t.exits_by_sus_group, &sus_key(*g))))
        .collect();
    let mut intro = format!("Avslut under perioden: {}.", t.exits);
    if let (Some(a), Some(b)) = (t.share_to_employment_percent, t.share_to_throughput_percent) {
        let _ = write!(intro, " Till arbete {a} %; till arbete, studier eller närmare arbetsmarknaden {b} %.");
    }
    bars_section("outcomes", "Avslut per SUS-grupp", &intro, &items)
}

fn bars_section(id: &str, heading: &str, intro: &str, items: &[(String, Cell)]) -> Markup {
    html! {
        section id=(id) {
            h2 { (heading) }
            p.intro { (intro) }
            figure.chart id={ "chart-" (id) } { (PreEscaped(charts::bars(heading, items))) }
            table { @for (label, n) in items { tr { td { (label) } td.num { (n) } } } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_events::event::{Gender, SusOutcomeGroup};
    use stod_projections::throughput::{Funnel, MonthRow};

    use crate::fixtures::goal;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
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
}
