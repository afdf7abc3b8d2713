//! Harness for Latchkey's end-to-end tests and demo: the real firmware under QEMU
//! ([`Qemu`], UART over loopback TCP), the real login server ([`Server`], port 0, an
//! SQLite file in a [`TempDir`]), a small blocking HTTP/1.1 client ([`http::Client`]),
//! golden transcripts ([`golden`]) and the `wrk` load generator ([`wrk`]).
//!
//! Every child process is killed when its handle drops, failed tests included, and every
//! wait has a deadline.
//!
//! ```no_run
//! use latchkey_e2e::{Qemu, Server, TempDir};
//!
//! # fn main() -> Result<(), latchkey_e2e::Error> {
//! let dir = TempDir::new("doc")?;
//! let server = Server::start(&dir.path().join("latchkey.db"))?;
//! let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
//! let answer = device.request("status not-a-token")?;
//! assert!(answer.starts_with("DENIED "));
//! let health = server.client().get("/healthz", None)?;
//! println!("{} {}", health.status, answer);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod golden;
pub mod http;
mod process;
mod qemu;
pub mod scenario;
mod server;
mod uart;
pub mod wrk;

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use process::Process;
pub use qemu::Qemu;
pub use server::{Server, ServerBuilder};
pub use uart::Uart;

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
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
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
            Error::Protocol(msg) | Error::NotBuilt(msg) | Error::Golden(msg) => f.write_str(msg),
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

/// A directory under the system temp dir, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh, empty directory whose name contains `label`.
    ///
    /// # Errors
    /// `Error::Io` when it cannot be created.
    pub fn new(label: &str) -> Result<TempDir, Error> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "latchkey-e2e-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).map_err(Error::io(format!("creating {}", path.display())))?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// The workspace's target directory: `$CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
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
        let dir = TempDir::new("selftest").expect("temp dir");
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("file"), b"x").expect("writable");
        let other = TempDir::new("selftest").expect("second temp dir");
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
        let dir = target_dir();
        let root = dir.parent().expect("has a parent");
        assert!(
            root.join("Cargo.toml").is_file() || std::env::var_os("CARGO_TARGET_DIR").is_some()
        );
    }
}
