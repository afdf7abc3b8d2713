//! Arbitrary header and claims text, correctly signed, so the fuzzer reaches the
//! JSON validator and the claims checks behind the MAC. Whatever the verifier
//! accepts must be a JSON object to serde_json too.
#![no_main]

use latchkey_core::{Algorithm, ClaimSet, Key, Validation, Verifier};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8; 32] = b"fuzz-key-0123456789abcdef0123456";

fn b64(data: &[u8], out: &mut String) {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte picks the split between header and claims.
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (header, claims) = rest.split_at(split);
    let header: &[u8] = if header.is_empty() { br#"{"alg":"HS256"}"# } else { header };

    let key = Key::new(Algorithm::Hs256, KEY).unwrap();
    let mut token = String::new();
    b64(header, &mut token);
    token.push('.');
    b64(claims, &mut token);
    // `Key::sign` writes its own header, so the MAC over this raw header is
    // computed directly.
    let mac = hmac_sha256::mac(token.as_bytes(), KEY);
    token.push('.');
    b64(&mac, &mut token);

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

mod hmac_sha256 {
    //! HMAC-SHA256 from the same crates latchkey-core uses.
    use hmac::{Hmac, KeyInit, Mac};
    pub fn mac(data: &[u8], key: &[u8]) -> [u8; 32] {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().into()
    }
}
