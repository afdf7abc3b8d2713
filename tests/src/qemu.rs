//! The real firmware under `qemu-system-arm` (mps2-an385), its UART on a loopback TCP port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Deadline, Error, Process, Uart, free_port, locate, target_dir};

/// How long QEMU gets to open its UART port.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Tries with a new port when QEMU could not bind the one it was given.
const PORT_TRIES: usize = 3;

/// A running device. Killed when dropped.
pub struct Qemu {
    // Field order matters: the UART connection closes before QEMU is killed.
    // `None` after `release_uart`: QEMU serves one client at a time.
    uart: Option<Uart>,
    process: Process,
    port: u16,
}

impl Qemu {
    /// The firmware ELF: `$LATCHKEY_FIRMWARE_ELF`, else the `firmware` profile build.
    ///
    /// # Errors
    /// `Error::NotBuilt` when it has not been built.
    pub fn firmware_elf() -> Result<PathBuf, Error> {
        locate(
            "LATCHKEY_FIRMWARE_ELF",
            target_dir().join("thumbv7m-none-eabi/firmware/latchkey-firmware"),
            "cargo build -p latchkey-firmware --target thumbv7m-none-eabi --profile firmware",
        )
    }

    /// The QEMU command line that runs `elf` with its UART served on `127.0.0.1:port`.
    /// Semihosting output (the defmt log) goes to QEMU's stdout.
    pub fn command(elf: &Path, port: u16) -> Command {
        let mut qemu = Command::new("qemu-system-arm");
        qemu.args([
            "-M",
            "mps2-an385",
            "-cpu",
            "cortex-m3",
            "-display",
            "none",
            "-monitor",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            "-serial",
        ])
        .arg(format!("tcp:127.0.0.1:{port},server=on,wait=off"))
        .arg("-kernel")
        .arg(elf);
        qemu
    }

    /// Starts QEMU with `elf` on a free port and connects to its UART.
    ///
    /// # Errors
    /// `Error::Io` when QEMU cannot start, `Error::Exited` when it dies during start-up
    /// (after trying three ports), `Error::Timeout` when its UART never opens.
    pub fn start(elf: &Path) -> Result<Qemu, Error> {
        let mut last = None;
        for _ in 0..PORT_TRIES {
            let port = free_port()?;
            let mut process = Process::spawn("qemu-system-arm", &mut Qemu::command(elf, port))?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match Uart::connect(addr, Deadline::after(START_TIMEOUT), || {
                process.check_running()
            }) {
                Ok(uart) => {
                    return Ok(Qemu {
                        uart: Some(uart),
                        process,
                        port,
                    });
                }
                // Most likely the port was taken in between: try another.
                Err(e @ Error::Exited { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Protocol("QEMU did not start".into())))
    }

    /// The UART's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The UART, for finer control (timeouts, unsolicited lines).
    ///
    /// # Errors
    /// `Error::Protocol` after [`Qemu::release_uart`].
    pub fn uart(&mut self) -> Result<&mut Uart, Error> {
        self.uart
            .as_mut()
            .ok_or_else(|| Error::Protocol("the UART was released".into()))
    }

    /// Closes the harness's UART connection so that another client (a person with
    /// `nc`, the server's device bridge) can connect: QEMU serves one at a time.
    pub fn release_uart(&mut self) {
        self.uart = None;
    }

    /// Sends one request line (`<command> [<arg>] <token>`) and returns the answer line.
    ///
    /// # Errors
    /// As [`Uart::request`]; when QEMU has died, `Error::Exited` with its output.
    pub fn request(&mut self, line: &str) -> Result<String, Error> {
        let result = self.uart()?.request(line);
        result.map_err(|e| {
            // A dead QEMU explains a broken UART better than the socket error does.
            match self.process.check_running() {
                Err(exited) => exited,
                Ok(()) => e,
            }
        })
    }

    /// The raw defmt log (semihosting output) so far; decode with `defmt-print -e ELF`.
    pub fn defmt_log(&self) -> Vec<u8> {
        self.process.stdout()
    }

    /// QEMU's own stderr so far.
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// `Ok(())` while QEMU runs.
    ///
    /// # Errors
    /// `Error::Exited` with its exit status and output once it has stopped.
    pub fn check_running(&mut self) -> Result<(), Error> {
        self.process.check_running()
    }
}
