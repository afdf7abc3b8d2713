//! The two kinds of line on a device's UART: request lines to the device and
//! verdict lines back, each ending with `\n`.
//!
//! ```text
//! request:  <id> <command> [<arg>] <token>
//! verdict:  <id> OK <result>  |  <id> DENIED <reason>  |  <id> ERROR <reason>
//! ```
//!
//! The verdict echoes the request's id, so a reader matches answers to requests
//! and drops stale or unsolicited lines (a refused token has no trustworthy `jti`
//! to match on). A line whose id cannot be read is answered with `-` for the id.

use core::fmt;

use crate::command::Command;
use crate::limits::{MAX_DETAIL_LEN, MAX_ID_LEN, MAX_LINE_LEN, MAX_TOKEN_LEN, MAX_VERDICT_LEN};
use crate::reason::{Reason, is_reason_code};

/// The cancel byte (ASCII CAN, 0x18): a line that holds it is never carried out
/// and is answered `ERROR cancelled`.
pub const CANCEL: u8 = 0x18;

/// What a bridge writes first on a new connection: ends whatever half-sent line
/// an earlier connection left in the device's line buffer without letting it run
/// (a lone `\n` would complete a line cut just before its own `\n`). Its verdict,
/// `<id> ERROR cancelled` or `- ERROR cancelled`, is not an answer to anything.
pub const CANCEL_LINE: &[u8] = &[CANCEL, b'\n'];

/// The id field of a verdict to a line whose id could not be read.
pub const NO_ID: &str = "-";

/// A request id: 1 to [`MAX_ID_LEN`] (8) bytes of `0-9 A-Z a-z`, chosen by the
/// sender and echoed in the verdict. Short, printable, and never `-`.
///
/// Ids need not be unique forever, only among the requests a reader may still be
/// waiting for; a bridge counts them from a random start so that a verdict left
/// over from an earlier server process does not match a new request.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    bytes: [u8; MAX_ID_LEN],
    len: u8,
}

impl RequestId {
    /// Checks `id` against the rule.
    ///
    /// # Errors
    /// [`Reason::BadId`] when `id` is empty, too long, or has other characters.
    pub fn new(id: &str) -> Result<RequestId, Reason> {
        RequestId::from_bytes(id.as_bytes())
    }

    /// As [`RequestId::new`], from a field of a line.
    ///
    /// # Errors
    /// [`Reason::BadId`].
    pub fn from_bytes(id: &[u8]) -> Result<RequestId, Reason> {
        if id.is_empty() || !id.iter().all(u8::is_ascii_alphanumeric) {
            return Err(Reason::BadId);
        }
        let mut bytes = [0u8; MAX_ID_LEN];
        bytes
            .get_mut(..id.len())
            .ok_or(Reason::BadId)?
            .copy_from_slice(id);
        // At most MAX_ID_LEN (8): fits a u8.
        Ok(RequestId {
            bytes,
            len: id.len() as u8,
        })
    }

    /// `n` in lower-case hexadecimal, at most 8 digits: a counter's next id.
    #[must_use]
    pub fn from_counter(n: u32) -> RequestId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; MAX_ID_LEN];
        let digits = (32 - n.leading_zeros()).div_ceil(4).max(1) as usize;
        for (i, byte) in bytes.iter_mut().take(digits).enumerate() {
            let shift = 4 * (digits - 1 - i);
            *byte = DIGITS
                .get(((n >> shift) & 0xf) as usize)
                .copied()
                .unwrap_or(b'0');
        }
        RequestId {
            bytes,
            len: digits as u8,
        }
    }

    /// The id's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever stored.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({:?})", self.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a line, or part of one, cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too short for the line.
    BufferTooSmall,
    /// The token is longer than [`MAX_TOKEN_LEN`].
    TokenTooLarge,
    /// The token is empty or holds a byte outside `!`..=`~` (a space, a control
    /// byte, ...), so it would not read back as one field.
    BadToken,
    /// The verdict's detail is not a reason code (`DENIED`, `ERROR`) or not 1 to
    /// [`MAX_DETAIL_LEN`] printable bytes (`OK`).
    BadDetail,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BufferTooSmall => "the output buffer is too small",
            EncodeError::TokenTooLarge => "the token is longer than a device accepts",
            EncodeError::BadToken => "the token is empty or not printable ASCII",
            EncodeError::BadDetail => "the verdict's detail is not well formed",
        })
    }
}

