//! The command line: flags are English, values and output Swedish.
//!
//! Everything a case worker types is checked here, before anything is sent: dates,
//! codes, ids and the fixed values (tokens from [`crate::sv`]). The case rules are
//! checked by the service, which knows the case and the reference data in force.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use stod_audit::Cutoff;
use stod_events::event::{
    AnonymityReason, AreaScore, Assessor, CorrectionReason, ExitOutcome, FollowUpPoint, FollowUpStatus, Gender,
    PlacementEndReason, RegionOfBirth, TrainingDiscontinuedReason,
};
use stod_events::ids::{CaseId, Code, Date, EventId, ParticipantRef, SubmissionId, Timestamp, UserId};
use stod_events::reference::CodeKind;

use crate::sv::parser;

/// Where `stod` looks for NATS unless told otherwise.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The managed server's port unless told otherwise.
pub const DEFAULT_PORT: u16 = 4222;

const TOP_HELP: &str = "\
Examples:
  stod up --demo                       run everything on this machine, with demo data
  export STOD_USER=anna
  stod intake --date 2025-03-14 --gender kvinna --municipality 2084 --referrer af \\
       --support forsorjningsstod --birth-year 1990
  stod intake --personnummer 19811218-9876 --date 2025-03-14 --gender kvinna \
       --municipality 2084 --referrer af --support forsorjningsstod --birth-year 1990
  stod case find --personnummer 19811218-9876
  stod case show 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e
  stod report throughput --year 2025
  stod report styrgrupp --as-of 2025-06-30 --format html > styrgrupp.html
  stod audit verify                    prove the event log intact
  stod audit access --case <ID>        who looked at a case, and when

Exit codes:
  0  ok
  1  any other error
  2  usage: a missing or malformed option
  3  rejected by a case rule (avvisat); nothing was recorded
  4  conflict: the case changed at the same moment; look again and retry
  5  NATS or the service cannot be reached (the outcome may be unknown: retry with
     the same --submission, which is never recorded twice)
  6  invalid request or file; nothing was changed
  7  not found (case, event, or personnummer in the participant registry)
  8  integrity error (integritetsfel): the event log or an audit export does not hold
     together (changed, missing, inserted or reordered events; see stod audit verify)

Environment:
  STOD_NATS_URL        same as --nats-url
  STOD_USER            same as --user
  STOD_CLIENT_RETRIES  how often a request without a definite answer is retried
                       (default 6; 0 fails at once)
  STOD_LOG             log filter for stderr, e.g. debug or stod_command=debug";

/// stod: case tracking for the work-training programme (Stödplattformen).
///
/// Case workers record each step of a participant's journey (inskrivning, praktik,
/// utbildning, stegförflyttning, avslut, uppföljning) as an immutable event; mistakes are
/// fixed with a rättelse or makulering, never by editing.
#[derive(Debug, Parser)]
#[command(name = "stod", version, after_help = TOP_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// NATS server to connect to; the nodes of a cluster separated by commas
    /// (nats://a:4222,nats://b:4222,nats://c:4222). `up` uses an existing NATS only when
    /// this is given on its own command line; otherwise it starts one.
    #[arg(long, global = true, help_heading = "Connection and output", env = "STOD_NATS_URL", value_name = "URL", default_value = DEFAULT_NATS_URL)]
    pub nats_url: String,
    /// Your user name (handläggare), recorded with every event: 1-64 of a-z, 0-9, '-', '_'.
    /// Required for commands that record or read cases.
    #[arg(long, global = true, help_heading = "Connection and output", env = "STOD_USER", value_name = "USER", value_parser = parse_user)]
    pub user: Option<UserId>,
    /// Your credentials file (from `stod user add`): who you are to the server. The user
    /// name comes from it; a --user that differs is refused. Required by a server with
    /// users (the one `stod up` starts).
    #[arg(long, global = true, help_heading = "Connection and output", env = "STOD_CREDENTIALS", value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Machine output: the reply or result as JSON on stdout, nothing else there.
    #[arg(long, global = true, help_heading = "Connection and output")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Record an intake (inskrivning): opens a new case (ärende) for a participant.
    #[command(after_help = "\
Examples:
  stod intake --date 2025-03-14 --gender kvinna --municipality 2084 --referrer af \\
       --support forsorjningsstod --birth-year 1990 --region utanfor-europa
  stod intake --personnummer 19811218-9876 --date 2025-03-14 --gender kvinna \
       --municipality 2084 --referrer af --support forsorjningsstod --birth-year 1990
  stod intake --date 2025-03-14 --gender man --anonymous inget-samtycke

Prints the case id (ärende) and the participant reference (deltagare). With --personnummer
the person is looked up in the participant registry (outside the event log) and gets their
existing reference, or a new one: a participant coming back later gets a new case with the
same reference, and `stod case find --personnummer` finds it. The personnummer itself is
never written to the event log. Without --personnummer, keep the reference yourself and
give it as --participant when the person comes back. Anonymous participants (--anonymous)
are never registered.")]
    Intake(IntakeArgs),
    /// Start a placement (praktik/arbetsträning) at a site (arbetsplats).
    #[command(after_help = "\
