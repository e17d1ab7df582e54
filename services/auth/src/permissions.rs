//! What each role may publish and subscribe to.
//!
//! Allow-lists: whatever is not listed is refused by the server. Deny-lists on top of
//! them keep the log's protections even for the services: nobody can delete, purge or
//! reconfigure a stream, or delete a stored message (the stream refuses some of these by
//! its own settings; the permissions refuse them all, including deleting the whole
//! stream, which stream settings cannot).

use std::fmt::Write as _;

use crate::role::Role;
use crate::user::User;

/// The event log and the access log (`stod-store`).
const EVENT_STREAM: &str = "STOD_EVENTS";
const ACCESS_STREAM: &str = "STOD_ACCESS";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish_allow: Vec<String>,
    pub publish_deny: Vec<String>,
    pub subscribe_allow: Vec<String>,
    pub subscribe_deny: Vec<String>,
    /// May answer requests it received (publish once to their reply subject).
    pub allow_responses: bool,
}

/// The projector's report queries that carry exact counts (case-level roles only).
const EXACT_REPORTS: [&str; 3] = ["throughput", "steering", "history"];
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

/// Reading a stream: info, get by sequence or subject, and its own consumers.
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
    ]
}

/// Using a KV bucket (reading and writing its keys, creating it if missing).
fn kv_bucket(bucket: &str, write: bool) -> Vec<String> {
    let stream = format!("KV_{bucket}");
    let mut subjects = read_stream(&stream);
    subjects.push(format!("$JS.API.STREAM.CREATE.{stream}"));
    if write {
        subjects.push(format!("$KV.{bucket}.>"));
    }
    subjects
}

fn own_queries(user: &str, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("stod.query.{user}.{n}")).collect()
}

