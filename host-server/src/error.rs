//! The crate's one error type: HTTP answers, configuration and storage failures.
//! It knows its status and code; the answer itself is written in one place, the
//! `IntoResponse` of the http module.

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
    /// The request was not received and answered within the request timeout
    /// (408 `request-timeout`).
    RequestTimeout,
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
    /// The user already has the most command tokens for this device that the
    /// contract allows within its window (429 `too-many-tokens`).
    TooManyTokens {
        /// Seconds until the oldest counted token leaves the window (`Retry-After`).
        retry_after: u64,
    },
    /// The device bridge could not reach the device (503 `device-unreachable`).
    DeviceUnreachable(String),
    /// The store cannot be reached: not ready for requests (503 `not-ready`; the
    /// detail is logged, never sent).
    NotReady(String),
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
            Error::RequestTimeout => 408,
            Error::BadCredentials | Error::MissingToken | Error::InvalidToken(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) => 409,
            Error::Throttled { .. } | Error::TooManyTokens { .. } => 429,
            Error::DeviceUnreachable(_) | Error::NotReady(_) => 503,
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
            Error::RequestTimeout => "request-timeout",
            Error::BadCredentials => "bad-credentials",
            Error::MissingToken => "missing-token",
            Error::InvalidToken(_) => "invalid-token",
            Error::Forbidden(_) => "not-granted",
            Error::NotFound(_) => "not-found",
            Error::MethodNotAllowed(_) => "method-not-allowed",
            Error::Conflict(_) => "conflict",
            Error::Throttled { .. } => "throttled",
            Error::TooManyTokens { .. } => "too-many-tokens",
            Error::DeviceUnreachable(_) => "device-unreachable",
            Error::NotReady(_) => "not-ready",
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
            Error::RequestTimeout => {
                f.write_str("the request was not received and answered in time")
            }
            Error::NotReady(m) => write!(f, "not ready: {m}"),
            Error::MethodNotAllowed(_) => f.write_str("method not allowed on this route"),
            Error::BadCredentials => f.write_str("bad username or password"),
            Error::MissingToken => f.write_str("missing bearer token"),
            Error::InvalidToken(code) => write!(f, "token rejected: {code}"),
            Error::Throttled { retry_after } => {
                write!(f, "too many attempts; retry after {retry_after} s")
            }
            Error::TooManyTokens { retry_after } => write!(
                f,
                "at most {} command tokens per user and device within {} s; retry after {retry_after} s",
                latchkey_protocol::MAX_TOKENS_PER_USER,
                latchkey_protocol::MAX_LIFETIME
            ),
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

impl Error {
    /// Whether the detail must stay out of the answer (it may name files or SQL):
    /// server errors other than an unreachable device.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Config(_) | Error::Store(_) | Error::Internal(_) | Error::NotReady(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases = [
            (Error::RequestTimeout, 408, "request-timeout"),
            (Error::NotReady("x".into()), 503, "not-ready"),
            (
                Error::DeviceUnreachable("x".into()),
                503,
                "device-unreachable",
            ),
            (Error::Store("x".into()), 500, "internal"),
            (Error::MethodNotAllowed("GET"), 405, "method-not-allowed"),
            (
                Error::TooManyTokens { retry_after: 3 },
                429,
                "too-many-tokens",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status(), error.code()), (status, code), "{error:?}");
        }
        assert!(Error::NotReady("x".into()).is_internal());
        assert!(!Error::DeviceUnreachable("x".into()).is_internal());
    }
}
