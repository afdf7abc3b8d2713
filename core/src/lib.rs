//! Allocation-free, panic-free JWS/JWT verification and signing (HS256, HS384,
//! HS512) for microcontrollers and servers alike.
//!
//! `latchkey-core` is `#![no_std]`, never allocates, never panics on input, never
//! recurses without bound, and never trusts a token's `alg`: the algorithm is the
//! key's. Time comes from the caller; decoded data lands in the caller's scratch
//! buffer and the claims borrow from it.
//!
//! HS384 and HS512 come with the default `sha512` feature; without it only HS256 is
//! built, and an HS256 device links no SHA-512 code.
//!
//! Checks run in a fixed order: size limit, three segments, header (`alg` against
//! the key, `crit`, `b64`, `typ`), the MAC in constant time, and only then the
//! claims: types, required claims, `exp`/`nbf`/`iat` with leeway, `iss`, `aud`.
//! A date may be any JSON number, its fraction truncated toward zero; one whose
//! value does not fit an `i64` (`1e400`, `9223372036854775808`, `-1e400`) is
//! malformed ([`Error::InvalidClaim`]), not a far future or a far past.
//!
//! One parser reads untrusted input on every target: a token is split, decoded
//! and checked by the same code on a 64-bit server as on a 32-bit device, so it
//! is accepted or refused alike. The header, whatever its form (including the
//! one [`Key::sign`] writes), goes through the same strict JSON validator as the
//! claims. What differs by target is the speed of three leaf functions (the byte
//! searches, the base64url block decode, a date's plain digits), which 64-bit
//! targets run a word at a time; the tests build both forms of each and compare
//! them.
//!
//! # Example
//! ```
//! use latchkey_core::{Algorithm, HeaderParams, Key, Validation, Verifier};
//!
//! # fn main() -> Result<(), latchkey_core::Error> {
//! let key = Key::new(Algorithm::Hs256, b"an example key of 32 bytes or more")?;
//!
//! // Sign (the server does this).
//! let claims = br#"{"sub":"alice","aud":"door-7","scope":"open","exp":1700000060}"#;
//! let mut out = [0u8; 256];
//! let token = key.sign(&HeaderParams { typ: Some("JWT"), kid: None }, claims, &mut out)?;
//!
//! // Verify (the device does this), at a time the caller supplies.
//! let validation = Validation { audience: Some("door-7"), ..Validation::new() };
//! let verifier = Verifier::new(key.clone(), validation);
//! let mut scratch = [0u8; 256];
//! let claims = verifier.verify(token.as_bytes(), 1_700_000_000, &mut scratch)?;
//! assert!(claims.sub().is_some_and(|s| s.eq_str("alice")));
//! assert_eq!(claims.get("scope").and_then(|v| v.as_str()).map(|s| s.raw()), Some("open"));
//!
//! // An hour later the same token is refused, with a specific reason.
//! let mut scratch = [0u8; 256];
//! let err = verifier.verify(token.as_bytes(), 1_700_003_600, &mut scratch).unwrap_err();
//! assert_eq!(err.code(), "expired");
//! # Ok(())
//! # }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod alg;
mod b64;
mod error;
mod json;
mod jws;
mod jwt;
mod key;
pub mod keys;
mod scan;

pub use error::{Claim, Error};
pub use json::{Chars, Elements, JsonStr, MAX_DEPTH_LIMIT, MAX_MEMBERS, Value};
pub use jws::{Header, HeaderParams, Jws, UntrustedHeader, untrusted_header};
pub use jwt::{
    Audience, ClaimSet, Claims, DEFAULT_LEEWAY, DEFAULT_MAX_DEPTH, DEFAULT_MAX_TOKEN_LEN,
    Validation, Verifier,
};
pub use key::{Algorithm, Key};
