//! Footprint probe for latchkey-core on a Cortex-M3: verify one typical token (the
//! `typical` token of `core/benches`, Flask-JWT-Extended claims) through the
//! [`Verifier`] and exit QEMU with semihosting, reporting the peak stack of that one
//! verification. The token is HS256 (331 bytes), or with one of the features
//! `alg-eddsa`, `alg-rs256` (2048-bit key), `alg-es256` the same claims signed with
//! that algorithm (`src/tokens.rs`). `footprint/measure.sh` builds it under both
//! firmware profiles and reports flash, static RAM, stack, the instructions one
//! verification executes, and what building the key costs.
//!
//! On the host this binary only checks that the embedded token verifies (so
//! `cargo clippy --workspace --all-targets` builds it); the real thing is
//! `--target thumbv7m-none-eabi`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(any(
    all(feature = "alg-eddsa", feature = "alg-rs256"),
    all(feature = "alg-eddsa", feature = "alg-es256"),
    all(feature = "alg-rs256", feature = "alg-es256"),
))]
compile_error!("latchkey-footprint verifies one algorithm: enable at most one `alg-*` feature");

use latchkey_core::{Algorithm, Key, Validation, Verifier};

#[cfg(target_os = "none")]
mod device;
#[cfg(test)]
mod regen;
mod tokens;

/// The HS256 secret of the benchmark tokens (DEVELOPMENT ONLY: public test material).
// Also the `measure` build's bare-HMAC peer key, whatever the algorithm.
#[allow(dead_code)]
const SECRET: &[u8] = b"latchkey benchmark key: DEVELOPMENT ONLY";

/// The `typical` benchmark token (`cargo run --release -p latchkey-core --example
/// callgrind -- print typical 0` prints it).
#[allow(dead_code)]
const HS256_TOKEN: &[u8] = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVzaCI6ZmFsc2UsImlhdCI6MTcwMDAwMDAwMCwianRpIjoiMGY2ZTBjMWEtNmEzZi00ZDg2LTliNWUtMmYwYzlkN2ExYjM0IiwidHlwZSI6ImFjY2VzcyIsInN1YiI6ImFsaWNlIiwibmJmIjoxNzAwMDAwMDAwLCJjc3JmIjoiOWI3YzVhMmUtNGQxZi00ZThhLWIzYzYtMWEyYjNjNGQ1ZTZmIiwiZXhwIjo0MDAwMDAwMDAwfQ.3NgqLBd3RuRycaLsWBZj-ByKommv8NRqpq5cHwwQTR0";

/// The token the probe verifies.
#[cfg(not(any(feature = "alg-eddsa", feature = "alg-rs256", feature = "alg-es256")))]
const TOKEN: &[u8] = HS256_TOKEN;
#[cfg(feature = "alg-eddsa")]
const TOKEN: &[u8] = tokens::EDDSA_TOKEN;
#[cfg(feature = "alg-rs256")]
const TOKEN: &[u8] = tokens::RS256_TOKEN;
#[cfg(feature = "alg-es256")]
const TOKEN: &[u8] = tokens::ES256_TOKEN;

/// The time the verifier is given (the token is valid from 1700000000 to 4000000000).
const NOW: u64 = 1_800_000_000;

/// Scratch for the decoded header and payload: 3/4 of the token, rounded up.
const SCRATCH_LEN: usize = TOKEN.len() / 4 * 3 + 3;

/// The verifier the device keeps: the key (for HS256 the pre-keyed HMAC state; for
/// RSA the Montgomery parameters) and the default policy. The `measure` build keeps
/// it out of line, so its stack and instructions are measured apart.
#[cfg_attr(feature = "measure", inline(never))]
fn verifier() -> Option<Verifier<'static>> {
    Some(Verifier::new(key()?, Validation::new()))
}

/// The HS256 key.
#[cfg(not(any(feature = "alg-eddsa", feature = "alg-rs256", feature = "alg-es256")))]
fn key() -> Option<Key> {
    Key::new(Algorithm::Hs256, SECRET).ok()
}

/// The Ed25519 key: decoded, checked canonical and not of small order.
#[cfg(feature = "alg-eddsa")]
fn key() -> Option<Key> {
    Key::ed25519(Algorithm::EdDsa, &tokens::EDDSA_X).ok()
}

/// The RSA-2048 key: checked, with its Montgomery parameters computed.
#[cfg(feature = "alg-rs256")]
fn key() -> Option<Key> {
    Key::rsa(Algorithm::Rs256, &tokens::RS256_N, &tokens::RS256_E).ok()
}

/// The P-256 key: the point checked on the curve.
#[cfg(feature = "alg-es256")]
fn key() -> Option<Key> {
    Key::ec(
        Algorithm::Es256,
        latchkey_core::EcCurve::P256,
        &tokens::ES256_X,
        &tokens::ES256_Y,
    )
    .ok()
}

/// One full verification (signature, claims, validation); `true` when it holds.
#[inline(never)]
fn verify_once(verifier: &Verifier<'_>, scratch: &mut [u8]) -> bool {
    verifier
        .verify(
            core::hint::black_box(TOKEN),
            core::hint::black_box(NOW),
            scratch,
        )
        .is_ok()
}

#[cfg(not(target_os = "none"))]
fn main() {
    let ok = verifier().is_some_and(|v| verify_once(&v, &mut [0u8; SCRATCH_LEN]));
    println!("host check: the embedded token verifies: {ok}");
    if !ok {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_token_verifies_and_fits_the_scratch() {
        let v = verifier().unwrap();
        assert!(verify_once(&v, &mut [0u8; SCRATCH_LEN]));
        // The scratch holds the decoded header and payload; a smaller one is an
        // error (not a panic), so the size above is what the device really needs.
        let dot = TOKEN.iter().rposition(|&b| b == b'.').unwrap();
        let decoded = TOKEN[..dot].len() / 4 * 3;
        assert!(SCRATCH_LEN >= decoded);
        assert!(!verify_once(&v, &mut [0u8; 64]));
    }

    #[test]
    fn embedded_token_is_refused_after_expiry() {
        let v = verifier().unwrap();
        let mut scratch = [0u8; SCRATCH_LEN];
        let err = v.verify(TOKEN, 4_000_000_060, &mut scratch).unwrap_err();
        assert_eq!(err.code(), "expired");
    }
}
