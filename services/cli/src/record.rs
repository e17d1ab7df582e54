//! The recording commands: build a case command from the arguments, submit it, and
//! give the case worker a receipt.

use serde_json::{json, Map, Value};
use stod_client::Client;
use stod_events::case::{Action, Command, TrainingRef};
use stod_events::event::{EnrolmentDetails, EventType, PlacementNo, Registration, TrainingNo};
use stod_events::ids::{CaseId, Date, EventId};
use stod_protocol::Assigned;

use crate::args::{
    AssessArgs, CaseRef, CorrectArgs, EndPlacementArgs, ExitArgs, FollowUpArgs, IntakeArgs, PlaceArgs, ReassignArgs,
    RetractArgs, SubmitArgs, TrainingCmd,
};
use crate::correct;
use crate::error::CliError;
use crate::output::Output;

/// What a receipt adds to the service's reply.
#[derive(Default)]
struct Extra {
    json: Map<String, Value>,
    lines: Vec<String>,
    /// Flags to repeat, besides --submission, when retrying an unknown outcome.
    retry_flags: String,
    /// An intake's personnummer, for the command service to have the registry file.
    personnummer: Option<String>,
}

pub async fn intake(client: &Client, out: Output, a: IntakeArgs) -> Result<(), CliError> {
    let registration = match a.anonymous {
        Some(reason) => Registration::Anonymous(reason),
        None => {
            // clap requires these four unless --anonymous is given.
            let missing = || {
                CliError::Usage("ange --municipality, --referrer, --support och --birth-year, eller --anonymous".into())
            };
            Registration::Consented(EnrolmentDetails {
                municipality: a.municipality.ok_or_else(missing)?,
                referrer: a.referrer.ok_or_else(missing)?,
                support_at_start: a.support.ok_or_else(missing)?,
                birth_year: a.birth_year.ok_or_else(missing)?,
                region_of_birth: a.region,
            })
        }
    };
    let case_id = a.case.unwrap_or_default();
    // With a personnummer the command service has the registry give the reference
    // (the same one on a retry, so a retry repeats --personnummer rather than naming
    // the reference); the number is read here, never from the command line's history.
    let personnummer = match &a.personnummer {
        Some(given) => Some(crate::registry::read_personnummer(given)?),
        None => None,
    };
    let participant = a.participant.unwrap_or_default();
    let mut extra = Extra { personnummer, ..Extra::default() };
    extra.lines.push(format!("Ärende:    {case_id}"));
    if extra.personnummer.is_none() {
        extra.json.insert("participant".into(), json!(participant));
        extra
            .lines
            .push(format!("Deltagare: {participant}  (pseudonym; kopplingen till personen förvaras utanför stod)"));
    }
    if a.case.is_none() {
        extra.retry_flags.push_str(&format!(" --case {case_id}"));
    }
    if a.participant.is_none() && extra.personnummer.is_none() {
        extra.retry_flags.push_str(&format!(" --participant {participant}"));
    }
    let command =
        Command::Record { occurred_on: a.date, action: Action::Enroll { participant, gender: a.gender, registration } };
    submit(client, out, case_id, &a.submit, command, extra).await
}

pub async fn place(client: &Client, out: Output, a: PlaceArgs) -> Result<(), CliError> {
    let action = Action::StartPlacement { site: a.site, work_area: a.work_area, hours_per_week: a.hours };
    record(client, out, &a.at.case, a.at.date, &a.submit, action).await
}

pub async fn end_placement(client: &Client, out: Output, a: EndPlacementArgs) -> Result<(), CliError> {
    let action = Action::EndPlacement { placement: PlacementNo(a.placement), reason: a.reason };
    record(client, out, &a.at.case, a.at.date, &a.submit, action).await
}

pub async fn training(client: &Client, out: Output, cmd: TrainingCmd) -> Result<(), CliError> {
    match cmd {
        TrainingCmd::Start(a) => {
            let action = Action::StartTraining { course: a.course, provider: a.provider };
            record(client, out, &a.at.case, a.at.date, &a.submit, action).await
        }
        TrainingCmd::Complete(a) => {
            let training = match (a.training, a.course, a.provider) {
                (Some(n), _, _) => TrainingRef::Started(TrainingNo(n)),
                (None, Some(course), Some(provider)) => TrainingRef::New { course, provider },
                _ => return Err(CliError::Usage("ange --training N, eller --course och --provider".into())),
            };
            let action = Action::CompleteTraining { training, hours: a.hours, credential_earned: a.credential };
            record(client, out, &a.at.case, a.at.date, &a.submit, action).await
        }
        TrainingCmd::Discontinue(a) => {
            let action = Action::DiscontinueTraining { training: TrainingNo(a.training), reason: a.reason };
            record(client, out, &a.at.case, a.at.date, &a.submit, action).await
        }
    }
}

pub async fn assess(client: &Client, out: Output, a: AssessArgs) -> Result<(), CliError> {
    let action = Action::AssessProgress { instrument: a.instrument, assessor: a.assessor, scores: a.scores };
    record(client, out, &a.at.case, a.at.date, &a.submit, action).await
}

pub async fn exit(client: &Client, out: Output, a: ExitArgs) -> Result<(), CliError> {
    let action = Action::Exit { outcome: a.outcome, support_at_exit: a.support };
    record(client, out, &a.at.case, a.at.date, &a.submit, action).await
}

pub async fn follow_up(client: &Client, out: Output, a: FollowUpArgs) -> Result<(), CliError> {
    let action = Action::FollowUp { point: a.months, status: a.status };
    record(client, out, &a.at.case, a.at.date, &a.submit, action).await
}

