//! The driver behind `cargo xtask bench-server`: starts the server on a free loopback
//! port with a fresh SQLite file and the demo user, then loads it with `wrk`, and the
//! Flask reference peer too when given, scenario by scenario, both servers one after
//! the other, so that the ratios compare like with like on a shared machine.
//!
//! Usage: `latchkey-bench --server BIN --wrk BIN --state-dir DIR [--duration SECS]
//! [--flask HOST:PORT]`
//!
//! Scenarios: GET /me with a valid access token (Flask: GET /protected), the same with
//! a forged token (header and payload intact, signature changed), POST /login, GET /me
//! while a second wrk floods POST /login, and (latchkey only) command-token issue.
//! Prints each run, then a Markdown table with the ratios and the targets.
//! Exits 1 when a run saw socket errors or unexpected statuses (the figures would then
//! measure something else), not when a target is missed.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use latchkey_e2e::http::Client;
use latchkey_e2e::scenario::{self, DEVICE, PASSWORD, USER};
use latchkey_e2e::wrk::{self, Report, Wrk};
use latchkey_e2e::{Error, Server};
use serde_json::json;

const USAGE: &str = "usage: latchkey-bench --server BIN --wrk BIN --state-dir DIR \
                     [--duration SECS] [--flask HOST:PORT]";
const MAX_DURATION: u64 = 60;
/// Pause between runs, so that a server finishes the logins still queued from the
/// previous run before the next one starts.
const SETTLE: Duration = Duration::from_secs(2);
/// The login flood starts this long before the measured GET /me run and ends this long
/// after it.
const FLOOD_MARGIN: Duration = Duration::from_secs(1);
/// The targets.
const TARGET_RATIO: f64 = 30.0;
const TARGET_FLOOD_P99: Duration = Duration::from_millis(10);
const JSON_TYPE: (&str, &str) = ("Content-Type", "application/json");
/// The reference peer's user (shared/reference/README.md).
const FLASK_USER: (&str, &str) = ("alice", "correct horse battery staple");

struct Options {
    server: PathBuf,
    wrk: PathBuf,
    state_dir: PathBuf,
    duration: Duration,
    flask: Option<SocketAddr>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (mut server, mut wrk, mut state_dir) = (None, None, None);
    let mut options = Options {
        server: PathBuf::new(),
        wrk: PathBuf::new(),
        state_dir: PathBuf::new(),
        duration: Duration::from_secs(10),
        flask: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = iter.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--server" => server = Some(PathBuf::from(value)),
            "--wrk" => wrk = Some(PathBuf::from(value)),
            "--state-dir" => state_dir = Some(PathBuf::from(value)),
            "--duration" => {
                let secs = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=MAX_DURATION).contains(s))
                    .ok_or(format!(
                        "--duration: `{value}` is not a number of seconds in 1..={MAX_DURATION}"
                    ))?;
                options.duration = Duration::from_secs(secs);
            }
            "--flask" => {
                let addr: SocketAddr = value
                    .parse()
                    .map_err(|_| format!("--flask: `{value}` is not HOST:PORT"))?;
                if !addr.ip().is_loopback() {
                    return Err("--flask must be a loopback address".into());
                }
                options.flask = Some(addr);
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    options.server = server.ok_or("--server is required")?;
    options.wrk = wrk.ok_or("--wrk is required")?;
    options.state_dir = state_dir.ok_or("--state-dir is required")?;
    Ok(options)
}

/// What is measured, in the order it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Valid,
    Forged,
    Login,
    /// GET /me measured while [`Scenario::Flood`] runs in the background.
    UnderFlood,
    Flood,
    Command,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::Valid => "GET /me, valid token (Flask: GET /protected)",
            Scenario::Forged => "GET /me, forged signature (Flask: GET /protected)",
            Scenario::Login => "POST /login",
            Scenario::UnderFlood => "GET /me during a login flood (Flask: GET /protected)",
            Scenario::Flood => "the login flood itself (background POST /login)",
            Scenario::Command => "POST /devices/dev-1/commands (command token)",
        }
    }

    /// A forged token must be refused every time; everything else must succeed.
    fn expects_rejection(self) -> bool {
        self == Scenario::Forged
    }
}

