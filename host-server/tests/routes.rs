//! Route tests in process: each request is written as HTTP/1.1 bytes, framed by
//! `wire::next` and answered by `handle`, as the connection loop does; every
//! answer's status, header fields and exact JSON body are checked.

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_server::keys::{KeySet, SigningKey};
use latchkey_server::store::{SqliteStore, Store};
use latchkey_server::tokens::{Lifetimes, TokenService, unix_now};
use latchkey_server::wire::{self, Frame};
use latchkey_server::{AppState, Config, auth, handle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

struct Harness {
    state: AppState,
    store: Arc<SqliteStore>,
    /// Holds the database; removed when the test ends.
    _dir: tempfile::TempDir,
}

fn harness(name: &str) -> Harness {
    let dir = tempfile::Builder::new()
        .prefix(&format!("latchkey-routes-{name}-"))
        .tempdir()
        .unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
    let config = Config {
        throttle: auth::ThrottleLimits {
            per_user: 3,
            per_address: 100,
            window: Duration::from_secs(60),
        },
        hash_concurrency: 2,
        ..Config::default()
    };
    let dyn_store: Arc<dyn Store> = store.clone();
    let state = AppState::new(dyn_store, &KeySet::development(), &config).unwrap();
    Harness {
        state,
        store,
        _dir: dir,
    }
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

/// A request written out as HTTP/1.1 bytes.
struct Request {
    head: String,
}

impl Request {
    fn new(method: &str, uri: &str) -> Request {
        Request {
            head: format!("{method} {uri} HTTP/1.1\r\nHost: test\r\n"),
        }
    }

    fn post(uri: &str) -> Request {
        Request::new("POST", uri)
    }

    fn get(uri: &str) -> Request {
        Request::new("GET", uri)
    }

    fn header(mut self, name: &str, value: impl Display) -> Request {
        self.head.push_str(&format!("{name}: {value}\r\n"));
        self
    }

    fn body(self, body: impl Into<Vec<u8>>) -> Vec<u8> {
        let body = body.into();
        let mut bytes = self.header("Content-Length", body.len()).head.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&body);
        bytes
    }
}

async fn call(h: &Harness, bytes: Vec<u8>) -> Reply {
    let client = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let response = match wire::next(&bytes, latchkey_server::api::MAX_BODY) {
        Ok(Frame::Complete { request, len }) => {
            assert_eq!(len, bytes.len(), "one whole request");
            handle(&h.state, &request, client).await
        }
        Ok(Frame::Incomplete { .. }) => panic!("incomplete request"),
        Err(refused) => refused.response(),
    };
    let status = response.status;
    let headers = response
        .fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    let bytes = response.body;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {:?}", String::from_utf8_lossy(&bytes)));
    Reply {
        status,
        headers,
        body,
    }
}

fn post_json(uri: &str, body: &Value, token: Option<&str>) -> Vec<u8> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(body.to_string())
}

fn get(uri: &str, token: Option<&str>) -> Vec<u8> {
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
    forged_keys.signing_keys = vec![SigningKey {
        kid: "dev-1".into(),
        secret: vec![0x55; 32],
    }];
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
        signing_keys: vec![SigningKey {
            kid: "zzz".into(),
            secret: vec![1; 32],
        }],
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
    h.store.add_device("door-1", "front door").unwrap();
    h.store.add_device("gate-1", "").unwrap();
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
            let r = call(&h, req).await;
            assert!(
                r.body["error"] != "not-found",
                "{method} {path} is documented but not routed: {:?}",
                r.body
            );
            assert_ne!(r.status, 405, "{method} {path}");
            listed.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /logout",
            "GET /healthz",
            "GET /me",
            "GET /openapi.json",
            "POST /devices/{id}/commands",
            "POST /login",
            "POST /logout",
            "POST /refresh"
        ]
    );
}
