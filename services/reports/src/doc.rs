//! A report as a document: a title, lead lines, sections of labelled counts or tables,
//! and a footer, rendered the same way to text, Markdown and HTML so the three never
//! disagree.

use std::fmt::Write as _;

use crate::html_escape;

/// The formats a document is rendered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Md,
    Html,
}

pub struct Doc {
    pub title: String,
    pub lead: Vec<String>,
    pub sections: Vec<Section>,
    pub footer: Vec<String>,
}

pub struct Section {
    pub heading: String,
    pub intro: Option<String>,
    /// The section's headline (shown prominently in HTML).
    pub headline: bool,
    pub rows: Vec<Row>,
    pub table: Option<Table>,
    /// An SVG chart, shown in HTML only (the numbers are always in the rows or table too).
    pub chart: Option<String>,
}

impl Section {
    pub fn rows(heading: impl Into<String>, intro: Option<String>, rows: Vec<Row>) -> Self {
        Section { heading: heading.into(), intro, headline: false, rows, table: None, chart: None }
    }

    pub fn table(heading: impl Into<String>, intro: Option<String>, table: Table) -> Self {
        Section { heading: heading.into(), intro, headline: false, rows: Vec::new(), table: Some(table), chart: None }
    }

    pub fn with_chart(mut self, svg: String) -> Self {
        self.chart = Some(svg);
        self
    }
}

pub struct Row {
    pub label: String,
    pub value: String,
    /// A part of the row above (shown indented).
    pub sub: bool,
}

pub fn row(label: impl Into<String>, value: impl ToString) -> Row {
    Row { label: label.into(), value: value.to_string(), sub: false }
}

pub fn sub(label: impl Into<String>, value: impl ToString) -> Row {
    Row { label: label.into(), value: value.to_string(), sub: true }
}

/// A table with a header; the first column is a label, the rest are counts. The last
/// row is a total when `total_row` is set (shown in bold).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total_row: bool,
}

pub fn render(doc: &Doc, format: Format) -> String {
    match format {
        Format::Text => text(doc),
        Format::Md => markdown(doc),
        Format::Html => html(doc),
    }
}

/// Where the text form wraps its sentences.
const TEXT_WIDTH: usize = 76;

/// Splits a sentence into lines of at most `width` characters, at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
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

