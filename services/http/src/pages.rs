//! The pages people look at: the dashboard and the printable reports. Plain HTML with
//! inline styles and server-drawn SVG charts; forms use GET, so everything works
//! without JavaScript and every view has an address that can be bookmarked or mailed.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use stod_projections::disclosure::Cell;
use stod_projections::{Period, PublishedSteering, PublishedThroughput};
use stod_reports::doc::{html_sections, HTML_STYLE};
use stod_reports::steering::{cell_of, goal_line, steering_doc, sus_key};
use stod_reports::sv::{sus_group_label, SUS_GROUPS};
use stod_reports::{charts, html_escape, long_date, protection_note, Basis, Format};

use crate::api::{fetch_funder, fetch_steering, fetch_throughput};
use crate::error::ApiError;
use stod_events::sweden::today;

use crate::params::Params;
use crate::AppState;

const DASHBOARD_STYLE: &str = "
body { max-width: 60em; }
nav { margin: 0 0 1em; font-size: 0.95em; }
nav a { margin-right: 1.2em; }
form.pick { background: #f4f6f8; padding: 0.6em 0.8em; border-radius: 6px; display: flex; flex-wrap: wrap; gap: 0.8em 1.4em; align-items: end; }
form.pick label { display: flex; flex-direction: column; font-size: 0.85em; color: #333; }
form.pick input { font-size: 1em; padding: 0.2em 0.3em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; margin: 0.8em 0; }
.figure { border: 1px solid #d6dbe0; border-radius: 6px; padding: 0.5em 0.9em; min-width: 9em; }
.figure .value { font-size: 2em; font-weight: 700; line-height: 1.1; }
.figure .label { font-size: 0.85em; color: #444; }
.verdict-ok { color: #2a6a3a; } .verdict-no { color: #a23b2a; }
";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"sv\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{HTML_STYLE}\n{DASHBOARD_STYLE}\n</style>\n</head>\n<body>\n\
         <nav><a href=\"/\">Översikt</a><a href=\"/styrgrupp\">Styrgruppsrapport</a><a href=\"/uppfoljning\">Uppföljning till Finsam</a>\
         <a href=\"/api/openapi.json\">API</a></nav>\n{body}\n</body>\n</html>\n",
        html_escape(title)
    ))
}

fn figure(id: &str, value: impl std::fmt::Display, label: &str) -> String {
    format!(
        "<div class=\"figure\" id=\"{id}\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
        html_escape(&value.to_string()),
        html_escape(label)
    )
}

/// `GET /?year=2026&as_of=2026-06-30&previous_meeting=2026-03-31`
pub async fn dashboard(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    match dashboard_page(&state, q).await {
        Ok(html) => html.into_response(),
        Err(e) => e.into_page(),
    }
}

async fn dashboard_page(state: &AppState, q: HashMap<String, String>) -> Result<Html<String>, ApiError> {
    let p = Params::read(q, &["year", "as_of", "previous_meeting"])?;
    let as_of = p.date("as_of")?.unwrap_or_else(today);
    let previous = p.date("previous_meeting")?;
    let period = match p.period("year")? {
        Some(year @ Period::Year(_)) => year,
        Some(other) => return Err(ApiError::bad(format!("year: {other} är inget år"), "ett år, t.ex. 2026")),
        None => Period::Year(as_of.year()),
    };
    // The figures of the year as known on the chosen date (or the year's end).
    let known_on = as_of.min(period.end());
    let (throughput, steering, cat) = tokio::join!(
        fetch_throughput(state, period, Some(known_on)),
        fetch_steering(state, as_of, previous),
        state.catalogue()
    );
    let (t, s) = (throughput?, steering?);
    let basis = Basis::ReadModel { checkpoint: t.checkpoint.min(s.checkpoint), generation: t.generation };

    let mut body = String::new();
    let _ = writeln!(body, "<h1>Stödplattformen: översikt {}</h1>", period.year());
    let _ = writeln!(
        body,
        "<p class=\"lead\">Arbetsträning i Ludvika och Smedjebacken. Siffrorna gäller t.o.m. {}; styrgruppens läge per {}.</p>",
        known_on,
        long_date(as_of)
    );
    let _ = writeln!(
        body,
        "<form class=\"pick\" method=\"get\" action=\"/\">\
         <label>År<input type=\"number\" name=\"year\" min=\"2000\" max=\"2200\" value=\"{}\"></label>\
         <label>Läget per<input type=\"date\" name=\"as_of\" value=\"{as_of}\"></label>\
         <label>Förra mötet<input type=\"date\" name=\"previous_meeting\" value=\"{}\"></label>\
         <button type=\"submit\">Visa</button></form>",
        period.year(),
        previous.map(|d| d.to_string()).unwrap_or_default()
    );
    body.push_str(&goal_section(&t.report));
    body.push_str(&months_section(&t.report));
    body.push_str(&funnel_section(&t.report));
    body.push_str(&outcomes_section(&t.report));
    body.push_str(&steering_sections(&s.report, &basis, &cat));
    let _ = writeln!(
        body,
        "<footer><p>{}</p><p>{}</p><p>Endast antal; inga uppgifter om enskilda deltagare. \
         <a href=\"/styrgrupp?as_of={as_of}{}\">Styrgruppsrapport för utskrift</a> · \
         <a href=\"/api/v1/funder.csv?period={}\">Uppföljning {} som CSV (Excel)</a></p><p>Hämtad {}.</p></footer>",
        html_escape(&protection_note(t.report.min_count)),
        html_escape(&basis.sentence()),
        previous.map(|d| format!("&amp;previous_meeting={d}")).unwrap_or_default(),
        period,
        period,
        stod_reports::printed_now()
    );
    Ok(page(&format!("Stödplattformen: översikt {}", period.year()), &body))
}

fn goal_section(t: &PublishedThroughput) -> String {
    let g = &t.goal;
    let verdict = if g.on_track { "verdict-ok" } else { "verdict-no" };
    let mut out = String::new();
    let _ = writeln!(out, "<section id=\"goal\">\n<h2>Mål {}: minst {} personer</h2>", g.year, g.target);
    let _ = writeln!(out, "<p class=\"goal {verdict}\">{}</p>", html_escape(&goal_line(g)));
    let _ = writeln!(
        out,
        "<div class=\"figures\">{}{}{}{}</div>",
        figure("goal-persons", g.persons_so_far, &format!("personer {} t.o.m. {}", g.year, g.as_of)),
        figure("goal-forecast", g.forecast, "prognos för helåret"),
        figure("goal-target", g.target, "mål"),
        figure("active", t.active_at_end, "aktiva just nu"),
    );
    let _ = writeln!(out, "<figure class=\"chart\" id=\"chart-goal\">{}</figure>\n</section>", charts::goal(g));
    out
}

fn months_section(t: &PublishedThroughput) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<section id=\"months\">\n<h2>Inskrivningar och avslut per månad</h2>");
    let _ = writeln!(
        out,
        "<figure class=\"chart\" id=\"chart-months\">{}</figure>",
        charts::months("Inskrivningar och avslut", &t.months)
    );
    let _ = writeln!(out, "<table><thead><tr><th>Månad</th><th>Inskrivningar</th><th>Avslut</th><th>Aktiva vid månadens slut</th></tr></thead><tbody>");
    for m in &t.months {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            html_escape(&stod_reports::period_title(&m.month)),
            html_escape(&m.intakes.to_string()),
            html_escape(&m.exits.to_string()),
            html_escape(&m.active_at_end.to_string())
        );
    }
    let _ = writeln!(
        out,
        "<tr class=\"total\"><td>Hela perioden</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td></td></tr></tbody></table>\n</section>",
        html_escape(&t.intakes.to_string()),
        html_escape(&t.exits.to_string())
    );
    out
}

