//! The command line: flags are English, values and output Swedish.
//!
//! Everything a case worker types is checked here, before anything is sent: dates,
//! codes, ids and the fixed values (tokens from [`crate::sv`]). The case rules are
//! checked by the service, which knows the case and the reference data in force.
//!
//! By area, as the commands are: [`record`] (recording a case's steps), [`case`]
//! (reading a case, the participant registry), [`report`] (reports and the read
//! models' status), [`audit`], [`run`] (`up`, `projector`, `http`, `demo`,
//! `reference`), [`user`]; [`parse`] holds the value parsers they share.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use stod_events::ids::UserId;

pub mod audit;
pub mod backup;
pub mod case;
pub mod parse;
pub mod record;
pub mod report;
pub mod run;
pub mod user;

pub use audit::*;
pub use backup::*;
pub use case::*;
pub use parse::{parse_as_of, CaseRef};
pub use record::*;
pub use report::*;
pub use run::*;
pub use user::*;

use parse::parse_user;

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
  stod intake --personnummer --date 2025-03-14 --gender kvinna \
       --municipality 2084 --referrer af --support forsorjningsstod --birth-year 1990
                                       (asks for the personnummer: never on the command line)
  stod case find --personnummer
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
  9  not permitted for your role (the server refused it); nothing was recorded

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
  stod intake --personnummer --date 2025-03-14 --gender kvinna \
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
    /// Hand a case over to another case worker (ny ansvarig); also after the exit, for
    /// the follow-ups.
    #[command(after_help = "\
Examples:
  stod reassign --case 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --to bertil
  stod reassign --case 0195b8a2-7c4e --to bertil --date 2025-09-01

The case moves to the new case worker's `stod case list` and `stod worklist`. It is an
event like any other: `stod correct` or `stod retract` undo a handover made by mistake.")]
    Reassign(ReassignArgs),
    /// Read cases (ärenden).
    #[command(subcommand)]
    Case(CaseCmd),
    /// The worklist (att göra): what is due on your cases, oldest first, each with the
    /// command that resolves it.
    #[command(after_help = "\
Examples:
  stod worklist
  stod worklist --all --rule follow_up_3
  stod worklist --today 2026-01-31 --json

The rules (docs/worklist.md), each dated from the case's own facts:
  no_placement     no placement 30 days after the intake
  long_placement   a placement open for over 6 months
  no_assessment    no progress assessment (stegförflyttning) for 3 months while active
  follow_up_3/6/12 a follow-up 3, 6 and 12 months after the exit (overdue after 30 days)
  long_stay        in the programme for over 12 months
An item clears when the fact that resolves it is recorded.")]
    Worklist(CaseloadArgs),
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
    /// Back up the logs, the buckets and the people (säkerhetskopiering), online, as the
    /// role säkerhetskopiering; check a backup offline; seal the registry key.
    #[command(after_help = "\
Examples:
  stod backup --out /mnt/backup/stod --credentials sakerhetskopiering.creds
  stod backup verify /mnt/backup/stod
  stod backup key --out /media/usb/stod-registernyckel.age

The first backup into a directory is full; each later one holds only what came after the
previous one, and the chain of them restores as one (`stod restore`). Run it while stod
is in use: each log is copied up to where it stood when its copy began. Every backup is
recorded in the access log. The registry key is never in a backup: seal it with
`stod backup key` and keep it elsewhere. See README, Säkerhetskopiering.")]
    Backup(BackupArgs),
    /// Restore a chain of backups into a new data directory (återställning), checked
    /// first, then the read models rebuilt; start it with `stod up --data DIR`.
    #[command(after_help = "\
Examples:
  stod restore --from /mnt/backup/stod --data /srv/stod-ny
  stod restore --from /mnt/backup/stod --data /srv/stod-ny --registry-key /media/usb/stod-registernyckel.age

Refuses a damaged backup (exit code 8) and a data directory that is not empty. Every
message goes back at its own sequence, the streams get their protections (no delete, no
purge), and the restored log is compared with the backup before the directory is used.
The people keep their credentials; the services and the operator (drift) get new ones.")]
    Restore(RestoreArgs),
    /// Run a mirror (spegel): a second nats-server that holds the event log, the access
    /// log, the quarantine list and the buckets at the primary's sequences, read-only;
    /// or promote it after the primary is lost.
    #[command(after_help = "\
Examples:
  # on the primary
  stod user add spegel --role spegel --data /srv/stod --out spegel.creds
  stod up --data /srv/stod --mirror-listen 0.0.0.0:7422
  # on the second machine, with spegel.creds copied there
  stod mirror --data /srv/stod-spegel --upstream nats-leaf://primar.example:7422 --credentials spegel.creds
  # after the primary is lost
  stod mirror promote --mirror /srv/stod-spegel --data /srv/stod --backup /mnt/nas/stod

The mirror dials out to the primary (no port to open in its building) and follows within a
fraction of a second under load. Nothing can be written to it, and no service runs on it.
Stop with Ctrl-C.")]
    Mirror(MirrorArgs),
}

impl Cmd {
    /// The case the command names by the start of its id, if it does.
    pub fn case_prefix(&self) -> Option<&str> {
        let case = match self {
            Cmd::Place(a) => &a.at.case,
            Cmd::EndPlacement(a) => &a.at.case,
            Cmd::Training(TrainingCmd::Start(a)) => &a.at.case,
            Cmd::Training(TrainingCmd::Complete(a)) => &a.at.case,
            Cmd::Training(TrainingCmd::Discontinue(a)) => &a.at.case,
            Cmd::Assess(a) => &a.at.case,
            Cmd::Exit(a) => &a.at.case,
            Cmd::FollowUp(a) => &a.at.case,
            Cmd::Reassign(a) => &a.case,
            Cmd::Correct(a) => &a.case,
            Cmd::Retract(a) => &a.case,
            Cmd::Case(CaseCmd::Show { case } | CaseCmd::History { case }) => case,
            _ => return None,
        };
        match case {
            CaseRef::Prefix(p) => Some(p),
            CaseRef::Id(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse::*;
    use super::*;
    use clap::CommandFactory;
    use stod_audit::Cutoff;
    use stod_events::ids::Timestamp;

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
