//! The pages people look at: the dashboard and the printable reports. Plain HTML with
//! inline styles and server-drawn SVG charts, built with maud; forms use GET, so
//! everything works without JavaScript and every view has an address that can be
//! bookmarked or mailed. What the pages show is rendered by `stod-reports`, the same
//! renderers the command line's documents use.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use stod_events::ids::Date;
use stod_projections::{publication, Period};
use stod_reports::doc::{html_sections, render, Link};
use stod_reports::steering::status_sections;
use stod_reports::{long_date, printed_now, protection_note, Basis, Format};

use crate::api::{fetch_funder, fetch_steering, fetch_throughput, this_year};
use crate::error::ApiError;
use crate::layout::layout;
use crate::params::{published_today, Params};
use crate::AppState;

/// `GET /?year=2026&as_of=2026-06-30&previous_meeting=2026-03-31`
pub async fn dashboard(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    match dashboard_page(&state, q).await {
        Ok(html) => html.into_response(),
        Err(e) => e.into_page(),
    }
}

async fn dashboard_page(state: &AppState, q: HashMap<String, String>) -> Result<Html<String>, ApiError> {
    let p = Params::read(q, &["year", "as_of", "previous_meeting"])?;
    let as_of = p.published_date("as_of")?.unwrap_or_else(published_today);
    let previous = p.published_date("previous_meeting")?;
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
    let title = format!("Stödplattformen: översikt {}", period.year());
    let steering_link = match previous {
        Some(p) => format!("/styrgrupp?as_of={as_of}&previous_meeting={p}"),
        None => format!("/styrgrupp?as_of={as_of}"),
    };
    let body = html! {
        h1 { (title) }
        p.lead {
            "Arbetsträning i Ludvika och Smedjebacken. Siffrorna gäller t.o.m. " (known_on)
            "; styrgruppens läge per " (long_date(as_of)) "."
        }
        form.pick method="get" action="/" {
            label { "År" input type="number" name="year" min="2000" max="2200" value=(period.year()); }
            label {
                "Läget per"
                select name="as_of" {
                    @for day in month_ends(as_of) { option value=(day) selected[day == as_of] { (long_date(day)) } }
                }
            }
            label {
                "Förra mötet"
                select name="previous_meeting" {
                    option value="" selected[previous.is_none()] { "inget" }
                    @for day in month_ends(previous.unwrap_or(as_of)) {
                        option value=(day) selected[Some(day) == previous] { (long_date(day)) }
                    }
                }
            }
            button type="submit" { "Visa" }
        }
        (stod_reports::throughput::dashboard_sections(&t.report))
        // The steering group's status without its goal, which the dashboard shows above.
        div #steering {
            h2.part { "Styrgruppens läge per " (long_date(s.report.as_of)) }
            (html_sections(&status_sections(&s.report, &cat, true)))
        }
        footer {
            p { (protection_note(t.report.min_count)) }
            p { (basis.sentence()) }
            p {
                "Endast antal; inga uppgifter om enskilda deltagare. "
                a href=(steering_link) { "Styrgruppsrapport för utskrift" }
                " · "
                a href={ "/api/v1/funder.csv?period=" (period) } { "Uppföljning " (period) " som CSV (Excel)" }
            }
            p { "Hämtad " (printed_now()) "." }
        }
    };
    Ok(layout(&title, body))
}

/// `GET /styrgrupp?as_of=2026-06-30&previous_meeting=2026-03-31`: the report to print.
pub async fn steering(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let p = Params::read(q, &["as_of", "previous_meeting"])?;
        let as_of = p.published_date("as_of")?.unwrap_or_else(published_today);
        let previous = p.published_date("previous_meeting")?;
        let (s, cat) = tokio::join!(fetch_steering(&state, as_of, previous), state.catalogue());
        let s = s?;
        let basis = Basis::ReadModel { checkpoint: s.checkpoint, generation: s.generation };
        Ok::<_, ApiError>(Html(stod_reports::steering::steering(&s.report, &basis, &cat, Format::Html, &printed_now())))
    }
    .await;
    result.map_or_else(ApiError::into_page, IntoResponse::into_response)
}

/// `GET /uppfoljning?period=2026`: the funder's follow-up, with the CSV to download.
pub async fn funder(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let p = Params::read(q, &["period"])?;
        let period = p.period("period")?.unwrap_or_else(this_year);
        let (f, cat) = tokio::join!(fetch_funder(&state, period), state.catalogue());
        let f = f?;
        let basis = Basis::ReadModel { checkpoint: f.checkpoint, generation: f.generation };
        let mut doc = stod_reports::funder::funder_doc(&f.report, &basis, &cat, &printed_now());
        doc.links = vec![
            Link { label: "Ladda ner som CSV (Excel)".into(), href: format!("/api/v1/funder.csv?period={period}") },
            Link { label: "JSON".into(), href: format!("/api/v1/funder?period={period}") },
        ];
        Ok::<_, ApiError>(Html(render(&doc, Format::Html)))
    }
    .await;
    result.map_or_else(ApiError::into_page, IntoResponse::into_response)
}

/// The month ends a person may pick, newest first: the last three years', and `also`
/// (an older day from the address) so the form shows what the page shows.
fn month_ends(also: Date) -> Vec<Date> {
    let mut days = Vec::with_capacity(37);
    let mut day = published_today();
    for _ in 0..36 {
        days.push(day);
        day = publication::latest(day);
    }
    if !days.contains(&also) {
        days.push(also);
    }
    days
}
