//! The HTTP API: one handler per route, each taking what it needs through the
//! extractors of [`crate::http`] and answering JSON or an [`Error`]. The routes
//! themselves are listed in [`crate::http::app`].

use crate::auth::{Attempt, PasswordChecker, Throttle};
use crate::bridge::Bridge;
use crate::error::Error;
use crate::http::{Bearer, Caller, ClientAddr, DeviceId, Json, JsonBody};
use crate::keys::random_id;
use crate::metrics::{Login, Metrics, StoreOp};
use crate::ring::LiveTokens;
use crate::store::{CommandRecord, Credentials, Grant, Issuance, IssueLimit, Rotation, Store};
use crate::tokens::{CommandTicket, Kind, TokenService, grantable, unix_now};
use axum::extract::{Request, State};
use latchkey_core::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

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
    /// The sessions of access tokens, checked against the store's revocation
    /// counter on every request (through the instance's lease while it holds).
    pub sessions: crate::sessions::Sessions,
    /// Token signing and checking.
    pub tokens: Arc<LiveTokens>,
    /// Bounded password hashing off the executor.
    pub passwords: PasswordChecker,
    /// Failed-login throttle.
    pub throttle: Throttle,
    /// Links to devices' UARTs.
    pub bridge: Bridge,
    /// Counters for `GET /metrics`.
    pub metrics: Metrics,
    /// How long a request may take, from its head's arrival to its answer
    /// (`--request-timeout`).
    pub request_timeout: Duration,
    /// The root public key trust statements are checked against before they
    /// are sent; `None`: trust delivery is off.
    pub root_key: Option<latchkey_core::Key>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("tokens", &self.tokens)
            .field("bridge", &self.bridge)
            .finish_non_exhaustive()
    }
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

/// `value` as a JSON answer, in a buffer sized for a typical answer at once.
fn to_json<T: Serialize>(value: &T) -> Result<Json, Error> {
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| Error::Internal(format!("serializing the answer: {e}")))?;
    Ok(Json(body))
}

/// Runs a store read, timed as `op`: inline when the store says its reads are
/// cheap (SQLite: a point read that never waits for a writer), else on a blocking
/// thread (PostgreSQL: a network round trip, and its client must not block an
/// executor thread).
pub(crate) async fn read<T: Send + 'static>(
    state: &AppState,
    op: StoreOp,
    f: impl FnOnce(&dyn Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if state.store.cheap_reads() {
        state.metrics.store(op, || f(state.store.as_ref()))
    } else {
        write(state, op, f).await
    }
}

/// Runs a store call on a blocking thread (writes may wait for a lock), timed as
/// `op`.
async fn write<T: Send + 'static>(
    state: &AppState,
    op: StoreOp,
    f: impl FnOnce(&dyn Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let shared = state.clone();
    tokio::task::spawn_blocking(move || shared.metrics.store(op, || f(shared.store.as_ref())))
        .await
        .map_err(|e| Error::Internal(format!("store task: {e}")))?
}

