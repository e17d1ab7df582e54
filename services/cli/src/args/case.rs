//! `stod case` and `stod participant`: reading a case, and the participant registry.

use clap::{Args, Subcommand};
use stod_events::ids::{Code, Date, UserId};
use stod_projections::{CaseStatus, DueRule};

use super::parse::*;

#[derive(Debug, Subcommand)]
pub enum CaseCmd {
    /// The caseload (ärendelista): your cases, or everyone's with --all, each with where
    /// it stands and what is due.
    #[command(after_help = "\
Examples:
  stod case list
  stod case list --due
  stod case list --all --status active --site industrisparet
  stod case list --rule no_assessment --json

You are responsible (ansvarig) for the cases whose intake you recorded. What is due follows
the worklist rules (docs/worklist.md); `stod worklist` lists it item by item with the
command that resolves each.")]
    List(CaseloadArgs),
    /// A case's full history (händelser), with corrections linked to what they change.
    #[command(after_help = "\
Examples:
  stod case show 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e
  stod case show 0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d6e --json")]
    Show {
        /// The case (ärende) id, or its first characters (at least 4).
        #[arg(value_name = "ID", value_parser = parse_case)]
        case: CaseRef,
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
        /// The case (ärende) id, or its first characters (at least 4).
        #[arg(value_name = "ID", value_parser = parse_case)]
        case: CaseRef,
    },
    /// Find a person's participant reference and current case by personnummer, in the
    /// participant registry (deltagarregistret).
    #[command(after_help = "\
Examples:
  stod case find --personnummer             (asks for the number)
  echo 19811218-9876 | stod case find --personnummer - --json

Prints the participant reference (deltagare) and the case they were last enrolled in, and
whether it is open. Exit code 7 if nobody with the number is registered (never registered,
registered anonymously, or erased with `stod participant erase`).")]
    Find {
        /// The personnummer or samordningsnummer: ÅÅÅÅMMDD-NNNN, ÅÅMMDD-NNNN, ÅÅMMDD+NNNN
        /// (100 years or older), with or without the dash. `-` (or the flag alone)
        /// reads it from standard input, so it stays out of the shell's history.
        #[arg(long, value_name = "PNR", num_args = 0..=1, default_missing_value = "-")]
        personnummer: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ParticipantCmd {
    /// Erase a person from the participant registry (gallring): the link from their
    /// personnummer to their participant reference is removed for good.
    #[command(after_help = "\
Examples:
  stod participant erase --personnummer --yes      (asks for the number)

What stays: the cases in the event log under the random participant reference, and every
figure built from them; nothing in the log ever held the personnummer. What goes: the only
way from the person to those cases. It cannot be undone: registering the same personnummer
later gives a new participant reference, unconnected to the old cases. Without --yes
nothing is erased. Exit code 7 if the number is not registered.")]
    Erase {
        /// The personnummer or samordningsnummer to erase; `-` (or the flag alone)
        /// reads it from standard input.
        #[arg(long, value_name = "PNR", num_args = 0..=1, default_missing_value = "-")]
        personnummer: String,
        /// Confirm: erase for good.
        #[arg(long)]
        yes: bool,
    },
}

/// Which cases a caseload or worklist holds.
#[derive(Debug, Args)]
pub struct CaseloadArgs {
    /// Every case worker's cases, not only yours.
    #[arg(long, conflicts_with = "responsible")]
    pub all: bool,
    /// The cases of this case worker (ansvarig) instead of yours.
    #[arg(long, value_name = "USER", value_parser = parse_user)]
    pub responsible: Option<UserId>,
    /// Only cases in this status: active (aktiv), exited (avslutad), no_intake.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<CaseStatus>,
    /// Only cases with a running placement at this site (arbetsplats) code.
    #[arg(long, value_parser = parse_code)]
    pub site: Option<Code>,
    /// Only cases with something due.
    #[arg(long)]
    pub due: bool,
    /// Only cases where this is due: no_placement, long_placement, no_assessment,
    /// follow_up_3, follow_up_6, follow_up_12, long_stay.
    #[arg(long, value_parser = parse_rule)]
    pub rule: Option<DueRule>,
    /// The day the rules are applied on (YYYY-MM-DD); today if omitted.
    #[arg(long, value_parser = parse_date)]
    pub today: Option<Date>,
    /// Most cases listed (at most 2000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub limit: Option<u32>,
}

fn parse_status(s: &str) -> Result<CaseStatus, String> {
    CaseStatus::parse(s.trim()).ok_or_else(|| format!("{s:?} är ingen status: välj active, exited eller no_intake"))
}

fn parse_rule(s: &str) -> Result<DueRule, String> {
    DueRule::parse(s.trim()).ok_or_else(|| {
        let names: Vec<&str> = DueRule::ALL.iter().map(|r| r.name()).collect();
        format!("{s:?} är ingen regel: välj {}", names.join(", "))
    })
}

fn parse_code(s: &str) -> Result<Code, String> {
    Code::parse(s.trim()).map_err(|e| e.to_string())
}
