//! Helpers shared by stod's integration tests (`tests/integration/`).
//!
//! Each test starts its own [`NatsServer`] on a free port with its own
//! temporary store dir, so tests run in parallel and leave nothing behind.
//! Helpers return [`TestResult`] so tests can use `?` instead of unwrapping.

pub mod faults;

use async_nats::jetstream::{self, Context};
use async_nats::Client;
use stod_nats_server::NatsServer;

/// Any error, for tests that bubble failures up with `?`.
pub type TestError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type TestResult<T = ()> = Result<T, TestError>;

/// A test's own nats-server, with a client and a JetStream context on it.
pub struct TestNats {
    /// Kept so tests can kill and restart it; dropping it kills the server.
    pub server: NatsServer,
    pub client: Client,
    pub js: Context,
}

impl TestNats {
    /// Starts an ephemeral server (fsync before ack) and connects to it.
    pub async fn start() -> TestResult<Self> {
        let server = NatsServer::ephemeral().await?;
        let (client, js) = connect(&server).await?;
        Ok(Self { server, client, js })
    }

    /// A server without fsync before ack, for tests that load many events and do not
    /// test durability (an OS crash cannot be simulated here anyway).
    pub async fn start_fast() -> TestResult<Self> {
        let server = NatsServer::ephemeral_with(|o| o.with_sync_always(false)).await?;
        let (client, js) = connect(&server).await?;
        Ok(Self { server, client, js })
    }

    /// A new client and context, e.g. after a restart.
    pub async fn reconnect(&mut self) -> TestResult {
        let (client, js) = connect(&self.server).await?;
        self.client = client;
        self.js = js;
        Ok(())
    }
}

/// Connects a client to `server` and wraps it in a JetStream context.
pub async fn connect(server: &NatsServer) -> TestResult<(Client, Context)> {
    let client = async_nats::connect(server.url()).await?;
    let js = jetstream::new(client.clone());
    Ok((client, js))
}

/// A nats-server with stod's services on it, started as `stod up` starts them
/// (`stod-system`): one or more command-service instances (a queue group), and the
/// projector when asked for.
pub struct TestSystem {
    pub nats: TestNats,
    pub system: stod_system::System,
    /// The projector's store, if there is a projector; removed on drop.
    _read_models: Option<tempfile::TempDir>,
}

impl TestSystem {
    /// One server and one service instance with default options.
    pub async fn start() -> TestResult<Self> {
        Self::start_with(1, stod_command::ServiceOptions::default()).await
    }

    /// One server, one service instance and the projector (its store in a temporary
    /// directory).
    pub async fn start_with_projector() -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let projector = stod_projector::ProjectorOptions::new(dir.path().join("read"));
        let mut system = Self::start_custom(|b| b.command(Default::default()).projector(projector)).await?;
        system._read_models = Some(dir);
        Ok(system)
    }

    /// One server and `instances` service instances appending through group commit
    /// (decision 0010), grouping as `config` says.
    pub async fn start_with_group_commit(
        instances: usize,
        config: stod_command::GroupCommitConfig,
    ) -> TestResult<Self> {
        let options =
            stod_command::ServiceOptions { group_commit: true, group_commit_config: config, ..Default::default() };
        Self::start_with(instances, options).await
    }

    /// One server and `instances` service instances sharing the load.
    pub async fn start_with(instances: usize, options: stod_command::ServiceOptions) -> TestResult<Self> {
        Self::start_custom(|b| b.command_instances(options, instances)).await
    }

    /// One server, and the services `configure` asks the builder for.
    pub async fn start_custom(
        configure: impl FnOnce(stod_system::SystemBuilder) -> stod_system::SystemBuilder,
    ) -> TestResult<Self> {
        let nats = TestNats::start().await?;
        let builder =
            stod_system::System::builder(stod_system::Nats::Existing { url: nats.server.url(), credentials: None });
        let system = configure(builder).start().await?;
        Ok(Self { nats, system, _read_models: None })
    }

    /// The command-service instances running now.
    pub fn services(&self) -> &[stod_command::RunningService] {
        self.system.command()
    }

    /// Starts one more service instance on its own connection.
    pub async fn add_instance(&mut self) -> TestResult {
        Ok(self.system.add_command_instance().await?)
    }

    /// Takes one instance out of the system, for the test to stop.
    pub fn take_instance(&mut self, index: usize) -> TestResult<stod_command::RunningService> {
        self.system.take_command_instance(index).ok_or_else(|| format!("no command-service instance {index}").into())
    }

    /// The projector, if the system has one.
    pub fn projector(&self) -> TestResult<&stod_projector::RunningProjector> {
        Ok(self.system.projector().ok_or("this test system has no projector")?.projector())
    }

    /// A client for `user` on its own connection, with short retries (tests should
    /// fail fast, not wait out production backoff).
    pub async fn client(&self, user: &str) -> TestResult<stod_client::Client> {
        let client = stod_client::Client::connect(&self.nats.server.url(), stod_events::ids::UserId::parse(user)?)
            .await?
            .with_retry(stod_client::RetryPolicy {
                request_timeout: std::time::Duration::from_secs(2),
                retries: 10,
                backoff: std::time::Duration::from_millis(50),
            });
        Ok(client)
    }

    /// What group commit did, summed over the instances running now (an instance
    /// removed or shut down takes its counts with it); `None` when it is off.
    pub fn group_commit_counts(&self) -> Option<stod_command::GroupCommitCounts> {
        let counts: Vec<_> = self.services().iter().filter_map(|s| s.handler().group_commit_counts()).collect();
        (!counts.is_empty()).then(|| counts.into_iter().sum())
    }

    /// Every event in the stream, in order, as stored.
    pub async fn log(&self) -> TestResult<Vec<stod_store::StoredEvent>> {
        read_log(&self.nats.js).await
    }

    /// Stops every service, in `stod-system`'s order.
    pub async fn shutdown(self) {
        self.system.shutdown().await;
    }
}