/// The permissions of `user` in `role`. The user's name is inside its subjects: a case
/// worker may send `stod.cmd.anna.record` only as anna.
pub fn permissions(role: Role, user: &str) -> Permissions {
    let inbox = format!("{}.>", stod_protocol::inbox_prefix(user));
    let js_common = ["$JS.API.INFO".to_owned(), "$JS.FC.>".to_owned()];
    let mut p = Permissions { subscribe_allow: vec![inbox], publish_deny: never(), ..Permissions::default() };
    match role {
        Role::CaseWorker | Role::ProjectLeader => {
            p.publish_allow.push(format!("stod.cmd.{user}.record"));
            if role == Role::ProjectLeader {
                p.publish_allow.push(format!("stod.cmd.{user}.correct"));
                p.publish_allow.push(format!("stod.cmd.{user}.retract"));
                p.publish_allow.push(format!("stod.registry.{user}.erase"));
            }
            p.publish_allow.extend(own_queries(user, &["case", "reference", "projection-status"]));
            p.publish_allow.extend(own_queries(user, &EXACT_REPORTS));
            p.publish_allow.extend(own_queries(user, &PUBLISHED_REPORTS));
            p.publish_allow.push(format!("stod.registry.{user}.register"));
            p.publish_allow.push(format!("stod.registry.{user}.lookup"));
        }
        Role::Auditor => {
            p.publish_allow.extend(own_queries(user, &["case", "reference", "projection-status"]));
            p.publish_allow.extend(own_queries(user, &EXACT_REPORTS));
            p.publish_allow.extend(own_queries(user, &PUBLISHED_REPORTS));
            p.publish_allow.extend(js_common.clone());
            p.publish_allow.extend(read_stream(EVENT_STREAM));
            p.publish_allow.extend(read_stream(ACCESS_STREAM));
            // Reading the reference data's history, never writing it.
            p.publish_allow.extend(read_stream("KV_stod_reference"));
            // An auditor's consumers are ephemeral; deleting one could be another's.
            p.publish_deny.push("$JS.API.CONSUMER.DELETE.>".to_owned());
            p.publish_deny.push("$JS.API.CONSUMER.DURABLE.>".to_owned());
        }
        Role::SteeringGroup | Role::Funder => {
            p.publish_allow.extend(own_queries(user, &PUBLISHED_REPORTS));
            // The names of sites and support sources, for the reports.
            p.publish_allow.extend(own_queries(user, &["reference"]));
        }
        Role::Operator => {
            p.publish_allow.push(format!("stod.ops.{user}.rebuild"));
            p.publish_allow.extend(own_queries(user, &["projection-status", "reference"]));
            p.publish_allow.extend(own_queries(user, &PUBLISHED_REPORTS));
            p.publish_allow.extend(js_common.clone());
            p.publish_allow.push(format!("$JS.API.STREAM.INFO.{EVENT_STREAM}"));
            p.publish_allow.extend(kv_bucket("stod_reference", true));
        }
        Role::CommandService => {
            p.subscribe_allow
                .extend(["stod.cmd.*.*", "stod.query.*.case", "stod.query.*.reference", "$SRV.>"].map(str::to_owned));
            p.allow_responses = true;
            p.publish_allow.extend(js_common.clone());
            p.publish_allow.push("stod.events.case.>".to_owned());
            p.publish_allow.extend(read_stream(EVENT_STREAM));
            p.publish_allow.push(format!("$JS.API.STREAM.CREATE.{EVENT_STREAM}"));
            p.publish_allow.push("stod.access.>".to_owned());
            p.publish_allow.extend(read_stream(ACCESS_STREAM));
            p.publish_allow.push(format!("$JS.API.STREAM.CREATE.{ACCESS_STREAM}"));
            p.publish_allow.extend(kv_bucket("stod_participants", true));
            p.publish_allow.extend(kv_bucket("stod_reference", true));
            p.publish_allow.push("$JS.API.CONSUMER.DELETE.KV_stod_reference.>".to_owned());
        }
        Role::Projector => {
            let mut queries: Vec<String> =
                EXACT_REPORTS.iter().chain(&PUBLISHED_REPORTS).map(|n| format!("stod.query.*.{n}")).collect();
            queries.push("stod.query.*.projection-status".to_owned());
            queries.push("stod.ops.*.rebuild".to_owned());
            queries.push("$SRV.>".to_owned());
            p.subscribe_allow.extend(queries);
            p.allow_responses = true;
            p.publish_allow.extend(js_common.clone());
            p.publish_allow.extend(read_stream(EVENT_STREAM));
            p.publish_allow.push(format!("$JS.API.CONSUMER.DELETE.{EVENT_STREAM}.>"));
            p.publish_allow.push("stod.access.>".to_owned());
            p.publish_allow.extend(read_stream(ACCESS_STREAM));
            p.publish_allow.push(format!("$JS.API.STREAM.CREATE.{ACCESS_STREAM}"));
        }
        Role::Http => {
            p.publish_allow.extend(own_queries(user, &PUBLISHED_REPORTS));
            p.publish_allow.extend(own_queries(user, &["projection-status", "reference"]));
            p.publish_allow.extend(js_common.clone());
            p.publish_allow.push(format!("$JS.API.STREAM.INFO.{EVENT_STREAM}"));
        }
        Role::Seeder => {
            // The demo's case workers' commands, and reading what it recorded.
            p.publish_allow.extend(["stod.cmd.*.*", "stod.query.*.case", "stod.query.*.reference"].map(str::to_owned));
            p.publish_allow.extend(own_queries(user, &["throughput"]));
            p.publish_allow.extend(js_common.clone());
            p.publish_allow.push(format!("$JS.API.STREAM.INFO.{EVENT_STREAM}"));
        }
        Role::Registry => {
            p.subscribe_allow.extend(["stod.registry.*.*", "$SRV.>"].map(str::to_owned));
            p.allow_responses = true;
            p.publish_allow.extend(js_common);
            p.publish_allow.extend(kv_bucket("stod_registry", true));
            p.publish_allow.extend(kv_bucket("stod_participants", false));
            // Whether the participant's case is open: read from the log.
            p.publish_allow.extend(read_stream(EVENT_STREAM));
            // Erasure purges the registry's own bucket (and only it): the one purge
            // anyone may do, so that nothing of an erased person stays.
            p.publish_deny.retain(|s| s != "$JS.API.STREAM.PURGE.>");
            p.publish_allow.push("$JS.API.STREAM.PURGE.KV_stod_registry".to_owned());
            p.publish_deny.extend(
                [EVENT_STREAM, ACCESS_STREAM, "KV_stod_participants", "KV_stod_reference"]
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

/// The server's `authorization` block for `users`: each user by its public nkey, with
/// its role's permissions. No anonymous access: a client without a listed key is
/// refused.
pub fn render_authorization(users: &[User]) -> String {
    let mut out =
        String::from("# Generated by stod from the users file; edits are lost.\nauthorization {\n  users = [\n");
    for user in users {
        let p = permissions(user.role, user.name.as_str());
        let mut publish = String::new();
        list(&mut publish, "allow", &p.publish_allow);
        list(&mut publish, "deny", &p.publish_deny);
        let mut subscribe = String::new();
        list(&mut subscribe, "allow", &p.subscribe_allow);
        list(&mut subscribe, "deny", &p.subscribe_deny);
        let responses = if p.allow_responses { ", allow_responses: true" } else { "" };
        let _ = writeln!(
            out,
            "    # {} ({})\n    {{ nkey: {:?}, permissions: {{ publish: {{ {} }}, subscribe: {{ {} }}{responses} }} }}",
            user.name.as_str(),
            user.role.label(),
            user.nkey,
            publish.trim_end_matches([',', ' ']),
            subscribe.trim_end_matches([',', ' ']),
        );
    }
    out.push_str("  ]\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_subjects_carry_its_own_name_only() {
        let p = permissions(Role::CaseWorker, "anna");
        assert!(p.publish_allow.contains(&"stod.cmd.anna.record".to_owned()));
        assert!(!p.publish_allow.iter().any(|s| s.contains("correct") || s.contains('*') || s.contains('>')));
        assert_eq!(p.subscribe_allow, ["_INBOX_anna.>"]);
        let steering = permissions(Role::SteeringGroup, "styr");
        assert!(
            steering
                .publish_allow
                .iter()
                .all(|s| s.starts_with("stod.query.styr.published-") || s == "stod.query.styr.reference"),
            "{steering:?}"
        );
    }

    #[test]
    fn nobody_may_delete_or_purge_a_stream() {
        for role in Role::ALL {
            let p = permissions(role, "x");
            for subject in ["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.MSG.DELETE.>"] {
                assert!(p.publish_deny.contains(&subject.to_owned()), "{role:?}");
            }
            let purges_event_log =
                p.publish_deny.iter().any(|s| s == "$JS.API.STREAM.PURGE.>" || s == "$JS.API.STREAM.PURGE.STOD_EVENTS");
            assert!(purges_event_log, "{role:?} must not purge the log");
        }
        // The registry purges its own bucket for erasure, nothing else.
        let registry = permissions(Role::Registry, "r");
        assert!(registry.publish_allow.contains(&"$JS.API.STREAM.PURGE.KV_stod_registry".to_owned()));
    }
}
