//! A case's history as a case worker reads it: Swedish, with reference-data names
//! instead of codes, local times, and every correction linked to what it changes.
//!
//! Pure functions over the service's [`CaseView`] and a [`Catalogue`], so the layout is
//! tested without a server.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use stod_events::event::{Fact, Registration};
use stod_events::ids::{CaseId, Code, EventId};
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::AuditEntry;
use stod_protocol::{CaseView, EventView};

use crate::sv::{event_type_label, Term};
use crate::{local_time, Basis};

/// What later events did to an original fact.
#[derive(Default)]
struct Fate<'a> {
    corrections: Vec<&'a EventView>,
    retraction: Option<&'a EventView>,
}

/// The case as it stands after corrections and retractions, for context in the text.
struct Effective {
    placements: BTreeMap<u16, Code>,
    trainings: BTreeMap<u16, Code>,
}

impl Effective {
    fn of(view: &CaseView, fates: &BTreeMap<EventId, Fate<'_>>) -> (Self, Option<(String, &'static str)>) {
        let mut eff = Effective { placements: BTreeMap::new(), trainings: BTreeMap::new() };
        let mut exit = None;
        for e in view.events.iter().filter(|e| e.corrects.is_none()) {
            let fate = fates.get(&e.event_id);
            if fate.is_some_and(|f| f.retraction.is_some()) {
                continue;
            }
            let current = fate.and_then(|f| f.corrections.last()).copied().unwrap_or(e);
            match &current.fact {
                Some(Fact::PlacementStarted(p)) => {
                    eff.placements.insert(p.placement.0, p.site.clone());
                }
                Some(Fact::TrainingStarted(t)) => {
                    eff.trainings.insert(t.training.0, t.course.clone());
                }
                Some(Fact::TrainingCompleted(t)) => {
                    eff.trainings.entry(t.training.0).or_insert_with(|| t.course.clone());
                }
                Some(Fact::Exited(x)) => exit = Some((current.occurred_on.to_string(), x.outcome.label())),
                _ => {}
            }
        }
        (eff, exit)
    }
}

fn fates_of(view: &CaseView) -> BTreeMap<EventId, Fate<'_>> {
    let mut fates: BTreeMap<EventId, Fate<'_>> = BTreeMap::new();
    for e in &view.events {
        if let Some(target) = e.corrects {
            let fate = fates.entry(target).or_default();
            if e.fact.is_some() {
                fate.corrections.push(e);
            } else {
                fate.retraction = Some(e);
            }
        }
    }
    fates
}

