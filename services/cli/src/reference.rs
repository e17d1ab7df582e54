//! `stod reference show` and `stod reference load`.
//!
//! Showing asks the command service (the catalogue it validates against). Loading is an
//! operator's request to the command service, which writes the shared catalogue: every
//! running command service watches it and switches over.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use stod_client::{Client, RetryPolicy};
use stod_events::reference::{Catalogue, CatalogueFile, CodeKind, Entry};
use stod_protocol::ops::ReferenceLoadReply;

use crate::error::CliError;
use crate::output::Output;
use crate::session::Session;
use crate::sv::{kind_plural, Term};

/// The user token for reference queries when no `--user` is given: reading the codes
/// is not reading a case.
pub const ANONYMOUS_READER: &str = "stod";

/// How long `load` waits for a running service to confirm the new catalogue.
const CONFIRM_WAIT: Duration = Duration::from_secs(3);

pub async fn show(client: &Client, out: Output, kind: Option<CodeKind>) -> Result<(), CliError> {
    let (fingerprint, file) = client.reference().await?;
    let shown = match kind {
        Some(kind) => only(&file, kind),
        None => file,
    };
    let json = json!({ "status": "found", "fingerprint": fingerprint, "catalogue": shown });
    out.result(&json, || text(&fingerprint, &shown, kind));
    Ok(())
}

/// The file with only one kind's section.
fn only(file: &CatalogueFile, kind: CodeKind) -> CatalogueFile {
    let mut out = CatalogueFile { version: file.version, ..CatalogueFile::default() };
    let entries = section(file, kind).to_vec();
    match kind {
        CodeKind::Municipality => out.municipalities = entries,
        CodeKind::Referrer => out.referrers = entries,
        CodeKind::Site => out.sites = entries,
        CodeKind::WorkArea => out.work_areas = entries,
        CodeKind::Course => out.courses = entries,
        CodeKind::Provider => out.providers = entries,
        CodeKind::SupportSource => out.support_sources = entries,
        CodeKind::Instrument => out.instruments = file.instruments.clone(),
    }
    out
}

fn section(file: &CatalogueFile, kind: CodeKind) -> &[Entry] {
    match kind {
        CodeKind::Municipality => &file.municipalities,
        CodeKind::Referrer => &file.referrers,
        CodeKind::Site => &file.sites,
        CodeKind::WorkArea => &file.work_areas,
        CodeKind::Course => &file.courses,
        CodeKind::Provider => &file.providers,
        CodeKind::SupportSource => &file.support_sources,
        CodeKind::Instrument => &[],
    }
}

/// The command-line flag that takes codes of a kind, so the list says where they go.
fn flag(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::Municipality => "--municipality",
        CodeKind::Referrer => "--referrer",
        CodeKind::Site => "--site",
        CodeKind::WorkArea => "--work-area",
        CodeKind::Course => "--course",
        CodeKind::Provider => "--provider",
        CodeKind::SupportSource => "--support",
        CodeKind::Instrument => "--instrument",
    }
}

fn text(fingerprint: &str, file: &CatalogueFile, kind: Option<CodeKind>) -> String {
    let mut out = format!("Referensdata i kraft (fingeravtryck {})\n", short(fingerprint));
    let kinds: Vec<CodeKind> = kind.map_or_else(|| CodeKind::ALL.to_vec(), |k| vec![k]);
    for kind in kinds {
        let _ = writeln!(out, "\n{} ({})", kind_plural(kind), flag(kind));
        if kind == CodeKind::Instrument {
            for inst in file.instruments.iter().filter(|i| i.active) {
                let _ = writeln!(
                    out,
                    "  {:<24}{}, skala {}–{}",
                    inst.code.as_str(),
                    inst.name,
                    inst.scale_min,
                    inst.scale_max
                );
                let _ = writeln!(out, "    områden (--score OMRÅDE=POÄNG):");
                for area in inst.areas.iter().filter(|a| a.active) {
                    let _ = writeln!(out, "    {:<22}{}", area.code.as_str(), area.name);
                }
            }
            retired_note(&mut out, file.instruments.iter().filter(|i| !i.active).count());
            continue;
        }
        let entries = section(file, kind);
        for e in entries.iter().filter(|e| e.active) {
            let _ = writeln!(out, "  {:<24}{}", e.code.as_str(), e.name);
        }
        retired_note(&mut out, entries.iter().filter(|e| !e.active).count());
    }
    out.trim_end().to_owned()
}

