//! Every rule a case worker can hit, in one place.
//!
//! `decide` validates a command against the case as it stands and returns the events to
//! append, or a [`Rejection`] that says what was wrong and what is valid. It does no I/O:
//! what it needs from outside (today's date, the reference data, the participant's open
//! case) comes in a [`Context`].

use std::collections::BTreeSet;

use super::command::{Action, Command, TrainingRef};
use super::rejection::Rejection;
use super::state::{CaseState, FactEntry, Summary};
use crate::envelope::RecordedEvent;
use crate::event::{
    AreaScore, Corrected, Enrolled, Event, Exited, Fact, FollowedUp, PlacementEnded, PlacementNo, PlacementStarted,
    ProgressAssessed, Registration, ResponsibleChanged, Retracted, TrainingCompleted, TrainingDiscontinued, TrainingNo,
    TrainingStarted,
};
use crate::ids::{CaseId, Code, Date, EventId, SubmissionId, Timestamp, UserId};
use crate::reference::{Catalogue, CodeKind};

/// What `decide` needs to know from outside the case.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Today in Sweden: no business date may lie after it.
    pub today: Date,
    pub catalogue: &'a Catalogue,
    /// The participant's currently open case, if any, from the participant index the
    /// write path keeps across cases. Only consulted for an intake.
    pub open_case_of_participant: Option<CaseId>,
}

/// An event `decide` wants appended, before the write path gives it ids and a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub occurred_on: Date,
    pub event: Event,
}

impl NewEvent {
    /// Completes the envelope. The write path supplies who, when and which submission.
    pub fn record(
        self,
        case_id: CaseId,
        submission_id: SubmissionId,
        recorded_by: UserId,
        recorded_at: Timestamp,
    ) -> RecordedEvent {
        RecordedEvent {
            event_id: EventId::new(),
            case_id,
            occurred_on: self.occurred_on,
            recorded_at,
            recorded_by,
            submission_id,
            event: self.event,
        }
    }
}

/// Hours per week a placement may have (SUS: 40 hours is full time).
pub const PLACEMENT_HOURS: std::ops::RangeInclusive<u8> = 1..=40;
/// Hours one course may have.
pub const TRAINING_HOURS: std::ops::RangeInclusive<u16> = 1..=2000;
/// Participants are of working age: between 15 and 100 years old at intake.
pub const AGE_AT_INTAKE: std::ops::RangeInclusive<i32> = 15..=100;

/// Decides what a command records on a case, or why it cannot.
pub fn decide(state: &CaseState, command: &Command, ctx: &Context<'_>) -> Result<Vec<NewEvent>, Rejection> {
    match command {
        Command::Record { occurred_on, action } => {
            not_in_future(*occurred_on, ctx)?;
            let fact = build_fact(state, *occurred_on, action, ctx)?;
            check_sequence(&state.summary, *occurred_on, &fact)?;
            Ok(vec![NewEvent { occurred_on: *occurred_on, event: Event::Fact(fact) }])
        }
        Command::Correct { target, reason, occurred_on, replacement } => {
            not_in_future(*occurred_on, ctx)?;
            let original = correctable(state, target)?;
            if original.fact.event_type() != replacement.event_type() {
                return Err(Rejection::CorrectionTypeMismatch {
                    expected: original.fact.event_type(),
                    given: replacement.event_type(),
                });
            }
            same_identity(&original.fact, replacement)?;
            if original.occurred_on == *occurred_on && &original.fact == replacement {
                return Err(Rejection::NothingToCorrect);
            }
            check_values(replacement, *occurred_on, ctx, Some(&original.fact))?;
            let facts = state.facts.iter().map(|f| {
                if &f.event_id == target {
                    FactEntry { occurred_on: *occurred_on, fact: replacement.clone(), ..f.clone() }
                } else {
                    f.clone()
                }
            });
            replay(facts)?;
            Ok(vec![NewEvent {
                occurred_on: *occurred_on,
                event: Event::Corrected(Corrected {
                    target: *target,
                    reason: *reason,
                    replacement: replacement.clone(),
                }),
            }])
        }
        Command::Retract { target, reason } => {
            let original = correctable(state, target)?;
            let facts = state.facts.iter().map(|f| {
                if &f.event_id == target {
                    FactEntry { retracted: true, ..f.clone() }
                } else {
                    f.clone()
                }
            });
            replay(facts)?;
            // A retraction is dated with the fact it withdraws, so period reports find it
            // in the period it changes.
            Ok(vec![NewEvent {
                occurred_on: original.occurred_on,
                event: Event::Retracted(Retracted { target: *target, reason: *reason }),
            }])
        }
    }
}

