//! The funder's follow-up (*uppföljning till samordningsförbundet*), in the style of SUS:
//! per period, participants by gender and age band, support at start and at exit, and
//! outcomes in SUS's groups. As a document (text, Markdown, HTML) and as CSV that opens
//! correctly in Swedish Excel.

use stod_events::event::SusOutcomeGroup;
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::disclosure::CrossTable;
use stod_projections::throughput::NOT_RECORDED;
use stod_projections::PublishedFunder;

use crate::doc::{render, row, Doc, Format, Section, Table};
use crate::sv::sus_group_label;
use crate::{key_name, long_date, period_title, protection_note, Basis};

/// What each of the report's tables counts, in the order they are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunderTable {
    ParticipantsByAge,
    IntakesBySupport,
    ExitsBySusGroup,
    ExitsBySupport,
}

impl FunderTable {
    pub const ALL: [FunderTable; 4] = [
        FunderTable::ParticipantsByAge,
        FunderTable::IntakesBySupport,
        FunderTable::ExitsBySusGroup,
        FunderTable::ExitsBySupport,
    ];

    pub fn title(self) -> &'static str {
        match self {
            FunderTable::ParticipantsByAge => "Deltagare efter ålder och kön",
            FunderTable::IntakesBySupport => "Nya deltagare efter försörjning vid start",
            FunderTable::ExitsBySusGroup => "Avslutade efter avslutsanledning (SUS-grupp)",
            FunderTable::ExitsBySupport => "Avslutade efter försörjning vid avslut",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            FunderTable::ParticipantsByAge => {
                "Personer i verksamheten någon gång under perioden, räknade en gång. Ålder vid inskrivning (födelseår)."
            }
            FunderTable::IntakesBySupport => "Inskrivningar (insatser som startade) under perioden.",
            FunderTable::ExitsBySusGroup => {
                "Avslut under perioden. Förvärvsarbete: anställning med eller utan stöd; studier: även arbetsmarknadsutbildning; \
                 aktivt arbetssökande: närmare arbetsmarknaden; övriga: annan insats, hälsa, flytt, avbrott, annat."
            }
            FunderTable::ExitsBySupport => "Avslut under perioden, efter försörjningskälla vid avslutet.",
        }
    }

    pub fn of(self, r: &PublishedFunder) -> &CrossTable {
        match self {
            FunderTable::ParticipantsByAge => &r.participants_by_age,
            FunderTable::IntakesBySupport => &r.intakes_by_support,
            FunderTable::ExitsBySusGroup => &r.exits_by_sus_group,
            FunderTable::ExitsBySupport => &r.exits_by_support,
        }
    }

    /// How a row key of this table is shown.
    pub fn row_label(self, cat: &Catalogue, key: &str) -> String {
        match self {
            FunderTable::ParticipantsByAge => age_band_label(key),
            FunderTable::IntakesBySupport | FunderTable::ExitsBySupport => key_name(cat, CodeKind::SupportSource, key),
            FunderTable::ExitsBySusGroup => {
                serde_json::from_value::<SusOutcomeGroup>(serde_json::Value::String(key.to_owned()))
                    .map_or_else(|_| key.to_owned(), |g| sus_group_label(g).to_owned())
            }
        }
    }
}

/// "16–19 år", "65 år och äldre", or "ej registrerat (anonyma)".
pub fn age_band_label(key: &str) -> String {
    if key == NOT_RECORDED {
        return "ej registrerat (anonyma)".to_owned();
    }
    match key.split_once('-') {
        Some((from, "")) => format!("{from} år och äldre"),
        Some((from, to)) => format!("{from}–{to} år"),
        None => key.to_owned(),
    }
}

/// A gender column's heading.
pub fn gender_column(key: &str) -> String {
    match key {
        "woman" => "Kvinnor".to_owned(),
        "man" => "Män".to_owned(),
        "other" => "Annan/vill inte uppge".to_owned(),
        other => other.to_owned(),
    }
}

/// The table's header and rows as strings, the total row last.
fn grid(table: FunderTable, t: &CrossTable, cat: &Catalogue) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec![String::new()];
    header.extend(t.columns.iter().map(|c| gender_column(c)));
    header.push("Totalt".to_owned());
    let mut rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            let mut cells = vec![table.row_label(cat, &r.key)];
            cells.extend(r.cells.iter().map(ToString::to_string));
            cells.push(r.total.to_string());
            cells
        })
        .collect();
    let mut total = vec!["Totalt".to_owned()];
    total.extend(t.column_totals.iter().map(ToString::to_string));
    total.push(t.total.to_string());
    rows.push(total);
    (header, rows)
}

pub fn funder_doc(r: &PublishedFunder, basis: &Basis, cat: &Catalogue, printed: &str) -> Doc {
    let mut sections: Vec<Section> = FunderTable::ALL
        .iter()
        .map(|&table| {
            let (header, rows) = grid(table, table.of(r), cat);
            Section::table(table.title(), Some(table.explanation().to_owned()), Table { header, rows, total_row: true })
        })
        .collect();
    sections.push(Section::rows(
        "Anonymt registrerade",
        Some(
            "Deltagare utan samtycke eller med skyddad identitet registreras bara med kön och startår, som i SUS."
                .into(),
        ),
        vec![row("Anonymt registrerade deltagare under perioden", r.anonymous_participants)],
    ));
    Doc {
        title: format!("Uppföljning till samordningsförbundet, {}", period_title(&r.period)),
        links: Vec::new(),
        lead: vec![
            "Stödplattformen, arbetsträning i Ludvika och Smedjebacken.".into(),
            format!("Perioden {} – {} ({} – {}).", r.from, r.to, long_date(r.from), long_date(r.to)),
        ],
        sections,
        footer: vec![
            "Endast antal: rapporten innehåller inga uppgifter om enskilda deltagare.".into(),
            protection_note(r.min_count),
            basis.sentence(),
            format!("Utskriven {printed} ur stod."),
        ],
    }
}

