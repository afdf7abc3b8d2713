//! The device's UART as seen over TCP: one request line out, one answer line back.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::{Deadline, Error};

/// Longest answer line accepted; the firmware's lines are far shorter.
const MAX_LINE: usize = 4096;

/// A line-oriented connection to a device UART (QEMU's `-serial tcp:` server).
#[derive(Debug)]
pub struct Uart {
    stream: TcpStream,
    /// Bytes received after the last complete line.
    pending: Vec<u8>,
    timeout: Duration,
}

impl Uart {
    /// Connects to `addr`, retrying until it accepts or `deadline` passes. `still_up`
    /// is called between tries so that a peer that died is reported at once.
    ///
    /// # Errors
    /// `Error::Timeout` at the deadline, or the error `still_up` returned.
    pub fn connect(
        addr: SocketAddr,
        deadline: Deadline,
        mut still_up: impl FnMut() -> Result<(), Error>,
    ) -> Result<Uart, Error> {
        loop {
            let Some(left) = deadline.remaining() else {
                return Err(Error::Timeout {
                    what: format!("the UART to accept on {addr}"),
                    output: String::new(),
                });
            };
            match TcpStream::connect_timeout(&addr, left.min(Duration::from_secs(1))) {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(Error::io("setting TCP_NODELAY"))?;
                    return Ok(Uart {
                        stream,
                        pending: Vec::new(),
                        timeout: Duration::from_secs(10),
                    });
                }
                Err(_) => {
                    still_up()?;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Sets how long [`Uart::read_line`] and [`Uart::request`] wait for an answer.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends `line` (a newline is added) without waiting for an answer.
    ///
    /// # Errors
    /// `Error::Io` when the connection is broken.
    pub fn send(&mut self, line: &str) -> Result<(), Error> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.stream
            .write_all(&bytes)
            .map_err(Error::io("writing to the UART"))
    }

    /// The next line from the device, without its line ending.
    ///
    /// # Errors
    /// `Error::Timeout` when no full line arrives in time, `Error::Protocol` when the
    /// device closes the connection or sends an over-long line.
    pub fn read_line(&mut self) -> Result<String, Error> {
        let deadline = Deadline::after(self.timeout);
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let rest = self.pending.split_off(end + 1);
                let line = std::mem::replace(&mut self.pending, rest);
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\n', '\r']).to_string());
            }
            if self.pending.len() > MAX_LINE {
                return Err(Error::Protocol(format!(
                    "the device sent more than {MAX_LINE} bytes without a newline"
                )));
            }
            let Some(left) = deadline.remaining() else {
                return Err(Error::Timeout {
                    what: "an answer line on the UART".into(),
                    output: format!("partial line: {:?}", String::from_utf8_lossy(&self.pending)),
                });
            };
            self.stream
                .set_read_timeout(Some(left))
                .map_err(Error::io("setting the UART read timeout"))?;
            let mut chunk = [0u8; 512];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(Error::Protocol(
                        "the device closed the UART connection".into(),
                    ));
                }
                Ok(n) => self
                    .pending
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        what: "reading the UART".into(),
                        source,
                    });
                }
            }
        }
    }

    /// Sends one request line and returns the one answer line.
    ///
    /// # Errors
    /// As [`Uart::send`] and [`Uart::read_line`].
    pub fn request(&mut self, line: &str) -> Result<String, Error> {
        self.send(line)?;
        self.read_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{Ipv4Addr, TcpListener};

    /// A fake device: answers each line with `answer(line)`, split in two writes.
    fn fake_device(answer: fn(&str) -> String) -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut writer = stream.try_clone().expect("clone");
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                let reply = answer(&line);
                let (a, b) = reply.split_at(reply.len() / 2);
                let _ = writer.write_all(a.as_bytes());
                std::thread::sleep(Duration::from_millis(20));
                let _ = writer.write_all(b.as_bytes());
            }
        });
        addr
    }

    fn up() -> Result<(), Error> {
        Ok(())
    }

    #[test]
    fn request_gets_the_answer_line_even_when_split() {
        let addr = fake_device(|line| format!("OK {}\r\n", line.len()));
        let deadline = Deadline::after(Duration::from_secs(10));
        let mut uart = Uart::connect(addr, deadline, up).expect("connects");
        assert_eq!(uart.request("open abc").expect("answer"), "OK 8");
        assert_eq!(uart.request("status x.y.z").expect("answer"), "OK 12");
    }

    #[test]
    fn two_lines_in_one_read_are_both_kept() {
        let addr = fake_device(|_| "BOOT ready\nOK first\n".to_string());
        let deadline = Deadline::after(Duration::from_secs(10));
        let mut uart = Uart::connect(addr, deadline, up).expect("connects");
        assert_eq!(uart.request("status t").expect("line"), "BOOT ready");
        assert_eq!(uart.read_line().expect("line"), "OK first");
    }

    #[test]
    fn a_silent_device_times_out() {
        let addr = fake_device(|_| "no newline".to_string());
        let deadline = Deadline::after(Duration::from_secs(10));
        let mut uart = Uart::connect(addr, deadline, up).expect("connects");
        uart.set_timeout(Duration::from_millis(200));
        match uart.request("status t") {
            Err(Error::Timeout { output, .. }) => assert!(output.contains("no newline")),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[test]
    fn connect_gives_up_at_the_deadline_or_when_the_peer_dies() {
        // A port nobody listens on: bind, note it, close it.
        let port = crate::free_port().expect("port");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Deadline::after(Duration::from_millis(300));
        let started = std::time::Instant::now();
        assert!(matches!(
            Uart::connect(addr, deadline, up),
            Err(Error::Timeout { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        let deadline = Deadline::after(Duration::from_secs(30));
        let died = Uart::connect(addr, deadline, || Err(Error::Protocol("qemu died".into())));
        assert!(matches!(died, Err(Error::Protocol(msg)) if msg == "qemu died"));
    }
}
