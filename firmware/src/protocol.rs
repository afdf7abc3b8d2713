//! The UART line protocol: assembling bytes into lines and reading a request.
//!
//! A request line is `<command> [<arg>] <token>\n` (fields separated by one or
//! more spaces; a trailing `\r` is ignored). See `firmware/PROTOCOL.md`.

use heapless::Vec;

use crate::answer::Reason;

/// Longest request line the device reads, newline excluded.
pub const MAX_LINE: usize = 768;

/// A command the device can carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Release the lock.
    Open,
    /// Engage the lock.
    Close,
    /// Report the outputs' state.
    Status,
    /// Set the LED duty to `n`/255.
    Led(u8),
}

impl Command {
    /// The command's name, as used on the wire and in a token's `scope`.
    pub const fn name(self) -> &'static str {
        match self {
            Command::Open => "open",
            Command::Close => "close",
            Command::Status => "status",
            Command::Led(_) => "led",
        }
    }
}

/// A request read from one line: the command and the (not yet verified) token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// What is asked.
    pub command: Command,
    /// The last field of the line: the token that must authorize the command.
    pub token: &'a [u8],
}

/// Reads one request line (without its `\n`).
///
/// # Errors
/// [`Reason::EmptyLine`], [`Reason::UnknownCommand`], [`Reason::MissingToken`] or
/// [`Reason::BadArgument`] when the line is not a request.
pub fn parse_request(line: &[u8]) -> Result<Request<'_>, Reason> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let name = fields.next().ok_or(Reason::EmptyLine)?;
    let (first, second, extra) = (fields.next(), fields.next(), fields.next());
    let takes_arg = match name {
        b"open" | b"close" | b"status" => false,
        b"led" => true,
        _ => return Err(Reason::UnknownCommand),
    };
    match (takes_arg, first, second, extra) {
        (_, None, _, _) => Err(Reason::MissingToken),
        (false, Some(token), None, _) => Ok(Request {
            command: match name {
                b"open" => Command::Open,
                b"close" => Command::Close,
                _ => Command::Status,
            },
            token,
        }),
        (true, Some(arg), Some(token), None) => Ok(Request {
            command: Command::Led(parse_u8(arg).ok_or(Reason::BadArgument)?),
            token,
        }),
        // `led <token>` (no argument), or more fields than the command takes.
        _ => Err(Reason::BadArgument),
    }
}

/// Decimal 0-255, one to three ASCII digits.
fn parse_u8(field: &[u8]) -> Option<u8> {
    if field.is_empty() || field.len() > 3 {
        return None;
    }
    let mut n: u16 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u16::from(b - b'0');
    }
    u8::try_from(n).ok()
}

/// What the assembler hands out when a newline arrives.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line (without its `\n`).
    Complete(&'a [u8]),
    /// The line was longer than [`MAX_LINE`]; its bytes were dropped.
    TooLong,
}

/// Collects UART bytes into lines in a fixed buffer. An overlong line is
/// dropped up to its newline and reported once, so every `\n` gives exactly
/// one [`Line`]. Bytes without a newline stay pending (no timeout).
#[derive(Debug, Default)]
pub struct LineAssembler {
    buf: Vec<u8, MAX_LINE>,
    overflow: bool,
    /// The last call handed out a line that borrows `buf`: clear it first.
    handed_out: bool,
}

impl LineAssembler {
    /// An empty assembler.
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            overflow: false,
            handed_out: false,
        }
    }

    /// Takes one byte; returns a line when `byte` is `\n`.
    pub fn push(&mut self, byte: u8) -> Option<Line<'_>> {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
        if byte == b'\n' {
            self.handed_out = true;
            if core::mem::take(&mut self.overflow) {
                return Some(Line::TooLong);
            }
            return Some(Line::Complete(&self.buf));
        }
        if !self.overflow && self.buf.push(byte).is_err() {
            self.overflow = true;
            self.buf.clear();
        }
        None
    }

    /// Bytes waiting for their newline.
    pub fn pending(&self) -> usize {
        if self.handed_out { 0 } else { self.buf.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn lines(input: &[u8]) -> std::vec::Vec<Result<std::vec::Vec<u8>, ()>> {
        let mut asm = LineAssembler::new();
        let mut out = std::vec::Vec::new();
        for &b in input {
            match asm.push(b) {
                Some(Line::Complete(l)) => out.push(Ok(l.to_vec())),
                Some(Line::TooLong) => out.push(Err(())),
                None => {}
            }
        }
        out
    }

    #[test]
    fn splits_on_newline_and_keeps_partial_lines_pending() {
        let mut asm = LineAssembler::new();
        for &b in b"open abc\nstat" {
            let _ = asm.push(b);
        }
        assert_eq!(asm.pending(), 4);
        assert_eq!(
            lines(b"open abc\n\nstatus x\n"),
            [
                Ok(b"open abc".to_vec()),
                Ok(vec![]),
                Ok(b"status x".to_vec())
            ]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_the_next_line_is_clean() {
        let mut input = vec![b'a'; MAX_LINE + 10];
        input.extend_from_slice(b"\nopen t\n");
        assert_eq!(lines(&input), [Err(()), Ok(b"open t".to_vec())]);
        // Exactly MAX_LINE bytes still fit.
        let mut input = vec![b'b'; MAX_LINE];
        input.push(b'\n');
        assert_eq!(lines(&input), [Ok(vec![b'b'; MAX_LINE])]);
        let mut input = vec![b'b'; MAX_LINE + 1];
        input.push(b'\n');
        assert_eq!(lines(&input), [Err(())]);
    }

    #[test]
    fn parses_every_command() {
        let cases: [(&[u8], Command, &[u8]); 6] = [
            (b"open tok", Command::Open, b"tok"),
            (b"close tok\r", Command::Close, b"tok"),
            (b"status   tok", Command::Status, b"tok"),
            (b"led 0 tok", Command::Led(0), b"tok"),
            (b"led 255 tok", Command::Led(255), b"tok"),
            (b" led 007 tok ", Command::Led(7), b"tok"),
        ];
        for (line, command, token) in cases {
            assert_eq!(parse_request(line), Ok(Request { command, token }));
        }
    }

    #[test]
    fn rejects_malformed_requests_with_their_reason() {
        let cases: [(&[u8], Reason); 13] = [
            (b"", Reason::EmptyLine),
            (b"   \r", Reason::EmptyLine),
            (b"reboot tok", Reason::UnknownCommand),
            (b"OPEN tok", Reason::UnknownCommand),
            (b"\xff\x00 tok", Reason::UnknownCommand),
            (b"open", Reason::MissingToken),
            (b"led", Reason::MissingToken),
            (b"led tok", Reason::BadArgument),
            (b"led 256 tok", Reason::BadArgument),
            (b"led -1 tok", Reason::BadArgument),
            (b"led 1000 tok", Reason::BadArgument),
            (b"open x tok", Reason::BadArgument),
            (b"led 1 x tok", Reason::BadArgument),
        ];
        for (line, reason) in cases {
            assert_eq!(parse_request(line), Err(reason), "{line:?}");
        }
    }
}
