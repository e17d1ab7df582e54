//! `stod audit`: what an auditor runs.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use stod_audit::Cutoff;
use stod_events::ids::{CaseId, Date, Timestamp, UserId};

use super::parse::*;
use super::ReportFormat;

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
