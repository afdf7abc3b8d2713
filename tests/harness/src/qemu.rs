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

/// The file a device's flash lives in (its state: clock floor, replay window, key
/// table), in QEMU's working directory: the firmware opens it through semihosting.
pub const FLASH_FILE: &str = "latchkey-flash.bin";

/// Where a device's flash file is kept.
enum StateDir {
    /// A fresh directory for this device alone, removed when it stops.
    Own(tempfile::TempDir),
    /// The caller's directory: the state outlives this QEMU (a reboot is a new
    /// QEMU on the same directory).
    Given(PathBuf),
}

/// A running device. Killed when dropped.
pub struct Qemu {
    // Field order matters: the UART connection closes before QEMU is killed, and
    // QEMU is killed before its state directory goes.
    // `None` after `release_uart`: QEMU serves one client at a time.
    uart: Option<Uart>,
    process: Process,
    port: u16,
    state: StateDir,
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

    /// Starts QEMU with `elf` on a free port, with new (erased) flash of its own,
    /// and connects to its UART.
    ///
    /// # Errors
    /// `Error::Io` when QEMU cannot start, `Error::Exited` when it dies during start-up
    /// (after trying three ports), `Error::Timeout` when its UART never opens.
    pub fn start(elf: &Path) -> Result<Qemu, Error> {
        let dir = tempfile::Builder::new()
            .prefix("latchkey-device-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating the device's state directory".into(),
                source,
            })?;
        Self::start_in(elf, StateDir::Own(dir))
    }

    /// As [`Qemu::start`], with the flash file ([`FLASH_FILE`]) in `dir`: a second
    /// QEMU on the same directory is the same device rebooted.
    ///
    /// # Errors
    /// As [`Qemu::start`].
    pub fn start_with_state(elf: &Path, dir: &Path) -> Result<Qemu, Error> {
        Self::start_in(elf, StateDir::Given(dir.to_path_buf()))
    }

    /// The directory that holds this device's flash file.
    pub fn state_dir(&self) -> &Path {
        match &self.state {
            StateDir::Own(dir) => dir.path(),
            StateDir::Given(dir) => dir,
        }
    }

    fn start_in(elf: &Path, state: StateDir) -> Result<Qemu, Error> {
        let dir = match &state {
            StateDir::Own(dir) => dir.path().to_path_buf(),
            StateDir::Given(dir) => dir.clone(),
        };
        // QEMU runs in the state directory: the ELF's path must not be relative.
        let elf = std::path::absolute(elf).map_err(|source| Error::Io {
            what: format!("resolving {}", elf.display()),
            source,
        })?;
        let mut last = None;
        for _ in 0..PORT_TRIES {
            let port = free_port()?;
            let mut qemu = command(&elf, Serial::Tcp { port, wait: false });
            qemu.current_dir(&dir);
            let mut process = Process::spawn("qemu-system-arm", &mut qemu)?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match Uart::connect(addr, Deadline::after(START_TIMEOUT), || {
                process.check_running()
            }) {
                Ok(uart) => {
                    return Ok(Qemu {
                        uart: Some(uart),
                        process,
                        port,
                        state,
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

    /// Waits up to `within` for QEMU to stop by itself (a fault, or the power-cut
    /// build's cut) and returns its exit status and output.
    ///
    /// # Errors
    /// `Error::Timeout` when it is still running at the deadline.
    pub fn wait_for_exit(&mut self, within: Duration) -> Result<String, Error> {
        let deadline = Deadline::after(within);
        loop {
            match self.process.check_running() {
                Err(Error::Exited { output, .. }) => return Ok(output),
                Err(e) => return Err(e),
                Ok(()) if deadline.remaining().is_some() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(()) => {
                    return Err(Error::Timeout {
                        what: "QEMU to stop by itself".into(),
                        output: self.stderr(),
                    });
                }
            }
        }
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
