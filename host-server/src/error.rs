//! The crate's one error type: HTTP answers, configuration and storage failures.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::fmt;

/// Everything that can go wrong in the server, its store, or its CLI.
///
/// Each variant maps to one HTTP status and a stable `error` code in the JSON body
/// `{ "error": code, "message": text }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request is not what the route expects (400 `malformed`).
    Malformed(String),
    /// The body is not `application/json` (415 `unsupported-media-type`).
    UnsupportedMediaType,
    /// The body is larger than the route accepts (413 `body-too-large`).
    BodyTooLarge,
    /// Wrong username or password (401 `bad-credentials`).
    BadCredentials,
    /// No bearer token in the request (401 `missing-token`).
    MissingToken,
    /// A token was refused; the code is latchkey-core's reason code or
    /// `revoked` / `unknown-key` (401).
    InvalidToken(&'static str),
    /// The caller is not granted this (403 `not-granted`).
    Forbidden(String),
    /// No such route, user or device (404 `not-found`).
    NotFound(String),
    /// The route exists but not with this method (405 `method-not-allowed`).
    MethodNotAllowed,
    /// The thing already exists (409 `conflict`).
    Conflict(String),
    /// Too many failed logins or a saturated hashing queue (429 `throttled`).
    Throttled {
        /// Seconds after which a retry may succeed (`Retry-After`).
        retry_after: u64,
    },
    /// The device bridge could not reach the device (503 `device-unreachable`).
    DeviceUnreachable(String),
    /// A configuration problem (bad key file, bad flag value).
    Config(String),
    /// The database failed (500; the detail is logged, never sent).
    Store(String),
    /// Anything else that is our fault (500; the detail is logged, never sent).
    Internal(String),
}

impl Error {
    /// The HTTP status this error is answered with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Malformed(_) => StatusCode::BAD_REQUEST,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BadCredentials | Error::MissingToken | Error::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::DeviceUnreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::Store(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable, kebab-case `error` code of the JSON body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::UnsupportedMediaType => "unsupported-media-type",
            Error::BodyTooLarge => "body-too-large",
            Error::BadCredentials => "bad-credentials",
            Error::MissingToken => "missing-token",
            Error::InvalidToken(_) => "invalid-token",
            Error::Forbidden(_) => "not-granted",
            Error::NotFound(_) => "not-found",
            Error::MethodNotAllowed => "method-not-allowed",
            Error::Conflict(_) => "conflict",
            Error::Throttled { .. } => "throttled",
            Error::DeviceUnreachable(_) => "device-unreachable",
            Error::Config(_) => "config",
            Error::Store(_) | Error::Internal(_) => "internal",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::DeviceUnreachable(m)
            | Error::Config(m) => f.write_str(m),
            Error::UnsupportedMediaType => {
                f.write_str("expected a body with content type application/json")
            }
            Error::BodyTooLarge => f.write_str("request body too large"),
            Error::MethodNotAllowed => f.write_str("method not allowed on this route"),
            Error::BadCredentials => f.write_str("bad username or password"),
            Error::MissingToken => f.write_str("missing bearer token"),
            Error::InvalidToken(code) => write!(f, "token rejected: {code}"),
            Error::Throttled { retry_after } => {
                write!(f, "too many attempts; retry after {retry_after} s")
            }
            Error::Store(m) => write!(f, "storage error: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.to_string())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && !matches!(self, Error::DeviceUnreachable(_)) {
            // The detail may name files or SQL; it goes to the log only.
            tracing::error!(error = %self, "internal error");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(Body {
                error: self.code(),
                message,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        match &self {
            Error::MissingToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"latchkey\""),
                );
            }
            Error::InvalidToken(code) => {
                let value = format!("Bearer error=\"invalid_token\", error_description=\"{code}\"");
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Error::Throttled { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_detail() {
        let response = Error::Store("no such table: users at /secret/path".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn invalid_token_names_the_reason_in_www_authenticate() {
        let response = Error::InvalidToken("expired").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let value = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(value.contains("error=\"invalid_token\""), "{value}");
        assert!(value.contains("error_description=\"expired\""), "{value}");
    }

    #[test]
    fn throttled_sets_retry_after() {
        let response = Error::Throttled { retry_after: 7 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
