//! The driver behind `cargo xtask bench-server`: starts the server on a free loopback
//! port with a fresh SQLite file and the demo user, then loads it with `wrk`, and when
//! given the axum + jsonwebtoken peer (`latchkey-peer-axum`) and the project's
//! Flask-JWT-Extended peer (`tests/harness/peer/`) too, scenario by scenario, the
//! servers one after the other, so that the ratios compare like with like on a shared
//! machine. The whole sequence runs `--rounds` times (the servers stay interleaved
//! within each round), and the table reports medians: single runs swing by about 10%
//! here.
//!
//! Usage: `latchkey-bench --server BIN --wrk BIN --state-dir DIR [--duration SECS]
//! [--rounds N] [--http-threads N] [--axum-peer BIN] [--flask-venv DIR] [--h2load BIN]
//! [--postgres]` (the Flask peer runs under that venv's gunicorn; `--postgres`: the
//! server's store is a throwaway PostgreSQL cluster on loopback instead of the SQLite
//! file)
//!
//! Scenarios: GET /me with a valid access token (Flask: GET /protected), the same with
//! a forged token (header and payload intact, signature changed), POST /login, GET /me
//! while a second wrk floods POST /login, and (latchkey only) command-token issue.
//! With `--h2load`, each round ends with GET /me by `h2load -c 8 -m 10` over h2c
//! (latchkey and the axum peer) and over TLS (a second latchkey instance on the same
//! store, serving a certificate made here).
//! Prints each run, the per-round ratios, then Markdown tables of medians with the
//! ratios and the targets.
//! Exits 1 when a run saw socket errors or unexpected statuses (the figures would then
//! measure something else), not when a target is missed.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use latchkey_harness::axum_peer::{self, AxumPeer};
use latchkey_harness::flask::{self, FlaskPeer};
use latchkey_harness::h2load::{self, H2load};
use latchkey_harness::http::Client;
use latchkey_harness::scenario::{self, DEVICE, PASSWORD, USER};
use latchkey_harness::wrk::{self, Report, Wrk};
use latchkey_harness::{Error, Postgres, Server, ServerBuilder};
use serde_json::json;

const USAGE: &str = "usage: latchkey-bench --server BIN --wrk BIN --state-dir DIR \
                     [--duration SECS] [--rounds N] [--axum-peer BIN] [--flask-venv DIR] \
                     [--h2load BIN] [--http-threads N] [--postgres]";
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
/// The targets: GET /me requests/s over the axum peer's and over Flask's.
const TARGET_AXUM: f64 = 0.95;
const TARGET_FLASK: f64 = 20.0;
const TARGET_FLOOD_P99: Duration = Duration::from_millis(10);
const JSON_TYPE: (&str, &str) = ("Content-Type", "application/json");
/// The server's `--max-failures-per-user`: above the logins wrk has in flight.
const LOGIN_LIMIT: u32 = 4 * wrk::CONNECTIONS;
/// h2load requests per run, per second of `--duration` (about a third of a wrk run's
/// length at this machine's ~30k req/s).
const H2_REQUESTS_PER_SEC: u32 = 20_000;
/// The peers' names, as on the run lines and in the tables.
const LATCHKEY: &str = "latchkey";
const AXUM: &str = "axum";
const FLASK: &str = "Flask";

