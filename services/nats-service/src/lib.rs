//! The one NATS service loop of stod: every service (commands, registry, read models)
//! runs its endpoints through [`start`].
//!
//! A service names its endpoints and queue group in a [`Spec`] and answers requests in
//! [`Service::handle`]; this crate does the rest, once for all of them:
//!
//! - binds the endpoints as one `async-nats` service in a queue group, so any number of
//!   instances share the load and any of them may die;
//! - **screens** every request before the service sees it: the user is taken from the
//!   subject (`stod.<area>.<user>.<name>`, where the server's permissions bind the
//!   user token to the credentials), and a request whose reply subject breaks the
//!   [`ReplyRule`] is dropped, logged and counted (`stod_requests_refused_total`);
//! - **bounds** the requests in flight ([`Spec::max_in_flight`]); more wait in NATS;
//! - **drains** on stop: unsubscribe (so NATS routes new requests to other instances),
//!   let the requests already taken finish, then [`Service::stopped`];
//! - gives every service the same handle, [`Running`].
//!
//! ```no_run
//! # async fn example(nats: async_nats::Client) -> Result<(), stod_nats_service::ServiceError> {
//! use stod_nats_service::{Endpoint, Request, Service, Spec};
//!
//! struct Echo;
//! impl Service for Echo {
//!     async fn handle(&self, request: Request) -> Vec<u8> {
//!         format!("hello {}", request.user).into_bytes()
//!     }
//!     fn bad_subject(&self, subject: &str) -> Vec<u8> {
//!         format!("no user in {subject}").into_bytes()
//!     }
//! }
//!
//! let spec = Spec::new("echo", "says hello", "echo", vec![Endpoint::new("hello", "stod.echo.*.hello")]);
//! let running = stod_nats_service::start(nats, spec, std::sync::Arc::new(Echo)).await?;
//! // ... until asked to stop:
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # What it does not do
//!
//! It reads no body and knows no protocol: what a request means, and how a refusal is
//! worded, is the service's. It checks no permission the server already enforces; it
//! adds the checks the server cannot make (whose inbox a reply goes to).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use async_nats::service::ServiceExt as _;
use bytes::Bytes;
use futures::StreamExt as _;
use stod_events::ids::UserId;
use stod_protocol::inbox_prefix;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

/// One endpoint: a name (in `$SRV` stats) and the subject it listens on, with `*` for
/// the user token.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub subject: String,
}

impl Endpoint {
    pub fn new(name: impl Into<String>, subject: impl Into<String>) -> Self {
        Self { name: name.into(), subject: subject.into() }
    }
}

/// Where a service may send its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplyRule {
    /// To whatever reply subject the request names. Only for tests that show what
    /// the rule prevents.
    Any,
    /// Only into the requester's own inbox, `_INBOX_<user>.`, with the user taken
    /// from the subject, or into a `_R_.` subject: the server's route back to the
    /// account a request came from through a service import, which leads into that
    /// account only. A request naming anything else as its reply subject (the event
    /// log, another user's inbox) is dropped unanswered: the service never publishes
    /// where the requester itself may not.
    #[default]
    OwnInbox,
}

/// How nats-server names the reply subject of a request that came through a service
/// import: its answer is routed back into the importing account only.
pub const IMPORT_REPLY_PREFIX: &str = "_R_.";

/// What a service is, for NATS and for this loop.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The NATS service name (`$SRV.INFO.<name>`), e.g. `stod-command`.
    pub name: &'static str,
    pub description: &'static str,
    /// Every instance joins it, so each request reaches one instance.
    pub queue_group: &'static str,
    pub version: &'static str,
    pub endpoints: Vec<Endpoint>,
    /// Requests handled at once by this instance; more wait in NATS.
    pub max_in_flight: usize,
    pub replies: ReplyRule,
}

impl Spec {
    /// A spec with 64 requests in flight and [`ReplyRule::OwnInbox`].
    pub fn new(
        name: &'static str,
        description: &'static str,
        queue_group: &'static str,
        endpoints: Vec<Endpoint>,
    ) -> Self {
        Self {
            name,
            description,
            queue_group,
            version: env!("CARGO_PKG_VERSION"),
            endpoints,
            max_in_flight: 64,
            replies: ReplyRule::default(),
        }
    }

    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight.max(1);
        self
    }

    pub fn with_replies(mut self, rule: ReplyRule) -> Self {
        self.replies = rule;
        self
    }
}

/// A request that passed screening.
#[derive(Clone, Debug)]
pub struct Request {
    /// The endpoint it arrived on ([`Endpoint::name`]).
    pub endpoint: String,
    pub subject: String,
    /// Who sent it: the subject's user token. With the server's permissions this is
    /// the authenticated user; never take a user from the body.
    pub user: UserId,
    /// The subject's last token (`record`, `case`, `lookup`, ...).
    pub name: String,
    pub payload: Bytes,
}