Examples:
  stod place --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-03-17 \\
       --site industrisparet --work-area montering --hours 20

The case assigns the placement its number (1, 2, ...), printed on success; end it with
`stod end-placement --placement N`. `stod reference show --kind site` lists the sites.")]
    Place(PlaceArgs),
    /// End a placement (praktik avslutad).
    #[command(after_help = "\
Examples:
  stod end-placement --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-06-30 \\
       --placement 1 --reason anstallning")]
    EndPlacement(EndPlacementArgs),
    /// Courses (utbildning): start, complete, discontinue.
    #[command(subcommand)]
    Training(TrainingCmd),
    /// Record a progress assessment (stegförflyttning) on an instrument.
    #[command(after_help = "\
Examples:
  stod assess --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-04-01 \\
       --instrument work-star --assessor gemensam --score motivation=6 --score stability=4
  stod assess --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-04-01 \\
       --instrument sjalvskattning --assessor deltagare --score narhet=5

`stod reference show --kind instrument` lists instruments, their areas and scales.")]
    Assess(AssessArgs),
    /// Record an exit (avslut): closes the case. End open placements and courses first.
    #[command(after_help = "\
Examples:
  stod exit --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-07-01 \\
       --outcome anstallning-med-stod --support lon
  stod exit --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-07-01 --outcome avbrutit

--support (försörjning vid avslut) is required for consented participants and not allowed
for anonymous ones.")]
    Exit(ExitArgs),
    /// Record a follow-up (uppföljning) 3, 6 or 12 months after exit.
    #[command(after_help = "\
Examples:
  stod follow-up --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --date 2025-10-01 \\
       --months 3 --status anstalld")]
    FollowUp(FollowUpArgs),
    /// Correct an earlier event (rättelse): records the corrected version beside it.
    #[command(after_help = "\
Examples:
  stod correct --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e \\
       --event 0195b8a3-1111-7abc-8def-0123456789ab --reason felregistrering --set site=vaderbacken
  stod correct --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e \\
       --event 0195b8a3-1111-7abc-8def-0123456789ab --reason fel-datum --date 2025-03-18

--set takes a field of the event as `stod case show --json` shows it under `fact`, e.g.
site, work_area, hours_per_week, reason, outcome, support_at_exit, status, hours,
credential_earned; for an intake also municipality, referrer, support_at_start,
birth_year, region_of_birth, gender. Fixed values are given as on the command line
(e.g. reason=halsa). The event's number and participant cannot be corrected: retract it
and record it again instead.")]
    Correct(CorrectArgs),
    /// Retract an earlier event (makulering), as if it had never been recorded.
    #[command(after_help = "\
Examples:
  stod retract --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e \\
       --event 0195b8a3-1111-7abc-8def-0123456789ab --reason dubblett

Retracting the intake voids the whole case (makulerat ärende).")]
    Retract(RetractArgs),
    /// Read cases (ärenden).
    #[command(subcommand)]
    Case(CaseCmd),
    /// Reference data (referensdata): the codes for sites, courses, municipalities, ...
    #[command(subcommand)]
    Reference(ReferenceCmd),
    /// Reports from the read models: throughput (genomströmning), steering-group status.
    #[command(subcommand)]
    Report(ReportCmd),
    /// The read models (läsmodeller): their state, and rebuilding them from the log.
    #[command(subcommand)]
    Projections(ProjectionsCmd),
    /// Auditing (granskning): a case's history from the log, reports replayed to a past
    /// moment, proof that the log is intact, offline export bundles, and who looked at
    /// which case (the access log).
    #[command(subcommand, visible_alias = "granskning")]
    Audit(AuditCmd),
    /// Demo data: reproducible synthetic journeys recorded through the real command path.
    #[command(subcommand)]
    Demo(DemoCmd),
    /// Participants in the participant registry (deltagarregistret): erasure (gallring).
    #[command(subcommand)]
    Participant(ParticipantCmd),
    /// Run stod on this machine: a managed nats-server, the command service, the read models.
    ///
    /// The read models are kept by the projector, in this process too.
    #[command(after_help = "\
Examples:
  stod up --demo                        data in ~/.local/share/stod, port 4222, demo cases
  stod up --data /srv/stod --port 4300
  stod up --nats-url nats://nats1:4222 --replicas 3   use an existing NATS cluster

Only a --nats-url given on this command line makes `up` use an existing NATS; STOD_NATS_URL
is for the other commands and is ignored here. The read models are kept in
<DATA>/projections. Stop with Ctrl-C or SIGTERM.")]
    Up(UpArgs),
    /// Run only the read models (projector) against an existing NATS.
    ///
    /// For read models on another machine than `stod up`, or several for capacity: they
    /// answer the queries together.
    #[command(after_help = "\
Examples:
  stod projector --nats-url nats://nats1:4222
  stod projector --nats-url nats://nats1:4222 --data /srv/stod-lasmodeller

