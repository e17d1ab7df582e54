//! The frame of every page the service serves: the common head of `stod-reports`, the
//! dashboard's style and the navigation. Error and login pages use it too, so it
//! depends on nothing else here.

use axum::response::Html;
use maud::{html, Markup};

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

/// A page of the service: the common head, the dashboard's style and the navigation.
pub(crate) fn layout(title: &str, body: Markup) -> Html<String> {
    let nav = html! {
        nav {
            a href="/" { "Översikt" }
            a href="/styrgrupp" { "Styrgruppsrapport" }
            a href="/uppfoljning" { "Uppföljning till Finsam" }
            a href="/api/openapi.json" { "API" }
        }
    };
    Html(stod_reports::html::page(title, Some(DASHBOARD_STYLE), Some(nav), body).into_string())
}
