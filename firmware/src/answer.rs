//! The device's answers: a reason (the contract's, or latchkey-core's for a token
//! the core refuses) or an outcome, written as a `latchkey_protocol` verdict line.

use core::fmt;

use latchkey_core::Error;
use latchkey_protocol::{MAX_VERDICT_LEN, Outcome, RequestId, Verdict, VerdictKind};

/// Why a request was refused or could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A reason of the device/server contract (line, device rule, replay, output).
    Protocol(latchkey_protocol::Reason),
    /// latchkey-core refused the token; its own reason code goes on the wire.
    Token(Error),
}

impl Reason {
    /// The stable kebab-case reason code.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Protocol(r) => r.code(),
            Reason::Token(e) => e.code(),
        }
    }

    /// `DENIED` or `ERROR`: the contract says which for its own reasons; a token
    /// refused by latchkey-core is always `DENIED`.
    pub const fn kind(self) -> VerdictKind {
        match self {
            Reason::Protocol(r) => r.kind(),
            Reason::Token(_) => VerdictKind::Denied,
        }
    }
}

impl From<latchkey_protocol::Reason> for Reason {
    fn from(r: latchkey_protocol::Reason) -> Self {
        Reason::Protocol(r)
    }
}

impl From<Error> for Reason {
    fn from(e: Error) -> Self {
        // Keep one spelling on the wire for an oversized token, whoever noticed it.
        match e {
            Error::TokenTooLarge => Reason::Protocol(latchkey_protocol::Reason::TokenTooLarge),
            other => Reason::Token(other),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The device's answer to one request line, before the id is put in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `OK <result>`: the command was authorized and carried out.
    Ok(Outcome),
    /// `DENIED <code>` or `ERROR <code>`, as [`Reason::kind`] says.
    Refused(Reason),
}

impl Answer {
    /// `OK`, `DENIED` or `ERROR`.
    pub const fn kind(&self) -> VerdictKind {
        match self {
            Answer::Ok(_) => VerdictKind::Ok,
            Answer::Refused(r) => r.kind(),
        }
    }

    /// The reason, for `DENIED` and `ERROR`.
    pub const fn reason(&self) -> Option<Reason> {
        match self {
            Answer::Ok(_) => None,
            Answer::Refused(r) => Some(*r),
        }
    }

    /// The verdict line answering request `id` (`None`: the id could not be read),
    /// without its newline.
    pub fn line(&self, id: Option<RequestId>) -> VerdictLine {
        let detail;
        let verdict = match self {
            Answer::Ok(outcome) => {
                detail = outcome.detail();
                Verdict::ok(id, &detail)
            }
            Answer::Refused(r) => Verdict {
                id,
                kind: r.kind(),
                detail: r.code(),
            },
        };
        let mut line = VerdictLine {
            bytes: [0; MAX_VERDICT_LEN],
            len: 0,
        };
        // Every answer encodes (test `every_answer_encodes`); were one not to, the
        // device would still answer the line, as an empty one.
        if let Ok(written) = verdict.encode(&mut line.bytes) {
            line.len = written.len();
        }
        line
    }
}

/// A verdict line, at most [`MAX_VERDICT_LEN`] bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerdictLine {
    bytes: [u8; MAX_VERDICT_LEN],
    len: usize,
}

impl VerdictLine {
    /// The line's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The line as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Debug for VerdictLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The answer without the id (`OK opened`, `DENIED replayed`): for logs and tests.
impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ok(outcome) => write!(f, "OK {}", outcome.detail().as_str()),
            Answer::Refused(r) => write!(f, "{} {}", r.kind().as_str(), r.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::{Reason as P, parse_verdict};
    use std::string::ToString;

    #[test]
    fn answers_render_as_one_line() {
        let id = RequestId::new("12345678").ok();
        let cases = [
            (Answer::Ok(Outcome::Opened), "OK opened"),
            (
                Answer::Ok(Outcome::Status {
                    open: false,
                    led: 255,
                }),
                "OK door=closed led=255",
            ),
            (Answer::Refused(P::Replayed.into()), "DENIED replayed"),
            (
                Answer::Refused(Error::BadSignature.into()),
                "DENIED bad-signature",
            ),
            (
                Answer::Refused(P::LineTooLong.into()),
                "ERROR line-too-long",
            ),
        ];
        for (answer, text) in cases {
            assert_eq!(answer.to_string(), text);
            assert_eq!(answer.line(id).as_str(), std::format!("12345678 {text}"));
            assert_eq!(answer.line(None).as_str(), std::format!("- {text}"));
        }
    }

    #[test]
    fn every_answer_encodes() {
        // The longest lines: every reason with the longest id, every LED duty.
        let id = RequestId::new("12345678").ok();
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
            Error::InvalidKey,
            Error::TokenTooLarge,
        ];
        let reasons = P::ALL
            .into_iter()
            .map(Reason::from)
            .chain(token_errors.into_iter().map(Reason::from));
        for r in reasons {
            let line = Answer::Refused(r).line(id);
            let verdict = parse_verdict(line.as_bytes()).expect("a verdict");
            assert_eq!(
                (verdict.id, verdict.kind, verdict.detail),
                (id, r.kind(), r.code())
            );
        }
        for n in 0..=u8::MAX {
            for outcome in [
                Outcome::Led(n),
                Outcome::Status { open: true, led: n },
                Outcome::Status {
                    open: false,
                    led: n,
                },
            ] {
                let line = Answer::Ok(outcome).line(id);
                let verdict = parse_verdict(line.as_bytes()).expect("a verdict");
                assert_eq!(verdict.outcome(), Some(outcome));
            }
        }
    }

    #[test]
    fn oversized_token_has_one_code_whoever_finds_it() {
        assert_eq!(
            Reason::from(Error::TokenTooLarge),
            Reason::Protocol(P::TokenTooLarge)
        );
        assert_eq!(Reason::from(Error::Expired).code(), "expired");
        assert_eq!(Reason::from(Error::Expired).kind(), VerdictKind::Denied);
    }
}

#[cfg(test)]
mod doc_tests {
    /// Every reason code of the contract is in PROTOCOL.md, the people's copy.
    #[test]
    fn every_contract_reason_code_is_in_protocol_md() {
        let doc = include_str!("../PROTOCOL.md");
        for reason in latchkey_protocol::Reason::ALL {
            let code = reason.code();
            assert!(
                doc.contains(&["`", code, "`"].concat()),
                "firmware/PROTOCOL.md does not list `{code}`"
            );
        }
    }
}
