//! `stod`, the command line of the stod case-tracking system.
//!
//! Case workers record each step of a participant's journey (intake, placements,
//! courses, assessments, exit, follow-up) and read a case's history; project leaders
//! and the steering group read reports from the read models; auditors read a case's
//! history from the log, replay reports to a past moment, prove the log intact and
//! export it for offline checking; operators run the system (`stod up`, `stod
//! projector`), rebuild the read models, extend the reference data and seed demo data.
//! Everything a user reads is Swedish; `--json` gives programs the replies as JSON
//! instead.
//!
//! The binary (`src/main.rs`) only parses the command line, sets up logging and calls
//! [`execute`].
//!
//! ```
//! let typed = stod::Invocation::try_parse_from(["stod", "up", "--nats-url", "nats://nats1:4222"]).unwrap();
//! // `up` connects to an existing NATS only when told so on its own command line.
//! assert!(typed.nats_url_on_command_line);
//! // STOD_NATS_URL (or the default) is for the other commands.
//! let shown = stod::Invocation::try_parse_from(["stod", "reference", "show"]).unwrap();
//! assert!(!shown.nats_url_on_command_line);
//! ```
//!
//! # Layout
//!
//! - [`args`]: the command line (clap), with every value checked before anything is sent.
//! - [`sv`]: Swedish tokens and labels of the domain's fixed values, in one place.
//! - [`session`]: who this run is and where it connects (through `stod-client`).
//! - [`record`]: the recording commands and their receipts.
//! - [`correct`]: turning `--set FIELD=VALUE` into a corrected fact.
//! - [`reference`]: showing and extending reference data.
//! - [`registry`]: the participant registry (`case find`, `participant erase`, and
//!   the registration `intake --personnummer` does first).
//! - [`read`]: the commands that ask the read models (`report ...`, `case history`),
//!   [`report`] their Swedish layout (text, Markdown, HTML), [`projections`] the
//!   operator's status and rebuild.
//! - [`audit`]: the auditor's commands (`audit history`, `replay`, `verify`, `export`,
//!   `access`),
//!   reading the log straight from JetStream; [`audit_text`] their Swedish layout.
//! - [`run`]: `stod up`, `stod projector` and `stod http`, adapters over
//!   `stod-system`; [`demo`] demo data through the command path.
//! - [`output`] and [`error`]: where results and failures go, and the exit codes.
//!
//! # What it does not do
//!
//! It decides no case rule: the command service does, and the command line only
//! reports its answer. It computes no figure: the read models do, except that
//! `audit replay` folds the log in memory with the same pure folds (`stod-projections`)
//! to show a past moment, leaving the live read models alone. It keeps no state of its
//! own between runs.

pub mod args;
pub mod audit;
pub mod audit_text;
pub mod backup;
pub mod correct;
pub mod demo;
pub mod error;
pub mod output;
pub mod projections;
pub mod read;
pub mod record;
pub mod reference;
pub mod registry;
pub mod report;
pub mod run;
pub mod session;

pub mod sv;
pub mod user;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use stod_client::{Client, Refusals};
use stod_events::reference::CodeKind;

pub use args::Cli;
use args::{
    AuditCmd, BackupArgs, BackupCmd, CaseCmd, Cmd, DemoCmd, MirrorArgs, MirrorCmd, ParticipantCmd, ProjectionsCmd,
    ReferenceCmd, ReportCmd, UserCmd,
};
pub use error::CliError;
use output::Output;
use session::Session;

/// A parsed command line, with what clap's derive alone does not tell.
#[derive(Debug)]
pub struct Invocation {
    pub cli: Cli,
    /// `--nats-url` was typed on this command line, rather than coming from
    /// `STOD_NATS_URL` or the default. Only `up` cares: it starts its own server unless
    /// told on the command line to use an existing one.
    pub nats_url_on_command_line: bool,
}

impl Invocation {
    /// Parses the process's arguments; prints help or a usage error and exits (code 2)
    /// when clap says so.
    pub fn from_env() -> Self {
        Self::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let on_command_line = |m: &clap::ArgMatches| m.value_source("nats_url") == Some(ValueSource::CommandLine);
        let nats_url_on_command_line =
            on_command_line(&matches) || matches.subcommand().is_some_and(|(_, sub)| on_command_line(sub));
        Ok(Self { cli, nats_url_on_command_line })
    }
}

/// Runs the command, reports a failure, and returns the exit code.
pub async fn execute(invocation: Invocation) -> u8 {
    let out = Output { json: invocation.cli.global.json };
    let refusals = Refusals::new();
    // A long-running service must not stop because one request was refused; it logs
    // and carries on. A command a person ran ends at once with the reason.
    let long_running = matches!(invocation.cli.command, Cmd::Up(_) | Cmd::Projector(_) | Cmd::Http(_));
    let result = if long_running {
        run(invocation, out, refusals).await
    } else {
        tokio::select! {
            result = run(invocation, out, refusals.clone()) => result,
            // The server dropped what we sent: nothing was recorded, and waiting longer
            // would only end in "no answer".
            what = refusals.first() => Err(CliError::Forbidden(error::forbidden(&what))),
        }
    };
    match result {
        Ok(()) => error::exit_code::OK,
        Err(e) => {
            report(&e, out);
            e.exit_code()
        }
    }
}

