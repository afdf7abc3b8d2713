//! The server's API on both stores, through the real binary: each scenario runs
//! on an SQLite file and on a throwaway PostgreSQL database (skipped with a
//! printed reason when no cluster can be started, unless
//! `LATCHKEY_REQUIRE_POSTGRES=1`); then three server processes on one
//! PostgreSQL database.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod support;
use latchkey_harness::http::Client;
use latchkey_harness::{Error, Postgres, Server, ServerBuilder, TempDir, temp_dir};
use serde_json::json;
use support::{BIN, client, login, parts, post};

/// Where a scenario's database lives; dropped after its servers.
struct Db {
    builder: ServerBuilder,
    _dir: TempDir,
    _pg: Option<Postgres>,
}

/// Logs warnings only; no keys from the test's environment (the key file lands
/// in the scenario's directory).
fn quiet(builder: ServerBuilder) -> ServerBuilder {
    builder
        .arg("--log")
        .arg("warn")
        .env_remove("LATCHKEY_KEYS_JSON")
        .env_remove("LATCHKEY_DEV_KEYS")
}

fn sqlite(label: &str) -> Result<Db, Error> {
    let dir = temp_dir(&format!("stores-{label}"))?;
    let builder = quiet(ServerBuilder::new(
        Path::new(BIN),
        &dir.path().join("latchkey.db"),
    ));
    Ok(Db {
        builder,
        _dir: dir,
        _pg: None,
    })
}

/// `None` when the test is skipped (no cluster, not required).
fn postgres(label: &str) -> Result<Option<Db>, Error> {
    let Some(pg) = Postgres::for_test(label)? else {
        return Ok(None);
    };
    let dir = temp_dir(&format!("stores-{label}"))?;
    let builder = quiet(ServerBuilder::with_database_url(
        Path::new(BIN),
        &pg.url(),
        dir.path(),
    ));
    Ok(Some(Db {
        builder,
        _dir: dir,
        _pg: Some(pg),
    }))
}

fn start(builder: &ServerBuilder, extra: &[&str]) -> Result<Server, Error> {
    extra
        .iter()
        .fold(builder.clone(), |b, arg| b.arg(arg))
        .start()
}

/// The access and refresh tokens of a successful login.
fn tokens(http: &mut Client, user: &str, password: &str) -> Result<(String, String), Error> {
    let (code, body) = parts(&login(http, user, password)?)?;
    assert_eq!(code, 200, "{body}");
    Ok((
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    ))
}

