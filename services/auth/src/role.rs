//! The roles of domain.md, plus the services' own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// *Handläggare / arbetsledare*: records intakes, placements, trainings, assessments,
    /// exits; reads cases.
    CaseWorker,
    /// *Projektledare*: a case worker who may also correct and retract.
    ProjectLeader,
    /// *Revisor / granskare*: reads every event and the access log, replays, verifies;
    /// writes nothing.
    Auditor,
    /// *Styrgrupp*: published (small-count protected) aggregates only.
    SteeringGroup,
    /// *Finansiär* (Finsam): the same as the steering group.
    Funder,
    /// *Drift*: rebuilds read models, loads reference data, reads status and metrics.
    Operator,
    /// *Säkerhetskopiering*: reads the logs and buckets whole for a backup (`stod
    /// backup`), each run access-logged; nothing else: no case, no report, no write.
    Backup,
    /// *Spegel*: a second nats-server (`stod mirror`) connected as a leaf node, whose
    /// stream mirrors read the log, the access log, the quarantine list and the buckets.
    /// Not a person: its credentials go to the mirror's machine.
    Mirror,
    /// The command service: the only writer of the event log.
    CommandService,
    /// The projector: reads the log, answers report queries.
    Projector,
    /// The HTTP service: asks for published reports and status.
    Http,
    /// The participant registry (personnummer lookups, outside the log).
    Registry,
    /// Demo data: records commands in the names of the demo's case workers
    /// (`stod up --demo`, `stod demo seed`). Never give it to a person.
    Seeder,
}

impl Role {
    pub const ALL: [Role; 13] = [
        Role::CaseWorker,
        Role::ProjectLeader,
        Role::Auditor,
        Role::SteeringGroup,
        Role::Funder,
        Role::Operator,
        Role::Backup,
        Role::Mirror,
        Role::CommandService,
        Role::Projector,
        Role::Http,
        Role::Registry,
        Role::Seeder,
    ];

    /// The roles a person can be given with `stod user add`.
    pub const PEOPLE: [Role; 7] = [
        Role::CaseWorker,
        Role::ProjectLeader,
        Role::Auditor,
        Role::SteeringGroup,
        Role::Funder,
        Role::Operator,
        Role::Backup,
    ];

    /// The roles `stod user add` gives: the people, and the mirror's leaf node (a
    /// credentials file handed over to another machine, like a person's).
    pub const GRANTED: [Role; 8] = [
        Role::CaseWorker,
        Role::ProjectLeader,
        Role::Auditor,
        Role::SteeringGroup,
        Role::Funder,
        Role::Operator,
        Role::Backup,
        Role::Mirror,
    ];

    /// The Swedish token used on the command line and in files.
    pub fn token(self) -> &'static str {
        match self {
            Role::CaseWorker => "handlaggare",
            Role::ProjectLeader => "projektledare",
            Role::Auditor => "revisor",
            Role::SteeringGroup => "styrgrupp",
            Role::Funder => "finansiar",
            Role::Operator => "drift",
            Role::Backup => "sakerhetskopiering",
            Role::Mirror => "spegel",
            Role::CommandService => "tjanst-kommando",
            Role::Projector => "tjanst-lasmodell",
            Role::Http => "tjanst-http",
            Role::Registry => "tjanst-register",
            Role::Seeder => "demodata",
        }
    }

    /// How a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Role::CaseWorker => "handläggare",
            Role::ProjectLeader => "projektledare",
            Role::Auditor => "revisor",
            Role::SteeringGroup => "styrgrupp",
            Role::Funder => "finansiär",
            Role::Operator => "drift",
            Role::Backup => "säkerhetskopiering",
            Role::Mirror => "spegeln (en andra nats-server)",
            Role::CommandService => "kommandotjänsten",
            Role::Projector => "läsmodellerna",
            Role::Http => "översikten (HTTP)",
            Role::Registry => "deltagarregistret",
            Role::Seeder => "demodata",
        }
    }

    /// Only published, small-count protected aggregates.
    pub fn aggregates_only(self) -> bool {
        matches!(self, Role::SteeringGroup | Role::Funder)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// A role token that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("okänd roll {given:?}: välj en av {}", Role::GRANTED.iter().map(|r| r.token()).collect::<Vec<_>>().join(", "))]
pub struct UnknownRole {
    pub given: String,
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.token() == s.trim()).ok_or_else(|| UnknownRole { given: s.to_owned() })
    }
}
