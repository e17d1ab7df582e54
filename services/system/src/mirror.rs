//! A second copy of the log on another machine (`stod mirror`, decision 0013): a
//! managed nats-server of its own, connected to the primary as a leaf node (it dials
//! out, as the role `spegel`), whose JetStream mirrors hold the event log, the access
//! log, the quarantine list and two buckets at the primary's own sequences.
//!
//! Read-only by construction: a mirror stream has no subjects (nothing published on the
//! mirror's server lands in it), nobody may update or delete a stream there (the same
//! deny lists as everywhere), and no service runs on it. After the primary is lost,
//! [`promote`] turns the mirror into a new primary's data directory: the mirror's
//! server is started without its leaf node (fenced off from an old primary that might
//! come back), every stream is read whole and checked like a backup (every chain), and
//! restored into a new directory with the log's own configuration and protections.
//!
//! The registry bucket is not mirrored: an erasure purges a key and then deletes its
//! purge marker, and a mirror does not replay deletions, so the keyed hash of an erased
//! person would stay on the mirror. The registry comes from the latest backup, and the
//! erasures the mirrored access log records after it are applied again.

use std::collections::BTreeMap;
use std::path::Path;

use async_nats::jetstream::stream::{Config, External, Source, StorageType};
use async_nats::jetstream::Context;
use stod_auth::Credentials;
use stod_backup::format::LogRecord;
use stod_backup::Content;
use stod_nats_server::NatsServer;
use stod_protocol::audit::LogName;
use stod_store::{ACCESS_STREAM_NAME, PARTICIPANTS_BUCKET, QUARANTINE_STREAM_NAME, REFERENCE_BUCKET, STREAM_NAME};

use crate::data::DataDir;
use crate::error::{SystemError, SystemErrorKind};
use crate::managed;
use crate::restore::{Restored, Stage};
use crate::users::ServiceUsers;

/// The primary's JetStream domain when a mirror may connect: the mirror asks for its
/// streams at `$JS.stod.API`.
pub const PRIMARY_DOMAIN: &str = "stod";
/// The mirror's own domain.
pub const MIRROR_DOMAIN: &str = "spegel";

/// What a mirror holds, and as which log of a backup.
pub const MIRRORED: [(&str, LogName); 5] = [
    (STREAM_NAME, LogName::Events),
    (ACCESS_STREAM_NAME, LogName::Access),
    (QUARANTINE_STREAM_NAME, LogName::Quarantine),
    ("KV_stod_participants", LogName::Participants),
    ("KV_stod_reference", LogName::Reference),
];

fn failed(message: impl Into<String>) -> SystemError {
    SystemError::new(SystemErrorKind::Mirror, message.into())
}

/// Where a primary listens for its mirror's leaf node.
#[derive(Clone, Debug)]
pub struct Listen {
    /// `host:port`.
    pub addr: String,
    /// The server's certificate and key (PEM) for TLS on the leaf node port; without
    /// them the connection is in clear, for loopback or a VPN only.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// The managed options of a primary a mirror may connect to.
pub fn primary_options(listen: &Listen) -> managed::Options {
    let tls = match &listen.tls {
        Some((cert, key)) => format!(
            "\n  tls {{\n    cert_file: {:?}\n    key_file: {:?}\n  }}",
            cert.display().to_string(),
            key.display().to_string()
        ),
        None => String::new(),
    };
    managed::Options {
        domain: Some(PRIMARY_DOMAIN.to_owned()),
        leafnodes: Some(format!("leafnodes {{\n  listen: {:?}{tls}\n}}", listen.addr)),
        ..managed::Options::default()
    }
}

/// Where the mirror connects: the primary's leaf node address, as the `spegel` user.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// `nats-leaf://host:port`.
    pub url: String,
    pub credentials: Credentials,
    /// The CA (PEM) the primary's leaf node certificate must be signed by: the
    /// connection is TLS, and the primary is who it says.
    pub ca: Option<std::path::PathBuf>,
}

fn mirror_options(upstream: Option<&Upstream>) -> managed::Options {
    let leafnodes = upstream.map(|u| {
        let tls = match &u.ca {
            Some(ca) => format!(", tls: {{ ca_file: {:?} }}", ca.display().to_string()),
            None => String::new(),
        };
        format!(
            "leafnodes {{\n  remotes: [\n    {{ url: {:?}, nkey: {:?}, account: {:?}{tls} }}\n  ]\n}}",
            u.url,
            u.credentials.nkey_seed,
            stod_auth::Account::Stod.name()
        )
    });
    managed::Options { domain: Some(MIRROR_DOMAIN.to_owned()), leafnodes, ..managed::Options::default() }
}

