//! The HTTP API: one function per route, picked by [`handle`] from a framed
//! request ([`crate::wire`]); every answer is JSON.

use crate::auth::{PasswordChecker, Throttle};
use crate::bridge::Bridge;
use crate::error::Error;
use crate::keys::random_id;
use crate::store::{Grant, Rotation, Store};
use crate::tokens::{Kind, TokenService, Verified, unix_now};
use crate::wire::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest username, in bytes.
pub const MAX_USERNAME: usize = 128;
/// Longest password, in bytes (Argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD: usize = 1024;
/// The commands a device understands (the contract's names).
pub const COMMANDS: [&str; 4] = latchkey_protocol::COMMAND_NAMES;

/// Everything the handlers share, behind one `Arc` (one reference count for the
/// HTTP threads to share, not one per part).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps the shared parts.
    #[must_use]
    pub fn from_parts(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// Users, grants, devices, families, revocations.
    pub store: Arc<dyn Store>,
    /// Token signing and checking.
    pub tokens: Arc<TokenService>,
    /// Bounded password hashing off the executor.
    pub passwords: PasswordChecker,
    /// Failed-login throttle.
    pub throttle: Throttle,
    /// Links to devices' UARTs.
    pub bridge: Bridge,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("tokens", &self.tokens)
            .field("bridge", &self.bridge)
            .finish_non_exhaustive()
    }
}

/// An answer: the status, extra header fields, and the JSON body (every answer
/// is `application/json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Fields besides `Content-Type`, `Content-Length` and `Date`.
    pub fields: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Answers one request. `client` is the peer's address (for the login throttle).
pub async fn handle(state: &AppState, req: &Request<'_>, client: Option<IpAddr>) -> Response {
    match route(state, req, client).await {
        Ok(body) => Response {
            status: 200,
            fields: Vec::new(),
            body,
        },
        Err(e) => e.response(),
    }
}

/// Picks the handler by path and method; `HEAD` is `GET` (the connection loop
/// leaves the body out).
async fn route(
    state: &AppState,
    req: &Request<'_>,
    client: Option<IpAddr>,
) -> Result<Vec<u8>, Error> {
    const GET: &str = "GET, HEAD";
    let get = matches!(req.method, "GET" | "HEAD");
    let post = req.method == "POST";
    match req.path {
        "/healthz" if get => {
            to_json(&json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
        }
        "/me" if get => me(state, req),
        "/openapi.json" if get => to_json(&crate::openapi::document()),
        "/login" if post => login(state, req, client).await,
        "/refresh" if post => refresh(state, req).await,
        "/logout" if post || req.method == "DELETE" => logout(state, req).await,
        "/healthz" | "/me" | "/openapi.json" => Err(Error::MethodNotAllowed(GET)),
        "/login" | "/refresh" => Err(Error::MethodNotAllowed("POST")),
        "/logout" => Err(Error::MethodNotAllowed("POST, DELETE")),
        path => match device_segment(path) {
            Some(device) if post => command(state, req, device).await,
            Some(_) => Err(Error::MethodNotAllowed("POST")),
            None => Err(Error::NotFound("no such route".into())),
        },
    }
}

/// The `{id}` of `/devices/{id}/commands`, as sent (still percent-encoded).
fn device_segment(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/devices/")?.strip_suffix("/commands")?;
    (!id.contains('/')).then_some(id)
}

/// A path segment with its percent-escapes decoded (an escape that is not two hex
/// digits stays as it is).
///
/// # Errors
/// [`Error::Malformed`] if the decoded bytes are not UTF-8.
fn percent_decoded(segment: &str) -> Result<Cow<'_, str>, Error> {
    if !segment.contains('%') {
        return Ok(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|d| d.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, escaped) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| Error::Malformed("the path is not UTF-8 once decoded".into()))
}

/// Whether `id` is a usable device id: 1-64 of `A-Z a-z 0-9 . _ -`.
/// The first is a letter or a digit: the contract's rule, [`latchkey_protocol::DeviceId`].
#[must_use]
pub fn valid_device_id(id: &str) -> bool {
    latchkey_protocol::DeviceId::new(id).is_ok()
}

