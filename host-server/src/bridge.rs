//! The device bridge: delivers command requests over a device's UART link (QEMU's
//! serial port exposed on TCP) and reads the verdict that answers them, in the line
//! format of `latchkey_protocol`.
//!
//! - Each request carries a request id (a per-device counter from a random start,
//!   so a verdict left over from an earlier server process does not match); the
//!   bridge takes the verdict that echoes it and drops every other line: stale
//!   verdicts of requests it gave up on, unsolicited ones, boot banners.
//! - Every new connection starts with [`CANCEL_LINE`]: a half-sent line left in the
//!   device's line buffer by a broken connection ends there and cannot run.
//! - When it fails, it says whether the command may still run: "did not run" when
//!   no complete request line left the server, "may have run" when one did but no
//!   verdict came back (the device may still carry it out while the token is valid).

use crate::error::Error;
use latchkey_protocol::{CANCEL_LINE, Command, MAX_LINE_LEN, Request, RequestId, parse_verdict};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// How long to wait for a TCP connection to the device.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for the device's verdict line.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest line read from the device; a longer one is skipped as noise (a verdict
/// is at most 40 bytes).
const MAX_READ_LINE: usize = 512;
/// Most bytes kept from the device while no request waits (stale lines).
const MAX_PENDING: usize = 64 * 1024;

/// Parses a `--device ID=tcp://HOST:PORT` argument into `(id, "HOST:PORT")`.
///
/// # Errors
/// [`Error::Config`] if the shape is wrong or the id breaks the device id rule.
pub fn parse_device_arg(arg: &str) -> Result<(String, String), Error> {
    let (id, url) = arg
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--device {arg:?}: expected ID=tcp://HOST:PORT")))?;
    let addr = url
        .strip_prefix("tcp://")
        .ok_or_else(|| Error::Config(format!("--device {arg:?}: only tcp:// is supported")))?;
    if !crate::api::valid_device_id(id) || addr.is_empty() || !addr.contains(':') {
        return Err(Error::Config(format!(
            "--device {arg:?}: expected ID=tcp://HOST:PORT; {}",
            latchkey_protocol::BadDeviceId
        )));
    }
    Ok((id.to_owned(), addr.to_owned()))
}

/// One connection to a device's UART, with the bytes read but not yet taken.
struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
    /// The rest of an overlong line is being dropped.
    skipping: bool,
}

/// Why an exchange failed after the request line was written.
#[derive(Debug)]
enum Silence {
    Io(std::io::Error),
    Closed,
    Timeout(Duration),
}

impl std::fmt::Display for Silence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Silence::Io(e) => write!(f, "{e}"),
            Silence::Closed => f.write_str("the device closed the connection"),
            Silence::Timeout(d) => write!(f, "no verdict within {} s", d.as_secs_f64()),
        }
    }
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            pending: Vec::new(),
            skipping: false,
        }
    }

    /// Whether the device closed the connection since it was last used. Lines that
    /// arrived meanwhile are kept (they are stale, and dropped by id).
    fn closed_by_peer(&mut self) -> bool {
        let mut chunk = [0u8; 512];
        loop {
            match self.stream.try_read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => {
                    if self.pending.len() > MAX_PENDING {
                        self.pending.clear();
                        self.skipping = true;
                    }
                    self.pending
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    /// The next whole line (without its `\n`); lines over [`MAX_READ_LINE`] are
    /// skipped.
    async fn next_line(&mut self) -> Result<Vec<u8>, Silence> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                return Ok(line);
            }
            if self.pending.len() > MAX_READ_LINE {
                self.pending.clear();
                self.skipping = true;
            }
            let mut chunk = [0u8; 512];
            let n = self.stream.read(&mut chunk).await.map_err(Silence::Io)?;
            if n == 0 {
                return Err(Silence::Closed);
            }
            self.pending
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    /// Reads lines until the verdict for `id`; returns it without the id
    /// (`OK opened`). Any other line is dropped.
    async fn verdict_for(&mut self, id: RequestId, device: &str) -> Result<String, Silence> {
        loop {
            let line = self.next_line().await?;
            // QEMU may put NULs before the first byte a guest sends.
            let start = line.iter().take_while(|&&b| b == 0).count();
            let line = line.get(start..).unwrap_or_default();
            match parse_verdict(line) {
                Ok(v) if v.id == Some(id) => {
                    return Ok(format!("{} {}", v.kind.as_str(), v.detail));
                }
                Ok(v) => {
                    tracing::debug!(device, verdict = %v, "stale or unsolicited verdict dropped")
                }
                Err(_) => tracing::debug!(
                    device,
                    line = %String::from_utf8_lossy(line),
                    "device output skipped"
                ),
            }
        }
    }
}

/// A device link's state: the connection, if one is open, and the next request id.
struct LinkState {
    conn: Option<Conn>,
    next_id: u32,
}

struct Link {
    addr: String,
    state: Mutex<LinkState>,
}

/// Links to the configured devices, one connection each, used one request at a
/// time (the UART carries one conversation).
#[derive(Clone)]
pub struct Bridge {
    links: Arc<HashMap<String, Link>>,
    reply_timeout: Duration,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge::new([])
    }
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.links.keys()).finish()
    }
}

