//! Line assembly: UART bytes into request lines, in a fixed buffer of
//! [`MAX_LINE_LEN`] bytes. What a line says is read by `latchkey_protocol`.

use heapless::Vec;
use latchkey_protocol::MAX_LINE_LEN;

/// What the assembler hands out when a newline arrives.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line (without its `\n`).
    Complete(&'a [u8]),
    /// The line was longer than [`MAX_LINE_LEN`]; its bytes were dropped.
    TooLong,
}

/// Collects UART bytes into lines in a fixed buffer. An overlong line is
/// dropped up to its newline and reported once, so every `\n` gives exactly
/// one [`Line`]. Bytes without a newline stay pending (no timeout).
#[derive(Debug, Default)]
pub struct LineAssembler {
    buf: Vec<u8, MAX_LINE_LEN>,
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
        let mut input = vec![b'a'; MAX_LINE_LEN + 10];
        input.extend_from_slice(b"\nopen t\n");
        assert_eq!(lines(&input), [Err(()), Ok(b"open t".to_vec())]);
        // Exactly MAX_LINE_LEN bytes still fit.
        let mut input = vec![b'b'; MAX_LINE_LEN];
        input.push(b'\n');
        assert_eq!(lines(&input), [Ok(vec![b'b'; MAX_LINE_LEN])]);
        let mut input = vec![b'b'; MAX_LINE_LEN + 1];
        input.push(b'\n');
        assert_eq!(lines(&input), [Err(())]);
    }
}
