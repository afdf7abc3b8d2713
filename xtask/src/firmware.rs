//! `cargo xtask firmware`: build the firmware and run it under QEMU, UART on loopback TCP,
//! the defmt log decoded on the terminal.

use std::path::PathBuf;

use crate::cmd::{self, cargo, which};
use crate::{Args, Error, Project, setup};

/// The device's Rust target.
pub const TARGET: &str = "thumbv7m-none-eabi";
/// The cargo profile the firmware is built with (see the root `Cargo.toml`).
pub const FIRMWARE_PROFILE: &str = "firmware";

const HELP: &str = "\
cargo xtask firmware: build the firmware and run it under QEMU

USAGE: cargo xtask firmware [--profile NAME] [--port N] [--timeout SECS]

Builds latchkey-firmware for thumbv7m-none-eabi, starts qemu-system-arm
(mps2-an385) with the UART on a loopback TCP port and pipes the defmt log
(semihosting) through `defmt-print -e ELF` (installed with
`cargo install --locked defmt-print` when missing, several minutes once).
Talk to the device on the TCP port, one request per line:
`<command> [<arg>] <token>` (e.g. bash: `exec 3<>/dev/tcp/127.0.0.1/PORT`).
QEMU serves one UART client at a time. Stop with Ctrl-C.

OPTIONS:
  --profile NAME   cargo profile: firmware (default) or firmware-small
  --port N         UART TCP port on 127.0.0.1 (default: a free one)
                   (QEMU runs through the harness's `latchkey-qemu`, the project's
                   one QEMU command line)
  --timeout SECS   stop QEMU after SECS seconds (default: run until it exits)
";

/// Builds the firmware ELF with `profile` and returns its path.
///
/// # Errors
/// `Error::Failed` when the build fails.
pub fn build(project: &Project, profile: &str) -> Result<PathBuf, Error> {
    cmd::run_ok(&mut cargo(
        project,
        &[
            "build",
            "-p",
            "latchkey-firmware",
            "--target",
            TARGET,
            "--profile",
            profile,
        ],
    ))?;
    let elf = project.firmware_elf(profile);
    if elf.is_file() {
        Ok(elf)
    } else {
        Err(Error::Failed(format!(
            "the build succeeded but left no {} (does the firmware have a binary target?)",
            elf.display()
        )))
    }
}

/// `defmt-print`, installed with `cargo install --locked` when missing.
fn defmt_print(project: &Project) -> Result<PathBuf, Error> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let installed = || {
        which("defmt-print").or_else(|| {
            let path = cargo_home.as_ref()?.join("bin/defmt-print");
            path.is_file().then_some(path)
        })
    };
    if let Some(path) = installed() {
        return Ok(path);
    }
    println!("firmware: defmt-print is missing; installing it (a few minutes, once)");
    cmd::run_ok(&mut cargo(project, &["install", "--locked", "defmt-print"]))?;
    installed().ok_or_else(|| {
        Error::Failed("defmt-print was installed but is not on PATH nor in $CARGO_HOME/bin".into())
    })
}

/// `cargo xtask firmware`.
///
/// # Errors
/// When setup, the build, the defmt-print install or QEMU fails.
pub fn main(project: &Project, args: &[String]) -> Result<(), Error> {
    let Some(args) = Args::parse(args, &[], &["--profile", "--port", "--timeout"], HELP)? else {
        return Ok(());
    };
    let profile = args.value("--profile").unwrap_or(FIRMWARE_PROFILE);
    // Checked here so that a typo fails before the build.
    let port = args.number("--port", 0u16)?;
    let timeout = args
        .value("--timeout")
        .map(|_| args.number("--timeout", 0u64))
        .transpose()?;

    let ready = setup::run();
    if !(ready.target && ready.qemu) {
        return Err(Error::Failed(
            "setup is incomplete: the firmware needs the thumbv7m target and QEMU".into(),
        ));
    }
    println!("\nfirmware: building ({profile} profile)");
    let elf = build(project, profile)?;
    let decoder = defmt_print(project)?;

    println!(
        "\nfirmware: starting QEMU. The UART takes one line per request, \
         `<id> <command> [<arg>] <token>`; from bash:\n  exec 3<>/dev/tcp/127.0.0.1/PORT; \
         echo '1 status <token>' >&3; read -r answer <&3; echo \"$answer\"\n\
         Ctrl-C stops QEMU"
    );
    let mut qemu = cargo(
        project,
        &[
            "run",
            "--quiet",
            "-p",
            "latchkey-harness",
            "--bin",
            "latchkey-qemu",
            "--",
            "--defmt",
        ],
    );
    qemu.arg("--port").arg(port.to_string());
    if let Some(secs) = timeout {
        qemu.arg("--timeout").arg(secs.to_string());
    }
    qemu.arg(&elf);
    // defmt-print may live in $CARGO_HOME/bin, off PATH.
    if let Some(dir) = decoder.parent() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            qemu.env("PATH", joined);
        }
    }
    cmd::run_ok(&mut qemu)
}
