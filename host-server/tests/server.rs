//! The real binary: `serve` on port 0 against a real SQLite file, the CLI that
//! manages it, persistence across a restart, concurrency, and the device bridge.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey-server");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a CLI command in `dir` with `stdin`, returning (exit code, stdout, stderr).
fn cli(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("LATCHKEY_KEYS_JSON")
        .env_remove("LATCHKEY_DEV_KEYS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn cli_ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = cli(dir, args, stdin);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--log", "warn"])
            .args(extra)
            .current_dir(dir)
            .env_remove("LATCHKEY_KEYS_JSON")
            .env_remove("LATCHKEY_DEV_KEYS")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not print its address");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        request(self.addr, method, path, token, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(150)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn login(s: &Server, user: &str, password: &str) -> (u16, Value) {
    s.request(
        "POST",
        "/login",
        None,
        Some(&json!({ "username": user, "password": password })),
    )
}

#[test]
fn persistence_across_restart() {
    let dir = temp_dir("restart");
    cli_ok(&dir, &["user", "add", "alice"], "correct horse\n");
    cli_ok(
        &dir,
        &["user", "grant", "alice", "door-*", "open", "status"],
        "",
    );
    cli_ok(
        &dir,
        &["device", "add", "door-1", "--description", "front"],
        "",
    );
    let key_file = dir.join("latchkey-keys.json");

    let (access, refresh_old, refresh_new, family2_refresh);
    {
        let s = Server::start(&dir, &[]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "key file must be private");
        }
        let (code, body) = login(&s, "alice", "correct horse");
        assert_eq!(code, 200, "{body}");
        access = body["access_token"].as_str().unwrap().to_owned();
        refresh_old = body["refresh_token"].as_str().unwrap().to_owned();
        let (code, body) = s.request("POST", "/refresh", Some(&refresh_old), None);
        assert_eq!(code, 200, "{body}");
        refresh_new = body["refresh_token"].as_str().unwrap().to_owned();
        let (code, body) = login(&s, "alice", "correct horse");
        assert_eq!(code, 200);
        family2_refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (code, _) = s.request("POST", "/logout", Some(&access), None);
        assert_eq!(code, 200);
        assert_eq!(s.request("GET", "/me", Some(&access), None).0, 401);
    }
    let s = Server::start(&dir, &[]);
    // The user, the grants, the revocation and the rotation all survived.
    let (code, body) = s.request("GET", "/me", Some(&access), None);
    assert_eq!(
        (code, &body["message"]),
        (401, &json!("token rejected: revoked"))
    );
    let (code, body) = s.request("POST", "/refresh", Some(&refresh_new), None);
    assert_eq!(
        (code, &body["message"]),
        (401, &json!("token rejected: revoked")),
        "logged-out family"
    );
    let (code, body) = s.request("POST", "/refresh", Some(&family2_refresh), None);
    assert_eq!(code, 200, "other family still rotates: {body}");
    let (code, body) = s.request("POST", "/refresh", Some(&family2_refresh), None);
    assert_eq!(
        (code, &body["message"]),
        (401, &json!("token rejected: refresh-reused"))
    );
    let (code, body) = login(&s, "alice", "correct horse");
    assert_eq!(code, 200);
    let fresh = body["access_token"].as_str().unwrap();
    let (code, me) = s.request("GET", "/me", Some(fresh), None);
    assert_eq!(code, 200);
    assert_eq!(
        me["grants"],
        json!([{ "device": "door-*", "commands": ["open", "status"] }])
    );
    let _ = refresh_old;
}

#[test]
fn concurrent_logins_and_a_revocation_seen_by_every_request() {
    let dir = temp_dir("concurrent");
    cli_ok(&dir, &["user", "add", "alice"], "pw\n");
    // Debug builds hash slowly (about 1 s of CPU each): let logins queue.
    let s = Server::start(&dir, &["--dev-keys", "--hash-queue-timeout", "120"]);
    let addr = s.addr;
    let threads: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let (code, body) = request(
                    addr,
                    "POST",
                    "/login",
                    None,
                    Some(&json!({ "username": "alice", "password": "pw" })),
                );
                assert_eq!(code, 200, "{body}");
                body["access_token"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let tokens: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut unique = tokens.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tokens.len());
    let victim = tokens[0].clone();
    assert_eq!(s.request("GET", "/me", Some(&victim), None).0, 200);
    assert_eq!(s.request("POST", "/logout", Some(&victim), None).0, 200);
    let checks: Vec<_> = (0..16)
        .map(|i| {
            let (victim, other) = (victim.clone(), tokens[1 + i % 5].clone());
            std::thread::spawn(move || {
                (
                    request(addr, "GET", "/me", Some(&victim), None).0,
                    request(addr, "GET", "/me", Some(&other), None).0,
                )
            })
        })
        .collect();
    for c in checks {
        assert_eq!(c.join().unwrap(), (401, 200));
    }
}

