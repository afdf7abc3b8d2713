//! The HTTP API: one function per route, picked by [`handle`] from a framed
//! request ([`crate::wire`]); every answer is JSON.

use crate::auth::{Attempt, PasswordChecker, Throttle};
use crate::bridge::Bridge;
use crate::error::Error;
use crate::keys::random_id;
use crate::store::{CommandRecord, Credentials, Grant, Rotation, Store};
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
/// The commands a device understands (team convention).
pub const COMMANDS: [&str; 4] = ["open", "close", "status", "led"];

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
        "/me" if get => me(state, req).await,
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
#[must_use]
pub fn valid_device_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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
async fn caller(state: &AppState, req: &Request<'_>) -> Result<(Verified, Arc<[Grant]>), Error> {
    let token = bearer(req)?.ok_or(Error::MissingToken)?;
    let who = state.tokens.verify(token, Kind::Access, unix_now())?;
    // Asked of the store on every request (it reads the revocation counter), so a
    // logout acknowledged by any instance on the database is seen by the next
    // request everywhere.
    let (who, session) = read(state, move |s| {
        let session = s.session(&who.jti, &who.fam, &who.sub)?;
        Ok((who, session))
    })
    .await?;
    Ok((who, session.ok_or(Error::InvalidToken("revoked"))?))
}

/// `value` as a JSON body, in a buffer sized for a typical answer at once.
fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| Error::Internal(format!("serializing the answer: {e}")))?;
    Ok(body)
}

/// Runs a store read inline when the store says its reads are cheap (SQLite),
/// else on a blocking thread (PostgreSQL: a network round trip).
async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if state.store.cheap_reads() {
        f(state.store.as_ref())
    } else {
        write(state, f).await
    }
}

/// Runs a store call on a blocking thread (writes may wait for a lock).
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
    // Reserved in the store before anything is hashed, so that concurrent
    // attempts, on any instance, count against the limit.
    let (throttle, user) = (state.throttle.clone(), req.username.clone());
    let attempt = write(state, move |s| throttle.reserve(s, &user, ip, unix_now())).await?;
    let user = req.username.clone();
    let checked = match read(state, move |s| s.credentials(&user)).await {
        Ok(credentials) => {
            let phc = credentials.as_ref().map(|c| c.phc.clone());
            state
                .passwords
                .check(req.password, phc)
                .await
                .map(|ok| credentials.filter(|_| ok))
        }
        Err(e) => Err(e),
    };
    let user = match checked {
        Ok(Some(user)) => user,
        Ok(None) => {
            // The attempt stays counted as a failure.
            tracing::info!(user = %req.username.escape_debug(), "failed login");
            return Err(Error::BadCredentials);
        }
        Err(e) => {
            settle(state, attempt, false).await;
            return Err(e);
        }
    };
    let answer = start_session(state, req.username, user).await;
    settle(state, attempt, answer.is_ok()).await;
    answer
}

/// Issues a token pair for the user whose password was just checked, and starts
/// its refresh family, tied to the row whose password was checked: if the user
/// was removed (and perhaps added again) meanwhile, no session starts.
async fn start_session(
    state: &AppState,
    username: String,
    user: Credentials,
) -> Result<Vec<u8>, Error> {
    let now = unix_now();
    let family = random_id()?;
    let access = state.tokens.issue_access(&username, &family, true, now)?;
    let refresh = state.tokens.issue_refresh(&username, &family, now)?;
    let (jti, exp) = (refresh.jti.clone(), refresh.exp);
    let started = write(state, move |s| {
        s.start_session(&family, user.user_id, &jti, exp)
    })
    .await?;
    if !started {
        tracing::info!(user = %username.escape_debug(), "user removed while logging in");
        return Err(Error::BadCredentials);
    }
    to_json(&TokenPair {
        access_token: access.token,
        refresh_token: refresh.token,
        token_type: "Bearer".into(),
        expires_in: access.exp.saturating_sub(now),
    })
}

/// Hands a login's reserved attempt back: forgotten after a success, released
/// when the password was never checked. A failure here only leaves the attempt
/// counted (fails closed), so it is logged, not answered.
async fn settle(state: &AppState, attempt: Attempt, succeeded: bool) {
    let throttle = state.throttle.clone();
    let result = write(state, move |s| {
        if succeeded {
            throttle.succeeded(s, &attempt)
        } else {
            throttle.abandoned(s, &attempt)
        }
    })
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not settle a login attempt");
    }
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
    let (who, _) = caller(state, req).await?;
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

