//! Running commands: echo them, time them, find programs, and kill children on drop.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Project};

/// A `cargo` command (the same toolchain as ours) run from the workspace root.
pub fn cargo(project: &Project, args: &[&str]) -> Command {
    let mut cmd = Command::new(&project.cargo);
    cmd.current_dir(&project.root).args(args);
    cmd
}

/// The command as a person would type it, environment overrides first.
pub fn show(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    let program = Path::new(cmd.get_program());
    // `$CARGO` is a long toolchain path; `cargo` says the same to a reader.
    let name = match program.file_name().and_then(OsStr::to_str) {
        Some("cargo") => "cargo".to_string(),
        _ => program.display().to_string(),
    };
    parts.push(name);
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs `cmd` with the terminal attached, echoing it first; true when it exits 0.
///
/// # Errors
/// `Error::Io` when the program cannot be started at all.
pub fn run(cmd: &mut Command) -> Result<bool, Error> {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| Error::Io(format!("cannot run `{}`", show(cmd)), e))?;
    Ok(status.success())
}

/// Runs `cmd` and fails with a message naming it unless it exits 0.
///
/// # Errors
/// `Error::Failed` on a non-zero exit, `Error::Io` when it cannot start.
pub fn run_ok(cmd: &mut Command) -> Result<(), Error> {
    if run(cmd)? {
        Ok(())
    } else {
        Err(Error::Failed(format!("`{}` failed", show(cmd))))
    }
}

/// Runs `cmd` quietly and returns its stdout when it exits 0.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The full path of `program` when it is on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A loopback TCP port that was free a moment ago.
///
/// # Errors
/// `Error::Io` when no port can be bound at all.
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::Io("cannot bind a loopback port".into(), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Io("cannot read the bound port".into(), e))
}

/// A child process that is killed and reaped when the guard drops, on every path
/// out of a function, failures included.
pub struct ChildGuard {
    name: String,
    child: Child,
    /// Stop with SIGTERM first (for servers with worker processes), SIGKILL after 5 s.
    gentle: bool,
}

impl ChildGuard {
    /// Starts `cmd` under a guard; `name` appears in messages.
    ///
    /// # Errors
    /// `Error::Io` when the program cannot be started.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<ChildGuard, Error> {
        println!("$ {}", show(cmd));
        let child = cmd
            .spawn()
            .map_err(|e| Error::Io(format!("cannot start {name}"), e))?;
        Ok(ChildGuard {
            name: name.to_string(),
            child,
            gentle: false,
        })
    }

    /// Makes the guard stop the child with SIGTERM (so that it can stop its own
    /// children), and SIGKILL only if it is still there after 5 s.
    pub fn stop_gently(mut self) -> ChildGuard {
        self.gentle = true;
        self
    }

    /// `Ok(())` while the child runs.
    ///
    /// # Errors
    /// `Error::Failed` naming the child once it has exited.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Failed(format!("{} exited: {status}", self.name))),
            Err(e) => Err(Error::Io(format!("checking on {}", self.name), e)),
        }
    }

    /// The child, to take its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits until the child exits or `limit` passes (then `Ok(None)`).
    ///
    /// # Errors
    /// `Error::Io` when waiting fails.
    pub fn wait_for(&mut self, limit: Option<Duration>) -> Result<Option<i32>, Error> {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(Some(status.code().unwrap_or(-1))),
                Ok(None) => {}
                Err(e) => return Err(Error::Io(format!("waiting for {}", self.name), e)),
            }
            if limit.is_some_and(|l| start.elapsed() >= l) {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.gentle && matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.wait_for(Some(Duration::from_secs(5)));
        }
        if let Ok(None) = self.child.try_wait() {
            // Already-dead children make kill() fail; either way wait() reaps it.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A step's wall-clock time, as `12.3s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_prints_env_then_command() {
        let mut cmd = Command::new("/some/toolchain/bin/cargo");
        cmd.args(["doc", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings");
        assert_eq!(show(&cmd), "RUSTDOCFLAGS=-D warnings cargo doc --no-deps");
    }

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-latchkey").is_none());
    }

    #[test]
    fn guard_kills_its_child_on_drop() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let guard = ChildGuard::spawn("sleep", &mut cmd).expect("sleep starts");
        let pid = guard.child.id();
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        assert!(proc_dir.exists());
        drop(guard);
        // Reaped by the guard: the pid is gone (not even a zombie).
        assert!(!proc_dir.exists());
    }

    #[test]
    fn gentle_stop_lets_the_child_clean_up() {
        let dir = std::env::temp_dir().join(format!("xtask-gentle-{}", std::process::id()));
        let marker = dir.with_extension("done");
        let _ = std::fs::remove_file(&marker);
        let script = format!(
            "trap 'echo bye > {}; exit 0' TERM; while :; do sleep 0.05; done",
            marker.display()
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]);
        let mut guard = ChildGuard::spawn("sh", &mut cmd)
            .expect("sh starts")
            .stop_gently();
        std::thread::sleep(Duration::from_millis(200));
        assert!(guard.check_running().is_ok());
        drop(guard);
        let written = std::fs::read_to_string(&marker).unwrap_or_default();
        let _ = std::fs::remove_file(&marker);
        assert_eq!(written, "bye\n");
    }

    #[test]
    fn wait_for_times_out_then_sees_the_exit() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut guard = ChildGuard::spawn("sleep", &mut cmd).expect("sleep starts");
        let waited = guard.wait_for(Some(Duration::from_millis(200)));
        assert!(matches!(waited, Ok(None)));
        let mut quick = Command::new("sh");
        quick.args(["-c", "exit 3"]);
        let mut guard = ChildGuard::spawn("sh", &mut quick).expect("sh starts");
        let code = guard.wait_for(Some(Duration::from_secs(10)));
        assert!(matches!(code, Ok(Some(3))));
    }

    #[test]
    fn free_port_is_bindable() {
        // Other tests bind ports in parallel and may take one in the moment after
        // it is freed, so allow a few draws; a broken free_port fails them all.
        let bound = (0..5).any(|_| {
            let port = free_port().expect("a port");
            port != 0 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
        assert!(bound, "no port from free_port() could be bound");
    }
}
