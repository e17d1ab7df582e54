//! The caseload (*ärendelista*): per case who is responsible for it, where it stands and
//! what is due; and the worklist rules that say what is due (`docs/worklist.md`).
//!
//! Every rule is dated from the case's own facts, so a case's worklist on a given day
//! is a pure function of its journey and that day: the same on every projector, in a
//! replay, and in a test. The rules that the steering group also sees as alerts
//! ([`crate::steering`]) use the same thresholds, so that a case is on the worklist
//! from the very day it is counted in the steering report.

use chrono::Months;
use serde::{Deserialize, Serialize};
use stod_events::event::FollowUpPoint;
use stod_events::ids::{CaseId, Code, Date, UserId};

use crate::record::Journey;
use crate::steering::{INTAKE_WITHOUT_PLACEMENT_DAYS, LONG_STAY_DAYS, OPEN_PLACEMENT_DAYS};

/// Months without a progress assessment after which one is due (from the intake, or
/// from the latest assessment).
pub const ASSESSMENT_INTERVAL_MONTHS: u32 = 3;
/// Days after a follow-up's due date after which it is overdue.
pub const FOLLOW_UP_GRACE_DAYS: i64 = 30;

/// What a rule says is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueRule {
    /// No placement 30 days after the intake.
    NoPlacement,
    /// A placement open for over 6 months.
    LongPlacement,
    /// No progress assessment for 3 months while the case is active.
    NoAssessment,
    /// The follow-up 3 months after the exit.
    FollowUp3,
    /// The follow-up 6 months after the exit.
    FollowUp6,
    /// The follow-up 12 months after the exit.
    FollowUp12,
    /// In the programme for over 12 months.
    LongStay,
}

impl DueRule {
    pub const ALL: [DueRule; 7] = [
        DueRule::NoPlacement,
        DueRule::LongPlacement,
        DueRule::NoAssessment,
        DueRule::FollowUp3,
        DueRule::FollowUp6,
        DueRule::FollowUp12,
        DueRule::LongStay,
    ];

    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DueRule::NoPlacement => "no_placement",
            DueRule::LongPlacement => "long_placement",
            DueRule::NoAssessment => "no_assessment",
            DueRule::FollowUp3 => "follow_up_3",
            DueRule::FollowUp6 => "follow_up_6",
            DueRule::FollowUp12 => "follow_up_12",
            DueRule::LongStay => "long_stay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    /// What is due, in plain Swedish.
    pub fn label_sv(self) -> &'static str {
        match self {
            DueRule::NoPlacement => "Ingen praktik 30 dagar efter inskrivningen",
            DueRule::LongPlacement => "Praktiken har pågått i över 6 månader",
            DueRule::NoAssessment => "Ingen stegförflyttning på 3 månader",
            DueRule::FollowUp3 => "Uppföljning 3 månader efter avslut",
            DueRule::FollowUp6 => "Uppföljning 6 månader efter avslut",
            DueRule::FollowUp12 => "Uppföljning 12 månader efter avslut",
            DueRule::LongStay => "Inskriven i över 12 månader",
        }
    }

    fn follow_up(point: FollowUpPoint) -> Self {
        match point {
            FollowUpPoint::Months3 => DueRule::FollowUp3,
            FollowUpPoint::Months6 => DueRule::FollowUp6,
            FollowUpPoint::Months12 => DueRule::FollowUp12,
        }
    }
}

/// One thing due on a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueItem {
    pub rule: DueRule,
    /// The day it became due.
    pub since: Date,
    /// The day it is overdue from (follow-ups only: 30 days after they are due).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_from: Option<Date>,
    /// Whether it is overdue on the caseload's day.
    #[serde(default)]
    pub overdue: bool,
    /// The placement it concerns ([`DueRule::LongPlacement`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<u16>,
}

fn plus_days(d: Date, days: i64) -> Date {
    Date::new(d.naive() + chrono::Duration::days(days))
}

fn plus_months(d: Date, months: u32) -> Date {
    Date::new(d.naive().checked_add_months(Months::new(months)).unwrap_or(chrono::NaiveDate::MAX))
}

