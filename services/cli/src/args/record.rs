//! The recording commands: intake, placement, course, assessment, exit, follow-up,
//! correction and retraction.

use clap::{Args, Subcommand};
use stod_events::event::{
    AnonymityReason, AreaScore, Assessor, CorrectionReason, ExitOutcome, FollowUpPoint, FollowUpStatus, Gender,
    PlacementEndReason, RegionOfBirth, TrainingDiscontinuedReason,
};
use stod_events::ids::{CaseId, Code, Date, EventId, ParticipantRef, SubmissionId, UserId};

use super::parse::*;
use crate::sv::parser;

/// Options every recording command shares.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Re-send an earlier submission whose outcome was unknown (exit code 5): the service
    /// records a submission id at most once, so this never records twice.
    #[arg(long, value_name = "ID", value_parser = parse_id::<SubmissionId>)]
    pub submission: Option<SubmissionId>,
}

#[derive(Debug, Args)]
pub struct IntakeArgs {
    /// Intake date (YYYY-MM-DD), as stated by the case worker.
    #[arg(long, value_parser = parse_date)]
    pub date: Date,
    /// Gender (kön), kept for every participant.
    #[arg(long, value_parser = parser::<Gender>())]
    pub gender: Gender,
    /// Anonymous registration: only gender and the intake year are kept.
    #[arg(long, value_parser = parser::<AnonymityReason>(),
          conflicts_with_all = ["municipality", "referrer", "support", "birth_year", "region"])]
    pub anonymous: Option<AnonymityReason>,
    /// Municipality code (kommunkod), e.g. 2084 (Ludvika).
    #[arg(long, value_parser = parse_code, required_unless_present = "anonymous")]
    pub municipality: Option<Code>,
    /// Referrer (remittent) code, e.g. af.
    #[arg(long, value_parser = parse_code, required_unless_present = "anonymous")]
    pub referrer: Option<Code>,
    /// Source of support at start (försörjningskälla), e.g. forsorjningsstod.
    #[arg(long, value_parser = parse_code, required_unless_present = "anonymous")]
    pub support: Option<Code>,
    /// Birth year only (födelseår).
    #[arg(long, value_name = "YYYY", required_unless_present = "anonymous")]
    pub birth_year: Option<u16>,
    /// Region of birth (födelseregion), optional.
    #[arg(long, value_parser = parser::<RegionOfBirth>())]
    pub region: Option<RegionOfBirth>,
    /// The participant reference (deltagare) of a returning participant; new if omitted.
    #[arg(long, value_name = "REF", value_parser = parse_id::<ParticipantRef>)]
    pub participant: Option<ParticipantRef>,
    /// The person's personnummer or samordningsnummer: registers them in the
    /// participant registry (outside the log) and records the intake with their
    /// reference, existing or new. `-` (or the flag alone) reads it from standard
    /// input, asking on a terminal, so it stays out of the shell's history.
    #[arg(long, value_name = "PNR", num_args = 0..=1, default_missing_value = "-", conflicts_with_all = ["participant", "anonymous"])]
    pub personnummer: Option<String>,
    /// The case id to open; a new one if omitted.
    #[arg(long, value_name = "ID", value_parser = parse_id::<CaseId>)]
    pub case: Option<CaseId>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct CaseDate {
    /// The case (ärende) id, or its first characters as `stod case list` shows them
    /// (at least 4, enough to be unique).
    #[arg(long, value_name = "ID", value_parser = parse_case)]
    pub case: CaseRef,
    /// The date it happened (YYYY-MM-DD), as stated by the case worker.
    #[arg(long, value_parser = parse_date)]
    pub date: Date,
}

#[derive(Debug, Args)]
pub struct PlaceArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// Site (arbetsplats) code, e.g. industrisparet.
    #[arg(long, value_parser = parse_code)]
    pub site: Code,
    /// Work area (arbetsområde) code, e.g. montering.
    #[arg(long, value_parser = parse_code)]
    pub work_area: Code,
    /// Hours per week, 1-40 (40 is full time).
    #[arg(long)]
    pub hours: u8,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct EndPlacementArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// The placement's number in the case (shown by `stod case show`).
    #[arg(long, value_name = "N")]
    pub placement: u16,
    /// Why the placement ended.
    #[arg(long, value_parser = parser::<PlacementEndReason>())]
    pub reason: PlacementEndReason,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrainingCmd {
    /// A course started (utbildning påbörjad).
    #[command(after_help = "\
Examples:
  stod training start --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-04-07 \\
       --course sfi --provider vbu-komvux")]
    Start(TrainingStartArgs),
    /// A course completed (utbildning genomförd): a started one, or one recorded only now.
    #[command(after_help = "\
Examples:
  stod training complete --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-05-30 \\
       --training 1 --hours 120 --credential
  stod training complete --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-05-30 \\
       --course truckkort --provider af-leverantor --hours 16 --credential")]
    Complete(TrainingCompleteArgs),
    /// A started course broken off (utbildning avbruten).
    #[command(after_help = "\
Examples:
  stod training discontinue --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-05-02 \\
       --training 1 --reason passade-inte")]
    Discontinue(TrainingDiscontinueArgs),
}