/// The earliest business date stod accepts: the reports' periods start here too, and
/// an earlier date is a typing mistake (0001-01-01, 1025-03-14), not a fact.
pub const EARLIEST_DATE: (i32, u32, u32) = (2000, 1, 1);

fn not_in_future(date: Date, ctx: &Context<'_>) -> Result<(), Rejection> {
    if date > ctx.today {
        return Err(Rejection::DateInFuture { date, today: ctx.today });
    }
    let (y, m, d) = EARLIEST_DATE;
    if Date::from_ymd(y, m, d).is_some_and(|earliest| date < earliest) {
        return Err(Rejection::InvalidValue {
            field: "datum",
            given: date.to_string(),
            valid: format!("ett datum från {y:04}-{m:02}-{d:02} t.o.m. i dag ({})", ctx.today),
        });
    }
    Ok(())
}

/// The fact a correction or retraction may target.
fn correctable<'s>(state: &'s CaseState, target: &EventId) -> Result<&'s FactEntry, Rejection> {
    match state.fact(target) {
        Some(entry) if entry.retracted => Err(Rejection::AlreadyRetracted { event_id: *target }),
        Some(entry) => Ok(entry),
        None if state.submissions.values().flatten().any(|id| id == target) => {
            Err(Rejection::NotCorrectable { event_id: *target })
        }
        None => Err(Rejection::UnknownEvent { event_id: *target }),
    }
}

/// What a correction may not change: who the case is about, and which placement or
/// training a fact is about (later facts refer to those numbers).
fn same_identity(original: &Fact, replacement: &Fact) -> Result<(), Rejection> {
    let what = match (original, replacement) {
        (Fact::Enrolled(a), Fact::Enrolled(b)) if a.participant != b.participant => "deltagaren",
        (Fact::PlacementStarted(a), Fact::PlacementStarted(b)) if a.placement != b.placement => "praktikens nummer",
        (Fact::PlacementEnded(a), Fact::PlacementEnded(b)) if a.placement != b.placement => "praktikens nummer",
        (Fact::TrainingStarted(a), Fact::TrainingStarted(b)) if a.training != b.training => "utbildningens nummer",
        (Fact::TrainingCompleted(a), Fact::TrainingCompleted(b)) if a.training != b.training => "utbildningens nummer",
        (Fact::TrainingDiscontinued(a), Fact::TrainingDiscontinued(b)) if a.training != b.training => {
            "utbildningens nummer"
        }
        _ => return Ok(()),
    };
    Err(Rejection::CorrectionChangesIdentity { what })
}

/// Re-checks every effective fact in order, as if recorded anew. A correction or
/// retraction is refused if the case would no longer hold together.
fn replay(facts: impl Iterator<Item = FactEntry>) -> Result<Summary, Rejection> {
    let facts: Vec<FactEntry> = facts.collect();
    Summary::fold_checked(&facts, |summary, entry| {
        check_sequence(summary, entry.occurred_on, &entry.fact)
            .map_err(|cause| Rejection::CorrectionBreaksCase { cause: Box::new(cause) })
    })
}

