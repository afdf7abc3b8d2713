//! `latchkey-qemu`: runs a firmware ELF under QEMU with the project's one command line
//! ([`latchkey_harness::qemu::command`]). Used by `cargo xtask firmware`, as cargo's
//! runner for `thumbv7m-none-eabi` (`.cargo/config.toml`) and by the measurement
//! scripts, so that every QEMU the project starts is started the same way.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use latchkey_harness::qemu::{Serial, command};

const HELP: &str = "\
latchkey-qemu: run a firmware ELF under qemu-system-arm (mps2-an385)

USAGE: latchkey-qemu [OPTIONS] ELF [QEMU-ARGS...]

The UART is served on 127.0.0.1:PORT (one client at a time); semihosting carries
the defmt log (QEMU's stdout) and the exit code, which becomes this program's.
Arguments after ELF go to QEMU as they are (e.g. -d exec,nochain -D LOG); QEMU
runs in the state directory, so give it absolute paths.

OPTIONS:
  --port N        UART port, 0 for a free one (default: $LATCHKEY_UART_PORT, else 4444)
  --wait          hold the CPU until the first UART client connects
  --null-serial   no UART at all (measurement runs)
  --defmt         decode the defmt log with `defmt-print -e ELF`
                  (`cargo install --locked defmt-print`; `cargo xtask firmware` does)
  --timeout SECS  stop QEMU after SECS seconds (exit 0)
  --state-dir DIR where the device's flash file (latchkey-flash.bin) lives: the
                  same DIR is the same device after a restart
                  (default: target/qemu-state, created when missing)
";

/// The parsed command line.
struct Options {
    serial: Serial,
    defmt: bool,
    timeout: Option<Duration>,
    state_dir: PathBuf,
    elf: PathBuf,
    extra: Vec<OsString>,
}

fn parse() -> Result<Option<Options>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let (mut port, mut wait, mut null, mut defmt, mut timeout) = (None, false, false, false, None);
    let mut state_dir = latchkey_harness::target_dir().join("qemu-state");
    let elf = loop {
        match parser.next()? {
            Some(Long("help") | Short('h')) => return Ok(None),
            Some(Long("port")) => port = Some(parser.value()?.parse::<u16>()?),
            Some(Long("wait")) => wait = true,
            Some(Long("null-serial")) => null = true,
            Some(Long("defmt")) => defmt = true,
            Some(Long("timeout")) => {
                timeout = Some(Duration::from_secs(parser.value()?.parse::<u64>()?));
            }
            Some(Long("state-dir")) => state_dir = PathBuf::from(parser.value()?),
            Some(Value(elf)) => break PathBuf::from(elf),
            Some(other) => return Err(other.unexpected()),
            None => return Err("the firmware ELF is missing".into()),
        }
    };
    let extra = parser.raw_args()?.collect();
    let port = match port {
        Some(port) => port,
        None => match std::env::var("LATCHKEY_UART_PORT") {
            Ok(text) => text.parse().map_err(|_| {
                lexopt::Error::from(format!("LATCHKEY_UART_PORT is not a port: {text}"))
            })?,
            Err(_) => 4444,
        },
    };
    let port = match port {
        0 => latchkey_harness::free_port().map_err(|e| lexopt::Error::from(e.to_string()))?,
        port => port,
    };
    let serial = if null {
        Serial::Null
    } else {
        Serial::Tcp { port, wait }
    };
    Ok(Some(Options {
        serial,
        defmt,
        timeout,
        state_dir,
        elf,
        extra,
    }))
}

/// Kills and reaps a child on every way out.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(options: &Options) -> Result<ExitCode, String> {
    std::fs::create_dir_all(&options.state_dir)
        .map_err(|e| format!("{}: {e}", options.state_dir.display()))?;
    // QEMU needs the ELF's path from the state directory too.
    let elf =
        std::path::absolute(&options.elf).map_err(|e| format!("{}: {e}", options.elf.display()))?;
    let mut qemu = command(&elf, options.serial);
    qemu.current_dir(&options.state_dir);
    qemu.args(&options.extra);
    if options.defmt {
        qemu.stdout(Stdio::piped());
    }
    let mut qemu = Guard(qemu.spawn().map_err(|e| {
        format!("cannot start qemu-system-arm: {e} (cargo xtask setup installs it)")
    })?);
    // Declared after QEMU so that it drops first; it sees EOF when QEMU ends anyway.
    let _decoder = match qemu.0.stdout.take() {
        Some(log) => Some(Guard(
            Command::new("defmt-print")
                .arg("-e")
                .arg(&elf)
                .stdin(log)
                .spawn()
                .map_err(|e| {
                    format!("cannot start defmt-print: {e} (cargo install --locked defmt-print)")
                })?,
        )),
        None => None,
    };
    if let Serial::Tcp { port, .. } = options.serial {
        eprintln!("latchkey-qemu: the UART is on 127.0.0.1:{port}");
    }
    let start = Instant::now();
    loop {
        if let Some(status) = qemu
            .0
            .try_wait()
            .map_err(|e| format!("waiting for QEMU: {e}"))?
        {
            let code = status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1));
            return Ok(ExitCode::from(code));
        }
        if options
            .timeout
            .is_some_and(|limit| start.elapsed() >= limit)
        {
            eprintln!("latchkey-qemu: --timeout reached, stopping QEMU");
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() -> ExitCode {
    match parse() {
        Ok(None) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Some(options)) => run(&options).unwrap_or_else(|e| {
            eprintln!("latchkey-qemu: {e}");
            ExitCode::FAILURE
        }),
        Err(e) => {
            eprintln!("latchkey-qemu: {e}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}
