//! HTTP/1.1 framing as pure functions: where a request starts and ends in the
//! bytes read so far (the head parsed by `httparse`, the body by Content-Length
//! or chunked coding), and the bytes of an answer. No I/O: the connection loop
//! in `http.rs` feeds bytes in and writes what comes out, and the tests and the
//! fuzz target call these functions directly.
//!
//! Refused outright (the connection is closed after the answer): a malformed
//! head (400), a head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] fields (431), a
//! body over the caller's limit (413, before it is read), both Content-Length and
//! Transfer-Encoding or two Content-Length fields (400, the request-smuggling
//! ambiguities of RFC 9112 6.3), a transfer coding other than `chunked` (501).

use crate::Error;
use std::borrow::Cow;
use std::mem::MaybeUninit;

/// Longest request head (request line and header fields), in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// Longest chunked body as sent (sizes, extensions and trailers included), in
/// bytes: bounds the work a body of many tiny chunks can cause.
pub const MAX_CHUNKED: usize = 32 * 1024;

/// One request, framed: the fields the API reads, and how the connection goes on.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, as sent (methods are case-sensitive).
    pub method: &'a str,
    /// The target's path: the query removed, and the scheme and authority of an
    /// absolute-form target.
    pub path: &'a str,
    /// The `Authorization` field's value.
    pub authorization: Option<&'a [u8]>,
    /// The `Content-Type` field's value.
    pub content_type: Option<&'a [u8]>,
    /// The body, chunked coding removed.
    pub body: Cow<'a, [u8]>,
    /// Whether the client keeps the connection open after the answer (HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
    pub keep_alive: bool,
    /// HTTP/1.0 (which keeps a connection only when the answer says so too).
    pub http10: bool,
}

/// What the bytes read so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Not a whole request yet. `expects_continue`: the head is complete and asks
    /// for `100 Continue` before the client sends the body.
    Incomplete {
        /// The client waits for `100 Continue`.
        expects_continue: bool,
    },
    /// A whole request, which takes the first `len` bytes.
    Complete {
        /// The request.
        request: Request<'a>,
        /// Bytes it took, head and body.
        len: usize,
    },
}

/// How the body is delimited.
enum Framing {
    None,
    Length(usize),
    Chunked,
}

/// Frames the request at the start of `buf`, whose body may be at most
/// `max_body` bytes.
///
/// # Errors
/// The answer to send before closing the connection: [`Error::Malformed`],
/// [`Error::HeadersTooLarge`], [`Error::BodyTooLarge`], [`Error::NotImplemented`].
pub fn next(buf: &[u8], max_body: usize) -> Result<Frame<'_>, Error> {
    if buf.is_empty() {
        return Ok(Frame::Incomplete {
            expects_continue: false,
        });
    }
    // Left uninitialized: zeroing 64 fields (2 KiB) for every request costs more
    // than parsing a typical head.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut []);
    let head_len = match head.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => {
            return Ok(Frame::Incomplete {
                expects_continue: false,
            });
        }
        Ok(_) | Err(httparse::Error::TooManyHeaders) => return Err(Error::HeadersTooLarge),
        Err(e) => return Err(Error::Malformed(format!("bad request head: {e}"))),
    };
    let (Some(method), Some(target), Some(version)) = (head.method, head.path, head.version) else {
        return Err(Error::Malformed("bad request head".into()));
    };
    let mut request = Request {
        method,
        path: origin_path(target),
        authorization: None,
        content_type: None,
        body: Cow::Borrowed(&[]),
        keep_alive: false,
        http10: version == 0,
    };
    let (mut close, mut keep_alive) = (false, false);
    let mut length = None;
    let mut chunked = false;
    let mut expects_continue = false;
    for field in head.headers.iter() {
        let name = field.name;
        let value = field.value;
        if name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return Err(Error::Malformed("more than one Content-Length".into()));
            }
            length = Some(content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(Error::NotImplemented(
                    "the only transfer coding accepted is one `chunked`".into(),
                ));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            // An HTTP/1.0 client does not know 100 Continue (RFC 9110 15.2).
            expects_continue =
                version == 1 && value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("authorization") {
            once(&mut request.authorization, value, "Authorization")?;
        } else if name.eq_ignore_ascii_case("content-type") {
            once(&mut request.content_type, value, "Content-Type")?;
        }
    }
    // `close` wins, wherever it stands among the options.
    request.keep_alive = !close && (version == 1 || keep_alive);
    let framing = match (length, chunked) {
        (Some(_), true) => {
            return Err(Error::Malformed(
                "both Content-Length and Transfer-Encoding".into(),
            ));
        }
        (_, true) if version == 0 => {
            return Err(Error::Malformed("Transfer-Encoding in HTTP/1.0".into()));
        }
        (_, true) => Framing::Chunked,
        (Some(n), false) if n > max_body => return Err(Error::BodyTooLarge),
        (Some(n), false) => Framing::Length(n),
        (None, false) => Framing::None,
    };
    let rest = buf.get(head_len..).unwrap_or_default();
    let (body, body_len) = match framing {
        Framing::None => (Cow::Borrowed(&[][..]), 0),
        Framing::Length(n) => match rest.get(..n) {
            Some(body) => (Cow::Borrowed(body), n),
            None => return Ok(Frame::Incomplete { expects_continue }),
        },
        Framing::Chunked => match dechunk(rest, max_body)? {
            Some((body, n)) => (Cow::Owned(body), n),
            None if rest.len() > MAX_CHUNKED => return Err(Error::BodyTooLarge),
            None => return Ok(Frame::Incomplete { expects_continue }),
        },
    };
    request.body = body;
    Ok(Frame::Complete {
        request,
        len: head_len + body_len,
    })
}