/// What is due on a case on `today`, oldest first. Nothing is due on a case without an
/// intake; after the exit only the follow-ups not yet recorded are.
pub fn due_items(j: &Journey, today: Date) -> Vec<DueItem> {
    let mut due = Vec::new();
    let Some(intake) = &j.intake else { return due };
    let mut push = |rule, since: Date, overdue_from: Option<Date>, placement| {
        if since <= today {
            due.push(DueItem {
                rule,
                since,
                overdue_from,
                overdue: overdue_from.is_some_and(|o| o <= today),
                placement,
            });
        }
    };
    match &j.exit {
        None => {
            // The same thresholds as the steering group's alerts.
            if j.placements.is_empty() {
                push(DueRule::NoPlacement, plus_days(intake.date, INTAKE_WITHOUT_PLACEMENT_DAYS), None, None);
            }
            for p in j.placements.iter().filter(|p| p.end.is_none()) {
                push(DueRule::LongPlacement, plus_days(p.start, OPEN_PLACEMENT_DAYS + 1), None, Some(p.number));
            }
            let last = j.assessments.iter().map(|a| a.date).max().map_or(intake.date, |a| a.max(intake.date));
            push(DueRule::NoAssessment, plus_months(last, ASSESSMENT_INTERVAL_MONTHS), None, None);
            push(DueRule::LongStay, plus_days(intake.date, LONG_STAY_DAYS + 1), None, None);
        }
        Some(exit) => {
            for point in [FollowUpPoint::Months3, FollowUpPoint::Months6, FollowUpPoint::Months12] {
                if j.follow_ups.iter().any(|f| f.point == point) {
                    continue;
                }
                let since = plus_months(exit.date, point.months());
                push(DueRule::follow_up(point), since, Some(plus_days(since, FOLLOW_UP_GRACE_DAYS)), None);
            }
        }
    }
    due.sort_by_key(|d| (d.since, d.rule));
    due
}

/// Where a case stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Enrolled and not exited (*aktiv*).
    Active,
    /// Exited (*avslutad*).
    Exited,
    /// Events without a live intake (*utan inskrivning*): an intake retracted, say.
    NoIntake,
}

impl CaseStatus {
    pub fn of(j: &Journey) -> Self {
        match (&j.intake, &j.exit) {
            (None, _) => CaseStatus::NoIntake,
            (Some(_), None) => CaseStatus::Active,
            (Some(_), Some(_)) => CaseStatus::Exited,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CaseStatus::Active => "active",
            CaseStatus::Exited => "exited",
            CaseStatus::NoIntake => "no_intake",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CaseStatus::Active, CaseStatus::Exited, CaseStatus::NoIntake].into_iter().find(|c| c.name() == s)
    }

    pub fn label_sv(self) -> &'static str {
        match self {
            CaseStatus::Active => "aktiv",
            CaseStatus::Exited => "avslutad",
            CaseStatus::NoIntake => "utan inskrivning",
        }
    }
}

/// One case on a caseload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadEntry {
    pub case_id: CaseId,
    /// Who is responsible (*ansvarig*): the case worker the latest reassignment names,
    /// or else the one who recorded the intake.
    pub responsible: Option<UserId>,
    pub status: CaseStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<Date>,
    /// The placement running now (the latest started, if several), and its site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Code>,
    /// The course under way (started, neither completed nor discontinued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assessment: Option<Date>,
    pub due: Vec<DueItem>,
}

impl CaseloadEntry {
    /// The entry of a case whose journey (as it stood on `today`) is `j`; none for a
    /// case with no fact by then.
    ///
    /// `recorder` is who recorded the intake: responsible until a reassignment.
    pub fn of(j: &Journey, recorder: Option<UserId>, today: Date) -> Option<Self> {
        let case_id = j.case_id?;
        let empty = j.intake.is_none()
            && j.exit.is_none()
            && j.placements.is_empty()
            && j.trainings.is_empty()
            && j.assessments.is_empty()
            && j.follow_ups.is_empty();
        if empty {
            return None;
        }
        let running = j.placements.iter().filter(|p| p.end.is_none()).max_by_key(|p| (p.start, p.number));
        let course = j
            .trainings
            .iter()
            .filter(|t| t.start.is_some() && t.completed.is_none() && t.discontinued.is_none())
            .max_by_key(|t| (t.start, t.number));
        Some(CaseloadEntry {
            case_id,
            responsible: j.reassigned_to.clone().or(recorder),
            status: CaseStatus::of(j),
            intake: j.intake.as_ref().map(|i| i.date),
            exit: j.exit.as_ref().map(|e| e.date),
            placement: running.map(|p| p.number),
            site: running.map(|p| p.site.clone()),
            course: course.map(|t| t.course.clone()),
            last_assessment: j.assessments.iter().map(|a| a.date).max(),
            due: due_items(j, today),
        })
    }