/// Turns a record command into its fact: checks values and codes, assigns numbers.
fn build_fact(state: &CaseState, date: Date, action: &Action, ctx: &Context<'_>) -> Result<Fact, Rejection> {
    let fact = match action {
        Action::Enroll { participant, gender, registration } => {
            if !state.is_empty() {
                return Err(if state.summary.void { Rejection::CaseVoided } else { Rejection::AlreadyEnrolled });
            }
            if let Some(open) = ctx.open_case_of_participant {
                if Some(open) != state.case_id {
                    return Err(Rejection::ParticipantHasOpenCase { case_id: open });
                }
            }
            Fact::Enrolled(Enrolled { participant: *participant, gender: *gender, registration: registration.clone() })
        }
        Action::StartPlacement { site, work_area, hours_per_week } => Fact::PlacementStarted(PlacementStarted {
            placement: PlacementNo(next_number(state.last_placement_no, "praktik")?),
            site: site.clone(),
            work_area: work_area.clone(),
            hours_per_week: *hours_per_week,
        }),
        Action::EndPlacement { placement, reason } => {
            Fact::PlacementEnded(PlacementEnded { placement: *placement, reason: *reason })
        }
        Action::StartTraining { course, provider } => Fact::TrainingStarted(TrainingStarted {
            training: TrainingNo(next_number(state.last_training_no, "utbildning")?),
            course: course.clone(),
            provider: provider.clone(),
        }),
        Action::CompleteTraining { training, hours, credential_earned } => {
            let (number, course, provider) = match training {
                TrainingRef::Started(n) => match state.summary.trainings.get(n) {
                    Some(t) if t.started.is_some() => (*n, t.course.clone(), t.provider.clone()),
                    _ => {
                        return Err(Rejection::TrainingNotFound { training: *n, open: state.summary.open_trainings() })
                    }
                },
                TrainingRef::New { course, provider } => {
                    (TrainingNo(next_number(state.last_training_no, "utbildning")?), course.clone(), provider.clone())
                }
            };
            Fact::TrainingCompleted(TrainingCompleted {
                training: number,
                course,
                provider,
                hours: *hours,
                credential_earned: *credential_earned,
            })
        }
        Action::DiscontinueTraining { training, reason } => {
            Fact::TrainingDiscontinued(TrainingDiscontinued { training: *training, reason: *reason })
        }
        Action::AssessProgress { instrument, assessor, scores } => Fact::ProgressAssessed(ProgressAssessed {
            instrument: instrument.clone(),
            assessor: *assessor,
            scores: scores.clone(),
        }),
        Action::Exit { outcome, support_at_exit } => {
            Fact::Exited(Exited { outcome: *outcome, support_at_exit: support_at_exit.clone() })
        }
        Action::FollowUp { point, status } => Fact::FollowedUp(FollowedUp { point: *point, status: *status }),
        Action::Reassign { responsible } => {
            Fact::ResponsibleChanged(ResponsibleChanged { responsible: responsible.clone() })
        }
    };
    check_values(&fact, date, ctx, None)?;
    Ok(fact)
}

fn next_number(last: u16, what: &'static str) -> Result<u16, Rejection> {
    last.checked_add(1).ok_or(Rejection::InvalidValue {
        field: what,
        given: last.to_string(),
        valid: format!("högst {} per ärende", u16::MAX),
    })
}