fn text(doc: &Doc) -> String {
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
        if let Some(t) = &s.table {
            text_table(&mut out, t);
        }
    }
    let _ = writeln!(out);
    for l in &doc.footer {
        for line in wrap(l, TEXT_WIDTH + 2) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

fn text_table(out: &mut String, t: &Table) {
    let columns = t.header.len();
    let mut widths = vec![0; columns];
    for r in std::iter::once(&t.header).chain(&t.rows) {
        for (i, cell) in r.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("  ");
        for (i, cell) in cells.iter().enumerate().take(columns) {
            let w = widths[i];
            if i == 0 {
                let _ = write!(s, "{cell:<w$}");
            } else {
                let _ = write!(s, "  {cell:>w$}");
            }
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(&t.header));
    for (i, r) in t.rows.iter().enumerate() {
        if t.total_row && i + 1 == t.rows.len() {
            let _ = writeln!(out, "  {}", "-".repeat(widths.iter().sum::<usize>() + 2 * (columns - 1)));
        }
        let _ = writeln!(out, "{}", line(r));
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn markdown(doc: &Doc) -> String {
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
        if !s.rows.is_empty() {
            let _ = writeln!(out, "| | Antal |\n|---|---:|");
            for r in &s.rows {
                let label = if r.sub { format!("&emsp;{}", md_escape(&r.label)) } else { md_escape(&r.label) };
                let _ = writeln!(out, "| {label} | {} |", md_escape(&r.value));
            }
        }
        if let Some(t) = &s.table {
            let _ = writeln!(out, "| {} |", t.header.iter().map(|h| md_escape(h)).collect::<Vec<_>>().join(" | "));
            let _ = writeln!(out, "|---|{}", "---:|".repeat(t.header.len().saturating_sub(1)));
            for (i, r) in t.rows.iter().enumerate() {
                let bold = t.total_row && i + 1 == t.rows.len();
                let cells: Vec<String> =
                    r.iter().map(|c| if bold { format!("**{}**", md_escape(c)) } else { md_escape(c) }).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
    }
    let _ = writeln!(out, "\n---\n");
    for l in &doc.footer {
        let _ = writeln!(out, "*{l}*  ");
    }
    out
}

/// One self-contained page: inline styles, no scripts, fonts or images from elsewhere,
/// laid out for A4 when printed.
pub const HTML_STYLE: &str = "\
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

/// The sections as HTML (no page around them), for the dashboard to embed.
pub fn html_sections(doc: &Doc) -> String {
    let mut out = String::new();
    for s in &doc.sections {
        let _ = writeln!(out, "<section>\n<h2>{}</h2>", html_escape(&s.heading));
        if let Some(intro) = &s.intro {
            // A section's one-line verdict is its headline.
            let class = if s.headline { "goal" } else { "intro" };
            let _ = writeln!(out, "<p class=\"{class}\">{}</p>", html_escape(intro));
        }
        if let Some(svg) = &s.chart {
            let _ = writeln!(out, "<figure class=\"chart\">{svg}</figure>");
        }
        if !s.rows.is_empty() {
            let _ = writeln!(out, "<table>");
            for r in &s.rows {
                let class = if r.sub { " class=\"sub\"" } else { "" };
                let _ = writeln!(
                    out,
                    "<tr{class}><td>{}</td><td class=\"num\">{}</td></tr>",
                    html_escape(&r.label),
                    html_escape(&r.value)
                );
            }
            let _ = writeln!(out, "</table>");
        }
        if let Some(t) = &s.table {
            let _ = writeln!(out, "<table>\n<thead><tr>");
            for h in &t.header {
                let _ = write!(out, "<th>{}</th>", html_escape(h));
            }
            let _ = writeln!(out, "</tr></thead>\n<tbody>");
            for (i, r) in t.rows.iter().enumerate() {
                let class = if t.total_row && i + 1 == t.rows.len() { " class=\"total\"" } else { "" };
                let _ = write!(out, "<tr{class}>");
                for (j, c) in r.iter().enumerate() {
                    let class = if j == 0 { "" } else { " class=\"num\"" };
                    let _ = write!(out, "<td{class}>{}</td>", html_escape(c));
                }
                let _ = writeln!(out, "</tr>");
            }
            let _ = writeln!(out, "</tbody>\n</table>");
        }
        let _ = writeln!(out, "</section>");
    }
    out
}

fn html(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!DOCTYPE html>\n<html lang=\"sv\">\n<head>\n<meta charset=\"utf-8\">");
    let _ =
        writeln!(out, "<title>{}</title>\n<style>\n{HTML_STYLE}\n</style>\n</head>\n<body>", html_escape(&doc.title));
    let _ = writeln!(out, "<h1>{}</h1>", html_escape(&doc.title));
    for l in &doc.lead {
        let _ = writeln!(out, "<p class=\"lead\">{}</p>", html_escape(l));
    }
    out.push_str(&html_sections(doc));
    let _ = writeln!(out, "<footer>");
    for l in &doc.footer {
        let _ = writeln!(out, "<p>{}</p>", html_escape(l));
    }
    let _ = writeln!(out, "</footer>\n</body>\n</html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_wrap_at_spaces() {
        assert_eq!(wrap("ett två tre fyra", 8), vec!["ett två", "tre fyra"]);
        assert_eq!(wrap("", 8), vec![""]);
    }

    #[test]
    fn tables_render_in_every_format_with_the_total_marked() {
        let doc = Doc {
            title: "T".into(),
            lead: vec![],
            sections: vec![Section::table(
                "Tabell",
                None,
                Table {
                    header: vec!["".into(), "Kvinnor".into(), "Män".into()],
                    rows: vec![
                        vec!["a".into(), "<5".into(), "7".into()],
                        vec!["Totalt".into(), "x".into(), "9".into()],
                    ],
                    total_row: true,
                },
            )],
            footer: vec![],
        };
        let t = render(&doc, Format::Text);
        assert!(t.contains("Kvinnor") && t.contains("<5") && t.contains("Totalt"), "{t}");
        let md = render(&doc, Format::Md);
        assert!(md.contains("| a | <5 | 7 |") && md.contains("**Totalt**"), "{md}");
        let h = render(&doc, Format::Html);
        assert!(h.contains("<td class=\"num\">&lt;5</td>") && h.contains("<tr class=\"total\">"), "{h}");
    }
}
