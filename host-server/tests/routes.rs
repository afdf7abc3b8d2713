//! Route tests in process: each request is built as an `http::Request` and sent
//! through the whole axum `Router` (layers included) with
//! `tower::ServiceExt::oneshot`, as the accept loop does; every answer's status,
//! header fields and exact JSON body are checked.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::Request as HttpRequest;
use base64ct::{Base64UrlUnpadded, Encoding};
use http_body_util::BodyExt;
use latchkey_core::{Algorithm, Key};
use latchkey_server::http::ClientAddr;
use latchkey_server::keys::{KeySet, Ring, SessionKey, SigningKey};
use latchkey_server::store::{SqliteStore, Store};
use latchkey_server::tokens::{Lifetimes, TokenService, unix_now};
use latchkey_server::{AppState, Config, app, auth};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

struct Harness {
    app: Router,
    store: Arc<SqliteStore>,
    /// Holds the database; removed when the last instance on it is dropped.
    _dir: Arc<tempfile::TempDir>,
}

fn harness(name: &str) -> Harness {
    harness_with(name, Duration::from_secs(30))
}

fn harness_with(name: &str, request_timeout: Duration) -> Harness {
    let dir = tempfile::Builder::new()
        .prefix(&format!("latchkey-routes-{name}-"))
        .tempdir()
        .unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
    instance(
        store,
        Arc::new(dir),
        &KeySet::development(),
        request_timeout,
    )
}

/// An app over `store` with `keys`: one more server instance on a database.
fn instance(
    store: Arc<SqliteStore>,
    dir: Arc<tempfile::TempDir>,
    keys: &KeySet,
    request_timeout: Duration,
) -> Harness {
    let config = Config {
        throttle: auth::ThrottleLimits {
            per_user: 3,
            per_address: 100,
            window: Duration::from_secs(60),
        },
        hash_concurrency: 2,
        request_timeout,
        // The development root key checks trust statements.
        dev_keys: true,
        ..Config::default()
    };
    let dyn_store: Arc<dyn Store> = store.clone();
    let state = AppState::new(dyn_store, keys, &config).unwrap();
    Harness {
        app: app(state),
        store,
        _dir: dir,
    }
}

/// The same database served with other keys (a restart after `keys rotate`).
fn restarted(h: &Harness, keys: &KeySet) -> Harness {
    instance(
        Arc::clone(&h.store),
        Arc::clone(&h._dir),
        keys,
        Duration::from_secs(30),
    )
}

fn add_user(h: &Harness, name: &str, password: &str) {
    h.store
        .add_user(name, &auth::hash_password(password).unwrap())
        .unwrap();
}

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Value,
}

/// A request being built.
struct Request {
    builder: axum::http::request::Builder,
}

impl Request {
    fn new(method: &str, uri: &str) -> Request {
        Request {
            builder: HttpRequest::builder()
                .method(method)
                .uri(uri)
                .header("host", "test"),
        }
    }

    fn post(uri: &str) -> Request {
        Request::new("POST", uri)
    }

    fn get(uri: &str) -> Request {
        Request::new("GET", uri)
    }

    fn header(self, name: &str, value: impl Display) -> Request {
        Request {
            builder: self.builder.header(name, value.to_string()),
        }
    }

    /// The request with `body`, its length declared as an HTTP/1.1 client would.
    fn body(self, body: impl Into<Vec<u8>>) -> HttpRequest<Body> {
        let body = body.into();
        self.header("content-length", body.len())
            .builder
            .body(Body::from(body))
            .unwrap()
    }
}

/// Status, header fields and body bytes of the router's answer to `request`,
/// sent as if from 127.0.0.1.
async fn exchange(
    h: &Harness,
    mut request: HttpRequest<Body>,
) -> (u16, HashMap<String, String>, Bytes) {
    request
        .extensions_mut()
        .insert(ClientAddr(Some(IpAddr::V4(Ipv4Addr::LOCALHOST))));
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

async fn call(h: &Harness, request: HttpRequest<Body>) -> Reply {
    let (status, headers, bytes) = exchange(h, request).await;
    assert_eq!(headers["content-type"], "application/json", "{status}");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {:?}", String::from_utf8_lossy(&bytes)));
    Reply {
        status,
        headers,
        body,
    }
}

fn post_json(uri: &str, body: &Value, token: Option<&str>) -> HttpRequest<Body> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(body.to_string())
}

fn get(uri: &str, token: Option<&str>) -> HttpRequest<Body> {
    let mut b = Request::get(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Vec::new())
}

