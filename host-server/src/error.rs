//! The crate's one error type: HTTP answers, configuration and storage failures.

use crate::api::Response;
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
    /// The request head is over the server's limits (431 `headers-too-large`).
    HeadersTooLarge,
    /// The request uses an HTTP feature the server does not (501 `not-implemented`).
    NotImplemented(String),
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
    /// The route exists but not with this method (405 `method-not-allowed`); the
    /// methods it has, for `Allow`.
    MethodNotAllowed(&'static str),
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
    pub fn status(&self) -> u16 {
        match self {
            Error::Malformed(_) => 400,
            Error::UnsupportedMediaType => 415,
            Error::BodyTooLarge => 413,
            Error::HeadersTooLarge => 431,
            Error::NotImplemented(_) => 501,
            Error::BadCredentials | Error::MissingToken | Error::InvalidToken(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) => 409,
            Error::Throttled { .. } => 429,
            Error::DeviceUnreachable(_) => 503,
            Error::Config(_) | Error::Store(_) | Error::Internal(_) => 500,
        }
    }

    /// The stable, kebab-case `error` code of the JSON body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::UnsupportedMediaType => "unsupported-media-type",
            Error::BodyTooLarge => "body-too-large",
            Error::HeadersTooLarge => "headers-too-large",
            Error::NotImplemented(_) => "not-implemented",
            Error::BadCredentials => "bad-credentials",
            Error::MissingToken => "missing-token",
            Error::InvalidToken(_) => "invalid-token",
            Error::Forbidden(_) => "not-granted",
            Error::NotFound(_) => "not-found",
            Error::MethodNotAllowed(_) => "method-not-allowed",
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
            | Error::NotImplemented(m)
            | Error::Config(m) => f.write_str(m),
            Error::UnsupportedMediaType => {
                f.write_str("expected a body with content type application/json")
            }
            Error::BodyTooLarge => f.write_str("request body too large"),
            Error::HeadersTooLarge => f.write_str("request header fields too large"),
            Error::MethodNotAllowed(_) => f.write_str("method not allowed on this route"),
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

impl Error {
    /// The answer to send: the status, the JSON body, and `WWW-Authenticate`,
    /// `Retry-After` or `Allow` where the error calls for one. A server error's
    /// detail is logged here and never sent.
    #[must_use]
    pub fn response(&self) -> Response {
        let status = self.status();
        let message = if status >= 500 && !matches!(self, Error::DeviceUnreachable(_)) {
            // The detail may name files or SQL; it goes to the log only.
            tracing::error!(error = %self, "internal error");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let body = serde_json::to_vec(&Body {
            error: self.code(),
            message,
        })
        .unwrap_or_default();
        let field = match self {
            Error::MissingToken => Some(("www-authenticate", "Bearer realm=\"latchkey\"".into())),
            Error::InvalidToken(code) => Some((
                "www-authenticate",
                format!("Bearer error=\"invalid_token\", error_description=\"{code}\""),
            )),
            Error::Throttled { retry_after } => Some(("retry-after", retry_after.to_string())),
            Error::MethodNotAllowed(allow) => Some(("allow", (*allow).to_owned())),
            _ => None,
        };
        Response {
            status,
            fields: field.into_iter().collect(),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_detail() {
        let response = Error::Store("no such table: users at /secret/path".into()).response();
        assert_eq!(response.status, 500);
        assert_eq!(
            response.body,
            br#"{"error":"internal","message":"internal error"}"#
        );
    }

    #[test]
    fn invalid_token_names_the_reason_in_www_authenticate() {
        let response = Error::InvalidToken("expired").response();
        assert_eq!(response.status, 401);
        assert_eq!(
            response.fields,
            [(
                "www-authenticate",
                "Bearer error=\"invalid_token\", error_description=\"expired\"".to_owned()
            )]
        );
    }

    #[test]
    fn throttled_sets_retry_after() {
        let response = Error::Throttled { retry_after: 7 }.response();
        assert_eq!(response.status, 429);
        assert_eq!(response.fields, [("retry-after", "7".to_owned())]);
        let response = Error::MethodNotAllowed("GET, HEAD").response();
        assert_eq!(
            (response.status, response.fields),
            (405, vec![("allow", "GET, HEAD".to_owned())])
        );
    }
}