/// Checks a fact's own values: codes against reference data, numbers within range.
/// For a correction, `original` is the fact it replaces: a code that has been retired
/// since may stay, so an old fact's date can still be corrected.
fn check_values(fact: &Fact, date: Date, ctx: &Context<'_>, original: Option<&Fact>) -> Result<(), Rejection> {
    let kept = original.map(fact_codes).unwrap_or_default();
    for (kind, code) in fact_codes(fact) {
        let retired_but_kept = kept.contains(&(kind, code)) && ctx.catalogue.get(kind, code).is_some();
        let retired_instrument_kept =
            kind == CodeKind::Instrument && kept.contains(&(kind, code)) && ctx.catalogue.instrument(code).is_some();
        if !ctx.catalogue.is_active(kind, code) && !retired_but_kept && !retired_instrument_kept {
            return Err(Rejection::UnknownCode {
                kind,
                given: code.to_string(),
                valid: ctx.catalogue.active_codes(kind),
            });
        }
    }
    match fact {
        Fact::Enrolled(e) => {
            if let Registration::Consented(d) = &e.registration {
                let age = date.year() - i32::from(d.birth_year);
                if !AGE_AT_INTAKE.contains(&age) {
                    return Err(Rejection::InvalidValue {
                        field: "födelseår",
                        given: d.birth_year.to_string(),
                        valid: format!(
                            "{}–{} (deltagaren ska vara {}–{} år vid inskrivningen)",
                            date.year() - AGE_AT_INTAKE.end(),
                            date.year() - AGE_AT_INTAKE.start(),
                            AGE_AT_INTAKE.start(),
                            AGE_AT_INTAKE.end()
                        ),
                    });
                }
            }
        }
        Fact::PlacementStarted(p) if !PLACEMENT_HOURS.contains(&p.hours_per_week) => {
            return Err(Rejection::InvalidValue {
                field: "timmar per vecka",
                given: p.hours_per_week.to_string(),
                valid: format!("{}–{}", PLACEMENT_HOURS.start(), PLACEMENT_HOURS.end()),
            });
        }
        Fact::TrainingCompleted(t) if !TRAINING_HOURS.contains(&t.hours) => {
            return Err(Rejection::InvalidValue {
                field: "utbildningstimmar",
                given: t.hours.to_string(),
                valid: format!("{}–{}", TRAINING_HOURS.start(), TRAINING_HOURS.end()),
            });
        }
        Fact::ProgressAssessed(a) => check_scores(&a.instrument, &a.scores, ctx)?,
        _ => {}
    }
    Ok(())
}

fn check_scores(instrument: &Code, scores: &[AreaScore], ctx: &Context<'_>) -> Result<(), Rejection> {
    let Some(inst) = ctx.catalogue.instrument(instrument) else {
        return Err(Rejection::UnknownCode {
            kind: CodeKind::Instrument,
            given: instrument.to_string(),
            valid: ctx.catalogue.active_codes(CodeKind::Instrument),
        });
    };
    let areas: Vec<Code> = inst.areas.iter().filter(|a| a.active).map(|a| a.code.clone()).collect();
    if scores.is_empty() {
        return Err(Rejection::InvalidValue {
            field: "poäng",
            given: "inga".into(),
            valid: format!("minst ett av områdena {}", join_codes(&areas)),
        });
    }
    let mut seen = BTreeSet::new();
    for s in scores {
        if !areas.contains(&s.area) {
            return Err(Rejection::UnknownCode {
                kind: CodeKind::Instrument,
                given: format!("{}/{}", instrument, s.area),
                valid: areas.clone(),
            });
        }
        if !seen.insert(&s.area) {
            return Err(Rejection::InvalidValue {
                field: "poäng",
                given: format!("området {} två gånger", s.area),
                valid: "varje område högst en gång".into(),
            });
        }
        if !(inst.scale_min..=inst.scale_max).contains(&s.score) {
            return Err(Rejection::InvalidValue {
                field: "poäng",
                given: format!("{} för {}", s.score, s.area),
                valid: format!("{}–{}", inst.scale_min, inst.scale_max),
            });
        }
    }
    Ok(())
}

fn join_codes(codes: &[Code]) -> String {
    codes.iter().map(Code::as_str).collect::<Vec<_>>().join(", ")
}

/// Every reference-data code a fact uses, with its kind.
fn fact_codes(fact: &Fact) -> Vec<(CodeKind, &Code)> {
    match fact {
        Fact::Enrolled(e) => match &e.registration {
            Registration::Consented(d) => vec![
                (CodeKind::Municipality, &d.municipality),
                (CodeKind::Referrer, &d.referrer),
                (CodeKind::SupportSource, &d.support_at_start),
            ],
            Registration::Anonymous(_) => vec![],
        },
        Fact::PlacementStarted(p) => vec![(CodeKind::Site, &p.site), (CodeKind::WorkArea, &p.work_area)],
        Fact::TrainingStarted(t) => vec![(CodeKind::Course, &t.course), (CodeKind::Provider, &t.provider)],
        Fact::TrainingCompleted(t) => vec![(CodeKind::Course, &t.course), (CodeKind::Provider, &t.provider)],
        Fact::ProgressAssessed(a) => vec![(CodeKind::Instrument, &a.instrument)],
        Fact::Exited(x) => x.support_at_exit.iter().map(|c| (CodeKind::SupportSource, c)).collect(),
        Fact::PlacementEnded(_) | Fact::TrainingDiscontinued(_) | Fact::FollowedUp(_) | Fact::ResponsibleChanged(_) => {
            vec![]
        }
    }
}

