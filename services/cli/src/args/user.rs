//! `stod user`: the users of a managed server.

use std::path::PathBuf;

use clap::Subcommand;
use stod_events::ids::UserId;

use super::parse::*;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a person with a role; writes their credentials file for you to hand over,
    /// and lets the running server know at once.
    #[command(after_help = "\
Examples:
  stod user add anna --role handlaggare                  writes ./anna.creds
  stod user add lena --role projektledare --data /srv/stod --out /media/usb/lena.creds
  stod user add revisorn --role revisor
  stod user add styrgruppen --role styrgrupp

Roles: handlaggare (records cases), projektledare (also corrects and retracts),
revisor (reads every event and the access log, writes nothing), styrgrupp and finansiar
(published aggregates only, small counts hidden), drift (rebuilds, reference data,
metrics), sakerhetskopiering (takes backups with `stod backup`, nothing else), spegel (the
leaf node of a mirror, `stod mirror`; not a person). The credentials file is secret and is written once, here (--out), never kept on
the server: hand it to the person, who uses it with --credentials or STOD_CREDENTIALS. It
also holds the HTTP token for the dashboard's login (user name and token). Lost? `stod user
rotate NAME` makes new ones and the old stop working.")]
    Add {
        /// The user name: 1-64 of a-z, 0-9, '-', '_'; recorded with every event they record.
        #[arg(value_parser = parse_user)]
        name: UserId,
        /// handlaggare, projektledare, revisor, styrgrupp, finansiar, drift, sakerhetskopiering or spegel.
        #[arg(long, value_parser = parse_role)]
        role: stod_auth::Role,
        /// The data directory of `stod up` [default: $XDG_DATA_HOME/stod or ~/.local/share/stod].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Where to write the credentials file [default: ./NAME.creds]; never overwritten.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Remove a user: their key and token are refused as soon as the running server
    /// has reloaded (at once), and their connections are closed.
    #[command(after_help = "\
Examples:
  stod user remove anna

What they recorded stays in the log under their name; they can no longer log in.")]
    Remove {
        #[arg(value_parser = parse_user)]
        name: UserId,
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Give a user a new key and HTTP token; the old ones are refused at once.
    #[command(after_help = "\
Examples:
  stod user rotate anna                                  writes ./anna.creds
  stod user rotate drift                                 the operator's, kept in <DATA>/auth

For a lost or leaked credentials file. A person's new file is written like `user add` does;
the services' and the operator's are replaced where they are kept.")]
    Rotate {
        #[arg(value_parser = parse_user)]
        name: UserId,
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Where to write a person's new credentials [default: ./NAME.creds].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
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