The read models are built from the event log on first start (and after a version change)
and kept in <DATA>/projections; they can be deleted at any time and are rebuilt. Only one
projector at a time can use a data directory. Stop with Ctrl-C or SIGTERM.")]
    Projector(ProjectorArgs),
    /// Run only the dashboard and JSON API against an existing NATS (as many as
    /// wanted; they hold no data and read the published reports of the projectors).
    #[command(after_help = "\
Examples:
  stod http --nats-url nats://nats1:4222
  stod http --nats-url nats://nats1:4222 --http 0.0.0.0:8080

Pages: / (översikt), /styrgrupp, /uppfoljning. JSON: /api/v1/... (described at
/api/openapi.json). Operations: /healthz, /metrics. Stop with Ctrl-C or SIGTERM.")]
    Http(HttpArgs),
    /// Users and their roles on the server `stod up` manages: who may record, correct,
    /// audit, or see aggregates only. Enforced by nats-server, not by this program.
    #[command(subcommand)]
    User(UserCmd),
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a person with a role; writes their credentials file and lets the running
    /// server know at once.
    #[command(after_help = "\
Examples:
  stod user add anna --role handlaggare
  stod user add lena --role projektledare --data /srv/stod
  stod user add revisorn --role revisor
  stod user add styrgruppen --role styrgrupp

Roles: handlaggare (records cases), projektledare (also corrects and retracts),
revisor (reads every event and the access log, writes nothing), styrgrupp and finansiar
(published aggregates only, small counts hidden), drift (rebuilds, reference data,
metrics). The credentials file (<DATA>/auth/credentials/NAME.creds) is secret: hand it to
the person, who uses it with --credentials or STOD_CREDENTIALS. The dashboard's login is
the user name and the HTTP token printed here.")]
    Add {
        /// The user name: 1-64 of a-z, 0-9, '-', '_'; recorded with every event they record.
        #[arg(value_parser = parse_user)]
        name: UserId,
        /// handlaggare, projektledare, revisor, styrgrupp, finansiar or drift.
        #[arg(long, value_parser = parse_role)]
        role: stod_auth::Role,
        /// The data directory of `stod up` [default: $XDG_DATA_HOME/stod or ~/.local/share/stod].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// The users and their roles.
    List {
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

fn parse_role(s: &str) -> Result<stod_auth::Role, String> {
    s.parse().map_err(|e: stod_auth::role::UnknownRole| e.to_string())
}

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
    /// reference, existing or new.
    #[arg(long, value_name = "PNR", conflicts_with_all = ["participant", "anonymous"])]
    pub personnummer: Option<String>,
    /// The case id to open; a new one if omitted.
    #[arg(long, value_name = "ID", value_parser = parse_id::<CaseId>)]
    pub case: Option<CaseId>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Args)]
pub struct CaseDate {
    /// The case (ärende) id.
    #[arg(long, value_name = "ID", value_parser = parse_id::<CaseId>)]
    pub case: CaseId,
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
pub struct CorrectArgs {
    /// The case (ärende) id.
    #[arg(long, value_name = "ID", value_parser = parse_id::<CaseId>)]
    pub case: CaseId,
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
    /// The case (ärende) id.
    #[arg(long, value_name = "ID", value_parser = parse_id::<CaseId>)]
    pub case: CaseId,
    /// The event to retract (händelse id, shown by `stod case show`).
    #[arg(long, value_name = "EVENT_ID", value_parser = parse_id::<EventId>)]
    pub event: EventId,
    /// Why (orsak); a code, never free text.
    #[arg(long, value_parser = parser::<CorrectionReason>())]
    pub reason: CorrectionReason,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Debug, Subcommand)]