/// The path of a request target: origin-form (`/p?q`) or absolute-form
/// (`http://host/p?q`); anything else is returned whole (and routes nowhere).
fn origin_path(target: &str) -> &str {
    let path = if target.starts_with('/') {
        target
    } else {
        match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| rest.get(i..).unwrap_or("/")),
            None => target,
        }
    };
    path.split_once('?').map_or(path, |(path, _)| path)
}

fn once<'a>(slot: &mut Option<&'a [u8]>, value: &'a [u8], name: &str) -> Result<(), Error> {
    if slot.replace(value).is_some() {
        return Err(Error::Malformed(format!("more than one {name}")));
    }
    Ok(())
}

/// A Content-Length value: 1-18 ASCII digits (no sign, no list); one past what
/// `usize` holds is too large.
fn content_length(value: &[u8]) -> Result<usize, Error> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Error::Malformed("bad Content-Length".into()));
    }
    let n = digits
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    usize::try_from(n).map_err(|_| Error::BodyTooLarge)
}

/// Decodes a chunked body (RFC 9112 7.1) at the start of `data`: the body and
/// the bytes it took (trailers included, and ignored), or `None` if it is not
/// all there yet.
///
/// # Errors
/// [`Error::Malformed`] for a bad chunk size or a chunk not followed by CRLF;
/// [`Error::BodyTooLarge`] once the decoded body would pass `max_body`.
pub fn dechunk(data: &[u8], max_body: usize) -> Result<Option<(Vec<u8>, usize)>, Error> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(line) = line_at(data, pos) else {
            return Ok(None);
        };
        pos += line.len() + 2;
        let digits = line
            .split(|&b| b == b';')
            .next()
            .map(<[u8]>::trim_ascii)
            .unwrap_or_default();
        if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(Error::Malformed("bad chunk size".into()));
        }
        let size = digits.iter().fold(0usize, |n, &d| n * 16 + hex_digit(d));
        if size == 0 {
            // Trailer fields, up to an empty line.
            loop {
                let Some(trailer) = line_at(data, pos) else {
                    return Ok(None);
                };
                pos += trailer.len() + 2;
                if trailer.is_empty() {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if body.len() + size > max_body {
            return Err(Error::BodyTooLarge);
        }
        let Some(chunk) = data.get(pos..pos + size + 2) else {
            return Ok(None);
        };
        let (chunk, end) = chunk.split_at(size);
        if end != b"\r\n" {
            return Err(Error::Malformed("chunk not followed by CRLF".into()));
        }
        body.extend_from_slice(chunk);
        pos += size + 2;
    }
}

/// The value of an ASCII hex digit (checked by the caller).
fn hex_digit(d: u8) -> usize {
    usize::from(match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.wrapping_sub(b'A').wrapping_add(10),
    })
}

