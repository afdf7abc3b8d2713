//! The one place that starts Latchkey's real parts, for the end-to-end tests, the
//! server's own integration tests, the demo, the benchmark and `cargo xtask firmware`:
//! the firmware under QEMU ([`Qemu`], UART over loopback TCP; [`qemu::command`] is
//! the one QEMU command line), the login server ([`Server`], port 0, an SQLite file in
//! a [`TempDir`]), the Flask-JWT-Extended peer ([`flask`]), the axum + jsonwebtoken
//! peer ([`axum_peer`]), the `wrk` and `h2load` load generators ([`wrk`], [`h2load`]),
//! a throwaway PostgreSQL cluster ([`Postgres`]); with an HTTP client
//! ([`http::Client`], on `ureq`) and golden transcripts ([`golden`]).
//!
//! Every child process is killed when its handle drops, failed tests included, and every
//! wait has a deadline.
//!
//! ```no_run
//! use latchkey_harness::{Qemu, Server, protocol, temp_dir};
//!
//! # fn main() -> Result<(), latchkey_harness::Error> {
//! let dir = temp_dir("doc")?;
//! let server = Server::start(&dir.path().join("latchkey.db"))?;
//! let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
//! let exchange = device.command(protocol::Command::Status, "not-a-token")?;
//! assert_eq!(exchange.answer(), "DENIED malformed");
//! let health = server.client().get("/healthz", None)?;
//! println!("{} {}", health.status, exchange.verdict);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod axum_peer;
pub mod flask;
pub mod golden;
pub mod h2load;
pub mod http;
pub mod postgres;
mod process;
pub mod qemu;
pub mod scenario;
mod server;
mod uart;
pub mod wrk;

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The device/server contract: what the harness writes to and reads from a device.
pub use latchkey_protocol as protocol;
pub use postgres::Postgres;
pub use process::Process;
pub use qemu::Qemu;
pub use server::{Server, ServerBuilder};
pub use tempfile::TempDir;
pub use uart::{Exchange, Uart};

/// The one error type of the harness.
#[derive(Debug)]
pub enum Error {
    /// An I/O operation failed; `what` says which.
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A wait ran past its deadline.
    Timeout {
        /// What was awaited.
        what: String,
        /// Output of the process involved, for diagnosis (may be empty).
        output: String,
    },
    /// A child process exited when it should have kept running.
    Exited {
        /// Which process.
        what: String,
        /// Its exit status and output.
        output: String,
    },
    /// A peer answered something that does not follow the protocol.
    Protocol(String),
    /// A binary the test needs has not been built; the string says how to build it.
    NotBuilt(String),
    /// A golden transcript differs from what the test produced.
    Golden(String),
    /// A program the test needs is not installed; the string says which and how
    /// to install it.
    Unavailable(String),
}

impl Error {
    /// An `io::Error` mapper that says what was being done: `.map_err(Error::io("reading x"))`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Timeout { what, output } => {
                write!(f, "timed out waiting for {what}")?;
                if !output.is_empty() {
                    write!(f, "\n--- output ---\n{output}")?;
                }
                Ok(())
            }
            Error::Exited { what, output } => write!(f, "{what} exited early\n{output}"),
            Error::Protocol(msg)
            | Error::NotBuilt(msg)
            | Error::Golden(msg)
            | Error::Unavailable(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A point in time after which a wait gives up.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    /// The deadline `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline(Instant::now() + limit)
    }

    /// Time left, or `None` once it has passed.
    pub fn remaining(self) -> Option<Duration> {
        self.0
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

/// A fresh, empty directory under the system temp dir whose name holds `label`,
/// removed with its contents when the handle drops.
///
/// # Errors
/// `Error::Io` when it cannot be created.
pub fn temp_dir(label: &str) -> Result<TempDir, Error> {
    tempfile::Builder::new()
        .prefix(&format!("latchkey-{label}-"))
        .tempdir()
        .map_err(Error::io(format!("creating a temp dir for {label}")))
}

/// A loopback TCP port that was free a moment ago (callers retry if it is taken).
///
/// # Errors
/// `Error::Io` when no loopback port can be bound.
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(Error::io("binding a loopback port"))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("reading the bound port"))?;
    Ok(addr.port())
}

/// A command's program and arguments as one line, for messages and the record.
pub fn command_line(cmd: &std::process::Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The workspace root (this crate lives in `<root>/tests/harness`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workspace's target directory: `$CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// A built artifact: the path in `env_var` when set, else `default`; it must exist.
///
/// # Errors
/// `Error::NotBuilt` naming `build` (the command that builds it) when it is missing.
pub fn locate(env_var: &str, default: PathBuf, build: &str) -> Result<PathBuf, Error> {
    let path = std::env::var_os(env_var).map_or(default, PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::NotBuilt(format!(
            "{} is missing: build it with `{build}` (`cargo xtask test` does), \
             or point {env_var} at it",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dir_is_created_and_removed() {
        let dir = temp_dir("selftest").expect("temp dir");
        let path = dir.path().to_path_buf();
        assert!(path.to_string_lossy().contains("latchkey-selftest-"));
        std::fs::write(path.join("file"), b"x").expect("writable");
        let other = temp_dir("selftest").expect("second temp dir");
        assert_ne!(other.path(), path);
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn deadline_runs_out() {
        let deadline = Deadline::after(Duration::from_millis(30));
        assert!(deadline.remaining().is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(deadline.remaining().is_none());
    }

    #[test]
    fn locate_prefers_the_env_var_and_reports_missing_files() {
        let missing = locate(
            "LATCHKEY_E2E_SELFTEST_UNSET_VAR",
            PathBuf::from("/nonexistent/latchkey-server"),
            "cargo build -p latchkey-server",
        );
        match missing {
            Err(Error::NotBuilt(msg)) => assert!(msg.contains("cargo build -p latchkey-server")),
            other => panic!("expected NotBuilt, got {other:?}"),
        }
        let exe = std::env::current_exe().expect("test binary");
        assert_eq!(
            locate("LATCHKEY_E2E_SELFTEST_UNSET_VAR", exe.clone(), "").ok(),
            Some(exe)
        );
    }

    #[test]
    fn target_dir_is_next_to_the_workspace_manifest() {
        assert!(workspace_root().join("core/Cargo.toml").is_file());
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert_eq!(target_dir(), workspace_root().join("target"));
        }
    }
}
