//! The peer a Rust team would write instead of latchkey-server, for
//! `cargo xtask bench-server`: axum (HTTP/1.1 and h2c) + jsonwebtoken 12, the same
//! shape as the Flask peer (`tests/harness/peer/flask_app.py`).
//!
//! - `POST /login` with JSON `username`/`password`: one fixed user, `alice` /
//!   `correct horse battery staple`, checked against an Argon2id hash at the server's
//!   parameters (m = 19456 KiB, t = 2, p = 1) on tokio's blocking pool; an unknown
//!   user is checked against a dummy hash, so it costs as much as a wrong password.
//!   Answers an HS256 access token (15 minutes, a random `jti`).
//! - `GET /me` with `Authorization: Bearer <token>`: jsonwebtoken verifies it (the
//!   key and the validation built once) and the `jti` must not be in this process's
//!   revocation set. Nothing is shared with another process: a logout here is unknown
//!   to a second instance, unlike latchkey-server's store-backed revocation.
//! - `DELETE /logout` with the token: its `jti` goes into the set.
//!
//! HS256 key: the 32 bytes 00..1f, as the Flask peer's default.
//!
//! Usage: `latchkey-peer-axum [--bind ADDR]` (default `127.0.0.1:0`); prints
//! `listening on http://ADDR` once it accepts connections.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const SECRET: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
/// Access token lifetime.
const ACCESS_SECS: u64 = 15 * 60;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

struct App {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// alice's PHC string.
    hash: String,
    /// Checked for unknown users.
    dummy: String,
    revoked: RwLock<HashSet<String>>,
}

type Shared = Arc<App>;

/// Argon2id at latchkey-server's parameters.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn hash(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing: {e}"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "msg": msg }))).into_response()
}

/// A fresh random `jti`: 16 bytes in hex.
fn jti() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn login(State(app): State<Shared>, Json(body): Json<Credentials>) -> Response {
    let checker = Arc::clone(&app);
    let known = body.username == USER;
    let ok = tokio::task::spawn_blocking(move || {
        let phc = if known { &checker.hash } else { &checker.dummy };
        argon2()
            .verify_password(body.password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false);
    if !(known && ok) {
        return error(StatusCode::UNAUTHORIZED, "Bad username or password");
    }
    let Ok(jti) = jti() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness");
    };
    let iat = now();
    let claims = Claims {
        sub: USER.to_string(),
        iat,
        nbf: iat,
        exp: iat + ACCESS_SECS,
        jti,
        kind: "access".to_string(),
    };
    match jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &app.encoding) {
        Ok(token) => Json(json!({ "access_token": token, "token_type": "Bearer" })).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "signing failed"),
    }
}

/// The bearer token's claims when it verifies and is not revoked here.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<Claims, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Missing Authorization Header"))?;
    let claims = jsonwebtoken::decode::<Claims>(token, &app.decoding, &app.validation)
        .map_err(|_| error(StatusCode::UNAUTHORIZED, "Invalid token"))?
        .claims;
    let revoked = app
        .revoked
        .read()
        .map_or(true, |set| set.contains(&claims.jti));
    if revoked {
        return Err(error(StatusCode::UNAUTHORIZED, "Token has been revoked"));
    }
    Ok(claims)
}

async fn me(State(app): State<Shared>, headers: HeaderMap) -> Response {
    match authenticate(&app, &headers) {
        Ok(claims) => Json(json!({ "user": claims.sub })).into_response(),
        Err(response) => response,
    }
}

async fn logout(State(app): State<Shared>, headers: HeaderMap) -> Response {
    match authenticate(&app, &headers) {
        Ok(claims) => {
            if let Ok(mut set) = app.revoked.write() {
                set.insert(claims.jti);
            }
            Json(json!({ "msg": "Access token successfully revoked" })).into_response()
        }
        Err(response) => response,
    }
}

fn bind_arg() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut bind = SocketAddr::from(([127, 0, 0, 1], 0));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => {
                let value = args.next().ok_or("--bind needs an address")?;
                bind = value.parse().map_err(|e| format!("--bind {value}: {e}"))?;
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(bind)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let bind = bind_arg().map_err(|e| format!("{e}\nusage: latchkey-peer-axum [--bind ADDR]"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_nbf = true;
    let app = Arc::new(App {
        encoding: EncodingKey::from_secret(&SECRET).map_err(|e| e.to_string())?,
        decoding: DecodingKey::from_secret(&SECRET).map_err(|e| e.to_string())?,
        validation,
        hash: hash(PASSWORD)?,
        dummy: hash("no such user")?,
        revoked: RwLock::new(HashSet::new()),
    });
    let router = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", delete(logout))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("binding {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())
}
