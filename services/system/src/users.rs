//! The users the services of a managed system connect as, each with only its own
//! role's permissions (`stod-auth`), created on first start in `<data>/auth`.

use stod_auth::{AuthDir, Credentials, Role};
use stod_events::ids::UserId;

use crate::error::{SystemError, SystemErrorKind};

/// The command service's user.
pub const COMMAND_USER: &str = "stod-command";
/// The projector's user.
pub const PROJECTOR_USER: &str = "stod-projector";
/// The user the dashboard's queries are made as.
pub const HTTP_USER: &str = "stod-http";
/// The participant registry's user.
pub const REGISTRY_USER: &str = "stod-registry";
/// The demo seeder's user: records the demo's commands in its case workers' names.
pub const SEEDER_USER: &str = "demo";
/// The operator user created for the person running a managed system.
pub const OPERATOR_USER: &str = "drift";

/// The credentials of a managed system's services and of its operator.
#[derive(Clone, Debug)]
pub struct ServiceUsers {
    pub auth: AuthDir,
    pub command: Credentials,
    pub projector: Credentials,
    pub http: Credentials,
    pub registry: Credentials,
    /// Only while demo data is being recorded ([`System::enroll_seeder`]).
    ///
    /// [`System::enroll_seeder`]: crate::System::enroll_seeder
    pub seeder: Option<Credentials>,
    /// The person running the system: role `drift`.
    pub operator: Credentials,
    /// The operator was created by this start (their token is new, and shown once).
    pub operator_created: bool,
}

impl ServiceUsers {
    /// The users in `auth`, created where missing, and the server's authorization
    /// block written from them.
    pub fn ensure(auth: AuthDir) -> Result<Self, SystemError> {
        let users_error = |e: stod_auth::AuthError| {
            SystemError::new(SystemErrorKind::Users, e.to_string()).about(auth.path().display())
        };
        let ensure = |name: &str, role: Role| {
            let user = UserId::parse(name).map_err(|e| SystemError::new(SystemErrorKind::Users, e.to_string()))?;
            auth.ensure_user(&user, role).map_err(users_error)
        };
        // A seeder left behind by a demo that was stopped half-way goes now: it may
        // record in other users' names.
        if auth.keeps_credentials(SEEDER_USER) {
            let seeder =
                UserId::parse(SEEDER_USER).map_err(|e| SystemError::new(SystemErrorKind::Users, e.to_string()))?;
            auth.remove_user(&seeder).map_err(users_error)?;
        }
        let operator_existed = auth.keeps_credentials(OPERATOR_USER);
        let users = ServiceUsers {
            command: ensure(COMMAND_USER, Role::CommandService)?,
            projector: ensure(PROJECTOR_USER, Role::Projector)?,
            http: ensure(HTTP_USER, Role::Http)?,
            registry: ensure(REGISTRY_USER, Role::Registry)?,
            seeder: None,
            operator: ensure(OPERATOR_USER, Role::Operator)?,
            operator_created: !operator_existed,
            auth: auth.clone(),
        };
        auth.write_server_config().map_err(users_error)?;
        Ok(users)
    }
}
