//! Arbitrary bytes as a token: the verifier must return, never panic, and never
//! accept (the fuzzer does not know the key).
#![no_main]

use latchkey_core::{Algorithm, Key, Validation, Verifier, untrusted_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::new(Algorithm::Hs256, b"fuzz-key-0123456789abcdef0123456").unwrap();
    let validation = Validation {
        audience: Some("dev-1"),
        typ: Some("lk-cmd+jwt"),
        ..Validation::new()
    };
    let verifier = Verifier::new(key, validation);
    let mut scratch = [0u8; 4096];
    assert!(verifier.verify(data, 1_700_000_000, &mut scratch).is_err());
    let mut scratch = [0u8; 64];
    let _ = verifier.verify_jws(data, &mut scratch);
    let mut scratch = [0u8; 4096];
    let _ = untrusted_header(data, &mut scratch);
});
