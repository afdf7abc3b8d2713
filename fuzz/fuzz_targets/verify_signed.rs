//! Arbitrary header and claims text, correctly signed (HS256, or EdDSA with a
//! public key), so the fuzzer reaches the JSON validator, the key's signature
//! check and the claims checks behind it. Whatever the verifier accepts must be a
//! JSON object to serde_json too, under the algorithm that signed it.
#![no_main]

use latchkey_core::{Algorithm, ClaimSet, Key, Validation, Verifier};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the split between header and claims, the second the
    // algorithm.
    let Some((&split, rest)) = data.split_first() else { return };
    let Some((&alg, rest)) = rest.split_first() else { return };
    let eddsa = alg & 1 == 1;
    let split = usize::from(split).min(rest.len());
    let (header, claims) = rest.split_at(split);
    let default: &[u8] = if eddsa { br#"{"alg":"EdDSA"}"# } else { br#"{"alg":"HS256"}"# };
    let header: &[u8] = if header.is_empty() { default } else { header };

    let (key, token) = if eddsa {
        (common::ed25519_key(), common::ed25519_token(header, claims))
    } else {
        (Key::new(Algorithm::Hs256, common::KEY).unwrap(), common::token(header, claims))
    };

    let validation = Validation {
        required: ClaimSet::NONE,
        ..Validation::new()
    };
    let verifier = Verifier::new(key, validation);
    let mut scratch = [0u8; 8192];
    if let Ok(c) = verifier.verify(token.as_bytes(), 1_700_000_000, &mut scratch) {
        assert_eq!(c.header().alg(), if eddsa { Algorithm::EdDsa } else { Algorithm::Hs256 });
        // RFC 8259 allows numbers like 1e400 that serde_json refuses to hold.
        match serde_json::from_slice::<serde_json::Value>(claims) {
            Ok(v) => assert!(v.is_object()),
            Err(e) => assert!(e.to_string().contains("number out of range"), "{e}"),
        }
        let _ = c.aud().map(|a| a.contains("x"));
    }
});
