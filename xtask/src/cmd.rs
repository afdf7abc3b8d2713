//! Running commands: echo them, time them, find programs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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
}