impl core::error::Error for EncodeError {}

/// Appends to a caller's buffer.
struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    fn new(out: &'b mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(EncodeError::BufferTooSmall)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn finish(self) -> &'b [u8] {
        let out: &'b [u8] = self.out;
        out.get(..self.len).unwrap_or_default()
    }
}

/// `n` in decimal without leading zeros, written without `core::fmt` (on the
/// device the formatting machinery costs kilobytes of flash).
fn decimal(n: u8) -> ([u8; 3], usize) {
    let digits = [b'0' + n / 100, b'0' + n / 10 % 10, b'0' + n % 10];
    let skip = if n >= 100 {
        0
    } else if n >= 10 {
        1
    } else {
        2
    };
    let mut out = [0u8; 3];
    for (o, d) in out.iter_mut().zip(digits.iter().skip(skip)) {
        *o = *d;
    }
    (out, 3 - skip)
}

/// Appends `n` in decimal, without `core::fmt` (see [`decimal`]).
fn push_decimal(text: &mut Detail, n: u32) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut rest = n;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (rest % 10) as u8;
        }
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in digits.get(..len).unwrap_or_default().iter().rev() {
        let _ = text.push(char::from(d));
    }
}

/// A canonical decimal `u32` (no sign, no leading zero unless `0`).
fn parse_canonical_u32(text: &str) -> Option<u32> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A canonical decimal 0-255 (no sign, no leading zero unless `0`).
fn parse_canonical_u8(text: &str) -> Option<u8> {
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A request: what to do, and the (unverified) token that must authorize it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The sender's id for this request, echoed in the verdict.
    pub id: RequestId,
    /// What is asked.
    pub command: Command,
    /// The last field: the command token.
    pub token: &'a [u8],
}

/// A request line that is not a request, or whose token is too large: the
/// reason, and the id to echo if one could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The line's request id, when its first field is one.
    pub id: Option<RequestId>,
    /// Why the line is refused.
    pub reason: Reason,
}

impl Refusal {
    /// The verdict that answers the refused line.
    #[must_use]
    pub fn verdict(&self) -> Verdict<'static> {
        Verdict::refused(self.id, self.reason)
    }
}

/// Reads one request line (without its `\n`).
///
/// Fields are separated by one or more spaces (`0x20` only); leading and trailing
/// spaces and one `\r` at the end are ignored. Any byte other than `\n` may
/// appear; a line that holds [`CANCEL`] is never a request. The checks, in order:
/// length, cancel byte, empty line, id, command, argument, token, token length.
///
/// # Errors
/// A [`Refusal`] with the first check that failed: [`Reason::LineTooLong`],
/// [`Reason::Cancelled`], [`Reason::EmptyLine`], [`Reason::BadId`],
/// [`Reason::UnknownCommand`], [`Reason::MissingToken`], [`Reason::BadArgument`]
/// or [`Reason::TokenTooLarge`]. Its id is the line's first field when that is a
/// request id (never for `line-too-long`, `empty-line` and `bad-id`).
pub fn parse_request(line: &[u8]) -> Result<Request<'_>, Refusal> {
    if line.len() > MAX_LINE_LEN {
        return Err(Refusal {
            id: None,
            reason: Reason::LineTooLong,
        });
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let first = fields.next();
    let id = first.and_then(|f| RequestId::from_bytes(f).ok());
    let refuse = |id, reason| Refusal { id, reason };
    if line.contains(&CANCEL) {
        return Err(refuse(id, Reason::Cancelled));
    }
    if first.is_none() {
        return Err(refuse(None, Reason::EmptyLine));
    }
    let Some(id) = id else {
        return Err(refuse(None, Reason::BadId));
    };
    let refuse = |reason| Refusal {
        id: Some(id),
        reason,
    };
    let name = fields.next().ok_or(refuse(Reason::UnknownCommand))?;
    let takes_argument = Command::takes_argument(name).ok_or(refuse(Reason::UnknownCommand))?;
    let (a, b, extra) = (fields.next(), fields.next(), fields.next());
    let (command, token) = match (takes_argument, a, b, extra) {
        (_, None, _, _) => return Err(refuse(Reason::MissingToken)),
        (false, Some(token), None, _) => (Command::parse(name, None), token),
        (true, Some(arg), Some(token), None) => (Command::parse(name, Some(arg)), token),
        // `led <token>` (no argument), or more fields than the command takes.
        _ => return Err(refuse(Reason::BadArgument)),
    };
    let command = command.map_err(refuse)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(refuse(Reason::TokenTooLarge));
    }
    Ok(Request { id, command, token })
}

