//! Reference data: the codes a case worker may use, with Swedish display names.
//!
//! A default catalogue ships in `events/reference/default.toml`. An operator extends it
//! with a file of the same shape (see [`Catalogue::extend`]); the write path keeps the
//! resulting catalogue in one shared place so every running instance validates against
//! the same codes, and compares [`Catalogue::fingerprint`]s to prove it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::Code;

/// The default catalogue's source text.
pub const DEFAULT_TOML: &str = include_str!("../reference/default.toml");

/// The kinds of reference data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Municipality,
    Referrer,
    Site,
    WorkArea,
    Course,
    Provider,
    SupportSource,
    Instrument,
}

impl CodeKind {
    pub const ALL: [CodeKind; 8] = [
        CodeKind::Municipality,
        CodeKind::Referrer,
        CodeKind::Site,
        CodeKind::WorkArea,
        CodeKind::Course,
        CodeKind::Provider,
        CodeKind::SupportSource,
        CodeKind::Instrument,
    ];

    /// Swedish label, for messages to case workers.
    pub fn label_sv(self) -> &'static str {
        match self {
            CodeKind::Municipality => "kommun",
            CodeKind::Referrer => "remittent",
            CodeKind::Site => "arbetsplats",
            CodeKind::WorkArea => "arbetsområde",
            CodeKind::Course => "utbildning",
            CodeKind::Provider => "anordnare",
            CodeKind::SupportSource => "försörjningskälla",
            CodeKind::Instrument => "bedömningsinstrument",
        }
    }
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_sv())
    }
}

/// One code with its display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub code: Code,
    pub name: String,
    /// A retired code stays for display of old events but is refused in new ones.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// An assessment instrument: named areas scored on a common scale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub code: Code,
    pub name: String,
    pub scale_min: u8,
    pub scale_max: u8,
    pub areas: Vec<Entry>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

/// The file shape, default and extensions alike. Every section is optional in an
/// extension.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFile {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub municipalities: Vec<Entry>,
    #[serde(default)]
    pub referrers: Vec<Entry>,
    #[serde(default)]
    pub sites: Vec<Entry>,
    #[serde(default)]
    pub work_areas: Vec<Entry>,
    #[serde(default)]
    pub courses: Vec<Entry>,
    #[serde(default)]
    pub providers: Vec<Entry>,
    #[serde(default)]
    pub support_sources: Vec<Entry>,
    #[serde(default)]
    pub instruments: Vec<Instrument>,
}

/// A validated catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    /// Kept in canonical (code) order per kind, so the fingerprint does not depend on
    /// the order an operator wrote a file in.
    entries: BTreeMap<CodeKind, BTreeMap<Code, Entry>>,
    instruments: BTreeMap<Code, Instrument>,
}

/// Why a catalogue file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("referensdatafilen kan inte läsas: {0}")]
    Syntax(String),
    #[error("koden {code} finns två gånger bland {kind}")]
    DuplicateCode { kind: CodeKind, code: Code },
    #[error("{kind} {code} saknar namn")]
    EmptyName { kind: CodeKind, code: Code },
    #[error("instrumentet {code}: skalan {min}–{max} är ogiltig (min < max krävs)")]
    BadScale { code: Code, min: u8, max: u8 },
    #[error("instrumentet {code} saknar bedömningsområden")]
    NoAreas { code: Code },
    #[error(
        "instrumentet {code}: skalan kan inte ändras från {old_min}–{old_max} eftersom gamla bedömningar använder den"
    )]
    ScaleChanged { code: Code, old_min: u8, old_max: u8 },
}