#[derive(Debug, Args)]
pub struct TrainingStartArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// Course (utbildning) code, e.g. sfi.
    #[arg(long, value_parser = parse_code)]
    pub course: Code,
    /// Provider (anordnare) code, e.g. vbu-komvux.
    #[arg(long, value_parser = parse_code)]
    pub provider: Code,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct TrainingCompleteArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// The started course's number in the case.
    #[arg(long, value_name = "N", conflicts_with_all = ["course", "provider"],
          required_unless_present = "course")]
    pub training: Option<u16>,
    /// A course completed without a recorded start: its code (with --provider).
    #[arg(long, value_parser = parse_code, requires = "provider")]
    pub course: Option<Code>,
    /// The provider (anordnare) of a course given with --course.
    #[arg(long, value_parser = parse_code, requires = "course")]
    pub provider: Option<Code>,
    /// Course hours attended.
    #[arg(long)]
    pub hours: u16,
    /// The course's credential (behörighet, intyg, certifikat) was earned.
    #[arg(long)]
    pub credential: bool,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct TrainingDiscontinueArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// The started course's number in the case.
    #[arg(long, value_name = "N")]
    pub training: u16,
    /// Why the course was broken off.
    #[arg(long, value_parser = parser::<TrainingDiscontinuedReason>())]
    pub reason: TrainingDiscontinuedReason,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct AssessArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// Instrument (bedömningsinstrument) code, e.g. work-star.
    #[arg(long, value_parser = parse_code)]
    pub instrument: Code,
    /// Who assessed.
    #[arg(long, value_parser = parser::<Assessor>())]
    pub assessor: Assessor,
    /// One area's score, AREA=N; repeat for each assessed area.
    #[arg(long = "score", value_name = "AREA=N", value_parser = parse_score, required = true)]
    pub scores: Vec<AreaScore>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct ExitArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// Outcome at exit (avslutsorsak).
    #[arg(long, value_parser = parser::<ExitOutcome>())]
    pub outcome: ExitOutcome,
    /// Source of support at exit (försörjning vid avslut); required unless anonymous.
    #[arg(long, value_parser = parse_code)]
    pub support: Option<Code>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct FollowUpArgs {
    #[command(flatten)]
    pub at: CaseDate,
    /// Months after exit.
    #[arg(long, value_parser = parser::<FollowUpPoint>())]
    pub months: FollowUpPoint,
    /// Status at follow-up.
    #[arg(long, value_parser = parser::<FollowUpStatus>())]
    pub status: FollowUpStatus,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct ReassignArgs {
    /// The case (ärende) id, or its first characters (at least 4).
    #[arg(long, value_name = "ID", value_parser = parse_case)]
    pub case: CaseRef,
    /// The case worker who is responsible (ansvarig) from now on: their user name.
    #[arg(long, value_name = "USER", value_parser = parse_user)]
    pub to: UserId,
    /// The date of the handover (YYYY-MM-DD); today if omitted.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<Date>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct CorrectArgs {
    /// The case (ärende) id, or its first characters (at least 4).
    #[arg(long, value_name = "ID", value_parser = parse_case)]
    pub case: CaseRef,
    /// The event to correct (händelse id, shown by `stod case show`).
    #[arg(long, value_name = "EVENT_ID", value_parser = parse_id::<EventId>)]
    pub event: EventId,
    /// Why (orsak); a code, never free text.
    #[arg(long, value_parser = parser::<CorrectionReason>())]
    pub reason: CorrectionReason,
    /// The corrected date (YYYY-MM-DD); the event's current date if omitted.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<Date>,
    /// A corrected field, FIELD=VALUE; repeat for more fields.
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct RetractArgs {
    /// The case (ärende) id, or its first characters (at least 4).
    #[arg(long, value_name = "ID", value_parser = parse_case)]
    pub case: CaseRef,
    /// The event to retract (händelse id, shown by `stod case show`).
    #[arg(long, value_name = "EVENT_ID", value_parser = parse_id::<EventId>)]
    pub event: EventId,
    /// Why (orsak); a code, never free text.
    #[arg(long, value_parser = parser::<CorrectionReason>())]
    pub reason: CorrectionReason,
    #[command(flatten)]
    pub submit: SubmitArgs,
}