impl Request<'_> {
    /// Writes the request line, without its `\n`, into `out`: at most
    /// [`MAX_LINE_LEN`] bytes, and [`parse_request`] reads it back as `self`.
    ///
    /// # Errors
    /// [`EncodeError::TokenTooLarge`] or [`EncodeError::BadToken`] for a token the
    /// line cannot carry; [`EncodeError::BufferTooSmall`].
    pub fn encode<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8], EncodeError> {
        if self.token.len() > MAX_TOKEN_LEN {
            return Err(EncodeError::TokenTooLarge);
        }
        if self.token.is_empty() || !self.token.iter().all(|b| (b'!'..=b'~').contains(b)) {
            return Err(EncodeError::BadToken);
        }
        let mut w = Writer::new(out);
        w.put(self.id.as_bytes())?;
        w.put(b" ")?;
        w.put(self.command.name().as_bytes())?;
        if let Some(level) = self.command.argument() {
            let (digits, len) = decimal(level);
            w.put(b" ")?;
            w.put(digits.get(..len).unwrap_or_default())?;
        }
        w.put(b" ")?;
        w.put(self.token)?;
        Ok(w.finish())
    }
}

/// The first word of a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerdictKind {
    /// `OK`: the request was authorized and carried out.
    Ok,
    /// `DENIED`: the request was read but the token does not authorize it; nothing
    /// happened.
    Denied,
    /// `ERROR`: the line is not a request (nothing was verified, nothing happened),
    /// or, for `output-fault` only, the command was authorized but the output failed.
    Error,
}

impl VerdictKind {
    /// `OK`, `DENIED` or `ERROR`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Ok => "OK",
            VerdictKind::Denied => "DENIED",
            VerdictKind::Error => "ERROR",
        }
    }

    fn from_bytes(word: &[u8]) -> Option<VerdictKind> {
        match word {
            b"OK" => Some(VerdictKind::Ok),
            b"DENIED" => Some(VerdictKind::Denied),
            b"ERROR" => Some(VerdictKind::Error),
            _ => None,
        }
    }
}

/// What an obeyed command did: the detail of an `OK` verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `opened`: the lock output is released.
    Opened,
    /// `closed`: the lock output is engaged.
    Closed,
    /// `led=<n>`: the LED duty is now `n`/255.
    Led(u8),
    /// `door=<open|closed> led=<n>`: the outputs' state.
    Status {
        /// `true` when the lock is released.
        open: bool,
        /// LED duty, 0-255.
        led: u8,
    },
    /// `epoch=<n> keys=<k>`: a trust statement was taken up; the device is now at
    /// trust epoch `n` and holds `k` command keys.
    Trusted {
        /// The statement's epoch, now the device's.
        epoch: u32,
        /// Command keys held after the statement, at most
        /// [`crate::limits::MAX_COMMAND_KEYS`].
        keys: u8,
    },
}

/// An outcome written out: at most [`MAX_DETAIL_LEN`] bytes of ASCII.
pub type Detail = heapless::String<MAX_DETAIL_LEN>;