pub enum CaseCmd {
    /// A case's full history (händelser), with corrections linked to what they change.
    #[command(after_help = "\
Examples:
  stod case show 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e
  stod case show 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --json")]
    Show {
        /// The case (ärende) id.
        #[arg(value_name = "ID", value_parser = parse_id::<CaseId>)]
        case: CaseId,
    },
    /// The audit trail (granskningsspår) from the read model: every event with who
    /// recorded it when, and which events correct or retract which.
    #[command(after_help = "\
Examples:
  stod case history 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e
  stod case history 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --json

`case show` reads the case from the log itself; `case history` from the read models, which
may be a moment behind the log. Auditors: `stod audit history` reads the log, with both
times, each event's content and what each correction changed.")]
    History {
        /// The case (ärende) id.
        #[arg(value_name = "ID", value_parser = parse_id::<CaseId>)]
        case: CaseId,
    },
    /// Find a person's participant reference and current case by personnummer, in the
    /// participant registry (deltagarregistret).
    #[command(after_help = "\
Examples:
  stod case find --personnummer 19811218-9876
  stod case find --personnummer 900314-1234 --json

Prints the participant reference (deltagare) and the case they were last enrolled in, and
whether it is open. Exit code 7 if nobody with the number is registered (never registered,
registered anonymously, or erased with `stod participant erase`).")]
    Find {
        /// The personnummer or samordningsnummer: ÅÅÅÅMMDD-NNNN, ÅÅMMDD-NNNN, ÅÅMMDD+NNNN
        /// (100 years or older), with or without the dash.
        #[arg(long, value_name = "PNR")]
        personnummer: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ParticipantCmd {
    /// Erase a person from the participant registry (gallring): the link from their
    /// personnummer to their participant reference is removed for good.
    #[command(after_help = "\
Examples:
  stod participant erase --personnummer 19811218-9876 --yes

What stays: the cases in the event log under the random participant reference, and every
figure built from them; nothing in the log ever held the personnummer. What goes: the only
way from the person to those cases. It cannot be undone: registering the same personnummer
later gives a new participant reference, unconnected to the old cases. Without --yes
nothing is erased. Exit code 7 if the number is not registered.")]
    Erase {
        /// The personnummer or samordningsnummer to erase.
        #[arg(long, value_name = "PNR")]
        personnummer: String,
        /// Confirm: erase for good.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Throughput (genomströmning) in a year, quarter or month: persons, intakes, exits
    /// and where to, durations, breakdowns, month by month, and the yearly goal.
    #[command(
        visible_alias = "genomstromning",
        after_help = "\
Examples:
  stod report throughput --year 2025
  stod report throughput --quarter 2025-Q2
  stod report throughput --month 2025-03 --json
  stod report throughput --year 2025 --today 2025-06-30   the goal's forecast from 30 June

--json prints the read model's reply (status, checkpoint, generation, report)."
    )]
    Throughput(ThroughputArgs),
    /// The steering group's status report (styrgruppsrapport) as of a meeting date:
    /// the goal, changes since the previous meeting, participants per site, alerts.
    #[command(
        visible_alias = "steering",
        after_help = "\
Examples:
  stod report styrgrupp --as-of 2025-06-30
  stod report styrgrupp --as-of 2025-06-30 --previous 2025-03-31 --format md > styrgrupp.md
  stod report styrgrupp --as-of 2025-06-30 --format html > styrgrupp.html

Counts only, with small counts hidden: under the projector's threshold (default 5) a
count shows as \"<5\", and a count that would let one be worked out from a total as \"x\".
No case ids (not with --json either). The HTML is one self-contained page with charts,
ready to print; the dashboard (`stod up`, http://127.0.0.1:8080/styrgrupp) shows the same."
    )]
    Styrgrupp(SteeringArgs),
    /// The funder's follow-up (uppföljning till samordningsförbundet, in the style of
    /// SUS) for a period: participants by gender and age band, support at start and at
    /// exit, outcomes by SUS group; small counts hidden.
    #[command(
        visible_alias = "funder",
        after_help = "\
Examples:
  stod report uppfoljning --period 2025
  stod report uppfoljning --period 2025-Q2 --format csv > uppfoljning-2025-Q2.csv
  stod report uppfoljning --period 2025 --format html > uppfoljning-2025.html
  stod report uppfoljning --period 2025 --json

The CSV opens in Swedish Excel as it is: UTF-8 with a byte-order mark, semicolons,
ISO dates, one row per table and category with the table's total last."
    )]
    Uppfoljning(FunderArgs),
}

#[derive(Debug, Args)]
pub struct FunderArgs {
    /// A year (2025), a quarter (2025-Q2) or a month (2025-03).
    #[arg(long, value_name = "PERIOD")]
    pub period: String,
    /// text for the terminal, md (Markdown), html (a printable page) or csv (Excel).
    #[arg(long, value_enum, default_value_t = FunderFormat::Text)]
    pub format: FunderFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FunderFormat {
    Text,
    Md,
    Html,
    Csv,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("period").required(true).args(["year", "quarter", "month"])))]
pub struct ThroughputArgs {
    /// A calendar year, e.g. 2025.
    #[arg(long, value_name = "YYYY")]
    pub year: Option<String>,
    /// A quarter, e.g. 2025-Q2.
    #[arg(long, value_name = "YYYY-QN")]
    pub quarter: Option<String>,
    /// A month, e.g. 2025-03.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    /// The day the report is made on [default: today in Sweden]: the goal's forecast
    /// extrapolates from it, and "active" is counted on it.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub today: Option<Date>,
}

#[derive(Debug, Args)]
pub struct SteeringArgs {
    /// The meeting date the status is as of.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Date,
    /// The previous meeting's date: changes are counted after it. Without it, changes
    /// are counted from the first event.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub previous: Option<Date>,
    /// text for the terminal, md (Markdown) or html (a printable page).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Md,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCmd {
    /// Which generation of the read models answers, how far it has read the log, a
    /// rebuild under way, and a fault that stopped folding.
    #[command(after_help = "\
Examples:
  stod projections status
  stod projections status --json")]
    Status,
    /// Rebuild the read models from the event log beside the live ones, then switch
    /// over; queries keep answering throughout. Shows progress until done.
    #[command(after_help = "\
Examples:
  stod projections rebuild
  stod projections rebuild --json      no progress bar; the final status as JSON

All read models are one fold over the log and are rebuilt together, whichever NAME is
given. Exit code 1 if the rebuild stops on a fault (the previous read models stay live).")]
    Rebuild {
        /// The read model: all are rebuilt together, so any name rebuilds them all.
        #[arg(value_enum, default_value_t = ProjectionName::Alla)]
        name: ProjectionName,
    },
}

