//! `stod user add|list`: the users of the server `stod up` manages, each with a role.
//!
//! The users file and credentials live in `<data>/auth` (`stod-auth`). Adding a user
//! rewrites the server's authorization and asks the running server to reload it
//! (SIGHUP): the new user can log in at once, nobody is disconnected.

use std::path::PathBuf;

use serde_json::json;
use stod_auth::{AuthDir, Role};
use stod_events::ids::UserId;
use stod_system::DataDir;

use crate::error::CliError;
use crate::output::Output;
use crate::run::system_error;

fn auth_dir(data: Option<PathBuf>) -> Result<(DataDir, AuthDir), CliError> {
    let data = DataDir::or_default(data).map_err(system_error)?;
    let auth = data.auth();
    Ok((data, auth))
}

/// Asks the managed server in `data` to reload its config; false if none is running.
fn reload_server(data: &DataDir) -> bool {
    let Ok(text) = std::fs::read_to_string(data.pid_file()) else { return false };
    let Ok(pid) = text.trim().parse::<i32>() else { return false };
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with a pid read from the server's own pid file; SIGHUP makes
        // nats-server reload its configuration.
        unsafe { libc::kill(pid, libc::SIGHUP) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

pub fn add(name: UserId, role: Role, data: Option<PathBuf>, out: Output) -> Result<(), CliError> {
    if !Role::PEOPLE.contains(&role) {
        return Err(CliError::Usage(format!(
            "rollen {role} är en tjänsts; välj en av {}",
            Role::PEOPLE.iter().map(|r| r.token()).collect::<Vec<_>>().join(", ")
        )));
    }
    let (data, auth) = auth_dir(data)?;
    let creds = auth.add_user(&name, role).map_err(|e| match e {
        stod_auth::AuthError::Exists(_) => CliError::Invalid(e.to_string()),
        e => CliError::Other(format!("användaren kunde inte läggas till i {}: {e}", auth.path().display())),
    })?;
    let reloaded = reload_server(&data);
    let path = auth.credentials_path(name.as_str());
    out.result(
        &json!({
            "status": "added",
            "user": name,
            "role": role,
            "credentials": path,
            "http_token": creds.http_token,
            "server_reloaded": reloaded,
        }),
        || {
            format!(
                "Användaren {name} ({}) är tillagd.\n\
                 \x20 Inloggningsfil:  {}  (hemlig: ge den till {name}, och bara till {name})\n\
                 \x20 Kommandoraden:   export STOD_CREDENTIALS={}\n\
                 \x20 Översikten:      användarnamn {name}, lösenord {}\n\
                 {}",
                role.label(),
                path.display(),
                path.display(),
                creds.http_token,
                if reloaded {
                    "Servern har läst in användarna på nytt: inloggningen fungerar direkt."
                } else {
                    "Ingen server körs med den här datakatalogen; användaren gäller när `stod up` startar."
                }
            )
        },
    );
    Ok(())
}

pub fn list(data: Option<PathBuf>, out: Output) -> Result<(), CliError> {
    let (_, auth) = auth_dir(data)?;
    let users = auth.load_users().map_err(|e| CliError::Other(e.to_string()))?;
    let rows: Vec<_> = users.users.iter().map(|u| json!({ "user": u.name, "role": u.role })).collect();
    out.result(&json!({ "status": "ok", "users": rows }), || {
        if users.users.is_empty() {
            return format!("Inga användare i {} ännu (`stod up` skapar de första).", auth.path().display());
        }
        let width = users.users.iter().map(|u| u.name.as_str().len()).max().unwrap_or(0);
        users
            .users
            .iter()
            .map(|u| format!("{:<width$}  {}", u.name.as_str(), u.role.label()))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
