//! `stod report` and `stod projections`: the read models' reports and their status.

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use stod_events::ids::Date;

use super::parse::*;

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
    /// The steering group's status report (styrgruppsrapport) as of a month end: the
    /// goal, changes since the previous meeting, participants per site, alerts.
    #[command(
        visible_alias = "steering",
        after_help = "\
Examples:
  stod report styrgrupp                            as of the last month end that has passed
  stod report styrgrupp --as-of 2025-06-30
  stod report styrgrupp --as-of 2025-06-30 --previous 2025-03-31 --format md > styrgrupp.md
  stod report styrgrupp --as-of 2025-06-30 --format html > styrgrupp.html

Published figures stand on month ends that have passed (a report for the 14th and one
for the 15th would show what happened to the one person whose facts are dated the 15th);
another day is refused with exit 6 and the valid days.

Counts only, with small counts hidden: under the projector's threshold (default 5) a
count shows as \"<5\", and a count that would let one be worked out from a total as \"x\".
No case ids (not with --json either). The HTML is one self-contained page with charts,
ready to print; the dashboard (`stod up`, http://127.0.0.1:8080/styrgrupp) shows the same."
    )]
    Styrgrupp(SteeringArgs),
    /// The funder's follow-up (uppföljning till samordningsförbundet, in the style of
    /// SUS) for a period, as known at the last month end that has passed: participants
    /// by gender and age band, support at start and at exit, outcomes by SUS group;
    /// small counts hidden.
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
    /// The month end the status is as of: the last day of a month that has passed
    /// [default: the last one].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// The month end the previous meeting looked at: changes are counted after it.
    /// Without it, changes are counted from the first event.
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
    /// Set aside a message of the event log that is not an event (karantän), so the read
    /// models and its case are read without it. Operators only; recorded for good.
    #[command(after_help = "\
Examples:
  stod projections quarantine 37 --reason foreign --ticket INC-2026-114

The log cannot be changed, so a message that stod did not write (a bug, or someone
who got past the server's protections) stays in it. Until it is set aside the read models
stop at it (stod projections status names the sequence) and its case cannot be read. The
decision, with the SHA-256 of exactly those bytes, is kept in its own append-only stream;
stod audit verify lists it. A valid event is refused: correct or retract it instead.")]
    Quarantine {
        /// The stream sequence of the message.
        sequence: u64,
        /// Why: foreign (not written by stod) or damaged (written by stod, damaged on disk).
        #[arg(long, value_enum)]
        reason: QuarantineReasonArg,
        /// An incident or ticket number outside stod: 1-32 of A-Z, a-z, 0-9 and '-'.
        #[arg(long, value_name = "REF")]
        ticket: Option<String>,
    },
}

/// Why a message is set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QuarantineReasonArg {
    /// not written by stod
    Foreign,
    /// written by stod, damaged on disk
    Damaged,
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
