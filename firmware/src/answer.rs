//! Reason codes and the one-line answers the device writes on its UART.

use core::fmt;

use latchkey_core::Error;

/// Why a request was refused or could not be read. `code()` is the stable word
/// that goes on the wire (documented in `firmware/PROTOCOL.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// latchkey-core refused the token; its own reason code is used.
    Token(Error),
    /// The token is valid but its `scope` does not grant the requested command.
    MissingScope,
    /// The token's `arg` claim is not the request's argument (a token for
    /// `led 10` cannot set `led 255`), or is present for a command without one.
    WrongArgument,
    /// This token's `jti` was already used (and has not expired yet).
    Replayed,
    /// The replay cache is full of unexpired `jti`s: refuse rather than forget one.
    ReplayCacheFull,
    /// `exp - iat` is longer than the device allows, or `exp` precedes `iat`.
    LifetimeTooLong,
    /// The token field is longer than the device accepts.
    TokenTooLarge,
    /// The request line did not fit the line buffer.
    LineTooLong,
    /// The line is empty (only spaces or nothing before the newline).
    EmptyLine,
    /// The first field is not a command this device knows.
    UnknownCommand,
    /// The command's argument is missing, out of range, or there are extra fields.
    BadArgument,
    /// The line names a command but carries no token.
    MissingToken,
    /// The output hardware reported an error; the command may not have happened.
    OutputFault,
}

impl Reason {
    /// The stable kebab-case reason code.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Token(e) => e.code(),
            Reason::MissingScope => "missing-scope",
            Reason::WrongArgument => "wrong-argument",
            Reason::Replayed => "replayed",
            Reason::ReplayCacheFull => "replay-cache-full",
            Reason::LifetimeTooLong => "lifetime-too-long",
            Reason::TokenTooLarge => "token-too-large",
            Reason::LineTooLong => "line-too-long",
            Reason::EmptyLine => "empty-line",
            Reason::UnknownCommand => "unknown-command",
            Reason::BadArgument => "bad-argument",
            Reason::MissingToken => "missing-token",
            Reason::OutputFault => "output-fault",
        }
    }
}

impl From<Error> for Reason {
    fn from(e: Error) -> Self {
        // Keep one spelling on the wire for an oversized token, whoever noticed it.
        match e {
            Error::TokenTooLarge => Reason::TokenTooLarge,
            other => Reason::Token(other),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What an obeyed command did (the text after `OK `).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `open`: the lock output is now released.
    Opened,
    /// `close`: the lock output is now engaged.
    Closed,
    /// `led <n>`: the LED duty is now `n`/255.
    Led(u8),
    /// `status`: the current state of the outputs.
    Status {
        /// `true` when the lock is released.
        open: bool,
        /// LED duty, 0-255.
        led: u8,
    },
}

/// The single line the device answers to one request line (without the newline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `OK <result>`: the command was authorized and carried out.
    Ok(Outcome),
    /// `DENIED <reason-code>`: the request was well formed but not authorized.
    Denied(Reason),
    /// `ERROR <reason-code>`: the line could not be read as a request, or the output failed.
    Error(Reason),
}

impl Answer {
    /// The first word of the line: `OK`, `DENIED` or `ERROR`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Answer::Ok(_) => "OK",
            Answer::Denied(_) => "DENIED",
            Answer::Error(_) => "ERROR",
        }
    }

    /// The reason, for `DENIED` and `ERROR`.
    pub const fn reason(&self) -> Option<Reason> {
        match self {
            Answer::Ok(_) => None,
            Answer::Denied(r) | Answer::Error(r) => Some(*r),
        }
    }
}

/// Longest answer line, newline excluded (`OK door=closed led=255` is 23 bytes;
/// the longest reason code is shorter than 24 bytes).
pub const MAX_ANSWER_LEN: usize = 40;

/// An answer line as text, at most [`MAX_ANSWER_LEN`] bytes.
pub type Line = heapless::String<MAX_ANSWER_LEN>;