async fn run(invocation: Invocation, out: Output, refusals: Refusals) -> Result<(), CliError> {
    let Invocation { cli, nats_url_on_command_line } = invocation;
    let session = Session::new(&cli.global, refusals)?;
    // A case by the start of its id is looked up in the caseload, which only case
    // workers and project leaders may read: anyone else is told before anything is sent
    // (the server would refuse the lookup, and a refusal ends the command).
    if let (Some(prefix), Some(creds)) = (cli.command.case_prefix(), session.credentials()) {
        if !matches!(creds.role, stod_auth::Role::CaseWorker | stod_auth::Role::ProjectLeader) {
            return Err(CliError::Usage(format!(
                "{prefix}: din roll kan inte slå upp ärenden på början av id:t; ange hela ärende-id:t"
            )));
        }
    }
    let url = session.url().to_owned();
    match cli.command {
        Cmd::Up(args) => run::up(args, nats_url_on_command_line.then_some(url), &session, out).await,
        Cmd::Reference(ReferenceCmd::Load { file }) => reference::load(&session, out, &file).await,
        Cmd::Reference(ReferenceCmd::Show { kind }) => {
            let client = session.client_or(reference::ANONYMOUS_READER).await?;
            reference::show(&client, out, kind).await
        }
        Cmd::Demo(DemoCmd::Seed(args)) => demo::seed_command(&session, out, args).await,
        // Refused before connecting: nothing is sent without the confirmation.
        Cmd::Participant(ParticipantCmd::Erase { yes: false, .. }) => Err(registry::erase_needs_confirmation()),
        Cmd::Projector(args) => run::projector(&session, args, out).await,
        Cmd::Http(args) => run::http(&session, args, out).await,
        Cmd::User(UserCmd::Add { name, role, data, out: file }) => user::add(name, role, data, file, out),
        Cmd::User(UserCmd::Remove { name, data }) => user::remove(name, data, out),
        Cmd::User(UserCmd::Rotate { name, data, out: file }) => user::rotate(name, data, file, out),
        Cmd::User(UserCmd::List { data }) => user::list(data, out),
        Cmd::Backup(BackupArgs { command: Some(BackupCmd::Verify { dir, signer }), .. }) => {
            backup::verify(out, &dir, signer.as_deref())
        }
        Cmd::Backup(BackupArgs {
            command: Some(BackupCmd::Key { out: file, data, registry_key, passphrase_stdin }),
            ..
        }) => backup::seal_key(out, &file, data, registry_key, passphrase_stdin),
        Cmd::Backup(BackupArgs { command: None, out: Some(dir), data }) => {
            backup::take(&session.client().await?, session.credentials(), out, &dir, data).await
        }
        Cmd::Backup(BackupArgs { command: None, out: None, .. }) => Err(CliError::Usage(
            "ange var säkerhetskopian ska skrivas: stod backup --out KATALOG (eller stod backup verify KATALOG)".into(),
        )),
        Cmd::Restore(args) => backup::restore(out, args).await,
        Cmd::Mirror(MirrorArgs {
            command: Some(MirrorCmd::Promote { mirror, data, backup: from, signer, registry_key, passphrase_stdin }),
            ..
        }) => {
            let from = from.as_deref().map(|dir| (dir, signer.as_deref()));
            backup::promote(out, &mirror, &data, from, registry_key.as_deref(), passphrase_stdin).await
        }
        Cmd::Mirror(MirrorArgs { command: None, data, upstream, upstream_ca, upstream_insecure, port }) => {
            backup::mirror(&session, out, data, upstream, (upstream_ca, upstream_insecure), port).await
        }
        Cmd::Report(report) => {
            let client = session.client().await?;
            match report {
                ReportCmd::Throughput(args) => read::throughput(&client, out, args).await,
                ReportCmd::Styrgrupp(args) => read::steering(&client, out, args).await,
                ReportCmd::Uppfoljning(args) => read::funder(&client, out, args).await,
            }
        }
        Cmd::Case(CaseCmd::History { case }) => {
            let client = session.client().await?;
            let case = read::resolve_case(&client, &case).await?;
            read::history(&client, out, case).await
        }
        Cmd::Case(CaseCmd::List(args)) => read::caseload(&session.client().await?, out, args).await,
        Cmd::Worklist(args) => read::worklist(&session.client().await?, out, args).await,
        Cmd::Audit(command) => match command {
            AuditCmd::History { case } => audit::history(&session.client().await?, out, case).await,
            AuditCmd::Replay(args) => audit::replay(&session, &session.client().await?, out, args).await,
            AuditCmd::Verify { bundle: Some(dir) } => audit::verify_bundle(&dir, out),
            AuditCmd::Verify { bundle: None } => audit::verify_log(&session.client().await?, &url, out).await,
            AuditCmd::Export { out: dir } => audit::export(&session.client().await?, &url, out, &dir).await,
            AuditCmd::Access(args) => audit::access(&session.client().await?, &url, out, args).await,
        },
        Cmd::Projections(command) => {
            let client = session.client().await?;
            match command {
                ProjectionsCmd::Status => projections::status(&client, out).await,
                ProjectionsCmd::Rebuild { name } => projections::rebuild(&client, out, name).await,
                ProjectionsCmd::Quarantine { sequence, reason, ticket } => {
                    projections::quarantine(&client, out, sequence, reason, ticket).await
                }
            }
        }
        command => {
            let client = session.client().await?;
            let mut result = case_command(&client, out, command).await;
            if let Err(CliError::Rejected { valid, .. }) = &mut result {
                if !out.json {
                    *valid = with_names(&client, valid).await;
                }
            }
            result
        }
    }
}

