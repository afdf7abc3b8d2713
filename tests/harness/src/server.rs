//! The real `latchkey-server` binary on an ephemeral loopback port.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::http::Client;
use crate::{Deadline, Error, Process, locate, target_dir};

/// How long the server gets to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an offline admin command may take (a password hash in a debug build).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How to start a server; [`ServerBuilder::start`] starts it, [`Server::restart`] again.
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    bin: PathBuf,
    /// The SQLite file for `--db`; `None` when the database is in `LATCHKEY_DB_URL`.
    db: Option<PathBuf>,
    /// The working directory (where a key file lands): `db`'s directory by default.
    dir: Option<PathBuf>,
    args: Vec<OsString>,
    /// Variables to set (`Some`) or remove (`None`), in order.
    envs: Vec<(OsString, Option<OsString>)>,
}

impl ServerBuilder {
    /// Runs `bin serve --bind 127.0.0.1:0 --db <db>`.
    pub fn new(bin: &Path, db: &Path) -> ServerBuilder {
        ServerBuilder {
            bin: bin.to_path_buf(),
            db: Some(db.to_path_buf()),
            dir: db.parent().filter(|d| d.is_dir()).map(Path::to_path_buf),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// Runs `bin serve --bind 127.0.0.1:0` in `dir` on the database at `url` (a
    /// PostgreSQL URL), given in `LATCHKEY_DB_URL` as an operator keeps
    /// credentials off the command line. Several servers built from one builder
    /// share the database and, in `dir`, the key file.
    pub fn with_database_url(bin: &Path, url: &str, dir: &Path) -> ServerBuilder {
        ServerBuilder {
            bin: bin.to_path_buf(),
            db: None,
            dir: Some(dir.to_path_buf()),
            args: Vec::new(),
            envs: vec![("LATCHKEY_DB_URL".into(), Some(url.into()))],
        }
    }

    /// Adds an argument after the standard ones.
    pub fn arg(mut self, arg: impl Into<OsString>) -> ServerBuilder {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the server.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> ServerBuilder {
        self.envs.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an environment variable the server (and its admin commands) would
    /// otherwise inherit from the test's environment (e.g. `LATCHKEY_DEV_KEYS`).
    pub fn env_remove(mut self, key: impl Into<OsString>) -> ServerBuilder {
        self.envs.push((key.into(), None));
        self
    }

    /// Applies [`ServerBuilder::env`] and [`ServerBuilder::env_remove`] to `cmd`.
    fn apply_envs(&self, cmd: &mut Command) {
        for (key, value) in &self.envs {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
    }

    /// The command line this builder runs.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["serve", "--bind", "127.0.0.1:0"]);
        self.db_args(&mut cmd);
        cmd.args(&self.args);
        cmd
    }

    /// `--db <db>` when the database is a file, the environment, and the
    /// working directory.
    fn db_args(&self, cmd: &mut Command) {
        if let Some(db) = &self.db {
            cmd.arg("--db").arg(db);
        }
        self.apply_envs(cmd);
        // Files the server creates next to its working directory (a key file) stay
        // with the database instead of landing in the source tree.
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
    }

    /// Runs an offline admin command on the same database and environment,
    /// `bin --db <db> <args>`, feeding `stdin` (e.g. a password), and returns its stdout.
    ///
    /// # Errors
    /// `Error::Exited` when it fails, `Error::Timeout` when it takes over a minute.
    pub fn admin(&self, args: &[&str], stdin: &str) -> Result<String, Error> {
        let out = self.admin_output(args, stdin)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(Error::Exited {
                what: format!("latchkey-server {}", args.join(" ")),
                output: format!(
                    "{}\n{stdout}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ),
            })
        }
    }

    /// Runs an admin command like [`ServerBuilder::admin`] and returns its exit status,
    /// stdout and stderr whether it succeeds or not: for tests of the CLI's failures.
    ///
    /// # Errors
    /// `Error::Io` when it cannot be run, `Error::Timeout` when it takes over a minute.
    pub fn admin_output(&self, args: &[&str], stdin: &str) -> Result<Output, Error> {
        let mut cmd = Command::new(&self.bin);
        self.db_args(&mut cmd);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = format!("latchkey-server {}", args.join(" "));
        let mut child = cmd.spawn().map_err(Error::io(format!("starting {what}")))?;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin.as_bytes())
                .map_err(Error::io(format!("writing to {what}")))?;
        }
        // Small outputs: the pipes cannot fill up while we poll for the exit.
        let deadline = Deadline::after(ADMIN_TIMEOUT);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if deadline.remaining().is_some() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Timeout {
                        what,
                        output: String::new(),
                    });
                }
                Err(source) => {
                    let _ = child.kill();
                    return Err(Error::Io { what, source });
                }
            }
        }
        child
            .wait_with_output()
            .map_err(Error::io(format!("reading {what}")))
    }

    /// Starts the server and waits for its `listening on http://ADDR` line
    /// (`https://` when it serves TLS).
    ///
    /// # Errors
    /// `Error::Io` when it cannot start, `Error::Exited` when it exits first,
    /// `Error::Timeout` when the line does not come in time.
    pub fn start(self) -> Result<Server, Error> {
        let mut process = Process::spawn("latchkey-server", &mut self.command())?;
        let addr = process.wait_for_line(
            Deadline::after(START_TIMEOUT),
            "the `listening on http://ADDR` line",
            listening_addr,
        )?;
        Ok(Server {
            process,
            addr,
            builder: self,
        })
    }
}