    /// A case with no live fact (everything retracted), for a lookup by id: it exists,
    /// and nothing stands in it.
    pub fn bare(case_id: CaseId, recorder: Option<UserId>) -> Self {
        CaseloadEntry {
            case_id,
            responsible: recorder,
            status: CaseStatus::NoIntake,
            intake: None,
            exit: None,
            placement: None,
            site: None,
            course: None,
            last_assessment: None,
            due: Vec::new(),
        }
    }

    /// The oldest thing due, if any.
    pub fn first_due(&self) -> Option<Date> {
        self.due.first().map(|d| d.since)
    }
}

/// Which cases a caseload holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseloadQuery {
    /// Only the cases this user is responsible for (none: every case).
    #[serde(default)]
    pub responsible: Option<UserId>,
    #[serde(default)]
    pub status: Option<CaseStatus>,
    /// Only cases with a running placement at this site.
    #[serde(default)]
    pub site: Option<Code>,
    /// Only cases with something due (of this rule, if given).
    #[serde(default)]
    pub due: bool,
    #[serde(default)]
    pub rule: Option<DueRule>,
    /// Only cases whose id starts with this (hex digits, with or without the dashes).
    /// A lookup by id: every case the read models hold counts, also one whose facts
    /// were all retracted, so that a start shared with such a case is never taken as
    /// unique.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The day the rules are applied on (default: today in Sweden).
    #[serde(default)]
    pub today: Option<Date>,
    /// Most cases in the answer (default and most: [`Caseload::MAX_CASES`]).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl CaseloadQuery {
    /// Whether an entry passes the filters other than the responsible and the prefix.
    pub fn admits(&self, e: &CaseloadEntry) -> bool {
        self.status.is_none_or(|s| e.status == s)
            && self.site.as_ref().is_none_or(|s| e.site.as_ref() == Some(s))
            && (!self.due || !e.due.is_empty())
            && self.rule.is_none_or(|r| e.due.iter().any(|d| d.rule == r))
    }
}

/// A caseload: the cases that match, most urgent first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caseload {
    pub today: Date,
    /// Cases that match (all of them, also those left out past the limit).
    pub total: u32,
    /// Fewer cases listed than match.
    pub truncated: bool,
    pub cases: Vec<CaseloadEntry>,
}

impl Caseload {
    /// Most cases in one answer: a NATS message holds 1 MiB.
    pub const MAX_CASES: u32 = 2000;
    /// Most bytes of JSON the cases of one answer take (the rest of the answer and its
    /// envelope stay well under NATS's 1 MiB).
    pub const MAX_JSON_BYTES: usize = 900 * 1024;

    /// Cuts the list so that its JSON stays within `max_bytes`, marking it truncated.
    pub fn fit(&mut self, max_bytes: usize) {
        // The brackets, then each case and its comma.
        let mut used = 2;
        let mut keep = self.cases.len();
        for (i, e) in self.cases.iter().enumerate() {
            used += serde_json::to_vec(e).map_or(0, |v| v.len()) + 1;
            if used > max_bytes {
                keep = i;
                break;
            }
        }
        if keep < self.cases.len() {
            self.cases.truncate(keep);
            self.truncated = true;
        }
    }

    /// The caseload of `entries`: sorted with the oldest due item first, then the
    /// cases with nothing due by their intake, newest first; cut at the limit.
    pub fn of(mut entries: Vec<CaseloadEntry>, today: Date, limit: Option<u32>) -> Self {
        entries.sort_by(|a, b| {
            let key =
                |e: &CaseloadEntry| (e.first_due().is_none(), e.first_due(), std::cmp::Reverse(e.intake), e.case_id);
            key(a).cmp(&key(b))
        });
        let total = entries.len() as u32;
        let limit = limit.unwrap_or(Self::MAX_CASES).min(Self::MAX_CASES) as usize;
        let truncated = entries.len() > limit;
        entries.truncate(limit);
        Caseload { today, total, truncated, cases: entries }
    }
}
