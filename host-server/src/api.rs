//! The HTTP API: routes, extractors, and handlers.

use crate::auth::{PasswordChecker, Throttle};
use crate::bridge::Bridge;
use crate::error::Error;
use crate::keys::random_id;
use crate::store::{Grant, Rotation, Store};
use crate::tokens::{Kind, TokenService, Verified, unix_now};
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest username, in bytes.
pub const MAX_USERNAME: usize = 128;
/// Longest password, in bytes (Argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD: usize = 1024;
/// The commands a device understands (team convention).
pub const COMMANDS: [&str; 4] = ["open", "close", "status", "led"];

/// Everything the handlers share, behind one `Arc`: axum clones the state for every
/// request, and one reference count (not one per part) is what the HTTP threads
/// then share and contend on.
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

/// The router with every route, the body limit, and JSON fallbacks.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout).delete(logout))
        .route("/me", get(me))
        .route("/devices/{id}/commands", post(command))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
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

// ---- extractors -------------------------------------------------------------

fn rejection(status: axum::http::StatusCode, text: String) -> Error {
    match status.as_u16() {
        413 => Error::BodyTooLarge,
        415 => Error::UnsupportedMediaType,
        _ => Error::Malformed(text),
    }
}

/// `axum::Json` with rejections in the API's error shape.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e @ JsonRejection::MissingJsonContentType(_)) => {
                Err(rejection(e.status(), e.body_text()))
            }
            Err(e) => Err(rejection(e.status(), e.body_text())),
        }
    }
}

/// The raw body with rejections in the API's error shape.
struct RawBody(axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e: BytesRejection| rejection(e.status(), e.body_text()))
    }
}

/// The client's IP address, when the server was started with connect info.
struct ClientIp(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::InvalidToken("malformed"))?;
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

/// A caller with a valid access token whose revocation is not yet checked
/// (the handler checks it together with its own read).
#[derive(Debug)]
pub struct SignedCaller(pub Verified);

impl FromRequestParts<AppState> for SignedCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer(&parts.headers)?.ok_or(Error::MissingToken)?;
        Ok(SignedCaller(state.tokens.verify(
            token,
            Kind::Access,
            unix_now(),
        )?))
    }
}

/// A caller with a valid, unrevoked access token, and the user's grants.
#[derive(Debug)]
pub struct Caller {
    /// The verified access token.
    pub who: Verified,
    /// The user's grants, as the database holds them now.
    pub grants: Arc<[Grant]>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let SignedCaller(who) = SignedCaller::from_request_parts(parts, state).await?;
        // Asked on every request, so a logout is seen at once by every worker and
        // every server process sharing the database. A point read (in WAL mode readers
        // never wait for the writer, and the store caches until the file changes), so
        // it runs inline.
        let grants = state
            .store
            .session(&who.jti, &who.fam, &who.sub)?
            .ok_or(Error::InvalidToken("revoked"))?;
        Ok(Caller { who, grants })
    }
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

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn not_found() -> Error {
    Error::NotFound("no such route".into())
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

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

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, Error> {
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
    write(&state, move |s| s.create_family(&family, &user, &jti, exp)).await?;
    Ok(Json(TokenPair {
        access_token: access.token,
        refresh_token: refresh.token,
        token_type: "Bearer".into(),
        expires_in: access.exp.saturating_sub(now),
    }))
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<TokenPair>, Error> {
    let from_body;
    let token = match bearer(&headers)? {
        Some(t) => t,
        None if body.is_empty() => return Err(Error::MissingToken),
        None => {
            let is_json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if !is_json {
                return Err(Error::UnsupportedMediaType);
            }
            let req: RefreshRequest = serde_json::from_slice(&body)
                .map_err(|e| Error::Malformed(format!("invalid JSON body: {e}")))?;
            from_body = req.refresh_token;
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
    match write(&state, move |s| s.rotate(&fam, &jti, &new_jti, exp)).await? {
        Rotation::Rotated => Ok(Json(TokenPair {
            access_token: access.token,
            refresh_token: refresh.token,
            token_type: "Bearer".into(),
            expires_in: access.exp.saturating_sub(now),
        })),
        Rotation::Reused => {
            tracing::warn!(user = %old.sub.escape_debug(), family = %old.fam, "refresh token reused: family revoked");
            Err(Error::InvalidToken("refresh-reused"))
        }
        Rotation::Revoked | Rotation::Unknown => Err(Error::InvalidToken("revoked")),
    }
}

async fn logout(
    State(state): State<AppState>,
    Caller { who, .. }: Caller,
) -> Result<Json<Value>, Error> {
    let (fam, jti, exp) = (who.fam, who.jti, who.exp);
    write(&state, move |s| s.logout(&fam, &jti, exp)).await?;
    Ok(Json(json!({ "logged_out": true })))
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

async fn me(Caller { who, grants }: Caller) -> Result<Response, Error> {
    json_response(&Me {
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

/// `Json(value)`, serialized into a buffer sized for a typical answer at once
/// (axum's starts at 128 bytes and grows).
fn json_response<T: Serialize>(value: &T) -> Result<Response, Error> {
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| Error::Internal(format!("serializing the answer: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
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

async fn command(
    State(state): State<AppState>,
    Caller { who, grants }: Caller,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    ApiJson(req): ApiJson<CommandRequest>,
) -> Result<Json<Value>, Error> {
    let Path(device) = path.map_err(|e| Error::Malformed(e.body_text()))?;
    if !valid_device_id(&device) {
        return Err(Error::NotFound(format!(
            "no device {:?}",
            device.escape_debug().to_string()
        )));
    }
    let arg = command_args(&req.command, req.args.as_ref())?;
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
    let issued = state.tokens.issue_command(
        &who.sub,
        &device,
        &req.command,
        arg.as_deref().and_then(|a| a.parse().ok()),
        now,
    )?;
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
    Ok(Json(body))
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
    fn ids_and_names() {
        assert!(valid_device_id("door-1.a_b"));
        assert!(!valid_device_id("door 1"));
        assert!(!valid_device_id(""));
        assert!(valid_username("zoë 🦀 ' OR 1=1 --"));
        assert!(!valid_username("a\u{0}b"));
        assert!(!valid_username(&"x".repeat(129)));
    }
}
