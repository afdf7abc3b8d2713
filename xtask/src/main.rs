//! Project automation for Latchkey: `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Plain std Rust plus `lexopt`, so that it builds in a few seconds and still runs,
//! and reports, when the rest of the workspace does not compile. What starts the real
//! parts (QEMU, the server, the Flask peer) is the harness's (`tests/harness`): xtask
//! builds and runs its programs.

#![forbid(unsafe_code)]

mod cmd;
mod demo;
mod firmware;
mod setup;
mod size;
mod test;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
cargo xtask: Latchkey project automation

USAGE: cargo xtask <COMMAND> [OPTIONS]   (each command has --help)

COMMANDS:
  setup          install what the others need: the thumbv7m-none-eabi target,
                 rustfmt and clippy, qemu-system-arm (apt-get, when root)
  test           everything CI checks: fmt, clippy, host tests, no_std build of
                 latchkey-core, firmware build, QEMU/end-to-end tests, docs
  firmware       build the firmware and run it under QEMU, UART on a loopback
                 TCP port, defmt log decoded on the terminal
  size           flash/RAM report of the firmware ELF
  demo           the whole story: server + device under QEMU, real traffic
  bench-server   load benchmark of the login server on loopback
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let project = Project::from_env();
    let result = match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            Ok(())
        }
        Some("setup") => setup::main(&project, &args[1..]),
        Some("test") => test::main(&project, &args[1..]),
        Some("firmware") => firmware::main(&project, &args[1..]),
        Some("size") => size::main(&project, &args[1..]),
        Some("demo") => demo::demo_main(&project, &args[1..]),
        Some("bench-server") => demo::bench_main(&project, &args[1..]),
        Some(other) => Err(Error::Usage(format!("unknown command `{other}`"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage(msg)) => {
            eprintln!("xtask: {msg}\n");
            eprint!("{HELP}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where things are: the workspace root, the cargo to call, the target directory.
pub struct Project {
    /// The workspace root (the parent of `xtask/`).
    pub root: PathBuf,
    /// The cargo that runs us (`$CARGO`), so nested builds use the same toolchain.
    pub cargo: PathBuf,
    /// `$CARGO_TARGET_DIR` or `<root>/target`.
    pub target_dir: PathBuf,
}

impl Project {
    fn from_env() -> Project {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.parent().unwrap_or(manifest).to_path_buf();
        let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Project {
            root,
            cargo,
            target_dir,
        }
    }

    /// The firmware ELF that `cargo build --profile <profile>` leaves behind.
    pub fn firmware_elf(&self, profile: &str) -> PathBuf {
        self.target_dir
            .join(firmware::TARGET)
            .join(profile)
            .join("latchkey-firmware")
    }

    /// A host binary of the workspace built with `profile` (`debug` or `release`).
    pub fn host_bin(&self, profile: &str, name: &str) -> PathBuf {
        self.target_dir.join(profile).join(name)
    }
}

/// The one error type of xtask.
#[derive(Debug)]
pub enum Error {
    /// Bad command line; the help text follows the message.
    Usage(String),
    /// An I/O operation failed; the string says which.
    Io(String, std::io::Error),
    /// A step failed; the string says which and what to do.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Failed(msg) => f.write_str(msg),
            Error::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A subcommand's parsed command line (`lexopt`): switches (`--once`) and options
/// with one value (`--port 4000` or `--port=4000`).
pub struct Args {
    switches: Vec<String>,
    values: Vec<(String, String)>,
}

impl Args {
    /// Parses `args` against the known `switches` and `options` (names with their
    /// `--`); `Ok(None)` when `--help` was given (and `help` printed).
    ///
    /// # Errors
    /// `Error::Usage` for an unknown flag, a missing value or a stray argument.
    pub fn parse(
        args: &[String],
        switches: &[&str],
        options: &[&str],
        help: &str,
    ) -> Result<Option<Args>, Error> {
        use lexopt::prelude::*;
        let usage = |e: lexopt::Error| Error::Usage(format!("{e}\n\n{help}"));
        let mut parsed = Args {
            switches: Vec::new(),
            values: Vec::new(),
        };
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(usage)? {
            let name = match arg {
                Long("help") | Short('h') => {
                    print!("{help}");
                    return Ok(None);
                }
                Long(name) => format!("--{name}"),
                other => return Err(usage(other.unexpected())),
            };
            if switches.contains(&name.as_str()) {
                if let Some(value) = parser.optional_value() {
                    return Err(usage(lexopt::Error::UnexpectedValue {
                        option: name,
                        value,
                    }));
                }
                parsed.switches.push(name);
            } else if options.contains(&name.as_str()) {
                let value = parser.value().and_then(|v| v.string()).map_err(usage)?;
                parsed.values.push((name, value));
            } else {
                return Err(usage(Long(name.trim_start_matches("--")).unexpected()));
            }
        }
        Ok(Some(parsed))
    }

    /// Whether the switch `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// The last value given for option `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of option `name` parsed as a number, or `default`.
    ///
    /// # Errors
    /// `Error::Usage` when the value is not a number.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Error> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Error::Usage(format!("{name}: `{v}` is not a number"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_switches_and_both_option_forms() {
        let args = strings(&["--once", "--port", "4000", "--profile=firmware-small"]);
        let parsed = Args::parse(&args, &["--once"], &["--port", "--profile"], "")
            .expect("valid arguments")
            .expect("no --help");
        assert!(parsed.has("--once"));
        assert_eq!(parsed.number("--port", 0u16).expect("a number"), 4000);
        assert_eq!(parsed.value("--profile"), Some("firmware-small"));
        assert_eq!(parsed.value("--elf"), None);
    }

    #[test]
    fn rejects_unknown_flags_and_missing_values() {
        let unknown = Args::parse(&strings(&["--nope"]), &["--once"], &[], "");
        assert!(matches!(unknown, Err(Error::Usage(_))));
        let missing = Args::parse(&strings(&["--port"]), &[], &["--port"], "");
        assert!(matches!(missing, Err(Error::Usage(_))));
        let valued_switch = Args::parse(&strings(&["--once=yes"]), &["--once"], &[], "");
        assert!(matches!(valued_switch, Err(Error::Usage(_))));
        let stray = Args::parse(&strings(&["stray"]), &["--once"], &[], "");
        assert!(matches!(stray, Err(Error::Usage(_))));
        let bad_number = Args::parse(&strings(&["--port", "x"]), &[], &["--port"], "")
            .expect("parses")
            .expect("no --help");
        assert!(bad_number.number("--port", 0u16).is_err());
    }

    #[test]
    fn help_returns_none() {
        let parsed = Args::parse(&strings(&["--help"]), &[], &[], "").expect("parses");
        assert!(parsed.is_none());
    }

    #[test]
    fn project_root_holds_the_workspace_manifest() {
        let project = Project::from_env();
        let manifest =
            std::fs::read_to_string(project.root.join("Cargo.toml")).expect("root Cargo.toml");
        assert!(manifest.contains("[workspace]"));
    }
}