/// The read models by their Swedish names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProjectionName {
    /// every read model
    Alla,
    /// throughput (genomströmning)
    Genomstromning,
    /// the steering group's status
    Styrgrupp,
    /// the audit trail (granskningsspår)
    Granskning,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// A case's history read from the event log itself: every event in stream order with
    /// when it happened, when and by whom it was recorded, its content, and corrections
    /// and retractions linked both ways.
    #[command(after_help = "\
Examples:
  stod audit history 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e
  stod audit history 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --json

Times are Swedish local time; --json gives them in UTC (RFC 3339), with the full chain hash,
the submission id and the links (corrects_sequence, corrected_by, retracted_by). Unlike
`stod case history` (the read models), this reads the log and is never behind it.")]
    History {
        /// The case (ärende) id.
        #[arg(value_name = "ID", value_parser = parse_id::<CaseId>)]
        case: CaseId,
    },
    /// A report as it stood at a past moment, rebuilt from the event log in memory (the
    /// live read models are not touched), and with --compare-now what later events
    /// (corrections, late entries) changed, figure by figure.
    #[command(after_help = "\
Examples:
  the steering report as it could be presented on 30 June 2025 at 18:00, and the same
  meeting's figures as known today, after later corrections:
    stod audit replay --as-of 2025-06-30T18:00 --report styrgrupp --meeting 2025-06-30 \\
         --previous 2025-03-31 --compare-now
  throughput 2025 as the log stood at stream sequence 412 (before a correction):
    stod audit replay --as-of seq:412 --report throughput --period 2025 --json
    stod audit replay --as-of 2025-07-01T06:00:00Z --report throughput --period 2025-Q2

--as-of picks what was known: events recorded (recorded_at) at or before the instant, or
up to the stream sequence. --meeting, --period and --today pick the business dates
(occurred_on) the report is about. An instant without a zone is Swedish local time.
--today defaults to the date of the --as-of moment in Sweden (for seq:N, the day event N
was recorded). Auditors see exact counts: no small-count protection in a replay.
  the funder's follow-up for 2025 as it could be sent on 15 January 2026:
    stod audit replay --as-of 2026-01-15T12:00 --report funder --period 2025 --compare-now")]
    Replay(ReplayArgs),
    /// Prove the log intact: walk every case's hash chain and name each changed,
    /// missing, inserted or reordered event, with its case and stream sequence.
    #[command(after_help = "\
Examples:
  stod audit verify                             the live event log, over NATS
  stod audit verify --bundle granskning-2025    an export, offline (no NATS at all)
  stod audit verify --json

Exit code 0 only if every chain holds (and, for a bundle, every file matches its
manifest); 8 (integritetsfel) if anything does not. The last event of each case is covered
by the chain heads that an export records: verify a bundle to check those too.")]
    Verify {
        /// Check an export made by `stod audit export` instead of the live log; needs no
        /// NATS.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
    },
    /// Export the whole event log as a self-contained bundle (events, every case's chain
    /// head, a manifest with SHA-256 digests) that `stod audit verify --bundle` checks
    /// offline.
    #[command(after_help = "\
Examples:
  stod audit export --out granskning-2025-06-30
  stod audit verify --bundle granskning-2025-06-30

DIR must be new or empty. Note the digest printed: it shows later that the bundle is
unchanged. The byte layout of the events is in docs/event-format.md, so the chains can
also be checked without stod.")]
    Export {
        /// The directory to write (new or empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Who looked at which case, and when (åtkomstloggen): every case-level read (`case
    /// show`, `case history`, `audit history`, any client's case or history query) as
    /// the services recorded it before answering.
    #[command(after_help = "\
Examples:
  stod audit access --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e
  stod audit access --by anna --since 2025-06-01 --until 2025-06-30
  stod audit access --since 2025-06-30T08:00 --until 2025-06-30T12:00 --json

Reads the access stream (STOD_ACCESS) straight from JetStream, in the order the accesses
were stored. Times are Swedish local time; --json gives them in UTC (RFC 3339). --since and
--until include their ends; a bare date means the whole day in Sweden. An attempt on a
case that does not exist is listed too: the services record before they look.
The filter for who looked is --by: the global --user says who you are.")]
    Access(AccessArgs),
}

/// `stod audit access`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Only accesses to this case (ärende).
    #[arg(long, value_name = "ID", value_parser = parse_id::<CaseId>)]
    pub case: Option<CaseId>,
    /// Only accesses by this user.
    #[arg(long, value_name = "NAME", value_parser = parse_user)]
    pub by: Option<UserId>,
    /// From this moment on: YYYY-MM-DD (from the day's start), YYYY-MM-DDTHH:MM[:SS] in
    /// Swedish local time, or an RFC 3339 instant.
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<Timestamp>,
    /// Up to and including this moment: YYYY-MM-DD (to the day's end), Swedish local
    /// time or RFC 3339.
    #[arg(long, value_name = "WHEN", value_parser = parse_until)]
    pub until: Option<Timestamp>,
}

