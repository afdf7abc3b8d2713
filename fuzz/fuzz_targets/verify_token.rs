//! Arbitrary bytes as a token: every verifier (an HS256 key, an RS256, an ES256
//! and an EdDSA public key, and a key set holding all four) must return, never
//! panic, and never accept (the fuzzer knows no key, and the RFC example keys'
//! tokens are expired or lack the required claims).
#![no_main]

use latchkey_core::{Algorithm, Key, KeySet, Validation, Verifier, untrusted_header};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let key = Key::new(Algorithm::Hs256, b"fuzz-key-0123456789abcdef0123456").unwrap();
    let validation = Validation {
        audience: Some("dev-1"),
        typ: Some("lk-cmd+jwt"),
        ..Validation::new()
    };
    let [rsa, ec, ed] = common::public_keys();
    let mut set = KeySet::<4>::new();
    set.insert(Some("hs"), key.clone()).unwrap();
    set.insert(Some("rsa"), rsa.clone()).unwrap();
    set.insert(None, ec.clone()).unwrap();
    set.insert(None, ed.clone()).unwrap();
    for key in [key, rsa, ec, ed] {
        let verifier = Verifier::new(key, validation);
        let mut scratch = [0u8; 4096];
        assert!(verifier.verify(data, 1_700_000_000, &mut scratch).is_err());
        let mut scratch = [0u8; 64];
        let _ = verifier.verify_jws(data, &mut scratch);
    }
    let verifier = Verifier::with_keys(&set, validation);
    let mut scratch = [0u8; 4096];
    assert!(verifier.verify(data, 1_700_000_000, &mut scratch).is_err());
    let mut scratch = [0u8; 4096];
    let _ = untrusted_header(data, &mut scratch);
});