/// One server under load and the scripts for it.
struct Peer {
    name: &'static str,
    addr: SocketAddr,
    /// The route that checks an access token.
    protected: &'static str,
    valid: PathBuf,
    forged: PathBuf,
    login: PathBuf,
    /// The access token in `valid`.
    access: String,
}

impl Peer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// One wrk run's outcome.
struct Run {
    scenario: Scenario,
    peer: &'static str,
    report: Report,
}

impl Run {
    /// Whether the answers were the expected kind (and there were some).
    fn as_expected(&self) -> bool {
        let r = &self.report;
        let statuses = if self.scenario.expects_rejection() {
            r.non_2xx == r.requests
        } else {
            r.non_2xx == 0
        };
        r.requests > 0 && r.socket_errors == 0 && statuses
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rate(r: &Report) -> String {
    if r.requests_per_sec < 100.0 {
        format!("{:.1}", r.requests_per_sec)
    } else {
        format!("{:.0}", r.requests_per_sec)
    }
}

fn describe(run: &Run) -> String {
    let r = &run.report;
    format!(
        "{:<8} {:<55} {:>8} req/s  p50 {:>9}  p99 {:>9}  ({} responses in {:.2} s, {} non-2xx, {} socket errors) {}",
        run.peer,
        run.scenario.label(),
        rate(r),
        ms(r.p50),
        ms(r.p99),
        r.requests,
        r.elapsed.as_secs_f64(),
        r.non_2xx,
        r.socket_errors,
        if run.as_expected() {
            "as expected"
        } else if run.scenario.expects_rejection() {
            "UNEXPECTED: some forged tokens were accepted, or errors"
        } else {
            "UNEXPECTED: error statuses or socket errors"
        }
    )
}

fn find<'a>(runs: &'a [Run], scenario: Scenario, peer: &str) -> Option<&'a Report> {
    runs.iter()
        .find(|r| r.scenario == scenario && r.peer == peer)
        .map(|r| &r.report)
}

/// The Markdown table: one row per scenario, latchkey and Flask side by side, the
/// req/s ratio for the three scenarios the issue compares.
fn table(runs: &[Run]) -> String {
    let mut out = String::from(
        "| scenario | latchkey req/s | p50 | p99 | Flask req/s | p50 | p99 | latchkey/Flask req/s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cells = |r: Option<&Report>| match r {
        Some(r) => format!("{} | {} | {}", rate(r), ms(r.p50), ms(r.p99)),
        None => "n/a | n/a | n/a".to_string(),
    };
    for scenario in [
        Scenario::Valid,
        Scenario::Forged,
        Scenario::Login,
        Scenario::UnderFlood,
        Scenario::Flood,
        Scenario::Command,
    ] {
        let ours = find(runs, scenario, "latchkey");
        let theirs = find(runs, scenario, "Flask");
        if ours.is_none() && theirs.is_none() {
            continue;
        }
        let compared = matches!(
            scenario,
            Scenario::Valid | Scenario::Forged | Scenario::Login
        );
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) if compared && b.requests_per_sec > 0.0 => {
                format!("{:.1}x", a.requests_per_sec / b.requests_per_sec)
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} |",
            scenario.label(),
            cells(ours),
            cells(theirs)
        );
    }
    out
}