/// `(status, token error code)` of `GET /me`.
fn me(http: &mut Client, access: &str) -> Result<(u16, String), Error> {
    let response = http.get("/me", Some(access))?;
    let body = response.json()?;
    Ok((
        response.status,
        body["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

const REVOKED: &str = "token rejected: revoked";

/// Login, `/me`, rotation and reuse detection, logout, a command token and its
/// audit record, and CLI changes seen by the next request.
fn api(db: &Db) -> Result<(), Error> {
    let cli = &db.builder;
    cli.admin(&["user", "add", "alice"], "pw\n")?;
    cli.admin(&["user", "grant", "alice", "door-*", "open", "led"], "")?;
    cli.admin(&["device", "add", "door-1", "--description", "front"], "")?;
    let s = start(cli, &[])?;
    let mut http = client(&s);
    let (access, refresh) = tokens(&mut http, "alice", "pw")?;
    let (code, body) = parts(&http.get("/me", Some(&access))?)?;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["grants"],
        json!([{ "device": "door-*", "commands": ["led", "open"] }])
    );
    let (code, body) = parts(&post(&mut http, "/refresh", &refresh)?)?;
    assert_eq!(code, 200, "{body}");
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    let (code, body) = parts(&post(&mut http, "/refresh", &refresh)?)?;
    assert_eq!(
        (code, body["message"].as_str()),
        (401, Some("token rejected: refresh-reused"))
    );
    // Reuse revoked the family: the rotated token and the access token too.
    assert_eq!(post(&mut http, "/refresh", &rotated)?.status, 401);
    assert_eq!(me(&mut http, &access)?, (401, REVOKED.to_owned()));

    let (access, _) = tokens(&mut http, "alice", "pw")?;
    let (code, body) = parts(&http.post_json(
        "/devices/door-1/commands",
        &json!({ "command": "led", "args": [7] }),
        Some(&access),
    )?)?;
    assert_eq!(code, 200, "{body}");
    let jti = body["jti"].as_str().unwrap().to_owned();
    let audit = cli.admin(&["audit", "list"], "")?;
    let fields: Vec<&str> = audit.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 6, "{audit}");
    assert!(fields[0].ends_with('Z'), "{audit}");
    assert_eq!(fields[1..], ["alice", "door-1", "led 7", &jti, "api"]);
    assert_eq!(cli.admin(&["audit", "list", "--user", "bob"], "")?, "");

    cli.admin(&["user", "revoke", "alice", "door-*", "led"], "")?;
    let (_, body) = parts(&http.get("/me", Some(&access))?)?;
    assert_eq!(
        body["grants"],
        json!([{ "device": "door-*", "commands": ["open"] }])
    );
    assert_eq!(post(&mut http, "/logout", &access)?.status, 200);
    assert_eq!(me(&mut http, &access)?, (401, REVOKED.to_owned()));
    let (access, _) = tokens(&mut http, "alice", "pw")?;
    cli.admin(&["user", "remove", "alice"], "")?;
    assert_eq!(me(&mut http, &access)?, (401, REVOKED.to_owned()));
    Ok(())
}

/// 30 logins at once for one user, 29 with a wrong password and one right, with
/// a limit of 5: each attempt is reserved before its password is hashed, so at
/// most 5 are answered 401 or 200 and the rest 429. (Checked after hashing,
/// counted after, all 30 were hashed: 29 x 401 and a 200.)
fn concurrent_wrong_passwords(servers: &[Server]) -> Result<(), Error> {
    let clients: Vec<Client> = servers.iter().map(client).collect();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..30)
            .map(|i| {
                let mut http = clients[i % clients.len()].clone();
                scope.spawn(move || {
                    let password = if i == 17 { "right" } else { "wrong" };
                    login(&mut http, "bob", password).unwrap().status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let answered = statuses.iter().filter(|&&s| s == 401 || s == 200).count();
    let throttled = statuses.iter().filter(|&&s| s == 429).count();
    assert!(answered <= 5, "{statuses:?}");
    assert_eq!(answered + throttled, 30, "{statuses:?}");
    Ok(())
}

const THROTTLE_ARGS: &[&str] = &[
    "--max-failures-per-user",
    "5",
    "--max-failures-per-address",
    "1000",
    "--hash-queue-timeout",
    "120",
];

fn throttle(db: &Db) -> Result<(), Error> {
    db.builder.admin(&["user", "add", "bob"], "right\n")?;
    let s = start(&db.builder, THROTTLE_ARGS)?;
    concurrent_wrong_passwords(std::slice::from_ref(&s))
}

/// A login that checked the password of a user removed (and added again) before
/// it finished leaves no session: its tokens are refused, and never carry the
/// new user's grants. The login waits in the hashing queue (one slot, taken by
/// other logins) while the CLI removes and re-adds the user.
fn login_racing_user_remove(db: &Db) -> Result<(), Error> {
    let cli = &db.builder;
    cli.admin(&["user", "add", "alice"], "old\n")?;
    cli.admin(&["user", "add", "carol"], "pw\n")?;
    let s = start(
        cli,
        &[
            "--hash-concurrency",
            "1",
            "--hash-queue-timeout",
            "120",
            "--max-failures-per-user",
            "50",
        ],
    )?;
    let http = client(&s);
    let (racing, removed) = std::thread::scope(|scope| -> Result<_, Error> {
        let queue: Vec<_> = (0..6)
            .map(|_| {
                let mut http = http.clone();
                scope.spawn(move || login(&mut http, "carol", "pw").map(|r| r.status))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let mut mine = http.clone();
        let racing = scope.spawn(move || login(&mut mine, "alice", "old"));
        std::thread::sleep(Duration::from_millis(50));
        cli.admin(&["user", "remove", "alice"], "")?;
        let removed = std::time::Instant::now();
        cli.admin(&["user", "add", "alice"], "new\n")?;
        cli.admin(&["user", "grant", "alice", "*", "*"], "")?;
        for q in queue {
            assert_eq!(q.join().unwrap()?, 200);
        }
        let racing = racing.join().unwrap()?;
        Ok((racing, removed))
    })?;
    let mut http = http;
    let (code, body) = parts(&racing)?;
    eprintln!(
        "the racing login answered {code} {:?} after the removal",
        removed.elapsed()
    );
    if code == 200 {
        let access = body["access_token"].as_str().unwrap();
        let refresh = body["refresh_token"].as_str().unwrap();
        assert_eq!(me(&mut http, access)?, (401, REVOKED.to_owned()));
        let (code, body) = parts(&post(&mut http, "/refresh", refresh)?)?;
        assert_eq!(code, 401, "an old refresh token got {body}");
    } else {
        assert_eq!(code, 401, "{body}");
    }
    // The new alice is whole.
    let (access, _) = tokens(&mut http, "alice", "new")?;
    let (_, body) = parts(&http.get("/me", Some(&access))?)?;
    assert_eq!(
        body["grants"],
        json!([{ "device": "*", "commands": ["*"] }])
    );
    Ok(())
}

/// Two instances on one database, the second without a revocation lease
/// (`--no-lease`: a counter read for every request) and kept busy by readers,
/// so that its counter reads are shared and one is nearly always under way:
/// each logout acknowledged by the first is refused by the second at the next
/// request, and by every reader that sends its request after the
/// acknowledgement.
fn logout_seen_by_a_busy_instance(db: &Db) -> Result<(), Error> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    const READERS: usize = 6;
    const LOGOUTS: usize = 12;
    let cli = &db.builder;
    cli.admin(&["user", "add", "alice"], "pw\n")?;
    let (a, b) = (start(cli, &[])?, start(cli, &["--no-lease"])?);
    let (mut on_a, mut on_b) = (client(&a), client(&b));
    let busy = tokens(&mut on_a, "alice", "pw")?.0;
    // The token about to be logged out, and whether its logout was acknowledged.
    let target: Mutex<(String, bool)> = Mutex::new((String::new(), false));
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<(), Error> {
        let readers: Vec<_> = (0..READERS)
            .map(|i| {
                let mut http = on_b.clone();
                let (busy, target, stop) = (&busy, &target, &stop);
                scope.spawn(move || -> Result<usize, Error> {
                    let mut checked = 0;
                    while !stop.load(Ordering::SeqCst) {
                        if i % 2 == 0 {
                            assert_eq!(me(&mut http, busy)?.0, 200);
                            continue;
                        }
                        let (token, acknowledged) = target.lock().unwrap().clone();
                        if token.is_empty() {
                            continue;
                        }
                        let (status, message) = me(&mut http, &token)?;
                        if acknowledged {
                            assert_eq!((status, message), (401, REVOKED.to_owned()));
                            checked += 1;
                        }
                    }
                    Ok(checked)
                })
            })
            .collect();
        for _ in 0..LOGOUTS {
            let access = tokens(&mut on_a, "alice", "pw")?.0;
            assert_eq!(me(&mut on_b, &access)?.0, 200);
            *target.lock().unwrap() = (access.clone(), false);
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(post(&mut on_a, "/logout", &access)?.status, 200);
            target.lock().unwrap().1 = true;
            assert_eq!(me(&mut on_b, &access)?, (401, REVOKED.to_owned()));
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::SeqCst);
        let mut checked = 0;
        for reader in readers {
            checked += reader.join().unwrap()?;
        }
        assert!(checked > 0, "no reader sent a request after a logout");
        Ok(())
    })
}

/// Sends `signal` (`-STOP`, `-CONT`) to the process `pid`.
fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {signal} {pid}");
}

/// An instance stopped (SIGSTOP) while it holds its revocation lease: a logout
/// on another instance waits until that lease has lapsed before it is
/// acknowledged, and the stopped instance, resumed, refuses the token at once.
/// With every instance running, a logout is acknowledged as soon as each has
/// applied it, well within the lease.
fn logout_while_an_instance_is_stopped(db: &Db) -> Result<(), Error> {
    use latchkey_server::lease::{LEASE, Timing};
    use std::time::Instant;
    let cli = &db.builder;
    cli.admin(&["user", "add", "alice"], "pw\n")?;
    let (a, b) = (start(cli, &[])?, start(cli, &[])?);
    let (mut on_a, mut on_b) = (client(&a), client(&b));
    let (doomed, kept) = (
        tokens(&mut on_a, "alice", "pw")?.0,
        tokens(&mut on_a, "alice", "pw")?.0,
    );
    // Served (and cached) by B under its lease.
    assert_eq!(me(&mut on_b, &doomed)?.0, 200);
    assert_eq!(me(&mut on_b, &kept)?.0, 200);
    signal(b.pid(), "-STOP");
    let before = Instant::now();
    let acknowledged = post(&mut on_a, "/logout", &doomed);
    let took = before.elapsed();
    signal(b.pid(), "-CONT");
    assert_eq!(acknowledged?.status, 200);
    assert!(
        took >= Timing::DEFAULT.hold,
        "the logout was acknowledged after {took:?}, while the stopped instance's lease could hold"
    );
    assert_eq!(me(&mut on_b, &doomed)?, (401, REVOKED.to_owned()));
    assert_eq!(me(&mut on_b, &kept)?.0, 200);
    // Both running: acknowledged once both applied it.
    let before = Instant::now();
    assert_eq!(post(&mut on_a, "/logout", &kept)?.status, 200);
    let took = before.elapsed();
    assert!(
        took < LEASE,
        "a logout with both instances running took {took:?}"
    );
    assert_eq!(me(&mut on_b, &kept)?, (401, REVOKED.to_owned()));
    Ok(())
}

macro_rules! on_both_stores {
    ($($scenario:ident: $sqlite:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $sqlite() -> Result<(), Error> {
            $scenario(&sqlite(stringify!($scenario))?)
        }

        #[test]
        fn $postgres() -> Result<(), Error> {
            match postgres(stringify!($postgres))? {
                Some(db) => $scenario(&db),
                None => Ok(()),
            }
        }
    )*};
}

/// The header of a compact JWS, as JSON.
fn header(token: &str) -> serde_json::Value {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let part = token.split('.').next().unwrap_or_default();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap_or_default())
        .unwrap_or_default()
}

/// Two running instances on one database: a session key rotated by the CLI signs
/// on both at their next login (EdDSA, published in the JWK Set), the old key's
/// tokens still verify everywhere until it is retired, and once the CLI retires it
/// both refuse them at the next request; a retired command key leaves the JWK Set.
fn key_rings_shared_by_running_instances(db: &Db) -> Result<(), Error> {
    let cli = &db.builder;
    cli.admin(&["user", "add", "alice"], "pw\n")?;
    // The first start imports the new key file's rings into the store.
    let servers = [start(cli, &[])?, start(cli, &[])?];
    let mut http: Vec<Client> = servers.iter().map(client).collect();
    let (old_access, _) = tokens(&mut http[0], "alice", "pw")?;
    let old_kid = header(&old_access)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(header(&old_access)["alg"], "HS256");

    let new_kid = cli.admin(
        &["keys", "rotate", "--ring", "session", "--alg", "EdDSA"],
        "",
    )?;
    let new_kid = new_kid.trim();
    for h in &mut http {
        let (access, _) = tokens(h, "alice", "pw")?;
        let hdr = header(&access);
        assert_eq!(
            (hdr["alg"].as_str(), hdr["kid"].as_str()),
            (Some("EdDSA"), Some(new_kid))
        );
        assert_eq!(me(h, &access)?.0, 200);
        // The old key's token still verifies until the key is retired.
        assert_eq!(me(h, &old_access)?.0, 200);
        let jwks = h.get("/.well-known/jwks.json", None)?.json()?;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(kids.contains(&new_kid), "{jwks}");
    }

    cli.admin(&["keys", "retire", "--ring", "session", &old_kid], "")?;
    for h in &mut http {
        let (status, message) = me(h, &old_access)?;
        assert_eq!(status, 401, "{message}");
    }
    // A command key retired by the CLI leaves both instances' JWK Sets.
    let spare = cli.admin(
        &["keys", "rotate", "--ring", "command", "--alg", "EdDSA"],
        "",
    )?;
    cli.admin(&["keys", "retire", "--ring", "command", spare.trim()], "")?;
    for h in &mut http {
        let jwks = h.get("/.well-known/jwks.json", None)?.text();
        assert!(!jwks.contains(spare.trim()), "{jwks}");
    }
    Ok(())
}

on_both_stores! {
    api: api_on_sqlite, api_on_postgres;
    key_rings_shared_by_running_instances: key_rings_on_sqlite, key_rings_on_postgres;
    throttle: throttle_on_sqlite, throttle_on_postgres;
    login_racing_user_remove: login_racing_user_remove_on_sqlite, login_racing_user_remove_on_postgres;
    logout_seen_by_a_busy_instance: logout_seen_by_a_busy_instance_on_sqlite, logout_seen_by_a_busy_instance_on_postgres;
    logout_while_an_instance_is_stopped: logout_while_an_instance_is_stopped_on_sqlite, logout_while_an_instance_is_stopped_on_postgres;
}

/// Three server processes on one PostgreSQL database: a logout acknowledged by
/// any of them is refused by all three for every later request, refresh-token
/// reuse is detected across them, logins are throttled across them, and a
/// logout acknowledged by an instance that is then killed (-9) mid-burst is not
/// lost.
#[test]
fn three_instances_on_one_postgres_database() -> Result<(), Error> {
    let Some(db) = postgres("three_instances_on_one_postgres_database")? else {
        return Ok(());
    };
    let cli = &db.builder;
    cli.admin(&["user", "add", "alice"], "pw\n")?;
    cli.admin(&["user", "grant", "alice", "*", "*"], "")?;
    cli.admin(&["user", "add", "bob"], "right\n")?;
    // One after the other: the first creates the key file the others load.
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(start(cli, THROTTLE_ARGS)?);
    }
    let mut http: Vec<Client> = servers.iter().map(client).collect();

    // Logins spread over the instances; every token works on every instance.
    let mut sessions = Vec::new();
    for i in 0..6 {
        sessions.push(tokens(&mut http[i % 3], "alice", "pw")?);
    }
    for (access, _) in &sessions {
        for h in &mut http {
            assert_eq!(me(h, access)?.0, 200);
        }
    }
    // Each logout on another instance than the login; then all three refuse the
    // token and its refresh token, and still take the others.
    for (i, (access, refresh)) in sessions.iter().enumerate().take(3) {
        assert_eq!(post(&mut http[(i + 1) % 3], "/logout", access)?.status, 200);
        for h in &mut http {
            assert_eq!(me(h, access)?, (401, REVOKED.to_owned()));
            assert_eq!(post(h, "/refresh", refresh)?.status, 401);
        }
    }
    for (access, _) in &sessions[3..] {
        for h in &mut http {
            assert_eq!(me(h, access)?.0, 200);
        }
    }

    // Reuse across instances: rotated on one, replayed on another.
    let (access, first) = tokens(&mut http[0], "alice", "pw")?;
    let (code, body) = parts(&post(&mut http[1], "/refresh", &first)?)?;
    assert_eq!(code, 200, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    let (code, body) = parts(&post(&mut http[2], "/refresh", &first)?)?;
    assert_eq!(
        (code, body["message"].as_str()),
        (401, Some("token rejected: refresh-reused"))
    );
    assert_eq!(post(&mut http[0], "/refresh", &second)?.status, 401);
    for h in &mut http {
        assert_eq!(me(h, &access)?, (401, REVOKED.to_owned()));
    }

    // Throttling counted across instances.
    concurrent_wrong_passwords(&servers)?;

    // A burst of logouts spread over the three; the third instance is killed
    // (-9) in the middle of it. Every logout that was acknowledged holds on the
    // two that are left.
    let mut burst = Vec::new();
    for i in 0..24 {
        burst.push(tokens(&mut http[i % 3], "alice", "pw")?.0);
    }
    let burst = Arc::new(burst);
    let victim = servers[2].pid();
    let acknowledged: Vec<(usize, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..burst.len())
            .map(|i| {
                let mut h = http[i % 3].clone();
                let burst = Arc::clone(&burst);
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_millis(5 * i as u64));
                    let acked = post(&mut h, "/logout", &burst[i]).is_ok_and(|r| r.status == 200);
                    (i, acked)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        signal(victim, "-KILL");
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(servers[2].check_running().is_err(), "the victim still runs");
    let acked: Vec<usize> = acknowledged
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(i, _)| *i)
        .collect();
    let lost_with_the_victim = acknowledged.len() - acked.len();
    eprintln!(
        "{} logouts acknowledged, {lost_with_the_victim} unanswered (killed instance)",
        acked.len()
    );
    assert!(
        acked.len() >= 16,
        "the survivors answered theirs: {acknowledged:?}"
    );
    for i in acked {
        for h in &mut http[..2] {
            assert_eq!(me(h, &burst[i])?, (401, REVOKED.to_owned()), "token {i}");
        }
    }
    Ok(())
}
