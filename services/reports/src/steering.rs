//! The steering group's status report (*styrgruppsrapport*) as of a meeting date.

use chrono::Datelike;
use stod_events::event::SusOutcomeGroup;
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::disclosure::{Breakdown, Cell};
use stod_projections::published::{PublishedGoal, PublishedSteering};
use stod_projections::steering::{INTAKE_WITHOUT_PLACEMENT_DAYS, LONG_STAY_DAYS, OPEN_PLACEMENT_DAYS};

use crate::doc::{render, row, sub, Doc, Format, Section};
use crate::sv::{sus_group_label, SUS_GROUPS};
use crate::{charts, key_name, long_date, protection_note, Basis};

/// The goal in one line, as every report starts.
pub fn goal_line(goal: &PublishedGoal) -> String {
    let year_over = goal.as_of.naive().month() == 12 && goal.as_of.naive().day() == 31;
    if year_over {
        let verdict = match goal.persons_so_far.value() {
            Some(n) if n >= goal.target => "målet nått",
            _ => "målet inte nått",
        };
        format!(
            "Mål: minst {} personer per år — {}: {} personer ({verdict})",
            goal.target, goal.year, goal.persons_so_far
        )
    } else {
        let verdict = if goal.on_track { "på väg" } else { "inte på väg" };
        format!(
            "Mål: minst {} personer per år — hittills {}, prognos {} ({verdict})",
            goal.target, goal.persons_so_far, goal.forecast
        )
    }
}

/// A row of an additive breakdown by its key, or 0 when the key has no row.
pub fn cell_of(b: &Breakdown, key: &str) -> Cell {
    b.rows.iter().find(|r| r.key == key).map_or(Cell::Shown(0), |r| r.count)
}

/// The serde key of a SUS group (how published breakdowns name it).
pub fn sus_key(group: SusOutcomeGroup) -> String {
    serde_json::to_value(group).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The report as a document; `with_charts` adds SVG charts for HTML.
pub fn steering_doc(r: &PublishedSteering, basis: &Basis, cat: &Catalogue, printed: &str, with_charts: bool) -> Doc {
    let mut sections = vec![goal_section(&r.goal, with_charts)];
    sections.extend(status_sections(r, cat, with_charts));
    Doc {
        title: format!("Styrgruppsrapport {}", long_date(r.as_of)),
        links: Vec::new(),
        lead: vec![
            "Stödplattformen, arbetsträning i Ludvika och Smedjebacken.".into(),
            format!(
                "Läget per {}{}.",
                r.as_of,
                r.previous_meeting.map(|p| format!(", förändringar sedan mötet {p}")).unwrap_or_default()
            ),
        ],
        sections,
        footer: vec![
            "Endast antal: rapporten innehåller inga uppgifter om enskilda deltagare eller ärenden.".into(),
            protection_note(r.min_count),
            basis.sentence(),
            format!("Utskriven {printed} ur stod."),
        ],
    }
}

/// The goal: persons so far, the forecast and the target.
fn goal_section(g: &PublishedGoal, with_charts: bool) -> Section {
    let mut goal = Section::rows(
        format!("Mål {}", g.year),
        Some(goal_line(g)),
        vec![
            row(format!("Personer i verksamheten {} t.o.m. {}", g.year, g.as_of), g.persons_so_far),
            sub("inskrivna före 1 januari", g.carried_in),
            sub("nya inskrivningar", g.intakes_so_far),
            row("Prognos för helåret, i nuvarande takt", g.forecast),
            row("Mål", g.target),
        ],
    );
    goal.headline = true;
    if with_charts {
        goal = goal.with_chart(charts::goal(g));
    }
    goal
}

/// The status after the goal: what changed since the previous meeting, who is active
/// where, and what needs attention. The dashboard shows these beside its own goal.
pub fn status_sections(r: &PublishedSteering, cat: &Catalogue, with_charts: bool) -> Vec<Section> {
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
        change_rows
            .push(sub(format!("till {}", sus_group_label(group)), cell_of(&c.exits_by_sus_group, &sus_key(group))));
    }
    change_rows.extend([
        row("Praktiker påbörjade", c.placements_started),
        row("Praktiker avslutade", c.placements_ended),
        row("Utbildningar genomförda", c.trainings_completed),
        row("Bedömningar av stegförflyttning", c.assessments),
    ]);
    let changes = Section::rows(heading, Some(intro), change_rows);

    let mut sites: Vec<(String, Cell)> = r
        .active_per_site
        .rows
        .iter()
        .filter(|row| row.count != Cell::Shown(0))
        .map(|row| (key_name(cat, CodeKind::Site, &row.key), row.count))
        .collect();
    sites.sort_by(|a, b| b.1.value().unwrap_or(0).cmp(&a.1.value().unwrap_or(0)).then(a.0.cmp(&b.0)));
    let mut active_rows = vec![row("Aktiva deltagare", r.active_participants)];
    active_rows.extend(sites.iter().map(|(name, n)| sub(format!("i praktik på {name}"), n)));
    let mut active = Section::rows(
        format!("Aktiva deltagare per {}", long_date(r.as_of)),
        Some(
            "Per arbetsplats: deltagare med pågående praktik där (två samtidiga praktiker räknas på båda). \
             Övriga aktiva har ingen pågående praktik."
                .into(),
        ),
        active_rows,
    );
    if with_charts && !sites.is_empty() {
        active = active.with_chart(charts::bars("Deltagare i praktik per arbetsplats", &sites));
    }

    let a = &r.alerts;
    let alerts = Section::rows(
        "Att uppmärksamma",
        Some(format!("Antal öppna ärenden per {}.", r.as_of)),
        vec![
            row(
                format!("Inskrivna för minst {INTAKE_WITHOUT_PLACEMENT_DAYS} dagar sedan utan praktik"),
                a.intake_without_placement,
            ),
            row(format!("I verksamheten mer än 12 månader ({LONG_STAY_DAYS} dagar)"), a.stays_over_12_months),
            row(
                format!("Praktik som pågått mer än 6 månader ({OPEN_PLACEMENT_DAYS} dagar) utan avslut"),
                a.open_placements_without_end,
            ),
        ],
    );

    vec![changes, active, alerts]
}

