//! The JWS layer (RFC 7515 compact serialization): split a token, decode and check
//! its header, check the MAC, hand back the verified payload bytes; and the
//! reverse, signing any payload into a caller buffer.
//!
//! `split` cuts a token into segments, `header` reads and checks the protected
//! header, `verify` runs the checks in order, `sign` writes tokens.

mod header;
mod sign;
mod split;
mod verify;

pub use header::{Header, UntrustedHeader, untrusted_header};
pub use sign::HeaderParams;
pub use verify::Jws;
pub(crate) use verify::verify;
