//! The Latchkey device/server contract, and nothing else: what the server, the
//! firmware, the bridge between them and the tests must agree on.
//!
//! - [`Command`]: `open`, `close`, `status`, `led <0-255>`, their parsing, and how
//!   a token's `scope` and `arg` grant them; `trust`, which only the root key
//!   authorizes.
//! - [`CommandClaims`]: the command token's claims, with the per-device `seq`;
//!   [`COMMAND_TOKEN_TYPE`] (its header `typ`), [`ISSUER`], [`DEVICE_KEY_SALT`]
//!   (how an HMAC device's key is derived); [`TrustStatement`] and
//!   [`TRUST_TOKEN_TYPE`].
//! - [`DeviceId`]: the one device id syntax.
//! - [`limits`]: the longest lifetime, token, request line and verdict line, and
//!   how they follow from each other.
//! - Request and verdict lines ([`Request`], [`Verdict`]): encoded and parsed here,
//!   on both sides, with the request id that a verdict echoes; [`Reason`] codes.
//!
//! `no_std`, no heap, no `unsafe`, no panics on input: the firmware links it.
//! firmware/PROTOCOL.md describes the same contract for people.
//!
//! ```
//! use latchkey_protocol::{Command, Outcome, Reason, Request, RequestId, Verdict,
//!                         parse_request, parse_verdict};
//!
//! // The server writes a request line...
//! let request = Request { id: RequestId::new("7")?, command: Command::Led(42), token: b"h.p.s" };
//! let mut buf = [0u8; latchkey_protocol::MAX_LINE_LEN];
//! let line = request.encode(&mut buf).unwrap();
//! assert_eq!(line, b"7 led 42 h.p.s");
//!
//! // ...the device reads it, and answers with a verdict that echoes the id...
//! let read = parse_request(line).unwrap();
//! let detail = Outcome::Led(42).detail();
//! let mut out = [0u8; latchkey_protocol::MAX_VERDICT_LEN];
//! let answer = Verdict::ok(Some(read.id), &detail).encode(&mut out).unwrap();
//! assert_eq!(answer, b"7 OK led=42");
//!
//! // ...which the server matches by id. A line that is no request says why.
//! assert_eq!(parse_verdict(answer).unwrap().id, Some(request.id));
//! let refused = parse_request(b"- open h.p.s").unwrap_err();
//! assert_eq!(refused.reason, Reason::BadId);
//! assert_eq!(refused.verdict().to_string(), "- ERROR bad-id");
//! # Ok::<(), Reason>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

mod claims;
mod command;
mod device_id;
pub mod limits;
mod line;
mod reason;

pub use claims::{
    COMMAND_TOKEN_TYPE, CommandClaims, DEVICE_KEY_SALT, ISSUER, LifetimeTooLong, MAX_SEQ,
    TRUST_TOKEN_TYPE, TrustStatement, lifetime_ok,
};
pub use command::{ArgClaim, COMMAND_NAMES, Command};
pub use device_id::{BadDeviceId, DEVICE_ID_RULE, DeviceId};
pub use limits::{
    LEEWAY, MAX_COMMAND_KEYS, MAX_DEVICE_ID_LEN, MAX_ID_LEN, MAX_KID_LEN, MAX_LIFETIME,
    MAX_LINE_LEN, MAX_REASON_LEN, MAX_TOKEN_LEN, MAX_TOKENS_PER_USER, MAX_VERDICT_LEN,
    REPLAY_WINDOW,
};
pub use line::{
    BadVerdict, CANCEL, CANCEL_LINE, Detail, EncodeError, NO_ID, Outcome, Refusal, Request,
    RequestId, Verdict, VerdictKind, parse_request, parse_verdict,
};
pub use reason::{Reason, is_reason_code};
