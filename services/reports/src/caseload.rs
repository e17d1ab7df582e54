//! The caseload (`stod case list`) and the worklist (`stod worklist`) as a case worker
//! reads them: one line per case, or one line per thing due with the command that
//! resolves it.

use std::fmt::Write as _;

use stod_events::ids::{CaseId, Date};
use stod_events::reference::{Catalogue, CodeKind};
use stod_projections::{Caseload, CaseloadEntry, DueItem, DueRule};

use crate::Basis;

/// The command that resolves a due item, with the case filled in and the rest to fill.
pub fn resolving_command(case: CaseId, item: &DueItem, today: Date) -> String {
    match item.rule {
        DueRule::NoPlacement => {
            format!("stod place --case {case} --date {today} --site ARBETSPLATS --work-area OMRÅDE --hours TIMMAR")
        }
        DueRule::LongPlacement => format!(
            "stod end-placement --case {case} --date {today} --placement {} --reason ORSAK",
            item.placement.unwrap_or(1)
        ),
        DueRule::NoAssessment => format!(
            "stod assess --case {case} --date {today} --instrument INSTRUMENT --assessor BEDÖMARE --score OMRÅDE=POÄNG"
        ),
        DueRule::FollowUp3 | DueRule::FollowUp6 | DueRule::FollowUp12 => {
            let months = match item.rule {
                DueRule::FollowUp3 => 3,
                DueRule::FollowUp6 => 6,
                _ => 12,
            };
            format!("stod follow-up --case {case} --date {today} --months {months} --status STATUS")
        }
        DueRule::LongStay => format!("stod exit --case {case} --date {today} --outcome UTFALL"),
    }
}

fn status_line(e: &CaseloadEntry, cat: &Catalogue) -> String {
    let mut s = e.status.label_sv().to_owned();
    if let Some(i) = e.intake {
        let _ = write!(s, ", inskriven {i}");
    }
    if let Some(x) = e.exit {
        let _ = write!(s, ", avslutad {x}");
    }
    if let Some(site) = &e.site {
        let _ = write!(s, ", praktik på {}", cat.name(CodeKind::Site, site));
    }
    if let Some(course) = &e.course {
        let _ = write!(s, ", utbildning {}", cat.name(CodeKind::Course, course));
    }
    if let Some(a) = e.last_assessment {
        let _ = write!(s, ", senaste stegförflyttning {a}");
    }
    s
}

fn due_text(d: &DueItem) -> String {
    let mut s = format!("{} (sedan {}", d.rule.label_sv(), d.since);
    if d.overdue {
        s.push_str(", försenad");
    }
    s.push(')');
    s
}

fn truncated_line(c: &Caseload) -> Option<String> {
    c.truncated.then(|| {
        format!("Visar {} av {} ärenden; avgränsa med --status, --site, --due eller --limit.", c.cases.len(), c.total)
    })
}

/// The caseload: one block per case, what is due under it.
pub fn caseload_text(c: &Caseload, whose: &str, cat: &Catalogue, basis: &Basis) -> String {
    let mut out = format!("Ärenden ({whose}) per {}: {} st\n", c.today, c.total);
    if c.cases.is_empty() {
        out.push_str("\nInga ärenden.\n");
    }
    for e in &c.cases {
        let who = e.responsible.as_ref().map_or("ingen ansvarig".to_owned(), |u| format!("ansvarig {u}"));
        let _ = writeln!(out, "\n{}  {}  ({who})", e.case_id, status_line(e, cat));
        for d in &e.due {
            let _ = writeln!(out, "    att göra: {}", due_text(d));
        }
    }
    if let Some(t) = truncated_line(c) {
        let _ = writeln!(out, "\n{t}");
    }
    let _ = write!(out, "\n{}", basis.sentence());
    out
}

/// One row of the worklist.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WorkItem {
    pub case_id: CaseId,
    pub responsible: Option<stod_events::ids::UserId>,
    #[serde(flatten)]
    pub item: DueItem,
    pub label: &'static str,
    pub command: String,
}

/// Every due item of the caseload's cases, oldest first, each with the command that
/// resolves it dated `record_on` (today: a worklist made for another day still
/// resolves its items now).
pub fn work_items(c: &Caseload, record_on: Date) -> Vec<WorkItem> {
    let mut items: Vec<WorkItem> = c
        .cases
        .iter()
        .flat_map(|e| {
            e.due.iter().map(|d| WorkItem {
                case_id: e.case_id,
                responsible: e.responsible.clone(),
                item: d.clone(),
                label: d.rule.label_sv(),
                command: resolving_command(e.case_id, d, record_on),
            })
        })
        .collect();
    items.sort_by_key(|w| (w.item.since, w.item.rule, w.case_id));
    items
}

/// The worklist: what is due, oldest first, each with the command that resolves it.
pub fn worklist_text(c: &Caseload, whose: &str, record_on: Date, basis: &Basis) -> String {
    let items = work_items(c, record_on);
    let mut out = format!("Att göra ({whose}) per {}: {} st\n", c.today, items.len());
    if items.is_empty() {
        out.push_str("\nInget att göra.\n");
    }
    for w in &items {
        let late = if w.item.overdue { ", försenad" } else { "" };
        let _ = writeln!(out, "\n{}  {}{late}  ärende {}", w.item.since, w.label, w.case_id);
        let _ = writeln!(out, "    {}", w.command);
    }
    if let Some(t) = truncated_line(c) {
        let _ = writeln!(out, "\n{t}");
    }
    let _ = write!(out, "\n{}", basis.sentence());
    out
}