struct Options {
    server: PathBuf,
    wrk: PathBuf,
    state_dir: PathBuf,
    duration: Duration,
    /// How many times the whole scenario sequence runs.
    rounds: u32,
    /// The venv whose gunicorn runs the Flask peer; not measured when `None`.
    flask_venv: Option<PathBuf>,
    /// The axum + jsonwebtoken peer's binary; not measured when `None`.
    axum_peer: Option<PathBuf>,
    /// h2load; no HTTP/2 figures when `None`.
    h2load: Option<PathBuf>,
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
        axum_peer: None,
        h2load: None,
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
            Long("axum-peer") => options.axum_peer = Some(PathBuf::from(parser.value()?)),
            Long("h2load") => options.h2load = Some(PathBuf::from(parser.value()?)),
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
            Scenario::Command => {
                "POST /devices/dev-1/commands (past the first 16: the per-user limit, 429)"
            }
        }
    }

    /// A forged token must be refused every time; everything else must succeed.
    fn expects_rejection(self) -> bool {
        self == Scenario::Forged
    }

    /// How many answers may succeed in a run that [`Scenario::expects_rejection`]
    /// or whose load runs into a limit: the command tokens one user gets within
    /// 300 s (`latchkey_protocol::MAX_TOKENS_PER_USER`); the rest of a command run
    /// is the limit's 429, each still a login check, a grant check and a
    /// reservation in the store.
    fn successes_allowed(self) -> Option<u64> {
        match self {
            Scenario::Command => Some(u64::from(latchkey_protocol::MAX_TOKENS_PER_USER)),
            _ => None,
        }
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
        let statuses = if let Some(allowed) = self.scenario.successes_allowed() {
            r.requests.saturating_sub(r.non_2xx) <= allowed
        } else if self.scenario.expects_rejection() {
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

/// latchkey's requests/s over `other`'s for `scenario`, one per round in which both ran
/// (and `other` answered at all), in round order. Each latchkey run is paired with
/// the other's run of the same round, whatever order the runs were recorded in.
fn round_ratios(runs: &[Run], scenario: Scenario, other: &str) -> Vec<(u32, f64)> {
    let mut ratios: Vec<(u32, f64)> = runs_of(runs, scenario, LATCHKEY)
        .filter_map(|ours| {
            let theirs = runs_of(runs, scenario, other).find(|t| t.round == ours.round)?;
            let rate = theirs.report.requests_per_sec;
            (rate > 0.0).then(|| (ours.round, ours.report.requests_per_sec / rate))
        })
        .collect();
    ratios.sort_by_key(|&(round, _)| round);
    ratios
}

/// The median (see [`median_by`]) of the per-round ratios, with how many there were.
fn median_ratio(runs: &[Run], scenario: Scenario, other: &str) -> Option<(f64, usize)> {
    let ratios = round_ratios(runs, scenario, other);
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

/// The peers latchkey is compared with, in column order.
const OTHERS: [&str; 2] = [AXUM, FLASK];

/// The scenarios with a ratio (the others differ in kind or have no peer).
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
         (with that run's p50 and p99); latchkey/axum, latchkey/Flask: the median of \
         the per-round ratios",
        rounds_text(usize::try_from(rounds).unwrap_or(usize::MAX))
    )
}

/// One line per compared scenario and peer that ran: its per-round ratios and their
/// median.
fn ratio_lines(runs: &[Run]) -> Vec<String> {
    let mut lines = Vec::new();
    for scenario in TABLE_ORDER.into_iter().filter(|&s| compared(s)) {
        for other in OTHERS {
            let Some((median, _)) = median_ratio(runs, scenario, other) else {
                continue;
            };
            let each: Vec<String> = round_ratios(runs, scenario, other)
                .iter()
                .map(|(_, r)| format!("{r:.2}x"))
                .collect();
            lines.push(format!(
                "{}: latchkey/{other} per round {} (median {median:.2}x)",
                scenario.label(),
                each.join(" ")
            ));
        }
    }
    lines
}

/// A ratio for the table: two decimals near 1, one above 10.
fn ratio_text(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.1}x")
    } else {
        format!("{ratio:.2}x")
    }
}