async fn login(h: &Harness, user: &str, password: &str) -> Reply {
    call(
        h,
        post_json(
            "/login",
            &json!({ "username": user, "password": password }),
            None,
        ),
    )
    .await
}

fn token_error(code: &str) -> Value {
    json!({ "error": "invalid-token", "message": format!("token rejected: {code}") })
}

fn assert_invalid_token(r: &Reply, code: &str) {
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(r.body, token_error(code));
    assert_eq!(
        r.headers["www-authenticate"],
        format!("Bearer error=\"invalid_token\", error_description=\"{code}\"")
    );
}

#[tokio::test]
async fn healthz_and_unknown_routes() {
    let h = harness("health");
    let r = call(&h, get("/healthz", None)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    let r = call(&h, get("/nope", None)).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({ "error": "not-found", "message": "no such route" })
    );
    let r = call(&h, get("/login", None)).await;
    assert_eq!(r.status, 405);
    assert_eq!(
        r.body,
        json!({ "error": "method-not-allowed", "message": "method not allowed on this route" })
    );
}

#[tokio::test]
async fn login_me_refresh_logout() {
    let h = harness("flow");
    add_user(&h, "alice", "correct horse");
    h.store.grant("alice", "door-*", &["open".into()]).unwrap();
    let r = login(&h, "alice", "correct horse").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();

    let me = call(&h, get("/me", Some(&access))).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(
        me.body["grants"],
        json!([{ "device": "door-*", "commands": ["open"] }])
    );
    assert_eq!(me.body["token"]["fresh"], true);

    // Rotation: the new pair works, the new access token is not fresh.
    let r2 = call(&h, post_json("/refresh", &json!({}), Some(&refresh))).await;
    assert_eq!(r2.status, 200, "{:?}", r2.body);
    let access2 = r2.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = r2.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(
        call(&h, get("/me", Some(&access2))).await.body["token"]["fresh"],
        false
    );
    // The refresh token also works from a JSON body.
    let r3 = call(
        &h,
        post_json("/refresh", &json!({ "refresh_token": refresh2 }), None),
    )
    .await;
    assert_eq!(r3.status, 200, "{:?}", r3.body);
    let access3 = r3.body["access_token"].as_str().unwrap().to_owned();

    // Logout revokes this access token and the family (older access tokens too).
    let out = call(&h, post_json("/logout", &json!({}), Some(&access3))).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.body, json!({ "logged_out": true }));
    assert_invalid_token(&call(&h, get("/me", Some(&access3))).await, "revoked");
    assert_invalid_token(&call(&h, get("/me", Some(&access))).await, "revoked");
    let refresh3 = r3.body["refresh_token"].as_str().unwrap();
    assert_invalid_token(
        &call(&h, post_json("/refresh", &json!({}), Some(refresh3))).await,
        "revoked",
    );
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_family() {
    let h = harness("reuse");
    add_user(&h, "alice", "pw");
    let r = login(&h, "alice", "pw").await;
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let rotated = call(&h, post_json("/refresh", &json!({}), Some(&refresh))).await;
    assert_eq!(rotated.status, 200);
    let stolen = call(&h, post_json("/refresh", &json!({}), Some(&refresh))).await;
    assert_invalid_token(&stolen, "refresh-reused");
    // The legitimate holder's newer tokens die with the family.
    let newer_refresh = rotated.body["refresh_token"].as_str().unwrap();
    let newer_access = rotated.body["access_token"].as_str().unwrap();
    assert_invalid_token(
        &call(&h, post_json("/refresh", &json!({}), Some(newer_refresh))).await,
        "revoked",
    );
    assert_invalid_token(&call(&h, get("/me", Some(newer_access))).await, "revoked");
    // Another login (another family) is unaffected.
    assert_eq!(login(&h, "alice", "pw").await.status, 200);
}

#[tokio::test]
async fn wrong_user_and_wrong_password_look_the_same_and_get_throttled() {
    let h = harness("creds");
    add_user(&h, "alice", "pw");
    let expected = json!({ "error": "bad-credentials", "message": "bad username or password" });
    let a = login(&h, "alice", "wrong").await;
    let b = login(&h, "mallory", "pw").await;
    assert_eq!((a.status, &a.body), (401, &expected));
    assert_eq!((b.status, &b.body), (401, &expected));
    assert_eq!(
        a.headers.get("www-authenticate"),
        b.headers.get("www-authenticate")
    );
    for _ in 0..2 {
        assert_eq!(login(&h, "alice", "wrong").await.status, 401);
    }
    // Limit 3 reached: even the right password is refused until the window ends.
    let t = login(&h, "alice", "pw").await;
    assert_eq!(t.status, 429);
    assert_eq!(t.body["error"], "throttled");
    let retry: u64 = t.headers["retry-after"].parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other users are not affected by alice's throttle.
    add_user(&h, "bob", "pw2");
    assert_eq!(login(&h, "bob", "pw2").await.status, 200);
}

