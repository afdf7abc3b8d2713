//! Allocation-free, panic-free JWS/JWT verification for microcontrollers and servers
//! alike: HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 and EdDSA
//! (Ed25519); and signing, through one [`Signer`] interface that HMAC keys implement.
//!
//! `latchkey-core` is `#![no_std]`, never allocates, never panics on input, never
//! recurses without bound, and never trusts a token's `alg`: the algorithm is the
//! key's. Time comes from the caller; decoded data lands in the caller's scratch
//! buffer and the claims borrow from it.
//!
//! # Algorithms and features
//! Every [`Algorithm`] exists, and its name parses, in every build; a build without an
//! algorithm's feature refuses to build a key for it ([`Error::UnsupportedAlgorithm`]),
//! so a device links only the families it uses. There is no `none`.
//!
//! | feature | algorithms | notes |
//! | --- | --- | --- |
//! | (always) | HS256 | |
//! | `sha512` (default) | HS384, HS512; with `rsa`, RS384/512 and PS384/512 | without it an HS256 device links no SHA-512 code |
//! | `rsa` | RS256, PS256 (+ the SHA-384/512 ones with `sha512`) | 2048-4096-bit keys, e = 65537, `crypto-bigint` on the stack (`alg::rsa`) |
//! | `es256` | ES256 | `p256` without its basepoint tables |
//! | `es384` | ES384 | `p384`, meant for the host |
//! | `eddsa` | EdDSA (Ed25519) | `ed25519-dalek`'s strict check, without its `fast` tables |
//! | `defmt` | | `defmt::Format` for the error and algorithm types |
//!
//! # Keys
//! A [`Key`] is exactly one key bound to exactly one algorithm (RFC 8725 section
//! 3.1), checked when it is built, so a verification never meets a bad key:
//! [`Key::new`] for an HMAC secret, [`Key::rsa`] from `n` and `e`, [`Key::ec`] /
//! [`Key::ec_sec1`] from a P-256 or P-384 point, [`Key::ed25519`] from 32 bytes (the
//! raw material of a JWK, an SPKI or a PKCS#1 key). A key of the wrong type or curve
//! for its algorithm is [`Error::KeyMismatch`]. A [`KeySet`] holds up to `N` keys
//! with optional `kid`s ([`Verifier::with_keys`]): the token's `kid` picks the key,
//! or without one the single key of its `alg`; the header's `jwk`, `jku`, `x5u` and
//! `x5c` are never read.
//!
//! # Key formats
//! With the reader features (`der`, `pem`, `jwk`; meant for the host, no new
//! allocation), key files become keys in one call, each bound to one algorithm:
//!
//! | format | constructor | feature |
//! | --- | --- | --- |
//! | raw material from any reader ([`keys::KeyMaterial`]) | [`Key::from_material`] | (always) |
//! | DER SubjectPublicKeyInfo, or PKCS#1 `RSAPublicKey` | `Key::from_der(alg, der)` | `der` |
//! | PEM `PUBLIC KEY` / `RSA PUBLIC KEY` | `Key::from_pem(alg, pem)` | `pem` |
//! | one JWK | `Key::from_jwk(text, pinned)` | `jwk` |
//! | a JWK Set, into a [`KeySet`] | `KeySet::from_jwks(text, pinned)`, `insert_jwks` | `jwk` |
//!
//! The binding rule (RFC 8725 section 3.1): a DER or PEM key is bound to the
//! algorithm the caller names; a JWK to its own `alg` when it has one (which must
//! then be the `pinned` algorithm too, if one is pinned: [`Error::KeyMismatch`]),
//! else to `pinned`, and with neither it is refused ([`Error::NoAlgorithm`]); an
//! `alg` written with escapes, or naming no algorithm of this crate (`ES512`,
//! `A256GCM`), is refused too. A key of another type or curve than its algorithm's
//! is [`Error::KeyMismatch`]; a private key is [`Error::PrivateKey`]. In a JWK Set,
//! keys whose `use` is not `sig` or whose `key_ops` lacks `verify` are skipped; any
//! other key that breaks a rule, a duplicate `kid`, secrets mixed with public keys
//! or more keys than the set's capacity refuse the whole set, which then adds
//! nothing.
//!
//! Public keys only verify: core holds no private asymmetric key. Hosts sign
//! RS/PS/ES/EdDSA tokens by implementing [`Signer`] for their own keys and passing it
//! to the compact-JWS writer ([`sign`], [`sign_json`]).
//!
//! # Checks
//! Checks run in a fixed order: size limit, three segments, header (the key chosen,
//! `alg` against it, `b64`, `crit`, `typ`), the signature (exactly the key's length;
//! HMAC in constant time), and only then the claims: types, required claims,
//! `exp`/`nbf`/`iat` with leeway, `iss`, `aud`. A date may be any JSON number, its
//! fraction truncated toward zero; one whose value does not fit an `i64` (`1e400`,
//! `9223372036854775808`, `-1e400`) is malformed ([`Error::InvalidClaim`]), not a
//! far future or a far past.
//!
//! One parser reads untrusted input on every target: a token is split, decoded
//! and checked by the same code on a 64-bit server as on a 32-bit device, so it
//! is accepted or refused alike. The header, whatever its form (including the
//! one [`Key::sign`] writes), goes through the same strict JSON validator as the
//! claims, and a key set chooses its key from that one parse. What differs by
//! target is the speed of three leaf functions (the byte searches, the base64url
//! block decode, a date's plain digits), which 64-bit targets run a word at a time;
//! the tests build both forms of each and compare them.
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
//!
//! A public key (here the RFC 8037 A.4 Ed25519 example; feature `eddsa`) verifies a
//! token signed elsewhere, and verifies only its own algorithm:
//! ```
//! # #[cfg(feature = "eddsa")]
//! # fn main() -> Result<(), latchkey_core::Error> {
//! use base64ct::{Base64UrlUnpadded, Encoding};
//! use latchkey_core::{Algorithm, ClaimSet, Error, Key, Validation, Verifier};
//!
//! // The JWK's `x`, decoded: what a key parser hands over.
//! let x = Base64UrlUnpadded::decode_vec("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
//! let key = Key::ed25519(Algorithm::EdDsa, &x)?;
//! assert_eq!(Key::ed25519(Algorithm::Es256, &x).unwrap_err(), Error::KeyMismatch);
//!
//! let token = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
//! let verifier = Verifier::new(key, Validation { required: ClaimSet::NONE, ..Validation::new() });
//! let mut scratch = [0u8; 128];
//! let jws = verifier.verify_jws(token, &mut scratch)?;
//! assert_eq!(jws.payload, b"Example of Ed25519 signing");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "eddsa"))]
//! # fn main() {}
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
mod algorithm;
mod b64;
mod error;
mod json;
mod jws;
mod jwt;
mod key;
mod key_set;
pub mod keys;
mod scan;

pub use algorithm::{Algorithm, EcCurve};
pub use error::{Claim, Error};
pub use json::{Chars, Elements, JsonStr, MAX_DEPTH_LIMIT, MAX_MEMBERS, Value};
pub use jws::{
    Header, HeaderParams, Jws, MAX_SIGNATURE_LEN, Signer, UntrustedHeader, sign, sign_json,
    untrusted_header,
};
pub use jwt::{
    Audience, ClaimSet, Claims, DEFAULT_LEEWAY, DEFAULT_MAX_DEPTH, DEFAULT_MAX_TOKEN_LEN,
    Validation, Verifier,
};
pub use key::Key;
pub use key_set::{KeySet, KeySource, MAX_KID_LEN};