/// The Markdown table: one row per scenario, latchkey, the axum peer and Flask side by
/// side (each the median run over the rounds), and the median per-round req/s ratios
/// for the three scenarios the issue compares.
fn table(runs: &[Run]) -> String {
    let mut out = String::from(
        "| scenario | latchkey req/s | p50 | p99 | axum req/s | p50 | p99 \
         | Flask req/s | p50 | p99 | latchkey/axum | latchkey/Flask |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cells = |r: Option<&Report>| match r {
        Some(r) => format!("{} | {} | {}", rate(r), ms(r.p50), ms(r.p99)),
        None => "n/a | n/a | n/a".to_string(),
    };
    for scenario in TABLE_ORDER {
        let reports = [LATCHKEY, AXUM, FLASK].map(|peer| median_run(runs, scenario, peer));
        if reports.iter().all(Option::is_none) {
            continue;
        }
        let ratios = OTHERS.map(|other| match median_ratio(runs, scenario, other) {
            Some((ratio, _)) if compared(scenario) => ratio_text(ratio),
            _ => "-".to_string(),
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            scenario.label(),
            cells(reports[0]),
            cells(reports[1]),
            cells(reports[2]),
            ratios[0],
            ratios[1]
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

/// The targets, each met or missed, judged on medians: the median per-round
/// GET /me ratios over the axum peer and over Flask, and the median of latchkey's
/// p99 under the login flood.
fn targets(runs: &[Run]) -> Vec<String> {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let ratio = |other: &str, target: f64| match (
        median_ratio(runs, Scenario::Valid, other),
        median_run(runs, Scenario::Valid, LATCHKEY),
        median_run(runs, Scenario::Valid, other),
    ) {
        (Some((ratio, count)), Some(a), Some(b)) => format!(
            "{}: {} (median ratio over {}; median {} vs {} req/s)",
            verdict(ratio >= target),
            ratio_text(ratio),
            rounds_text(count),
            rate(a),
            rate(b)
        ),
        _ => format!("not measured (no {other} run)"),
    };
    let flooded: Vec<Duration> = runs_of(runs, Scenario::UnderFlood, LATCHKEY)
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
        format!(
            "GET /me >= {TARGET_AXUM:.2}x the axum peer's requests/s: {}",
            ratio(AXUM, TARGET_AXUM)
        ),
        format!(
            "GET /me >= {TARGET_FLASK:.0}x Flask's GET /protected requests/s: {}",
            ratio(FLASK, TARGET_FLASK)
        ),
        format!(
            "GET /me p99 < {} during a login flood: {p99}",
            ms(TARGET_FLOOD_P99)
        ),
    ]
}

/// What an h2load run measured: GET /me on one server over one transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum H2Target {
    LatchkeyH2c,
    AxumH2c,
    LatchkeyTls,
}

impl H2Target {
    fn label(self) -> &'static str {
        match self {
            H2Target::LatchkeyH2c => "latchkey, h2c",
            H2Target::AxumH2c => "axum peer, h2c",
            H2Target::LatchkeyTls => "latchkey, TLS (rustls), ALPN h2",
        }
    }
}

/// One h2load run's outcome.
struct H2Run {
    round: u32,
    target: H2Target,
    report: h2load::Report,
}

fn describe_h2(run: &H2Run, rounds: u32) -> String {
    let r = &run.report;
    let round = Round {
        number: run.round,
        of: rounds,
    };
    format!(
        "{round} h2load GET /me {:<28} {:>8.0} req/s  mean {:>9}  ({} done, {} 2xx, {} failed; protocol {}) {}",
        run.target.label(),
        r.requests_per_sec,
        ms(r.mean),
        r.done,
        r.ok,
        r.failed,
        r.protocol,
        if r.all_ok() {
            "as expected"
        } else {
            "UNEXPECTED: failures or non-2xx"
        }
    )
}

/// The HTTP/2 table: per target the run with the median req/s, and latchkey/axum over
/// h2c as the median of the per-round ratios.
fn h2_table(runs: &[H2Run]) -> String {
    let mut out = String::from(
        "| GET /me by h2load -c 8 -m 10 | req/s | mean per request | latchkey/axum |\n\
         |---|---:|---:|---:|\n",
    );
    let of = |target: H2Target| runs.iter().filter(move |r| r.target == target);
    let mut ratios: Vec<f64> = of(H2Target::LatchkeyH2c)
        .filter_map(|ours| {
            let theirs = of(H2Target::AxumH2c).find(|t| t.round == ours.round)?;
            let rate = theirs.report.requests_per_sec;
            (rate > 0.0).then(|| ours.report.requests_per_sec / rate)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = median_by(ratios, |r| *r).map_or("-".to_string(), ratio_text);
    for target in [
        H2Target::LatchkeyH2c,
        H2Target::AxumH2c,
        H2Target::LatchkeyTls,
    ] {
        let Some(run) = median_by(of(target), |r| r.report.requests_per_sec) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} |",
            target.label(),
            run.report.requests_per_sec,
            ms(run.report.mean),
            if target == H2Target::LatchkeyH2c {
                ratio.as_str()
            } else {
                "-"
            }
        );
    }
    out
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
    let mut server: Server = builder.clone().start()?;
    // The TLS figures: a second instance on the same store (revocation holds across
    // the two), serving a certificate made here.
    let mut tls_server = match &options.h2load {
        Some(_) => {
            let (cert, key) = h2load::self_signed(dir)?;
            Some(
                builder
                    .arg("--tls-cert")
                    .arg(cert)
                    .arg("--tls-key")
                    .arg(key)
                    .start()?,
            )
        }
        None => None,
    };
    let mut axum = options
        .axum_peer
        .as_deref()
        .map(AxumPeer::start)
        .transpose()?;
    let mut flask = options
        .flask_venv
        .as_deref()
        .map(FlaskPeer::start)
        .transpose()?;
    let wrk = Wrk::new(&options.wrk);
    let load_before = load_average();
    println!(
        "bench: latchkey-server {} on {} ({}; store {}); axum peer {}; Flask reference {}; \
         wrk -t{} -c{}, {} s per run, {} rounds; h2load {}; load average {load_before}",
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
        axum.as_ref()
            .map_or("not measured".to_string(), |p| format!("on {}", p.addr())),
        flask
            .as_ref()
            .map_or("not measured".to_string(), |f| format!("on {}", f.addr())),
        wrk::THREADS,
        wrk::CONNECTIONS,
        options.duration.as_secs(),
        options.rounds,
        tls_server
            .as_ref()
            .map_or("not run".to_string(), |s| format!(
                "-c {} -m {}, TLS instance on {}",
                h2load::CLIENTS,
                h2load::STREAMS,
                s.addr()
            )),
    );

    let ours = peer(dir, LATCHKEY, server.addr(), "/me", (USER, PASSWORD))?;
    let auth = format!("Bearer {}", ours.access);
    let mut peers = vec![ours];
    if let Some(axum) = &axum {
        peers.push(peer(dir, AXUM, axum.addr(), "/me", axum_peer::USER)?);
    }
    if let Some(flask) = &flask {
        peers.push(peer(dir, FLASK, flask.addr(), "/protected", flask::USER)?);
    }
    let command_script = write(
        &dir.join("command.lua"),
        &wrk::script(
            "POST",
            &[("Authorization", &auth), JSON_TYPE],
            Some(&json!({ "command": "status" }).to_string()),
        ),
    )?;
    let h2_requests =
        H2_REQUESTS_PER_SEC.saturating_mul(u32::try_from(options.duration.as_secs()).unwrap_or(1));
    let mut h2_targets = Vec::new();
    if let (Some(bin), Some(tls)) = (&options.h2load, &tls_server) {
        let h2 = H2load::new(bin);
        let latchkey = &peers[0];
        h2_targets.push((
            H2Target::LatchkeyH2c,
            latchkey.url("/me"),
            latchkey.access.clone(),
        ));
        if let Some(axum) = peers.iter().find(|p| p.name == AXUM) {
            h2_targets.push((H2Target::AxumH2c, axum.url("/me"), axum.access.clone()));
        }
        h2_targets.push((
            H2Target::LatchkeyTls,
            format!("https://{}/me", tls.addr()),
            latchkey.access.clone(),
        ));
        // A few requests each first, so that a misconfiguration fails before the rounds.
        for (target, url, token) in &h2_targets {
            let (line, report) = h2.run(url, token, h2load::CLIENTS)?;
            if !report.all_ok() {
                return Err(Error::Protocol(format!(
                    "`{line}` ({}): not every request was answered with a 2xx",
                    target.label()
                )));
            }
        }
    }

    // Whole rounds, so that every server sees the same stretch of machine load in each.
    let mut runs = Vec::new();
    let mut h2_runs = Vec::new();
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
                if scenario == Scenario::Command && peer.name != LATCHKEY {
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
                if let Some(axum) = &mut axum {
                    axum.check_running()?;
                }
                if let Some(flask) = &mut flask {
                    flask.check_running()?;
                }
            }
        }
        if let Some(bin) = &options.h2load {
            let h2 = H2load::new(bin);
            for (target, url, token) in &h2_targets {
                std::thread::sleep(SETTLE);
                let (line, report) = h2.run(url, token, h2_requests)?;
                println!("$ {line}");
                let run = H2Run {
                    round: number,
                    target: *target,
                    report,
                };
                println!("{}", describe_h2(&run, options.rounds));
                h2_runs.push(run);
            }
            if let Some(tls) = &mut tls_server {
                tls.check_running()?;
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
    if !h2_runs.is_empty() {
        println!(
            "\nHTTP/2, h2load -n {h2_requests} -c {} -m {} -t 1 (medians of {}):\n",
            h2load::CLIENTS,
            h2load::STREAMS,
            rounds_text(usize::try_from(options.rounds).unwrap_or(usize::MAX))
        );
        print!("{}", h2_table(&h2_runs));
    }
    println!();
    for line in targets(&runs) {
        println!("target: {line}");
    }
    Ok(runs.iter().all(Run::as_expected) && h2_runs.iter().all(|r| r.report.all_ok()))
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
        // Command tokens: at most the 16 one user gets, then the limit's 429s.
        assert!(run(Scenario::Command, "latchkey", report(1e4, 1, 100, 84)).as_expected());
        assert!(run(Scenario::Command, "latchkey", report(1e4, 1, 100, 100)).as_expected());
        assert!(!run(Scenario::Command, "latchkey", report(1e4, 1, 100, 83)).as_expected());
        let mut errors = report(1e3, 9, 100, 0);
        errors.socket_errors = 3;
        assert!(!run(Scenario::Valid, "latchkey", errors).as_expected());
    }

    #[test]
    fn table_puts_the_servers_side_by_side_with_ratios_for_the_compared_rows() {
        let runs = vec![
            run(Scenario::Valid, "latchkey", report(40_000.0, 2, 400_000, 0)),
            run(Scenario::Valid, "Flask", report(1_000.0, 20, 10_000, 0)),
            run(Scenario::Valid, "axum", report(50_000.0, 2, 500_000, 0)),
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
             | 50000 | 1.00 ms | 2.00 ms | 1000 | 10.00 ms | 20.00 ms | 0.80x | 40.0x |"
        );
        assert!(
            lines[3].starts_with("| POST /login | 50.0 |"),
            "{}",
            lines[3]
        );
        // No axum run: n/a and no ratio.
        assert!(
            lines[3].ends_with("| n/a | n/a | n/a | 8.0 | 600.00 ms | 1200.00 ms | - | 6.25x |"),
            "{}",
            lines[3]
        );
        // Not compared: no ratio; no Flask run: n/a.
        assert!(
            lines[4].ends_with("| n/a | n/a | n/a | n/a | n/a | n/a | - | - |"),
            "{}",
            lines[4]
        );
        assert!(lines[5].contains("per-user limit"));

        let targets = targets(&runs);
        assert_eq!(
            targets[0],
            "GET /me >= 0.95x the axum peer's requests/s: MISSED: 0.80x \
             (median ratio over 1 round; median 40000 vs 50000 req/s)"
        );
        assert_eq!(
            targets[1],
            "GET /me >= 20x Flask's GET /protected requests/s: met: 40.0x \
             (median ratio over 1 round; median 40000 vs 1000 req/s)"
        );
        assert_eq!(
            targets[2],
            "GET /me p99 < 10.00 ms during a login flood: MISSED: p99 12.00 ms \
             (median of 1 round)"
        );
    }

    #[test]
    fn targets_without_flask_say_so() {
        let runs = vec![run(Scenario::Valid, "latchkey", report(1e4, 1, 1, 0))];
        let t = targets(&runs);
        assert!(t[0].ends_with("not measured (no axum run)"), "{}", t[0]);
        assert!(t[1].ends_with("not measured (no Flask run)"), "{}", t[1]);
        assert!(t[2].ends_with("not measured"), "{}", t[2]);
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
            round_ratios(&runs, Scenario::Valid, FLASK),
            vec![(1, 10.0), (2, 20.0), (3, 40.0)]
        );
        assert_eq!(median_ratio(&runs, Scenario::Valid, FLASK), Some((20.0, 3)));
        assert_eq!(round_ratios(&runs, Scenario::Valid, AXUM), vec![]);
        assert_eq!(round_ratios(&runs, Scenario::Login, FLASK), vec![]);
        assert_eq!(median_ratio(&runs, Scenario::Login, FLASK), None);
        assert_eq!(
            ratio_lines(&runs),
            vec![
                "GET /me, valid token (Flask: GET /protected): latchkey/Flask per round \
                 10.00x 20.00x 40.00x (median 20.00x)"
            ]
        );
    }

    #[test]
    fn targets_and_table_use_the_median_ratio_and_the_median_flood_p99() {
        // One round a (latchkey req/s, Flask req/s, latchkey's p99 under the flood);
        // the axum peer at 30000 req/s throughout.
        let rounds = |spec: &[(f64, f64, u64)]| -> Vec<Run> {
            (1..)
                .zip(spec)
                .flat_map(|(round, &(latchkey, flask, flood_p99_ms))| {
                    let flood = report(9e3, flood_p99_ms, 9, 0);
                    [
                        valid(round, "latchkey", latchkey, 1),
                        valid(round, "axum", 30_000.0, 1),
                        valid(round, "Flask", flask, 20),
                        run_in(round, Scenario::UnderFlood, "latchkey", flood),
                    ]
                })
                .collect()
        };
        // Per-round ratios over Flask 31x, 20.7x, 25x: median 25x, although the median
        // runs' req/s (31000 vs 1400) would give 22.1x. Flood p99 12, 4, 8 ms: median 8 ms.
        let runs = rounds(&[
            (31_000.0, 1_000.0, 12),
            (29_000.0, 1_400.0, 4),
            (35_000.0, 1_400.0, 8),
        ]);
        let t = targets(&runs);
        assert!(
            t[0].ends_with("met: 1.03x (median ratio over 3 rounds; median 31000 vs 30000 req/s)"),
            "{}",
            t[0]
        );
        assert!(
            t[1].ends_with("met: 25.0x (median ratio over 3 rounds; median 31000 vs 1400 req/s)"),
            "{}",
            t[1]
        );
        assert!(
            t[2].ends_with("met: p99 8.00 ms (median of 3 rounds)"),
            "{}",
            t[2]
        );
        let table = table(&runs);
        let valid_row = table.lines().nth(2).expect("a row");
        assert!(
            valid_row.ends_with("| 1400 | 10.00 ms | 20.00 ms | 1.03x | 25.0x |"),
            "{valid_row}"
        );
        assert_eq!(heading(3).split(':').next(), Some("medians of 3 rounds"));
        assert_eq!(heading(1).split(':').next(), Some("medians of 1 round"));

        // Two rounds at 28x and 32x: the lower middle, 28x, misses; two flood rounds
        // at 9 and 11 ms: the lower middle, 9 ms, meets.
        let even = rounds(&[(18_000.0, 1_000.0, 11), (32_000.0, 1_000.0, 9)]);
        let t = targets(&even);
        assert!(t[0].contains("MISSED: 0.60x"), "{}", t[0]);
        assert!(t[1].contains("MISSED: 18.0x"), "{}", t[1]);
        assert!(t[2].contains("met: p99 9.00 ms"), "{}", t[2]);
    }

    #[test]
    fn the_http2_table_gives_median_runs_and_the_h2c_ratio() {
        let h2 = |round, target, rps: f64| H2Run {
            round,
            target,
            report: h2load::Report {
                protocol: "h2c".into(),
                requests_per_sec: rps,
                done: 10,
                failed: 0,
                ok: 10,
                mean: Duration::from_micros(2500),
            },
        };
        let runs = vec![
            h2(1, H2Target::LatchkeyH2c, 30_000.0),
            h2(1, H2Target::AxumH2c, 20_000.0),
            h2(2, H2Target::LatchkeyH2c, 20_000.0),
            h2(2, H2Target::AxumH2c, 25_000.0),
            h2(3, H2Target::LatchkeyH2c, 25_000.0),
            h2(3, H2Target::AxumH2c, 25_000.0),
            h2(1, H2Target::LatchkeyTls, 15_000.0),
        ];
        let table = h2_table(&runs);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        // Ratios 1.5, 0.8, 1.0: median 1.0.
        assert_eq!(lines[2], "| latchkey, h2c | 25000 | 2.50 ms | 1.00x |");
        assert_eq!(lines[3], "| axum peer, h2c | 25000 | 2.50 ms | - |");
        assert!(lines[4].starts_with("| latchkey, TLS"), "{}", lines[4]);
        assert!(describe_h2(&runs[0], 3).starts_with("[round 1/3] h2load GET /me latchkey, h2c"));
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
        assert_eq!((ok.axum_peer, ok.h2load), (None, None));
        let both = parse(args(
            "--server s --wrk w --state-dir d --axum-peer a --h2load h",
        ))
        .expect("valid");
        assert_eq!(both.axum_peer, Some(PathBuf::from("a")));
        assert_eq!(both.h2load, Some(PathBuf::from("h")));
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
