//! Properties of the HTTP/1.1 framing (`latchkey_server::wire`): a request
//! written out (Content-Length or chunked, split anywhere, followed by the next
//! request) is framed back exactly; every strict prefix is incomplete, never an
//! error; and bytes changed at random give an answer or a wait, never a panic.

use latchkey_server::wire::{self, Frame, Request};
use proptest::prelude::*;
use std::borrow::Cow;

const MAX_BODY: usize = 2048;

#[derive(Debug, Clone)]
struct Sent {
    method: &'static str,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
    /// Chunk sizes (cycled) when sent chunked; Content-Length when `None`.
    chunks: Option<Vec<usize>>,
    http10: bool,
    /// The `Connection` field, if sent.
    connection: Option<&'static str>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/=-]{1,40}"
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        prop::sample::select(vec!["GET", "POST", "DELETE", "HEAD", "PATCH"]),
        "(/[a-z0-9%._-]{0,12}){1,3}",
        prop::option::of("[a-z0-9=&]{0,12}"),
        prop::option::of(token().prop_map(|t| format!("Bearer {t}"))),
        prop::option::of(prop::sample::select(vec![
            "application/json".to_owned(),
            "application/json; charset=utf-8".to_owned(),
            "text/plain".to_owned(),
        ])),
        prop::collection::vec(any::<u8>(), 0..MAX_BODY),
        prop::option::of(prop::collection::vec(1usize..300, 1..5)),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![
            "close",
            "keep-alive",
            "Keep-Alive",
            "upgrade, CLOSE",
            "keep-alive, close",
            "close, keep-alive",
        ])),
    )
        .prop_map(
            |(
                method,
                path,
                query,
                authorization,
                content_type,
                body,
                chunks,
                http10,
                connection,
            )| {
                Sent {
                    method,
                    path,
                    query,
                    authorization,
                    content_type,
                    body,
                    // HTTP/1.0 has no chunked coding.
                    chunks: chunks.filter(|_| !http10),
                    http10,
                    connection,
                }
            },
        )
}

fn write(s: &Sent) -> Vec<u8> {
    let version = if s.http10 { "1.0" } else { "1.1" };
    let target = match &s.query {
        Some(q) => format!("{}?{q}", s.path),
        None => s.path.clone(),
    };
    let mut head = format!("{} {target} HTTP/{version}\r\nHost: example\r\n", s.method);
    if let Some(a) = &s.authorization {
        head.push_str(&format!("authorization: {a}\r\n"));
    }
    if let Some(c) = &s.content_type {
        head.push_str(&format!("Content-Type: {c}\r\n"));
    }
    if let Some(c) = s.connection {
        head.push_str(&format!("Connection: {c}\r\n"));
    }
    let mut bytes = match &s.chunks {
        None => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", s.body.len()));
            let mut b = head.into_bytes();
            b.extend_from_slice(&s.body);
            b
        }
        Some(sizes) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut b = head.into_bytes();
            let mut rest = &s.body[..];
            for size in sizes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (chunk, tail) = rest.split_at((*size).min(rest.len()));
                b.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
                b.extend_from_slice(chunk);
                b.extend_from_slice(b"\r\n");
                rest = tail;
            }
            b.extend_from_slice(b"0\r\n\r\n");
            b
        }
    };
    bytes.shrink_to_fit();
    bytes
}

fn expected(s: &Sent) -> Request<'_> {
    Request {
        method: s.method,
        path: &s.path,
        authorization: s.authorization.as_deref().map(str::as_bytes),
        content_type: s.content_type.as_deref().map(str::as_bytes),
        body: Cow::Borrowed(&s.body),
        keep_alive: match s.connection.map(str::to_ascii_lowercase) {
            Some(c) if c.contains("close") => false,
            Some(c) if c.contains("keep-alive") => true,
            _ => !s.http10,
        },
        http10: s.http10,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_requests_frame_back_exactly(s in sent(), next in prop::collection::vec(any::<u8>(), 0..64)) {
        let one = write(&s);
        let mut bytes = one.clone();
        bytes.extend_from_slice(&next);
        match wire::next(&bytes, MAX_BODY) {
            Ok(Frame::Complete { request, len }) => {
                prop_assert_eq!(len, one.len());
                prop_assert_eq!(request, expected(&s));
            }
            other => prop_assert!(false, "{:?}", other),
        }
        for end in 0..one.len() {
            let frame = wire::next(&one[..end], MAX_BODY);
            prop_assert!(matches!(frame, Ok(Frame::Incomplete { .. })), "{} {:?}", end, frame);
        }
    }

    #[test]
    fn changed_bytes_never_panic_and_never_overrun(
        s in sent(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = write(&s);
        for (at, byte) in changes {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(Frame::Complete { request, len }) = wire::next(&bytes, MAX_BODY) {
            prop_assert!(len <= bytes.len());
            prop_assert!(request.body.len() <= MAX_BODY);
        }
    }
}
