//! Counters for operators, served at `GET /metrics` in the Prometheus text format
//! (version 0.0.4): requests by route and status, logins by outcome, password
//! checks in the hashing queue, and the time of the store calls the API makes.
//!
//! Plain atomics and one small locked map rather than the `metrics` crates: a
//! dozen series with fixed names do not need a registry, and the exporter crate
//! would bring its own HTTP stack and a dozen crates for it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How a password login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Tokens issued.
    Success,
    /// Wrong username or password.
    BadCredentials,
    /// Refused by the failed-login throttle or a full hashing queue.
    Throttled,
    /// The body was not a login request.
    Malformed,
    /// Anything else (a store failure, say).
    Error,
}

impl Login {
    const ALL: [Login; 5] = [
        Login::Success,
        Login::BadCredentials,
        Login::Throttled,
        Login::Malformed,
        Login::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            Login::Success => "success",
            Login::BadCredentials => "bad-credentials",
            Login::Throttled => "throttled",
            Login::Malformed => "malformed",
            Login::Error => "error",
        }
    }
}

/// A store call the API makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// The session check of every authenticated request (`Sessions::session`:
    /// a read of the revocation counter, shared by the requests waiting for it,
    /// and the session itself when the cache does not have it).
    Session,
    /// The login throttle's reservation, before every password check.
    Reserve,
    /// `Store::credentials`, on every login.
    Credentials,
    /// The throttle settling a login's reservation.
    Settle,
    /// `Store::device_exists`, on every command request.
    DeviceExists,
    /// `Store::start_session`, on every successful login.
    StartSession,
    /// `Store::rotate`, on every refresh.
    Rotate,
    /// `Store::logout`.
    Logout,
    /// `Store::record_command`, the audit record of every command token.
    RecordCommand,
    /// The read `GET /readyz` makes.
    Ready,
}

impl StoreOp {
    const ALL: [StoreOp; 10] = [
        StoreOp::Session,
        StoreOp::Reserve,
        StoreOp::Credentials,
        StoreOp::Settle,
        StoreOp::DeviceExists,
        StoreOp::StartSession,
        StoreOp::Rotate,
        StoreOp::Logout,
        StoreOp::RecordCommand,
        StoreOp::Ready,
    ];

    fn label(self) -> &'static str {
        match self {
            StoreOp::Session => "session",
            StoreOp::Reserve => "reserve",
            StoreOp::Credentials => "credentials",
            StoreOp::Settle => "settle",
            StoreOp::DeviceExists => "device_exists",
            StoreOp::StartSession => "start_session",
            StoreOp::Rotate => "rotate",
            StoreOp::Logout => "logout",
            StoreOp::RecordCommand => "record_command",
            StoreOp::Ready => "ready",
        }
    }
}

/// Upper bounds of the store latency buckets, in seconds (`+Inf` follows).
const BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Default)]
struct Histogram {
    /// Per bucket, not cumulative; the last one is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(BUCKETS.len());
        if let Some(count) = self.counts.get(i) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The server's counters; one per process, shared by every request.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    logins: [AtomicU64; Login::ALL.len()],
    hashing: AtomicI64,
    store: [Histogram; StoreOp::ALL.len()],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Counts a password check in the hashing queue for as long as it lives.
#[derive(Debug)]
pub struct Hashing<'a>(&'a AtomicI64);

impl Drop for Hashing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts an answered request. `route` is a route's pattern or `other`, so
    /// the series stay few whatever paths clients send.
    pub fn request(&self, route: &'static str, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route, status)).or_default() += 1;
        }
    }

    /// Counts a login's outcome.
    pub fn login(&self, outcome: Login) {
        if let Some(count) = Login::ALL
            .iter()
            .position(|&o| o == outcome)
            .and_then(|i| self.logins.get(i))
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A password check entering the hashing queue (waiting for a slot or
    /// hashing); it leaves when the guard drops.
    pub fn hashing(&self) -> Hashing<'_> {
        self.hashing.fetch_add(1, Ordering::Relaxed);
        Hashing(&self.hashing)
    }

    /// Runs a store call and records how long it took.
    pub fn store<T>(&self, op: StoreOp, call: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = call();
        self.observe(op, start.elapsed());
        out
    }

    /// Records how long a store call took.
    pub fn observe(&self, op: StoreOp, took: Duration) {
        if let Some(histogram) = StoreOp::ALL
            .iter()
            .position(|&o| o == op)
            .and_then(|i| self.store.get(i))
        {
            histogram.observe(took);
        }
    }

    /// All series in the Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP latchkey_http_requests_total HTTP requests answered, by route and status.\n\
             # TYPE latchkey_http_requests_total counter\n",
        );
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "latchkey_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP latchkey_logins_total Password logins, by outcome.\n\
             # TYPE latchkey_logins_total counter\n",
        );
        for (outcome, n) in Login::ALL.iter().zip(&self.logins) {
            let _ = writeln!(
                out,
                "latchkey_logins_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                n.load(Ordering::Relaxed)
            );
        }
        let _ = write!(
            out,
            "# HELP latchkey_hash_queue_depth Password checks waiting for or holding a hashing slot.\n\
             # TYPE latchkey_hash_queue_depth gauge\n\
             latchkey_hash_queue_depth {}\n",
            self.hashing.load(Ordering::Relaxed).max(0)
        );
        out.push_str(
            "# HELP latchkey_store_duration_seconds Time of the store calls the API makes, by operation.\n\
             # TYPE latchkey_store_duration_seconds histogram\n",
        );
        for (op, histogram) in StoreOp::ALL.iter().zip(&self.store) {
            let op = op.label();
            let mut cumulative = 0u64;
            let bounds = BUCKETS.iter().map(|b| b.to_string()).chain(["+Inf".into()]);
            for (le, count) in bounds.zip(&histogram.counts) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "latchkey_store_duration_seconds_bucket{{op=\"{op}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = Duration::from_nanos(histogram.sum_nanos.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "latchkey_store_duration_seconds_sum{{op=\"{op}\"}} {}\n\
                 latchkey_store_duration_seconds_count{{op=\"{op}\"}} {cumulative}",
                sum.as_secs_f64()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_rendered_cumulatively() {
        let m = Metrics::default();
        m.request("/me", 200);
        m.request("/me", 200);
        m.request("other", 404);
        m.login(Login::BadCredentials);
        let guard = m.hashing();
        m.store(StoreOp::Session, || ());
        m.store(StoreOp::Session, || {
            std::thread::sleep(Duration::from_millis(2));
        });
        let text = m.render();
        for line in [
            "latchkey_http_requests_total{route=\"/me\",status=\"200\"} 2",
            "latchkey_http_requests_total{route=\"other\",status=\"404\"} 1",
            "latchkey_logins_total{outcome=\"bad-credentials\"} 1",
            "latchkey_logins_total{outcome=\"success\"} 0",
            "latchkey_hash_queue_depth 1",
            "latchkey_store_duration_seconds_bucket{op=\"session\",le=\"+Inf\"} 2",
            "latchkey_store_duration_seconds_bucket{op=\"session\",le=\"0.001\"} 1",
            "latchkey_store_duration_seconds_count{op=\"session\"} 2",
            "latchkey_store_duration_seconds_count{op=\"rotate\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        drop(guard);
        assert!(m.render().contains("latchkey_hash_queue_depth 0\n"));
    }
}
