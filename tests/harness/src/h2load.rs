//! `h2load`, nghttp2's HTTP/2 load generator (Debian package `nghttp2-client`), driven
//! for `cargo xtask bench-server`'s HTTP/2 figures (wrk speaks only HTTP/1.1): a fixed
//! number of GET requests with a bearer token over h2c (prior knowledge) or TLS (ALPN
//! h2), bounded in time, and its summary read back; and the self-signed certificate a
//! TLS server is started with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Deadline, Error, Process, command_line};

/// Clients (connections) per run.
pub const CLIENTS: u32 = 8;
/// Concurrent streams per connection.
pub const STREAMS: u32 = 10;
/// How long a run may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What one h2load run reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The protocol it negotiated (`h2c`, `h2`), from `Application protocol:`.
    pub protocol: String,
    /// Requests per second over the run (`finished in ..., N req/s`).
    pub requests_per_sec: f64,
    /// Requests done.
    pub done: u64,
    /// Requests that failed, errored or timed out.
    pub failed: u64,
    /// Responses with a 2xx status.
    pub ok: u64,
    /// The mean time for a request.
    pub mean: Duration,
}

impl Report {
    /// Whether every request was answered with a 2xx.
    pub fn all_ok(&self) -> bool {
        self.done > 0 && self.failed == 0 && self.ok == self.done
    }
}

/// The number after `label` in `line` (`"2xx"` in `status codes: 10 2xx, ...` is
/// found by the label following the number).
fn count_before(line: &str, label: &str) -> Option<u64> {
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .find(|w| w[1] == label)
        .and_then(|w| w[0].parse().ok())
}

/// An h2load duration (`70us`, `11.97ms`, `1.2s`).
fn duration(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value * scale))
}

/// Reads h2load's summary.
///
/// # Errors
/// `Error::Protocol` when a line of the summary is missing or malformed.
pub fn parse(output: &str) -> Result<Report, Error> {
    let find = |prefix: &str| {
        output
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .ok_or_else(|| Error::Protocol(format!("h2load printed no `{prefix}` line")))
    };
    let bad = |what: &str, line: &str| Error::Protocol(format!("h2load's {what}: `{line}`"));
    let finished = find("finished in ")?;
    let requests_per_sec = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| bad("finished line", finished))?;
    let requests = find("requests: ")?;
    let count = |label| count_before(requests, label).ok_or_else(|| bad("requests line", requests));
    let done = count("done")?;
    let failed = count("failed")? + count("errored")? + count("timeout")?;
    let statuses = find("status codes: ")?;
    let ok = count_before(statuses, "2xx").ok_or_else(|| bad("status codes", statuses))?;
    let timing = find("time for request:")?;
    let mean = timing
        .split_whitespace()
        .nth(2)
        .and_then(duration)
        .ok_or_else(|| bad("time for request", timing))?;
    let protocol = find("Application protocol:")
        .map(|p| p.trim().to_string())
        .unwrap_or_default();
    Ok(Report {
        protocol,
        requests_per_sec,
        done,
        failed,
        ok,
        mean,
    })
}

/// The h2load program.
#[derive(Clone, Debug)]
pub struct H2load {
    bin: PathBuf,
}

impl H2load {
    /// h2load at `bin`.
    pub fn new(bin: &Path) -> H2load {
        H2load {
            bin: bin.to_path_buf(),
        }
    }