/// The configuration of one mirror stream: no subjects, the log's protections.
fn mirror_config(name: &str) -> Config {
    Config {
        name: name.to_owned(),
        description: Some(format!("stod: a mirror of {name} on the primary (read-only)")),
        storage: StorageType::File,
        mirror: Some(Source {
            name: name.to_owned(),
            external: Some(External { api_prefix: format!("$JS.{PRIMARY_DOMAIN}.API"), delivery_prefix: None }),
            ..Default::default()
        }),
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// A running mirror: its server and the users of its data directory.
pub struct Mirror {
    pub server: NatsServer,
    pub users: ServiceUsers,
}

async fn connect(url: &str, credentials: &Credentials) -> Result<Context, SystemError> {
    crate::restore::connect_as(url, credentials, "stod mirror").await
}

/// Starts the mirror's server on `data` (created on first start) connected to
/// `upstream`, and creates its mirror streams where missing. Without `upstream` the
/// server runs fenced: nothing more arrives.
pub async fn start(data: &DataDir, port: u16, upstream: Option<&Upstream>) -> Result<Mirror, SystemError> {
    let users = ServiceUsers::ensure(data.auth())?;
    let server = managed::start_with(data, port, &users.command, &mirror_options(upstream)).await?;
    let js = connect(&server.url(), &users.command).await?;
    for (name, _) in MIRRORED {
        if js.get_stream(name).await.is_err() {
            js.create_stream(mirror_config(name)).await.map_err(|e| failed(format!("{name}: {e}")))?;
        }
    }
    Ok(Mirror { server, users })
}

/// Where each mirror stands: its last sequence and message count.
pub async fn status(mirror: &Mirror) -> Result<BTreeMap<String, (u64, u64)>, SystemError> {
    let js = connect(&mirror.server.url(), &mirror.users.command).await?;
    let mut out = BTreeMap::new();
    for (name, _) in MIRRORED {
        let state = stod_store::raw::stream_state(&js, name).await.map_err(|e| failed(e.to_string()))?;
        out.insert(name.to_owned(), (state.last, state.messages));
    }
    Ok(out)
}

/// Reads every mirror stream whole.
async fn read_all(js: &Context) -> Result<Content, SystemError> {
    let mut content = Content::default();
    for (name, log) in MIRRORED {
        let state = stod_store::raw::stream_state(js, name).await.map_err(|e| failed(e.to_string()))?;
        let mut records = Vec::new();
        let mut at = state.first.max(1);
        while at <= state.last {
            let batch = stod_store::raw::read_range(js, name, at, state.last, 1 << 20, log.is_bucket())
                .await
                .map_err(|e| failed(e.to_string()))?;
            let Some(end) = batch.last().map(|m| m.stream_sequence) else { break };
            records.extend(batch);
            at = end + 1;
        }
        if log.is_bucket() {
            let prefix =
                format!("$KV.{}.", if log == LogName::Participants { PARTICIPANTS_BUCKET } else { REFERENCE_BUCKET });
            let mut entries = BTreeMap::new();
            for m in records {
                stod_backup::take::fold_bucket(&mut entries, &prefix, &m.subject, &m.headers, m.bytes);
            }
            content.buckets.insert(log, entries);
        } else {
            let records = records
                .into_iter()
                .map(|m| LogRecord { seq: m.stream_sequence, subject: m.subject, data: m.bytes })
                .collect();
            content.logs.insert(log, records);
        }
    }
    Ok(content)
}

/// Turns a mirror into a new primary's data directory `target` (the runbook's step):
/// fenced from its upstream, every stream read whole, checked like a backup, and
/// restored at the same sequences. `backup` (the latest chain of backups) gives the
/// people and the registry, with the erasures recorded since applied again; without it
/// the new primary has neither, and its operator adds people again.
pub async fn promote(
    mirror: &DataDir,
    target: &DataDir,
    backup: Option<&Path>,
    signer: Option<&str>,
    registry_key: Option<&[u8]>,
    port: u16,
    mut progress: impl FnMut(Stage, u64, u64),
) -> Result<Restored, SystemError> {
    let mut fenced = start(mirror, 0, None).await?;
    let js = connect(&fenced.server.url(), &fenced.users.command).await?;
    let read = read_all(&js).await;
    let _ = fenced.server.stop().await;
    let mut content = read?;
    if let Some(dir) = backup {
        let checked = stod_backup::check_signed(dir, signer, |at, last| {
            progress(Stage::Checking, u64::from(at), u64::from(last))
        })
        .map_err(|e| failed(format!("säkerhetskopian {}: {e}", dir.display())))?;
        if !checked.intact() {
            return Err(SystemError::new(
                SystemErrorKind::BackupDamaged,
                format!("säkerhetskopian {} håller inte ihop: {}", dir.display(), checked.describe_sv().join("; ")),
            ));
        }
        // The erasures since (in the mirrored access log) are applied by the restore.
        content.users = checked.content.users.clone();
        if let Some(registry) = checked.content.buckets.get(&LogName::Registry) {
            content.buckets.insert(LogName::Registry, registry.clone());
        }
    }
    let checked = stod_backup::check_content(content);
    crate::restore::restore(&checked, target, registry_key, port, progress).await
}