/// Every event in the event stream, decoded, in stream order.
pub async fn read_log(js: &Context) -> TestResult<Vec<stod_store::StoredEvent>> {
    let mut stream = js.get_stream(stod_store::STREAM_NAME).await?;
    let last = stream.info().await?.state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let msg = stream.get_raw_message(seq).await?;
        out.push(stod_store::StoredEvent { stream_sequence: seq, sealed: stod_events::codec::decode(&msg.payload)? });
    }
    Ok(out)
}

/// One stored message as bytes: its subject, its headers (sorted: the header map's own
/// order is not stable) and its payload; for comparing what a stream holds.
pub fn stored_bytes(msg: &async_nats::jetstream::message::StreamMessage) -> Vec<u8> {
    let mut bytes = msg.subject.as_bytes().to_vec();
    let mut headers: Vec<String> = msg
        .headers
        .iter()
        .map(|(name, values)| {
            let values: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
            format!("{name}: {}\n", values.join(","))
        })
        .collect();
    headers.sort();
    bytes.extend(headers.concat().as_bytes());
    bytes.extend(&msg.payload[..]);
    bytes
}

/// Builders for commands in tests, with realistic codes from the default catalogue.
pub mod journey {
    use stod_events::case::{Action, Command, TrainingRef};
    use stod_events::event::*;
    use stod_events::ids::{Code, Date, EventId, ParticipantRef};

    pub fn d(s: &str) -> Date {
        s.parse().expect("test date")
    }

    pub fn code(s: &str) -> Code {
        Code::parse(s).expect("test code")
    }

    pub fn at(date: &str, action: Action) -> Command {
        Command::Record { occurred_on: d(date), action }
    }

    pub fn intake_of(participant: ParticipantRef) -> Action {
        Action::Enroll {
            participant,
            gender: Gender::Woman,
            registration: Registration::Consented(EnrolmentDetails {
                municipality: code("2084"),
                referrer: code("ame-ludvika"),
                support_at_start: code("forsorjningsstod"),
                birth_year: 1986,
                region_of_birth: Some(RegionOfBirth::OutsideEurope),
            }),
        }
    }

    pub fn intake() -> Action {
        intake_of(ParticipantRef::new())
    }

    pub fn place(site: &str) -> Action {
        Action::StartPlacement { site: code(site), work_area: code("montering"), hours_per_week: 20 }
    }

    pub fn end_placement(n: u16) -> Action {
        Action::EndPlacement { placement: PlacementNo(n), reason: PlacementEndReason::Completed }
    }

    pub fn start_training() -> Action {
        Action::StartTraining { course: code("sfi"), provider: code("vbu-komvux") }
    }

    pub fn complete_training(n: u16) -> Action {
        Action::CompleteTraining { training: TrainingRef::Started(TrainingNo(n)), hours: 60, credential_earned: true }
    }

    pub fn assess(score: u8) -> Action {
        Action::AssessProgress {
            instrument: code("work-star"),
            assessor: Assessor::Joint,
            scores: vec![AreaScore { area: code("stability"), score }],
        }
    }

    pub fn exit_to_job() -> Action {
        Action::Exit { outcome: ExitOutcome::EmploymentUnsubsidised, support_at_exit: Some(code("lon")) }
    }

    pub fn follow_up() -> Action {
        Action::FollowUp { point: FollowUpPoint::Months3, status: FollowUpStatus::Employed }
    }

    pub fn retract(target: EventId) -> Command {
        Command::Retract { target, reason: CorrectionReason::EntryError }
    }
}

/// Publishes already sealed events straight to their case subjects (bypassing the
/// command service), pipelined, in order. Returns the last stream sequence.
pub async fn publish_sealed(js: &Context, events: &[stod_events::SealedEvent]) -> TestResult<u64> {
    let mut last = 0;
    for chunk in events.chunks(256) {
        let mut acks = Vec::with_capacity(chunk.len());
        for e in chunk {
            let subject = stod_store::case_subject(e.event.case_id.as_uuid());
            acks.push(js.publish(subject, e.bytes.clone().into()).await?);
        }
        for ack in acks {
            last = ack.await?.sequence;
        }
    }
    Ok(last)
}

/// Creates the event stream on `js` as the command service would.
pub async fn ensure_event_stream(js: &Context) -> TestResult {
    stod_store::ensure_stream(js, &stod_store::EventLogConfig::default()).await?;
    Ok(())
}

/// A demo's events, sealed locally: `participants` journeys over two years ending on
/// 2025-12-31.
pub fn demo_events(participants: u32, seed: u64) -> Vec<stod_events::SealedEvent> {
    let today = stod_events::ids::Date::from_ymd(2025, 12, 31).expect("valid date");
    let subs = stod_demo::generate(&stod_demo::DemoParams { participants, years: 2, seed, today });
    stod_demo::seal_locally(&subs, today)
}

/// A request from a plain connection, as a client of the subject's user would send it:
/// answered in that user's inbox (`_INBOX_<user>.`), the only place services answer.
pub async fn request(
    nats: &Client,
    subject: impl AsRef<str>,
    body: impl Into<Vec<u8>>,
) -> Result<async_nats::Message, async_nats::RequestError> {
    stod_client::request_as_subject_user(nats, subject.as_ref(), body.into(), std::time::Duration::from_secs(10)).await
}
