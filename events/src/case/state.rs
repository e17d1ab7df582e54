//! What the write path knows about one case, folded from its events.
//!
//! [`CaseState::evolve`] never fails and holds no rule: every rule lives in
//! [`super::decide`]. Corrections and retractions rewrite the effective facts, and the
//! summary is derived again from them, so a corrected case looks exactly as if the
//! corrected fact had been recorded right in the first place.

use std::collections::BTreeMap;

use crate::envelope::{ChainHash, SealedEvent};
use crate::event::{Event, ExitOutcome, Fact, FollowUpPoint, Gender, PlacementNo, Registration, TrainingNo};
use crate::ids::{CaseId, Code, Date, EventId, ParticipantRef, SubmissionId};

/// A fact as it stands now, after any corrections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactEntry {
    /// The event that first recorded the fact; corrections and retractions point here.
    pub event_id: EventId,
    pub occurred_on: Date,
    pub fact: Fact,
    pub retracted: bool,
    /// How many corrections superseded the original.
    pub corrections: u32,
}

/// The folded state of one case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseState {
    pub case_id: Option<CaseId>,
    /// Every fact in recording order, in its effective form.
    pub facts: Vec<FactEntry>,
    /// Events recorded per submission: a retried submission is answered with these.
    pub submissions: BTreeMap<SubmissionId, Vec<EventId>>,
    /// Chain hash of the last event, which the next event links to.
    pub last_hash: ChainHash,
    /// How many events the case holds (facts, corrections and retractions).
    pub events: u64,
    /// Numbers handed out so far; kept apart from `summary` because numbers of
    /// retracted placements and trainings are never handed out again.
    pub last_placement_no: u16,
    pub last_training_no: u16,
    pub summary: Summary,
}

/// The case as the rules see it, derived from the non-retracted facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub intake: Option<Intake>,
    /// The intake was retracted: the case was registered in error.
    pub void: bool,
    pub exit: Option<Exit>,
    pub placements: BTreeMap<PlacementNo, Placement>,
    pub trainings: BTreeMap<TrainingNo, Training>,
    pub follow_ups: BTreeMap<FollowUpPoint, Date>,
    pub assessments: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intake {
    pub date: Date,
    pub participant: ParticipantRef,
    pub gender: Gender,
    pub anonymous: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub date: Date,
    pub outcome: ExitOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub site: Code,
    pub work_area: Code,
    pub started: Date,
    pub ended: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Training {
    pub course: Code,
    pub provider: Code,
    /// `None` for a completion recorded without a start.
    pub started: Option<Date>,
    pub closed: Option<Date>,
}

impl Summary {
    /// Folds one fact in. Infallible: a fact that breaks a rule cannot be here, because
    /// `decide` refused it; should one arrive anyway (a foreign writer), it is folded as
    /// well as it can be rather than lost.
    pub fn apply(&mut self, date: Date, fact: &Fact) {
        match fact {
            Fact::Enrolled(e) => {
                self.intake = Some(Intake {
                    date,
                    participant: e.participant,
                    gender: e.gender,
                    anonymous: matches!(e.registration, Registration::Anonymous(_)),
                });
            }
            Fact::PlacementStarted(p) => {
                self.placements.insert(
                    p.placement,
                    Placement { site: p.site.clone(), work_area: p.work_area.clone(), started: date, ended: None },
                );
            }
            Fact::PlacementEnded(p) => {
                if let Some(pl) = self.placements.get_mut(&p.placement) {
                    pl.ended = Some(date);
                }
            }
            Fact::TrainingStarted(t) => {
                self.trainings.insert(
                    t.training,
                    Training {
                        course: t.course.clone(),
                        provider: t.provider.clone(),
                        started: Some(date),
                        closed: None,
                    },
                );
            }
            Fact::TrainingCompleted(t) => {
                let entry = self.trainings.entry(t.training).or_insert_with(|| Training {
                    course: t.course.clone(),
                    provider: t.provider.clone(),
                    started: None,
                    closed: None,
                });
                entry.closed = Some(date);
            }
            Fact::TrainingDiscontinued(t) => {
                if let Some(tr) = self.trainings.get_mut(&t.training) {
                    tr.closed = Some(date);
                }
            }
            Fact::ProgressAssessed(_) => self.assessments += 1,
            Fact::Exited(x) => self.exit = Some(Exit { date, outcome: x.outcome }),
            Fact::FollowedUp(f) => {
                self.follow_ups.insert(f.point, date);
            }
            // Who is responsible is no rule's concern: the read models follow it.
            Fact::ResponsibleChanged(_) => {}
        }
    }

    /// Derives the summary from effective facts.
    pub fn derive<'a>(facts: impl IntoIterator<Item = &'a FactEntry>) -> Summary {
        match Self::fold_checked(facts, |_, _| Ok::<(), std::convert::Infallible>(())) {
            Ok(summary) => summary,
            Err(never) => match never {},
        }
    }

    /// Folds the live facts in order, calling `check` with the summary so far before
    /// each one, and stopping at the first error. Retracted facts are skipped; a
    /// retracted intake with no live one makes the case void.
    pub fn fold_checked<'a, E>(
        facts: impl IntoIterator<Item = &'a FactEntry>,
        mut check: impl FnMut(&Summary, &FactEntry) -> Result<(), E>,
    ) -> Result<Summary, E> {
        let mut summary = Summary::default();
        let mut intake_retracted = false;
        for entry in facts {
            if entry.retracted {
                intake_retracted |= matches!(entry.fact, Fact::Enrolled(_));
                continue;
            }
            summary.void = intake_retracted && summary.intake.is_none();
            check(&summary, entry)?;
            summary.apply(entry.occurred_on, &entry.fact);
        }
        summary.void = intake_retracted && summary.intake.is_none();
        Ok(summary)
    }

    pub fn open_placements(&self) -> Vec<u16> {
        self.placements.iter().filter(|(_, p)| p.ended.is_none()).map(|(n, _)| n.0).collect()
    }

    pub fn open_trainings(&self) -> Vec<u16> {
        self.trainings.iter().filter(|(_, t)| t.started.is_some() && t.closed.is_none()).map(|(n, _)| n.0).collect()
    }

    /// Open means enrolled and not exited: the participant is in the operation.
    pub fn is_open(&self) -> bool {
        self.intake.is_some() && self.exit.is_none()
    }
}