pub fn funder(r: &PublishedFunder, basis: &Basis, cat: &Catalogue, format: Format, printed: &str) -> String {
    render(&funder_doc(r, basis, cat, printed), format)
}

/// The CSV's column headings (the gender columns follow the report's own order).
pub fn csv_header(r: &PublishedFunder) -> Vec<String> {
    let mut header: Vec<String> =
        ["Period", "Från", "Till", "Tabell", "Kategori"].iter().map(|s| (*s).to_owned()).collect();
    header.extend(r.participants_by_age.columns.iter().map(|c| gender_column(c)));
    header.push("Totalt".to_owned());
    header
}

/// The follow-up as CSV for Swedish Excel: UTF-8 with a byte-order mark (so Excel reads
/// å, ä, ö right), semicolons (Excel's separator where the decimal mark is a comma),
/// ISO dates, one row per table and category with the totals row last in each table.
/// Hidden cells are written as shown on paper ("<5", "x").
pub fn funder_csv(r: &PublishedFunder, cat: &Catalogue) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new().delimiter(b';').terminator(csv::Terminator::CRLF).from_writer(&mut out);
        w.write_record(csv_header(r))?;
        let (period, from, to) = (r.period.clone(), r.from.to_string(), r.to.to_string());
        for table in FunderTable::ALL {
            let (_, rows) = grid(table, table.of(r), cat);
            for cells in rows {
                let mut record = vec![period.clone(), from.clone(), to.clone(), table.title().to_owned()];
                record.extend(cells);
                w.write_record(&record)?;
            }
        }
        let columns = r.participants_by_age.columns.len();
        let mut record = vec![period, from, to, "Anonymt registrerade deltagare".to_owned(), "Totalt".to_owned()];
        record.extend(std::iter::repeat_n(String::new(), columns));
        record.push(r.anonymous_participants.to_string());
        w.write_record(&record)?;
        w.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_projections::funder::CountTable;
    use stod_projections::{protect_funder, FunderReport};

    fn table(rows: &[&str], counts: Vec<Vec<u32>>) -> CountTable {
        CountTable {
            rows: rows.iter().map(|r| (*r).to_owned()).collect(),
            columns: vec!["woman".into(), "man".into(), "other".into()],
            counts,
        }
    }

    fn report() -> PublishedFunder {
        let exact = FunderReport {
            period: "2025".into(),
            from: "2025-01-01".parse().unwrap(),
            to: "2025-12-31".parse().unwrap(),
            participants_by_age: table(&["20-24", "25-29", "65-"], vec![vec![6, 7, 0], vec![9, 2, 0], vec![5, 5, 0]]),
            intakes_by_support: table(&["forsorjningsstod", NOT_RECORDED], vec![vec![8, 6, 0], vec![0, 1, 0]]),
            exits_by_sus_group: table(
                &["employment", "studies", "job_seeking", "other"],
                vec![vec![5, 6, 0], vec![0; 3], vec![0; 3], vec![0; 3]],
            ),
            exits_by_support: table(&["ingen"], vec![vec![5, 6, 0]]),
            anonymous_participants: 1,
        };
        protect_funder(&exact, 5)
    }

    #[test]
    fn the_csv_is_for_swedish_excel_and_shows_only_protected_cells() {
        let cat = Catalogue::default_catalogue();
        let csv = funder_csv(&report(), &cat).unwrap();
        assert!(csv.starts_with("\u{feff}".as_bytes()), "byte-order mark");
        let text = String::from_utf8(csv[3..].to_vec()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "Period;Från;Till;Tabell;Kategori;Kvinnor;Män;Annan/vill inte uppge;Totalt");
        assert!(lines
            .iter()
            .any(|l| l.starts_with("2025;2025-01-01;2025-12-31;Deltagare efter ålder och kön;25–29 år;")));
        assert!(lines.iter().any(|l| l.contains(";65 år och äldre;")), "{text}");
        assert!(lines.iter().any(|l| l.ends_with(";Totalt;20;14;0;34")), "column totals: {text}");
        for line in &lines[1..] {
            for cell in line.split(';').skip(5) {
                assert!(!matches!(cell, "1" | "2" | "3" | "4"), "a small count is shown: {line}");
            }
        }
        assert!(lines.iter().any(|l| l.contains("förvärvsarbete")), "{text}");
        assert!(text.contains("<5") && !text.contains(";2;"), "the 2 men aged 25-29 are hidden: {text}");
        assert!(
            lines.last().unwrap().starts_with("2025;2025-01-01;2025-12-31;Anonymt registrerade deltagare;Totalt;;;;<5"),
            "{text}"
        );
    }

    #[test]
    fn the_document_names_every_table_and_explains_the_protection() {
        let cat = Catalogue::default_catalogue();
        let basis = Basis::ReadModel { checkpoint: 7, generation: 1 };
        for format in [Format::Text, Format::Md, Format::Html] {
            let doc = funder(&report(), &basis, &cat, format, "2026-01-05 10:00");
            for table in FunderTable::ALL {
                assert!(doc.contains(table.title()), "{doc}");
            }
            assert!(doc.contains("Uppföljning till samordningsförbundet, år 2025"), "{doc}");
            assert!(doc.contains("Kvinnor") && doc.contains("Försörjningsstöd"), "{doc}");
            assert!(doc.contains("visas som"), "{doc}");
        }
    }
}