fn funnel_section(t: &PublishedThroughput) -> String {
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

fn outcomes_section(t: &PublishedThroughput) -> String {
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

fn bars_section(id: &str, heading: &str, intro: &str, items: &[(String, Cell)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<section id=\"{id}\">\n<h2>{}</h2>\n<p class=\"intro\">{}</p>",
        html_escape(heading),
        html_escape(intro)
    );
    let _ =
        writeln!(out, "<figure class=\"chart\" id=\"chart-{id}\">{}</figure>\n<table>", charts::bars(heading, items));
    for (label, n) in items {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            html_escape(label),
            html_escape(&n.to_string())
        );
    }
    let _ = writeln!(out, "</table>\n</section>");
    out
}

/// The steering group's status (without its goal section, which the dashboard shows
/// already), with the per-site chart.
fn steering_sections(s: &PublishedSteering, basis: &Basis, cat: &stod_events::reference::Catalogue) -> String {
    let mut doc = steering_doc(s, basis, cat, &stod_reports::printed_now(), true);
    doc.sections.remove(0);
    format!(
        "<div id=\"steering\"><h2 class=\"part\">Styrgruppens läge per {}</h2>\n{}</div>",
        html_escape(&long_date(s.as_of)),
        html_sections(&doc)
    )
}

/// `GET /styrgrupp?as_of=2026-06-30&previous_meeting=2026-03-31`: the report to print.
pub async fn steering(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let p = Params::read(q, &["as_of", "previous_meeting"])?;
        let as_of = p.date("as_of")?.unwrap_or_else(today);
        let (s, cat) = tokio::join!(fetch_steering(&state, as_of, p.date("previous_meeting")?), state.catalogue());
        let s = s?;
        let basis = Basis::ReadModel { checkpoint: s.checkpoint, generation: s.generation };
        Ok::<_, ApiError>(Html(stod_reports::steering::steering(
            &s.report,
            &basis,
            &cat,
            Format::Html,
            &stod_reports::printed_now(),
        )))
    }
    .await;
    result.map_or_else(ApiError::into_page, IntoResponse::into_response)
}

/// `GET /uppfoljning?period=2026`: the funder's follow-up, with the CSV to download.
pub async fn funder(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let p = Params::read(q, &["period"])?;
        let period = p.period("period")?.unwrap_or(Period::Year(today().year()));
        let (f, cat) = tokio::join!(fetch_funder(&state, period), state.catalogue());
        let f = f?;
        let basis = Basis::ReadModel { checkpoint: f.checkpoint, generation: f.generation };
        let html = stod_reports::funder::funder(&f.report, &basis, &cat, Format::Html, &stod_reports::printed_now());
        let link = format!(
            "<p class=\"lead\"><a href=\"/api/v1/funder.csv?period={period}\">Ladda ner som CSV (Excel)</a> · \
             <a href=\"/api/v1/funder?period={period}\">JSON</a></p>"
        );
        Ok::<_, ApiError>(Html(html.replacen("</h1>", &format!("</h1>\n{link}"), 1)))
    }
    .await;
    result.map_or_else(ApiError::into_page, IntoResponse::into_response)
}
