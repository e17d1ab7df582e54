//! What each role may publish and subscribe to, and in which account it lives.
//!
//! Two accounts, so that the server itself keeps people away from the log:
//!
//! - **`STOD`** holds JetStream (the event log, the access log, the quarantine list, the
//!   buckets) and the services that use it: the command service, the projector and the
//!   registry. Their code is trusted; their credentials are as secret as the data
//!   directory.
//! - **`PEOPLE`** has no JetStream at all. Every person, the dashboard and the demo
//!   seeder are here, and all they can do is send requests to the services' subjects,
//!   which `STOD` exports and `PEOPLE` imports. A request's reply subject is mapped by the
//!   server into a `_R_.` subject that leads back into `PEOPLE` only: whatever reply
//!   subject a person names, the answer can never land in a stream. Nor can a JetStream
//!   API reply, since no one in `PEOPLE` reaches the JetStream API.
//!
//! Within each account, allow-lists: whatever is not listed is refused by the server.
//! Deny-lists on top keep the log's protections even for the services: nobody can
//! delete, purge or reconfigure a stream, or delete a stored message. A person may
//! publish only on subjects with their own name in them, and receive replies only in
//! their own inbox (`_INBOX_<user>`). No user may answer requests on any subject it
//! likes (no `allow_responses`): a service may publish replies to `_R_.>` (answers to
//! `PEOPLE`) and to the inboxes of the users of its own account.

use std::fmt::Write as _;

use crate::role::Role;
use crate::user::User;

/// The event log, the access log and the quarantine list (`stod-store`).
const EVENT_STREAM: &str = "STOD_EVENTS";
const ACCESS_STREAM: &str = "STOD_ACCESS";
const QUARANTINE_STREAM: &str = "STOD_QUARANTINE";

/// What a mirror (`stod mirror`) keeps: not the registry bucket, whose erasures a
/// mirror would not repeat (decision 0013).
pub const MIRRORED_STREAMS: [&str; 5] =
    [EVENT_STREAM, ACCESS_STREAM, QUARANTINE_STREAM, "KV_stod_participants", "KV_stod_reference"];

/// The account a user is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// JetStream and the services that use it.
    Stod,
    /// Everyone else: people, the dashboard, the demo seeder. No JetStream.
    People,
}

impl Account {
    pub const ALL: [Account; 2] = [Account::Stod, Account::People];

    /// The account's name in the server's configuration.
    pub fn name(self) -> &'static str {
        match self {
            Account::Stod => "STOD",
            Account::People => "PEOPLE",
        }
    }

    pub fn of(role: Role) -> Self {
        match role {
            Role::CommandService | Role::Projector | Role::Registry | Role::Mirror => Account::Stod,
            Role::CaseWorker
            | Role::ProjectLeader
            | Role::Auditor
            | Role::SteeringGroup
            | Role::Funder
            | Role::Operator
            | Role::Backup
            | Role::Http
            | Role::Seeder => Account::People,
        }
    }
}

/// The subjects `STOD`'s services answer and `PEOPLE` may send to (each a service
/// export of `STOD`, imported by `PEOPLE`). Which of them a person may use is their
/// role's permissions; `stod.registry.*.register` is not among them: a registration
/// happens only on an intake, through the command service.
pub const EXPORTED_SERVICES: [&str; 6] = [
    "stod.cmd.*.*",
    "stod.query.*.*",
    "stod.registry.*.lookup",
    "stod.registry.*.erase",
    "stod.ops.*.*",
    "stod.audit.*.*",
];

/// The users the demo seeder records as (`stod-demo`'s case workers and project
/// leader). The seeder may act as these and no one else.
pub const DEMO_WORKERS: [&str; 4] = ["anna", "bertil", "cecilia", "projektledare"];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish_allow: Vec<String>,
    pub publish_deny: Vec<String>,
    pub subscribe_allow: Vec<String>,
    pub subscribe_deny: Vec<String>,
}

/// The projector's report queries that carry exact counts (case-level roles only).
const EXACT_REPORTS: [&str; 3] = ["throughput", "steering", "history"];
/// The caseload and worklist: the case workers' own working view (not the auditor's,
/// who reads the log and the histories, nor any aggregate role's).
const CASE_WORK: [&str; 1] = ["caseload"];
/// The published, small-count protected reports.
const PUBLISHED_REPORTS: [&str; 3] = ["published-throughput", "published-steering", "published-funder"];