pub async fn reassign(client: &Client, out: Output, a: ReassignArgs) -> Result<(), CliError> {
    let date = a.date.unwrap_or_else(stod_events::sweden::today);
    let action = Action::Reassign { responsible: a.to };
    record(client, out, &a.case, date, &a.submit, action).await
}

pub async fn correct(client: &Client, out: Output, a: CorrectArgs) -> Result<(), CliError> {
    let case = crate::read::resolve_case(client, &a.case).await?;
    let view = client.case(case).await?;
    let built = correct::build(&view, a.event, &a.sets, a.date)?;
    let mut extra = Extra::default();
    extra.lines.push(format!("Rättar händelse {}", a.event));
    for (field, before, after) in &built.changes {
        extra.lines.push(format!("  {field}: {before} → {after}"));
    }
    extra.json.insert("corrects".into(), json!(a.event));
    let command = Command::Correct {
        target: a.event,
        reason: a.reason,
        occurred_on: built.occurred_on,
        replacement: built.replacement,
    };
    submit(client, out, case, &a.submit, command, extra).await
}

pub async fn retract(client: &Client, out: Output, a: RetractArgs) -> Result<(), CliError> {
    let mut extra = Extra::default();
    extra.lines.push(format!("Makulerar händelse {}", a.event));
    extra.json.insert("retracts".into(), json!(a.event));
    let case = crate::read::resolve_case(client, &a.case).await?;
    let command = Command::Retract { target: a.event, reason: a.reason };
    submit(client, out, case, &a.submit, command, extra).await
}

async fn record(
    client: &Client,
    out: Output,
    case: &CaseRef,
    occurred_on: Date,
    submit_args: &SubmitArgs,
    action: Action,
) -> Result<(), CliError> {
    let case_id = crate::read::resolve_case(client, case).await?;
    let command = Command::Record { occurred_on, action };
    submit(client, out, case_id, submit_args, command, Extra::default()).await
}

async fn submit(
    client: &Client,
    out: Output,
    case_id: CaseId,
    submit_args: &SubmitArgs,
    command: Command,
    mut extra: Extra,
) -> Result<(), CliError> {
    let label = event_type(&command).label_sv();
    let submission = submit_args.submission.unwrap_or_default();
    let sent = match &extra.personnummer {
        Some(pnr) => client.submit_intake_of(submission, case_id, command.clone(), pnr).await,
        None => client.submit_as(submission, case_id, command.clone()).await,
    };
    let accepted = match sent {
        Ok(accepted) => accepted,
        Err(e) => {
            let mut err = CliError::from(e);
            if let CliError::Unavailable(message) = &mut err {
                // A fresh run would be a new submission; this one may have been recorded.
                message.push_str(&format!(
                    "\nUtfallet är okänt. Kör samma kommando igen med{} --submission {submission} \
                     när tjänsten svarar: samma inskickning registreras aldrig två gånger.",
                    extra.retry_flags
                ));
            }
            return Err(err);
        }
    };
    if let Some(assigned) = accepted.assigned {
        let (key, n, text) = match (assigned, &command) {
            (Assigned::Placement(n), _) => {
                ("placement", n, format!("Praktiken har nummer {n} i ärendet (avslutas med --placement {n})"))
            }
            (Assigned::Training(n), Command::Record { action: Action::StartTraining { .. }, .. }) => {
                ("training", n, format!("Utbildningen har nummer {n} i ärendet (avslutas med --training {n})"))
            }
            (Assigned::Training(n), _) => ("training", n, format!("Utbildningen har nummer {n} i ärendet")),
        };
        extra.json.insert(key.into(), json!(n));
        extra.lines.push(text);
    }
    if let Some(registered) = accepted.registered {
        let participant = registered.participant;
        extra.json.insert("participant".into(), json!(participant));
        extra.json.insert("registered".into(), json!(registered.created));
        let how = if registered.created { "ny i deltagarregistret" } else { "redan i deltagarregistret" };
        extra.lines.push(format!("Deltagare: {participant}  ({how}; personnumret finns bara där, inte i loggen)"));
    }
    let mut json = match serde_json::to_value(&accepted) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    json.insert("status".into(), json!("accepted"));
    json.extend(extra.json);
    out.result(&json, || {
        let first = accepted.event_ids.first().map(EventId::to_string).unwrap_or_default();
        let head = if accepted.duplicate { "Redan registrerat tidigare (samma inskickning)" } else { "Registrerat" };
        let mut text = format!(
            "{head}: {label} i ärende {} (händelse {first}, sekvens {})",
            accepted.case_id, accepted.stream_sequence
        );
        for line in &extra.lines {
            text.push('\n');
            text.push_str(line);
        }
        text
    });
    Ok(())
}

/// The event type a command records, for the receipt.
pub fn event_type(command: &Command) -> EventType {
    match command {
        Command::Correct { .. } => EventType::Corrected,
        Command::Retract { .. } => EventType::Retracted,
        Command::Record { action, .. } => match action {
            Action::Enroll { .. } => EventType::Enrolled,
            Action::StartPlacement { .. } => EventType::PlacementStarted,
            Action::EndPlacement { .. } => EventType::PlacementEnded,
            Action::StartTraining { .. } => EventType::TrainingStarted,
            Action::CompleteTraining { .. } => EventType::TrainingCompleted,
            Action::DiscontinueTraining { .. } => EventType::TrainingDiscontinued,
            Action::AssessProgress { .. } => EventType::ProgressAssessed,
            Action::Exit { .. } => EventType::Exited,
            Action::FollowUp { .. } => EventType::FollowedUp,
            Action::Reassign { .. } => EventType::ResponsibleChanged,
        },
    }
}
