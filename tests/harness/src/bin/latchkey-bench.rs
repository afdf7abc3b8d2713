//! The driver behind `cargo xtask bench-server`: starts the server on a free loopback
//! port with a fresh SQLite file and the demo user, then loads it with `wrk`, and the
//! project's Flask-JWT-Extended peer (`tests/harness/peer/`) too when given, scenario by scenario, both servers one after
//! the other, so that the ratios compare like with like on a shared machine. The whole
//! sequence runs `--rounds` times (latchkey and Flask stay interleaved within each
//! round), and the table reports medians: single runs swing by about 10% here.
//!
//! Usage: `latchkey-bench --server BIN --wrk BIN --state-dir DIR [--duration SECS]
//! [--rounds N] [--http-threads N] [--flask-venv DIR] [--postgres]` (the peer runs under
//! that venv's gunicorn; `--postgres`: the server's store is a throwaway PostgreSQL
//! cluster on loopback instead of the SQLite file)
//!
//! Scenarios: GET /me with a valid access token (Flask: GET /protected), the same with
//! a forged token (header and payload intact, signature changed), POST /login, GET /me
//! while a second wrk floods POST /login, and (latchkey only) command-token issue.
//! Prints each run, the per-round latchkey/Flask ratios, then a Markdown table of
//! medians with the ratios and the targets.
//! Exits 1 when a run saw socket errors or unexpected statuses (the figures would then
//! measure something else), not when a target is missed.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use latchkey_harness::flask::{self, FlaskPeer};
use latchkey_harness::http::Client;
use latchkey_harness::scenario::{self, DEVICE, PASSWORD, USER};
use latchkey_harness::wrk::{self, Report, Wrk};
use latchkey_harness::{Error, Postgres, Server, ServerBuilder};
use serde_json::json;

const USAGE: &str = "usage: latchkey-bench --server BIN --wrk BIN --state-dir DIR \
                     [--duration SECS] [--rounds N] [--flask-venv DIR] [--http-threads N] \
                     [--postgres]";
const MAX_DURATION: u64 = 60;
/// Rounds when `--rounds` is not given: the fewest with a median that ignores one outlier.
const DEFAULT_ROUNDS: u32 = 3;
const MAX_ROUNDS: u32 = 9;
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
/// The server's `--max-failures-per-user`: above the logins wrk has in flight.
const LOGIN_LIMIT: u32 = 4 * wrk::CONNECTIONS;

struct Options {
    server: PathBuf,
    wrk: PathBuf,
    state_dir: PathBuf,
    duration: Duration,
    /// How many times the whole scenario sequence runs.
    rounds: u32,
    /// The venv whose gunicorn runs the Flask peer; not measured when `None`.
    flask_venv: Option<PathBuf>,
    /// The server's `--http-threads`; its default (one per core) when `None`.
    http_threads: Option<u16>,
    /// The store is a throwaway PostgreSQL cluster instead of an SQLite file.
    postgres: bool,
}

fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Options, lexopt::Error> {
    use lexopt::prelude::*;
    fn bounded<T: std::str::FromStr + PartialOrd>(
        name: &str,
        value: std::ffi::OsString,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, lexopt::Error> {
        let text = value.string()?;
        text.parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| format!("--{name}: `{text}` is out of range or not a number").into())
    }
    let (mut server, mut wrk, mut state_dir) = (None, None, None);
    let mut options = Options {
        server: PathBuf::new(),
        wrk: PathBuf::new(),
        state_dir: PathBuf::new(),
        duration: Duration::from_secs(10),
        rounds: DEFAULT_ROUNDS,
        flask_venv: None,
        http_threads: None,
        postgres: false,
    };
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("server") => server = Some(PathBuf::from(parser.value()?)),
            Long("wrk") => wrk = Some(PathBuf::from(parser.value()?)),
            Long("state-dir") => state_dir = Some(PathBuf::from(parser.value()?)),
            Long("duration") => {
                let secs = bounded("duration", parser.value()?, 1..=MAX_DURATION)?;
                options.duration = Duration::from_secs(secs);
            }
            Long("rounds") => options.rounds = bounded("rounds", parser.value()?, 1..=MAX_ROUNDS)?,
            Long("http-threads") => {
                options.http_threads = Some(bounded("http-threads", parser.value()?, 1..=1024)?);
            }
            Long("flask-venv") => options.flask_venv = Some(PathBuf::from(parser.value()?)),
            Long("postgres") => options.postgres = true,
            other => return Err(other.unexpected()),
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

/// Which round of how many, as printed on each run line (`[round 2/3]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Round {
    /// 1-based.
    number: u32,
    of: u32,
}