/// The rules about order and state: what may follow what, and when.
fn check_sequence(s: &Summary, date: Date, fact: &Fact) -> Result<(), Rejection> {
    if let Fact::Enrolled(_) = fact {
        return match () {
            _ if s.void => Err(Rejection::CaseVoided),
            _ if s.intake.is_some() => Err(Rejection::AlreadyEnrolled),
            _ => Ok(()),
        };
    }
    let Some(intake) = &s.intake else {
        return Err(if s.void { Rejection::CaseVoided } else { Rejection::NoIntake });
    };
    if date < intake.date {
        return Err(Rejection::DateBeforeIntake { date, intake: intake.date });
    }
    if let Some(exit) = &s.exit {
        return match fact {
            Fact::FollowedUp(f) => {
                if date < exit.date {
                    Err(Rejection::DateBeforeExit { date, exited_on: exit.date })
                } else if s.follow_ups.contains_key(&f.point) {
                    Err(Rejection::FollowUpAlreadyRecorded { point: f.point })
                } else {
                    Ok(())
                }
            }
            // Someone must do the follow-ups: an exited case can change hands.
            Fact::ResponsibleChanged(_) => Ok(()),
            _ => Err(Rejection::CaseExited { exited_on: exit.date }),
        };
    }
    match fact {
        Fact::FollowedUp(_) => Err(Rejection::NotExited),
        Fact::PlacementEnded(p) => match s.placements.get(&p.placement) {
            None => Err(Rejection::PlacementNotFound { placement: p.placement, open: s.open_placements() }),
            Some(pl) => match pl.ended {
                Some(ended_on) => Err(Rejection::PlacementAlreadyEnded { placement: p.placement, ended_on }),
                None if date < pl.started => Err(Rejection::EndBeforeStart { start: pl.started, end: date }),
                None => Ok(()),
            },
        },
        Fact::TrainingCompleted(t) => match s.trainings.get(&t.training) {
            None => Ok(()),
            Some(tr) => close_training(t.training, tr, date),
        },
        Fact::TrainingDiscontinued(t) => match s.trainings.get(&t.training) {
            Some(tr) if tr.started.is_some() => close_training(t.training, tr, date),
            _ => Err(Rejection::TrainingNotFound { training: t.training, open: s.open_trainings() }),
        },
        Fact::Exited(x) => {
            let (placements, trainings) = (s.open_placements(), s.open_trainings());
            if !placements.is_empty() || !trainings.is_empty() {
                return Err(Rejection::OpenActivitiesAtExit { placements, trainings });
            }
            match (intake.anonymous, &x.support_at_exit) {
                (true, Some(_)) => Err(Rejection::InvalidValue {
                    field: "försörjning vid avslut",
                    given: "angiven".into(),
                    valid: "ingen uppgift för anonymt registrerade deltagare".into(),
                }),
                (false, None) => Err(Rejection::InvalidValue {
                    field: "försörjning vid avslut",
                    given: "saknas".into(),
                    valid: "en försörjningskälla (krävs för uppföljningen till Finsam)".into(),
                }),
                _ => Ok(()),
            }
        }
        Fact::Enrolled(_)
        | Fact::PlacementStarted(_)
        | Fact::TrainingStarted(_)
        | Fact::ProgressAssessed(_)
        | Fact::ResponsibleChanged(_) => Ok(()),
    }
}

fn close_training(n: TrainingNo, tr: &super::state::Training, date: Date) -> Result<(), Rejection> {
    if let Some(closed_on) = tr.closed {
        return Err(Rejection::TrainingAlreadyClosed { training: n, closed_on });
    }
    match tr.started {
        Some(start) if date < start => Err(Rejection::EndBeforeStart { start, end: date }),
        _ => Ok(()),
    }
}
