//! The real firmware under `qemu-system-arm` (mps2-an385), its UART on a loopback TCP port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use latchkey_protocol::Command as DeviceCommand;

use crate::uart::Exchange;
use crate::{Deadline, Error, Process, Uart, free_port, locate, target_dir};

/// How long QEMU gets to open its UART port.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Tries with a new port when QEMU could not bind the one it was given.
const PORT_TRIES: usize = 3;

/// Where the device's UART (QEMU's first serial port) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serial {
    /// Served on `127.0.0.1:port`; with `wait`, QEMU holds the CPU until a client connects.
    Tcp {
        /// The loopback port.
        port: u16,
        /// Whether the CPU waits for the first client.
        wait: bool,
    },
    /// Discarded (measurement runs that only use semihosting).
    Null,
}

/// The one QEMU command line of the project: `elf` on the emulated board (mps2-an385,
/// Cortex-M3), semihosting on (the defmt log and the exit code go through it, the log
/// to QEMU's stdout), no display or monitor, the UART as `serial` says. Callers add
/// measurement options (`-d exec`, `-plugin`) after it.
pub fn command(elf: &Path, serial: Serial) -> Command {
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
    ]);
    match serial {
        Serial::Tcp { port, wait } => {
            let wait = if wait { "on" } else { "off" };
            qemu.arg(format!("tcp:127.0.0.1:{port},server=on,wait={wait}"))
        }
        Serial::Null => qemu.arg("null"),
    };
    qemu.arg("-kernel").arg(elf);
    qemu
}

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

    /// Starts QEMU with `elf` on a free port and connects to its UART.
    ///
    /// # Errors
    /// `Error::Io` when QEMU cannot start, `Error::Exited` when it dies during start-up
    /// (after trying three ports), `Error::Timeout` when its UART never opens.
    pub fn start(elf: &Path) -> Result<Qemu, Error> {
        let mut last = None;
        for _ in 0..PORT_TRIES {
            let port = free_port()?;
            let mut process = Process::spawn(
                "qemu-system-arm",
                &mut command(elf, Serial::Tcp { port, wait: false }),
            )?;
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

    /// Sends one line as it is (well formed or not) and returns the answer line.
    ///
    /// # Errors
    /// As [`Uart::request`]; when QEMU has died, `Error::Exited` with its output.
    pub fn request(&mut self, line: &str) -> Result<String, Error> {
        let result = self.uart()?.request(line);
        self.explain(result)
    }

    /// Sends `command` with `token` as a request line with the next request id and
    /// returns the exchange (see [`Uart::command`]).
    ///
    /// # Errors
    /// As [`Uart::command`]; when QEMU has died, `Error::Exited` with its output.
    pub fn command(&mut self, command: DeviceCommand, token: &str) -> Result<Exchange, Error> {
        let result = self.uart()?.command(command, token);
        self.explain(result)
    }

    /// A dead QEMU explains a broken UART better than the socket error does.
    fn explain<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        result.map_err(|e| match self.process.check_running() {
            Err(exited) => exited,
            Ok(()) => e,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command_line as line;

    #[test]
    fn one_command_line_for_every_serial_mode() {
        let base = "qemu-system-arm -M mps2-an385 -cpu cortex-m3 -display none -monitor none \
                    -semihosting-config enable=on,target=native -serial";
        let elf = Path::new("/fw.elf");
        assert_eq!(
            line(&command(
                elf,
                Serial::Tcp {
                    port: 4444,
                    wait: true
                }
            )),
            format!("{base} tcp:127.0.0.1:4444,server=on,wait=on -kernel /fw.elf")
        );
        assert_eq!(
            line(&command(
                elf,
                Serial::Tcp {
                    port: 7,
                    wait: false
                }
            )),
            format!("{base} tcp:127.0.0.1:7,server=on,wait=off -kernel /fw.elf")
        );
        assert_eq!(
            line(&command(elf, Serial::Null)),
            format!("{base} null -kernel /fw.elf")
        );
    }
}