/// A random start for a link's request ids (zero if the OS will not say).
fn random_u32() -> u32 {
    let mut raw = [0u8; 4];
    let _ = crate::keys::random_bytes(&mut raw);
    u32::from_le_bytes(raw)
}

/// The 503 for a request whose line never fully left the server.
fn did_not_run(device: &str, cause: &str) -> Error {
    Error::DeviceUnreachable(format!(
        "device {device:?}: {cause}; the request was not delivered, so the command did not run"
    ))
}

/// The 503 for a request whose line was written but got no verdict.
fn may_have_run(device: &str, cause: &Silence) -> Error {
    Error::DeviceUnreachable(format!(
        "device {device:?}: {cause} after the request was sent; the command may have run, \
         or may still run until its token expires"
    ))
}

impl Bridge {
    /// A bridge to these `(device id, "HOST:PORT")` pairs.
    #[must_use]
    pub fn new(devices: impl IntoIterator<Item = (String, String)>) -> Self {
        let links = devices
            .into_iter()
            .map(|(id, addr)| {
                (
                    id,
                    Link {
                        addr,
                        state: Mutex::new(LinkState {
                            conn: None,
                            next_id: random_u32(),
                        }),
                    },
                )
            })
            .collect();
        Bridge {
            links: Arc::new(links),
            reply_timeout: REPLY_TIMEOUT,
        }
    }