impl Catalogue {
    /// The shipped default.
    pub fn default_catalogue() -> Self {
        Self::from_toml(DEFAULT_TOML).unwrap_or_else(|e| {
            // The default is compiled in and covered by a test; failing here is a build bug.
            panic!("the shipped reference/default.toml is invalid: {e}")
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile = toml::from_str(text).map_err(|e| CatalogueError::Syntax(e.to_string()))?;
        Self::from_file(file)
    }

    pub fn from_file(file: CatalogueFile) -> Result<Self, CatalogueError> {
        let mut cat = Catalogue { entries: BTreeMap::new(), instruments: BTreeMap::new() };
        for kind in CodeKind::ALL {
            cat.entries.insert(kind, BTreeMap::new());
        }
        cat.merge(file, false)?;
        Ok(cat)
    }

    /// Applies an operator's extension: adds codes, renames or retires existing ones.
    /// Codes are never removed (old events refer to them), and an instrument's scale
    /// cannot change under old assessments. On error nothing is changed.
    pub fn extend(&self, extension: CatalogueFile) -> Result<Self, CatalogueError> {
        let mut next = self.clone();
        next.merge(extension, true)?;
        Ok(next)
    }

    fn merge(&mut self, file: CatalogueFile, overriding: bool) -> Result<(), CatalogueError> {
        let sections = [
            (CodeKind::Municipality, file.municipalities),
            (CodeKind::Referrer, file.referrers),
            (CodeKind::Site, file.sites),
            (CodeKind::WorkArea, file.work_areas),
            (CodeKind::Course, file.courses),
            (CodeKind::Provider, file.providers),
            (CodeKind::SupportSource, file.support_sources),
        ];
        for (kind, list) in sections {
            let mut seen = BTreeMap::new();
            for entry in list {
                check_entry(kind, &entry)?;
                if seen.insert(entry.code.clone(), ()).is_some() {
                    return Err(CatalogueError::DuplicateCode { kind, code: entry.code });
                }
                let map = self.entries.entry(kind).or_default();
                if !overriding && map.contains_key(&entry.code) {
                    return Err(CatalogueError::DuplicateCode { kind, code: entry.code });
                }
                map.insert(entry.code.clone(), entry);
            }
        }
        let mut seen = BTreeMap::new();
        for inst in file.instruments {
            let kind = CodeKind::Instrument;
            if seen.insert(inst.code.clone(), ()).is_some()
                || (!overriding && self.instruments.contains_key(&inst.code))
            {
                return Err(CatalogueError::DuplicateCode { kind, code: inst.code });
            }
            if inst.name.trim().is_empty() {
                return Err(CatalogueError::EmptyName { kind, code: inst.code });
            }
            if inst.scale_min >= inst.scale_max {
                return Err(CatalogueError::BadScale { code: inst.code, min: inst.scale_min, max: inst.scale_max });
            }
            if inst.areas.is_empty() {
                return Err(CatalogueError::NoAreas { code: inst.code });
            }
            let mut area_seen = BTreeMap::new();
            for area in &inst.areas {
                check_entry(kind, area)?;
                if area_seen.insert(area.code.clone(), ()).is_some() {
                    return Err(CatalogueError::DuplicateCode { kind, code: area.code.clone() });
                }
            }
            let mut inst = inst;
            if let Some(old) = self.instruments.get(&inst.code) {
                if (old.scale_min, old.scale_max) != (inst.scale_min, inst.scale_max) {
                    return Err(CatalogueError::ScaleChanged {
                        code: inst.code,
                        old_min: old.scale_min,
                        old_max: old.scale_max,
                    });
                }
                // Areas are never removed either: keep old ones the extension left out.
                for area in &old.areas {
                    if !inst.areas.iter().any(|a| a.code == area.code) {
                        inst.areas.push(area.clone());
                    }
                }
            }
            self.instruments.insert(inst.code.clone(), inst);
        }
        Ok(())
    }

    /// The entry for a code of the given kind, active or retired.
    pub fn get(&self, kind: CodeKind, code: &Code) -> Option<&Entry> {
        self.entries.get(&kind).and_then(|m| m.get(code))
    }

    pub fn instrument(&self, code: &Code) -> Option<&Instrument> {
        self.instruments.get(code)
    }

    /// Whether a code may be used in a new event.
    pub fn is_active(&self, kind: CodeKind, code: &Code) -> bool {
        match kind {
            CodeKind::Instrument => self.instruments.get(code).is_some_and(|i| i.active),
            _ => self.get(kind, code).is_some_and(|e| e.active),
        }
    }

    /// The codes a case worker may use, in code order.
    pub fn active_codes(&self, kind: CodeKind) -> Vec<Code> {
        match kind {
            CodeKind::Instrument => self.instruments.values().filter(|i| i.active).map(|i| i.code.clone()).collect(),
            _ => self
                .entries
                .get(&kind)
                .map(|m| m.values().filter(|e| e.active).map(|e| e.code.clone()).collect())
                .unwrap_or_default(),
        }
    }

    /// Swedish display name of a code; the code itself if unknown.
    pub fn name<'a>(&'a self, kind: CodeKind, code: &'a Code) -> &'a str {
        match kind {
            CodeKind::Instrument => self.instruments.get(code).map(|i| i.name.as_str()),
            _ => self.get(kind, code).map(|e| e.name.as_str()),
        }
        .unwrap_or(code.as_str())
    }

    /// Back to the file shape, in canonical order.
    pub fn to_file(&self) -> CatalogueFile {
        let list =
            |kind| -> Vec<Entry> { self.entries.get(&kind).map(|m| m.values().cloned().collect()).unwrap_or_default() };
        CatalogueFile {
            version: 1,
            municipalities: list(CodeKind::Municipality),
            referrers: list(CodeKind::Referrer),
            sites: list(CodeKind::Site),
            work_areas: list(CodeKind::WorkArea),
            courses: list(CodeKind::Course),
            providers: list(CodeKind::Provider),
            support_sources: list(CodeKind::SupportSource),
            instruments: self.instruments.values().cloned().collect(),
        }
    }

    /// SHA-256 of the canonical JSON form: equal fingerprints, equal catalogues.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(&self.to_file()).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

fn check_entry(kind: CodeKind, entry: &Entry) -> Result<(), CatalogueError> {
    if entry.name.trim().is_empty() {
        return Err(CatalogueError::EmptyName { kind, code: entry.code.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Code {
        Code::parse(s).unwrap()
    }

    #[test]
    fn default_catalogue_has_the_seed_sites_and_both_municipalities() {
        let cat = Catalogue::default_catalogue();
        for site in [
            "atervinningsbutiken",
            "luddes-hundcenter",
            "disponentparken",
            "odla-pa-angen",
            "vaderbacken",
            "industrisparet",
        ] {
            assert!(cat.is_active(CodeKind::Site, &code(site)), "{site}");
        }
        assert_eq!(cat.name(CodeKind::Municipality, &code("2084")), "Ludvika");
        assert_eq!(cat.name(CodeKind::Municipality, &code("2061")), "Smedjebacken");
        assert!(cat.instrument(&code("work-star")).is_some_and(|i| i.areas.len() == 7));
    }

    #[test]
    fn extension_adds_renames_and_retires_but_never_removes() {
        let cat = Catalogue::default_catalogue();
        let ext: CatalogueFile = toml::from_str(
            r#"
            [[sites]]
            code = "ny-verkstad"
            name = "Nya verkstaden"
            [[sites]]
            code = "vaderbacken"
            name = "Våderbacken"
            active = false
            "#,
        )
        .unwrap();
        let next = cat.extend(ext).unwrap();
        assert!(next.is_active(CodeKind::Site, &code("ny-verkstad")));
        assert!(!next.is_active(CodeKind::Site, &code("vaderbacken")));
        // Retired, not removed: old events still show a name.
        assert_eq!(next.name(CodeKind::Site, &code("vaderbacken")), "Våderbacken");
        assert!(next.is_active(CodeKind::Site, &code("atervinningsbutiken")));
        assert_ne!(next.fingerprint(), cat.fingerprint());
    }

    #[test]
    fn extension_cannot_change_an_instruments_scale() {
        let cat = Catalogue::default_catalogue();
        let ext: CatalogueFile = toml::from_str(
            r#"
            [[instruments]]
            code = "work-star"
            name = "Work Star"
            scale_min = 1
            scale_max = 5
            areas = [{ code = "stability", name = "Stabilitet" }]
            "#,
        )
        .unwrap();
        assert!(matches!(cat.extend(ext), Err(CatalogueError::ScaleChanged { .. })));
    }

    #[test]
    fn fingerprint_is_independent_of_file_order() {
        let a = Catalogue::from_toml("[[sites]]\ncode='a'\nname='A'\n[[sites]]\ncode='b'\nname='B'\n").unwrap();
        let b = Catalogue::from_toml("[[sites]]\ncode='b'\nname='B'\n[[sites]]\ncode='a'\nname='A'\n").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(matches!(
            Catalogue::from_toml("[[sites]]\ncode='Bad Code'\nname='x'\n"),
            Err(CatalogueError::Syntax(_))
        ));
        assert!(matches!(
            Catalogue::from_toml("[[sites]]\ncode='a'\nname='A'\n[[sites]]\ncode='a'\nname='B'\n"),
            Err(CatalogueError::DuplicateCode { .. })
        ));
        assert!(matches!(Catalogue::from_toml("[[unknown_section]]\ncode='a'\n"), Err(CatalogueError::Syntax(_))));
    }
}
