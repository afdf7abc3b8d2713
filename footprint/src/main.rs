//! Footprint probe for latchkey-core on a Cortex-M3: verify one typical HS256 token
//! (the `typical` token of `core/benches`, 331 bytes, Flask-JWT-Extended claims)
//! and exit QEMU with semihosting, reporting the peak stack of that one
//! verification. `footprint/measure.sh` builds it under both firmware profiles, with
//! and without sha2's compact backend, and reports flash, static RAM, stack and the
//! instructions one verification executes.
//!
//! On the host this binary only checks that the embedded token verifies (so
//! `cargo clippy --workspace --all-targets` builds it); the real thing is
//! `--target thumbv7m-none-eabi`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use latchkey_core::{Algorithm, Key, Validation, Verifier};

#[cfg(target_os = "none")]
mod device;

/// The HS256 secret of the benchmark tokens (DEVELOPMENT ONLY: public test material).
const SECRET: &[u8] = b"latchkey benchmark key: DEVELOPMENT ONLY";

/// The `typical` benchmark token (`cargo run --release -p latchkey-core --example
/// callgrind -- print typical 0` prints it).
const TOKEN: &[u8] = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVzaCI6ZmFsc2UsImlhdCI6MTcwMDAwMDAwMCwianRpIjoiMGY2ZTBjMWEtNmEzZi00ZDg2LTliNWUtMmYwYzlkN2ExYjM0IiwidHlwZSI6ImFjY2VzcyIsInN1YiI6ImFsaWNlIiwibmJmIjoxNzAwMDAwMDAwLCJjc3JmIjoiOWI3YzVhMmUtNGQxZi00ZThhLWIzYzYtMWEyYjNjNGQ1ZTZmIiwiZXhwIjo0MDAwMDAwMDAwfQ.3NgqLBd3RuRycaLsWBZj-ByKommv8NRqpq5cHwwQTR0";

/// The time the verifier is given (the token is valid from 1700000000 to 4000000000).
const NOW: u64 = 1_800_000_000;

/// Scratch for the decoded header and payload: 3/4 of the token, rounded up.
const SCRATCH_LEN: usize = TOKEN.len() / 4 * 3 + 3;

/// The verifier the device keeps: the key (pre-keyed HMAC state) and the default policy.
fn verifier() -> Option<Verifier<'static>> {
    let key = Key::new(Algorithm::Hs256, SECRET).ok()?;
    Some(Verifier::new(key, Validation::new()))
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