impl Answer {
    /// The answer line (without the newline), written without `core::fmt`: on the
    /// device the formatting machinery cost 1.9 KiB of flash for two numbers.
    pub fn line(&self) -> Line {
        let mut line = Line::new();
        let mut put = |s: &str| {
            // Every line fits (test `every_answer_fits_its_line` writes them all).
            let _ = line.push_str(s);
        };
        match self {
            Answer::Ok(Outcome::Opened) => put("OK opened"),
            Answer::Ok(Outcome::Closed) => put("OK closed"),
            Answer::Ok(Outcome::Led(n)) => {
                put("OK led=");
                put(decimal(*n).as_str());
            }
            Answer::Ok(Outcome::Status { open, led }) => {
                put(if *open {
                    "OK door=open led="
                } else {
                    "OK door=closed led="
                });
                put(decimal(*led).as_str());
            }
            Answer::Denied(r) => {
                put("DENIED ");
                put(r.code());
            }
            Answer::Error(r) => {
                put("ERROR ");
                put(r.code());
            }
        }
        line
    }
}

/// `n` in decimal, without leading zeros.
fn decimal(n: u8) -> heapless::String<3> {
    let mut out = heapless::String::new();
    let digits = [n / 100, n / 10 % 10, n % 10];
    // The last digit always shows; the others from the first non-zero one on.
    let first = digits.iter().position(|&d| d != 0).unwrap_or(2);
    for &d in digits.iter().skip(first) {
        let _ = out.push(char::from(b'0' + d));
    }
    out
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn answers_render_as_one_line() {
        let cases = [
            (Answer::Ok(Outcome::Opened), "OK opened"),
            (Answer::Ok(Outcome::Closed), "OK closed"),
            (Answer::Ok(Outcome::Led(7)), "OK led=7"),
            (
                Answer::Ok(Outcome::Status {
                    open: false,
                    led: 255,
                }),
                "OK door=closed led=255",
            ),
            (Answer::Denied(Reason::Replayed), "DENIED replayed"),
            (
                Answer::Denied(Reason::Token(Error::BadSignature)),
                "DENIED bad-signature",
            ),
            (Answer::Error(Reason::LineTooLong), "ERROR line-too-long"),
        ];
        for (answer, text) in cases {
            assert_eq!(answer.to_string(), text);
            assert!(text.len() <= MAX_ANSWER_LEN);
        }
    }

    #[test]
    fn every_answer_fits_its_line() {
        // The longest possible line: every reason under both kinds, every LED duty.
        let mut reasons = std::vec![
            Reason::MissingScope,
            Reason::WrongArgument,
            Reason::Replayed,
            Reason::ReplayCacheFull,
            Reason::LifetimeTooLong,
            Reason::TokenTooLarge,
            Reason::LineTooLong,
            Reason::EmptyLine,
            Reason::UnknownCommand,
            Reason::BadArgument,
            Reason::MissingToken,
            Reason::OutputFault,
        ];
        let token_errors = [
            Error::KeyTooShort,
            Error::BufferTooSmall,
            Error::Malformed,
            Error::InvalidBase64,
            Error::InvalidUtf8,
            Error::InvalidJson,
            Error::TooDeep,
            Error::TooManyMembers,
            Error::DuplicateMember,
            Error::NotAnObject,
            Error::InvalidHeader,
            Error::AlgorithmNone,
            Error::WrongAlgorithm,
            Error::UnsupportedAlgorithm,
            Error::CriticalHeader,
            Error::UnencodedPayload,
            Error::WrongType,
            Error::BadSignature,
            Error::MissingClaim(latchkey_core::Claim::Exp),
            Error::InvalidClaim(latchkey_core::Claim::Aud),
            Error::Expired,
            Error::NotYetValid,
            Error::IssuedInFuture,
            Error::WrongIssuer,
            Error::WrongAudience,
            Error::CustomClaims,
        ];
        reasons.extend(token_errors.map(Reason::Token));
        for r in reasons {
            for answer in [Answer::Denied(r), Answer::Error(r)] {
                let expected = std::format!("{} {}", answer.kind(), r.code());
                assert_eq!(answer.line().as_str(), expected);
            }
        }
        for n in 0..=u8::MAX {
            assert_eq!(
                Answer::Ok(Outcome::Led(n)).line().as_str(),
                std::format!("OK led={n}")
            );
            for open in [false, true] {
                let door = if open { "open" } else { "closed" };
                let answer = Answer::Ok(Outcome::Status { open, led: n });
                assert_eq!(
                    answer.line().as_str(),
                    std::format!("OK door={door} led={n}")
                );
            }
        }
    }

    #[test]
    fn oversized_token_has_one_code_whoever_finds_it() {
        assert_eq!(Reason::from(Error::TokenTooLarge), Reason::TokenTooLarge);
        assert_eq!(Reason::from(Error::Expired).code(), "expired");
    }
}
