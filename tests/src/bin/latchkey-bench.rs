//! The load driver behind `cargo xtask bench-server`: starts the server on a free
//! loopback port with a fresh database and drives it with a closed-loop load from
//! keep-alive connections, bounded in time and in count.
//!
//! Usage: `latchkey-bench --server BIN [--duration SECS] [--connections N] [--max-requests N]
//! [--flask HOST:PORT]`
//!
//! With `--flask`, the same kinds of requests also go to the Flask reference peer
//! (`../shared/reference/`, started by hand as its README says), one after the other
//! in the same run, so that the ratios compare like with like on a shared machine.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latchkey_e2e::http::Client;
use latchkey_e2e::scenario::{self, DEVICE, PASSWORD, USER};
use latchkey_e2e::{Error, TempDir};
use serde_json::json;

const USAGE: &str =
    "usage: latchkey-bench --server BIN [--duration SECS] [--connections N] [--max-requests N]";
const MAX_DURATION: u64 = 60;
const MAX_CONNECTIONS: u64 = 64;

struct Options {
    server: PathBuf,
    flask: Option<SocketAddr>,
    duration: Duration,
    connections: u64,
    max_requests: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        server: PathBuf::new(),
        flask: None,
        duration: Duration::from_secs(10),
        connections: 8,
        max_requests: 200_000,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = iter.next().ok_or(format!("{arg} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{arg}: `{value}` is not a number"))
        };
        match arg.as_str() {
            "--server" => options.server = PathBuf::from(value),
            "--duration" => {
                options.duration = Duration::from_secs(number()?.clamp(1, MAX_DURATION))
            }
            "--connections" => options.connections = number()?.clamp(1, MAX_CONNECTIONS),
            "--max-requests" => options.max_requests = number()?.max(1),
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
    if options.server.as_os_str().is_empty() {
        return Err("--server is required".into());
    }
    Ok(options)
}

/// One kind of request to measure.
struct Scenario {
    name: String,
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    bearer: Option<String>,
}

impl Scenario {
    fn new(name: &str, method: &'static str, path: &str) -> Scenario {
        Scenario {
            name: name.to_string(),
            method,
            path: path.to_string(),
            body: None,
            bearer: None,
        }
    }

    fn json(mut self, body: &serde_json::Value) -> Scenario {
        self.body = Some(body.to_string().into_bytes());
        self
    }

    fn bearer(mut self, token: &str) -> Scenario {
        self.bearer = Some(token.to_string());
        self
    }
}

/// What one run measured.
#[derive(Default)]
struct Measured {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    elapsed: Duration,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or(0)
}

fn run_load(addr: SocketAddr, scenario: &Arc<Scenario>, options: &Options) -> Measured {
    let issued = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + options.duration;
    let start = Instant::now();
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            let issued = Arc::clone(&issued);
            let scenario = Arc::clone(scenario);
            let max = options.max_requests;
            std::thread::spawn(move || {
                let mut client = Client::keep_alive(addr);
                client.set_timeout(Duration::from_secs(30));
                let mut m = Measured::default();
                let body = scenario.body.as_deref().map(|b| ("application/json", b));
                while Instant::now() < end && issued.fetch_add(1, Ordering::Relaxed) < max {
                    let t0 = Instant::now();
                    let bearer = scenario.bearer.as_deref();
                    match client.request(scenario.method, &scenario.path, bearer, body) {
                        Ok(r) => {
                            m.latencies_us.push(t0.elapsed().as_micros() as u64);
                            *m.statuses.entry(r.status).or_default() += 1;
                        }
                        Err(_) => m.errors += 1,
                    }
                }
                m
            })
        })
        .collect();
    let mut total = Measured::default();
    for worker in workers {
        match worker.join() {
            Ok(m) => {
                total.latencies_us.extend(m.latencies_us);
                for (status, n) in m.statuses {
                    *total.statuses.entry(status).or_default() += n;
                }
                total.errors += m.errors;
            }
            Err(_) => total.errors += 1,
        }
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

fn report(scenario: &Scenario, options: &Options, m: &Measured) {
    let done = m.latencies_us.len() as f64;
    let secs = m.elapsed.as_secs_f64().max(1e-9);
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{:<28} {:>3} conns {:>8.0} req/s   p50 {:>7.2} ms   p90 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        scenario.name,
        options.connections,
        done / secs,
        ms(percentile(&m.latencies_us, 0.50)),
        ms(percentile(&m.latencies_us, 0.90)),
        ms(percentile(&m.latencies_us, 0.99)),
        ms(m.latencies_us.last().copied().unwrap_or(0)),
    );
    let statuses: Vec<String> = m
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!(
        "{:<28} {} responses in {:.1} s; statuses {{{}}}; errors {}",
        "",
        m.latencies_us.len(),
        secs,
        statuses.join(", "),
        m.errors
    );
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

fn measure(addr: SocketAddr, scenarios: Vec<Scenario>, options: &Options) -> bool {
    let mut ok = true;
    for scenario in scenarios {
        let scenario = Arc::new(scenario);
        let measured = run_load(addr, &scenario, options);
        report(&scenario, options, &measured);
        let all_ok = measured.statuses.keys().all(|s| (200..300).contains(s));
        ok &= measured.errors == 0 && all_ok && !measured.latencies_us.is_empty();
    }
    ok
}

fn run(options: &Options) -> Result<bool, Error> {
    let dir = TempDir::new("bench")?;
    let prepared = scenario::prepare(&options.server, &dir.path().join("latchkey.db"))?;
    let server = prepared.builder.clone().start()?;
    println!(
        "bench: {} on {}; each scenario {} s or {} requests, {} keep-alive connections",
        options.server.display(),
        server.addr(),
        options.duration.as_secs(),
        options.max_requests,
        options.connections
    );
    let access = login(server.addr(), USER, PASSWORD)?;
    let credentials = json!({ "username": USER, "password": PASSWORD });
    let latchkey = vec![
        Scenario::new("latchkey GET /healthz", "GET", "/healthz"),
        Scenario::new("latchkey GET /me", "GET", "/me").bearer(&access),
        Scenario::new(
            "latchkey POST command",
            "POST",
            &format!("/devices/{DEVICE}/commands"),
        )
        .json(&json!({ "command": "status" }))
        .bearer(&access),
        Scenario::new("latchkey POST /login", "POST", "/login").json(&credentials),
    ];
    let mut ok = measure(server.addr(), latchkey, options);

    if let Some(flask) = options.flask {
        // The reference peer's users (shared/reference/README.md).
        let (user, password) = ("alice", "correct horse battery staple");
        let access = login(flask, user, password)?;
        let flask_scenarios = vec![
            Scenario::new("flask GET /protected", "GET", "/protected").bearer(&access),
            Scenario::new("flask POST /login", "POST", "/login")
                .json(&json!({ "username": user, "password": password })),
        ];
        ok &= measure(flask, flask_scenarios, options);
    }
    Ok(ok)
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
            eprintln!("latchkey-bench: errors or non-2xx answers during the load (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("latchkey-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