#[tokio::test]
async fn hostile_bodies() {
    let h = harness("bodies");
    let raw = |ct: Option<&str>, body: Vec<u8>| {
        let mut b = Request::post("/login");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(body)
    };
    let r = call(
        &h,
        raw(Some("application/json"), b"{\"username\": \"a\", ".to_vec()),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "malformed");
    let r = call(&h, raw(Some("application/json"), b"[1,2]".to_vec())).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("malformed"))
    );
    let r = call(
        &h,
        raw(
            Some("application/json"),
            br#"{"username": 5, "password": "x"}"#.to_vec(),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("malformed"))
    );
    let r = call(
        &h,
        raw(
            Some("text/plain"),
            br#"{"username":"a","password":"b"}"#.to_vec(),
        ),
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.body,
        json!({ "error": "unsupported-media-type", "message": "expected a body with content type application/json" })
    );
    let r = call(
        &h,
        raw(None, br#"{"username":"a","password":"b"}"#.to_vec()),
    )
    .await;
    assert_eq!(r.status, 415);
    let huge = format!(r#"{{"username":"a","password":"{}"}}"#, "x".repeat(1 << 20));
    let r = call(&h, raw(Some("application/json"), huge.into_bytes())).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        json!({ "error": "body-too-large", "message": "request body too large" })
    );
    let r = call(&h, raw(Some("application/json"), vec![0xff, 0xfe, b'{'])).await;
    assert_eq!(r.status, 400);
    let r = call(
        &h,
        raw(
            Some("application/json"),
            br#"{"username":"a\u0000b","password":"x"}"#.to_vec(),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &h,
        raw(
            Some("application/json"),
            format!(r#"{{"username":"{}","password":"x"}}"#, "u".repeat(200)).into_bytes(),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    // Deeply nested JSON is a 400, not a crash.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let r = call(&h, raw(Some("application/json"), deep.into_bytes())).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn odd_usernames_are_just_names() {
    let h = harness("names");
    for name in [
        "zoë 🦀",
        "' OR '1'='1",
        "robert'); DROP TABLE users;--",
        "\"quoted\" \\ back",
        "\u{202e}rtl",
    ] {
        add_user(&h, name, "pw");
        let r = login(&h, name, "pw").await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
        let token = r.body["access_token"].as_str().unwrap();
        let me = call(&h, get("/me", Some(token))).await;
        assert_eq!(me.body["username"], name);
    }
    assert_eq!(h.store.list_users().unwrap().len(), 5);
    let r = login(&h, "' OR '1'='1' --", "pw").await;
    assert_eq!(r.status, 401);
}

fn b64(s: &str) -> String {
    Base64UrlUnpadded::encode_string(s.as_bytes())
}

#[tokio::test]
async fn hostile_tokens() {
    let h = harness("tokens");
    add_user(&h, "alice", "pw");
    let r = login(&h, "alice", "pw").await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();

    // Missing token: 401 without error= in the challenge.
    let m = call(&h, get("/me", None)).await;
    assert_eq!(m.status, 401);
    assert_eq!(
        m.body,
        json!({ "error": "missing-token", "message": "missing bearer token" })
    );
    assert_eq!(m.headers["www-authenticate"], "Bearer realm=\"latchkey\"");

    // A refresh token is not an access token, and vice versa.
    assert_invalid_token(&call(&h, get("/me", Some(&refresh))).await, "wrong-type");
    assert_invalid_token(
        &call(&h, post_json("/refresh", &json!({}), Some(&access))).await,
        "wrong-type",
    );

    // Forged: same kid, another secret.
    let mut forged_keys = KeySet::development();
    forged_keys.session_keys = vec![SessionKey::Hmac(SigningKey {
        kid: "dev-1".into(),
        secret: vec![0x55; 32],
    })];
    let forger = TokenService::new(&forged_keys, Lifetimes::default()).unwrap();
    let forged = forger.issue_access("alice", "f", true, unix_now()).unwrap();
    assert_invalid_token(
        &call(&h, get("/me", Some(&forged.token))).await,
        "bad-signature",
    );

    // Tampered payload: alice's signature over bob's name.
    let parts: Vec<&str> = access.split('.').collect();
    let payload = String::from_utf8(Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&payload.replace("alice", "bob")),
        parts[2]
    );
    assert_invalid_token(
        &call(&h, get("/me", Some(&tampered))).await,
        "bad-signature",
    );

    // alg none, with and without a signature segment.
    let none_header = b64(r#"{"alg":"none","typ":"at+jwt","kid":"dev-1"}"#);
    let none = format!("{none_header}.{}.", parts[1]);
    assert_invalid_token(&call(&h, get("/me", Some(&none))).await, "malformed");
    let none_sig = format!("{none_header}.{}.{}", parts[1], parts[2]);
    assert_invalid_token(&call(&h, get("/me", Some(&none_sig))).await, "alg-none");

    // Expired (signed with the real key, an hour ago).
    let real = TokenService::new(&KeySet::development(), Lifetimes::default()).unwrap();
    let old = real
        .issue_access("alice", "f", true, unix_now() - 3600)
        .unwrap();
    assert_invalid_token(&call(&h, get("/me", Some(&old.token))).await, "expired");

    // Unknown kid, garbage, oversize.
    let other = KeySet {
        session_keys: vec![SessionKey::Hmac(SigningKey {
            kid: "zzz".into(),
            secret: vec![1; 32],
        })],
        ..KeySet::development()
    };
    let t = TokenService::new(&other, Lifetimes::default())
        .unwrap()
        .issue_access("alice", "f", true, unix_now())
        .unwrap();
    assert_invalid_token(&call(&h, get("/me", Some(&t.token))).await, "unknown-key");
    assert_invalid_token(
        &call(&h, get("/me", Some("not-a-token"))).await,
        "malformed",
    );
    assert_invalid_token(
        &call(&h, get("/me", Some(&"a".repeat(5000)))).await,
        "token-too-large",
    );

    // A deleted user's tokens stop working at once.
    h.store.remove_user("alice").unwrap();
    assert_invalid_token(&call(&h, get("/me", Some(&access))).await, "revoked");
}

#[tokio::test]
async fn command_tokens() {
    let h = harness("commands");
    add_user(&h, "alice", "pw");
    h.store.add_device("door-1", "front door", "HS256").unwrap();
    h.store.add_device("gate-1", "", "HS256").unwrap();
    h.store
        .grant("alice", "door-*", &["open".into(), "led".into()])
        .unwrap();
    let access = login(&h, "alice", "pw").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |device: &str, body: Value| {
        post_json(&format!("/devices/{device}/commands"), &body, Some(&access))
    };

    let r = call(&h, send("door-1", json!({ "command": "open" }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["scope"], "open");
    assert_eq!(r.body["expires_in"], 60);
    assert_eq!(r.body["seq"], 1);
    assert!(r.body.get("device_verdict").is_none());
    // The device verifies it with its own derived key; another device's key fails.
    let token = r.body["token"].as_str().unwrap();
    let keys = KeySet::development();
    let verify = |device: &str| {
        let key =
            latchkey_core::Key::new(latchkey_core::Algorithm::Hs256, &keys.device_key(device))
                .unwrap();
        let v = latchkey_core::Verifier::new(
            key,
            latchkey_core::Validation {
                audience: Some(device),
                typ: Some("lk-cmd+jwt"),
                ..latchkey_core::Validation::new()
            },
        );
        let mut scratch = [0u8; 1024];
        v.verify(
            token.as_bytes(),
            u64::try_from(unix_now()).unwrap(),
            &mut scratch,
        )
        .map(|c| {
            (
                c.sub().map(|s| s.raw().to_owned()),
                c.get("scope")
                    .and_then(|s| s.as_str())
                    .map(|s| s.raw().to_owned()),
            )
        })
    };
    assert_eq!(
        verify("door-1"),
        Ok((Some("alice".into()), Some("open".into())))
    );
    assert_eq!(verify("gate-1"), Err(latchkey_core::Error::BadSignature));

    let r = call(
        &h,
        send("door-1", json!({ "command": "led", "args": [200] })),
    )
    .await;
    assert_eq!((r.status, &r.body["scope"]), (200, &json!("led")));
    let r = call(&h, send("door-1", json!({ "command": "close" }))).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({ "error": "not-granted", "message": "alice is not granted \"close\" on \"door-1\"" })
    );
    let r = call(&h, send("gate-1", json!({ "command": "open" }))).await;
    assert_eq!(r.status, 403);
    let r = call(&h, send("door-9", json!({ "command": "open" }))).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({ "error": "not-found", "message": "no device \"door-9\"" })
    );
    let r = call(&h, send("door-1", json!({ "command": "reboot" }))).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("malformed"))
    );
    let r = call(
        &h,
        send("door-1", json!({ "command": "led", "args": [999] })),
    )
    .await;
    assert_eq!(
        r.body,
        json!({ "error": "malformed", "message": "led takes one argument, 0-255" })
    );
    let r = call(&h, send("door%201", json!({ "command": "open" }))).await;
    assert_eq!(r.status, 404);
    let r = call(
        &h,
        post_json(
            "/devices/door-1/commands",
            &json!({ "command": "open" }),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, 401);
    // `trust` is never a command token, even for a user granted everything.
    h.store.grant("alice", "*", &["*".into()]).unwrap();
    let r = call(&h, send("door-1", json!({ "command": "trust" }))).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("malformed"))
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("never issued as a command token")
    );
}

/// A user gets at most 16 command tokens per device within 300 s, however many
/// ask at once: the rest are answered 429 with `Retry-After`; another device
/// still gets tokens. Each token's `seq` is the device's next, without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_tokens_are_limited_per_user_and_device() {
    let h = Arc::new(harness("limit"));
    add_user(&h, "alice", "pw");
    h.store.add_device("door-1", "", "EdDSA").unwrap();
    h.store.add_device("door-2", "", "EdDSA").unwrap();
    h.store
        .grant("alice", "door-*", &["status".into()])
        .unwrap();
    let access = login(&h, "alice", "pw").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = |device: &str| {
        post_json(
            &format!("/devices/{device}/commands"),
            &json!({ "command": "status" }),
            Some(&access),
        )
    };
    let mut asking = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let (h, request) = (Arc::clone(&h), status("door-1"));
        asking.spawn(async move { call(&h, request).await });
    }
    let replies: Vec<Reply> = asking.join_all().await;
    let mut seqs: Vec<u64> = replies
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body["seq"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=16).collect::<Vec<u64>>());
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status != 200).collect();
    assert_eq!(refused.len(), 8);
    for r in refused {
        assert_eq!(r.status, 429);
        assert_eq!(r.body["error"], "too-many-tokens");
        let retry: u64 = r.headers["retry-after"].parse().unwrap();
        assert!((1..=300).contains(&retry), "{retry}");
        assert!(!r.headers.contains_key("www-authenticate"));
    }
    assert_eq!(call(&h, status("door-2")).await.status, 200);
}