    /// The same bridge waiting `timeout` for a verdict (default [`REPLY_TIMEOUT`]).
    #[must_use]
    pub fn with_reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout;
        self
    }

    /// Whether a link is configured for `device`.
    #[must_use]
    pub fn has(&self, device: &str) -> bool {
        self.links.contains_key(device)
    }

    /// Sends `command` with `token` to `device` as a request line with a fresh
    /// request id, and returns the verdict that echoes it, without the id
    /// (`OK opened`, `DENIED replayed`, `ERROR ...`). Other lines are dropped.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no link is configured; [`Error::Internal`] if the token
    /// cannot go on a request line; [`Error::DeviceUnreachable`] if the device cannot
    /// be reached or does not answer in time, its message saying whether the command
    /// did not run or may have run.
    pub async fn send(&self, device: &str, command: Command, token: &str) -> Result<String, Error> {
        let link = self
            .links
            .get(device)
            .ok_or_else(|| Error::NotFound(format!("no bridge for device {device:?}")))?;
        let mut state = link.state.lock().await;
        // A kept connection that fails before the line is written is retried once,
        // on a fresh connection (whose cancel line ends any half-sent line).
        for attempt in 0..2 {
            let id = RequestId::from_counter(state.next_id);
            state.next_id = state.next_id.wrapping_add(1);
            let mut buf = [0u8; MAX_LINE_LEN];
            let line = Request {
                id,
                command,
                token: token.as_bytes(),
            }
            .encode(&mut buf)
            .map_err(|e| Error::Internal(format!("request line for {device:?}: {e}")))?;
            let alive = state
                .conn
                .as_mut()
                .is_some_and(|conn| !conn.closed_by_peer());
            if !alive {
                state.conn = None;
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&link.addr))
                    .await
                    .map_err(|_| did_not_run(device, "connect timed out"))?
                    .map_err(|e| did_not_run(device, &e.to_string()))?;
                let _ = stream.set_nodelay(true);
                state.conn = Some(Conn::new(stream));
            }
            let kept = alive;
            let mut out = Vec::with_capacity(CANCEL_LINE.len() + line.len() + 1);
            if !kept {
                out.extend_from_slice(CANCEL_LINE);
            }
            out.extend_from_slice(line);
            out.push(b'\n');
            let Some(conn) = state.conn.as_mut() else {
                continue;
            };
            // `write_all` fails only before its last byte, the `\n`, is written: a
            // failed write never leaves a complete request line behind.
            if let Err(e) = conn.stream.write_all(&out).await {
                state.conn = None;
                if kept && attempt == 0 {
                    continue;
                }
                return Err(did_not_run(device, &e.to_string()));
            }
            let verdict = tokio::time::timeout(self.reply_timeout, conn.verdict_for(id, device))
                .await
                .unwrap_or(Err(Silence::Timeout(self.reply_timeout)));
            return verdict.map_err(|silence| {
                // A late verdict on this connection would be stale: start afresh.
                state.conn = None;
                may_have_run(device, &silence)
            });
        }
        Err(did_not_run(device, "the connection failed twice"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::parse_request;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::net::tcp::OwnedWriteHalf;

    #[test]
    fn device_args_parse() {
        assert_eq!(
            parse_device_arg("door-1=tcp://127.0.0.1:4444").unwrap(),
            ("door-1".into(), "127.0.0.1:4444".into())
        );
        assert!(parse_device_arg("door-1=udp://127.0.0.1:4444").is_err());
        assert!(parse_device_arg("door-1").is_err());
        assert!(parse_device_arg("bad id=tcp://127.0.0.1:1").is_err());
        assert!(parse_device_arg("door:1=tcp://127.0.0.1:1").is_err());
    }

    /// A fake device's side of one connection: every line it received (raw), and
    /// a way to answer.
    struct Peer {
        lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
        writer: OwnedWriteHalf,
        received: Vec<Vec<u8>>,
    }

    impl Peer {
        async fn accept(listener: &TcpListener) -> Peer {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, writer) = stream.into_split();
            Peer {
                lines: BufReader::new(read).lines(),
                writer,
                received: Vec::new(),
            }
        }

        /// The next line that is a request, answering refused lines (the cancel
        /// line) as the firmware does.
        async fn request(&mut self) -> (RequestId, Command, String) {
            loop {
                let line = self.lines.next_line().await.unwrap().unwrap();
                self.received.push(line.clone().into_bytes());
                match parse_request(line.as_bytes()) {
                    Ok(r) => {
                        let token = String::from_utf8(r.token.to_vec()).unwrap();
                        return (r.id, r.command, token);
                    }
                    Err(refusal) => {
                        self.say(&format!("{}\n", refusal.verdict())).await;
                    }
                }
            }
        }

        async fn say(&mut self, text: &str) {
            self.writer.write_all(text.as_bytes()).await.unwrap();
        }
    }

    /// A fake device's listener and a bridge to it that waits `reply_timeout`.
    async fn device_waiting(reply_timeout: Duration) -> (TcpListener, Bridge) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bridge =
            Bridge::new([("d1".to_owned(), addr.to_string())]).with_reply_timeout(reply_timeout);
        (listener, bridge)
    }

    async fn device() -> (TcpListener, Bridge) {
        device_waiting(REPLY_TIMEOUT).await
    }

    fn message(e: Error) -> String {
        match e {
            Error::DeviceUnreachable(m) => m,
            other => panic!("expected device-unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn sends_ids_skips_noise_and_returns_the_verdict() {
        let (listener, bridge) = device().await;
        let fake = tokio::spawn(async move {
            let mut peer = Peer::accept(&listener).await;
            for _ in 0..2 {
                let (id, command, _) = peer.request().await;
                peer.say(&format!("boot banner\n{id} OK {}\n", command.name()))
                    .await;
            }
            peer.received
        });
        assert_eq!(
            bridge.send("d1", Command::Open, "t.o.k").await.unwrap(),
            "OK open"
        );
        assert_eq!(
            bridge.send("d1", Command::Led(7), "t.o.k").await.unwrap(),
            "OK led"
        );
        let received = fake.await.unwrap();
        // One connection: the cancel line once, then two requests with two ids.
        assert_eq!(received.len(), 3);
        assert_eq!(received[0], [latchkey_protocol::CANCEL]);
        let first = parse_request(&received[1]).unwrap();
        let second = parse_request(&received[2]).unwrap();
        assert_eq!((first.command, first.token), (Command::Open, &b"t.o.k"[..]));
        assert_eq!(second.command, Command::Led(7));
        assert_ne!(first.id, second.id);
        assert!(matches!(
            bridge.send("nope", Command::Open, "x").await,
            Err(Error::NotFound(_))
        ));
    }

    /// An unsolicited verdict, a stale one for another id, and a verdict without an
    /// id arrive first: the bridge returns the one that answers its request.
    #[tokio::test]
    async fn unsolicited_and_stale_verdicts_are_dropped() {
        let (listener, bridge) = device().await;
        let fake = tokio::spawn(async move {
            let mut peer = Peer::accept(&listener).await;
            peer.say("7 OK opened\n").await;
            let (id, _, _) = peer.request().await;
            let other = RequestId::from_counter(0xbad);
            peer.say(&format!(
                "{other} OK opened\n- ERROR bad-id\n{}\n{id} DENIED replayed\n",
                "x".repeat(2000)
            ))
            .await;
        });
        assert_eq!(
            bridge.send("d1", Command::Close, "t.o.k").await.unwrap(),
            "DENIED replayed"
        );
        fake.await.unwrap();
    }

    #[tokio::test]
    async fn no_verdict_means_the_command_may_have_run() {
        let (listener, bridge) = device_waiting(Duration::from_millis(500)).await;
        let fake = tokio::spawn(async move {
            let mut peer = Peer::accept(&listener).await;
            // Reads the request and says nothing about it; answers late, on the
            // connection the bridge has given up.
            let (id, _, _) = peer.request().await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            let _ = peer
                .writer
                .write_all(format!("{id} OK opened\n").as_bytes())
                .await;
            // The bridge comes back on a new connection, cancel line first.
            let mut peer = Peer::accept(&listener).await;
            let (id, _, _) = peer.request().await;
            peer.say(&format!("{id} OK closed\n")).await;
            peer.received
        });
        let err = message(bridge.send("d1", Command::Open, "t.o.k").await.unwrap_err());
        assert!(err.contains("may have run"), "{err}");
        assert!(err.contains("no verdict within 0.5 s"), "{err}");
        assert_eq!(
            bridge.send("d1", Command::Close, "t.o.k").await.unwrap(),
            "OK closed"
        );
        let second_connection = fake.await.unwrap();
        assert_eq!(second_connection[0], [latchkey_protocol::CANCEL]);
    }

    #[tokio::test]
    async fn a_connection_closed_after_the_request_may_have_run() {
        let (listener, bridge) = device().await;
        let fake = tokio::spawn(async move {
            let mut peer = Peer::accept(&listener).await;
            let _ = peer.request().await;
            // Drops the connection without a verdict.
        });
        let err = message(bridge.send("d1", Command::Open, "t.o.k").await.unwrap_err());
        assert!(err.contains("may have run"), "{err}");
        fake.await.unwrap();
    }

    /// The device side closed a kept connection between two requests: the bridge
    /// notices before writing, reconnects, and clears a half-sent line first.
    #[tokio::test]
    async fn a_kept_connection_closed_meanwhile_is_replaced() {
        let (listener, bridge) = device().await;
        let (closed, is_closed) = tokio::sync::oneshot::channel();
        let fake = tokio::spawn(async move {
            let mut peer = Peer::accept(&listener).await;
            let (id, _, _) = peer.request().await;
            peer.say(&format!("{id} OK opened\n")).await;
            drop(peer);
            let _ = closed.send(());
            let mut peer = Peer::accept(&listener).await;
            let (id, _, _) = peer.request().await;
            peer.say(&format!("{id} OK door=open led=0\n")).await;
            peer.received
        });
        assert_eq!(
            bridge.send("d1", Command::Open, "t.o.k").await.unwrap(),
            "OK opened"
        );
        is_closed.await.unwrap();
        // The FIN crosses loopback at once; a moment for the kernel to take it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            bridge.send("d1", Command::Status, "t.o.k").await.unwrap(),
            "OK door=open led=0"
        );
        let second_connection = fake.await.unwrap();
        assert_eq!(second_connection[0], [latchkey_protocol::CANCEL]);
    }

    #[tokio::test]
    async fn an_unreachable_device_did_not_run_the_command() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let bridge = Bridge::new([("d1".to_owned(), addr.to_string())]);
        let err = message(bridge.send("d1", Command::Open, "t.o.k").await.unwrap_err());
        assert!(err.contains("did not run"), "{err}");
    }

    #[tokio::test]
    async fn a_token_that_cannot_go_on_a_line_is_not_sent() {
        let (_listener, bridge) = device().await;
        assert!(matches!(
            bridge.send("d1", Command::Open, "two words").await,
            Err(Error::Internal(_))
        ));
    }
}