async fn case_command(client: &Client, out: Output, command: Cmd) -> Result<(), CliError> {
    match command {
        Cmd::Intake(a) => record::intake(client, out, a).await,
        Cmd::Place(a) => record::place(client, out, a).await,
        Cmd::EndPlacement(a) => record::end_placement(client, out, a).await,
        Cmd::Training(t) => record::training(client, out, t).await,
        Cmd::Assess(a) => record::assess(client, out, a).await,
        Cmd::Exit(a) => record::exit(client, out, a).await,
        Cmd::FollowUp(a) => record::follow_up(client, out, a).await,
        Cmd::Reassign(a) => record::reassign(client, out, a).await,
        Cmd::Correct(a) => record::correct(client, out, a).await,
        Cmd::Retract(a) => record::retract(client, out, a).await,
        Cmd::Case(CaseCmd::Show { case }) => {
            let case = read::resolve_case(client, &case).await?;
            let view = client.case(case).await?;
            if out.json {
                out.result(&view, String::new);
            } else {
                let names = client.catalogue().await;
                out.result(&view, || stod_reports::case::case_text(&view, &names).trim_end().to_owned());
            }
            Ok(())
        }
        Cmd::Case(CaseCmd::Find { personnummer }) => registry::find(client, out, &personnummer).await,
        Cmd::Participant(ParticipantCmd::Erase { personnummer, yes: true }) => {
            registry::erase(client, out, &personnummer).await
        }
        Cmd::Case(CaseCmd::History { .. } | CaseCmd::List(_))
        | Cmd::Worklist(_)
        | Cmd::Participant(ParticipantCmd::Erase { yes: false, .. })
        | Cmd::Up(_)
        | Cmd::Http(_)
        | Cmd::User(_)
        | Cmd::Backup(_)
        | Cmd::Restore(_)
        | Cmd::Mirror(_)
        | Cmd::Reference(_)
        | Cmd::Report(_)
        | Cmd::Projections(_)
        | Cmd::Audit(_)
        | Cmd::Demo(_)
        | Cmd::Projector(_) => Err(CliError::Other("internt fel: fel kommando".into())),
    }
}

/// `code   Name` for valid codes of one reference-data kind, so a case worker sees
/// what each code means. The rejection does not say the kind; the kind whose codes in
/// force are exactly these is it. Unchanged if none matches or names cannot be read.
async fn with_names(client: &Client, valid: &[String]) -> Vec<String> {
    if valid.is_empty() {
        return Vec::new();
    }
    let cat = client.catalogue().await;
    let same = |codes: Vec<String>| codes.len() == valid.len() && codes.iter().all(|c| valid.contains(c));
    for kind in CodeKind::ALL {
        let active: Vec<String> = cat.active_codes(kind).iter().map(ToString::to_string).collect();
        if same(active) {
            return cat
                .active_codes(kind)
                .iter()
                .map(|code| format!("{:<24}{}", code.as_str(), cat.name(kind, code)))
                .collect();
        }
    }
    valid.to_vec()
}

/// Prints a failure: the Swedish message on stderr, and with `--json` the machine form
/// on stdout.
pub fn report(e: &CliError, out: Output) {
    if out.json && !matches!(e, CliError::Integrity { shown: true, .. }) {
        out.result(&e.to_json(), String::new);
    }
    match e {
        CliError::Rejected { message, valid, .. } => {
            eprintln!("Avvisat: {message}");
            // Codes never contain spaces, so a spaced entry is a code with its name.
            if valid.iter().any(|v| v.contains(' ')) {
                eprintln!("Giltiga värden:");
                for v in valid {
                    eprintln!("  {v}");
                }
            } else if !valid.is_empty() {
                eprintln!("Giltiga värden: {}", valid.join(", "));
            }
            eprintln!("Inget registrerades.");
        }
        other => eprintln!("stod: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_typed_nats_url_makes_up_use_an_existing_nats() {
        let after = Invocation::try_parse_from(["stod", "up", "--nats-url", "nats://a:4222"]).unwrap();
        assert!(after.nats_url_on_command_line);
        let before = Invocation::try_parse_from(["stod", "--nats-url", "nats://a:4222", "up"]).unwrap();
        assert!(before.nats_url_on_command_line);
        let default = Invocation::try_parse_from(["stod", "up", "--port", "4300"]).unwrap();
        assert!(!default.nats_url_on_command_line);
    }
}
