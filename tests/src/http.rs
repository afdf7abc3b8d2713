//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream`, enough for tests and the
//! load driver: Content-Length and chunked bodies, optional keep-alive, timeouts.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::{Deadline, Error};

/// Largest response head or body accepted.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// A response, body fully read.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding removed).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// `Error::Protocol` when it is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Protocol(format!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                self.text()
            ))
        })
    }
}

/// A client for one server. With keep-alive it reuses one connection (reconnecting once
/// if the server closed it); without, each request has its own connection.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
    keep_alive: bool,
    conn: Option<Conn>,
}

impl Client {
    /// A client that opens a new connection per request (`Connection: close`).
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            timeout: Duration::from_secs(10),
            keep_alive: false,
            conn: None,
        }
    }

    /// A client that keeps its connection open between requests.
    pub fn keep_alive(addr: SocketAddr) -> Client {
        Client {
            keep_alive: true,
            ..Client::new(addr)
        }
    }

    /// Sets the limit for connecting plus reading one whole response.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// `GET path`, with `Authorization: Bearer <token>` when given.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub fn get(&mut self, path: &str, bearer: Option<&str>) -> Result<Response, Error> {
        self.request("GET", path, bearer, None)
    }

    /// `DELETE path`, with a bearer token when given.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub fn delete(&mut self, path: &str, bearer: Option<&str>) -> Result<Response, Error> {
        self.request("DELETE", path, bearer, None)
    }

    /// `POST path` with a JSON body, with a bearer token when given.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub fn post_json(
        &mut self,
        path: &str,
        body: &serde_json::Value,
        bearer: Option<&str>,
    ) -> Result<Response, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Protocol(format!("cannot encode the request body: {e}")))?;
        self.request("POST", path, bearer, Some(("application/json", &bytes)))
    }

    /// Sends one request and reads the whole response.
    ///
    /// # Errors
    /// `Error::Io` on connection trouble, `Error::Timeout` past the timeout,
    /// `Error::Protocol` when the response is not valid HTTP/1.1.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, Error> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        if let Some(token) = bearer {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let payload = body.map_or(&[][..], |(_, b)| b);
        if let Some((content_type, bytes)) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
        }
        head.push_str("\r\n");
        let mut message = head.into_bytes();
        message.extend_from_slice(payload);

        let deadline = Deadline::after(self.timeout);
        // A kept-alive connection may have been closed by the server since: retry once
        // on a fresh connection when nothing at all came back.
        let reused = self.conn.is_some();
        match self.exchange(&message, method, deadline) {
            Err(Error::Io { .. } | Error::Protocol(_)) if reused => {
                self.conn = None;
                self.exchange(&message, method, deadline)
            }
            other => other,
        }
    }

    fn exchange(
        &mut self,
        message: &[u8],
        method: &str,
        deadline: Deadline,
    ) -> Result<Response, Error> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => Conn::open(self.addr, deadline)?,
        };
        conn.stream
            .write_all(message)
            .map_err(Error::io("sending the request"))?;
        let response = conn.read_response(method, deadline)?;
        let server_closes = response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if self.keep_alive && !server_closes {
            self.conn = Some(conn);
        }
        Ok(response)
    }
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr, deadline: Deadline) -> Result<Conn, Error> {
        let left = deadline
            .remaining()
            .ok_or_else(|| timeout("a connection"))?;
        let stream = TcpStream::connect_timeout(&addr, left)
            .map_err(Error::io(format!("connecting to {addr}")))?;
        stream
            .set_nodelay(true)
            .map_err(Error::io("setting TCP_NODELAY"))?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Reads more bytes into `buf`; false at end of stream.
    fn fill(&mut self, deadline: Deadline) -> Result<bool, Error> {
        loop {
            let left = deadline
                .remaining()
                .ok_or_else(|| timeout("the HTTP response"))?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(Error::io("setting the read timeout"))?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    if self.buf.len() + n > MAX_RESPONSE {
                        return Err(Error::Protocol("HTTP response too large".into()));
                    }
                    self.buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(true);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        what: "reading the HTTP response".into(),
                        source,
                    });
                }
            }
        }
    }

    /// Takes `n` bytes off the front of `buf`, reading more as needed.
    fn take(&mut self, n: usize, deadline: Deadline) -> Result<Vec<u8>, Error> {
        while self.buf.len() < n {
            if !self.fill(deadline)? {
                return Err(Error::Protocol("connection closed inside the body".into()));
            }
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// Takes one CRLF-terminated line off the front of `buf`.
    fn line(&mut self, deadline: Deadline) -> Result<String, Error> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = self.take(end + 2, deadline)?;
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if !self.fill(deadline)? {
                return Err(Error::Protocol("connection closed inside a line".into()));
            }
        }
    }

    fn read_response(&mut self, method: &str, deadline: Deadline) -> Result<Response, Error> {
        let head_end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end;
            }
            if !self.fill(deadline)? {
                return Err(Error::Protocol(if self.buf.is_empty() {
                    "the server closed the connection without answering".into()
                } else {
                    "connection closed inside the response head".into()
                }));
            }
        };
        let head = self.take(head_end + 4, deadline)?;
        let head = String::from_utf8_lossy(&head);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = parse_status(status_line)?;
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let no_body = method == "HEAD" || status == 204 || status == 304 || status < 200;
        if no_body {
            return Ok(response);
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let size_line = self.line(deadline)?;
                let size_hex = size_line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size_hex, 16)
                    .map_err(|_| Error::Protocol(format!("bad chunk size {size_line:?}")))?;
                if size == 0 {
                    // Trailers, if any, end with an empty line.
                    while !self.line(deadline)?.is_empty() {}
                    break;
                }
                if response.body.len() + size > MAX_RESPONSE {
                    return Err(Error::Protocol("HTTP body too large".into()));
                }
                let data = self.take(size, deadline)?;
                response.body.extend_from_slice(&data);
                if !self.line(deadline)?.is_empty() {
                    return Err(Error::Protocol("chunk not followed by CRLF".into()));
                }
            }
        } else if let Some(len) = response.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| Error::Protocol(format!("bad Content-Length {len:?}")))?;
            if len > MAX_RESPONSE {
                return Err(Error::Protocol("HTTP body too large".into()));
            }
            response.body = self.take(len, deadline)?;
        } else {
            // No length: the body runs to the end of the connection.
            while self.fill(deadline)? {}
            response.body = std::mem::take(&mut self.buf);
        }
        Ok(response)
    }
}

