//! One way to connect to stod's NATS, for people and services alike.
//!
//! A person at a terminal wants to hear soon that the server is not there, so a
//! connection is tried a bounded number of times ([`RetryPolicy`]); once connected it
//! reconnects by itself if the connection drops. With credentials the connection
//! proves the user with its nkey; with or without, replies arrive under the user's
//! own inbox prefix (`_INBOX_<user>`), the only place the services answer to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::ConnectErrorKind;
use stod_auth::Credentials;
use stod_events::ids::UserId;
use stod_protocol::inbox_prefix;
use tokio::sync::{broadcast, Notify};

use crate::{Client, ClientError, RetryPolicy};

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What the server refused on a connection (permission violations). A refused publish
/// is dropped by the server, so without this a request would wait out its retries and
/// report "no answer". Cheap to clone; share one between connections to hear of all.
#[derive(Clone)]
pub struct Refusals {
    inner: Arc<RefusalsInner>,
}

struct RefusalsInner {
    first: Mutex<Option<String>>,
    notify: Notify,
    each: broadcast::Sender<String>,
}

impl Default for Refusals {
    fn default() -> Self {
        Self::new()
    }
}

impl Refusals {
    pub fn new() -> Self {
        let (each, _) = broadcast::channel(16);
        Self { inner: Arc::new(RefusalsInner { first: Mutex::new(None), notify: Notify::new(), each }) }
    }

    /// Waits until the server refuses anything on the connections using this; returns
    /// the server's words.
    pub async fn first(&self) -> String {
        loop {
            let notified = self.inner.notify.notified();
            if let Some(what) = self.inner.first.lock().ok().and_then(|r| r.clone()) {
                return what;
            }
            notified.await;
        }
    }

    /// Waits for a refusal naming `subject` that arrives from now on.
    pub(crate) fn watch(&self, subject: &str) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut each = self.inner.each.subscribe();
        let needle = format!("\"{}\"", subject.to_lowercase());
        async move {
            loop {
                match each.recv().await {
                    Ok(what) if what.to_lowercase().contains(&needle) => return what,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        }
    }

    fn record(&self, what: String) {
        if let Ok(mut first) = self.inner.first.lock() {
            first.get_or_insert_with(|| what.clone());
        }
        self.inner.notify.notify_waiters();
        let _ = self.inner.each.send(what);
    }
}

/// How to connect: where, as whom, how patiently.
#[derive(Clone)]
pub struct ConnectOptions {
    url: String,
    user: Option<UserId>,
    credentials: Option<Credentials>,
    name: Option<String>,
    retry: RetryPolicy,
    refusals: Refusals,
}

impl ConnectOptions {
    /// `url` is one NATS address, or several separated by commas (the nodes of a
    /// cluster; the connection moves to another when its node goes down).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            user: None,
            credentials: None,
            name: None,
            retry: RetryPolicy::default(),
            refusals: Refusals::new(),
        }
    }

    /// Acts as `user` (on a server without per-user keys, such as a test's).
    pub fn user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// Proves the user of `credentials` with its nkey; the user is theirs.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.user = Some(credentials.user.clone());
        self.credentials = Some(credentials);
        self
    }

    /// The connection's name, as the server's monitoring shows it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where the server's refusals on this connection are reported.
    pub fn refusals(mut self, refusals: Refusals) -> Self {
        self.refusals = refusals;
        self
    }

    pub fn user_id(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    /// A client of stod's services as the user given.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let user = self.user.clone().ok_or_else(|| {
            ClientError::Usage("ange vem du är: en användare eller inloggningsuppgifter (stod user add)".into())
        })?;
        let (retry, refusals) = (self.retry, self.refusals.clone());
        let nats = self.connect_nats().await?;
        Ok(Client::new(nats, user, retry, Some(refusals)))
    }

    /// A plain NATS connection (for services, and for reading JetStream directly),
    /// tried `1 + retries` times with a growing pause in between.
    pub async fn connect_nats(self) -> Result<async_nats::Client, ClientError> {
        let servers: Vec<&str> = self.url.split(',').map(str::trim).collect();
        let mut backoff = self.retry.backoff;
        let mut attempt = 0;
        loop {
            let mut options = match &self.credentials {
                Some(creds) => async_nats::ConnectOptions::with_nkey(creds.nkey_seed.clone()),
                None => async_nats::ConnectOptions::new(),
            };
            if let Some(user) = &self.user {
                options = options.custom_inbox_prefix(inbox_prefix(user.as_str()));
            }
            if let Some(name) = &self.name {
                options = options.name(name);
            }
            let refusals = self.refusals.clone();
            let result = options
                .event_callback(move |event| {
                    let refusals = refusals.clone();
                    async move {
                        if let async_nats::Event::ServerError(e) = event {
                            let text = e.to_string();
                            if text.to_lowercase().contains("permissions violation") {
                                refusals.record(text);
                            }
                        }
                    }
                })
                .connection_timeout(CONNECT_TIMEOUT)
                .connect(servers.as_slice())
                .await;
            let err = match result {
                Ok(client) => return Ok(client),
                Err(err) => err,
            };
            let url = &self.url;
            match err.kind() {
                ConnectErrorKind::ServerParse => {
                    return Err(ClientError::Usage(format!(
                        "ogiltig NATS-adress {url:?}: skriv t.ex. nats://127.0.0.1:4222"
                    )))
                }
                ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                    return Err(ClientError::Unavailable(format!(
                        "NATS på {url} nekade anslutningen ({err}): ange dina inloggningsuppgifter med --credentials FIL \
                         eller STOD_CREDENTIALS (filen från `stod user add`)"
                    )))
                }
                _ if attempt < self.retry.retries => {
                    tracing::debug!(url, attempt, "connecting failed, retrying: {err}");
                    attempt += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(crate::retry::MAX_BACKOFF);
                }
                _ => {
                    return Err(ClientError::Unavailable(format!(
                        "ingen NATS-server svarar på {url} ({err}). Kör `stod up` eller ange rätt adress med --nats-url / STOD_NATS_URL"
                    )))
                }
            }
        }
    }
}
