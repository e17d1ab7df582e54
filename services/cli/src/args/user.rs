//! `stod user`: the users of a managed server.

use std::path::PathBuf;

use clap::Subcommand;
use stod_events::ids::UserId;

use super::parse::*;

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
