//! What goes wrong in a request, and what the person or script sees of it.
//!
//! A user's mistake is a 4xx with a body that says what was wrong and what is valid. A
//! failure of ours is logged in full and answered with a short 503 or 500 that tells
//! nothing of the internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use stod_client::ClientError;

#[derive(Debug)]
pub enum ApiError {
    /// The request was wrong: what was wrong, and what would be valid.
    BadRequest {
        message: String,
        valid: Option<String>,
    },
    NotFound(String),
    /// The read models or NATS cannot answer right now (still building, not reached).
    Unavailable(String),
    /// Our fault; the detail goes to the log only.
    Internal(String),
}

impl ApiError {
    pub fn bad(message: impl Into<String>, valid: impl Into<String>) -> Self {
        ApiError::BadRequest { message: message.into(), valid: Some(valid.into()) }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the requester is told.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::BadRequest { message, .. } | ApiError::NotFound(message) => message.clone(),
            ApiError::Unavailable(message) => format!("läsmodellerna kan inte svara just nu: {message}"),
            ApiError::Internal(_) => "ett internt fel uppstod; det är loggat".to_owned(),
        }
    }

    fn log(&self) {
        match self {
            ApiError::Internal(detail) => tracing::error!("internal error in an HTTP request: {detail}"),
            ApiError::Unavailable(detail) => tracing::warn!("HTTP request could not be answered: {detail}"),
            _ => {}
        }
    }

    /// The same error as a small Swedish HTML page, for the dashboard's routes.
    pub fn into_page(self) -> Response {
        self.log();
        let status = self.status();
        let valid = match &self {
            ApiError::BadRequest { valid: Some(v), .. } => Some(v.as_str()),
            _ => None,
        };
        let heading = if status.is_client_error() { "Felaktig förfrågan" } else { "Tjänsten kan inte svara" };
        let body = maud::html! {
            h1 { (heading) }
            p { (self.public_message()) }
            @if let Some(valid) = valid { p { "Giltigt: " (valid) } }
            p { a href="/" { "Till översikten" } }
        };
        (status, crate::layout::layout(heading, body)).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut body = json!({ "error": self.public_message() });
        if let ApiError::BadRequest { valid: Some(valid), .. } = &self {
            body["valid"] = json!(valid);
        }
        (self.status(), Json(body)).into_response()
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(message) => ApiError::BadRequest { message, valid: None },
            ClientError::Unavailable(message) => ApiError::Unavailable(message),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