/// The reports `audit replay` can rebuild.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReplayReport {
    /// throughput (genomströmning), with --period
    #[value(alias = "genomstromning")]
    Throughput,
    /// the steering group's status, with --meeting
    #[value(alias = "steering")]
    Styrgrupp,
    /// the funder's follow-up (SUS style), with --period
    #[value(alias = "finansiar")]
    Funder,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The moment: YYYY-MM-DDTHH:MM[:SS] in Swedish local time, an RFC 3339 instant
    /// (2025-06-30T16:00:00Z), or seq:N for the log up to stream sequence N.
    #[arg(long, value_name = "WHEN", value_parser = parse_as_of)]
    pub as_of: Cutoff,
    /// The report to rebuild.
    #[arg(long, value_enum)]
    pub report: ReplayReport,
    /// throughput: the period, e.g. 2025, 2025-Q2 or 2025-03.
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    /// throughput: the day the report is made on [default: the --as-of date in Sweden].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub today: Option<Date>,
    /// styrgrupp: the meeting date the status is as of.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub meeting: Option<Date>,
    /// styrgrupp: the previous meeting's date; changes are counted after it.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub previous: Option<Date>,
    /// Also rebuild the same report from the whole log and list every figure that
    /// differs (then / now).
    #[arg(long)]
    pub compare_now: bool,
    /// styrgrupp: text, md (Markdown) or html (a printable page).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum DemoCmd {
    /// Generate synthetic journeys and record them through the command service, as case
    /// workers would. The same values give the same submissions, so seeding twice
    /// records nothing new.
    #[command(after_help = "\
Examples:
  stod demo seed                                    what `stod up --demo` records
  stod demo seed --participants 200 --years 3 --seed 7
  stod demo seed --participants 20 --years 1 --today 2025-12-31

The events are recorded as the demo's case workers (anna, bertil, cecilia, projektledare),
whoever runs the command; no --user is needed. Every date is on or before --today.")]
    Seed(DemoSeedArgs),
}

#[derive(Debug, Args)]
pub struct DemoSeedArgs {
    /// Participants over the whole span.
    #[arg(long, value_name = "N", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub participants: u32,
    /// Years of history, ending --today.
    #[arg(long, value_name = "Y", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub years: u32,
    /// The generator's seed: the same seed (and --today) gives the same demo.
    #[arg(long, value_name = "S", default_value_t = 2025)]
    pub seed: u64,
    /// Cases submitted at the same time (each case's steps stay in order).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// The last day of the demo [default: today in Sweden].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub today: Option<Date>,
}

#[derive(Debug, Args)]
pub struct ProjectorArgs {
    /// Where the read models are kept [default: $XDG_DATA_HOME/stod or
    /// ~/.local/share/stod]; they are in <DIR>/projections.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Published reports show counts below this as "<N" and hide what would reveal
    /// them. 1 shows everything.
    #[arg(long, value_name = "N", default_value_t = stod_projections::disclosure::DEFAULT_MIN_COUNT, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub min_count: u32,
}

#[derive(Debug, Subcommand)]
pub enum ReferenceCmd {
    /// The codes in force, with their Swedish names.
    #[command(after_help = "\
Examples:
  stod reference show
  stod reference show --kind site
  stod reference show --kind instrument --json")]
    Show {
        /// Only this kind of code.
        #[arg(long, value_parser = parser::<CodeKind>())]
        kind: Option<CodeKind>,
    },
    /// Extend the shared reference data from a TOML file (same shape as the default).
    #[command(after_help = "\
Examples:
  stod reference load nya-arbetsplatser.toml

The file has the sections of events/reference/default.toml, each optional:
  [[sites]]
  code = \"ny-verkstad\"
  name = \"Nya verkstaden\"
New codes are added; an existing code may be renamed or retired (active = false); nothing is
ever removed. A file with an error changes nothing.")]
    Load {
        /// The TOML file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where the managed server keeps its data [default: $XDG_DATA_HOME/stod or
    /// ~/.local/share/stod]; the event log is in <DIR>/nats, the read models in
    /// <DIR>/projections.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Client port of the managed server, on 127.0.0.1 [default: 4222].
    #[arg(long)]
    pub port: Option<u16>,
    /// Copies of each event when creating the log on an existing NATS cluster (3 on a
    /// three-node cluster).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Record a demo (40 participants' journeys over two years, as `stod demo seed`)
    /// unless the log already has events, then show this year's figures.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Published reports (dashboard, steering group, funder) show counts below this as
    /// "<N" and hide what would reveal them. 1 shows everything.
    #[arg(long, value_name = "N", default_value_t = stod_projections::disclosure::DEFAULT_MIN_COUNT, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub min_count: u32,
}

/// Where the dashboard and JSON API listen.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Address of the dashboard and JSON API. Loopback by default: other machines
    /// reach it only if you say so (e.g. 0.0.0.0:8080 behind a firewall).
    #[arg(long = "http", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: std::net::SocketAddr,
    /// Do not start the dashboard and JSON API.
    #[arg(long)]
    pub no_http: bool,
    /// `stod http`: the auth directory whose users may log in (<data>/auth of `stod
    /// up`). `stod up` on its own server always uses its own.
    #[arg(long, value_name = "DIR")]
    pub users: Option<PathBuf>,
    /// Serve the dashboard without logins (a machine of one's own only). Without
    /// --users or this, a dashboard on an existing NATS refuses to start.
    #[arg(long, conflicts_with = "users")]
    pub no_login: bool,
}

