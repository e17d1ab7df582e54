//! A report as a document: a title, lead lines, sections of labelled counts or tables,
//! and a footer, rendered the same way to text, Markdown and HTML so the three never
//! disagree.

use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped};

/// The formats a document is rendered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Md,
    Html,
}

pub struct Doc {
    pub title: String,
    /// Where to get the document in other forms (CSV, JSON); shown under the title in
    /// HTML only, where they can be followed.
    pub links: Vec<Link>,
    pub lead: Vec<String>,
    pub sections: Vec<Section>,
    pub footer: Vec<String>,
}

/// A link under a document's title.
pub struct Link {
    pub label: String,
    pub href: String,
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

/// The sections as HTML (no page around them), for the dashboard to embed.
pub fn html_sections(sections: &[Section]) -> Markup {
    html! {
        @for s in sections {
            section {
                h2 { (s.heading) }
                @if let Some(intro) = &s.intro {
                    // A section's one-line verdict is its headline.
                    p class=(if s.headline { "goal" } else { "intro" }) { (intro) }
                }
                @if let Some(svg) = &s.chart {
                    // Drawn by `charts` from counts alone; every label in it is escaped there.
                    figure.chart { (PreEscaped(svg)) }
                }
                @if !s.rows.is_empty() {
                    table {
                        @for r in &s.rows {
                            tr class=[r.sub.then_some("sub")] { td { (r.label) } td.num { (r.value) } }
                        }
                    }
                }
                @if let Some(t) = &s.table {
                    table {
                        thead { tr { @for h in &t.header { th { (h) } } } }
                        tbody {
                            @for (i, r) in t.rows.iter().enumerate() {
                                tr class=[(t.total_row && i + 1 == t.rows.len()).then_some("total")] {
                                    @for (j, c) in r.iter().enumerate() {
                                        td class=[(j > 0).then_some("num")] { (c) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn html(doc: &Doc) -> String {
    let body = html! {
        h1 { (doc.title) }
        @if !doc.links.is_empty() {
            p.lead {
                @for (i, link) in doc.links.iter().enumerate() {
                    @if i > 0 { " · " }
                    a href=(link.href) { (link.label) }
                }
            }
        }
        @for l in &doc.lead { p.lead { (l) } }
        (html_sections(&doc.sections))
        footer { @for l in &doc.footer { p { (l) } } }
    };
    crate::html::page(&doc.title, None, None, body).into_string()
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
            links: vec![],
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
