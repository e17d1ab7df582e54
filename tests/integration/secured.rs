//! A managed system with accounts and users of every role (`stod up`'s own server), and
//! connections as one user that keep the server's errors: what the permission tests
//! and the hostile-insider suite run against.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use stod_auth::{AuthDir, Credentials, Role};
use stod_events::case::Command;
use stod_events::ids::{CaseId, UserId};
use stod_projector::ProjectorOptions;
use stod_system::{DataDir, Nats, RegistryKeySource, System};
use stod_tests::TestResult;

/// A connection as one user, with the server's errors (permission violations) kept.
pub struct Conn {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub errors: Arc<Mutex<Vec<String>>>,
}

impl Conn {
    pub async fn open(url: &str, creds: &Credentials) -> TestResult<Conn> {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        let client = async_nats::ConnectOptions::with_nkey(creds.nkey_seed.clone())
            .custom_inbox_prefix(stod_auth::inbox_prefix(creds.user.as_str()))
            .event_callback(move |event| {
                let sink = sink.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        sink.lock().map(|mut v| v.push(e.to_string().to_lowercase())).ok();
                    }
                }
            })
            .connect(url)
            .await?;
        let mut js = jetstream::new(client.clone());
        // A refused API request is dropped by the server: fail fast instead of waiting.
        js.set_timeout(Duration::from_millis(700));
        Ok(Conn { client, js, errors })
    }

    pub fn clear(&self) {
        self.errors.lock().map(|mut v| v.clear()).ok();
    }

    /// Waits for the server to report a permissions violation naming `subject`.
    pub async fn violation(&self, subject: &str) -> bool {
        let _ = self.client.flush().await;
        for _ in 0..40 {
            let seen = self
                .errors
                .lock()
                .map(|v| v.iter().any(|e| e.contains("permissions violation") && e.contains(&subject.to_lowercase())))
                .unwrap_or(false);
            if seen {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Sends without waiting for an answer: a refused message gets none.
    pub async fn send(&self, subject: &str, body: serde_json::Value) {
        let _ = self.client.publish(subject.to_owned(), body.to_string().into()).await;
    }

    pub async fn request(&self, subject: &str, body: serde_json::Value) -> Result<serde_json::Value, String> {
        let request = async_nats::Request::new().payload(body.to_string().into()).timeout(Some(Duration::from_secs(3)));
        let reply = self.client.send_request(subject.to_owned(), request).await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&reply.payload).map_err(|e| e.to_string())
    }
}

/// A managed system (`stod up`'s own server, users and services), with people of every
/// role added before it starts.
pub struct Secured {
    pub system: System,
    pub dir: tempfile::TempDir,
    pub auth: AuthDir,
}

impl Secured {
    pub async fn start() -> TestResult<Secured> {
        Self::build(false).await
    }

    /// As [`start`](Self::start), with the participant registry running too.
    pub async fn with_registry() -> TestResult<Secured> {
        Self::build(true).await
    }

    async fn build(registry: bool) -> TestResult<Secured> {
        let dir = tempfile::tempdir()?;
        let data = DataDir::new(dir.path());
        let auth = data.auth();
        let user = |s: &str| UserId::parse(s).expect("user");
        for (name, role) in [
            ("anna", Role::CaseWorker),
            ("bo", Role::CaseWorker),
            ("lena", Role::ProjectLeader),
            ("revisor", Role::Auditor),
            ("styr", Role::SteeringGroup),
            ("finsam", Role::Funder),
            ("backup", Role::Backup),
        ] {
            auth.ensure_user(&user(name), role)?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut builder = System::builder(Nats::Managed { data: data.clone(), port })
            .command(stod_command::ServiceOptions::default())
            .projector(ProjectorOptions::new(data.projections()));
        if registry {
            builder = builder.registry(RegistryKeySource::Key(stod_registry::RegistryKey::generate()?));
        }
        let system = builder.start().await?;
        Ok(Secured { system, dir, auth })
    }

    pub async fn conn(&self, user: &str) -> TestResult<Conn> {
        Conn::open(self.system.url(), &Credentials::load(&self.auth.credentials_path(user))?).await
    }

    pub async fn client(&self, user: &str) -> TestResult<stod_client::Client> {
        let creds = Credentials::load(&self.auth.credentials_path(user))?;
        Ok(stod_client::ConnectOptions::new(self.system.url()).credentials(creds).connect().await?)
    }
}

pub fn command_body(case: CaseId, command: Command) -> serde_json::Value {
    serde_json::json!({ "submission_id": stod_events::ids::SubmissionId::new(), "case_id": case, "command": command })
}

/// Queries the projector until its first build is done (it answers "unavailable" until then).
pub async fn wait_ok(
    conn: &Conn,
    subject: &str,
    body: serde_json::Value,
    first: Result<serde_json::Value, String>,
) -> serde_json::Value {
    let mut last = first;
    for _ in 0..100 {
        if let Ok(v) = &last {
            if v["status"] == "ok" {
                return v.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = conn.request(subject, body.clone()).await;
    }
    last.unwrap_or_else(|e| serde_json::json!({ "error": e }))
}
