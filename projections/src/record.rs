//! The case record: one row per case, folded from its events, corrections applied.
//!
//! Every report is a function of case records, so a correction changes exactly what a
//! user expects: the case looks as if the corrected fact had been recorded right, and
//! every figure derived from it follows.

use serde::{Deserialize, Serialize};
use stod_events::event::{
    Assessor, Event, ExitOutcome, Fact, FollowUpPoint, FollowUpStatus, Gender, PlacementEndReason, RegionOfBirth,
    Registration,
};
use stod_events::ids::{CaseId, Code, Date, EventId, ParticipantRef, Timestamp};
use stod_events::RecordedEvent;

/// A fact as it stands now, with when it was first recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFact {
    pub event_id: EventId,
    pub occurred_on: Date,
    /// When the fact was first recorded (corrections keep it).
    pub recorded_at: Timestamp,
    pub fact: Fact,
    pub retracted: bool,
    pub corrections: u32,
}

/// One case as the read models see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub case_id: CaseId,
    /// Every fact in recording order, in its effective form.
    pub facts: Vec<RecordedFact>,
    /// Stream sequence of the last event folded in.
    pub last_sequence: u64,
}

impl CaseRecord {
    pub fn new(case_id: CaseId) -> Self {
        Self { case_id, facts: Vec::new(), last_sequence: 0 }
    }

    /// Folds one event in. Infallible; an event already folded in (same or lower
    /// sequence) changes nothing, so redelivery is harmless.
    pub fn apply(&mut self, sequence: u64, event: &RecordedEvent) {
        if sequence <= self.last_sequence {
            return;
        }
        self.last_sequence = sequence;
        match &event.event {
            Event::Fact(fact) => self.facts.push(RecordedFact {
                event_id: event.event_id,
                occurred_on: event.occurred_on,
                recorded_at: event.recorded_at,
                fact: fact.clone(),
                retracted: false,
                corrections: 0,
            }),
            Event::Corrected(c) => {
                if let Some(f) = self.facts.iter_mut().find(|f| f.event_id == c.target) {
                    f.fact = c.replacement.clone();
                    f.occurred_on = event.occurred_on;
                    f.corrections += 1;
                }
            }
            Event::Retracted(r) => {
                if let Some(f) = self.facts.iter_mut().find(|f| f.event_id == r.target) {
                    f.retracted = true;
                }
            }
        }
    }

    /// The case's journey, derived from its live (non-retracted) facts.
    pub fn journey(&self) -> Journey {
        Journey::derive(self, None)
    }

    /// The journey as it stood on a business date: facts that occurred after it left
    /// out (as now known, corrections included).
    pub fn journey_on(&self, date: Date) -> Journey {
        Journey::derive(self, Some(date))
    }
}

