//! A child process whose output is captured and which is killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::{Deadline, Error};

/// One output stream's bytes so far, and whether its reader has seen the end.
#[derive(Default)]
struct Stream {
    bytes: Mutex<Vec<u8>>,
    done: AtomicBool,
}

type Captured = Arc<Stream>;

/// A running child. Its stdout and stderr are drained by threads into buffers (so it
/// never blocks on a full pipe), stdout also line by line to [`Process::wait_for_line`].
/// Dropping it kills and reaps the child, on every path out of a test.
pub struct Process {
    name: String,
    child: Child,
    stdout: Captured,
    stderr: Captured,
    lines: Receiver<String>,
}

fn drain(pipe: impl Read + Send + 'static, into: Captured, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            match reader.read_until(b'\n', &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    into.bytes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(&chunk);
                    if let Some(tx) = &lines {
                        // The receiver may be gone (nobody waits any more): fine.
                        let _ = tx.send(String::from_utf8_lossy(&chunk).into_owned());
                    }
                }
            }
        }
        into.done.store(true, Ordering::Release);
    });
}

impl Process {
    /// Starts `cmd` with stdin closed and stdout/stderr captured; `name` appears in errors.
    ///
    /// # Errors
    /// `Error::Io` when the program cannot be started.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Process, Error> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io(format!(
                "starting {name} ({:?})",
                cmd.get_program()
            )))?;
        let stdout = Captured::default();
        let stderr = Captured::default();
        let (tx, lines) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            drain(pipe, Arc::clone(&stdout), Some(tx));
        }
        if let Some(pipe) = child.stderr.take() {
            drain(pipe, Arc::clone(&stderr), None);
        }
        Ok(Process {
            name: name.to_string(),
            child,
            stdout,
            stderr,
            lines,
        })
    }

    /// The operating system's id of the child.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the child wrote to stdout so far (raw bytes: QEMU's is the defmt log).
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let bytes = self
            .stderr
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Stdout and stderr as text, for error messages.
    pub fn output(&self) -> String {
        format!(
            "[{} stdout]\n{}\n[{} stderr]\n{}",
            self.name,
            String::from_utf8_lossy(&self.stdout()),
            self.name,
            self.stderr()
        )
    }

    /// After the child exited: waits (at most 2 s) until its last output has been read,
    /// so that error reports carry its last words.
    fn settle(&mut self) {
        let deadline = Deadline::after(Duration::from_secs(2));
        while deadline.remaining().is_some() {
            let exited = !matches!(self.child.try_wait(), Ok(None));
            let drained = self.stdout.done.load(Ordering::Acquire)
                && self.stderr.done.load(Ordering::Acquire);
            if exited && drained {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `Ok(())` while the child runs; `Error::Exited` with its output once it has exited.
    ///
    /// # Errors
    /// `Error::Exited` when it is no longer running.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.settle();
                Err(Error::Exited {
                    what: self.name.clone(),
                    output: format!("{status}\n{}", self.output()),
                })
            }
            Err(source) => Err(Error::Io {
                what: format!("checking on {}", self.name),
                source,
            }),
        }
    }

    /// Waits for a stdout line for which `pick` returns `Some`, and returns that.
    ///
    /// # Errors
    /// `Error::Timeout` at the deadline, `Error::Exited` when stdout closes first.
    pub fn wait_for_line<T>(
        &mut self,
        deadline: Deadline,
        what: &str,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, Error> {
        loop {
            let Some(left) = deadline.remaining() else {
                return Err(Error::Timeout {
                    what: format!("{what} from {}", self.name),
                    output: self.output(),
                });
            };
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = pick(line.trim_end()) {
                        return Ok(found);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Stdout closed: the child is exiting. Give it a moment (bounded)
                    // so that its status and last words make the report.
                    self.settle();
                    return Err(Error::Exited {
                        what: format!("{} (while waiting for {what})", self.name),
                        output: self.output(),
                    });
                }
            }
        }
    }

    /// Kills the child and waits for it (also done on drop).
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        // The reader threads are not joined: a grandchild may still hold the pipes
        // open. They end by themselves at end of file.
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn finds_a_line_and_keeps_the_output() {
        let mut p = Process::spawn(
            "sh",
            &mut sh("echo one; echo two >&2; echo ready 42; exec sleep 30"),
        )
        .expect("sh starts");
        let n = p
            .wait_for_line(Deadline::after(Duration::from_secs(10)), "ready", |l| {
                l.strip_prefix("ready ")?.parse::<u32>().ok()
            })
            .expect("the ready line");
        assert_eq!(n, 42);
        assert!(String::from_utf8_lossy(&p.stdout()).starts_with("one\n"));
        assert!(p.check_running().is_ok());
        // stderr is drained by its own thread: wait (bounded) for it to arrive.
        let deadline = Deadline::after(Duration::from_secs(5));
        while p.stderr().is_empty() && deadline.remaining().is_some() {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(p.stderr(), "two\n");
    }

    #[test]
    fn a_silent_child_times_out_with_its_output() {
        let mut p =
            Process::spawn("sh", &mut sh("echo starting; exec sleep 30")).expect("sh starts");
        let started = std::time::Instant::now();
        let err = p
            .wait_for_line(Deadline::after(Duration::from_millis(300)), "ready", |l| {
                l.starts_with("ready").then_some(())
            })
            .expect_err("never ready");
        assert!(started.elapsed() < Duration::from_secs(5));
        match err {
            Error::Timeout { output, .. } => assert!(output.contains("starting")),
            other => panic!("expected a timeout, got {other}"),
        }
    }

    #[test]
    fn an_exiting_child_is_reported_not_waited_for() {
        let mut p = Process::spawn("sh", &mut sh("echo bad config >&2; exit 3")).expect("starts");
        let err = p
            .wait_for_line(Deadline::after(Duration::from_secs(10)), "ready", |_| {
                None::<()>
            })
            .expect_err("exits");
        match err {
            Error::Exited { output, .. } => assert!(output.contains("bad config")),
            other => panic!("expected Exited, got {other}"),
        }
        assert!(matches!(p.check_running(), Err(Error::Exited { .. })));
    }

    #[test]
    fn drop_kills_the_child() {
        let p = Process::spawn("sleep", Command::new("sleep").arg("30")).expect("starts");
        let proc_dir = PathBuf::from(format!("/proc/{}", p.pid()));
        assert!(proc_dir.exists());
        drop(p);
        assert!(!proc_dir.exists());
    }
}
