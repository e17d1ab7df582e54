//! `stod user add|remove|rotate|list`: the users of the server `stod up` manages, each
//! with a role.
//!
//! The users file lives in `<data>/auth` (`stod-auth`); a person's credentials are
//! handed over once and never kept there. Every change rewrites the server's
//! authorization and asks the running server to reload it (SIGHUP): a new user can log
//! in at once, a removed or rotated key is refused at once.

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

fn reloaded_text(reloaded: bool) -> &'static str {
    if reloaded {
        "Servern har läst in användarna på nytt: ändringen gäller direkt."
    } else {
        "Ingen server körs med den här datakatalogen; ändringen gäller när `stod up` startar."
    }
}

/// Writes a person's credentials where they are to be handed over from.
fn hand_over(creds: &stod_auth::Credentials, out_path: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let path = out_path.unwrap_or_else(|| PathBuf::from(format!("{}.creds", creds.user)));
    stod_auth::write_credentials(&path, creds).map_err(|e| {
        CliError::Other(format!(
            "inloggningsfilen {} kunde inte skrivas ({e}); välj en annan med --out. Användaren finns nu: \
             `stod user rotate {}` ger nya uppgifter",
            path.display(),
            creds.user
        ))
    })?;
    Ok(path)
}

pub fn add(
    name: UserId,
    role: Role,
    data: Option<PathBuf>,
    out_path: Option<PathBuf>,
    out: Output,
) -> Result<(), CliError> {
    if !Role::GRANTED.contains(&role) {
        return Err(CliError::Usage(format!(
            "rollen {role} är en tjänsts; välj en av {}",
            Role::GRANTED.iter().map(|r| r.token()).collect::<Vec<_>>().join(", ")
        )));
    }
    let target = out_path.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.creds")));
    if target.exists() {
        return Err(CliError::Usage(format!(
            "{} finns redan; välj en annan fil med --out (inloggningsfiler skrivs aldrig över)",
            target.display()
        )));
    }
    let (data, auth) = auth_dir(data)?;
    let creds = auth.add_user(&name, role).map_err(|e| match e {
        stod_auth::AuthError::Exists(_) => CliError::Invalid(e.to_string()),
        e => CliError::Other(format!("användaren kunde inte läggas till i {}: {e}", auth.path().display())),
    })?;
    let path = hand_over(&creds, Some(target))?;
    let reloaded = stod_system::managed::reload(&data);
    out.result(
        &json!({
            "status": "added",
            "user": name,
            "role": role,
            "credentials": path,
            "server_reloaded": reloaded,
        }),
        || {
            format!(
                "Användaren {name} ({}) är tillagd.\n\
                 \x20 Inloggningsfil:  {}  (hemlig: ge den till {name}, och bara till {name};\n\
                 \x20                  den sparas inte på servern)\n\
                 \x20 Kommandoraden:   export STOD_CREDENTIALS=<filen>\n\
                 \x20 Översikten:      användarnamn {name}, lösenordet är http_token i filen\n\
                 {}",
                role.label(),
                path.display(),
                reloaded_text(reloaded)
            )
        },
    );
    Ok(())
}

/// The services' own users: removing one would stop the system.
fn is_service(auth: &AuthDir, name: &UserId) -> Result<bool, CliError> {
    let users = auth.load_users().map_err(|e| CliError::Other(e.to_string()))?;
    Ok(users.users.iter().any(|u| &u.name == name && !Role::GRANTED.contains(&u.role) && u.role != Role::Seeder))
}

pub fn remove(name: UserId, data: Option<PathBuf>, out: Output) -> Result<(), CliError> {
    let (data, auth) = auth_dir(data)?;
    if is_service(&auth, &name)? {
        return Err(CliError::Usage(format!(
            "{name} är en tjänsts användare och kan inte tas bort; `stod user rotate {name}` byter dess nycklar"
        )));
    }
    let removed = auth.remove_user(&name).map_err(|e| match e {
        stod_auth::AuthError::NoSuchUser(_) => CliError::NotFound(e.to_string()),
        e => CliError::Other(format!("användaren kunde inte tas bort ur {}: {e}", auth.path().display())),
    })?;
    let reloaded = stod_system::managed::reload(&data);
    out.result(
        &json!({ "status": "removed", "user": name, "role": removed.role, "server_reloaded": reloaded }),
        || {
            format!(
                "Användaren {name} ({}) är borttagen: nyckeln och lösenordet gäller inte längre.\n{}",
                removed.role.label(),
                reloaded_text(reloaded)
            )
        },
    );
    Ok(())
}

pub fn rotate(name: UserId, data: Option<PathBuf>, out_path: Option<PathBuf>, out: Output) -> Result<(), CliError> {
    let (data, auth) = auth_dir(data)?;
    let kept = auth.keeps_credentials(name.as_str());
    if !kept {
        let target = out_path.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.creds")));
        if target.exists() {
            return Err(CliError::Usage(format!(
                "{} finns redan; välj en annan fil med --out (inloggningsfiler skrivs aldrig över)",
                target.display()
            )));
        }
    }
    let creds = auth.rotate_user(&name).map_err(|e| match e {
        stod_auth::AuthError::NoSuchUser(_) => CliError::NotFound(e.to_string()),
        e => CliError::Other(format!("nycklarna kunde inte bytas i {}: {e}", auth.path().display())),
    })?;
    let path = if kept { auth.credentials_path(name.as_str()) } else { hand_over(&creds, out_path)? };
    let reloaded = stod_system::managed::reload(&data);
    out.result(&json!({ "status": "rotated", "user": name, "credentials": path, "server_reloaded": reloaded }), || {
        format!(
            "{name} har fått ny nyckel och nytt lösenord; de gamla gäller inte längre.\n\
             \x20 Inloggningsfil:  {}{}\n{}",
            path.display(),
            if kept {
                "  (finns kvar på servern: tjänsterna och driften läser den där)"
            } else {
                "  (hemlig: ge den till personen)"
            },
            reloaded_text(reloaded)
        )
    });
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