// ---- handlers ---------------------------------------------------------------

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Result<Json, Error> {
    to_json(&json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// How long caches may keep the JWK Set: a rotated key is published this long
/// before it signs in a deployment that waits as long after `keys rotate`.
pub const JWKS_MAX_AGE: u32 = 300;

/// `GET /.well-known/jwks.json`: the public session keys and the command ring
/// as a JWK Set (never an HS256 key), cacheable by anyone for [`JWKS_MAX_AGE`]
/// seconds.
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<axum::response::Response, Error> {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let tokens = state.tokens.fresh().await?;
    Ok((
        [
            (CONTENT_TYPE, "application/jwk-set+json".to_owned()),
            (CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE}")),
        ],
        tokens.jwks().to_owned(),
    )
        .into_response())
}

/// How long `GET /readyz` waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz`: the store answers a read (a point query through
/// [`Store::device_exists`]) within [`READY_TIMEOUT`]; 503 `not-ready` if not.
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json, Error> {
    let shared = state.clone();
    let read = tokio::task::spawn_blocking(move || {
        shared
            .metrics
            .store(StoreOp::Ready, || shared.store.device_exists(""))
    });
    match tokio::time::timeout(READY_TIMEOUT, read).await {
        Ok(Ok(Ok(_))) => to_json(&json!({ "status": "ready" })),
        Ok(Ok(Err(e))) => Err(Error::NotReady(format!("store: {e}"))),
        Ok(Err(e)) => Err(Error::NotReady(format!("store task: {e}"))),
        Err(_) => Err(Error::NotReady(format!(
            "the store did not answer within {} s",
            READY_TIMEOUT.as_secs()
        ))),
    }
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Result<Json, Error> {
    to_json(&crate::openapi::document())
}

/// `GET /metrics`: the counters of [`Metrics`], Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The body of `POST /login`.
#[derive(Deserialize)]
pub(crate) struct LoginRequest {
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

/// `POST /login`, its outcome counted.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    body: Result<JsonBody<LoginRequest>, Error>,
) -> Result<Json, Error> {
    let answer = match body {
        Ok(JsonBody(req)) => password_login(&state, req, ip).await,
        Err(e) => Err(e),
    };
    state.metrics.login(match &answer {
        Ok(_) => Login::Success,
        Err(Error::BadCredentials) => Login::BadCredentials,
        Err(Error::Throttled { .. }) => Login::Throttled,
        Err(
            Error::Malformed(_)
            | Error::UnsupportedMediaType
            | Error::BodyTooLarge
            | Error::RequestTimeout,
        ) => Login::Malformed,
        Err(_) => Login::Error,
    });
    answer
}

async fn password_login(
    state: &AppState,
    req: LoginRequest,
    ip: Option<std::net::IpAddr>,
) -> Result<Json, Error> {
    if !valid_username(&req.username) || req.password.len() > MAX_PASSWORD {
        return Err(Error::Malformed(format!(
            "username must be 1-{MAX_USERNAME} bytes without control characters; \
             password at most {MAX_PASSWORD} bytes"
        )));
    }
    // Reserved in the store before anything is hashed, so that concurrent
    // attempts, on any instance, count against the limit.
    let (throttle, user) = (state.throttle.clone(), req.username.clone());
    let attempt = write(state, StoreOp::Reserve, move |s| {
        throttle.reserve(s, &user, ip, unix_now())
    })
    .await?;
    let user = req.username.clone();
    let checked = match read(state, StoreOp::Credentials, move |s| s.credentials(&user)).await {
        Ok(credentials) => {
            let phc = credentials.as_ref().map(|c| c.phc.clone());
            let _queued = state.metrics.hashing();
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

/// Hands a login's reserved attempt back: forgotten after a success, released
/// when the password was never checked. A failure here only leaves the attempt
/// counted (fails closed), so it is logged, not answered.
async fn settle(state: &AppState, attempt: Attempt, succeeded: bool) {
    let throttle = state.throttle.clone();
    let result = write(state, StoreOp::Settle, move |s| {
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

/// Issues a token pair for the user whose password was just checked, and starts
/// its refresh family, tied to the row whose password was checked: if the user
/// was removed (and perhaps added again) meanwhile, no session starts.
async fn start_session(
    state: &AppState,
    username: String,
    user: Credentials,
) -> Result<Json, Error> {
    let now = unix_now();
    let family = random_id()?;
    let tokens = state.tokens.fresh().await?;
    let access = tokens.issue_access(&username, &family, true, now)?;
    let refresh = tokens.issue_refresh(&username, &family, now)?;
    let (jti, exp) = (refresh.jti.clone(), refresh.exp);
    let started = write(state, StoreOp::StartSession, move |s| {
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

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

/// `POST /refresh`: the refresh token as `Authorization: Bearer`, or else in a
/// JSON body.
pub(crate) async fn refresh(
    State(state): State<AppState>,
    bearer: Option<Bearer>,
    request: Request,
) -> Result<Json, Error> {
    let token = match bearer {
        Some(Bearer(t)) => t,
        None => {
            let body = JsonBody::<RefreshRequest>::optional(request)
                .await?
                .ok_or(Error::MissingToken)?;
            body.refresh_token
        }
    };
    let now = unix_now();
    let tokens = state.tokens.fresh().await?;
    let old = tokens.verify(&token, Kind::Refresh, now)?;
    let refresh = tokens.issue_refresh(&old.sub, &old.fam, now)?;
    let access = tokens.issue_access(&old.sub, &old.fam, false, now)?;
    let (fam, jti, new_jti, exp) = (
        old.fam.clone(),
        old.jti.clone(),
        refresh.jti.clone(),
        refresh.exp,
    );
    match write(&state, StoreOp::Rotate, move |s| {
        s.rotate(&fam, &jti, &new_jti, exp)
    })
    .await?
    {
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

/// `POST /logout` (and `DELETE`): revokes the access token and its family.
pub(crate) async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Json, Error> {
    let who = caller.token;
    let (fam, jti, exp) = (who.fam, who.jti, who.exp);
    write(&state, StoreOp::Logout, move |s| s.logout(&fam, &jti, exp)).await?;
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

/// `GET /me`: who the token belongs to and what they may do.
pub(crate) async fn me(caller: Caller) -> Result<Json, Error> {
    let who = &caller.token;
    to_json(&Me {
        username: &who.sub,
        grants: &caller.grants,
        token: MeToken {
            jti: &who.jti,
            iat: who.iat,
            exp: who.exp,
            fresh: who.fresh,
        },
    })
}

/// The body of `POST /devices/{id}/commands`.
#[derive(Deserialize)]
pub(crate) struct CommandRequest {
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

/// A command token as issued: the token and what it was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCommand {
    /// The compact JWS.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its `iat`.
    pub iat: i64,
    /// Its `exp`.
    pub exp: i64,
    /// Its `seq`, the device's sequence number.
    pub seq: u64,
    /// The algorithm it is signed with.
    pub alg: Algorithm,
}

/// Issues one command token, the one way the API and the CLI do: refuses
/// `trust`, takes the device's next `seq` and records the token in the store
/// within the per-user limit ([`IssueLimit::CONTRACT`]), then signs it. Blocks
/// on the store: run it on a blocking thread.
///
/// # Errors
/// [`Error::Malformed`] for `trust`; [`Error::NotFound`] for an unregistered
/// device; [`Error::TooManyTokens`] when the user is at the limit for the
/// device; the store's and the signer's errors.
pub fn issue_command_token(
    store: &dyn Store,
    tokens: &TokenService,
    sub: &str,
    device: &str,
    command: latchkey_protocol::Command,
    now: i64,
    source: &str,
) -> Result<IssuedCommand, Error> {
    grantable(command)?;
    let jti = random_id()?;
    let record = CommandRecord {
        jti: jti.clone(),
        issued_at: now,
        expires_at: tokens.command_expiry(now),
        username: sub.to_owned(),
        device: device.to_owned(),
        command: command.name().to_owned(),
        arg: command.argument(),
        source: source.to_owned(),
        seq: None,
    };
    // Recorded before anyone sees the token: no unaudited token leaves.
    let (seq, stored_alg) = match store.issue_command(&record, IssueLimit::CONTRACT)? {
        Issuance::Granted { seq, command_alg } => (seq, command_alg),
        Issuance::Refused { retry_after } => return Err(Error::TooManyTokens { retry_after }),
    };
    let alg = tokens.command_alg(device, stored_alg.as_deref())?;
    let ticket = CommandTicket {
        jti: &jti,
        seq,
        alg,
    };
    let issued = tokens.issue_command(sub, device, command, now, &ticket)?;
    Ok(IssuedCommand {
        token: issued.token,
        jti,
        iat: now,
        exp: issued.exp,
        seq,
        alg,
    })
}

/// `POST /devices/{id}/commands`: a command token for one device, delivered
/// over the bridge when the device has one.
pub(crate) async fn command(
    State(state): State<AppState>,
    caller: Caller,
    DeviceId(device): DeviceId,
    JsonBody(req): JsonBody<CommandRequest>,
) -> Result<Json, Error> {
    let (who, grants) = (caller.token, caller.grants);
    if !valid_device_id(&device) {
        return Err(Error::NotFound(format!(
            "no device {:?}",
            device.escape_debug().to_string()
        )));
    }
    let command = command_args(&req.command, req.args.as_ref())?;
    grantable(command)?;
    let id = device.clone();
    if !read(&state, StoreOp::DeviceExists, move |s| s.device_exists(&id)).await? {
        return Err(Error::NotFound(format!("no device {device:?}")));
    }
    if !grants.iter().any(|g| g.allows(&device, &req.command)) {
        return Err(Error::Forbidden(format!(
            "{} is not granted {:?} on {device:?}",
            who.sub, req.command
        )));
    }
    let tokens = state.tokens.fresh().await?;
    let (sub, id) = (who.sub.clone(), device.clone());
    let issued = write(&state, StoreOp::RecordCommand, move |s| {
        issue_command_token(s, &tokens, &sub, &id, command, unix_now(), "api")
    })
    .await?;
    let mut body = json!({
        "token": issued.token,
        "device": device,
        "scope": req.command,
        "jti": issued.jti,
        "seq": issued.seq,
        "expires_in": issued.exp.saturating_sub(issued.iat),
    });
    if state.bridge.has(&device) {
        let verdict = state.bridge.send(&device, command, &issued.token).await?;
        body["device_verdict"] = Value::String(verdict);
    }
    to_json(&body)
}

/// The body of `POST /devices/{id}/trust`.
#[derive(Deserialize)]
pub(crate) struct TrustRequest {
    statement: String,
}

/// The name of the grant that allows delivering trust statements.
pub const TRUST_GRANT: &str = "trust";

/// Whether `grants` name `trust` for `device` (a `*` list of commands does not:
/// only a grant naming it).
#[must_use]
pub fn may_deliver_trust(grants: &[Grant], device: &str) -> bool {
    grants
        .iter()
        .any(|g| g.matches_device(device) && g.commands.iter().any(|c| c == TRUST_GRANT))
}

/// `POST /devices/{id}/trust`: sends a trust statement, signed offline with the
/// root key (`latchkey-server device trust`), to the device over its bridge,
/// after checking it is one (root signature, `typ`, `aud`), and answers the
/// device's verdict. Only for callers granted `trust` on the device.
pub(crate) async fn trust(
    State(state): State<AppState>,
    caller: Caller,
    DeviceId(device): DeviceId,
    JsonBody(req): JsonBody<TrustRequest>,
) -> Result<Json, Error> {
    let (who, grants) = (caller.token, caller.grants);
    if !valid_device_id(&device) {
        return Err(Error::NotFound(format!(
            "no device {:?}",
            device.escape_debug().to_string()
        )));
    }
    let id = device.clone();
    if !read(&state, StoreOp::DeviceExists, move |s| s.device_exists(&id)).await? {
        return Err(Error::NotFound(format!("no device {device:?}")));
    }
    if !may_deliver_trust(&grants, &device) {
        return Err(Error::Forbidden(format!(
            "{} is not granted {TRUST_GRANT:?} on {device:?}",
            who.sub
        )));
    }
    let root = state.root_key.as_ref().ok_or_else(|| {
        Error::NotFound("trust delivery is off: start the server with --root-public-key".into())
    })?;
    let summary = crate::keys::verify_trust(root, &device, &req.statement)?;
    let verdict = state
        .bridge
        .send(&device, latchkey_protocol::Command::Trust, &req.statement)
        .await?;
    tracing::info!(user = %who.sub.escape_debug(), %device, epoch = summary.epoch, %verdict, "trust statement delivered");
    to_json(&json!({
        "device": device,
        "epoch": summary.epoch,
        "device_verdict": verdict,
    }))
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