fn parse_user(s: &str) -> Result<UserId, String> {
    UserId::parse(s).map_err(|e| format!("ogiltigt användarnamn: {e}"))
}

fn parse_date(s: &str) -> Result<Date, String> {
    s.parse().map_err(|_| format!("{s:?} är inget datum: skriv ÅÅÅÅ-MM-DD, t.ex. 2025-03-14"))
}

/// `--as-of` of `audit replay`: `seq:N`, an RFC 3339 instant, or a Swedish wall-clock
/// time. A wall-clock time the clock change makes ambiguous or skips is refused rather
/// than guessed: an audit must say exactly which moment it means.
pub fn parse_as_of(s: &str) -> Result<Cutoff, String> {
    let t = s.trim();
    if let Some(n) = t.strip_prefix("seq:") {
        return match n.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Cutoff::Sequence(n)),
            _ => Err(format!("{s:?}: sekvensnumret måste vara ett heltal från 1, t.ex. seq:412")),
        };
    }
    parse_instant(s, "skriv t.ex. 2025-06-30T18:00 (svensk tid), 2025-06-30T16:00:00Z eller seq:412")
        .map(Cutoff::RecordedBy)
}

/// `--since` of `audit access`: a bare date is the start of that day in Sweden.
fn parse_since(s: &str) -> Result<Timestamp, String> {
    match s.trim().parse::<Date>() {
        Ok(day) => swedish_midnight(day, s),
        Err(_) => parse_instant(s, MOMENT_EXAMPLE),
    }
}

/// `--until` of `audit access`: a bare date includes the whole day in Sweden.
fn parse_until(s: &str) -> Result<Timestamp, String> {
    match s.trim().parse::<Date>() {
        Ok(day) => {
            let next =
                day.naive().succ_opt().map(Date::new).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))?;
            let start = swedish_midnight(next, s)?;
            Timestamp::from_micros(start.as_micros() - 1).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))
        }
        Err(_) => parse_instant(s, MOMENT_EXAMPLE),
    }
}

const MOMENT_EXAMPLE: &str = "skriv t.ex. 2025-06-30, 2025-06-30T18:00 (svensk tid) eller 2025-06-30T16:00:00Z";

/// 00:00 in Sweden on `day`.
fn swedish_midnight(day: Date, s: &str) -> Result<Timestamp, String> {
    stod_events::sweden::midnight(day).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))
}

/// An RFC 3339 instant or a Swedish wall-clock time. A wall-clock time the clock change
/// makes ambiguous or skips is refused rather than guessed.
fn parse_instant(s: &str, example: &str) -> Result<Timestamp, String> {
    use chrono::{LocalResult, NaiveDateTime, TimeZone};
    let t = s.trim();
    let instant = |utc: chrono::DateTime<chrono::Utc>| {
        Timestamp::from_micros(utc.timestamp_micros()).ok_or_else(|| format!("{s:?} ligger utanför kalendern"))
    };
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return instant(dt.to_utc());
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok());
    let Some(naive) = naive else {
        if t.parse::<Date>().is_ok() {
            return Err(format!("{s:?} är bara ett datum: ange även klockslag, t.ex. {t}T23:59:59 för dagens slut"));
        }
        return Err(format!("{s:?} är ingen tidpunkt: {example}"));
    };
    match stod_events::sweden::ZONE.from_local_datetime(&naive) {
        LocalResult::Single(dt) => instant(dt.to_utc()),
        LocalResult::Ambiguous(a, b) => Err(format!(
            "{s:?} inträffar två gånger i svensk tid (vintertiden börjar): ange tidszonen, {} eller {}",
            a.to_rfc3339(),
            b.to_rfc3339()
        )),
        LocalResult::None => Err(format!("{s:?} finns inte i svensk tid (sommartiden börjar): {example}")),
    }
}

fn parse_code(s: &str) -> Result<Code, String> {
    Code::parse(s).map_err(|e| e.to_string())
}

fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} är inget giltigt id: väntade ett UUID, t.ex. 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e"))
}