#[test]
fn device_bridge_delivers_and_reports_unreachable() {
    let dir = temp_dir("bridge");
    cli_ok(&dir, &["user", "add", "alice"], "pw\n");
    cli_ok(&dir, &["user", "grant", "alice", "*", "*"], "");
    cli_ok(&dir, &["--dev-keys", "device", "add", "door-1"], "");
    cli_ok(&dir, &["device", "add", "door-2"], "");
    let device_key = cli_ok(&dir, &["--dev-keys", "device", "key", "door-1"], "");
    assert_eq!(device_key.trim().len(), 64);

    // A stand-in device: verifies nothing, echoes the command and token back.
    let uart = TcpListener::bind("127.0.0.1:0").unwrap();
    let uart_addr = uart.local_addr().unwrap();
    let device = std::thread::spawn(move || {
        let (stream, _) = uart.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut lines = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let fields: Vec<&str> = line.trim_end().split(' ').collect();
            writeln!(writer, "OK {}", fields[..fields.len() - 1].join(" ")).unwrap();
            lines.push(line);
        }
        lines
    });
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Server::start(
        &dir,
        &[
            "--dev-keys",
            "--device",
            &format!("door-1=tcp://{uart_addr}"),
            "--device",
            &format!("door-2=tcp://{closed}"),
        ],
    );
    let access = login(&s, "alice", "pw").1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, body) = s.request(
        "POST",
        "/devices/door-1/commands",
        Some(&access),
        Some(&json!({ "command": "open" })),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["device_verdict"], "OK open");
    let token = body["token"].as_str().unwrap().to_owned();
    let (code, body) = s.request(
        "POST",
        "/devices/door-1/commands",
        Some(&access),
        Some(&json!({ "command": "led", "args": [42] })),
    );
    assert_eq!((code, &body["device_verdict"]), (200, &json!("OK led 42")));
    let lines = device.join().unwrap();
    assert_eq!(lines[0], format!("open {token}\n"));

    // The delivered token verifies offline with the provisioned key.
    let (code, out, err) = cli(
        &dir,
        &[
            "token",
            "verify",
            "--alg",
            "HS256",
            "--key-hex",
            device_key.trim(),
            "--aud",
            "door-1",
            "--require",
            "exp,jti",
            "-",
        ],
        &format!("{token}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["scope"].as_str()),
        (Some("alice"), Some("open"))
    );

    let (code, body) = s.request(
        "POST",
        "/devices/door-2/commands",
        Some(&access),
        Some(&json!({ "command": "open" })),
    );
    assert_eq!(
        (code, body["error"].as_str()),
        (503, Some("device-unreachable"))
    );
}

#[test]
fn cli_errors_and_lists() {
    let dir = temp_dir("cli");
    let (code, _, err) = cli(&dir, &["user", "add", "alice"], "");
    assert_eq!(code, 1);
    assert!(err.contains("empty password"), "{err}");
    cli_ok(&dir, &["user", "add", "alice"], "pw\n");
    let (code, _, err) = cli(&dir, &["user", "add", "alice"], "pw\n");
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = cli(&dir, &["user", "grant", "alice", "door-1", "explode"], "");
    assert_eq!(code, 1);
    assert!(err.contains("unknown command"), "{err}");
    cli_ok(&dir, &["user", "grant", "alice", "door-1", "open"], "");
    assert_eq!(cli_ok(&dir, &["user", "list"], ""), "alice\tdoor-1:open\n");
    cli_ok(&dir, &["user", "revoke", "alice", "door-1"], "");
    assert_eq!(cli_ok(&dir, &["user", "list"], ""), "alice\t\n");
    cli_ok(
        &dir,
        &["device", "add", "gate", "--description", "back gate"],
        "",
    );
    assert_eq!(cli_ok(&dir, &["device", "list"], ""), "gate\tback gate\n");
    cli_ok(&dir, &["user", "remove", "alice"], "");
    assert_eq!(cli_ok(&dir, &["user", "list"], ""), "");
    // A key file with a short key is refused with a clear message.
    let bad = dir.join("bad-keys.json");
    std::fs::write(
        &bad,
        r#"{"master_secret":"0011","signing_keys":[{"kid":"a","secret":"00"}]}"#,
    )
    .unwrap();
    let (code, _, err) = cli(
        &dir,
        &["--keys", bad.to_str().unwrap(), "device", "key", "gate"],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("at least 32 are required"), "{err}");
}