fn status_of(view: &CaseView, exit: Option<(String, &'static str)>) -> String {
    if view.void {
        "makulerad (inskrivningen är makulerad; ärendet tar inte emot fler händelser)".to_owned()
    } else if view.open {
        "öppen".to_owned()
    } else if let Some((date, outcome)) = exit {
        format!("avslutad {date} ({outcome})")
    } else {
        "avslutad".to_owned()
    }
}

/// The case's status and each event's fact in Swedish (`None` for a retraction), in
/// the order of `view.events`, worded as [`case_text`] words them: for layouts of the
/// same history, such as the auditor's.
pub fn status_and_facts(view: &CaseView, cat: &Catalogue) -> (String, Vec<Option<String>>) {
    let fates = fates_of(view);
    let (eff, exit) = Effective::of(view, &fates);
    let facts = view.events.iter().map(|e| e.fact.as_ref().map(|f| fact_text(f, cat, &eff))).collect();
    (status_of(view, exit), facts)
}

/// The whole history, header first.
pub fn case_text(view: &CaseView, cat: &Catalogue) -> String {
    let fates = fates_of(view);
    let by_id: BTreeMap<EventId, &EventView> = view.events.iter().map(|e| (e.event_id, e)).collect();
    let (eff, exit) = Effective::of(view, &fates);

    let mut out = String::new();
    let _ = writeln!(out, "Ärende {}", view.case_id);
    let status = status_of(view, exit);
    let _ = writeln!(out, "  Status:     {status}");
    let participant = view.events.iter().find_map(|e| match &e.fact {
        Some(Fact::Enrolled(en)) => Some(en.participant),
        _ => None,
    });
    if let Some(p) = participant {
        let _ = writeln!(out, "  Deltagare:  {p}");
    }
    let mut ongoing: Vec<String> = view
        .open_placements
        .iter()
        .map(|n| match eff.placements.get(n) {
            Some(site) => format!("praktik {n} på {}", cat.name(CodeKind::Site, site)),
            None => format!("praktik {n}"),
        })
        .collect();
    ongoing.extend(view.open_trainings.iter().map(|n| match eff.trainings.get(n) {
        Some(course) => format!("utbildning {n} i {}", cat.name(CodeKind::Course, course)),
        None => format!("utbildning {n}"),
    }));
    if !view.void && (view.open || !ongoing.is_empty()) {
        let ongoing = if ongoing.is_empty() { "ingen praktik eller utbildning".to_owned() } else { ongoing.join(", ") };
        let _ = writeln!(out, "  Pågående:   {ongoing}");
    }
    let _ = writeln!(
        out,
        "  Händelser:  {} i loggens ordning (första talet är sekvensnumret i händelseloggen)",
        view.events.len()
    );

    let width = view.events.iter().map(|e| e.stream_sequence.to_string().len()).max().unwrap_or(1);
    for e in &view.events {
        let _ = writeln!(out);
        let pad = " ".repeat(width + 2);
        let mut title = format!("{:>width$}  {}  {}", e.stream_sequence, e.occurred_on, e.label);
        let target = e.corrects.and_then(|t| by_id.get(&t).copied());
        match (e.corrects, target) {
            (Some(_), Some(t)) => {
                let _ = write!(title, " av {} ({})", t.stream_sequence, t.label);
            }
            (Some(t), None) => {
                let _ = write!(title, " av händelse {t}");
            }
            _ => {}
        }
        if let Some(reason) = e.reason {
            let _ = write!(title, ", orsak: {}", reason.label());
        }
        if let Some(fate) = fates.get(&e.event_id) {
            if let Some(r) = fate.retraction {
                let _ = write!(title, "   [MAKULERAD av {}]", r.stream_sequence);
            } else if let Some(c) = fate.corrections.last() {
                let _ = write!(title, "   [RÄTTAD, gäller enligt {}]", c.stream_sequence);
            }
        }
        let _ = writeln!(out, "{title}");
        if let Some(fact) = &e.fact {
            let prefix = if e.corrects.is_some() { "Ny lydelse: " } else { "" };
            let _ = writeln!(out, "{pad}{prefix}{}", fact_text(fact, cat, &eff));
            if let Fact::Enrolled(en) = fact {
                let _ = writeln!(out, "{pad}Deltagare: {}", en.participant);
            }
        }
        if let Some(t) = e.corrects {
            let verb = if e.fact.is_some() { "rättar" } else { "makulerar" };
            let _ = writeln!(out, "{pad}{verb} händelse {t}");
        }
        let _ = writeln!(
            out,
            "{pad}registrerad {} av {} · händelse {}",
            local_time(e.recorded_at),
            e.recorded_by,
            e.event_id
        );
    }
    out
}

/// One fact in a Swedish sentence or two.
fn fact_text(fact: &Fact, cat: &Catalogue, eff: &Effective) -> String {
    let name = |kind, code: &Code| cat.name(kind, code).to_owned();
    match fact {
        Fact::Enrolled(e) => {
            let gender = capitalise(e.gender.label());
            match &e.registration {
                Registration::Consented(d) => {
                    let mut s = format!("{gender}, född {}", d.birth_year);
                    if let Some(region) = d.region_of_birth {
                        let _ = write!(s, " ({})", region.label());
                    }
                    let _ = write!(
                        s,
                        ". Kommun: {}. Remittent: {}. Försörjning vid start: {}.",
                        name(CodeKind::Municipality, &d.municipality),
                        name(CodeKind::Referrer, &d.referrer),
                        name(CodeKind::SupportSource, &d.support_at_start),
                    );
                    s
                }
                Registration::Anonymous(reason) => {
                    format!("{gender}, anonymt registrerad ({}): bara kön och inskrivningsår sparas.", reason.label())
                }
            }
        }
        Fact::PlacementStarted(p) => format!(
            "Praktik {} på {}: {}, {} tim/vecka.",
            p.placement.0,
            name(CodeKind::Site, &p.site),
            name(CodeKind::WorkArea, &p.work_area),
            p.hours_per_week
        ),
        Fact::PlacementEnded(p) => {
            let site = eff.placements.get(&p.placement.0).map(|s| format!(" på {}", name(CodeKind::Site, s)));
            format!("Praktik {}{} avslutad: {}.", p.placement.0, site.unwrap_or_default(), p.reason.label())
        }
        Fact::TrainingStarted(t) => format!(
            "Utbildning {}: {} hos {}.",
            t.training.0,
            name(CodeKind::Course, &t.course),
            name(CodeKind::Provider, &t.provider)
        ),
        Fact::TrainingCompleted(t) => format!(
            "Utbildning {}: {} hos {}, {} timmar, {}.",
            t.training.0,
            name(CodeKind::Course, &t.course),
            name(CodeKind::Provider, &t.provider),
            t.hours,
            if t.credential_earned { "behörighet/intyg uppnått" } else { "utan behörighet/intyg" }
        ),
        Fact::TrainingDiscontinued(t) => {
            let course = eff.trainings.get(&t.training.0).map(|c| format!(" i {}", name(CodeKind::Course, c)));
            format!("Utbildning {}{} avbruten: {}.", t.training.0, course.unwrap_or_default(), t.reason.label())
        }
        Fact::ProgressAssessed(a) => {
            let inst = cat.instrument(&a.instrument);
            let area_name = |area: &Code| {
                inst.and_then(|i| i.areas.iter().find(|x| &x.code == area))
                    .map_or_else(|| area.to_string(), |x| x.name.clone())
            };
            let scores: Vec<String> = a.scores.iter().map(|s| format!("{} {}", area_name(&s.area), s.score)).collect();
            let scale = inst.map(|i| format!(", skala {}–{}", i.scale_min, i.scale_max)).unwrap_or_default();
            format!(
                "{}, {}{scale}: {}.",
                name(CodeKind::Instrument, &a.instrument),
                a.assessor.label(),
                scores.join(", ")
            )
        }
        Fact::Exited(x) => match &x.support_at_exit {
            Some(support) => format!(
                "Utfall: {}. Försörjning vid avslut: {}.",
                x.outcome.label(),
                name(CodeKind::SupportSource, support)
            ),
            None => format!("Utfall: {}.", x.outcome.label()),
        },
        Fact::FollowedUp(f) => format!("Efter {}: {}.", f.point.label(), f.status.label()),
        Fact::ResponsibleChanged(r) => format!("Ansvarig från och med nu: {}.", r.responsible),
    }
}

/// One event's fact alone, as the demo and receipts describe it.
pub fn describe(fact: &Fact, cat: &Catalogue) -> String {
    let eff = Effective { placements: BTreeMap::new(), trainings: BTreeMap::new() };
    fact_text(fact, cat, &eff)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A case's audit trail: one block per event, in log order, with who recorded it when
/// and the correction links both ways.
pub fn history_text(case: CaseId, entries: &[AuditEntry], basis: &Basis) -> String {
    let seq_of: BTreeMap<EventId, (u64, &str)> =
        entries.iter().map(|e| (e.event_id, (e.stream_sequence, e.event_type.as_str()))).collect();
    let link = |id: &EventId| match seq_of.get(id) {
        Some((seq, kind)) => format!("{seq} ({})", event_type_label(kind)),
        None => format!("händelse {id}"),
    };
    let mut out = String::new();
    let _ = writeln!(out, "Ärende {case}: granskningsspår");
    let _ = writeln!(out, "{} händelser i loggens ordning. {}", entries.len(), basis.sentence());
    let _ = writeln!(out);
    let width = entries.iter().map(|e| e.stream_sequence.to_string().len()).max().unwrap_or(1).max(4);
    let label_width = entries.iter().map(|e| label_of(e).chars().count()).max().unwrap_or(8).max(8);
    let _ = writeln!(
        out,
        "{:>width$}  {:<label_width$}  {:<10}  {:<19}  Av",
        "Sekv", "Händelse", "Inträffade", "Registrerad"
    );
    let pad = " ".repeat(width + 2);
    for e in entries {
        let _ = writeln!(
            out,
            "{:>width$}  {:<label_width$}  {}  {}  {}",
            e.stream_sequence,
            label_of(e),
            e.occurred_on,
            local_time(e.recorded_at),
            e.recorded_by
        );
        if let Some(target) = &e.corrects {
            let verb = if e.event_type == "retracted" { "makulerar" } else { "rättar" };
            let _ = writeln!(out, "{pad}{verb} {}", link(target));
        }
        for by in &e.changed_by {
            let is_retraction = entries.iter().any(|x| x.event_id == *by && x.event_type == "retracted");
            let verb = if is_retraction { "makuleras av" } else { "rättas av" };
            let _ = writeln!(out, "{pad}{verb} {}", link(by));
        }
        let hash: String = e.chain_hash.chars().take(16).collect();
        let _ = writeln!(out, "{pad}händelse {} · kedjehash {hash}…", e.event_id);
    }
    let _ = write!(out, "\nTider är svensk tid. Hela kedjehashen och alla fält: stod case history {case} --json");
    out
}

fn label_of(e: &AuditEntry) -> String {
    let label = event_type_label(&e.event_type);
    match e.reason {
        Some(reason) => format!("{label} ({})", reason.label()),
        None => label.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_events::event::{AnonymityReason, CorrectionReason, Enrolled, EnrolmentDetails, Gender, RegionOfBirth};
    use stod_events::ids::{ParticipantRef, Timestamp, UserId};

    use crate::fixtures::{event as view_of, placement};

    fn code(s: &str) -> Code {
        Code::parse(s).unwrap()
    }

    #[test]
    fn history_uses_names_local_time_and_links_corrections() {
        let cat = Catalogue::default_catalogue();
        let intake = view_of(
            3,
            Some(Fact::Enrolled(Enrolled {
                participant: ParticipantRef::new(),
                gender: Gender::Woman,
                registration: Registration::Consented(EnrolmentDetails {
                    municipality: code("2084"),
                    referrer: code("af"),
                    support_at_start: code("forsorjningsstod"),
                    birth_year: 1990,
                    region_of_birth: Some(RegionOfBirth::OutsideEurope),
                }),
            })),
            None,
            None,
        );
        let place = view_of(7, Some(placement("atervinningsbutiken")), None, None);
        let fix = view_of(12, Some(placement("vaderbacken")), Some(place.event_id), Some(CorrectionReason::EntryError));
        let view = CaseView {
            case_id: CaseId::new(),
            open: true,
            void: false,
            open_placements: vec![1],
            open_trainings: vec![],
            events: vec![intake, place.clone(), fix],
        };
        let text = case_text(&view, &cat);
        assert!(text.contains("Status:     öppen"), "{text}");
        assert!(text.contains("Ludvika") && text.contains("Arbetsförmedlingen"), "{text}");
        // The placement in force is the corrected one.
        assert!(text.contains("praktik 1 på Våderbacken"), "{text}");
        assert!(text.contains(&format!("rättar händelse {}", place.event_id)), "{text}");
        assert!(text.contains("[RÄTTAD, gäller enligt 12]"), "{text}");
        // 2025-03-14T11:00:00Z is noon in Stockholm (CET).
        assert!(text.contains("registrerad 2025-03-14 12:00:00 av anna"), "{text}");
    }

    #[test]
    fn retracted_intake_voids_and_is_marked() {
        let cat = Catalogue::default_catalogue();
        let intake = view_of(
            1,
            Some(Fact::Enrolled(Enrolled {
                participant: ParticipantRef::new(),
                gender: Gender::Other,
                registration: Registration::Anonymous(AnonymityReason::ProtectedIdentity),
            })),
            None,
            None,
        );
        let retract = view_of(2, None, Some(intake.event_id), Some(CorrectionReason::WrongCase));
        let view = CaseView {
            case_id: CaseId::new(),
            open: false,
            void: true,
            open_placements: vec![],
            open_trainings: vec![],
            events: vec![intake.clone(), retract],
        };
        let text = case_text(&view, &cat);
        assert!(text.contains("Status:     makulerad"), "{text}");
        assert!(text.contains("[MAKULERAD av 2]"), "{text}");
        assert!(text.contains(&format!("makulerar händelse {}", intake.event_id)), "{text}");
        assert!(!text.contains("Pågående"), "{text}");
    }

    #[test]
    fn history_links_corrections_both_ways_in_local_time() {
        let case = CaseId::new();
        let entry = |seq: u64, kind: &str, corrects: Option<EventId>| AuditEntry {
            stream_sequence: seq,
            event_id: EventId::new(),
            case_id: case,
            event_type: kind.into(),
            occurred_on: "2025-03-14".parse().unwrap(),
            recorded_at: Timestamp::from_micros(1_741_950_000_000_000).unwrap(),
            recorded_by: UserId::parse("anna").unwrap(),
            corrects,
            reason: corrects.map(|_| CorrectionReason::WrongDate),
            chain_hash: "ab".repeat(32),
            changed_by: Vec::new(),
        };
        let intake = entry(3, "enrolled", None);
        let mut placement = entry(7, "placement_started", None);
        let fix = entry(12, "corrected", Some(placement.event_id));
        placement.changed_by.push(fix.event_id);
        let text = history_text(case, &[intake, placement, fix], &Basis::ReadModel { checkpoint: 12, generation: 1 });
        assert!(text.contains("Inskrivning") && text.contains("Rättelse (fel datum)"), "{text}");
        assert!(text.contains("rättas av 12 (Rättelse)") && text.contains("rättar 7 (Praktik påbörjad)"), "{text}");
        assert!(text.contains("2025-03-14 12:00:00  anna"), "{text}");
    }
}
