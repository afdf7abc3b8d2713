//! The Flask-JWT-Extended peer (`tests/harness/peer/flask_app.py`) under gunicorn, the
//! way such an app is deployed: two worker processes of four threads each.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Deadline, Error, Process, free_port, workspace_root};

/// How long gunicorn gets to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The peer's user, as in `flask_app.py`.
pub const USER: (&str, &str) = ("alice", "correct horse battery staple");

/// The peer app's directory: `flask_app.py` and its pinned `requirements.txt`.
pub fn app_dir() -> PathBuf {
    workspace_root().join("tests/harness/peer")
}

/// A running peer. When it drops, gunicorn gets SIGTERM (so that it stops its
/// workers) and up to five seconds before it is killed.
pub struct FlaskPeer {
    process: Process,
    addr: SocketAddr,
}

impl FlaskPeer {
    /// Starts the peer with the gunicorn of the venv at `venv` (with the packages of
    /// `requirements.txt`; `cargo xtask bench-server` makes it) on a free loopback port.
    ///
    /// # Errors
    /// `Error::NotBuilt` when the venv has no gunicorn, `Error::Exited` when gunicorn
    /// dies, `Error::Timeout` when it does not listen within 30 s.
    pub fn start(venv: &Path) -> Result<FlaskPeer, Error> {
        let gunicorn = venv.join("bin/gunicorn");
        if !gunicorn.is_file() {
            return Err(Error::NotBuilt(format!(
                "{} is missing: make the venv with `python3 -m venv {0}` and \
                 `{0}/bin/pip install -r {1}` (cargo xtask bench-server does)",
                venv.display(),
                app_dir().join("requirements.txt").display()
            )));
        }
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut process = Process::spawn(
            "gunicorn",
            Command::new(&gunicorn)
                .arg("-b")
                .arg(addr.to_string())
                .args(["-w", "2", "-k", "gthread", "--threads", "4"])
                .args(["--log-level", "warning", "flask_app:app"])
                .current_dir(app_dir()),
        )?;
        let deadline = Deadline::after(START_TIMEOUT);
        while TcpStream::connect(addr).is_err() {
            process.check_running()?;
            if deadline.remaining().is_none() {
                return Err(Error::Timeout {
                    what: format!("gunicorn to listen on {addr}"),
                    output: process.output(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(FlaskPeer { process, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `Ok(())` while gunicorn runs.
    ///
    /// # Errors
    /// `Error::Exited` with its output once it has stopped.
    pub fn check_running(&mut self) -> Result<(), Error> {
        self.process.check_running()
    }
}

impl Drop for FlaskPeer {
    fn drop(&mut self) {
        let term = Command::new("kill")
            .arg("-TERM")
            .arg(self.process.pid().to_string())
            .status();
        if term.is_ok_and(|s| s.success()) {
            let deadline = Deadline::after(Duration::from_secs(5));
            while self.process.check_running().is_ok() && deadline.remaining().is_some() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
