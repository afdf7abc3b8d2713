//! `wrk`, the HTTP load generator (Debian package `wrk`, 4.1), driven for
//! `cargo xtask bench-server`: Lua scripts that set the method, headers and body, runs
//! bounded in time (and killed past a deadline), and its text report parsed.
//!
//! wrk is closed-loop: each connection sends its next request when the previous answer
//! is in, so its latencies leave out the queueing an open-loop client would see.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Deadline, Error, Process};

/// wrk threads per run (one: the machine has two cores, shared with the server).
pub const THREADS: u32 = 1;
/// Concurrent keep-alive connections per run.
pub const CONNECTIONS: u32 = 8;
/// Per-request timeout given to wrk: slow answers (a login flood) stay in the latency
/// histogram instead of being dropped as wrk's default 2 s timeouts.
const REQUEST_TIMEOUT: &str = "10s";
/// How long past its `-d` a run may take before it is killed (wrk waits for answers
/// in flight, up to its request timeout).
const GRACE: Duration = Duration::from_secs(15);

/// A wrk Lua script that sends every request with `method`, `headers` and `body`.
/// Set up once in wrk's tables (no per-request Lua callbacks, which would slow wrk).
pub fn script(method: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
    let mut lua = format!("wrk.method = {}\n", lua_string(method));
    for (name, value) in headers {
        let _ = writeln!(
            lua,
            "wrk.headers[{}] = {}",
            lua_string(name),
            lua_string(value)
        );
    }
    if let Some(body) = body {
        let _ = writeln!(lua, "wrk.body = {}", lua_string(body));
    }
    lua
}

/// `text` as a double-quoted Lua string literal.
fn lua_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for byte in text.bytes() {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            // Decimal escapes, three digits so that a following digit is not absorbed.
            0..=0x1f | 0x7f.. => {
                let _ = write!(out, "\\{byte:03}");
            }
            _ => out.push(char::from(byte)),
        }
    }
    out.push('"');
    out
}

/// What one wrk run reported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    /// Responses received (`N requests in ...`).
    pub requests: u64,
    /// The run's length as wrk measured it.
    pub elapsed: Duration,
    /// `Requests/sec`.
    pub requests_per_sec: f64,
    /// Latency percentiles (`Latency Distribution`): 50 %.
    pub p50: Duration,
    /// 75 %.
    pub p75: Duration,
    /// 90 %.
    pub p90: Duration,
    /// 99 %.
    pub p99: Duration,
    /// Responses with a status above 399 (`Non-2xx or 3xx responses`).
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts (`Socket errors`).
    pub socket_errors: u64,
}