async fn me(state: &AppState, req: &Request<'_>) -> Result<Vec<u8>, Error> {
    let (who, grants) = caller(state, req).await?;
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

/// Checks a command and its arguments; returns the argument text for the UART line.
fn command_args(command: &str, args: Option<&Value>) -> Result<Option<String>, Error> {
    if !COMMANDS.contains(&command) {
        return Err(Error::Malformed(format!(
            "unknown command {command:?}; expected one of {}",
            COMMANDS.join(", ")
        )));
    }
    let list: Vec<&Value> = match args {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    };
    if command == "led" {
        let level = match list.as_slice() {
            [Value::Number(n)] => n.as_u64(),
            [Value::String(s)] => s.parse::<u64>().ok(),
            _ => None,
        };
        match level {
            Some(l) if l <= 255 => Ok(Some(l.to_string())),
            _ => Err(Error::Malformed("led takes one argument, 0-255".into())),
        }
    } else if list.is_empty() {
        Ok(None)
    } else {
        Err(Error::Malformed(format!("{command} takes no arguments")))
    }
}

async fn command(state: &AppState, req: &Request<'_>, segment: &str) -> Result<Vec<u8>, Error> {
    let (who, grants) = caller(state, req).await?;
    let device = percent_decoded(segment)?;
    let req: CommandRequest = json_body(req)?;
    if !valid_device_id(&device) {
        return Err(Error::NotFound(format!(
            "no device {:?}",
            device.escape_debug().to_string()
        )));
    }
    let arg = command_args(&req.command, req.args.as_ref())?;
    let id = device.to_string();
    if !read(state, move |s| s.device_exists(&id)).await? {
        return Err(Error::NotFound(format!("no device {device:?}")));
    }
    if !grants.iter().any(|g| g.allows(&device, &req.command)) {
        return Err(Error::Forbidden(format!(
            "{} is not granted {:?} on {device:?}",
            who.sub, req.command
        )));
    }
    let now = unix_now();
    let level = arg.as_deref().and_then(|a| a.parse().ok());
    let issued = state
        .tokens
        .issue_command(&who.sub, &device, &req.command, level, now)?;
    // Recorded before anyone sees the token: no unaudited token leaves.
    let record = CommandRecord {
        jti: issued.jti.clone(),
        issued_at: now,
        expires_at: issued.exp,
        username: who.sub.clone(),
        device: device.to_string(),
        command: req.command.clone(),
        arg: level,
        source: "api".into(),
    };
    write(state, move |s| s.record_command(&record)).await?;
    let mut body = json!({
        "token": issued.token,
        "device": device,
        "scope": req.command,
        "jti": issued.jti,
        "expires_in": issued.exp.saturating_sub(now),
    });
    if state.bridge.has(&device) {
        let line = match &arg {
            Some(a) => format!("{} {a} {}", req.command, issued.token),
            None => format!("{} {}", req.command, issued.token),
        };
        let verdict = state.bridge.send(&device, &line).await?;
        body["device_verdict"] = Value::String(verdict);
    }
    to_json(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_arguments_are_checked() {
        assert_eq!(command_args("open", None).unwrap(), None);
        assert_eq!(command_args("open", Some(&json!([]))).unwrap(), None);
        assert!(command_args("open", Some(&json!(["x"]))).is_err());
        assert_eq!(
            command_args("led", Some(&json!([128]))).unwrap(),
            Some("128".into())
        );
        assert_eq!(
            command_args("led", Some(&json!("7"))).unwrap(),
            Some("7".into())
        );
        assert!(command_args("led", Some(&json!([256]))).is_err());
        assert!(command_args("led", Some(&json!([-1]))).is_err());
        assert!(command_args("led", None).is_err());
        assert!(command_args("reboot", None).is_err());
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
        assert!(valid_device_id("door-1.a_b"));
        assert!(!valid_device_id("door 1"));
        assert!(!valid_device_id(""));
        assert!(valid_username("zoë 🦀 ' OR 1=1 --"));
        assert!(!valid_username("a\u{0}b"));
        assert!(!valid_username(&"x".repeat(129)));
    }
}
