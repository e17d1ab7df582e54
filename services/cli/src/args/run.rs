//! The run commands and the operator's: `up`, `projector`, `http`, `demo`, `reference`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use stod_events::ids::Date;
use stod_events::reference::CodeKind;

use super::parse::*;
use crate::sv::parser;

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
    /// The participant registry's secret key [default: <DIR>/registry.key, with a
    /// warning]. Keep it apart from the data directory (another disk, another backup):
    /// a copy of both together is a copy of who every participant is.
    #[arg(long, value_name = "FILE")]
    pub registry_key: Option<PathBuf>,
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
    /// Let a mirror (`stod mirror`, a second nats-server, e.g. in another building)
    /// connect as a leaf node on this address (host:port, e.g. 0.0.0.0:7422), as a user
    /// of the role spegel. Sets the server's JetStream domain to "stod".
    #[arg(long, value_name = "ADDR")]
    pub mirror_listen: Option<String>,
    /// TLS certificate (PEM) of the mirror's leaf node port; required with a
    /// --mirror-listen other machines can reach, unless --mirror-insecure.
    #[arg(long, value_name = "FILE", requires = "mirror_tls_key")]
    pub mirror_tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "mirror_tls_cert")]
    pub mirror_tls_key: Option<PathBuf>,
    /// Allow the mirror's leaf node in clear on a non-loopback address (a VPN that
    /// encrypts already).
    #[arg(long)]
    pub mirror_insecure: bool,
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
    /// HTTPS: the certificate chain (PEM). Required with --tls-key for an address other
    /// machines can reach.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// HTTPS: the private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve plain HTTP on an address other machines can reach (logins and figures then
    /// cross the network readable). Only behind a TLS-terminating proxy.
    #[arg(long)]
    pub http_insecure: bool,
}