impl CaseState {
    /// Folds one stored event in. Infallible and free of rules.
    pub fn evolve(&mut self, sealed: &SealedEvent) {
        let ev = &sealed.event;
        self.case_id = Some(ev.case_id);
        self.events += 1;
        self.last_hash = sealed.chain_hash;
        self.submissions.entry(ev.submission_id).or_default().push(ev.event_id);
        match &ev.event {
            Event::Fact(fact) => {
                match fact {
                    Fact::PlacementStarted(p) => self.last_placement_no = self.last_placement_no.max(p.placement.0),
                    Fact::TrainingStarted(t) => self.last_training_no = self.last_training_no.max(t.training.0),
                    Fact::TrainingCompleted(t) => self.last_training_no = self.last_training_no.max(t.training.0),
                    _ => {}
                }
                self.summary.apply(ev.occurred_on, fact);
                self.facts.push(FactEntry {
                    event_id: ev.event_id,
                    occurred_on: ev.occurred_on,
                    fact: fact.clone(),
                    retracted: false,
                    corrections: 0,
                });
            }
            Event::Corrected(c) => {
                if let Some(entry) = self.facts.iter_mut().find(|f| f.event_id == c.target) {
                    entry.fact = c.replacement.clone();
                    entry.occurred_on = ev.occurred_on;
                    entry.corrections += 1;
                }
                self.summary = Summary::derive(&self.facts);
            }
            Event::Retracted(r) => {
                if let Some(entry) = self.facts.iter_mut().find(|f| f.event_id == r.target) {
                    entry.retracted = true;
                }
                self.summary = Summary::derive(&self.facts);
            }
        }
    }

    /// The events a submission already recorded, if this case has seen it.
    pub fn already_applied(&self, submission: &SubmissionId) -> Option<&[EventId]> {
        self.submissions.get(submission).map(Vec::as_slice)
    }

    pub fn fact(&self, event_id: &EventId) -> Option<&FactEntry> {
        self.facts.iter().find(|f| &f.event_id == event_id)
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }
}
