//! The JWS layer (RFC 7515 compact serialization): split a token, decode and check
//! its header, choose the key, check the signature, hand back the verified payload
//! bytes; and the reverse, signing any payload into a caller buffer.
//!
//! `split` cuts a token into segments, `header` reads and checks the protected
//! header, `verify` runs the checks in order, `sign` holds the signing interface
//! and writes tokens.

mod header;
mod sign;
mod split;
mod verify;

pub use header::{Header, UntrustedHeader, untrusted_header};
pub use sign::{HeaderParams, MAX_SIGNATURE_LEN, Signer, sign, sign_json};
pub use verify::Jws;
pub(crate) use verify::verify;