    /// `h2load -n requests -c 8 -m 10 -t 1 -H "Authorization: Bearer TOKEN" url`: h2c
    /// for `http://`, TLS with ALPN h2 for `https://` (h2load does not check the
    /// certificate). h2load refuses fewer requests than clients: `requests` is raised
    /// to [`CLIENTS`].
    pub fn command(&self, url: &str, token: &str, requests: u32) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-n")
            .arg(requests.max(CLIENTS).to_string())
            .arg("-c")
            .arg(CLIENTS.to_string())
            .arg("-m")
            .arg(STREAMS.to_string())
            .args(["-t", "1", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg(url);
        cmd
    }

    /// Runs [`H2load::command`] to the end (killed after two minutes) and reads its
    /// summary; returns the command line with it.
    ///
    /// # Errors
    /// `Error::Timeout` past the deadline, `Error::Protocol` with h2load's output when
    /// it printed no summary.
    pub fn run(&self, url: &str, token: &str, requests: u32) -> Result<(String, Report), Error> {
        let mut cmd = self.command(url, token, requests);
        let line = command_line(&cmd).replace(token, "TOKEN");
        let mut process = Process::spawn("h2load", &mut cmd)?;
        let deadline = Deadline::after(TIMEOUT);
        loop {
            match process.check_running() {
                Ok(()) if deadline.remaining().is_some() => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(()) => {
                    return Err(Error::Timeout {
                        what: format!("`{line}` to finish"),
                        output: process.output(),
                    });
                }
                Err(Error::Exited { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        let stdout = String::from_utf8_lossy(&process.stdout()).into_owned();
        let report = parse(&stdout)
            .map_err(|e| Error::Protocol(format!("`{line}`: {e}\n{}", process.output())))?;
        Ok((line, report))
    }
}

/// Writes a self-signed certificate for `localhost` and 127.0.0.1 to `dir/cert.pem`
/// and its key to `dir/key.pem` (mode 0600, as the server requires), and returns
/// both paths.
///
/// # Errors
/// `Error::Io` when a file cannot be written, `Error::Protocol` when rcgen fails.
pub fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), Error> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| Error::Protocol(format!("making a certificate: {e}")))?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, made.cert.pem())
        .map_err(Error::io(format!("writing {}", cert.display())))?;
    // A fresh file at 0600: an old one is removed first, as open keeps its mode.
    let _ = std::fs::remove_file(&key);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)
        .and_then(|mut f| f.write_all(made.signing_key.serialize_pem().as_bytes()))
        .map_err(Error::io(format!("writing {}", key.display())))?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h2load 1.52's output for an h2c run.
    const RUN: &str = "\
starting benchmark...
spawning thread #0: 8 total client(s). 100000 total requests
Application protocol: h2c
progress: 10% done

finished in 3.27s, 30581.40 req/s, 1.23MB/s
requests: 100000 total, 100000 started, 99990 done, 99980 succeeded, 10 failed, 2 errored, 1 timeout
status codes: 99980 2xx, 0 3xx, 10 4xx, 0 5xx
traffic: 4.03MB (4224851) total, 1.24MB (1301507) headers (space savings 95.11%), 2.10MB (2200000) data
                     min         max         mean         sd        +/- sd
time for request:       70us     11.97ms      2.54ms      1.09ms    71.82%
time for connect:      135us       468us       331us       122us    75.00%
";

    #[test]
    fn parses_the_summary() {
        let r = parse(RUN).expect("parses");
        assert_eq!(r.protocol, "h2c");
        assert!((r.requests_per_sec - 30581.40).abs() < 1e-9);
        assert_eq!((r.done, r.failed, r.ok), (99_990, 13, 99_980));
        assert_eq!(r.mean, Duration::from_micros(2540));
        assert!(!r.all_ok());
        let clean = RUN
            .replace(
                "99990 done, 99980 succeeded, 10 failed, 2 errored, 1 timeout",
                "100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout",
            )
            .replace("99980 2xx, 0 3xx, 10 4xx", "100000 2xx, 0 3xx, 0 4xx");
        assert!(parse(&clean).expect("parses").all_ok());
    }

    #[test]
    fn a_run_without_a_summary_is_an_error() {
        assert!(parse("connect to 127.0.0.1:1 failed: Connection refused").is_err());
        assert!(parse(&RUN.replace("30581.40 req/s", "fast")).is_err());
        assert!(parse(&RUN.replace("2.54ms", "2.54")).is_err());
        assert_eq!(duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(duration("-1ms"), None);
    }

    #[test]
    fn command_line_is_bounded_and_names_the_token() {
        let cmd = H2load::new(Path::new("h2load")).command("http://127.0.0.1:1/me", "T", 1000);
        assert_eq!(
            command_line(&cmd),
            "h2load -n 1000 -c 8 -m 10 -t 1 -H Authorization: Bearer T http://127.0.0.1:1/me"
        );
        let few = H2load::new(Path::new("h2load")).command("http://127.0.0.1:1/me", "T", 1);
        assert!(command_line(&few).starts_with("h2load -n 8 -c 8 "));
    }

    #[test]
    fn the_certificate_key_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = crate::temp_dir("cert").expect("temp dir");
        let (cert, key) = self_signed(dir.path()).expect("made");
        assert!(
            std::fs::read_to_string(cert)
                .expect("cert")
                .contains("BEGIN CERTIFICATE")
        );
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Again over the old files.
        self_signed(dir.path()).expect("made again");
    }
}
