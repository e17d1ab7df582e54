//! The one page every HTML document and dashboard page is: Swedish, self-contained
//! (inline styles, no scripts, fonts or images from elsewhere), laid out for A4 when
//! printed. Pages are built with maud, which escapes every value it is given.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The style of every page.
pub const STYLE: &str = "\
@page { size: A4; margin: 20mm 18mm; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; color: #1a1a1a; max-width: 46em; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #bbb; padding-bottom: 0.15em; }
p.lead { margin: 0.1em 0; color: #333; }
p.intro { margin: 0.2em 0 0.5em; color: #444; font-size: 0.95em; }
p.goal { font-size: 1.1em; font-weight: 600; margin: 0.4em 0; }
table { border-collapse: collapse; width: 100%; }
th { text-align: right; padding: 0.25em 0.4em; border-bottom: 1px solid #999; font-weight: 600; }
th:first-child { text-align: left; }
td { padding: 0.25em 0.4em; border-bottom: 1px solid #eee; vertical-align: top; }
td.num { text-align: right; width: 5em; font-variant-numeric: tabular-nums; }
tr.sub td:first-child { padding-left: 1.8em; color: #444; }
tr.total td { font-weight: 600; border-top: 1px solid #999; }
figure.chart { margin: 0.6em 0; }
figure.chart svg { max-width: 100%; height: auto; }
footer { margin-top: 2.5em; font-size: 0.85em; color: #555; border-top: 1px solid #bbb; padding-top: 0.5em; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } table, figure { break-inside: avoid; } }";

/// A whole page: the head every page shares, `extra_style` after [`STYLE`], `nav`
/// above the body.
pub fn page(title: &str, extra_style: Option<&str>, nav: Option<Markup>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="sv" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                // Constant stylesheets of this crate and the dashboard, never user input.
                style { (PreEscaped(STYLE)) @if let Some(extra) = extra_style { "\n" (PreEscaped(extra)) } }
            }
            body {
                @if let Some(nav) = nav { (nav) }
                (body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_what_it_is_given_and_loads_nothing() {
        let page = page("<Rapport>", None, None, html! { p { "a & b" } }).into_string();
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(page.contains("<title>&lt;Rapport&gt;</title>") && page.contains("<p>a &amp; b</p>"), "{page}");
        assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="), "{page}");
    }
}