/// What a case's facts add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Journey {
    pub case_id: Option<CaseId>,
    pub intake: Option<Intake>,
    pub placements: Vec<Placement>,
    pub trainings: Vec<Training>,
    pub assessments: Vec<Assessment>,
    pub exit: Option<Exit>,
    pub follow_ups: Vec<FollowUp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Intake {
    pub date: Date,
    pub participant: ParticipantRef,
    pub gender: Gender,
    pub anonymous: bool,
    pub municipality: Option<Code>,
    pub referrer: Option<Code>,
    pub support_at_start: Option<Code>,
    pub birth_year: Option<u16>,
    pub region_of_birth: Option<RegionOfBirth>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub number: u16,
    pub site: Code,
    pub work_area: Code,
    pub hours_per_week: u8,
    pub start: Date,
    pub end: Option<Date>,
    pub end_reason: Option<PlacementEndReason>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Training {
    pub number: u16,
    pub course: Code,
    pub provider: Code,
    pub start: Option<Date>,
    pub completed: Option<Date>,
    pub discontinued: Option<Date>,
    pub hours: Option<u16>,
    pub credential_earned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub date: Date,
    pub instrument: Code,
    pub assessor: Assessor,
    /// Mean of the area scores, in hundredths (to stay an integer).
    pub mean_x100: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exit {
    pub date: Date,
    pub outcome: ExitOutcome,
    pub support_at_exit: Option<Code>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub date: Date,
    pub point: FollowUpPoint,
    pub status: FollowUpStatus,
}

impl Journey {
    fn derive(record: &CaseRecord, until: Option<Date>) -> Journey {
        let mut j = Journey { case_id: Some(record.case_id), ..Journey::default() };
        let live = record.facts.iter().filter(|f| !f.retracted);
        for f in live.filter(|f| until.is_none_or(|u| f.occurred_on <= u)) {
            let date = f.occurred_on;
            match &f.fact {
                Fact::Enrolled(e) => {
                    let (municipality, referrer, support, birth_year, region) = match &e.registration {
                        Registration::Consented(d) => (
                            Some(d.municipality.clone()),
                            Some(d.referrer.clone()),
                            Some(d.support_at_start.clone()),
                            Some(d.birth_year),
                            d.region_of_birth,
                        ),
                        Registration::Anonymous(_) => (None, None, None, None, None),
                    };
                    j.intake = Some(Intake {
                        date,
                        participant: e.participant,
                        gender: e.gender,
                        anonymous: matches!(e.registration, Registration::Anonymous(_)),
                        municipality,
                        referrer,
                        support_at_start: support,
                        birth_year,
                        region_of_birth: region,
                    });
                }
                Fact::PlacementStarted(p) => j.placements.push(Placement {
                    number: p.placement.0,
                    site: p.site.clone(),
                    work_area: p.work_area.clone(),
                    hours_per_week: p.hours_per_week,
                    start: date,
                    end: None,
                    end_reason: None,
                }),
                Fact::PlacementEnded(p) => {
                    if let Some(pl) = j.placements.iter_mut().find(|x| x.number == p.placement.0) {
                        pl.end = Some(date);
                        pl.end_reason = Some(p.reason);
                    }
                }
                Fact::TrainingStarted(t) => j.trainings.push(Training {
                    number: t.training.0,
                    course: t.course.clone(),
                    provider: t.provider.clone(),
                    start: Some(date),
                    completed: None,
                    discontinued: None,
                    hours: None,
                    credential_earned: false,
                }),
                Fact::TrainingCompleted(t) => match j.trainings.iter_mut().find(|x| x.number == t.training.0) {
                    Some(tr) => {
                        tr.completed = Some(date);
                        tr.hours = Some(t.hours);
                        tr.credential_earned = t.credential_earned;
                    }
                    None => j.trainings.push(Training {
                        number: t.training.0,
                        course: t.course.clone(),
                        provider: t.provider.clone(),
                        start: None,
                        completed: Some(date),
                        discontinued: None,
                        hours: Some(t.hours),
                        credential_earned: t.credential_earned,
                    }),
                },
                Fact::TrainingDiscontinued(t) => {
                    if let Some(tr) = j.trainings.iter_mut().find(|x| x.number == t.training.0) {
                        tr.discontinued = Some(date);
                    }
                }
                Fact::ProgressAssessed(a) => {
                    let n = a.scores.len().max(1) as u32;
                    let sum: u32 = a.scores.iter().map(|s| u32::from(s.score)).sum();
                    j.assessments.push(Assessment {
                        date,
                        instrument: a.instrument.clone(),
                        assessor: a.assessor,
                        mean_x100: sum * 100 / n,
                    });
                }
                Fact::Exited(x) => {
                    j.exit = Some(Exit { date, outcome: x.outcome, support_at_exit: x.support_at_exit.clone() })
                }
                Fact::FollowedUp(f) => j.follow_ups.push(FollowUp { date, point: f.point, status: f.status }),
            }
        }
        j
    }

    /// Enrolled (intake not retracted).
    pub fn enrolled(&self) -> bool {
        self.intake.is_some()
    }

    /// In the operation on `date`: enrolled on or before it, not exited before it.
    pub fn active_on(&self, date: Date) -> bool {
        match &self.intake {
            Some(i) if i.date <= date => self.exit.as_ref().is_none_or(|x| x.date >= date),
            _ => false,
        }
    }

    /// In the operation at some time in `[from, to]`.
    pub fn active_during(&self, from: Date, to: Date) -> bool {
        match &self.intake {
            Some(i) if i.date <= to => self.exit.as_ref().is_none_or(|x| x.date >= from),
            _ => false,
        }
    }

    pub fn first_placement_start(&self) -> Option<Date> {
        self.placements.iter().map(|p| p.start).min()
    }
}