fn parse_score(s: &str) -> Result<AreaScore, String> {
    let (area, score) = s.split_once('=').ok_or_else(|| format!("{s:?}: skriv OMRÅDE=POÄNG, t.ex. motivation=6"))?;
    let area = Code::parse(area.trim()).map_err(|e| e.to_string())?;
    let score = score.trim().parse().map_err(|_| format!("{s:?}: poängen måste vara ett heltal 0–255"))?;
    Ok(AreaScore { area, score })
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (field, value) = s.split_once('=').ok_or_else(|| format!("{s:?}: skriv FÄLT=VÄRDE, t.ex. site=vaderbacken"))?;
    let field = field.trim();
    if field.is_empty() {
        return Err(format!("{s:?}: fältnamnet saknas"));
    }
    Ok((field.to_owned(), value.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn intake_needs_details_unless_anonymous() {
        let base = ["stod", "intake", "--date", "2025-03-14", "--gender", "kvinna"];
        assert!(Cli::try_parse_from(base).is_err());
        let anon = [&base[..], &["--anonymous", "skyddad-identitet"]].concat();
        assert!(Cli::try_parse_from(anon).is_ok());
        let primary = [&base[..], &["--anonymous", "inget-samtycke"]].concat();
        assert!(Cli::try_parse_from(primary).is_ok());
        // The first release's spelling stays accepted.
        let alias = [&base[..], &["--anonymous", "ingen-samtycke"]].concat();
        assert!(Cli::try_parse_from(alias).is_ok());
        let both = [&base[..], &["--anonymous", "inget-samtycke", "--municipality", "2084"]].concat();
        assert!(Cli::try_parse_from(both).is_err());
    }

    #[test]
    fn completion_names_a_started_training_or_a_course() {
        let base = [
            "stod",
            "training",
            "complete",
            "--case",
            "0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e",
            "--date",
            "2025-03-14",
            "--hours",
            "5",
        ];
        assert!(Cli::try_parse_from(base).is_err());
        assert!(Cli::try_parse_from([&base[..], &["--training", "1"]].concat()).is_ok());
        assert!(Cli::try_parse_from([&base[..], &["--course", "sfi"]].concat()).is_err());
        assert!(Cli::try_parse_from([&base[..], &["--course", "sfi", "--provider", "annan"]].concat()).is_ok());
        assert!(Cli::try_parse_from(
            [&base[..], &["--training", "1", "--course", "sfi", "--provider", "annan"]].concat()
        )
        .is_err());
    }

    #[test]
    fn scores_and_sets_parse() {
        assert_eq!(parse_score("motivation=6").unwrap().score, 6);
        assert!(parse_score("motivation").is_err());
        assert!(parse_score("motivation=hög").is_err());
        assert_eq!(parse_set("site = vaderbacken").unwrap(), ("site".into(), "vaderbacken".into()));
        assert!(parse_set("=x").is_err());
    }

    #[test]
    fn access_moments_take_a_whole_swedish_day_or_an_instant() {
        let at = |micros: i64| Timestamp::from_micros(micros).unwrap();
        // 2025-06-30 starts at 22:00 UTC the day before (CEST) and ends just before
        // 2025-06-30T22:00Z.
        assert_eq!(parse_since("2025-06-30").unwrap(), at(1_751_234_400_000_000));
        assert_eq!(parse_until("2025-06-30").unwrap(), at(1_751_320_800_000_000 - 1));
        assert_eq!(parse_since("2025-06-30T18:00").unwrap(), at(1_751_299_200_000_000));
        assert_eq!(parse_until("2025-06-30T16:00:00Z").unwrap(), at(1_751_299_200_000_000));
        assert!(parse_since("i går").is_err());
        let args = Cli::try_parse_from(["stod", "audit", "access", "--by", "anna", "--since", "2025-06-01"]).unwrap();
        let Cmd::Audit(AuditCmd::Access(a)) = args.command else { panic!("audit access") };
        assert_eq!(a.by.unwrap().as_str(), "anna");
    }

    #[test]
    fn as_of_takes_a_sequence_an_instant_or_swedish_wall_clock_time() {
        assert_eq!(parse_as_of("seq:412").unwrap(), Cutoff::Sequence(412));
        assert!(parse_as_of("seq:0").is_err() && parse_as_of("seq:x").is_err());
        let at = |micros: i64| Cutoff::RecordedBy(Timestamp::from_micros(micros).unwrap());
        // 2025-06-30T16:00:00Z is 18:00 in Stockholm (CEST).
        let instant = at(1_751_299_200_000_000);
        assert_eq!(parse_as_of("2025-06-30T16:00:00Z").unwrap(), instant);
        assert_eq!(parse_as_of("2025-06-30T18:00:00+02:00").unwrap(), instant);
        assert_eq!(parse_as_of("2025-06-30T18:00").unwrap(), instant);
        assert_eq!(parse_as_of("2025-06-30 18:00:00").unwrap(), instant);
        // In winter Sweden is UTC+1.
        assert_eq!(parse_as_of("2025-03-14T12:00").unwrap(), at(1_741_950_000_000_000));
        // A bare date, a skipped and a repeated wall-clock hour are refused, not guessed.
        assert!(parse_as_of("2025-06-30").is_err());
        assert!(parse_as_of("2025-03-30T02:30").is_err());
        assert!(parse_as_of("2025-10-26T02:30").is_err());
        assert!(parse_as_of("2025-10-26T02:30:00+01:00").is_ok());
    }
}