/// `POST /devices/{id}/trust` refuses, before anything is sent: a caller not
/// granted `trust` on the device (`*` is not enough), an unknown device, and a
/// statement that is not a trust statement for this device signed by the root
/// key (a command token, another device's statement, another root's); a good
/// statement reaches the bridge (none here: 404 naming it).
#[tokio::test]
async fn trust_delivery_refuses_what_it_must_not_send() {
    use latchkey_server::keys::RootKey;
    let h = harness("trust");
    add_user(&h, "alice", "pw");
    add_user(&h, "root", "pw");
    h.store.add_device("door-1", "", "EdDSA").unwrap();
    h.store.grant("alice", "*", &["*".into()]).unwrap();
    h.store
        .grant("root", "door-*", &["trust".into(), "status".into()])
        .unwrap();
    let token = |user: &'static str| {
        let h = &h;
        async move {
            login(h, user, "pw").await.body["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (alice, root) = (token("alice").await, token("root").await);
    let keys = KeySet::development();
    let dev_root = RootKey::development();
    let good = dev_root
        .sign_trust("door-1", 1, &[&keys.command_keys[0]], &[])
        .unwrap();
    let deliver = |device: &str, statement: &str, who: &str| {
        post_json(
            &format!("/devices/{device}/trust"),
            &json!({ "statement": statement }),
            Some(who),
        )
    };
    let r = call(&h, deliver("door-1", &good, &alice)).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "error": "not-granted", "message": "alice is not granted \"trust\" on \"door-1\"" })
    );
    let r = call(&h, deliver("door-9", &good, &root)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (404, Some("not-found"))
    );
    let command = call(
        &h,
        post_json(
            "/devices/door-1/commands",
            &json!({ "command": "status" }),
            Some(&root),
        ),
    )
    .await;
    let command = command.body["token"].as_str().unwrap().to_owned();
    let other_device = dev_root
        .sign_trust("door-2", 1, &[&keys.command_keys[0]], &[])
        .unwrap();
    let other_root = RootKey::create(&h._dir.path().join("root.json"))
        .unwrap()
        .sign_trust("door-1", 1, &[&keys.command_keys[0]], &[])
        .unwrap();
    for bad in [command.as_str(), &other_device, &other_root, "x.y.z", ""] {
        let r = call(&h, deliver("door-1", bad, &root)).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("malformed")),
            "{bad}"
        );
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("not a trust statement")
        );
    }
    let r = call(&h, deliver("door-1", &good, &root)).await;
    assert_eq!(
        r.body,
        json!({ "error": "not-found", "message": "no bridge for device \"door-1\"" })
    );
}