/// The server caches sessions; another process writing the same database (here
/// the CLI) must still be seen by the very next request.
#[test]
fn changes_made_by_the_cli_are_seen_by_the_running_server_at_once() {
    let dir = temp_dir("cli-live");
    cli_ok(&dir, &["user", "add", "alice"], "pw\n");
    cli_ok(&dir, &["user", "grant", "alice", "door-1", "open"], "");
    let s = Server::start(&dir, &["--dev-keys"]);
    let (code, body) = login(&s, "alice", "pw");
    assert_eq!(code, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (code, me) = s.request("GET", "/me", Some(&access), None);
        assert_eq!(code, 200);
        assert_eq!(
            me["grants"],
            json!([{ "device": "door-1", "commands": ["open"] }])
        );
    }
    cli_ok(&dir, &["user", "grant", "alice", "door-1", "close"], "");
    let (_, me) = s.request("GET", "/me", Some(&access), None);
    assert_eq!(
        me["grants"],
        json!([{ "device": "door-1", "commands": ["close", "open"] }])
    );
    cli_ok(&dir, &["user", "remove", "alice"], "");
    let (code, body) = s.request("GET", "/me", Some(&access), None);
    assert_eq!(
        (code, &body["message"]),
        (401, &json!("token rejected: revoked"))
    );
}

/// SIGTERM: a request in flight still gets its answer, idle keep-alive
/// connections are closed, and the process exits 0.
#[cfg(unix)]
#[test]
fn sigterm_lets_requests_in_flight_finish_and_exits_cleanly() {
    let dir = temp_dir("sigterm");
    cli_ok(&dir, &["user", "add", "alice"], "pw\n");
    let mut s = Server::start(&dir, &["--dev-keys"]);

    let mut idle = TcpStream::connect(s.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 512];
    let n = idle.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));

    // A login whose body is still arriving when the signal comes: in flight.
    let body = json!({ "username": "alice", "password": "pw" }).to_string();
    let (first, second) = body.split_at(10);
    let mut busy = TcpStream::connect(s.addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        busy,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", s.child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(200));
    busy.write_all(second.as_bytes()).unwrap();
    let mut answer = String::new();
    busy.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"access_token\""), "{answer}");
    // The idle connection is closed by the server, not left hanging.
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = s.child.try_wait().unwrap() {
            break exit;
        }
        assert!(std::time::Instant::now() < deadline, "server still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0));
}

/// One answer read off a connection: status, header fields (names lowercased),
/// body. `head_only`: the answer to HEAD (no body follows, whatever its length).
fn read_answer(
    r: &mut BufReader<TcpStream>,
    head_only: bool,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut status_line = String::new();
    r.read_line(&mut status_line).unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {status_line:?}"))
        .parse()
        .unwrap();
    let mut fields = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end_matches("\r\n");
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(": ").unwrap();
        fields.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    let length: usize = fields
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; if head_only { 0 } else { length }];
    r.read_exact(&mut body).unwrap();
    (status, fields, body)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the server closes `stream` (EOF) within `within`, reading nothing else.
fn closed_within(stream: &mut impl Read, within: Duration) -> bool {
    let start = std::time::Instant::now();
    let mut rest = Vec::new();
    let eof = stream.read_to_end(&mut rest).is_ok();
    eof && rest.is_empty() && start.elapsed() < within
}