/// The steering group's report in the chosen format. `printed` is the local time it
/// is made, so a printed copy says how current it is. HTML has charts.
pub fn steering(r: &PublishedSteering, basis: &Basis, cat: &Catalogue, format: Format, printed: &str) -> String {
    render(&steering_doc(r, basis, cat, printed, format == Format::Html), format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::steering_report;

    #[test]
    fn the_steering_report_renders_protected_counts_only_in_every_format() {
        let exact = steering_report();
        let case = exact.alerts.intake_without_placement.cases[0].to_string();
        let r = stod_projections::protect_steering(&exact, 5);
        let cat = Catalogue::default_catalogue();
        let basis = &Basis::ReadModel { checkpoint: 99, generation: 1 };
        for format in [Format::Text, Format::Md, Format::Html] {
            let doc = steering(&r, basis, &cat, format, "2025-07-01 09:00");
            assert!(doc.contains("30 juni 2025"), "{doc}");
            assert!(doc.contains("hittills 18, prognos 21 (på väg)"), "{doc}");
            assert!(doc.contains("Våderbacken"), "{doc}");
            assert!(doc.contains("2025-07-01 09:00"), "{doc}");
            assert!(doc.contains("Antal under 5 visas som"), "the reader is told about protection: {doc}");
            assert!(!doc.contains(&case), "no case ids: {doc}");
        }
        let text = steering(&r, basis, &cat, Format::Text, "x");
        // 2 on Våderbacken and 3 intakes since the last meeting are below 5.
        assert!(text.lines().any(|l| l.contains("Våderbacken") && l.trim_end().ends_with("<5")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("  Inskrivningar") && l.trim_end().ends_with("<5")), "{text}");
        let html = steering(&r, basis, &cat, Format::Html, "x");
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<td class=\"num\">18</td>"), "{html}");
        assert!(html.contains("<svg"), "the HTML form has charts: {html}");
        assert!(
            !html.contains("<script") && !html.contains("<link") && !html.contains("src="),
            "self-contained: {html}"
        );
        let md = steering(&r, basis, &cat, Format::Md, "x");
        assert!(md.starts_with("# Styrgruppsrapport 30 juni 2025") && md.contains("|---|---:|"), "{md}");
    }
}