impl Outcome {
    /// The detail of the `OK` verdict (`door=closed led=255` is the longest, 19 bytes).
    #[must_use]
    pub fn detail(&self) -> Detail {
        let mut text = Detail::new();
        if let Outcome::Trusted { epoch, keys } = *self {
            // `epoch=4294967295 keys=99` is 24 bytes: every count a device holds fits.
            let _ = text.push_str("epoch=");
            push_decimal(&mut text, epoch);
            let _ = text.push_str(" keys=");
            push_decimal(&mut text, u32::from(keys));
            return text;
        }
        let (prefix, level) = match self {
            Outcome::Opened => ("opened", None),
            Outcome::Closed => ("closed", None),
            Outcome::Led(n) => ("led=", Some(*n)),
            Outcome::Status { open: true, led } => ("door=open led=", Some(*led)),
            Outcome::Status { open: false, led } => ("door=closed led=", Some(*led)),
            Outcome::Trusted { .. } => ("", None),
        };
        // Every outcome fits (test `outcomes_round_trip`).
        let _ = text.push_str(prefix);
        if let Some(n) = level {
            let (digits, len) = decimal(n);
            for &d in digits.get(..len).unwrap_or_default() {
                let _ = text.push(char::from(d));
            }
        }
        text
    }

    /// The outcome an `OK` verdict's detail names, if it is one of these.
    #[must_use]
    pub fn parse(detail: &str) -> Option<Outcome> {
        match detail {
            "opened" => return Some(Outcome::Opened),
            "closed" => return Some(Outcome::Closed),
            _ => {}
        }
        if let Some(n) = detail.strip_prefix("led=") {
            return parse_canonical_u8(n).map(Outcome::Led);
        }
        if let Some(rest) = detail.strip_prefix("epoch=") {
            let (epoch, keys) = rest.split_once(" keys=")?;
            return Some(Outcome::Trusted {
                epoch: parse_canonical_u32(epoch)?,
                keys: parse_canonical_u8(keys)?,
            });
        }
        let (door, led) = detail.strip_prefix("door=")?.split_once(" led=")?;
        let open = match door {
            "open" => true,
            "closed" => false,
            _ => return None,
        };
        Some(Outcome::Status {
            open,
            led: parse_canonical_u8(led)?,
        })
    }
}

/// A verdict line: the request's id (or none), the kind, and the detail (an
/// [`Outcome`]'s text after `OK`, a reason code after `DENIED` and `ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'a> {
    /// The id of the request answered; `None` (written `-`) when it could not be read.
    pub id: Option<RequestId>,
    /// `OK`, `DENIED` or `ERROR`.
    pub kind: VerdictKind,
    /// What happened, or why not.
    pub detail: &'a str,
}

/// A line that is not a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadVerdict;

impl fmt::Display for BadVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a verdict line")
    }
}

impl core::error::Error for BadVerdict {}

fn detail_ok(kind: VerdictKind, detail: &str) -> bool {
    match kind {
        VerdictKind::Denied | VerdictKind::Error => is_reason_code(detail),
        VerdictKind::Ok => {
            (1..=MAX_DETAIL_LEN).contains(&detail.len())
                && detail.bytes().all(|b| (b' '..=b'~').contains(&b))
                && !detail.starts_with(' ')
                && !detail.ends_with(' ')
        }
    }
}

impl<'a> Verdict<'a> {
    /// `OK <outcome>` for request `id`; the detail borrows the outcome's text.
    #[must_use]
    pub fn ok(id: Option<RequestId>, detail: &'a Detail) -> Verdict<'a> {
        Verdict {
            id,
            kind: VerdictKind::Ok,
            detail: detail.as_str(),
        }
    }

    /// `DENIED <code>` or `ERROR <code>` (as the reason says) for request `id`.
    #[must_use]
    pub fn refused(id: Option<RequestId>, reason: Reason) -> Verdict<'static> {
        Verdict {
            id,
            kind: reason.kind(),
            detail: reason.code(),
        }
    }