fn parse_status(line: &str) -> Result<u16, Error> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Protocol(format!(
            "not an HTTP/1.x status line: {line:?}"
        )));
    }
    code.parse()
        .map_err(|_| Error::Protocol(format!("bad status code in {line:?}")))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn timeout(what: &str) -> Error {
    Error::Timeout {
        what: what.into(),
        output: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::mpsc;

    /// A one-shot fake server: accepts `connections` connections; on each, reads requests
    /// and answers them with `replies` in order. Sends each request head it saw.
    fn fake_server(
        replies: Vec<&'static str>,
        connections: usize,
    ) -> (SocketAddr, mpsc::Receiver<String>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut replies = replies.into_iter();
            for _ in 0..connections {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(end) = find(&seen, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..end]).into_owned();
                        let _ = tx.send(head.clone());
                        seen.clear();
                        let Some(reply) = replies.next() else { return };
                        let _ = stream.write_all(reply.as_bytes());
                        if head.contains("Connection: close") || reply.contains("Connection: close")
                        {
                            break;
                        }
                    }
                }
            }
        });
        (addr, rx)
    }

    #[test]
    fn content_length_response_and_request_headers() {
        let (addr, seen) = fake_server(
            vec![
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"error\":\"bad-credentials\"}",
            ],
            1,
        );
        let mut client = Client::new(addr);
        let body = serde_json::json!({"username": "alice"});
        let r = client
            .post_json("/login", &body, Some("tok"))
            .expect("response");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(r.json().expect("json")["error"], "bad-credentials");
        let head = seen
            .recv_timeout(Duration::from_secs(5))
            .expect("request seen");
        assert!(head.starts_with("POST /login HTTP/1.1\r\n"));
        assert!(head.contains("Authorization: Bearer tok"));
        assert!(head.contains("Content-Length: 20"));
    }

    #[test]
    fn chunked_body_and_keep_alive_reuse() {
        let (addr, seen) = fake_server(
            vec![
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
                "HTTP/1.1 204 No Content\r\n\r\n",
            ],
            1, // one connection only: the second request must reuse it
        );
        let mut client = Client::keep_alive(addr);
        let first = client.get("/a", None).expect("first");
        assert_eq!(first.text(), "hello world");
        let second = client
            .delete("/b", None)
            .expect("second on the same connection");
        assert_eq!(second.status, 204);
        assert!(second.body.is_empty());
        assert_eq!(seen.iter().take(2).count(), 2);
    }

    #[test]
    fn body_without_length_runs_to_close() {
        let (addr, _seen) = fake_server(vec!["HTTP/1.0 200 OK\r\n\r\nuntil the end"], 1);
        let r = Client::new(addr).get("/", None).expect("response");
        assert_eq!((r.status, r.text().as_str()), (200, "until the end"));
    }

    #[test]
    fn garbage_and_silence_are_errors() {
        let (addr, _seen) = fake_server(vec!["SSH-2.0-nope\r\n\r\n"], 1);
        assert!(matches!(
            Client::new(addr).get("/", None),
            Err(Error::Protocol(_))
        ));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut client = Client::new(addr);
        client.set_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        // The listener accepts (backlog) but never answers.
        assert!(matches!(client.get("/", None), Err(Error::Timeout { .. })));
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[test]
    fn truncated_body_is_an_error() {
        let (addr, _seen) = fake_server(
            vec!["HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort"],
            1,
        );
        assert!(matches!(
            Client::new(addr).get("/", None),
            Err(Error::Protocol(_))
        ));
    }
}