/// Whether `name` is a usable username: 1-128 bytes, no control characters.
#[must_use]
pub fn valid_username(name: &str) -> bool {
    (1..=MAX_USERNAME).contains(&name.len()) && !name.chars().any(char::is_control)
}

// ---- what a request carries ---------------------------------------------------

/// Whether a `Content-Type` value is JSON: `application/json` or
/// `application/*+json`, any parameters after `;`.
#[must_use]
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let (kind, suffix) = essence.split_at(essence.len().min(12));
    essence.eq_ignore_ascii_case(b"application/json")
        || (kind.eq_ignore_ascii_case(b"application/")
            && suffix.len() > 5
            && suffix[suffix.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// The body as JSON of type `T`.
///
/// # Errors
/// 415 unless the body is declared JSON; 413 over [`MAX_BODY`]; 400 if it does not
/// parse as `T`.
fn json_body<T: DeserializeOwned>(req: &Request<'_>) -> Result<T, Error> {
    if !is_json(req.content_type) {
        return Err(Error::UnsupportedMediaType);
    }
    if req.body.len() > MAX_BODY {
        return Err(Error::BodyTooLarge);
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| Error::Malformed(format!("invalid JSON body: {e}")))
}

/// The token of an `Authorization: Bearer` field, if there is one.
fn bearer<'a>(req: &Request<'a>) -> Result<Option<&'a str>, Error> {
    let Some(value) = req.authorization else {
        return Ok(None);
    };
    let value = std::str::from_utf8(value).map_err(|_| Error::InvalidToken("malformed"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(Error::InvalidToken("malformed"))
            } else {
                Ok(Some(token))
            }
        }
        _ => Ok(None),
    }
}

/// The caller's access token, verified and not revoked, and the user's grants as
/// the database holds them now.
fn caller(state: &AppState, req: &Request<'_>) -> Result<(Verified, Arc<[Grant]>), Error> {
    let token = bearer(req)?.ok_or(Error::MissingToken)?;
    let who = state.tokens.verify(token, Kind::Access, unix_now())?;
    // Asked on every request, so a logout is seen at once by every worker and
    // every server process sharing the database. A point read (in WAL mode readers
    // never wait for the writer, and the store caches until the file changes), so
    // it runs inline.
    let grants = state
        .store
        .session(&who.jti, &who.fam, &who.sub)?
        .ok_or(Error::InvalidToken("revoked"))?;
    Ok((who, grants))
}

/// `value` as a JSON body, in a buffer sized for a typical answer at once.
fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| Error::Internal(format!("serializing the answer: {e}")))?;
    Ok(body)
}

/// Runs a store write on a blocking thread (writes may wait for the write lock).
async fn write<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let store = Arc::clone(&state.store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| Error::Internal(format!("store task: {e}")))?
}