/// The two targets, each met or missed, with the figure.
fn targets(runs: &[Run]) -> Vec<String> {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let ratio = match (
        find(runs, Scenario::Valid, "latchkey"),
        find(runs, Scenario::Valid, "Flask"),
    ) {
        (Some(a), Some(b)) if b.requests_per_sec > 0.0 => {
            let ratio = a.requests_per_sec / b.requests_per_sec;
            format!(
                "{}: {ratio:.1}x ({} vs {} req/s)",
                verdict(ratio >= TARGET_RATIO),
                rate(a),
                rate(b)
            )
        }
        _ => "not measured (no Flask run)".to_string(),
    };
    let p99 = match find(runs, Scenario::UnderFlood, "latchkey") {
        Some(r) => format!("{}: p99 {}", verdict(r.p99 < TARGET_FLOOD_P99), ms(r.p99)),
        None => "not measured".to_string(),
    };
    vec![
        format!("GET /me >= {TARGET_RATIO:.0}x Flask's GET /protected requests/s: {ratio}"),
        format!(
            "GET /me p99 < {} during a login flood: {p99}",
            ms(TARGET_FLOOD_P99)
        ),
    ]
}

/// `/proc/loadavg`'s three averages, or `unknown`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The access token from a `/login` answer (both servers use `access_token`).
fn login(addr: SocketAddr, user: &str, password: &str) -> Result<String, Error> {
    let mut client = Client::new(addr);
    client.set_timeout(Duration::from_secs(60));
    let (response, token) = scenario::login(&mut client, user, password)?;
    token.ok_or_else(|| {
        Error::Protocol(format!(
            "login at {addr} failed: {} {}",
            response.status,
            response.text()
        ))
    })
}

fn write(path: &Path, text: &str) -> Result<PathBuf, Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    })?;
    Ok(path.to_path_buf())
}

fn bearer_script(dir: &Path, name: &str, token: &str) -> Result<PathBuf, Error> {
    let auth = format!("Bearer {token}");
    write(
        &dir.join(name),
        &wrk::script("GET", &[("Authorization", &auth)], None),
    )
}

/// A peer logged in as `user`: its scripts (a valid and a forged token, the login
/// body) written to `dir`.
fn peer(
    dir: &Path,
    name: &'static str,
    addr: SocketAddr,
    protected: &'static str,
    (user, password): (&str, &str),
) -> Result<Peer, Error> {
    let token = login(addr, user, password)?;
    let prefix = name.to_ascii_lowercase();
    let credentials = json!({ "username": user, "password": password }).to_string();
    Ok(Peer {
        name,
        addr,
        protected,
        valid: bearer_script(dir, &format!("{prefix}-valid.lua"), &token)?,
        forged: bearer_script(
            dir,
            &format!("{prefix}-forged.lua"),
            &scenario::tamper(&token),
        )?,
        login: write(
            &dir.join(format!("{prefix}-login.lua")),
            &wrk::script("POST", &[JSON_TYPE], Some(&credentials)),
        )?,
        access: token,
    })
}

/// Runs `scenario` against `peer` (for [`Scenario::UnderFlood`], also the flood) and
/// prints each run as it ends.
fn measure(
    wrk: &Wrk,
    peer: &Peer,
    scenario: Scenario,
    command_script: &Path,
    duration: Duration,
) -> Result<Vec<Run>, Error> {
    let record = |scenario, report| {
        let run = Run {
            scenario,
            peer: peer.name,
            report,
        };
        println!("{}", describe(&run));
        run
    };
    let protected = peer.url(peer.protected);
    let (url, script) = match scenario {
        Scenario::Valid | Scenario::UnderFlood => (protected, peer.valid.as_path()),
        Scenario::Forged => (protected, peer.forged.as_path()),
        Scenario::Login | Scenario::Flood => (peer.url("/login"), peer.login.as_path()),
        Scenario::Command => (
            peer.url(&format!("/devices/{DEVICE}/commands")),
            command_script,
        ),
    };
    let start = |url: &str, script: &Path, duration| {
        let running = wrk.start(url, script, duration)?;
        println!("$ {}", running.command_line());
        Ok::<_, Error>(running)
    };
    if scenario != Scenario::UnderFlood {
        let report = start(&url, script, duration)?.finish()?;
        return Ok(vec![record(scenario, report)]);
    }
    let flood = start(
        &peer.url("/login"),
        &peer.login,
        duration + 2 * FLOOD_MARGIN,
    )?;
    std::thread::sleep(FLOOD_MARGIN);
    let measured = start(&url, script, duration)?.finish()?;
    let flooded = flood.finish()?;
    Ok(vec![
        record(Scenario::UnderFlood, measured),
        record(Scenario::Flood, flooded),
    ])
}

