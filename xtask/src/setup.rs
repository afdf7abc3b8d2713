//! `cargo xtask setup`: installs what the other commands need, printing each step.

use std::process::Command;

use crate::cmd::{self, output, which};
use crate::firmware::TARGET;
use crate::{Args, Error, Project};

const HELP: &str = "\
cargo xtask setup: install what the other commands need

USAGE: cargo xtask setup

Checks, and installs when missing:
  - the Rust target thumbv7m-none-eabi   (rustup target add)
  - the rustfmt and clippy components     (rustup component add)
  - qemu-system-arm and wrk               (apt-get, only when run as root;
                                           otherwise says what to install)
Every other command runs these checks first.
";

/// What is ready after setup.
#[derive(Clone, Copy, Debug)]
pub struct Ready {
    /// The `thumbv7m-none-eabi` standard library is installed.
    pub target: bool,
    /// `cargo fmt` and `cargo clippy` are installed.
    pub components: bool,
    /// `qemu-system-arm` is on `PATH`.
    pub qemu: bool,
}

impl Ready {
    /// Everything is there.
    pub fn all(self) -> bool {
        self.target && self.components && self.qemu
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
    let target = ensure_target();
    let components = ensure_components();
    let qemu = ensure_qemu();
    Ready {
        target,
        components,
        qemu,
    }
}

fn ensure_target() -> bool {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]));
    match installed {
        Some(list) if list.lines().any(|l| l.trim() == TARGET) => {
            println!("setup: rust target {TARGET}: installed");
            true
        }
        Some(_) => {
            println!("setup: rust target {TARGET}: missing, installing");
            cmd::run(Command::new("rustup").args(["target", "add", TARGET])).unwrap_or(false)
        }
        None => {
            // No rustup (a distribution toolchain): look in the sysroot instead.
            let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]));
            let found = sysroot.is_some_and(|s| {
                std::path::Path::new(s.trim())
                    .join("lib/rustlib")
                    .join(TARGET)
                    .is_dir()
            });
            if found {
                println!("setup: rust target {TARGET}: installed (no rustup)");
            } else {
                println!(
                    "setup: rust target {TARGET}: MISSING and rustup is not available.\n  \
                     Install rustup (https://rustup.rs), then: rustup target add {TARGET}"
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

/// Debian packages the other commands need: QEMU for the device, and wrk, the
/// load generator of `bench-server` (its harness test runs in `cargo xtask test`).
const APT_TOOLS: [&str; 2] = ["qemu-system-arm", "wrk"];

/// Installs missing [`APT_TOOLS`] with one apt-get call when root; returns whether
/// `qemu-system-arm`, which everything else needs, is there.
fn ensure_qemu() -> bool {
    let missing: Vec<&str> = APT_TOOLS
        .into_iter()
        .filter(|tool| match which(tool) {
            Some(path) => {
                println!("setup: {tool}: {}", path.display());
                false
            }
            None => true,
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let list = missing.join(" ");
    let root = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    if !root {
        println!(
            "setup: {list}: MISSING. Install, then run this again:\n  \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends {list}"
        );
        return which("qemu-system-arm").is_some();
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
    for tool in &missing {
        if !(installed && which(tool).is_some()) {
            println!("setup: {tool}: installation FAILED (see apt-get output above)");
        }
    }
    which("qemu-system-arm").is_some()
}