// ---- handlers ---------------------------------------------------------------

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// Answer of `/login` and `/refresh`.
#[derive(Serialize, Deserialize, Debug)]
pub struct TokenPair {
    /// Short-lived access token (`at+jwt`).
    pub access_token: String,
    /// Rotating refresh token (`rt+jwt`).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

async fn login(state: &AppState, req: &Request<'_>, ip: Option<IpAddr>) -> Result<Vec<u8>, Error> {
    let req: LoginRequest = json_body(req)?;
    if !valid_username(&req.username) || req.password.len() > MAX_PASSWORD {
        return Err(Error::Malformed(format!(
            "username must be 1-{MAX_USERNAME} bytes without control characters; \
             password at most {MAX_PASSWORD} bytes"
        )));
    }
    state.throttle.check(&req.username, ip)?;
    let phc = state.store.password_hash(&req.username)?;
    if !state.passwords.check(req.password, phc).await? {
        state.throttle.failed(&req.username, ip);
        tracing::info!(user = %req.username.escape_debug(), "failed login");
        return Err(Error::BadCredentials);
    }
    state.throttle.succeeded(&req.username);
    let now = unix_now();
    let family = random_id()?;
    let access = state
        .tokens
        .issue_access(&req.username, &family, true, now)?;
    let refresh = state.tokens.issue_refresh(&req.username, &family, now)?;
    let (user, jti, exp) = (req.username, refresh.jti.clone(), refresh.exp);
    write(state, move |s| s.create_family(&family, &user, &jti, exp)).await?;
    to_json(&TokenPair {
        access_token: access.token,
        refresh_token: refresh.token,
        token_type: "Bearer".into(),
        expires_in: access.exp.saturating_sub(now),
    })
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(state: &AppState, req: &Request<'_>) -> Result<Vec<u8>, Error> {
    let from_body;
    let token = match bearer(req)? {
        Some(t) => t,
        None if req.body.is_empty() => return Err(Error::MissingToken),
        None => {
            let body: RefreshRequest = json_body(req)?;
            from_body = body.refresh_token;
            from_body.as_str()
        }
    };
    let now = unix_now();
    let old = state.tokens.verify(token, Kind::Refresh, now)?;
    let refresh = state.tokens.issue_refresh(&old.sub, &old.fam, now)?;
    let access = state.tokens.issue_access(&old.sub, &old.fam, false, now)?;
    let (fam, jti, new_jti, exp) = (
        old.fam.clone(),
        old.jti.clone(),
        refresh.jti.clone(),
        refresh.exp,
    );
    match write(state, move |s| s.rotate(&fam, &jti, &new_jti, exp)).await? {
        Rotation::Rotated => to_json(&TokenPair {
            access_token: access.token,
            refresh_token: refresh.token,
            token_type: "Bearer".into(),
            expires_in: access.exp.saturating_sub(now),
        }),
        Rotation::Reused => {
            tracing::warn!(user = %old.sub.escape_debug(), family = %old.fam, "refresh token reused: family revoked");
            Err(Error::InvalidToken("refresh-reused"))
        }
        Rotation::Revoked | Rotation::Unknown => Err(Error::InvalidToken("revoked")),
    }
}

async fn logout(state: &AppState, req: &Request<'_>) -> Result<Vec<u8>, Error> {
    let (who, _) = caller(state, req)?;
    let (fam, jti, exp) = (who.fam, who.jti, who.exp);
    write(state, move |s| s.logout(&fam, &jti, exp)).await?;
    to_json(&json!({ "logged_out": true }))
}

/// Answer of `GET /me`.
#[derive(Serialize)]
struct Me<'a> {
    username: &'a str,
    grants: &'a [Grant],
    token: MeToken<'a>,
}

#[derive(Serialize)]
struct MeToken<'a> {
    jti: &'a str,
    iat: i64,
    exp: i64,
    fresh: bool,
}

fn me(state: &AppState, req: &Request<'_>) -> Result<Vec<u8>, Error> {
    let (who, grants) = caller(state, req)?;
    to_json(&Me {
        username: &who.sub,
        grants: &grants,
        token: MeToken {
            jti: &who.jti,
            iat: who.iat,
            exp: who.exp,
            fresh: who.fresh,
        },
    })
}

#[derive(Deserialize)]
struct CommandRequest {
    command: String,
    #[serde(default)]
    args: Option<Value>,
}

/// Checks a command and its arguments by the contract's rules
/// ([`latchkey_protocol::Command::parse`]): a number or a string of digits.
fn command_args(command: &str, args: Option<&Value>) -> Result<latchkey_protocol::Command, Error> {
    use latchkey_protocol::Command;
    let Some(takes_argument) = Command::takes_argument(command.as_bytes()) else {
        return Err(Error::Malformed(format!(
            "unknown command {command:?}; expected one of {}",
            COMMANDS.join(", ")
        )));
    };
    let list: Vec<&Value> = match args {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    };
    let text = match list.as_slice() {
        [] => Some(None),
        [Value::Number(n)] => n.as_u64().map(|n| Some(n.to_string())),
        [Value::String(s)] => Some(Some(s.clone())),
        _ => None,
    };
    text.and_then(|arg| Command::parse(command.as_bytes(), arg.as_deref().map(str::as_bytes)).ok())
        .ok_or_else(|| {
            Error::Malformed(if takes_argument {
                format!("{command} takes one argument, 0-255")
            } else {
                format!("{command} takes no arguments")
            })
        })
}

