//! The device's UART as seen over TCP: one request line out, one verdict line back,
//! in the line format of `latchkey_protocol`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use latchkey_protocol::{Command, MAX_LINE_LEN, Request, RequestId, parse_verdict};

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
    /// The next request id: 1, 2, 3, ... (hexadecimal), so transcripts repeat.
    next_id: u32,
}

/// One request and its verdict, as they crossed the UART (without newlines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request line sent: `<id> <command> [<arg>] <token>`.
    pub request: String,
    /// The verdict line received, checked to echo the request's id.
    pub verdict: String,
}

impl Exchange {
    /// The verdict without its id: `OK opened`, `DENIED replayed`.
    pub fn answer(&self) -> &str {
        self.verdict
            .split_once(' ')
            .map_or("", |(_, answer)| answer)
    }
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
                        next_id: 1,
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
        self.send_bytes(&bytes)
    }

    /// Sends `bytes` as they are (no newline added): half lines, cancel bytes.
    ///
    /// # Errors
    /// `Error::Io` when the connection is broken.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream
            .write_all(bytes)
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

    /// Sends one line as it is (well formed or not) and returns the one answer line.
    ///
    /// # Errors
    /// As [`Uart::send`] and [`Uart::read_line`].
    pub fn request(&mut self, line: &str) -> Result<String, Error> {
        self.send(line)?;
        self.read_line()
    }

    /// Sends `command` with `token` under the next request id, written by
    /// `latchkey_protocol`, and returns the exchange once the verdict that echoes the
    /// id is back. Any other line in between is an error: the device answers each line
    /// exactly once, in order.
    ///
    /// # Errors
    /// `Error::Protocol` when the token cannot go on a request line or the answer is
    /// not the verdict for this request; otherwise as [`Uart::request`].
    pub fn command(&mut self, command: Command, token: &str) -> Result<Exchange, Error> {
        let id = RequestId::from_counter(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let request = Request {
            id,
            command,
            token: token.as_bytes(),
        };
        let mut buf = [0u8; MAX_LINE_LEN];
        let line = request
            .encode(&mut buf)
            .map_err(|e| Error::Protocol(format!("cannot write the request: {e}")))?;
        let request = String::from_utf8_lossy(line).into_owned();
        let verdict = self.request(&request)?;
        match parse_verdict(verdict.as_bytes()) {
            Ok(v) if v.id == Some(id) => Ok(Exchange { request, verdict }),
            _ => Err(Error::Protocol(format!(
                "request {id} was answered with {verdict:?}"
            ))),
        }
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
    fn commands_carry_ids_and_their_verdicts_echo_them() {
        // Echoes the id and the command name as the result.
        let addr = fake_device(|line| {
            let mut fields = line.split(' ');
            let (id, name) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            if name == "close" {
                "- ERROR bad-id\n".to_string()
            } else {
                format!("{id} OK {name}\n")
            }
        });
        let deadline = Deadline::after(Duration::from_secs(10));
        let mut uart = Uart::connect(addr, deadline, up).expect("connects");
        let first = uart.command(Command::Open, "a.b.c").expect("answer");
        assert_eq!(first.request, "1 open a.b.c");
        assert_eq!(
            (first.verdict.as_str(), first.answer()),
            ("1 OK open", "OK open")
        );
        let second = uart.command(Command::Led(9), "a.b.c").expect("answer");
        assert_eq!(second.request, "2 led 9 a.b.c");
        assert!(matches!(
            uart.command(Command::Close, "a.b.c"),
            Err(Error::Protocol(msg)) if msg.contains("- ERROR bad-id")
        ));
        assert!(matches!(
            uart.command(Command::Open, "two words"),
            Err(Error::Protocol(_))
        ));
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