/// The line that starts at `pos`, without its CRLF, if the CRLF has arrived.
fn line_at(data: &[u8], pos: usize) -> Option<&[u8]> {
    let rest = data.get(pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    rest.get(..end)
}

/// The reason phrase of the statuses the server sends.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The interim answer that tells a client waiting on `Expect: 100-continue` to
/// send its body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How an answer is written.
#[derive(Debug, Clone, Copy)]
pub struct Framed<'a> {
    /// The `Date` field's value (an IMF-fixdate).
    pub date: &'a str,
    /// Leave the body out (the answer to `HEAD`); Content-Length stays the body's.
    pub head_only: bool,
    /// Send `Connection: close` (the server closes after this answer).
    pub close: bool,
    /// The request was HTTP/1.0: a connection that stays open says
    /// `Connection: keep-alive`.
    pub http10: bool,
}

/// Appends an answer with a JSON body to `out`.
pub fn encode(
    out: &mut Vec<u8>,
    status: u16,
    fields: &[(&str, String)],
    body: &[u8],
    how: Framed<'_>,
) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ndate: {}\r\n",
        reason(status),
        body.len(),
        how.date
    );
    for (name, value) in fields {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if how.close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if how.http10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !how.head_only {
        out.extend_from_slice(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (Request<'_>, usize) {
        match next(buf, 100) {
            Ok(Frame::Complete { request, len }) => (request, len),
            other => panic!("not complete: {other:?}"),
        }
    }

    fn refused(buf: &[u8]) -> Error {
        match next(buf, 100) {
            Err(e) => e,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_get_with_a_bearer_token_and_a_query() {
        let buf =
            b"GET /me?x=1 HTTP/1.1\r\nHost: a\r\nauthorization: Bearer t.t.t\r\n\r\nGET /next";
        let (request, len) = complete(buf);
        assert_eq!(len, buf.len() - "GET /next".len());
        assert_eq!(
            request,
            Request {
                method: "GET",
                path: "/me",
                authorization: Some(b"Bearer t.t.t"),
                content_type: None,
                body: Cow::Borrowed(b""),
                keep_alive: true,
                http10: false,
            }
        );
    }

    #[test]
    fn every_prefix_of_a_request_is_incomplete() {
        let buf = b"POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
        for end in 0..buf.len() {
            assert_eq!(
                next(&buf[..end], 100).unwrap(),
                Frame::Incomplete {
                    expects_continue: false
                },
                "{end}"
            );
        }
        let (request, len) = complete(buf);
        assert_eq!((request.body.as_ref(), len), (&b"{\"a\":1}"[..], buf.len()));
        assert_eq!(request.content_type, Some(&b"application/json"[..]));
    }

    #[test]
    fn expect_continue_is_reported_once_the_head_is_in() {
        let head = b"POST /login HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            next(head, 100).unwrap(),
            Frame::Incomplete {
                expects_continue: true
            }
        );
        assert_eq!(
            next(&head[..head.len() - 1], 100).unwrap(),
            Frame::Incomplete {
                expects_continue: false
            }
        );
        let old = b"POST /login HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            next(old, 100).unwrap(),
            Frame::Incomplete {
                expects_continue: false
            },
            "HTTP/1.0 clients are never sent 100 Continue"
        );
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_options() {
        let cases: [(&[u8], bool); 9] = [
            (b"GET / HTTP/1.1\r\n\r\n", true),
            (
                b"GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nConnection: close, keep-alive\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", true),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\nConnection: upgrade\r\n\r\n", false),
        ];
        for (buf, keep) in cases {
            assert_eq!(complete(buf).0.keep_alive, keep, "{buf:?}");
        }
    }

    #[test]
    fn absolute_form_targets_give_their_path() {
        assert_eq!(origin_path("http://a:8080/me?x"), "/me");
        assert_eq!(origin_path("http://a"), "/");
        assert_eq!(origin_path("/devices/a/commands"), "/devices/a/commands");
        assert_eq!(origin_path("/x?http://y/z"), "/x");
        assert_eq!(origin_path("*"), "*");
    }

    #[test]
    fn chunked_bodies_are_decoded_and_bounded() {
        let buf = b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n{\"a\r\nA \r\n\":1234567}\r\n0\r\nX-Trailer: 1\r\n\r\nGET";
        let (request, len) = complete(buf);
        assert_eq!(request.body.as_ref(), b"{\"a\":1234567}");
        assert_eq!(len, buf.len() - 3);
        for end in 0..len {
            assert!(
                matches!(next(&buf[..end], 100), Ok(Frame::Incomplete { .. })),
                "{end}"
            );
        }
        assert_eq!(
            dechunk(b"65\r\n", 100).unwrap_err(),
            Error::BodyTooLarge,
            "101 > 100, refused before it arrives"
        );
        assert!(dechunk(b"64\r\n", 100).unwrap().is_none());
        // Hex digits in either case.
        let sent = b"a\r\n0123456789\r\nF\r\n0123456789abcde\r\n0\r\n\r\n";
        let (body, len) = dechunk(sent, 100).unwrap().unwrap();
        assert_eq!(len, sent.len());
        assert_eq!(body, b"01234567890123456789abcde");
        // Up to eight digits, leading zeros included.
        let sent = b"0000000a\r\n0123456789\r\n0\r\n\r\n";
        assert_eq!(
            dechunk(sent, 100).unwrap(),
            Some((b"0123456789".to_vec(), sent.len()))
        );
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"-1\r\n",
            b"123456789\r\n",
            b"1\r\nabc",
        ] {
            assert!(
                matches!(dechunk(bad, 100), Err(Error::Malformed(_))),
                "{bad:?}"
            );
        }
        // Endless tiny chunks: waited for up to MAX_CHUNKED bytes as sent, no further.
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut many = head.to_vec();
        while many.len() < head.len() + MAX_CHUNKED {
            many.extend_from_slice(b"0000001;padding\r\nx\r\n");
        }
        many.truncate(head.len() + MAX_CHUNKED);
        assert!(matches!(
            next(&many, usize::MAX),
            Ok(Frame::Incomplete { .. })
        ));
        many.push(b'0');
        assert_eq!(next(&many, usize::MAX).unwrap_err(), Error::BodyTooLarge);
    }

    #[test]
    fn ambiguous_or_oversized_requests_are_refused() {
        let malformed: [&[u8]; 8] = [
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n",
            b"GET / HTTP/1.1\r\nAuthorization: a\r\nauthorization: b\r\n\r\n",
            b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET\x00 / HTTP/1.1\r\n\r\n",
        ];
        for buf in malformed {
            assert!(matches!(refused(buf), Error::Malformed(_)), "{buf:?}");
        }
        assert!(matches!(
            refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Error::NotImplemented(_)
        ));
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"),
            Error::BodyTooLarge
        );
        let mut at_limit = b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n".to_vec();
        at_limit.resize(at_limit.len() + 100, b'x');
        assert_eq!(complete(&at_limit).0.body.len(), 100);
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n"),
            Error::BodyTooLarge,
            "18 digits are a length, too large"
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 0999999999999999999\r\n\r\n"),
            Error::Malformed("bad Content-Length".into()),
            "19 digits are not"
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            Error::Malformed("bad Content-Length".into())
        );
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD + 1, b'a');
        assert_eq!(refused(&long), Error::HeadersTooLarge, "still arriving");
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(refused(&long), Error::HeadersTooLarge, "whole");
        long.truncate(MAX_HEAD - 4);
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(complete(&long).1, MAX_HEAD, "exactly at the limit");
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(refused(&many), Error::HeadersTooLarge);
    }

    #[test]
    fn answers_are_framed() {
        let how = Framed {
            date: "Sun, 29 Nov 2026 07:16:26 GMT",
            head_only: false,
            close: true,
            http10: false,
        };
        let mut out = Vec::new();
        encode(&mut out, 429, &[("retry-after", "7".into())], b"{}", how);
        assert_eq!(
            out,
            b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\
              date: Sun, 29 Nov 2026 07:16:26 GMT\r\nretry-after: 7\r\nconnection: close\r\n\r\n{}"
        );
        out.clear();
        let how = Framed {
            head_only: true,
            close: false,
            ..how
        };
        encode(&mut out, 200, &[], b"{}", how);
        assert!(out.ends_with(b"content-length: 2\r\ndate: Sun, 29 Nov 2026 07:16:26 GMT\r\n\r\n"));
        out.clear();
        encode(
            &mut out,
            200,
            &[],
            b"{}",
            Framed {
                http10: true,
                ..how
            },
        );
        assert!(out.ends_with(b"GMT\r\nconnection: keep-alive\r\n\r\n"));
    }
}