/// HTTP/1.1 on a real socket: pipelined requests answered in order, HEAD,
/// chunked bodies, `Expect: 100-continue`, HTTP/1.0, and an idle connection
/// closed after `--request-timeout`.
#[test]
fn keep_alive_pipelining_chunked_and_continue() {
    let dir = temp_dir("framing");
    cli_ok(&dir, &["user", "add", "alice"], "pw\n");
    let s = Server::start(&dir, &["--dev-keys", "--request-timeout", "2"]);
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());

    // Two requests in one write: two answers, in order; HEAD has GET's length.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, fields, body) = read_answer(&mut reader, false);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["status"],
        "ok"
    );
    assert_eq!(field(&fields, "content-type"), Some("application/json"));
    assert!(field(&fields, "date").is_some_and(|d| d.ends_with(" GMT")));
    let (status, fields, _) = read_answer(&mut reader, true);
    assert_eq!(status, 200);
    assert_eq!(
        field(&fields, "content-length"),
        Some(body.len().to_string().as_str())
    );

    // A chunked login body, in three chunks with an extension and a trailer.
    let login = json!({ "username": "alice", "password": "pw" }).to_string();
    let (a, rest) = login.split_at(5);
    let (b, c) = rest.split_at(7);
    write!(
        stream,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};note=1\r\n{b}\r\n{:x}\r\n{c}\r\n0\r\nX-T: 1\r\n\r\n",
        a.len(),
        b.len(),
        c.len()
    )
    .unwrap();
    let (status, _, body) = read_answer(&mut reader, false);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let access = serde_json::from_slice::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Expect: 100-continue: the server asks for the body before it is sent.
    write!(
        stream,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        login.len()
    )
    .unwrap();
    let mut interim = String::new();
    reader.read_line(&mut interim).unwrap();
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    stream.write_all(login.as_bytes()).unwrap();
    assert_eq!(read_answer(&mut reader, false).0, 200);

    // The same connection still answers a token check.
    write!(
        stream,
        "GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {access}\r\n\r\n"
    )
    .unwrap();
    let (status, _, body) = read_answer(&mut reader, false);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["username"],
        "alice"
    );

    // Idle past --request-timeout: the server closes the connection.
    assert!(closed_within(&mut reader, Duration::from_secs(20)));

    // HTTP/1.0 asking for keep-alive gets it, said so; without, one answer,
    // marked, then the end.
    let mut old = TcpStream::connect(s.addr).unwrap();
    old.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut reader = BufReader::new(old.try_clone().unwrap());
    old.write_all(b"GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        .unwrap();
    let (status, fields, _) = read_answer(&mut reader, false);
    assert_eq!(
        (status, field(&fields, "connection")),
        (200, Some("keep-alive"))
    );
    old.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let (status, fields, _) = read_answer(&mut reader, false);
    assert_eq!((status, field(&fields, "connection")), (200, Some("close")));
    assert!(closed_within(&mut reader, Duration::from_secs(20)));
}

/// Requests that cannot be framed get an answer the client can read, then the
/// connection ends; a client that stops halfway is cut off at the time limit.
#[test]
fn unframeable_requests_are_answered_then_closed() {
    let dir = temp_dir("refused");
    let s = Server::start(&dir, &["--dev-keys", "--request-timeout", "2"]);
    let exchange = |bytes: &[u8]| {
        let mut stream = TcpStream::connect(s.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        // The client may still be writing when the server answers and closes.
        let _ = stream.write_all(bytes);
        let mut reader = BufReader::new(stream);
        let (status, fields, body) = read_answer(&mut reader, false);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(field(&fields, "connection"), Some("close"));
        assert!(closed_within(&mut reader, Duration::from_secs(20)));
        (status, body["error"].as_str().unwrap().to_owned())
    };
    // A body announced far over the limit: refused before it is sent.
    assert_eq!(
        exchange(b"POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n"),
        (413, "body-too-large".to_owned())
    );
    // ... and while 100 KiB of it is on its way.
    let mut big = b"POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n".to_vec();
    big.resize(big.len() + 100 * 1024, b'x');
    assert_eq!(exchange(&big), (413, "body-too-large".to_owned()));
    assert_eq!(
        exchange(
            b"GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        (400, "malformed".to_owned())
    );
    assert_eq!(
        exchange(b"POST /login HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
        (501, "not-implemented".to_owned())
    );
    assert_eq!(
        exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
        (400, "malformed".to_owned())
    );
    let mut long = b"GET /healthz HTTP/1.1\r\nX-Long: ".to_vec();
    long.resize(long.len() + 20 * 1024, b'a');
    assert_eq!(exchange(&long), (431, "headers-too-large".to_owned()));

    // Half a head, then silence: cut off after --request-timeout, no answer.
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost:").unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(20)));
    // The server is fine afterwards.
    assert_eq!(s.request("GET", "/healthz", None, None).0, 200);
}