    /// The reason of a `DENIED` or `ERROR` verdict, when it is one of [`Reason`]'s
    /// (latchkey-core's codes are not).
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        match self.kind {
            VerdictKind::Ok => None,
            VerdictKind::Denied | VerdictKind::Error => Reason::from_code(self.detail),
        }
    }

    /// The outcome of an `OK` verdict.
    #[must_use]
    pub fn outcome(&self) -> Option<Outcome> {
        match self.kind {
            VerdictKind::Ok => Outcome::parse(self.detail),
            VerdictKind::Denied | VerdictKind::Error => None,
        }
    }

    /// Writes the verdict line, without its `\n`, into `out` (at most
    /// [`MAX_VERDICT_LEN`] bytes).
    ///
    /// # Errors
    /// [`EncodeError::BadDetail`]; [`EncodeError::BufferTooSmall`].
    pub fn encode<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8], EncodeError> {
        if !detail_ok(self.kind, self.detail) {
            return Err(EncodeError::BadDetail);
        }
        let mut w = Writer::new(out);
        w.put(
            self.id
                .as_ref()
                .map_or(NO_ID.as_bytes(), RequestId::as_bytes),
        )?;
        w.put(b" ")?;
        w.put(self.kind.as_str().as_bytes())?;
        w.put(b" ")?;
        w.put(self.detail.as_bytes())?;
        Ok(w.finish())
    }
}

impl fmt::Display for Verdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id.as_ref().map_or(NO_ID, RequestId::as_str);
        write!(f, "{id} {} {}", self.kind.as_str(), self.detail)
    }
}

