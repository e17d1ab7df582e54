//! Who may look: every request is authenticated against the users file of `stod-auth`
//! (HTTP Basic: the user's name and the HTTP token `stod user add` gave them) and
//! checked against the user's role.
//!
//! - Every person's role sees the pages and the published API (all of it has small
//!   counts hidden; case-level views are not served over HTTP at all).
//! - Operations (`/healthz`, `/metrics`, `/api/v1/projections/status`) are for the
//!   operator (drift) only.
//! - Services' users never log in here.

use std::sync::Mutex;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::json;
use stod_auth::{AuthDir, Role, UsersFile};

use crate::AppState;

/// How the service decides who may look.
#[derive(Clone, Debug)]
pub enum Access {
    /// Everyone who reaches the address: only for tests and a machine of one's own.
    Open,
    /// The users of this auth directory, by role.
    Users(AuthDir),
}

/// The users file, read again when it changes (`stod user add` while running).
#[derive(Default)]
pub(crate) struct UsersCache {
    cached: Mutex<Option<(SystemTime, UsersFile)>>,
}

impl UsersCache {
    fn users(&self, dir: &AuthDir) -> Result<UsersFile, String> {
        let path = dir.users_path();
        let modified =
            std::fs::metadata(&path).and_then(|m| m.modified()).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut cached = self.cached.lock().map_err(|_| "users cache poisoned".to_owned())?;
        if let Some((at, users)) = cached.as_ref() {
            if *at == modified {
                return Ok(users.clone());
            }
        }
        let users = dir.load_users().map_err(|e| e.to_string())?;
        *cached = Some((modified, users.clone()));
        Ok(users)
    }
}

/// The paths only the operator may see.
fn operations(path: &str) -> bool {
    matches!(path, "/healthz" | "/metrics" | "/api/v1/projections/status")
}

fn refuse(status: StatusCode, path: &str, message: &str) -> Response {
    let mut response = if path.starts_with("/api/") || operations(path) {
        (status, Json(json!({ "error": message }))).into_response()
    } else {
        let heading = if status == StatusCode::UNAUTHORIZED { "Logga in" } else { "Inte för din roll" };
        let body = maud::html! { h1 { (heading) } p { (message) } };
        (status, crate::layout::layout(heading, body)).into_response()
    };
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"stod\", charset=\"UTF-8\""));
    }
    response
}

/// `Authorization: Basic base64(name:token)`.
fn credentials(request: &Request) -> Option<(String, String)> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, token) = text.split_once(':')?;
    Some((name.to_owned(), token.to_owned()))
}

pub(crate) async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let dir = match state.access() {
        Access::Open => return next.run(request).await,
        Access::Users(dir) => dir,
    };
    let path = request.uri().path().to_owned();
    let users = match state.users_cache().users(dir) {
        Ok(users) => users,
        Err(e) => {
            tracing::error!("the users file cannot be read: {e}");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, &path, "inloggningen fungerar inte just nu; det är loggat");
        }
    };
    let Some((name, token)) = credentials(&request) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            &path,
            "logga in med ditt användarnamn och din HTTP-token (från `stod user add`, i din inloggningsfil)",
        );
    };
    let Some(role) = users.check_http(&name, &token) else {
        tracing::info!(user = name, path, "HTTP login refused");
        return refuse(StatusCode::UNAUTHORIZED, &path, "fel användarnamn eller token");
    };
    let allowed =
        if operations(&path) { role == Role::Operator } else { Role::PEOPLE.contains(&role) && role != Role::Backup };
    if !allowed {
        let needs = if operations(&path) { "drift" } else { "en personlig roll" };
        return refuse(
            StatusCode::FORBIDDEN,
            &path,
            &format!("rollen {} får inte se {path}; det kräver {needs}", role.label()),
        );
    }
    next.run(request).await
}
