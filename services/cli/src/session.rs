//! Who this run of `stod` is and where it connects: the global flags, read once.
//!
//! Every connection goes through `stod-client` ([`stod_client::ConnectOptions`]) with
//! the same credentials, retry policy (`STOD_CLIENT_RETRIES`) and [`Refusals`]: a
//! refusal by the server on any of them ends the command with "not permitted".

use stod_auth::Credentials;
use stod_client::{Client, ConnectOptions, Refusals, RetryPolicy};
use stod_events::ids::UserId;

use crate::args::GlobalArgs;
use crate::error::CliError;

pub struct Session {
    url: String,
    /// `--user`, or the user of the credentials.
    user: Option<UserId>,
    credentials: Option<Credentials>,
    retry: RetryPolicy,
    refusals: Refusals,
}

impl Session {
    /// Reads `--credentials` (and checks it against `--user`) and the retry policy.
    pub fn new(global: &GlobalArgs, refusals: Refusals) -> Result<Self, CliError> {
        let credentials = match &global.credentials {
            Some(path) => Some(Credentials::load(path).map_err(|e| {
                CliError::Usage(format!(
                    "inloggningsuppgifterna (--credentials / STOD_CREDENTIALS) kan inte läsas: {e}"
                ))
            })?),
            None => None,
        };
        let user = match (&global.user, &credentials) {
            (Some(user), Some(creds)) if user != &creds.user => {
                return Err(CliError::Usage(format!(
                    "--user {user} stämmer inte med inloggningsuppgifterna, som gäller {}; ta bort --user (eller STOD_USER)",
                    creds.user
                )))
            }
            (_, Some(creds)) => Some(creds.user.clone()),
            (user, None) => user.clone(),
        };
        let retry = RetryPolicy::from_env()?;
        Ok(Self { url: global.nats_url.clone(), user, credentials, retry, refusals })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// The credentials given (`--credentials`), which services started from this
    /// command line share on an existing NATS.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The user, if one was given.
    pub fn user_opt(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    /// The user, required for commands that record or read cases.
    pub fn user(&self) -> Result<UserId, CliError> {
        self.user.clone().ok_or_else(|| {
            CliError::Usage(
                "ange vem du är med --user eller miljövariabeln STOD_USER, t.ex. STOD_USER=anna \
                 (1–64 tecken bland a–z, 0–9, '-' och '_'); namnet registreras med varje händelse"
                    .into(),
            )
        })
    }

    /// How to connect as this session's user (`name` for the server's monitoring).
    pub fn options(&self, name: &str) -> ConnectOptions {
        let options = ConnectOptions::new(&self.url).name(name).retry(self.retry).refusals(self.refusals.clone());
        match (&self.credentials, &self.user) {
            (Some(creds), _) => options.credentials(creds.clone()),
            (None, Some(user)) => options.user(user.clone()),
            (None, None) => options,
        }
    }

    /// A client of stod's services as this session's user.
    pub async fn client(&self) -> Result<Client, CliError> {
        let user = self.user()?;
        Ok(self.options(&format!("stod {user}")).connect().await?)
    }

    /// A client as this session's user, or as `fallback` where none was given (on a
    /// server without logins).
    pub async fn client_or(&self, fallback: &str) -> Result<Client, CliError> {
        match &self.user {
            Some(_) => self.client().await,
            None => {
                let user = UserId::parse(fallback).map_err(|e| CliError::Other(format!("internt fel: {e}")))?;
                Ok(self.options(&format!("stod {user}")).user(user).connect().await?)
            }
        }
    }

    /// A plain NATS connection (reading JetStream directly).
    pub async fn nats(&self, name: &str) -> Result<async_nats::Client, CliError> {
        Ok(self.options(name).connect_nats().await?)
    }
}
