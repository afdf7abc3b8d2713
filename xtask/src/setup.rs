//! `cargo xtask setup`: installs what the other commands need, printing each step.

use std::process::Command;

use crate::cmd::{self, output, which};
use crate::firmware::TARGET;
use crate::{Args, Error, Project};

const HELP: &str = "\
cargo xtask setup: install what the other commands need

USAGE: cargo xtask setup

Checks, and installs when missing:
  - the Rust targets thumbv7m-none-eabi and i686-unknown-linux-gnu
                                          (rustup target add)
  - the rustfmt and clippy components     (rustup component add)
  - qemu-system-arm, wrk, PostgreSQL and gcc-multilib
                                          (apt-get, only when run as root;
                                           otherwise says what to install;
                                           PostgreSQL is found under
                                           /usr/lib/postgresql/*/bin)
Every other command runs these checks first.
";

/// What is ready after setup.
#[derive(Clone, Copy, Debug)]
pub struct Ready {
    /// The `thumbv7m-none-eabi` standard library is installed.
    pub target: bool,
    /// The `i686-unknown-linux-gnu` standard library and gcc-multilib are installed.
    pub host32: bool,
    /// `cargo fmt` and `cargo clippy` are installed.
    pub components: bool,
    /// `qemu-system-arm` is on `PATH`.
    pub qemu: bool,
    /// PostgreSQL's programs (`initdb`, `pg_ctl`) are installed, for the
    /// server's tests on PostgreSQL.
    pub postgres: bool,
}

impl Ready {
    /// Everything is there.
    pub fn all(self) -> bool {
        self.target && self.host32 && self.components && self.qemu && self.postgres
    }
}

/// `cargo xtask setup`.
///
/// # Errors
/// `Error::Failed` when something could not be installed.
pub fn main(_project: &Project, args: &[String]) -> Result<(), Error> {
    if Args::parse(args, &[], &[], HELP)?.is_none() {
        return Ok(());
    }
    let ready = run();
    if ready.all() {
        Ok(())
    } else {
        Err(Error::Failed("setup is incomplete (see above)".into()))
    }
}

/// Checks and installs everything, printing each step; never stops early.
pub fn run() -> Ready {
    println!("setup: checking the tools");
    let target = ensure_target(TARGET);
    let host32 = ensure_target(HOST32_TARGET);
    let components = ensure_components();
    ensure_packages();
    Ready {
        target,
        host32: host32 && std::path::Path::new(STUBS_32).is_file(),
        components,
        qemu: which("qemu-system-arm").is_some(),
        postgres: postgres_bin().is_some(),
    }
}

/// A 32-bit host target: latchkey-core's signature suites run there on the 32-bit
/// arithmetic the device uses (crypto-bigint, p256 and curve25519-dalek pick their
/// word size from the target).
pub const HOST32_TARGET: &str = "i686-unknown-linux-gnu";

/// What `gcc-multilib` brings that linking for [`HOST32_TARGET`] needs.
const STUBS_32: &str = "/usr/include/x86_64-linux-gnu/gnu/stubs-32.h";

fn ensure_target(target: &str) -> bool {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]));
    match installed {
        Some(list) if list.lines().any(|l| l.trim() == target) => {
            println!("setup: rust target {target}: installed");
            true
        }
        Some(_) => {
            println!("setup: rust target {target}: missing, installing");
            cmd::run(Command::new("rustup").args(["target", "add", target])).unwrap_or(false)
        }
        None => {
            // No rustup (a distribution toolchain): look in the sysroot instead.
            let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]));
            let found = sysroot.is_some_and(|s| {
                std::path::Path::new(s.trim())
                    .join("lib/rustlib")
                    .join(target)
                    .is_dir()
            });
            if found {
                println!("setup: rust target {target}: installed (no rustup)");
            } else {
                println!(
                    "setup: rust target {target}: MISSING and rustup is not available.\n  \
                     Install rustup (https://rustup.rs), then: rustup target add {target}"
                );
            }
            found
        }
    }
}

fn ensure_components() -> bool {
    let Some(list) = output(Command::new("rustup").args(["component", "list", "--installed"]))
    else {
        // Without rustup, trust that the toolchain came with its tools.
        let found = which("rustfmt").is_some() && which("cargo-clippy").is_some();
        println!(
            "setup: rustfmt and clippy: {}",
            if found { "found" } else { "MISSING" }
        );
        return found;
    };
    let has = |name: &str| list.lines().any(|l| l.starts_with(name));
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !has(c))
        .collect();
    if missing.is_empty() {
        println!("setup: rustfmt and clippy: installed");
        return true;
    }
    println!(
        "setup: components {}: missing, installing",
        missing.join(" ")
    );
    cmd::run(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
    .unwrap_or(false)
}

/// How to tell that a Debian package is installed.
enum Probe {
    /// This program is on `PATH`.
    Program(&'static str),
    /// PostgreSQL's `initdb` under `/usr/lib/postgresql/<version>/bin` (not on
    /// `PATH` in Debian).
    Postgres,
    /// A file that the package installs.
    File(&'static str),
}

/// Debian packages the other commands need: QEMU for the device; wrk, the load
/// generator of `bench-server` (its harness test runs in `cargo xtask test`);
/// PostgreSQL, whose throwaway clusters the server's tests start.
/// gcc-multilib links the 32-bit host tests of latchkey-core.
const APT_PACKAGES: [(&str, Probe); 4] = [
    ("qemu-system-arm", Probe::Program("qemu-system-arm")),
    ("wrk", Probe::Program("wrk")),
    ("postgresql", Probe::Postgres),
    ("gcc-multilib", Probe::File(STUBS_32)),
];

/// The newest `/usr/lib/postgresql/<version>/bin` with an `initdb`, if any.
fn postgres_bin() -> Option<std::path::PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: f64 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, bin)| bin)
}

fn found(probe: &Probe) -> Option<std::path::PathBuf> {
    match probe {
        Probe::Program(name) => which(name),
        Probe::Postgres => postgres_bin(),
        Probe::File(path) => {
            let path = std::path::Path::new(path);
            path.is_file().then(|| path.to_path_buf())
        }
    }
}

/// Installs missing [`APT_PACKAGES`] with one apt-get call when root;
/// otherwise prints the command that would.
fn ensure_packages() {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(package, probe)| match found(probe) {
            Some(path) => {
                println!("setup: {package}: {}", path.display());
                false
            }
            None => true,
        })
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return;
    }
    let list = missing.join(" ");
    let root = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    if !root {
        println!(
            "setup: {list}: MISSING. Install, then run this again:\n  \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends {list}"
        );
        return;
    }
    println!("setup: {list}: missing, installing with apt-get (running as root)");
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd::run(&mut c).unwrap_or(false)
    };
    let installed = apt(&["update"])
        && apt(&["install", "-y", "--no-install-recommends"]
            .into_iter()
            .chain(missing.iter().copied())
            .collect::<Vec<_>>());
    for (package, probe) in &APT_PACKAGES {
        if missing.contains(package) && !(installed && found(probe).is_some()) {
            println!("setup: {package}: installation FAILED (see apt-get output above)");
        }
    }
}