async fn command(state: &AppState, req: &Request<'_>, segment: &str) -> Result<Vec<u8>, Error> {
    let (who, grants) = caller(state, req)?;
    let device = percent_decoded(segment)?;
    let req: CommandRequest = json_body(req)?;
    if !valid_device_id(&device) {
        return Err(Error::NotFound(format!(
            "no device {:?}",
            device.escape_debug().to_string()
        )));
    }
    let command = command_args(&req.command, req.args.as_ref())?;
    if !state.store.device_exists(&device)? {
        return Err(Error::NotFound(format!("no device {device:?}")));
    }
    if !grants.iter().any(|g| g.allows(&device, &req.command)) {
        return Err(Error::Forbidden(format!(
            "{} is not granted {:?} on {device:?}",
            who.sub, req.command
        )));
    }
    let now = unix_now();
    let issued = state
        .tokens
        .issue_command(&who.sub, &device, command, now)?;
    let mut body = json!({
        "token": issued.token,
        "device": device,
        "scope": req.command,
        "jti": issued.jti,
        "expires_in": issued.exp.saturating_sub(now),
    });
    if state.bridge.has(&device) {
        let verdict = state.bridge.send(&device, command, &issued.token).await?;
        body["device_verdict"] = Value::String(verdict);
    }
    to_json(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::Command;

    #[test]
    fn command_arguments_are_checked() {
        assert_eq!(command_args("open", None).unwrap(), Command::Open);
        assert_eq!(
            command_args("open", Some(&json!([]))).unwrap(),
            Command::Open
        );
        assert!(command_args("open", Some(&json!(["x"]))).is_err());
        assert_eq!(
            command_args("led", Some(&json!([128]))).unwrap(),
            Command::Led(128)
        );
        assert_eq!(
            command_args("led", Some(&json!("7"))).unwrap(),
            Command::Led(7)
        );
        for bad in [
            json!([256]),
            json!([-1]),
            json!([1.5]),
            json!("1e2"),
            json!([1, 2]),
        ] {
            assert!(command_args("led", Some(&bad)).is_err(), "{bad}");
        }
        assert!(command_args("led", None).is_err());
        assert!(command_args("reboot", None).is_err());
        assert!(command_args("OPEN", None).is_err());
    }

    #[test]
    fn device_paths_and_their_escapes() {
        assert_eq!(device_segment("/devices/door-1/commands"), Some("door-1"));
        assert_eq!(device_segment("/devices//commands"), Some(""));
        assert_eq!(device_segment("/devices/a/b/commands"), None);
        assert_eq!(device_segment("/devices/commands"), None);
        assert_eq!(device_segment("/devices/a/commands/"), None);
        assert_eq!(percent_decoded("door%2D1").unwrap(), "door-1");
        assert_eq!(percent_decoded("a%2fb%20").unwrap(), "a/b ");
        assert_eq!(percent_decoded("100%").unwrap(), "100%");
        assert_eq!(percent_decoded("%zz%4").unwrap(), "%zz%4");
        assert_eq!(percent_decoded("%C3%A9").unwrap(), "\u{e9}");
        assert!(matches!(percent_decoded("%ff"), Err(Error::Malformed(_))));
    }

    #[test]
    fn json_content_types() {
        for yes in [
            &b"application/json"[..],
            b"Application/JSON; charset=utf-8",
            b" application/json ",
            b"application/problem+json",
        ] {
            assert!(is_json(Some(yes)), "{yes:?}");
        }
        for no in [
            &b"text/plain"[..],
            b"application/jsonx",
            b"text/json",
            b"application/json-seq",
            b"",
        ] {
            assert!(!is_json(Some(no)), "{no:?}");
        }
        assert!(!is_json(None));
    }

    #[test]
    fn ids_and_names() {
        // The contract's rule: `:` and a leading `.` or `-` are out, as in the firmware build.
        assert!(valid_device_id("door-1.a_b"));
        assert!(!valid_device_id("door 1"));
        assert!(!valid_device_id("door:1"));
        assert!(!valid_device_id(".."));
        assert!(!valid_device_id(""));
        assert!(valid_username("zoë 🦀 ' OR 1=1 --"));
        assert!(!valid_username("a\u{0}b"));
        assert!(!valid_username(&"x".repeat(129)));
    }
}
