//! A blocking HTTP client for tests, the demo and the benchmark, on `ureq`: every
//! status comes back as a [`Response`] (a 401 is an answer to check, not an error).

use std::net::SocketAddr;
use std::time::Duration;

use ureq::Agent;

use crate::Error;

/// How long one request may take, connecting included, unless set otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A response, body fully read.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (transfer coding removed).
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

/// A client for one server (`http://ADDR`), reusing its connections (clones share
/// them).
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: Agent,
}

impl Client {
    /// A client for the server at `addr`.
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            base: format!("http://{addr}"),
            agent: agent(DEFAULT_TIMEOUT),
        }
    }

    /// Sets the limit for one whole request, connecting included.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.agent = agent(timeout);
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

    /// Sends one request (`body` as content type and bytes) and reads the whole
    /// response.
    ///
    /// # Errors
    /// `Error::Timeout` past the timeout, `Error::Protocol` for a request that cannot
    /// be built or an answer that is not HTTP, `Error::Io` for other connection trouble.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, Error> {
        let what = format!("{method} {path}");
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some((content_type, _)) = body {
            request = request.header("content-type", content_type);
        }
        let request = request
            .body(body.map_or_else(Vec::new, |(_, bytes)| bytes.to_vec()))
            .map_err(|e| Error::Protocol(format!("{what}: {e}")))?;
        let mut response = self.agent.run(request).map_err(|e| failure(&what, e))?;
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| failure(&what, e))?;
        Ok(Response {
            status: response.status().as_u16(),
            headers,
            body,
        })
    }
}

/// An agent that returns every status as a response and gives up after `timeout`.
fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// A ureq error as the harness's error kinds.
fn failure(what: &str, error: ureq::Error) -> Error {
    match error {
        ureq::Error::Timeout(_) => Error::Timeout {
            what: format!("the answer to {what}"),
            output: String::new(),
        },
        ureq::Error::Io(source) => Error::Io {
            what: what.to_owned(),
            source,
        },
        other => Error::Protocol(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::mpsc;

    /// A one-shot fake server: answers each of `connections` connections with `reply`
    /// after reading one request head and body, and sends the request it read.
    fn fake_server(
        connections: usize,
        reply: &'static str,
    ) -> (SocketAddr, mpsc::Receiver<String>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections).flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                head.push_str(&String::from_utf8_lossy(&body));
                let _ = tx.send(head);
                let mut stream = stream;
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        (addr, rx)
    }

    #[test]
    fn error_statuses_are_responses_with_headers_and_body() {
        let (addr, requests) = fake_server(
            1,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\
             Content-Length: 17\r\nConnection: close\r\n\r\n{\"error\":\"nope\"}\n",
        );
        let mut client = Client::new(addr);
        let body = serde_json::json!({"username": "alice"});
        let response = client
            .post_json("/login", &body, Some("abc"))
            .expect("an answer");
        assert_eq!(response.status, 401);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_eq!(response.json().expect("json")["error"], "nope");
        let request = requests.recv().expect("the request");
        assert!(request.starts_with("POST /login HTTP/1.1\r\n"), "{request}");
        let lower = request.to_ascii_lowercase();
        assert!(lower.contains("authorization: bearer abc\r\n"), "{request}");
        assert!(
            lower.contains("content-type: application/json\r\n"),
            "{request}"
        );
        assert!(request.ends_with(r#"{"username":"alice"}"#), "{request}");
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let (addr, _requests) = fake_server(
            1,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        );
        let response = Client::new(addr).get("/x", None).expect("an answer");
        assert_eq!((response.status, response.text().as_str()), (200, "abcde"));
    }

    #[test]
    fn silence_is_a_timeout_and_garbage_an_error() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepts and holds the connection without answering.
        let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
        let mut client = Client::new(addr);
        client.set_timeout(Duration::from_millis(300));
        assert!(matches!(
            client.get("/slow", None),
            Err(Error::Timeout { .. })
        ));
        drop(holder);

        let (addr, _requests) = fake_server(1, "SSH-2.0-OpenSSH\r\n\r\n");
        assert!(Client::new(addr).get("/", None).is_err());
    }
}