/// The JWK Set: the command ring's public keys with `kid`, `alg` and `use`, a
/// Cache-Control header, read by core's JWK Set reader; the key it gives verifies
/// a command token the API issues (development keys: one Ed25519 key).
#[tokio::test]
async fn jwks_publishes_the_command_ring() {
    use latchkey_core::keys::{JwkSet, KeyMaterial};
    let h = harness("jwks");
    let (status, headers, body) = exchange(&h, get("/.well-known/jwks.json", None)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc,
        json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "kid": "dev-cmd-1", "alg": "EdDSA", "use": "sig",
            "x": doc["keys"][0]["x"],
        }]})
    );
    let set = JwkSet::parse(&body).unwrap();
    let jwk = set.keys().next().unwrap().unwrap();
    let mut buf = [0u8; 64];
    let KeyMaterial::Ed25519(x) = jwk.material(&mut buf).unwrap() else {
        unreachable!("an OKP key")
    };
    let mut ring: latchkey_core::KeySet<2> = latchkey_core::KeySet::new();
    ring.insert(
        Some(jwk.kid().unwrap().raw()),
        Key::ed25519(Algorithm::EdDsa, x).unwrap(),
    )
    .unwrap();
    let service = TokenService::new(&KeySet::development(), Lifetimes::default()).unwrap();
    let ticket = latchkey_server::tokens::CommandTicket {
        jti: "j",
        seq: 1,
        alg: Algorithm::EdDsa,
    };
    let t = service
        .issue_command(
            "alice",
            "door-ed",
            latchkey_protocol::Command::Open,
            1_000,
            &ticket,
        )
        .unwrap();
    let verifier = latchkey_core::Verifier::with_keys(
        ring,
        latchkey_core::Validation {
            audience: Some("door-ed"),
            ..latchkey_core::Validation::new()
        },
    );
    let mut scratch = [0u8; 1024];
    assert!(
        verifier
            .verify(t.token.as_bytes(), 1_000, &mut scratch)
            .is_ok()
    );
    let r = call(&h, post_json("/.well-known/jwks.json", &json!({}), None)).await;
    assert_eq!(r.status, 405);
}