impl std::fmt::Display for Round {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[round {}/{}]", self.number, self.of)
    }
}

/// One wrk run's outcome.
struct Run {
    /// 1-based; pairs latchkey's run with Flask's for the per-round ratio.
    round: u32,
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

fn describe(run: &Run, rounds: u32) -> String {
    let r = &run.report;
    let round = Round {
        number: run.round,
        of: rounds,
    };
    format!(
        "{round} {:<8} {:<55} {:>8} req/s  p50 {:>9}  p99 {:>9}  ({} responses in {:.2} s, {} non-2xx, {} socket errors) {}",
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

/// The median of `items` by `key`, or `None` when there are none.
///
/// For an even count it is the lower of the two middle items (by `key`), not the mean
/// of the two: the median is then always a measured item, so a median run comes with
/// its own p50 and p99, and every median in the report follows the one rule. Ties keep
/// their order in `items`; NaN keys sort last (`f64::total_cmp`).
fn median_by<T>(items: impl IntoIterator<Item = T>, key: impl Fn(&T) -> f64) -> Option<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let middle = items.len().checked_sub(1)? / 2;
    items.into_iter().nth(middle)
}

/// The runs of `scenario` on `peer`, in every round.
fn runs_of<'a>(
    runs: &'a [Run],
    scenario: Scenario,
    peer: &'a str,
) -> impl Iterator<Item = &'a Run> + 'a {
    runs.iter()
        .filter(move |r| r.scenario == scenario && r.peer == peer)
}

/// The run of `scenario` on `peer` with the median requests/s over the rounds.
fn median_run<'a>(runs: &'a [Run], scenario: Scenario, peer: &'a str) -> Option<&'a Report> {
    median_by(runs_of(runs, scenario, peer), |r| r.report.requests_per_sec).map(|r| &r.report)
}

/// latchkey's requests/s over Flask's for `scenario`, one per round in which both ran
/// (and Flask answered at all), in round order. Each latchkey run is paired with
/// Flask's run of the same round, whatever order the runs were recorded in.
fn round_ratios(runs: &[Run], scenario: Scenario) -> Vec<(u32, f64)> {
    let mut ratios: Vec<(u32, f64)> = runs_of(runs, scenario, "latchkey")
        .filter_map(|ours| {
            let theirs = runs_of(runs, scenario, "Flask").find(|t| t.round == ours.round)?;
            let flask = theirs.report.requests_per_sec;
            (flask > 0.0).then(|| (ours.round, ours.report.requests_per_sec / flask))
        })
        .collect();
    ratios.sort_by_key(|&(round, _)| round);
    ratios
}

/// The median (see [`median_by`]) of the per-round ratios, with how many there were.
fn median_ratio(runs: &[Run], scenario: Scenario) -> Option<(f64, usize)> {
    let ratios = round_ratios(runs, scenario);
    let count = ratios.len();
    median_by(ratios, |&(_, ratio)| ratio).map(|(_, ratio)| (ratio, count))
}

/// Scenarios in table order.
const TABLE_ORDER: [Scenario; 6] = [
    Scenario::Valid,
    Scenario::Forged,
    Scenario::Login,
    Scenario::UnderFlood,
    Scenario::Flood,
    Scenario::Command,
];

/// The scenarios with a latchkey/Flask ratio (the others differ in kind or have no peer).
fn compared(scenario: Scenario) -> bool {
    matches!(
        scenario,
        Scenario::Valid | Scenario::Forged | Scenario::Login
    )
}

/// The line printed before the table, saying what its figures are.
fn heading(rounds: u32) -> String {
    format!(
        "medians of {}: per scenario and server the run with the median req/s \
         (with that run's p50 and p99); latchkey/Flask: the median of the per-round ratios",
        rounds_text(usize::try_from(rounds).unwrap_or(usize::MAX))
    )
}

/// One line per compared scenario with a Flask run: its per-round ratios and their median.
fn ratio_lines(runs: &[Run]) -> Vec<String> {
    TABLE_ORDER
        .into_iter()
        .filter(|&s| compared(s))
        .filter_map(|scenario| {
            let ratios = round_ratios(runs, scenario);
            let (median, _) = median_ratio(runs, scenario)?;
            let each: Vec<String> = ratios.iter().map(|(_, r)| format!("{r:.1}x")).collect();
            Some(format!(
                "{}: per-round ratios {} (median {median:.1}x)",
                scenario.label(),
                each.join(" ")
            ))
        })
        .collect()
}

/// The Markdown table: one row per scenario, latchkey and Flask side by side (each the
/// median run over the rounds), and the median per-round req/s ratio for the three
/// scenarios the issue compares.
fn table(runs: &[Run]) -> String {
    let mut out = String::from(
        "| scenario | latchkey req/s | p50 | p99 | Flask req/s | p50 | p99 | latchkey/Flask req/s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cells = |r: Option<&Report>| match r {
        Some(r) => format!("{} | {} | {}", rate(r), ms(r.p50), ms(r.p99)),
        None => "n/a | n/a | n/a".to_string(),
    };
    for scenario in TABLE_ORDER {
        let ours = median_run(runs, scenario, "latchkey");
        let theirs = median_run(runs, scenario, "Flask");
        if ours.is_none() && theirs.is_none() {
            continue;
        }
        let ratio = match median_ratio(runs, scenario) {
            Some((ratio, _)) if compared(scenario) => format!("{ratio:.1}x"),
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

/// "1 round" or "3 rounds".
fn rounds_text(count: usize) -> String {
    if count == 1 {
        "1 round".to_string()
    } else {
        format!("{count} rounds")
    }
}

/// The two targets, each met or missed, judged on medians: the median
/// per-round ratio, and the median of latchkey's p99 under the login flood.
fn targets(runs: &[Run]) -> Vec<String> {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let ratio = match (
        median_ratio(runs, Scenario::Valid),
        median_run(runs, Scenario::Valid, "latchkey"),
        median_run(runs, Scenario::Valid, "Flask"),
    ) {
        (Some((ratio, count)), Some(a), Some(b)) => format!(
            "{}: {ratio:.1}x (median ratio over {}; median {} vs {} req/s)",
            verdict(ratio >= TARGET_RATIO),
            rounds_text(count),
            rate(a),
            rate(b)
        ),
        _ => "not measured (no Flask run)".to_string(),
    };
    let flooded: Vec<Duration> = runs_of(runs, Scenario::UnderFlood, "latchkey")
        .map(|r| r.report.p99)
        .collect();
    let count = flooded.len();
    let p99 = match median_by(flooded, Duration::as_secs_f64) {
        Some(p99) => format!(
            "{}: p99 {} (median of {})",
            verdict(p99 < TARGET_FLOOD_P99),
            ms(p99),
            rounds_text(count)
        ),
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

/// Runs `scenario` against `peer` in `round` (for [`Scenario::UnderFlood`], also the
/// flood) and prints each run as it ends.
fn measure(
    wrk: &Wrk,
    peer: &Peer,
    scenario: Scenario,
    round: Round,
    command_script: &Path,
    duration: Duration,
) -> Result<Vec<Run>, Error> {
    let record = |scenario, report| {
        let run = Run {
            round: round.number,
            scenario,
            peer: peer.name,
            report,
        };
        println!("{}", describe(&run, round.of));
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
    let db = fresh_db(dir)?;
    // Kept until the end of the run; stopped and removed when dropped.
    let postgres = options.postgres.then(Postgres::start).transpose()?;
    let mut builder = match &postgres {
        Some(pg) => ServerBuilder::with_database_url(&options.server, &pg.url(), dir)
            .env("LATCHKEY_DEV_KEYS", "1"),
        None => scenario::server(&options.server, &db),
    };
    // wrk's connections log in as one user at once, and a login's attempt counts
    // against the per-user limit (default 5) while it is in flight: the login
    // scenarios measure logins, not the throttle.
    builder = builder
        .arg("--max-failures-per-user")
        .arg(LOGIN_LIMIT.to_string());
    if let Some(n) = options.http_threads {
        builder = builder.arg("--http-threads").arg(n.to_string());
    }
    scenario::provision(&builder)?;
    let mut server: Server = builder.start()?;
    let flask = options
        .flask_venv
        .as_deref()
        .map(FlaskPeer::start)
        .transpose()?;
    let wrk = Wrk::new(&options.wrk);
    let load_before = load_average();
    println!(
        "bench: latchkey-server {} on {} ({}; store {}); Flask reference {}; wrk -t{} -c{}, \
         {} s per run, {} rounds; load average {load_before}",
        options.server.display(),
        server.addr(),
        options
            .http_threads
            .map_or("HTTP threads: one per core".to_string(), |n| {
                format!("--http-threads {n}")
            }),
        if postgres.is_some() {
            "a throwaway PostgreSQL cluster"
        } else {
            "SQLite"
        },
        flask
            .as_ref()
            .map_or("not measured".to_string(), |f| format!("on {}", f.addr())),
        wrk::THREADS,
        wrk::CONNECTIONS,
        options.duration.as_secs(),
        options.rounds,
    );

    let ours = peer(dir, "latchkey", server.addr(), "/me", (USER, PASSWORD))?;
    let auth = format!("Bearer {}", ours.access);
    let mut peers = vec![ours];
    if let Some(flask) = &flask {
        peers.push(peer(dir, "Flask", flask.addr(), "/protected", flask::USER)?);
    }
    let command_script = write(
        &dir.join("command.lua"),
        &wrk::script(
            "POST",
            &[("Authorization", &auth), JSON_TYPE],
            Some(&json!({ "command": "status" }).to_string()),
        ),
    )?;

    // Whole rounds, so that both servers see the same stretch of machine load in each.
    let mut runs = Vec::new();
    for number in 1..=options.rounds {
        let round = Round {
            number,
            of: options.rounds,
        };
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
                    round,
                    &command_script,
                    options.duration,
                )?);
                server.check_running()?;
            }
        }
    }

    println!(
        "\nload average before {load_before}, after {}; {} CPUs\n",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for line in ratio_lines(&runs) {
        println!("{line}");
    }
    println!("\n{}\n", heading(options.rounds));
    print!("{}", table(&runs));
    println!();
    for line in targets(&runs) {
        println!("target: {line}");
    }
    Ok(runs.iter().all(Run::as_expected))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args_os().skip(1)) {
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

    /// A run in round 1.
    fn run(scenario: Scenario, peer: &'static str, report: Report) -> Run {
        run_in(1, scenario, peer, report)
    }

    fn run_in(round: u32, scenario: Scenario, peer: &'static str, report: Report) -> Run {
        Run {
            round,
            scenario,
            peer,
            report,
        }
    }

    /// GET /me with a valid token at `rps` req/s, with a p99 of `p99_ms`.
    fn valid(round: u32, peer: &'static str, rps: f64, p99_ms: u64) -> Run {
        run_in(round, Scenario::Valid, peer, report(rps, p99_ms, 1000, 0))
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
            "GET /me >= 30x Flask's GET /protected requests/s: met: 40.0x \
             (median ratio over 1 round; median 40000 vs 1000 req/s)"
        );
        assert_eq!(
            targets[1],
            "GET /me p99 < 10.00 ms during a login flood: MISSED: p99 12.00 ms \
             (median of 1 round)"
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
    fn median_is_the_middle_of_an_odd_count_and_the_lower_middle_of_an_even_one() {
        let id = |x: &f64| *x;
        assert_eq!(median_by([3.0, 1.0, 2.0], id), Some(2.0));
        assert_eq!(median_by([5.0, 40.0, 1.0, 7.0, 6.0], id), Some(6.0));
        // Even: the lower of the two middle values (2 and 3), not their mean.
        assert_eq!(median_by([4.0, 1.0, 3.0, 2.0], id), Some(2.0));
        assert_eq!(median_by([9.0, 8.0], id), Some(8.0));
        assert_eq!(median_by([7.5], id), Some(7.5));
        assert_eq!(median_by(Vec::<f64>::new(), id), None);
    }

    #[test]
    fn the_median_run_keeps_its_own_latencies() {
        let runs = vec![
            valid(1, "latchkey", 30_000.0, 1),
            valid(2, "latchkey", 35_000.0, 5),
            valid(3, "latchkey", 32_000.0, 2),
            valid(1, "Flask", 1_000.0, 20),
        ];
        let median = median_run(&runs, Scenario::Valid, "latchkey").expect("runs");
        assert_eq!(median.requests_per_sec, 32_000.0);
        assert_eq!(median.p99, Duration::from_millis(2));
        assert_eq!(
            median_run(&runs, Scenario::Valid, "Flask").map(|r| r.p99),
            Some(Duration::from_millis(20))
        );
        assert!(median_run(&runs, Scenario::Forged, "latchkey").is_none());
        // A fourth round: the lower middle of 30000, 32000, 33000, 35000.
        let mut four = runs;
        four.push(valid(4, "latchkey", 33_000.0, 9));
        let median = median_run(&four, Scenario::Valid, "latchkey").expect("runs");
        assert_eq!(median.requests_per_sec, 32_000.0);
    }

    #[test]
    fn per_round_ratios_pair_runs_of_the_same_round_whatever_the_recording_order() {
        let runs = vec![
            valid(2, "latchkey", 30_000.0, 1),
            valid(3, "Flask", 1_000.0, 20),
            valid(1, "latchkey", 20_000.0, 1),
            valid(2, "Flask", 1_500.0, 20),
            valid(3, "latchkey", 40_000.0, 1),
            valid(1, "Flask", 2_000.0, 20),
            // No Flask run in round 4, and Flask answered nothing in round 5: no ratio.
            valid(4, "latchkey", 90_000.0, 1),
            valid(5, "latchkey", 90_000.0, 1),
            valid(5, "Flask", 0.0, 20),
            run_in(1, Scenario::Login, "latchkey", report(20.0, 400, 200, 0)),
        ];
        assert_eq!(
            round_ratios(&runs, Scenario::Valid),
            vec![(1, 10.0), (2, 20.0), (3, 40.0)]
        );
        assert_eq!(median_ratio(&runs, Scenario::Valid), Some((20.0, 3)));
        assert_eq!(round_ratios(&runs, Scenario::Login), vec![]);
        assert_eq!(median_ratio(&runs, Scenario::Login), None);
        assert_eq!(
            ratio_lines(&runs),
            vec![
                "GET /me, valid token (Flask: GET /protected): per-round ratios \
                 10.0x 20.0x 40.0x (median 20.0x)"
            ]
        );
    }

    #[test]
    fn targets_and_table_use_the_median_ratio_and_the_median_flood_p99() {
        // One round a (latchkey req/s, Flask req/s, latchkey's p99 under the flood).
        let rounds = |spec: &[(f64, f64, u64)]| -> Vec<Run> {
            (1..)
                .zip(spec)
                .flat_map(|(round, &(latchkey, flask, flood_p99_ms))| {
                    let flood = report(9e3, flood_p99_ms, 9, 0);
                    [
                        valid(round, "latchkey", latchkey, 1),
                        valid(round, "Flask", flask, 20),
                        run_in(round, Scenario::UnderFlood, "latchkey", flood),
                    ]
                })
                .collect()
        };
        // Per-round ratios 31x, 29x, 25x: median 29x, although the median runs' req/s
        // (31000 vs 1000) would give 31x. Flood p99 12, 4, 8 ms: median 8 ms.
        let runs = rounds(&[
            (31_000.0, 1_000.0, 12),
            (29_000.0, 1_000.0, 4),
            (35_000.0, 1_400.0, 8),
        ]);
        let t = targets(&runs);
        assert!(
            t[0].ends_with(
                "MISSED: 29.0x (median ratio over 3 rounds; median 31000 vs 1000 req/s)"
            ),
            "{}",
            t[0]
        );
        assert!(
            t[1].ends_with("met: p99 8.00 ms (median of 3 rounds)"),
            "{}",
            t[1]
        );
        let table = table(&runs);
        let valid_row = table.lines().nth(2).expect("a row");
        assert!(
            valid_row
                .ends_with("| 31000 | 0.50 ms | 1.00 ms | 1000 | 10.00 ms | 20.00 ms | 29.0x |"),
            "{valid_row}"
        );
        assert_eq!(heading(3).split(':').next(), Some("medians of 3 rounds"));
        assert_eq!(heading(1).split(':').next(), Some("medians of 1 round"));

        // Two rounds at 28x and 32x: the lower middle, 28x, misses; two flood rounds
        // at 9 and 11 ms: the lower middle, 9 ms, meets.
        let even = rounds(&[(28_000.0, 1_000.0, 11), (32_000.0, 1_000.0, 9)]);
        let t = targets(&even);
        assert!(t[0].contains("MISSED: 28.0x"), "{}", t[0]);
        assert!(t[1].contains("met: p99 9.00 ms"), "{}", t[1]);
    }

    #[test]
    fn run_lines_name_their_round() {
        let line = describe(&valid(2, "latchkey", 30_000.0, 1), 3);
        assert!(line.starts_with("[round 2/3] latchkey "), "{line}");
    }

    #[test]
    fn options_need_the_programs_and_bound_the_duration() {
        let args = |s: &str| {
            s.split_whitespace()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        let ok = parse(args(
            "--server s --wrk w --state-dir d --duration 60 --flask-venv /v",
        ))
        .expect("valid");
        assert_eq!(ok.duration, Duration::from_secs(60));
        assert_eq!(ok.rounds, 3);
        assert_eq!(ok.flask_venv, Some(PathBuf::from("/v")));
        assert_eq!(ok.http_threads, None);
        let nine = parse(args("--server s --wrk w --state-dir d --rounds 9")).expect("valid");
        assert_eq!(nine.rounds, 9);
        let one = parse(args("--server s --wrk w --state-dir d --http-threads 1")).expect("valid");
        assert_eq!(one.http_threads, Some(1));
        for bad in ["0", "1025", "one"] {
            let line = format!("--server s --wrk w --state-dir d --http-threads {bad}");
            assert!(parse(args(&line)).is_err(), "--http-threads {bad}");
        }
        for bad in ["0", "10", "three", "-1"] {
            let line = format!("--server s --wrk w --state-dir d --rounds {bad}");
            assert!(parse(args(&line)).is_err(), "--rounds {bad}");
        }
        assert!(parse(args("--server s --wrk w --state-dir d --duration 61")).is_err());
        assert!(parse(args("--server s --wrk w --state-dir d --duration 0")).is_err());
        assert!(parse(args("--server s --state-dir d")).is_err());
        assert!(
            parse(args(
                "--server s --wrk w --state-dir d --flask 127.0.0.1:80"
            ))
            .is_err()
        );
        assert!(parse(args("--server s --wrk w --state-dir d extra")).is_err());
    }

    #[test]
    fn fresh_db_removes_the_old_files_only() {
        let dir = latchkey_harness::temp_dir("bench-db").expect("temp dir");
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
