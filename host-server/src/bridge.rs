//! The device bridge: delivers command lines over a device's UART link (QEMU's
//! serial port exposed on TCP) and reads the device's one-line verdict.

use crate::error::Error;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// How long to wait for a TCP connection to the device.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for the device's verdict line.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest verdict line accepted.
const MAX_LINE: usize = 512;

/// Parses a `--device ID=tcp://HOST:PORT` argument into `(id, "HOST:PORT")`.
///
/// # Errors
/// [`Error::Config`] if the shape is wrong.
pub fn parse_device_arg(arg: &str) -> Result<(String, String), Error> {
    let (id, url) = arg
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--device {arg:?}: expected ID=tcp://HOST:PORT")))?;
    let addr = url
        .strip_prefix("tcp://")
        .ok_or_else(|| Error::Config(format!("--device {arg:?}: only tcp:// is supported")))?;
    if !crate::api::valid_device_id(id) || addr.is_empty() || !addr.contains(':') {
        return Err(Error::Config(format!(
            "--device {arg:?}: expected ID=tcp://HOST:PORT"
        )));
    }
    Ok((id.to_owned(), addr.to_owned()))
}

struct Link {
    addr: String,
    conn: Mutex<Option<BufReader<TcpStream>>>,
}

/// Links to the configured devices, one connection each, used one request at a
/// time (the UART carries one conversation).
#[derive(Clone, Default)]
pub struct Bridge {
    links: Arc<HashMap<String, Link>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.links.keys()).finish()
    }
}

fn is_verdict(line: &str) -> bool {
    ["OK", "DENIED", "ERROR"]
        .iter()
        .any(|p| line == *p || line.strip_prefix(p).is_some_and(|r| r.starts_with(' ')))
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
                        conn: Mutex::new(None),
                    },
                )
            })
            .collect();
        Bridge {
            links: Arc::new(links),
        }
    }

    /// Whether a link is configured for `device`.
    #[must_use]
    pub fn has(&self, device: &str) -> bool {
        self.links.contains_key(device)
    }

    /// Sends `line` (without its newline) to `device` and returns the device's
    /// verdict line (`OK ...`, `DENIED ...` or `ERROR ...`). Other lines the device
    /// prints (boot banners, logs) are skipped.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no link is configured; [`Error::DeviceUnreachable`] if
    /// the device cannot be reached or does not answer in time.
    pub async fn send(&self, device: &str, line: &str) -> Result<String, Error> {
        let link = self
            .links
            .get(device)
            .ok_or_else(|| Error::NotFound(format!("no bridge for device {device:?}")))?;
        let mut guard = link.conn.lock().await;
        // A kept connection may have been closed by the other side; retry once fresh.
        for attempt in 0..2 {
            if guard.is_none() {
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&link.addr))
                    .await
                    .map_err(|_| {
                        Error::DeviceUnreachable(format!("device {device:?}: connect timed out"))
                    })?
                    .map_err(|e| Error::DeviceUnreachable(format!("device {device:?}: {e}")))?;
                let _ = stream.set_nodelay(true);
                *guard = Some(BufReader::new(stream));
            }
            let Some(conn) = guard.as_mut() else { continue };
            match exchange(conn, line).await {
                Ok(verdict) => return Ok(verdict),
                Err(e) => {
                    *guard = None;
                    if attempt == 1 || matches!(e, Exchange::Timeout) {
                        return Err(Error::DeviceUnreachable(format!("device {device:?}: {e}")));
                    }
                }
            }
        }
        Err(Error::DeviceUnreachable(format!(
            "device {device:?}: no answer"
        )))
    }
}

#[derive(Debug)]
enum Exchange {
    Io(std::io::Error),
    Closed,
    Timeout,
    TooLong,
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exchange::Io(e) => write!(f, "{e}"),
            Exchange::Closed => f.write_str("connection closed"),
            Exchange::Timeout => f.write_str("no verdict in time"),
            Exchange::TooLong => f.write_str("reply line too long"),
        }
    }
}

async fn exchange(conn: &mut BufReader<TcpStream>, line: &str) -> Result<String, Exchange> {
    let mut out = Vec::with_capacity(line.len() + 1);
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    conn.get_mut().write_all(&out).await.map_err(Exchange::Io)?;
    tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            let mut buf = Vec::new();
            let n = (&mut *conn)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .await
                .map_err(Exchange::Io)?;
            if n == 0 {
                return Err(Exchange::Closed);
            }
            if buf.last() != Some(&b'\n') && n > MAX_LINE {
                return Err(Exchange::TooLong);
            }
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\r', '\n']).trim_start_matches('\0');
            if is_verdict(text) {
                return Ok(text.to_owned());
            }
            tracing::debug!(line = %text, "device output skipped");
        }
    })
    .await
    .map_err(|_| Exchange::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn device_args_parse() {
        assert_eq!(
            parse_device_arg("door-1=tcp://127.0.0.1:4444").unwrap(),
            ("door-1".into(), "127.0.0.1:4444".into())
        );
        assert!(parse_device_arg("door-1=udp://127.0.0.1:4444").is_err());
        assert!(parse_device_arg("door-1").is_err());
        assert!(parse_device_arg("bad id=tcp://127.0.0.1:1").is_err());
    }

    #[test]
    fn verdicts_are_recognised() {
        assert!(is_verdict("OK opened"));
        assert!(is_verdict("DENIED expired"));
        assert!(is_verdict("ERROR malformed"));
        assert!(!is_verdict("OKAY"));
        assert!(!is_verdict("boot: latchkey firmware"));
    }

    #[tokio::test]
    async fn sends_a_line_skips_noise_and_returns_the_verdict() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let device = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = BufReader::new(stream);
            for _ in 0..2 {
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                let cmd = line.split(' ').next().unwrap().to_owned();
                stream
                    .get_mut()
                    .write_all(format!("boot banner\nOK {cmd}\n").as_bytes())
                    .await
                    .unwrap();
            }
        });
        let bridge = Bridge::new([("d1".to_owned(), addr.to_string())]);
        assert_eq!(bridge.send("d1", "open TOKEN").await.unwrap(), "OK open");
        assert_eq!(
            bridge.send("d1", "status TOKEN").await.unwrap(),
            "OK status"
        );
        device.await.unwrap();
        assert!(matches!(
            bridge.send("nope", "x").await,
            Err(Error::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn unreachable_devices_give_device_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let bridge = Bridge::new([("d1".to_owned(), addr.to_string())]);
        assert!(matches!(
            bridge.send("d1", "open T").await,
            Err(Error::DeviceUnreachable(_))
        ));
    }
}