/// The body of `GET /.well-known/jwks.json`.
async fn jwks_body(h: &Harness) -> Bytes {
    let (status, _, body) = exchange(h, get("/.well-known/jwks.json", None)).await;
    assert_eq!(status, 200);
    body
}

/// Verifies an access token as another service would, from the published JWK
/// Set alone: core's `KeySet::from_jwks` (every key bound to its own `alg`),
/// the key picked by the token's `kid`, `typ` `at+jwt` and `iss` required.
fn verify_with_jwks(jwks: &[u8], token: &str) -> Result<String, latchkey_core::Error> {
    let set = latchkey_core::KeySet::<8>::from_jwks(jwks, None)?;
    let verifier = latchkey_core::Verifier::with_keys(
        set,
        latchkey_core::Validation {
            typ: Some("at+jwt"),
            issuer: Some("latchkey"),
            ..latchkey_core::Validation::new()
        },
    );
    let mut scratch = [0u8; 2048];
    let claims = verifier.verify(token.as_bytes(), unix_now().unsigned_abs(), &mut scratch)?;
    Ok(claims.sub().map(|s| s.raw().to_owned()).unwrap_or_default())
}

/// A rotation of the session ring from HS256 to EdDSA, one restart each step:
/// sessions from before keep working (`/me`, `/refresh`) until the HS256 key is
/// retired; new access tokens are EdDSA and verify from the published JWK Set
/// alone, in which the HS256 key never appears; the HS256 token does not verify
/// from the JWK Set.
#[tokio::test]
async fn eddsa_session_keys_verify_from_the_published_jwks() {
    let h = harness("session-eddsa");
    add_user(&h, "alice", "pw");
    let before = login(&h, "alice", "pw").await;
    let old_access = before.body["access_token"].as_str().unwrap().to_owned();
    let old_refresh = before.body["refresh_token"].as_str().unwrap().to_owned();
    let hmac_jwks = jwks_body(&h).await;
    assert_eq!(
        verify_with_jwks(&hmac_jwks, &old_access),
        Err(latchkey_core::Error::UnknownKey)
    );

    let mut keys = KeySet::development();
    let kid = keys.rotate(Ring::Session, Some(Algorithm::EdDsa)).unwrap();
    let rotated = restarted(&h, &keys);
    let me = call(&rotated, get("/me", Some(&old_access))).await;
    assert_eq!((me.status, &me.body["username"]), (200, &json!("alice")));
    let fresh = login(&rotated, "alice", "pw").await;
    let access = fresh.body["access_token"].as_str().unwrap().to_owned();
    let header = Base64UrlUnpadded::decode_vec(access.split('.').next().unwrap()).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&header).unwrap(),
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid })
    );
    assert_eq!(call(&rotated, get("/me", Some(&access))).await.status, 200);

    let body = jwks_body(&rotated).await;
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc["keys"][0],
        json!({ "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
                "x": doc["keys"][0]["x"] })
    );
    assert_eq!(doc["keys"][1]["kid"], "dev-cmd-1");
    assert_eq!(doc["keys"].as_array().unwrap().len(), 2, "no HS256 key");
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(!text.contains("dev-1\"") && !text.contains("oct"), "{text}");
    assert_eq!(verify_with_jwks(&body, &access).as_deref(), Ok("alice"));
    assert_eq!(
        verify_with_jwks(&body, &old_access),
        Err(latchkey_core::Error::UnknownKey)
    );

    // The old refresh token still refreshes, into an EdDSA pair.
    let r = call(
        &rotated,
        post_json("/refresh", &json!({}), Some(&old_refresh)),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let refreshed = r.body["access_token"].as_str().unwrap();
    assert_eq!(verify_with_jwks(&body, refreshed).as_deref(), Ok("alice"));

    keys.retire(Ring::Session, "dev-1").unwrap();
    let retired = restarted(&h, &keys);
    assert_invalid_token(
        &call(&retired, get("/me", Some(&old_access))).await,
        "unknown-key",
    );
    assert_eq!(call(&retired, get("/me", Some(&access))).await.status, 200);
}