/// A service run by this loop.
pub trait Service: Send + Sync + 'static {
    /// Answers one request; the bytes are sent to its reply subject.
    fn handle(&self, request: Request) -> impl Future<Output = Vec<u8>> + Send;

    /// The answer to a request on one of the endpoints whose subject names no valid
    /// user (`stod.<area>.<user>.<name>`), in the service's own reply format.
    fn bad_subject(&self, subject: &str) -> Vec<u8>;

    /// Runs once after the last request is answered (stop background work, flush).
    fn stopped(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceErrorKind {
    /// The service or an endpoint could not be registered with NATS.
    Register,
    /// The server did not confirm the subscriptions.
    Flush,
}

#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct ServiceError {
    kind: ServiceErrorKind,
    what: String,
    message: String,
}

impl ServiceError {
    pub fn kind(&self) -> ServiceErrorKind {
        self.kind
    }
}

/// What the loop has seen, for tests and `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    handled: AtomicU64,
    refused: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

impl Counters {
    /// Requests answered (screened in and handled).
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// Requests dropped by screening.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The most requests that were ever handled at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::Relaxed)
    }

    fn enter(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running service. Dropping it does not stop it; call [`shutdown`](Self::shutdown).
pub struct Running<S> {
    service: Arc<S>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The service's own methods (`handler()`, `projector()`, `store()`) on the handle.
impl<S> std::ops::Deref for Running<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.service
    }
}

impl<S> Running<S> {
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stops taking requests, finishes those in flight, runs [`Service::stopped`], and
    /// returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            warn!("service task ended abnormally: {e}");
        }
    }
}

/// Why a request was not handed to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screened {
    /// No reply subject: nobody to answer.
    NoReply,
    /// The reply subject is not the requester's own inbox.
    ForeignReply,
}

impl Screened {
    fn as_str(self) -> &'static str {
        match self {
            Screened::NoReply => "no_reply_subject",
            Screened::ForeignReply => "foreign_reply_subject",
        }
    }
}

/// The third token of `stod.<area>.<user>.<name>`, valid user or not: whose inbox an
/// answer may go to.
fn user_token(subject: &str) -> Option<&str> {
    subject.split('.').nth(2).filter(|t| !t.is_empty())
}

/// The user token of `stod.<area>.<user>.<name>`, and the name.
fn user_of(subject: &str) -> Option<(UserId, &str)> {
    let mut tokens = subject.split('.');
    let (stod, _area, user, name) = (tokens.next()?, tokens.next()?, tokens.next()?, tokens.next()?);
    if stod != "stod" || tokens.next().is_some() || name.is_empty() {
        return None;
    }
    Some((UserId::parse(user).ok()?, name))
}

/// Whether a reply to the requester named by the subject token `user` may go to `reply`
/// (a token that is no valid user still names the inbox it would have).
fn reply_allowed(rule: ReplyRule, user: Option<&str>, reply: Option<&str>) -> Result<(), Screened> {
    let Some(reply) = reply else { return Err(Screened::NoReply) };
    match rule {
        ReplyRule::Any => Ok(()),
        ReplyRule::OwnInbox => {
            let own = user.map(|u| format!("{}.", inbox_prefix(u)));
            let within = |prefix: &str| reply.starts_with(prefix) && reply.len() > prefix.len();
            match own {
                Some(prefix) if within(&prefix) || within(IMPORT_REPLY_PREFIX) => Ok(()),
                _ => Err(Screened::ForeignReply),
            }
        }
    }
}

