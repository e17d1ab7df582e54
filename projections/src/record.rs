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
use stod_events::ids::{CaseId, Code, Date, EventId, ParticipantRef, Timestamp, UserId};
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
///
/// Codes are `C`: [`Code`] everywhere but in the projector's own bookkeeping
/// ([`crate::model`]), which derives journeys with small symbols instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Journey<C = Code> {
    pub case_id: Option<CaseId>,
    pub intake: Option<Intake<C>>,
    pub placements: Vec<Placement<C>>,
    pub trainings: Vec<Training<C>>,
    pub assessments: Vec<Assessment<C>>,
    pub exit: Option<Exit<C>>,
    pub follow_ups: Vec<FollowUp>,
    /// The case worker the latest live reassignment names; until one, the intake's
    /// recorder is responsible (not a fact of the journey, so not here).
    pub reassigned_to: Option<UserId>,
}

impl<C> Default for Journey<C> {
    fn default() -> Self {
        Journey {
            case_id: None,
            intake: None,
            placements: Vec::new(),
            trainings: Vec::new(),
            assessments: Vec::new(),
            exit: None,
            follow_ups: Vec::new(),
            reassigned_to: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Intake<C = Code> {
    pub date: Date,
    pub participant: ParticipantRef,
    pub gender: Gender,
    pub anonymous: bool,
    pub municipality: Option<C>,
    pub referrer: Option<C>,
    pub support_at_start: Option<C>,
    pub birth_year: Option<u16>,
    pub region_of_birth: Option<RegionOfBirth>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placement<C = Code> {
    pub number: u16,
    pub site: C,
    pub work_area: C,
    pub hours_per_week: u8,
    pub start: Date,
    pub end: Option<Date>,
    pub end_reason: Option<PlacementEndReason>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Training<C = Code> {
    pub number: u16,
    pub course: C,
    pub provider: C,
    pub start: Option<Date>,
    pub completed: Option<Date>,
    pub discontinued: Option<Date>,
    pub hours: Option<u16>,
    pub credential_earned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment<C = Code> {
    pub date: Date,
    pub instrument: C,
    pub assessor: Assessor,
    /// Mean of the area scores, in hundredths (to stay an integer).
    pub mean_x100: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exit<C = Code> {
    pub date: Date,
    pub outcome: ExitOutcome,
    pub support_at_exit: Option<C>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub date: Date,
    pub point: FollowUpPoint,
    pub status: FollowUpStatus,
}

/// What one fact adds to a journey, with its codes as `C`: [`Code`] when derived from a
/// [`CaseRecord`], a small symbol in the projector's compact case state
/// ([`crate::model::CompactCase`]). Both derive journeys through [`Journey::from_items`],
/// so there is one meaning of a journey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item<C> {
    Intake {
        participant: ParticipantRef,
        gender: Gender,
        anonymous: bool,
        municipality: Option<C>,
        referrer: Option<C>,
        support_at_start: Option<C>,
        birth_year: Option<u16>,
        region_of_birth: Option<RegionOfBirth>,
    },
    PlacementStarted {
        number: u16,
        site: C,
        work_area: C,
        hours_per_week: u8,
    },
    PlacementEnded {
        number: u16,
        reason: PlacementEndReason,
    },
    TrainingStarted {
        number: u16,
        course: C,
        provider: C,
    },
    TrainingCompleted {
        number: u16,
        course: C,
        provider: C,
        hours: u16,
        credential_earned: bool,
    },
    TrainingDiscontinued {
        number: u16,
    },
    Assessment {
        instrument: C,
        assessor: Assessor,
        mean_x100: u32,
    },
    Exit {
        outcome: ExitOutcome,
        support_at_exit: Option<C>,
    },
    FollowUp {
        point: FollowUpPoint,
        status: FollowUpStatus,
    },
    Reassigned {
        responsible: UserId,
    },
}

impl<C> Item<C> {
    /// The same item with its codes mapped.
    pub fn map<D>(&self, mut f: impl FnMut(&C) -> D) -> Item<D> {
        match self {
            Item::Intake {
                participant,
                gender,
                anonymous,
                municipality,
                referrer,
                support_at_start,
                birth_year,
                region_of_birth,
            } => Item::Intake {
                participant: *participant,
                gender: *gender,
                anonymous: *anonymous,
                municipality: municipality.as_ref().map(&mut f),
                referrer: referrer.as_ref().map(&mut f),
                support_at_start: support_at_start.as_ref().map(&mut f),
                birth_year: *birth_year,
                region_of_birth: *region_of_birth,
            },
            Item::PlacementStarted { number, site, work_area, hours_per_week } => Item::PlacementStarted {
                number: *number,
                site: f(site),
                work_area: f(work_area),
                hours_per_week: *hours_per_week,
            },
            Item::PlacementEnded { number, reason } => Item::PlacementEnded { number: *number, reason: *reason },
            Item::TrainingStarted { number, course, provider } => {
                Item::TrainingStarted { number: *number, course: f(course), provider: f(provider) }
            }
            Item::TrainingCompleted { number, course, provider, hours, credential_earned } => Item::TrainingCompleted {
                number: *number,
                course: f(course),
                provider: f(provider),
                hours: *hours,
                credential_earned: *credential_earned,
            },
            Item::TrainingDiscontinued { number } => Item::TrainingDiscontinued { number: *number },
            Item::Assessment { instrument, assessor, mean_x100 } => {
                Item::Assessment { instrument: f(instrument), assessor: *assessor, mean_x100: *mean_x100 }
            }
            Item::Exit { outcome, support_at_exit } => {
                Item::Exit { outcome: *outcome, support_at_exit: support_at_exit.as_ref().map(f) }
            }
            Item::FollowUp { point, status } => Item::FollowUp { point: *point, status: *status },
            Item::Reassigned { responsible } => Item::Reassigned { responsible: responsible.clone() },
        }
    }
}

impl Item<Code> {
    /// What `fact` adds to a journey.
    pub fn of(fact: &Fact) -> Self {
        match fact {
            Fact::Enrolled(e) => {
                let (municipality, referrer, support_at_start, birth_year, region_of_birth) = match &e.registration {
                    Registration::Consented(d) => (
                        Some(d.municipality.clone()),
                        Some(d.referrer.clone()),
                        Some(d.support_at_start.clone()),
                        Some(d.birth_year),
                        d.region_of_birth,
                    ),
                    Registration::Anonymous(_) => (None, None, None, None, None),
                };
                Item::Intake {
                    participant: e.participant,
                    gender: e.gender,
                    anonymous: matches!(e.registration, Registration::Anonymous(_)),
                    municipality,
                    referrer,
                    support_at_start,
                    birth_year,
                    region_of_birth,
                }
            }
            Fact::PlacementStarted(p) => Item::PlacementStarted {
                number: p.placement.0,
                site: p.site.clone(),
                work_area: p.work_area.clone(),
                hours_per_week: p.hours_per_week,
            },
            Fact::PlacementEnded(p) => Item::PlacementEnded { number: p.placement.0, reason: p.reason },
            Fact::TrainingStarted(t) => {
                Item::TrainingStarted { number: t.training.0, course: t.course.clone(), provider: t.provider.clone() }
            }
            Fact::TrainingCompleted(t) => Item::TrainingCompleted {
                number: t.training.0,
                course: t.course.clone(),
                provider: t.provider.clone(),
                hours: t.hours,
                credential_earned: t.credential_earned,
            },
            Fact::TrainingDiscontinued(t) => Item::TrainingDiscontinued { number: t.training.0 },
            Fact::ProgressAssessed(a) => {
                let n = a.scores.len().max(1) as u32;
                let sum: u32 = a.scores.iter().map(|s| u32::from(s.score)).sum();
                Item::Assessment { instrument: a.instrument.clone(), assessor: a.assessor, mean_x100: sum * 100 / n }
            }
            Fact::Exited(x) => Item::Exit { outcome: x.outcome, support_at_exit: x.support_at_exit.clone() },
            Fact::FollowedUp(f) => Item::FollowUp { point: f.point, status: f.status },
            Fact::ResponsibleChanged(r) => Item::Reassigned { responsible: r.responsible.clone() },
        }
    }
}

impl Journey {
    fn derive(record: &CaseRecord, until: Option<Date>) -> Journey {
        let items = record.facts.iter().filter(|f| !f.retracted).map(|f| (f.occurred_on, Item::of(&f.fact)));
        Journey::from_items(Some(record.case_id), items, until)
    }
}

impl<C> Journey<C> {
    /// The journey of a case's live facts, as items in recording order; with `until`,
    /// items that occurred after it are left out.
    pub fn from_items(
        case_id: Option<CaseId>,
        items: impl IntoIterator<Item = (Date, Item<C>)>,
        until: Option<Date>,
    ) -> Journey<C> {
        let mut j = Journey { case_id, ..Journey::default() };
        for (date, item) in items.into_iter().filter(|(d, _)| until.is_none_or(|u| *d <= u)) {
            match item {
                Item::Intake {
                    participant,
                    gender,
                    anonymous,
                    municipality,
                    referrer,
                    support_at_start,
                    birth_year,
                    region_of_birth,
                } => {
                    j.intake = Some(Intake {
                        date,
                        participant,
                        gender,
                        anonymous,
                        municipality,
                        referrer,
                        support_at_start,
                        birth_year,
                        region_of_birth,
                    });
                }
                Item::PlacementStarted { number, site, work_area, hours_per_week } => j.placements.push(Placement {
                    number,
                    site,
                    work_area,
                    hours_per_week,
                    start: date,
                    end: None,
                    end_reason: None,
                }),
                Item::PlacementEnded { number, reason } => {
                    if let Some(pl) = j.placements.iter_mut().find(|x| x.number == number) {
                        pl.end = Some(date);
                        pl.end_reason = Some(reason);
                    }
                }
                Item::TrainingStarted { number, course, provider } => j.trainings.push(Training {
                    number,
                    course,
                    provider,
                    start: Some(date),
                    completed: None,
                    discontinued: None,
                    hours: None,
                    credential_earned: false,
                }),
                Item::TrainingCompleted { number, course, provider, hours, credential_earned } => {
                    match j.trainings.iter_mut().find(|x| x.number == number) {
                        Some(tr) => {
                            tr.completed = Some(date);
                            tr.hours = Some(hours);
                            tr.credential_earned = credential_earned;
                        }
                        None => j.trainings.push(Training {
                            number,
                            course,
                            provider,
                            start: None,
                            completed: Some(date),
                            discontinued: None,
                            hours: Some(hours),
                            credential_earned,
                        }),
                    }
                }
                Item::TrainingDiscontinued { number } => {
                    if let Some(tr) = j.trainings.iter_mut().find(|x| x.number == number) {
                        tr.discontinued = Some(date);
                    }
                }
                Item::Assessment { instrument, assessor, mean_x100 } => {
                    j.assessments.push(Assessment { date, instrument, assessor, mean_x100 })
                }
                Item::Exit { outcome, support_at_exit } => j.exit = Some(Exit { date, outcome, support_at_exit }),
                Item::FollowUp { point, status } => j.follow_ups.push(FollowUp { date, point, status }),
                Item::Reassigned { responsible } => j.reassigned_to = Some(responsible),
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
