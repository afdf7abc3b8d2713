//! Reason codes: the stable words after `DENIED` and `ERROR`.

use core::fmt;

use crate::line::VerdictKind;

/// Why a request line was refused or could not be carried out: every reason code
/// of the contract except latchkey-core's own (a device answers `DENIED <code>`
/// with `latchkey_core::Error::code()` for a token the core refuses).
///
/// Codes are stable: new ones may be added, existing ones keep their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `ERROR line-too-long`: more than [`crate::MAX_LINE_LEN`] bytes before the
    /// `\n`; the whole line was dropped (so its id is not known).
    LineTooLong,
    /// `ERROR empty-line`: nothing but spaces (or a `\r`) before the `\n`.
    EmptyLine,
    /// `ERROR bad-id`: the first field is not a request id.
    BadId,
    /// `ERROR cancelled`: the line holds the cancel byte ([`crate::CANCEL`]); a
    /// half-sent line ends this way when a bridge reconnects.
    Cancelled,
    /// `ERROR unknown-command`: no command after the id, or not `open`, `close`,
    /// `status` or `led`.
    UnknownCommand,
    /// `ERROR missing-token`: the command is the last field.
    MissingToken,
    /// `ERROR bad-argument`: `led` without a `0`-`255` argument, or more fields
    /// than the command takes.
    BadArgument,
    /// `DENIED token-too-large`: the token is longer than [`crate::MAX_TOKEN_LEN`].
    TokenTooLarge,
    /// `DENIED lifetime-too-long`: `exp - iat` is over [`crate::MAX_LIFETIME`] or
    /// negative.
    LifetimeTooLong,
    /// `DENIED missing-scope`: `scope` is absent, not a string, or does not name
    /// the command.
    MissingScope,
    /// `DENIED wrong-argument`: `arg` is not the line's argument, or is present for
    /// a command without one.
    WrongArgument,
    /// `DENIED bad-sequence`: the token has no `seq`, or it is not an integer in
    /// `1..=2^53` (see [`crate::CommandClaims::seq`]).
    BadSequence,
    /// `DENIED replayed`: this token's `seq` was already obeyed.
    Replayed,
    /// `DENIED sequence-too-old`: `seq` is [`crate::limits::REPLAY_WINDOW`] or more
    /// below the highest one obeyed, so the device can no longer tell whether it
    /// was used; ask the server for a new token.
    SequenceTooOld,
    /// `DENIED stale-epoch`: a trust statement whose `epoch` is not above the one
    /// the device holds (an old statement sent again, say).
    StaleEpoch,
    /// `DENIED bad-trust`: a root-signed statement that is not a well-formed trust
    /// statement (its `epoch`, `add` or `retire` is missing or wrong, a key in
    /// `add` is not a public key bound to an algorithm this build verifies).
    BadTrust,
    /// `DENIED last-key`: the trust statement would leave the device no command key.
    LastKey,
    /// `DENIED key-table-full`: the trust statement adds more keys than the device
    /// holds ([`crate::limits::MAX_COMMAND_KEYS`]), or one whose `kid` it already holds.
    KeyTableFull,
    /// `ERROR state-write-failed`: the device could not save its state (used
    /// sequence numbers, clock, keys) to flash, so it did not carry out the
    /// command; the token was not used up.
    StateWriteFailed,
    /// `ERROR output-fault`: the command was authorized (its `seq` is used up) but
    /// the output hardware reported an error.
    OutputFault,
}

impl Reason {
    /// Every reason, in the order of the enum.
    pub const ALL: [Reason; 20] = [
        Reason::LineTooLong,
        Reason::EmptyLine,
        Reason::BadId,
        Reason::Cancelled,
        Reason::UnknownCommand,
        Reason::MissingToken,
        Reason::BadArgument,
        Reason::TokenTooLarge,
        Reason::LifetimeTooLong,
        Reason::MissingScope,
        Reason::WrongArgument,
        Reason::BadSequence,
        Reason::Replayed,
        Reason::SequenceTooOld,
        Reason::StaleEpoch,
        Reason::BadTrust,
        Reason::LastKey,
        Reason::KeyTableFull,
        Reason::StateWriteFailed,
        Reason::OutputFault,
    ];

    /// The stable kebab-case code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Reason::LineTooLong => "line-too-long",
            Reason::EmptyLine => "empty-line",
            Reason::BadId => "bad-id",
            Reason::Cancelled => "cancelled",
            Reason::UnknownCommand => "unknown-command",
            Reason::MissingToken => "missing-token",
            Reason::BadArgument => "bad-argument",
            Reason::TokenTooLarge => "token-too-large",
            Reason::LifetimeTooLong => "lifetime-too-long",
            Reason::MissingScope => "missing-scope",
            Reason::WrongArgument => "wrong-argument",
            Reason::BadSequence => "bad-sequence",
            Reason::Replayed => "replayed",
            Reason::SequenceTooOld => "sequence-too-old",
            Reason::StaleEpoch => "stale-epoch",
            Reason::BadTrust => "bad-trust",
            Reason::LastKey => "last-key",
            Reason::KeyTableFull => "key-table-full",
            Reason::StateWriteFailed => "state-write-failed",
            Reason::OutputFault => "output-fault",
        }
    }

    /// The reason whose code is `code`, if it is one of these.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the verdict is `DENIED` (the request was read, the token does not
    /// authorize it) or `ERROR` (the line is not a request, or the output failed).
    #[must_use]
    pub const fn kind(self) -> VerdictKind {
        match self {
            Reason::TokenTooLarge
            | Reason::LifetimeTooLong
            | Reason::MissingScope
            | Reason::WrongArgument
            | Reason::BadSequence
            | Reason::Replayed
            | Reason::SequenceTooOld
            | Reason::StaleEpoch
            | Reason::BadTrust
            | Reason::LastKey
            | Reason::KeyTableFull => VerdictKind::Denied,
            Reason::LineTooLong
            | Reason::EmptyLine
            | Reason::BadId
            | Reason::Cancelled
            | Reason::UnknownCommand
            | Reason::MissingToken
            | Reason::BadArgument
            | Reason::StateWriteFailed
            | Reason::OutputFault => VerdictKind::Error,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether `code` is shaped like a reason code: 1 to [`crate::MAX_REASON_LEN`]
/// bytes of `a-z 0-9 -`.
#[must_use]
pub fn is_reason_code(code: &str) -> bool {
    (1..=crate::MAX_REASON_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_shaped_and_round_trip() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert!(is_reason_code(r.code()), "{r:?}");
            assert_eq!(Reason::from_code(r.code()), Some(*r));
            for other in Reason::ALL.iter().skip(i + 1) {
                assert_ne!(r.code(), other.code());
            }
        }
        assert_eq!(Reason::from_code("expired"), None);
        assert!(is_reason_code("unencoded-payload"));
        assert!(!is_reason_code("Bad"));
        assert!(!is_reason_code(""));
        assert!(!is_reason_code("a b"));
        assert_eq!(Reason::Replayed.kind(), VerdictKind::Denied);
        assert_eq!(Reason::OutputFault.kind(), VerdictKind::Error);
        assert_eq!(Reason::BadId.kind(), VerdictKind::Error);
    }
}