/// How long [`start`] waits for the server to confirm its subscriptions.
const SUBSCRIBED_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Binds `spec`'s endpoints on `client` and serves them with `service` until
/// [`Running::shutdown`]. Returns once the server has the subscriptions, so a request
/// sent after this cannot find "no responders". On an error the caller still holds
/// `service` (to stop what it started).
pub async fn start<S: Service>(
    client: async_nats::Client,
    spec: Spec,
    service: Arc<S>,
) -> Result<Running<S>, ServiceError> {
    let register = |what: String| {
        move |e: async_nats::Error| ServiceError { kind: ServiceErrorKind::Register, what, message: e.to_string() }
    };
    let nats_service = client
        .service_builder()
        .description(spec.description)
        .queue_group(spec.queue_group)
        .start(spec.name, spec.version)
        .await
        .map_err(register(format!("registering the NATS service {}", spec.name)))?;
    let mut endpoints = Vec::new();
    for endpoint in &spec.endpoints {
        let stream = nats_service
            .endpoint_builder()
            .name(&endpoint.name)
            .add(endpoint.subject.clone())
            .await
            .map_err(register(format!("adding the endpoint {}", endpoint.subject)))?;
        let name = endpoint.name.clone();
        endpoints.push(stream.map(move |request| (name.clone(), request)).boxed());
    }
    client.flush().await.map_err(|e| ServiceError {
        kind: ServiceErrorKind::Flush,
        what: format!("subscribing {}", spec.name),
        message: e.to_string(),
    })?;
    // `flush` only empties the socket's buffer (async-nats 0.51 sends no PING): the
    // server may not have taken the subscriptions yet, and a request from another
    // connection in that moment gets "no responders" (seen right after a projector
    // started on 10M events). The server handles one connection's messages in order,
    // so any answer to a request sent now comes after them: JetStream's account info,
    // which every stod service may ask, or the server's own "no responders" where
    // there is no JetStream.
    match tokio::time::timeout(SUBSCRIBED_WITHIN, client.request("$JS.API.INFO", Bytes::new())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
        Ok(Err(e)) => warn!(service = spec.name, "no round trip to the server after subscribing: {e}"),
        Err(_) => {
            warn!(service = spec.name, "no round trip to the server after subscribing within {SUBSCRIBED_WITHIN:?}")
        }
    }

    let counters = Arc::new(Counters::default());
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn({
        let service = service.clone();
        let counters = counters.clone();
        async move {
            let mut requests = futures::stream::select_all(endpoints);
            let permits = Arc::new(Semaphore::new(spec.max_in_flight));
            let mut in_flight = JoinSet::new();
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    next = requests.next() => {
                        let Some((endpoint, request)) = next else { break };
                        let subject = request.message.subject.to_string();
                        let parsed = user_of(&subject).map(|(user, name)| (user, name.to_owned()));
                        let reply = request.message.reply.as_ref().map(|r| r.as_str());
                        if let Err(why) = reply_allowed(spec.replies, user_token(&subject), reply) {
                            counters.refused.fetch_add(1, Ordering::Relaxed);
                            metrics::counter!("stod_requests_refused_total", "service" => spec.name, "reason" => why.as_str()).increment(1);
                            warn!(service = spec.name, subject, reply, reason = why.as_str(), "request dropped unanswered");
                            continue;
                        }
                        // Waits for room: the requests behind this one stay in NATS.
                        let Ok(permit) = permits.clone().acquire_owned().await else { break };
                        let service = service.clone();
                        let counters = counters.clone();
                        in_flight.spawn(async move {
                            counters.enter();
                            let body = match parsed {
                                Some((user, name)) => {
                                    let payload = request.message.payload.clone();
                                    service.handle(Request { endpoint, subject: subject.clone(), user, name, payload }).await
                                }
                                None => service.bad_subject(&subject),
                            };
                            if let Err(e) = request.respond(Ok(body.into())).await {
                                // The requester is gone (timed out, disconnected). What
                                // was done stays done; a retry gets the same answer.
                                warn!(subject, "could not deliver a reply: {e}");
                            }
                            counters.leave();
                            drop(permit);
                        });
                        // Reap finished tasks so the set does not grow without bound.
                        while in_flight.try_join_next().is_some() {}
                    }
                }
            }
            // Unsubscribe first, so NATS routes new requests to other instances, then
            // let the ones already taken finish.
            drop(requests);
            if let Err(e) = nats_service.stop().await {
                warn!(service = spec.name, "stopping the NATS service: {e}");
            }
            // The server must have the unsubscriptions before we count as stopped, or it
            // would keep routing requests here for a moment and they would time out.
            if let Err(e) = client.flush().await {
                warn!(service = spec.name, "flushing on stop: {e}");
            }
            while in_flight.join_next().await.is_some() {}
            service.stopped().await;
            info!(service = spec.name, "stopped");
        }
    });
    Ok(Running { service, counters, stop, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_the_third_token_of_a_stod_subject() {
        let (user, name) = user_of("stod.cmd.anna.record").unwrap();
        assert_eq!((user.as_str(), name), ("anna", "record"));
        for bad in
            ["stod.cmd.anna", "stod.cmd.Anna.record", "stod.cmd.anna.record.x", "x.cmd.anna.record", "stod.cmd.anna."]
        {
            assert!(user_of(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn own_inbox_replies_only() {
        let ok = |reply| reply_allowed(ReplyRule::OwnInbox, Some("anna"), Some(reply));
        assert_eq!(ok("_INBOX_anna.abc.1"), Ok(()));
        for foreign in [
            "stod.events.case.x",
            "_INBOX_bo.abc",
            "_INBOX_annax.abc",
            "_INBOX_anna.",
            "_INBOX.abc",
            "$KV.stod_reference.x",
        ] {
            assert_eq!(ok(foreign), Err(Screened::ForeignReply), "{foreign}");
        }
        assert_eq!(reply_allowed(ReplyRule::OwnInbox, None, Some("_INBOX_anna.x")), Err(Screened::ForeignReply));
        assert_eq!(reply_allowed(ReplyRule::Any, Some("anna"), None), Err(Screened::NoReply));
        assert_eq!(reply_allowed(ReplyRule::Any, Some("anna"), Some("stod.events.case.x")), Ok(()));
    }
}