/// Reads wrk's report (its stdout with `--latency`).
///
/// # Errors
/// `Error::Protocol` naming the first line that is missing or unreadable.
pub fn parse(output: &str) -> Result<Report, Error> {
    let bad = |what: &str| Error::Protocol(format!("wrk report: no readable {what} line"));
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let value = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let percentile = |p: &str| {
        value(&format!("{p}%"))
            .and_then(duration)
            .ok_or_else(|| bad(&format!("{p}% latency")))
    };
    // "610 requests in 1.10s, 309.77KB read"
    let (requests, elapsed) = lines
        .iter()
        .find_map(|l| {
            let (count, rest) = l.split_once(" requests in ")?;
            let secs = rest.split(',').next()?;
            Some((count.trim().parse().ok()?, duration(secs)?))
        })
        .ok_or_else(|| bad("`N requests in T`"))?;
    let requests_per_sec = value("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("Requests/sec"))?;
    // Present only when there were any.
    let non_2xx = match value("Non-2xx or 3xx responses:") {
        None => 0,
        Some(v) => v.parse().map_err(|_| bad("Non-2xx"))?,
    };
    // "Socket errors: connect 0, read 3, write 0, timeout 2"
    let socket_errors = match value("Socket errors:") {
        None => 0,
        Some(v) => v
            .split(',')
            .map(|part| {
                part.split_whitespace()
                    .last()
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .sum::<Option<u64>>()
            .ok_or_else(|| bad("Socket errors"))?,
    };
    Ok(Report {
        requests,
        elapsed,
        requests_per_sec,
        p50: percentile("50")?,
        p75: percentile("75")?,
        p90: percentile("90")?,
        p99: percentile("99")?,
        non_2xx,
        socket_errors,
    })
}

/// A time as wrk prints it: `245.12us`, `3.77ms`, `1.10s`, `2.00m`, `1.00h`.
fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds_per_unit = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(number * seconds_per_unit).ok()
}

/// The wrk program.
#[derive(Clone, Debug)]
pub struct Wrk {
    bin: PathBuf,
}

impl Wrk {
    /// wrk at `bin`.
    pub fn new(bin: &Path) -> Wrk {
        Wrk {
            bin: bin.to_path_buf(),
        }
    }

    /// The command line of a run: [`THREADS`] threads, [`CONNECTIONS`] connections,
    /// `duration` (whole seconds), `--latency`, `script` for the requests.
    fn command(&self, url: &str, script: &Path, duration: Duration) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg(format!("-t{THREADS}"))
            .arg(format!("-c{CONNECTIONS}"))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .args(["--latency", "--timeout", REQUEST_TIMEOUT, "-s"])
            .arg(script)
            .arg(url);
        cmd
    }

    /// Starts a run in the background; [`Running::finish`] waits for its report.
    ///
    /// # Errors
    /// `Error::Io` when wrk cannot be started.
    pub fn start(&self, url: &str, script: &Path, duration: Duration) -> Result<Running, Error> {
        let mut cmd = self.command(url, script, duration);
        let line = show(&cmd);
        let process = Process::spawn("wrk", &mut cmd)?;
        Ok(Running {
            process,
            line,
            deadline: Deadline::after(duration + GRACE),
        })
    }
}

/// The command line, for the record.
fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A wrk run in progress; killed if dropped before it finishes.
pub struct Running {
    process: Process,
    line: String,
    deadline: Deadline,
}

impl Running {
    /// The command line it runs.
    pub fn command_line(&self) -> &str {
        &self.line
    }

    /// Waits (until the run's deadline) for wrk to exit and reads its report.
    ///
    /// # Errors
    /// `Error::Timeout` past the deadline (wrk is then killed), `Error::Protocol` with
    /// wrk's output when it printed no report (e.g. connection refused).
    pub fn finish(mut self) -> Result<Report, Error> {
        loop {
            match self.process.check_running() {
                Ok(()) if self.deadline.remaining().is_some() => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(()) => {
                    return Err(Error::Timeout {
                        what: format!("`{}` to finish", self.line),
                        output: self.process.output(),
                    });
                }
                Err(Error::Exited { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        let stdout = String::from_utf8_lossy(&self.process.stdout()).into_owned();
        parse(&stdout).map_err(|e| {
            Error::Protocol(format!("`{}`: {e}\n{}", self.line, self.process.output()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian wrk 4.1.0 against `python3 -m http.server` asked for a missing file (so
    /// every answer is a 404), captured on the build machine.
    const NOT_FOUND_RUN: &str = "\
Running 1s test @ http://127.0.0.1:18931/nonexistent
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.77ms    3.18ms  30.42ms   89.04%
    Req/Sec   557.82    166.75     0.92k    72.73%
  Latency Distribution
     50%    2.76ms
     75%    5.48ms
     90%    7.08ms
     99%   19.16ms
  610 requests in 1.10s, 309.77KB read
  Non-2xx or 3xx responses: 610
Requests/sec:    554.73
Transfer/sec:    281.70KB
";

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn parses_a_report_with_non_2xx_answers() {
        let r = parse(NOT_FOUND_RUN).expect("parses");
        assert_eq!(r.requests, 610);
        assert_eq!(r.elapsed, Duration::from_millis(1100));
        assert!((r.requests_per_sec - 554.73).abs() < 1e-9);
        assert_eq!(
            [r.p50, r.p75, r.p90, r.p99],
            [us(2760), us(5480), us(7080), us(19160)]
        );
        assert_eq!((r.non_2xx, r.socket_errors), (610, 0));
    }

    #[test]
    fn parses_microseconds_and_socket_errors() {
        let output = NOT_FOUND_RUN
            .replace("50%    2.76ms", "50%  245.50us")
            .replace("99%   19.16ms", "99%    1.20s")
            .replace(
                "  Non-2xx or 3xx responses: 610\n",
                "  Socket errors: connect 1, read 2, write 0, timeout 4\n",
            );
        let r = parse(&output).expect("parses");
        assert_eq!(r.p50, Duration::from_nanos(245_500));
        assert_eq!(r.p99, Duration::from_millis(1200));
        assert_eq!((r.non_2xx, r.socket_errors), (0, 7));
    }

    #[test]
    fn a_report_without_latencies_or_rate_is_an_error() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_err());
        let no_p99 = NOT_FOUND_RUN.replace("     99%   19.16ms\n", "");
        match parse(&no_p99) {
            Err(Error::Protocol(msg)) => assert!(msg.contains("99%"), "{msg}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        let no_rate = NOT_FOUND_RUN.replace("Requests/sec:    554.73", "Requests/sec: n/a");
        assert!(parse(&no_rate).is_err());
    }

    #[test]
    fn wrk_time_units() {
        assert_eq!(duration("10.00s"), Some(Duration::from_secs(10)));
        assert_eq!(duration("2.00m"), Some(Duration::from_secs(120)));
        assert_eq!(duration("1.00h"), Some(Duration::from_secs(3600)));
        assert_eq!(duration("12"), None);
        assert_eq!(duration("3.0ns"), None);
    }

    #[test]
    fn scripts_escape_quotes_backslashes_and_control_bytes() {
        let lua = script(
            "POST",
            &[("Content-Type", "application/json")],
            Some(r#"{"a":"b\"c","d":"\n"}"#),
        );
        assert_eq!(
            lua,
            "wrk.method = \"POST\"\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.body = \"{\\\"a\\\":\\\"b\\\\\\\"c\\\",\\\"d\\\":\\\"\\\\n\\\"}\"\n"
        );
        assert_eq!(lua_string("a\n1"), "\"a\\0101\"");
        assert_eq!(lua_string("é"), "\"\\195\\169\"");
    }

    #[test]
    fn command_line_is_bounded_and_uses_the_script() {
        let wrk = Wrk::new(Path::new("/usr/bin/wrk"));
        let cmd = wrk.command(
            "http://127.0.0.1:1/me",
            Path::new("/tmp/me.lua"),
            Duration::from_secs(10),
        );
        assert_eq!(
            show(&cmd),
            "/usr/bin/wrk -t1 -c8 -d10s --latency --timeout 10s -s /tmp/me.lua http://127.0.0.1:1/me"
        );
    }
}

#[cfg(test)]
mod live {
    use super::*;
    use crate::TempDir;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};

    /// Answers 200 to `POST /x` with header `x-test: yes` and body `hi`, 400 to anything
    /// else, on keep-alive connections.
    fn judge(stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut out = stream;
        loop {
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => head.push(line.trim_end().to_ascii_lowercase()),
                }
            }
            let length = head
                .iter()
                .find_map(|h| h.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let good = head.first().is_some_and(|l| l.starts_with("post /x "))
                && head.iter().any(|h| h == "x-test: yes")
                && body == b"hi";
            let status = if good { "200 OK" } else { "400 Bad Request" };
            let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            if out.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    }

    #[test]
    #[ignore = "needs wrk: run cargo xtask test (its setup installs wrk)"]
    fn wrk_sends_the_script_and_reports_the_answers() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || judge(stream));
            }
        });
        let dir = TempDir::new("wrk").expect("temp dir");
        let wrk = Wrk::new(Path::new("wrk"));
        let one_second = Duration::from_secs(1);
        let url = format!("http://{addr}/x");

        let good = dir.path().join("good.lua");
        std::fs::write(&good, script("POST", &[("X-Test", "yes")], Some("hi"))).expect("write");
        let r = wrk
            .start(&url, &good, one_second)
            .expect("starts")
            .finish()
            .expect("a report");
        assert!(r.requests > 0 && r.requests_per_sec > 0.0, "{r:?}");
        assert_eq!((r.non_2xx, r.socket_errors), (0, 0), "{r:?}");

        let bad = dir.path().join("bad.lua");
        std::fs::write(&bad, script("POST", &[("X-Test", "no")], Some("hi"))).expect("write");
        let r = wrk
            .start(&url, &bad, one_second)
            .expect("starts")
            .finish()
            .expect("a report");
        assert!(r.requests > 0, "{r:?}");
        assert_eq!(r.non_2xx, r.requests, "{r:?}");
    }
}
