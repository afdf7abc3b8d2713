//! `wrk`, the HTTP load generator (Debian package `wrk`, 4.1), driven for
//! `cargo xtask bench-server`: Lua scripts that set the method, headers and body and
//! print wrk's summary as one JSON line ([`REPORT_LUA`]), runs bounded in time (and
//! killed past a deadline).
//!
//! wrk is closed-loop: each connection sends its next request when the previous answer
//! is in, so its latencies leave out the queueing an open-loop client would see.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Deadline, Error, Process, command_line};

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

/// The `done` callback every script ends with: wrk's summary as one line of JSON
/// after [`REPORT_PREFIX`] (times in microseconds), which [`parse`] reads.
pub const REPORT_LUA: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-report: {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%.1f,\"p75_us\":%.1f," ..
    "\"p90_us\":%.1f,\"p99_us\":%.1f,\"status\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"timeout\":%d}\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), e.status, e.connect, e.read, e.write, e.timeout))
end
"#;

/// What starts the JSON report line among wrk's output.
pub const REPORT_PREFIX: &str = "wrk-report: ";

/// A wrk Lua script that sends every request with `method`, `headers` and `body`,
/// then reports through [`REPORT_LUA`]. Requests are set up once in wrk's tables (no
/// per-request Lua callbacks, which would slow wrk).
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
    lua.push_str(REPORT_LUA);
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
    /// Responses received.
    pub requests: u64,
    /// The run's length as wrk measured it.
    pub elapsed: Duration,
    /// Responses per second over the run.
    pub requests_per_sec: f64,
    /// Latency percentiles: 50 %.
    pub p50: Duration,
    /// 75 %.
    pub p75: Duration,
    /// 90 %.
    pub p90: Duration,
    /// 99 %.
    pub p99: Duration,
    /// Responses with a status above 399.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// Reads the report line [`REPORT_LUA`] printed among wrk's stdout.
///
/// # Errors
/// `Error::Protocol` when there is no report line, or it lacks a field.
pub fn parse(output: &str) -> Result<Report, Error> {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix(REPORT_PREFIX))
        .ok_or_else(|| Error::Protocol("wrk printed no report line".into()))?;
    let json: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| Error::Protocol(format!("wrk's report is not JSON ({e}): {line}")))?;
    let number = |name: &str| {
        json.get(name)
            .and_then(serde_json::Value::as_f64)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| Error::Protocol(format!("wrk's report has no `{name}`: {line}")))
    };
    // Counts are integers printed by `%d`; the casts cannot lose anything.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = |name: &str| number(name).map(|v| v as u64);
    let micros = |name: &str| number(name).map(|v| Duration::from_secs_f64(v / 1e6));
    let requests = count("requests")?;
    let elapsed = micros("duration_us")?;
    let requests_per_sec = if elapsed.is_zero() {
        0.0
    } else {
        requests as f64 / elapsed.as_secs_f64()
    };
    Ok(Report {
        requests,
        elapsed,
        requests_per_sec,
        p50: micros("p50_us")?,
        p75: micros("p75_us")?,
        p90: micros("p90_us")?,
        p99: micros("p99_us")?,
        non_2xx: count("status")?,
        socket_errors: count("connect")? + count("read")? + count("write")? + count("timeout")?,
    })
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
            .args(["--timeout", REQUEST_TIMEOUT, "-s"])
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
        let line = command_line(&cmd);
        let process = Process::spawn("wrk", &mut cmd)?;
        Ok(Running {
            process,
            line,
            deadline: Deadline::after(duration + GRACE),
        })
    }
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

    /// What [`REPORT_LUA`] prints, among wrk's own text report.
    const RUN: &str = "\
Running 1s test @ http://127.0.0.1:18931/nonexistent
  1 threads and 8 connections
  610 requests in 1.10s, 309.77KB read
  Non-2xx or 3xx responses: 610
wrk-report: {\"requests\":610,\"duration_us\":1100000,\"p50_us\":2760.0,\"p75_us\":5480.5,\"p90_us\":7080.0,\"p99_us\":19160.0,\"status\":610,\"connect\":1,\"read\":2,\"write\":0,\"timeout\":4}
Requests/sec:    554.73
";

    #[test]
    fn parses_the_json_report_line() {
        let r = parse(RUN).expect("parses");
        assert_eq!(r.requests, 610);
        assert_eq!(r.elapsed, Duration::from_millis(1100));
        assert!((r.requests_per_sec - 610.0 / 1.1).abs() < 1e-6);
        assert_eq!(
            [r.p50, r.p75, r.p90, r.p99],
            [
                Duration::from_micros(2760),
                Duration::from_nanos(5_480_500),
                Duration::from_micros(7080),
                Duration::from_micros(19160)
            ]
        );
        assert_eq!((r.non_2xx, r.socket_errors), (610, 7));
    }

    #[test]
    fn a_run_without_a_report_line_or_with_a_field_missing_is_an_error() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_err());
        let no_p99 = RUN.replace(",\"p99_us\":19160.0", "");
        match parse(&no_p99) {
            Err(Error::Protocol(msg)) => assert!(msg.contains("p99_us"), "{msg}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        assert!(parse(&RUN.replace("\"requests\":610", "\"requests\":-1")).is_err());
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
            format!(
                "wrk.method = \"POST\"\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.body = \"{{\\\"a\\\":\\\"b\\\\\\\"c\\\",\\\"d\\\":\\\"\\\\n\\\"}}\"\n{REPORT_LUA}"
            )
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
            command_line(&cmd),
            "/usr/bin/wrk -t1 -c8 -d10s --timeout 10s -s /tmp/me.lua http://127.0.0.1:1/me"
        );
    }
}

#[cfg(test)]
mod live {
    use super::*;
    use crate::temp_dir;
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
        let dir = temp_dir("wrk").expect("temp dir");
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