#[tokio::test]
async fn openapi_lists_exactly_the_routed_paths() {
    let h = harness("openapi");
    let doc = call(&h, get("/openapi.json", None)).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    let mut listed = Vec::new();
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "door-1");
            let req = Request::new(&method.to_uppercase(), &uri).body(Vec::new());
            let (status, _, body) = exchange(&h, req).await;
            assert!(
                status != 404 || String::from_utf8_lossy(&body).contains("no device"),
                "{method} {path} is documented but not routed: {body:?}"
            );
            assert_ne!(status, 405, "{method} {path}");
            listed.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /logout",
            "GET /.well-known/jwks.json",
            "GET /healthz",
            "GET /me",
            "GET /metrics",
            "GET /openapi.json",
            "GET /readyz",
            "POST /devices/{id}/commands",
            "POST /devices/{id}/trust",
            "POST /login",
            "POST /logout",
            "POST /refresh"
        ]
    );
}

#[tokio::test]
async fn head_works_where_get_does_and_405_says_allow() {
    let h = harness("methods");
    let (status, headers, body) =
        exchange(&h, Request::new("HEAD", "/healthz").body(Vec::new())).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    let full = exchange(&h, get("/healthz", None)).await;
    assert_eq!(headers["content-length"], full.2.len().to_string());
    let (status, headers, _) = exchange(&h, Request::new("HEAD", "/me").body(Vec::new())).await;
    assert_eq!(
        (status, headers["www-authenticate"].as_str()),
        (401, "Bearer realm=\"latchkey\"")
    );
    for (method, uri, allow) in [
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/me", "GET, HEAD"),
        ("PUT", "/readyz", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
        ("GET", "/login", "POST"),
        ("GET", "/refresh", "POST"),
        ("GET", "/logout", "POST, DELETE"),
        ("GET", "/devices/door-1/commands", "POST"),
    ] {
        let r = call(&h, Request::new(method, uri).body(Vec::new())).await;
        assert_eq!(r.status, 405, "{method} {uri}");
        assert_eq!(r.headers["allow"], allow, "{method} {uri}");
        assert_eq!(r.body["error"], "method-not-allowed");
    }
    // Every answer carries a request id; one the client sent is kept.
    let (_, headers, _) = exchange(
        &h,
        Request::get("/healthz")
            .header("x-request-id", "abc-1")
            .body(Vec::new()),
    )
    .await;
    assert_eq!(headers["x-request-id"], "abc-1");
    let (_, headers, _) = exchange(&h, get("/healthz", None)).await;
    assert!(!headers["x-request-id"].is_empty());
}

#[tokio::test]
async fn ambiguous_fields_and_paths_are_refused() {
    let h = harness("ambiguous");
    let r = call(
        &h,
        Request::get("/me")
            .header("authorization", "Bearer a.b.c")
            .header("authorization", "Bearer d.e.f")
            .body(Vec::new()),
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (
            400,
            &json!({ "error": "malformed", "message": "more than one Authorization" })
        )
    );
    let r = call(
        &h,
        Request::post("/login")
            .header("content-type", "application/json")
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (
            400,
            &json!({ "error": "malformed", "message": "more than one Content-Type" })
        )
    );
    assert_invalid_token(
        &call(
            &h,
            Request::get("/me")
                .header("authorization", "Bearer   ")
                .body(Vec::new()),
        )
        .await,
        "malformed",
    );
    // Another scheme is no bearer token at all.
    let r = call(
        &h,
        Request::get("/me")
            .header("authorization", "Basic YTpi")
            .body(Vec::new()),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("missing-token"))
    );
    // A query is not part of the path; a path that is not UTF-8 once decoded is refused.
    assert_eq!(call(&h, get("/healthz?x=/me", None)).await.status, 200);
    let access = {
        add_user(&h, "alice", "pw");
        login(&h, "alice", "pw").await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = call(
        &h,
        post_json(
            "/devices/%ff/commands",
            &json!({ "command": "open" }),
            Some(&access),
        ),
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (
            400,
            &json!({ "error": "malformed", "message": "the path is not UTF-8 once decoded" })
        )
    );
}

#[tokio::test]
async fn bodies_over_the_limit_without_a_length_are_refused_too() {
    let h = harness("limit");
    // No Content-Length (as a chunked HTTP/1.1 body or HTTP/2 DATA frames).
    let request = |size: usize| {
        HttpRequest::post("/login")
            .header("content-type", "application/json")
            .body(Body::from(format!(
                r#"{{"username":"a","password":"{}"}}"#,
                "x".repeat(size)
            )))
            .unwrap()
    };
    let r = call(&h, request(17 * 1024)).await;
    assert_eq!(
        (r.status, &r.body),
        (
            413,
            &json!({ "error": "body-too-large", "message": "request body too large" })
        )
    );
    // Under the limit it is read (and the password is too long for a login).
    let r = call(&h, request(8 * 1024)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("malformed"))
    );
}