/// What nobody may do, services included.
fn never() -> Vec<String> {
    [
        "$JS.API.STREAM.DELETE.>",
        "$JS.API.STREAM.PURGE.>",
        "$JS.API.STREAM.UPDATE.>",
        "$JS.API.STREAM.MSG.DELETE.>",
        "$JS.API.STREAM.RESTORE.>",
        "$JS.API.STREAM.SNAPSHOT.>",
        "$JS.API.ACCOUNT.PURGE.>",
        "$JS.API.META.>",
        "$JS.API.SERVER.>",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A service reading a stream: info, get by sequence or subject, and its own
/// consumers (created, read, deleted).
fn read_stream(stream: &str) -> Vec<String> {
    vec![
        format!("$JS.API.STREAM.INFO.{stream}"),
        format!("$JS.API.STREAM.MSG.GET.{stream}"),
        format!("$JS.API.DIRECT.GET.{stream}"),
        format!("$JS.API.DIRECT.GET.{stream}.>"),
        format!("$JS.API.CONSUMER.CREATE.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.INFO.{stream}.>"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
        format!("$JS.API.CONSUMER.DELETE.{stream}.>"),
    ]
}

/// A service appending to a stream it may create: reading it, creating it, and its
/// subjects.
fn append_stream(stream: &str, subjects: &str) -> Vec<String> {
    let mut p = read_stream(stream);
    p.push(format!("$JS.API.STREAM.CREATE.{stream}"));
    p.push(subjects.to_owned());
    p
}

/// A service using a KV bucket (reading its keys, creating it if missing, and writing
/// when `write`).
fn kv_bucket(bucket: &str, write: bool) -> Vec<String> {
    let stream = format!("KV_{bucket}");
    let mut subjects = read_stream(&stream);
    subjects.push(format!("$JS.API.STREAM.CREATE.{stream}"));
    if write {
        subjects.push(format!("$KV.{bucket}.>"));
    }
    subjects
}

fn own(area: &str, user: &str, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("stod.{area}.{user}.{n}")).collect()
}

fn inbox(user: &str) -> String {
    format!("{}.>", stod_protocol::inbox_prefix(user))
}

/// The permissions of `user` in `role`. The user's name is inside a person's subjects:
/// a case worker may send `stod.cmd.anna.record` only as anna. `stod_users` are the
/// users of the `STOD` account, whose inboxes its services may answer into.
pub fn permissions(role: Role, user: &str, stod_users: &[&str]) -> Permissions {
    let mut p = Permissions { subscribe_allow: vec![inbox(user)], publish_deny: never(), ..Permissions::default() };
    // A service answers people through the server's response mapping (`_R_.>`, which
    // leads back into PEOPLE only) and its own account's users in their inboxes.
    let answers = |p: &mut Permissions| {
        p.publish_allow.push("_R_.>".to_owned());
        p.publish_allow.extend(stod_users.iter().map(|u| inbox(u)));
        p.subscribe_allow.push("$SRV.>".to_owned());
    };
    let js_common = ["$JS.API.INFO".to_owned(), "$JS.FC.>".to_owned(), "$JS.ACK.>".to_owned()];
    match role {
        Role::CaseWorker | Role::ProjectLeader => {
            p.publish_allow.extend(own("cmd", user, &["record"]));
            if role == Role::ProjectLeader {
                p.publish_allow.extend(own("cmd", user, &["correct", "retract"]));
                p.publish_allow.extend(own("registry", user, &["erase"]));
            }
            p.publish_allow.extend(own("query", user, &["case", "reference", "projection-status"]));
            p.publish_allow.extend(own("query", user, &EXACT_REPORTS));
            p.publish_allow.extend(own("query", user, &CASE_WORK));
            p.publish_allow.extend(own("query", user, &PUBLISHED_REPORTS));
            p.publish_allow.extend(own("registry", user, &["lookup"]));
        }
        Role::Auditor => {
            p.publish_allow.extend(own("query", user, &["case", "reference", "projection-status"]));
            p.publish_allow.extend(own("query", user, &EXACT_REPORTS));
            p.publish_allow.extend(own("query", user, &PUBLISHED_REPORTS));
            // The log and the access log, read through the command service, which
            // records every run in the access log first.
            p.publish_allow.extend(own("audit", user, &["log-info", "log-open", "log-read"]));
        }
        Role::SteeringGroup | Role::Funder => {
            p.publish_allow.extend(own("query", user, &PUBLISHED_REPORTS));
            // The names of sites and support sources, for the reports.
            p.publish_allow.extend(own("query", user, &["reference"]));
        }
        Role::Operator => {
            p.publish_allow.extend(own("ops", user, &["rebuild", "reference-load", "quarantine"]));
            p.publish_allow.extend(own("query", user, &["projection-status", "reference"]));
            p.publish_allow.extend(own("query", user, &PUBLISHED_REPORTS));
        }
        Role::Backup => {
            // The logs and buckets whole, through the command service, which records
            // every run in the access log first. No case, no report, no command.
            p.publish_allow.extend(own("audit", user, &["backup-info", "backup-open", "backup-read"]));
        }
        Role::Mirror => {
            // A leaf node connection: what the mirror's server may send to this
            // server (its mirrors' consumer requests, through the domain's API, and
            // their flow control) and what it may receive (the mirrors' deliveries and
            // the API's replies). Nothing of stod's subjects either way.
            for stream in MIRRORED_STREAMS {
                // The primary's API as its JetStream domain names it (the mirror asks
                // at `$JS.stod.API`): creating the mirror's consumer, nothing else (a
                // subject with a consumer name, or delete, would reach other consumers).
                p.publish_allow.push(format!("$JS.stod.API.CONSUMER.CREATE.{stream}"));
                p.publish_allow.push(format!("$JS.FC.{stream}.>"));
            }
            p.subscribe_allow.push("$JS.M.>".to_owned());
            p.subscribe_allow.push("$JSC.R.>".to_owned());
        }
        Role::Http => {
            p.publish_allow.extend(own("query", user, &PUBLISHED_REPORTS));
            p.publish_allow.extend(own("query", user, &["projection-status", "reference"]));
        }
        Role::Seeder => {
            // The demo's case workers' commands, answered in their inboxes, and the
            // demo's figures afterwards.
            for worker in DEMO_WORKERS {
                p.publish_allow.extend(own("cmd", worker, &["record", "correct", "retract"]));
                p.publish_allow.extend(own("query", worker, &["case", "reference"]));
                p.subscribe_allow.push(inbox(worker));
            }
            p.publish_allow.extend(own("query", user, &["throughput", "projection-status", "reference"]));
        }
        Role::CommandService => {
            p.subscribe_allow.extend(
                [
                    "stod.cmd.*.*",
                    "stod.query.*.case",
                    "stod.query.*.reference",
                    "stod.ops.*.reference-load",
                    "stod.ops.*.quarantine",
                    "stod.audit.*.*",
                ]
                .map(str::to_owned),
            );
            answers(&mut p);
            p.publish_allow.extend(js_common);
            p.publish_allow.extend(append_stream(EVENT_STREAM, "stod.events.case.>"));
            p.publish_allow.extend(append_stream(ACCESS_STREAM, "stod.access.>"));
            p.publish_allow.extend(append_stream(QUARANTINE_STREAM, "stod.quarantine.>"));
            p.publish_allow.extend(kv_bucket("stod_participants", true));
            p.publish_allow.extend(kv_bucket("stod_reference", true));
            // Read for backups only (the registry service owns and writes it).
            p.publish_allow.extend(read_stream("KV_stod_registry"));
            // An intake with a personnummer registers the person first.
            p.publish_allow.extend(own("registry", user, &["register"]));
        }
        Role::Projector => {
            let mut queries: Vec<String> = EXACT_REPORTS
                .iter()
                .chain(&CASE_WORK)
                .chain(&PUBLISHED_REPORTS)
                .map(|n| format!("stod.query.*.{n}"))
                .collect();
            queries.push("stod.query.*.projection-status".to_owned());
            queries.push("stod.ops.*.rebuild".to_owned());
            p.subscribe_allow.extend(queries);
            answers(&mut p);
            p.publish_allow.extend(js_common);
            p.publish_allow.extend(read_stream(EVENT_STREAM));
            p.publish_allow.extend(read_stream(QUARANTINE_STREAM));
            p.publish_allow.extend(append_stream(ACCESS_STREAM, "stod.access.>"));
        }
        Role::Registry => {
            p.subscribe_allow.push("stod.registry.*.*".to_owned());
            answers(&mut p);
            p.publish_allow.extend(js_common);
            p.publish_allow.extend(kv_bucket("stod_registry", true));
            p.publish_allow.extend(kv_bucket("stod_participants", false));
            // Whether the participant's case is open: read from the log.
            p.publish_allow.extend(read_stream(EVENT_STREAM));
            p.publish_allow.extend(read_stream(QUARANTINE_STREAM));
            // Every lookup, registration and erasure is recorded.
            p.publish_allow.extend(append_stream(ACCESS_STREAM, "stod.access.>"));
            // Erasure purges the registry's own bucket (and only it): the one purge
            // anyone may do, so that nothing of an erased person stays.
            p.publish_deny.retain(|s| s != "$JS.API.STREAM.PURGE.>");
            p.publish_allow.push("$JS.API.STREAM.PURGE.KV_stod_registry".to_owned());
            p.publish_deny.extend(
                [EVENT_STREAM, ACCESS_STREAM, QUARANTINE_STREAM, "KV_stod_participants", "KV_stod_reference"]
                    .map(|s| format!("$JS.API.STREAM.PURGE.{s}")),
            );
        }
    }
    p
}

fn list(out: &mut String, name: &str, subjects: &[String]) {
    if subjects.is_empty() {
        return;
    }
    let quoted: Vec<String> = subjects.iter().map(|s| format!("{s:?}")).collect();
    let _ = write!(out, "{name}: [{}], ", quoted.join(", "));
}

fn user_entry(out: &mut String, user: &User, stod_users: &[&str]) {
    let p = permissions(user.role, user.name.as_str(), stod_users);
    let mut publish = String::new();
    list(&mut publish, "allow", &p.publish_allow);
    list(&mut publish, "deny", &p.publish_deny);
    let mut subscribe = String::new();
    list(&mut subscribe, "allow", &p.subscribe_allow);
    list(&mut subscribe, "deny", &p.subscribe_deny);
    // The mirror's user connects as a leaf node and in no other way; everyone else as a
    // client and never as a leaf node (a leaf connection would carry their
    // permissions into a server of their own).
    let connection = match user.role {
        Role::Mirror => ", allowed_connection_types: [\"LEAFNODE\"]",
        _ => ", allowed_connection_types: [\"STANDARD\"]",
    };
    let _ = writeln!(
        out,
        "      # {} ({})\n      {{ nkey: {:?}, permissions: {{ publish: {{ {} }}, subscribe: {{ {} }} }}{connection} }}",
        user.name.as_str(),
        user.role.label(),
        user.nkey,
        publish.trim_end_matches([',', ' ']),
        subscribe.trim_end_matches([',', ' ']),
    );
}

/// The server's `accounts` block for `users`: each user by its public nkey in its
/// role's account, with its role's permissions, and the services `STOD` exports to
/// `PEOPLE`. No anonymous access: a client without a listed key is refused.
pub fn render_accounts(users: &[User]) -> String {
    let stod_users: Vec<&str> =
        users.iter().filter(|u| Account::of(u.role) == Account::Stod).map(|u| u.name.as_str()).collect();
    let mut out = String::from("# Generated by stod from the users file; edits are lost.\naccounts {\n");
    for account in Account::ALL {
        let _ = writeln!(out, "  {}: {{", account.name());
        if account == Account::Stod {
            out.push_str("    jetstream: enabled\n");
        }
        out.push_str("    users = [\n");
        for user in users.iter().filter(|u| Account::of(u.role) == account) {
            user_entry(&mut out, user, &stod_users);
        }
        out.push_str("    ]\n");
        match account {
            Account::Stod => {
                out.push_str("    exports = [\n");
                for subject in EXPORTED_SERVICES {
                    let _ = writeln!(out, "      {{ service: {subject:?} }}");
                }
                out.push_str("    ]\n");
            }
            Account::People => {
                out.push_str("    imports = [\n");
                for subject in EXPORTED_SERVICES {
                    let _ = writeln!(out, "      {{ service: {{ account: STOD, subject: {subject:?} }} }}");
                }
                out.push_str("    ]\n");
            }
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_subjects_carry_their_own_name_only() {
        let p = permissions(Role::CaseWorker, "anna", &[]);
        assert!(p.publish_allow.contains(&"stod.cmd.anna.record".to_owned()));
        assert!(!p.publish_allow.iter().any(|s| s.contains("correct") || s.contains('*') || s.contains('>')));
        assert_eq!(p.subscribe_allow, ["_INBOX_anna.>"]);
        let steering = permissions(Role::SteeringGroup, "styr", &[]);
        assert!(
            steering
                .publish_allow
                .iter()
                .all(|s| s.starts_with("stod.query.styr.published-") || s == "stod.query.styr.reference"),
            "{steering:?}"
        );
    }

    #[test]
    fn nobody_in_people_reaches_jetstream_or_registers_on_their_own() {
        for role in Role::ALL.into_iter().filter(|r| Account::of(*r) == Account::People) {
            let p = permissions(role, "x", &[]);
            for s in &p.publish_allow {
                assert!(s.starts_with("stod.") && !s.starts_with("stod.events"), "{role:?} may publish {s}");
                assert!(!s.ends_with(".register"), "{role:?} may register: {s}");
            }
            assert!(p.subscribe_allow.iter().all(|s| s.starts_with("_INBOX_")), "{role:?}: {:?}", p.subscribe_allow);
        }
    }

    #[test]
    fn nobody_may_delete_or_purge_a_stream() {
        for role in Role::ALL {
            let p = permissions(role, "x", &[]);
            for subject in ["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.MSG.DELETE.>"] {
                assert!(p.publish_deny.contains(&subject.to_owned()), "{role:?}");
            }
            let purges_event_log =
                p.publish_deny.iter().any(|s| s == "$JS.API.STREAM.PURGE.>" || s == "$JS.API.STREAM.PURGE.STOD_EVENTS");
            assert!(purges_event_log, "{role:?} must not purge the log");
        }
        // The registry purges its own bucket for erasure, nothing else.
        let registry = permissions(Role::Registry, "r", &[]);
        assert!(registry.publish_allow.contains(&"$JS.API.STREAM.PURGE.KV_stod_registry".to_owned()));
    }
}