fn retired_note(out: &mut String, retired: usize) {
    if retired > 0 {
        let _ = writeln!(out, "  (+ {retired} utgångna koder: syns i gamla händelser, kan inte användas i nya)");
    }
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// Extends the shared catalogue from a TOML file, as an operator's request: the command
/// service checks the whole file against the catalogue in force and writes nothing
/// unless all of it fits.
pub async fn load(session: &Session, out: Output, path: &Path) -> Result<(), CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::Other(format!("kan inte läsa {}: {e}", path.display())))?;
    let extension: CatalogueFile = toml::from_str(&text)
        .map_err(|e| CliError::Invalid(format!("{} är ingen giltig referensdatafil: {e}", path.display())))?;
    let client = session.client().await?;
    let (before, after, previous_fingerprint, fingerprint) = match client.reference_load(extension).await? {
        ReferenceLoadReply::Loaded { before, after, previous_fingerprint, fingerprint } => {
            (before, after, previous_fingerprint, fingerprint)
        }
        ReferenceLoadReply::Invalid { message } => {
            return Err(CliError::Invalid(format!("{}: {message}", path.display())))
        }
        ReferenceLoadReply::Unavailable { message } => return Err(CliError::Unavailable(message)),
    };
    let catalogue = |file: Box<CatalogueFile>| {
        Catalogue::from_file(*file).map_err(|e| CliError::Other(format!("referensdata: {e}")))
    };
    let changes = diff(&catalogue(before)?, &catalogue(after)?);
    let confirmed = confirm(session, &fingerprint).await;
    let json = json!({
        "status": if changes.is_empty() { "unchanged" } else { "loaded" },
        "fingerprint": fingerprint,
        "previous_fingerprint": previous_fingerprint,
        "changes": changes,
        "in_force": confirmed,
    });
    out.result(&json, || {
        let mut t = if changes.is_empty() {
            format!("Inga ändringar: referensdatan innehåller redan allt i {}.", path.display())
        } else {
            let mut t = format!("Referensdata uppdaterad från {}:", path.display());
            for c in &changes {
                t.push_str("\n  ");
                t.push_str(c);
            }
            t
        };
        let _ = write!(t, "\nFingeravtryck: {fingerprint}");
        t.push_str(if confirmed && changes.is_empty() {
            "\nKommandotjänsten använder dessa koder."
        } else if confirmed {
            "\nKommandotjänsten använder nu de nya koderna."
        } else {
            "\nIngen kommandotjänst har bekräftat ännu; en tjänst som körs läser in koderna inom kort, en som startar senare gör det vid start."
        });
        t
    });
    Ok(())
}

/// Whether a command service answers with the new catalogue within [`CONFIRM_WAIT`].
async fn confirm(session: &Session, fingerprint: &str) -> bool {
    let Ok(client) = session.client_or(ANONYMOUS_READER).await else { return false };
    let client = client.with_retry(RetryPolicy {
        request_timeout: Duration::from_millis(500),
        retries: 0,
        backoff: Duration::from_millis(100),
    });
    let deadline = tokio::time::Instant::now() + CONFIRM_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok((fp, _)) = client.reference().await {
            if fp == fingerprint {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// What an extension changed, in Swedish, one line per code.
fn diff(before: &Catalogue, after: &Catalogue) -> Vec<String> {
    let (b, a) = (before.to_file(), after.to_file());
    let mut out = Vec::new();
    for kind in CodeKind::ALL.into_iter().filter(|k| *k != CodeKind::Instrument) {
        for entry in section(&a, kind) {
            let label = kind.label();
            match section(&b, kind).iter().find(|old| old.code == entry.code) {
                None => out.push(format!("ny {label}: {} ({})", entry.code, entry.name)),
                Some(old) => {
                    if old.name != entry.name {
                        out.push(format!("{label} {}: nytt namn {:?} (var {:?})", entry.code, entry.name, old.name));
                    }
                    if old.active != entry.active {
                        let what =
                            if entry.active { "används igen" } else { "utgår (kan inte användas i nya händelser)" };
                        out.push(format!("{label} {}: {what}", entry.code));
                    }
                }
            }
        }
    }
    for inst in &a.instruments {
        match b.instruments.iter().find(|old| old.code == inst.code) {
            None => out.push(format!("nytt bedömningsinstrument: {} ({})", inst.code, inst.name)),
            Some(old) if old != inst => out.push(format!("bedömningsinstrument {}: ändrat", inst.code)),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_new_renamed_and_retired_codes() {
        let before = Catalogue::default_catalogue();
        let ext: CatalogueFile = toml::from_str(
            "[[sites]]\ncode='ny-verkstad'\nname='Nya verkstaden'\n\
             [[sites]]\ncode='vaderbacken'\nname='Våderbacken'\nactive=false\n\
             [[courses]]\ncode='sfi'\nname='SFI'\n",
        )
        .unwrap();
        let after = before.extend(ext).unwrap();
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn one_kind_only() {
        let file = Catalogue::default_catalogue().to_file();
        let sites = only(&file, CodeKind::Site);
        assert_eq!(sites.sites, file.sites);
        assert!(sites.courses.is_empty() && sites.instruments.is_empty());
        let inst = only(&file, CodeKind::Instrument);
        assert_eq!(inst.instruments, file.instruments);
        assert!(inst.support_sources.is_empty());
    }
}