/// Reads one verdict line (without its `\n`; one `\r` at the end is ignored):
/// `<id> <kind> <detail>`, single spaces, at most [`MAX_VERDICT_LEN`] bytes.
///
/// # Errors
/// [`BadVerdict`] for anything else (a boot banner, a log line, noise).
pub fn parse_verdict(line: &[u8]) -> Result<Verdict<'_>, BadVerdict> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_VERDICT_LEN {
        return Err(BadVerdict);
    }
    let text = core::str::from_utf8(line).map_err(|_| BadVerdict)?;
    let (id, rest) = text.split_once(' ').ok_or(BadVerdict)?;
    let (kind, detail) = rest.split_once(' ').ok_or(BadVerdict)?;
    let id = if id == NO_ID {
        None
    } else {
        Some(RequestId::new(id).map_err(|_| BadVerdict)?)
    };
    let kind = VerdictKind::from_bytes(kind.as_bytes()).ok_or(BadVerdict)?;
    if !detail_ok(kind, detail) {
        return Err(BadVerdict);
    }
    Ok(Verdict { id, kind, detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn id(s: &str) -> RequestId {
        RequestId::new(s).unwrap()
    }

    #[test]
    fn request_ids() {
        for good in ["1", "a", "Z9", "12345678", "deadbeef"] {
            assert_eq!(RequestId::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "-", "123456789", "a-b", "a b", "a.b", "é", "a\n"] {
            assert_eq!(RequestId::new(bad), Err(Reason::BadId), "{bad:?}");
        }
        assert_eq!(RequestId::from_counter(0).as_str(), "0");
        assert_eq!(RequestId::from_counter(0xa).as_str(), "a");
        assert_eq!(RequestId::from_counter(0x10).as_str(), "10");
        assert_eq!(RequestId::from_counter(0x1234_5678).as_str(), "12345678");
        assert_eq!(RequestId::from_counter(u32::MAX).as_str(), "ffffffff");
        assert_eq!(id("7").to_string(), "7");
        assert_eq!(std::format!("{:?}", id("7")), "RequestId(\"7\")");
    }

    #[test]
    fn requests_round_trip() {
        let token = b"eyJhbGciOiJIUzI1NiJ9.e30.c2ln";
        let cases = [
            (Command::Open, "7 open "),
            (Command::Close, "7 close "),
            (Command::Status, "7 status "),
            (Command::Led(0), "7 led 0 "),
            (Command::Led(42), "7 led 42 "),
            (Command::Led(255), "7 led 255 "),
        ];
        for (command, prefix) in cases {
            let request = Request {
                id: id("7"),
                command,
                token,
            };
            let mut buf = [0u8; MAX_LINE_LEN];
            let line = request.encode(&mut buf).unwrap();
            let mut want = Vec::from(prefix.as_bytes());
            want.extend_from_slice(token);
            assert_eq!(line, want.as_slice());
            assert_eq!(parse_request(line), Ok(request));
        }
        // Extra spaces, a `\r`, leading zeros: the same request.
        let request = parse_request(b"  x1   led   007  t.o.k \r").unwrap();
        assert_eq!(
            (request.id, request.command, request.token),
            (id("x1"), Command::Led(7), &b"t.o.k"[..])
        );
    }

    #[test]
    fn request_refusals_name_the_first_failed_check() {
        let long = [b'a'; MAX_LINE_LEN + 1];
        let mut too_large = Vec::from(&b"9 open "[..]);
        too_large.extend_from_slice(&[b'a'; MAX_TOKEN_LEN + 1]);
        let cases: [(&[u8], Option<&str>, Reason); 22] = [
            (&long, None, Reason::LineTooLong),
            (b"", None, Reason::EmptyLine),
            (b"   \r", None, Reason::EmptyLine),
            (b"\x18", None, Reason::Cancelled),
            (b"7 open tok\x18", Some("7"), Reason::Cancelled),
            (b"7 open\x18", Some("7"), Reason::Cancelled),
            (b"\x187 open tok", None, Reason::Cancelled),
            (b"- open tok", None, Reason::BadId),
            (b"123456789 open tok", None, Reason::BadId),
            (b"\xff open tok", None, Reason::BadId),
            (b"7", Some("7"), Reason::UnknownCommand),
            (b"7 reboot tok", Some("7"), Reason::UnknownCommand),
            (b"7 OPEN tok", Some("7"), Reason::UnknownCommand),
            (b"open tok", Some("open"), Reason::UnknownCommand),
            (b"7 open", Some("7"), Reason::MissingToken),
            (b"7 led", Some("7"), Reason::MissingToken),
            (b"7 led tok", Some("7"), Reason::BadArgument),
            (b"7 led 256 tok", Some("7"), Reason::BadArgument),
            (b"7 led -1 tok", Some("7"), Reason::BadArgument),
            (b"7 open x tok", Some("7"), Reason::BadArgument),
            (b"7 led 1 x tok", Some("7"), Reason::BadArgument),
            (&too_large, Some("9"), Reason::TokenTooLarge),
        ];
        for (line, want_id, reason) in cases {
            let want = Refusal {
                id: want_id.map(id),
                reason,
            };
            assert_eq!(parse_request(line), Err(want), "{line:?}");
        }
        // The longest line still parses, with the largest token.
        let mut longest = Vec::from(&b"12345678 led 255 "[..]);
        longest.extend_from_slice(&[b'a'; MAX_TOKEN_LEN]);
        longest.push(b'\r');
        assert_eq!(longest.len(), MAX_LINE_LEN);
        assert!(parse_request(&longest).is_ok());
    }

    #[test]
    fn requests_that_cannot_be_written() {
        let request = |token| Request {
            id: id("1"),
            command: Command::Open,
            token,
        };
        let mut buf = [0u8; 2 * MAX_LINE_LEN];
        let big = [b'a'; MAX_TOKEN_LEN + 1];
        assert_eq!(
            request(&big).encode(&mut buf),
            Err(EncodeError::TokenTooLarge)
        );
        for bad in [&b""[..], b"a b", b"a\nb", b"a\x18", b"a\r", b"\xff"] {
            assert_eq!(
                request(bad).encode(&mut buf),
                Err(EncodeError::BadToken),
                "{bad:?}"
            );
        }
        assert_eq!(
            request(b"abc").encode(&mut [0u8; 9]),
            Err(EncodeError::BufferTooSmall)
        );
        assert_eq!(
            request(b"abc").encode(&mut [0u8; 10]),
            Ok(&b"1 open abc"[..])
        );
    }

    #[test]
    fn verdicts_round_trip() {
        let opened = Outcome::Opened.detail();
        let status = Outcome::Status {
            open: false,
            led: 255,
        }
        .detail();
        let cases = [
            (Verdict::ok(Some(id("7")), &opened), "7 OK opened"),
            (
                Verdict::ok(Some(id("12345678")), &status),
                "12345678 OK door=closed led=255",
            ),
            (
                Verdict::refused(Some(id("a")), Reason::Replayed),
                "a DENIED replayed",
            ),
            (Verdict::refused(None, Reason::BadId), "- ERROR bad-id"),
            (
                Verdict {
                    id: Some(id("b")),
                    kind: VerdictKind::Denied,
                    detail: "bad-signature",
                },
                "b DENIED bad-signature",
            ),
        ];
        for (verdict, text) in cases {
            let mut buf = [0u8; MAX_VERDICT_LEN];
            assert_eq!(verdict.encode(&mut buf), Ok(text.as_bytes()));
            assert_eq!(verdict.to_string(), text);
            assert_eq!(parse_verdict(text.as_bytes()), Ok(verdict));
        }
        let v = parse_verdict(b"7 DENIED replayed\r").unwrap();
        assert_eq!(v.reason(), Some(Reason::Replayed));
        assert_eq!(v.outcome(), None);
        let v = parse_verdict(b"7 OK led=9").unwrap();
        assert_eq!(v.outcome(), Some(Outcome::Led(9)));
        assert_eq!(v.reason(), None);
        assert_eq!(parse_verdict(b"7 DENIED expired").unwrap().reason(), None);
        // The longest verdict fits its limit.
        let longest = Verdict {
            id: Some(id("12345678")),
            kind: VerdictKind::Denied,
            detail: "abcdefghijklmnopqrstuvwx",
        };
        let mut buf = [0u8; MAX_VERDICT_LEN];
        assert_eq!(
            longest.encode(&mut buf).map(<[u8]>::len),
            Ok(MAX_VERDICT_LEN)
        );
    }

    #[test]
    fn what_is_not_a_verdict() {
        for bad in [
            &b""[..],
            b"OK opened",
            b"DENIED replayed",
            b"boot: latchkey",
            b"7 OKAY opened",
            b"7 OK",
            b"7 OK ",
            b"7 OK  opened",
            b"7 OK opened ",
            b"7 DENIED Bad",
            b"7 DENIED two words",
            b"7 ERROR ",
            b"x-y OK opened",
            b"123456789 OK opened",
            b"7 OK \xffx",
            b"7 OK a\tb",
            b"12345678 DENIED abcdefghijklmnopqrstuvwxy",
        ] {
            assert_eq!(parse_verdict(bad), Err(BadVerdict), "{bad:?}");
        }
        let mut buf = [0u8; MAX_VERDICT_LEN];
        let bad_detail = Verdict {
            id: None,
            kind: VerdictKind::Error,
            detail: "Not A Code",
        };
        assert_eq!(bad_detail.encode(&mut buf), Err(EncodeError::BadDetail));
        let ok = Verdict::refused(Some(id("1")), Reason::Replayed);
        assert_eq!(ok.encode(&mut [0u8; 5]), Err(EncodeError::BufferTooSmall));
    }

    #[test]
    fn outcomes_round_trip() {
        let mut all = Vec::from([Outcome::Opened, Outcome::Closed]);
        for n in 0..=u8::MAX {
            all.push(Outcome::Led(n));
            all.push(Outcome::Status { open: true, led: n });
            all.push(Outcome::Status {
                open: false,
                led: n,
            });
        }
        for (epoch, keys) in [(0, 0), (1, 1), (9, 4), (10, 10), (u32::MAX, 99)] {
            all.push(Outcome::Trusted { epoch, keys });
        }
        for outcome in all {
            let detail = outcome.detail();
            let text = detail.as_str();
            let want = match outcome {
                Outcome::Opened => "opened".to_string(),
                Outcome::Closed => "closed".to_string(),
                Outcome::Led(n) => std::format!("led={n}"),
                Outcome::Status { open, led } => {
                    std::format!("door={} led={led}", if open { "open" } else { "closed" })
                }
                Outcome::Trusted { epoch, keys } => std::format!("epoch={epoch} keys={keys}"),
            };
            assert_eq!(text, want);
            assert!(text.len() <= MAX_DETAIL_LEN);
            assert_eq!(Outcome::parse(text), Some(outcome));
        }
        for bad in [
            "led=007",
            "led=256",
            "led=",
            "door=ajar led=1",
            "door=open",
            "open",
            "epoch=01 keys=1",
            "epoch=1 keys=",
            "epoch=4294967296 keys=1",
            "epoch=1",
        ] {
            assert_eq!(Outcome::parse(bad), None, "{bad}");
        }
    }
}
