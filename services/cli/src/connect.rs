//! Connecting to NATS and to stod's services.
//!
//! `stod_client::Client::connect` keeps retrying in the background, which suits a
//! long-running service; a person at a terminal wants to hear soon that the server is
//! not there. So the command line connects itself, a bounded number of times, and hands
//! the connection to the client library.

use std::time::Duration;

use async_nats::ConnectErrorKind;
use stod_client::{Client, RetryPolicy};
use stod_events::ids::UserId;

use crate::error::CliError;

/// Environment variable: how often a request (or the connection) is retried when the
/// outcome is unknown. 0 fails at once.
pub const RETRIES_ENV: &str = "STOD_CLIENT_RETRIES";

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The retry policy: the client library's default, with the count from the environment.
pub fn retry_policy() -> Result<RetryPolicy, CliError> {
    let mut policy = RetryPolicy::default();
    if let Ok(value) = std::env::var(RETRIES_ENV) {
        policy.retries = value.trim().parse().map_err(|_| {
            CliError::Usage(format!("{RETRIES_ENV}={value:?} är inget antal: ange ett heltal, t.ex. 0 eller 6"))
        })?;
    }
    Ok(policy)
}

/// The credentials this process connects with (from --credentials), if any.
static CREDENTIALS: std::sync::OnceLock<stod_auth::Credentials> = std::sync::OnceLock::new();

/// Connect as the user of `creds` from now on.
pub fn use_credentials(creds: stod_auth::Credentials) {
    let _ = CREDENTIALS.set(creds);
}

/// A NATS connection, tried `1 + retries` times with a growing pause in between.
pub async fn nats(url: &str, name: &str, policy: &RetryPolicy) -> Result<async_nats::Client, CliError> {
    nats_as(url, name, policy, CREDENTIALS.get()).await
}

/// The first permission the server refused this process, and a wake-up for whoever
/// waits on it: a refused publish is dropped by the server, so without this the
/// command would wait out its retries and report "no answer".
static REFUSED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
static REFUSED_NOTIFY: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Waits until the server refuses something this process sent; returns what.
pub async fn refused() -> String {
    loop {
        let notified = REFUSED_NOTIFY.notified();
        if let Some(what) = REFUSED.lock().ok().and_then(|r| r.clone()) {
            return what;
        }
        notified.await;
    }
}

fn on_server_error(event: async_nats::Event) {
    if let async_nats::Event::ServerError(e) = event {
        let text = e.to_string();
        if text.to_lowercase().contains("permissions violation") {
            if let Ok(mut slot) = REFUSED.lock() {
                slot.get_or_insert(text);
            }
            REFUSED_NOTIFY.notify_waiters();
        }
    }
}

/// A NATS connection as the user of `creds` (anonymous without).
pub async fn nats_as(
    url: &str,
    name: &str,
    policy: &RetryPolicy,
    creds: Option<&stod_auth::Credentials>,
) -> Result<async_nats::Client, CliError> {
    let mut backoff = policy.backoff;
    let mut attempt = 0;
    loop {
        let options = creds.map_or_else(async_nats::ConnectOptions::new, stod_auth::connect_options);
        let result = options
            .event_callback(|event| async move { on_server_error(event) })
            .name(name)
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(servers(url).as_slice())
            .await;
        let err = match result {
            Ok(client) => return Ok(client),
            Err(err) => err,
        };
        match err.kind() {
            ConnectErrorKind::ServerParse => {
                return Err(CliError::Usage(format!(
                    "ogiltig NATS-adress {url:?}: skriv t.ex. nats://127.0.0.1:4222"
                )))
            }
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                return Err(CliError::Unavailable(format!(
                    "NATS på {url} nekade anslutningen ({err}): ange dina inloggningsuppgifter med --credentials FIL \
                     eller STOD_CREDENTIALS (filen från `stod user add`)"
                )))
            }
            _ if attempt < policy.retries => {
                tracing::debug!(url, attempt, "connecting failed, retrying: {err}");
                attempt += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            _ => {
                return Err(CliError::Unavailable(format!(
                    "ingen NATS-server svarar på {url} ({err}). Kör `stod up` eller ange rätt adress med --nats-url / STOD_NATS_URL"
                )))
            }
        }
    }
}

/// The servers of a `--nats-url`: one URL, or several separated by commas (the nodes
/// of a cluster; the connection moves to another when its node goes down).
fn servers(url: &str) -> Vec<&str> {
    url.split(',').map(str::trim).collect()
}

/// A client of stod's services, as `user`.
pub async fn client(url: &str, user: UserId) -> Result<Client, CliError> {
    let policy = retry_policy()?;
    let nats = nats(url, &format!("stod {user}"), &policy).await?;
    Ok(Client::from_nats(nats, user).with_retry(policy))
}

/// The user, required for commands that record or read cases.
pub fn require_user(user: &Option<UserId>) -> Result<UserId, CliError> {
    user.clone().ok_or_else(|| {
        CliError::Usage(
            "ange vem du är med --user eller miljövariabeln STOD_USER, t.ex. STOD_USER=anna \
             (1–64 tecken bland a–z, 0–9, '-' och '_'); namnet registreras med varje händelse"
                .into(),
        )
    })
}
