//! Arbitrary header and claims text, correctly signed, so the fuzzer reaches the
//! JSON validator and the claims checks behind the MAC. Whatever the verifier
//! accepts must be a JSON object to serde_json too.
#![no_main]

use latchkey_core::{Algorithm, ClaimSet, Key, Validation, Verifier};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    // First byte picks the split between header and claims.
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (header, claims) = rest.split_at(split);
    let header: &[u8] = if header.is_empty() { br#"{"alg":"HS256"}"# } else { header };

    let key = Key::new(Algorithm::Hs256, common::KEY).unwrap();
    let token = common::token(header, claims);

    let validation = Validation {
        required: ClaimSet::NONE,
        ..Validation::new()
    };
    let verifier = Verifier::new(key, validation);
    let mut scratch = [0u8; 8192];
    if let Ok(c) = verifier.verify(token.as_bytes(), 1_700_000_000, &mut scratch) {
        // RFC 8259 allows numbers like 1e400 that serde_json refuses to hold.
        match serde_json::from_slice::<serde_json::Value>(claims) {
            Ok(v) => assert!(v.is_object()),
            Err(e) => assert!(e.to_string().contains("number out of range"), "{e}"),
        }
        let _ = c.aud().map(|a| a.contains("x"));
    }
});