/// The address in a `listening on http://127.0.0.1:PORT` line, or `https://`
/// (anywhere in the line, so that a log prefix does not matter).
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on ")?;
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))?;
    let addr = rest.split_whitespace().next()?.trim_end_matches('/');
    addr.parse().ok()
}

/// A running login server. Killed when dropped.
pub struct Server {
    process: Process,
    addr: SocketAddr,
    builder: ServerBuilder,
}

impl Server {
    /// The server binary: `$LATCHKEY_SERVER_BIN`, else `target/debug/latchkey-server`.
    ///
    /// # Errors
    /// `Error::NotBuilt` when it has not been built.
    pub fn binary() -> Result<PathBuf, Error> {
        locate(
            "LATCHKEY_SERVER_BIN",
            target_dir().join("debug/latchkey-server"),
            "cargo build -p latchkey-server",
        )
    }

    /// Starts [`Server::binary`] with its database at `db`.
    ///
    /// # Errors
    /// As [`Server::binary`] and [`ServerBuilder::start`].
    pub fn start(db: &Path) -> Result<Server, Error> {
        ServerBuilder::new(&Server::binary()?, db).start()
    }

    /// The operating system's id of the server process (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` + `path`, for messages and curl lines.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A new client for this server (one connection per request).
    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }

    /// The server's stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.process.output()
    }

    /// `Ok(())` while it runs.
    ///
    /// # Errors
    /// `Error::Exited` once it has stopped.
    pub fn check_running(&mut self) -> Result<(), Error> {
        self.process.check_running()
    }

    /// Stops it and starts it again with the same command line and database (a new
    /// port): what survives must have been on disk.
    ///
    /// # Errors
    /// As [`ServerBuilder::start`].
    pub fn restart(mut self) -> Result<Server, Error> {
        self.process.kill();
        self.builder.clone().start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TempDir, temp_dir};

    /// A stand-in "server": a shell script that prints the readiness line like the real
    /// one, so the harness itself is tested without the real binary.
    fn fake_server(dir: &TempDir, script: &str) -> PathBuf {
        let path = dir.path().join("fake-server");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write script");
        let status = Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(status.success());
        path
    }

    #[test]
    fn parses_the_listening_line() {
        let addr = listening_addr("2026-11-28T18:00:00Z INFO listening on http://127.0.0.1:40123/");
        assert_eq!(addr, Some(SocketAddr::from(([127, 0, 0, 1], 40123))));
        assert_eq!(
            listening_addr("listening on http://[::1]:8080 (ipv6)").map(|a| a.port()),
            Some(8080)
        );
        assert_eq!(listening_addr("listening on 127.0.0.1:1"), None);
        assert_eq!(
            listening_addr("listening on https://127.0.0.1:8443").map(|a| a.port()),
            Some(8443)
        );
        assert_eq!(listening_addr("listening on http://nonsense"), None);
    }

    #[test]
    fn starts_passes_the_db_and_restarts_on_the_same_db() {
        let dir = temp_dir("fake-server").expect("temp dir");
        // Echo the arguments, then pretend to listen: lets the test see the command line.
        let bin = fake_server(
            &dir,
            "echo \"args: $*\"; echo \"mode=$LK_MODE\"; echo \"listening on http://127.0.0.1:$(( $$ % 20000 + 20000 ))\"; exec sleep 30",
        );
        let db = dir.path().join("latchkey.db");
        let server = ServerBuilder::new(&bin, &db)
            .arg("--verbose")
            .env("LK_MODE", "test")
            .start()
            .expect("fake server starts");
        assert_eq!(server.addr().ip(), std::net::Ipv4Addr::LOCALHOST);
        let logs = server.logs();
        assert!(
            logs.contains(&format!(
                "args: serve --bind 127.0.0.1:0 --db {} --verbose",
                db.display()
            )),
            "{logs}"
        );
        assert!(logs.contains("mode=test"));
        let first_port = server.addr().port();
        let restarted = server.restart().expect("restarts");
        // A new process ($$ differs), same arguments.
        assert_ne!(restarted.addr().port(), first_port);
        assert!(restarted.logs().contains(&db.display().to_string()));
    }

    #[test]
    fn admin_passes_db_args_and_stdin_and_reports_failures() {
        let dir = temp_dir("fake-server").expect("temp dir");
        let bin = fake_server(
            &dir,
            "read pw; if [ \"$4\" = fail ]; then echo nope >&2; exit 4; fi; echo \"$* pw=$pw\"",
        );
        let db = dir.path().join("x.db");
        let builder = ServerBuilder::new(&bin, &db);
        let out = builder
            .admin(&["user", "add", "alice"], "s3cret\n")
            .expect("runs");
        assert_eq!(
            out,
            format!("--db {} user add alice pw=s3cret\n", db.display())
        );
        match builder.admin(&["user", "fail"], "x\n") {
            Err(Error::Exited { output, .. }) => assert!(output.contains("nope")),
            other => panic!("expected Exited, got {other:?}"),
        }
    }

    #[test]
    fn a_server_that_fails_to_start_is_reported_with_its_output() {
        let dir = temp_dir("fake-server").expect("temp dir");
        let bin = fake_server(&dir, "echo 'error: cannot open database' >&2; exit 1");
        let err = ServerBuilder::new(&bin, &dir.path().join("x.db"))
            .start()
            .err()
            .expect("fails");
        match err {
            Error::Exited { output, .. } => assert!(output.contains("cannot open database")),
            other => panic!("expected Exited, got {other}"),
        }
    }
}