/// A fresh database in the state dir: the files of an earlier run are removed.
fn fresh_db(dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    let db = dir.join("latchkey.db");
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.join(format!("latchkey.db{suffix}"));
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Io {
                    what: format!("removing {}", file.display()),
                    source: e,
                });
            }
            _ => {}
        }
    }
    Ok(db)
}

fn run(options: &Options) -> Result<bool, Error> {
    let dir = &options.state_dir;
    let builder = scenario::server(&options.server, &fresh_db(dir)?);
    scenario::provision(&builder)?;
    let mut server: Server = builder.start()?;
    let wrk = Wrk::new(&options.wrk);
    let load_before = load_average();
    println!(
        "bench: latchkey-server {} on {}; Flask reference {}; wrk -t{} -c{}, {} s per run; \
         load average {load_before}",
        options.server.display(),
        server.addr(),
        options
            .flask
            .map_or("not measured".to_string(), |a| format!("on {a}")),
        wrk::THREADS,
        wrk::CONNECTIONS,
        options.duration.as_secs(),
    );

    let ours = peer(dir, "latchkey", server.addr(), "/me", (USER, PASSWORD))?;
    let auth = format!("Bearer {}", ours.access);
    let mut peers = vec![ours];
    if let Some(flask) = options.flask {
        peers.push(peer(dir, "Flask", flask, "/protected", FLASK_USER)?);
    }
    let command_script = write(
        &dir.join("command.lua"),
        &wrk::script(
            "POST",
            &[("Authorization", &auth), JSON_TYPE],
            Some(&json!({ "command": "status" }).to_string()),
        ),
    )?;

    let mut runs = Vec::new();
    for scenario in [
        Scenario::Valid,
        Scenario::Forged,
        Scenario::Login,
        Scenario::UnderFlood,
        Scenario::Command,
    ] {
        for peer in &peers {
            if scenario == Scenario::Command && peer.name != "latchkey" {
                continue;
            }
            std::thread::sleep(SETTLE);
            runs.extend(measure(
                &wrk,
                peer,
                scenario,
                &command_script,
                options.duration,
            )?);
            server.check_running()?;
        }
    }

    println!(
        "\nload average before {load_before}, after {}; {} CPUs\n",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    print!("{}", table(&runs));
    println!();
    for line in targets(&runs) {
        println!("target: {line}");
    }
    Ok(runs.iter().all(Run::as_expected))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("latchkey-bench: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("latchkey-bench: unexpected statuses or socket errors (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("latchkey-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rps: f64, p99_ms: u64, requests: u64, non_2xx: u64) -> Report {
        Report {
            requests,
            elapsed: Duration::from_secs(10),
            requests_per_sec: rps,
            p50: Duration::from_micros(p99_ms * 500),
            p75: Duration::from_micros(p99_ms * 700),
            p90: Duration::from_micros(p99_ms * 900),
            p99: Duration::from_millis(p99_ms),
            non_2xx,
            socket_errors: 0,
        }
    }

    fn run(scenario: Scenario, peer: &'static str, report: Report) -> Run {
        Run {
            scenario,
            peer,
            report,
        }
    }

    #[test]
    fn forged_runs_must_be_refused_and_others_must_succeed() {
        assert!(run(Scenario::Forged, "latchkey", report(1e4, 1, 100, 100)).as_expected());
        assert!(!run(Scenario::Forged, "latchkey", report(1e4, 1, 100, 99)).as_expected());
        assert!(run(Scenario::Valid, "Flask", report(1e3, 9, 100, 0)).as_expected());
        assert!(!run(Scenario::Login, "Flask", report(7.0, 900, 70, 1)).as_expected());
        assert!(!run(Scenario::Valid, "Flask", report(0.0, 0, 0, 0)).as_expected());
        let mut errors = report(1e3, 9, 100, 0);
        errors.socket_errors = 3;
        assert!(!run(Scenario::Valid, "latchkey", errors).as_expected());
    }

    #[test]
    fn table_puts_the_servers_side_by_side_with_ratios_for_the_compared_rows() {
        let runs = vec![
            run(Scenario::Valid, "latchkey", report(40_000.0, 2, 400_000, 0)),
            run(Scenario::Valid, "Flask", report(1_000.0, 20, 10_000, 0)),
            run(Scenario::Login, "latchkey", report(50.0, 300, 500, 0)),
            run(Scenario::Login, "Flask", report(8.0, 1200, 80, 0)),
            run(
                Scenario::UnderFlood,
                "latchkey",
                report(9_000.0, 12, 90_000, 0),
            ),
            run(
                Scenario::Command,
                "latchkey",
                report(20_000.0, 3, 200_000, 0),
            ),
        ];
        let table = table(&runs);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert_eq!(
            lines[2],
            "| GET /me, valid token (Flask: GET /protected) | 40000 | 1.00 ms | 2.00 ms \
             | 1000 | 10.00 ms | 20.00 ms | 40.0x |"
        );
        assert!(
            lines[3].starts_with("| POST /login | 50.0 |"),
            "{}",
            lines[3]
        );
        assert!(lines[3].ends_with("| 8.0 | 600.00 ms | 1200.00 ms | 6.2x |"));
        // Not compared: no ratio; no Flask run: n/a.
        assert!(
            lines[4].ends_with("| n/a | n/a | n/a | - |"),
            "{}",
            lines[4]
        );
        assert!(lines[5].contains("command token"));

        let targets = targets(&runs);
        assert_eq!(
            targets[0],
            "GET /me >= 30x Flask's GET /protected requests/s: met: 40.0x (40000 vs 1000 req/s)"
        );
        assert_eq!(
            targets[1],
            "GET /me p99 < 10.00 ms during a login flood: MISSED: p99 12.00 ms"
        );
    }

    #[test]
    fn targets_without_flask_say_so() {
        let runs = vec![run(Scenario::Valid, "latchkey", report(1e4, 1, 1, 0))];
        let t = targets(&runs);
        assert!(t[0].ends_with("not measured (no Flask run)"), "{}", t[0]);
        assert!(t[1].ends_with("not measured"), "{}", t[1]);
    }

    #[test]
    fn options_need_the_programs_and_bound_the_duration() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let ok = parse(&args(
            "--server s --wrk w --state-dir d --duration 60 --flask 127.0.0.1:8000",
        ))
        .expect("valid");
        assert_eq!(ok.duration, Duration::from_secs(60));
        assert_eq!(ok.flask.map(|a| a.port()), Some(8000));
        assert!(parse(&args("--server s --wrk w --state-dir d --duration 61")).is_err());
        assert!(parse(&args("--server s --wrk w --state-dir d --duration 0")).is_err());
        assert!(parse(&args("--server s --state-dir d")).is_err());
        assert!(
            parse(&args(
                "--server s --wrk w --state-dir d --flask 10.0.0.1:80"
            ))
            .is_err()
        );
    }

    #[test]
    fn fresh_db_removes_the_old_files_only() {
        let dir = latchkey_e2e::TempDir::new("bench-db").expect("temp dir");
        for name in ["latchkey.db", "latchkey.db-wal", "keep.lua"] {
            std::fs::write(dir.path().join(name), b"old").expect("write");
        }
        let db = fresh_db(dir.path()).expect("fresh");
        assert_eq!(db, dir.path().join("latchkey.db"));
        assert!(!db.exists());
        assert!(!dir.path().join("latchkey.db-wal").exists());
        assert!(dir.path().join("keep.lua").exists());
    }
}