#[tokio::test]
async fn a_request_not_finished_in_time_gets_408() {
    let h = harness_with("timeout", Duration::from_millis(300));
    let (mut sender, body) = http_body_util::channel::Channel::<Bytes>::new(1);
    sender
        .send_data(Bytes::from_static(b"{\"user"))
        .await
        .unwrap();
    let request = HttpRequest::post("/login")
        .header("content-type", "application/json")
        .body(Body::new(body))
        .unwrap();
    let r = call(&h, request).await;
    assert_eq!(
        (r.status, &r.body),
        (
            408,
            &json!({ "error": "request-timeout", "message": "the request was not received and answered in time" })
        )
    );
    drop(sender);
}

#[tokio::test]
async fn readyz_reads_the_store() {
    let h = harness("ready");
    let r = call(&h, get("/readyz", None)).await;
    assert_eq!((r.status, &r.body), (200, &json!({ "status": "ready" })));
}

#[tokio::test]
async fn metrics_count_requests_logins_and_store_calls() {
    let h = harness("metrics");
    add_user(&h, "alice", "pw");
    assert_eq!(login(&h, "alice", "wrong").await.status, 401);
    let access = login(&h, "alice", "pw").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(call(&h, get("/me", Some(&access))).await.status, 200);
    assert_eq!(call(&h, get("/nowhere/at/all", None)).await.status, 404);
    let (status, headers, body) = exchange(&h, get("/metrics", None)).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    for line in [
        "latchkey_http_requests_total{route=\"/login\",status=\"200\"} 1",
        "latchkey_http_requests_total{route=\"/login\",status=\"401\"} 1",
        "latchkey_http_requests_total{route=\"/me\",status=\"200\"} 1",
        "latchkey_http_requests_total{route=\"other\",status=\"404\"} 1",
        "latchkey_logins_total{outcome=\"success\"} 1",
        "latchkey_logins_total{outcome=\"bad-credentials\"} 1",
        "latchkey_hash_queue_depth 0",
        "latchkey_store_duration_seconds_count{op=\"reserve\"} 2",
        "latchkey_store_duration_seconds_count{op=\"credentials\"} 2",
        "latchkey_store_duration_seconds_count{op=\"settle\"} 1",
        "latchkey_store_duration_seconds_count{op=\"start_session\"} 1",
        "latchkey_store_duration_seconds_count{op=\"session\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
}
