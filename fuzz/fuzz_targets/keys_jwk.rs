//! Arbitrary bytes as one JWK and as a JWK Set: the readers return, never panic;
//! what reads as a key has the promised shape and, written again as a JWK, re-reads
//! the same; a JWK and the same JWK as the only key of a set read alike.
#![no_main]

use latchkey_core::Error;
use latchkey_core::keys::{Jwk, JwkSet, KeyMaterial};
use libfuzzer_sys::fuzz_target;

mod keys_common;
use keys_common::{check_shape, to_jwk};

/// The key's material, checked, re-read from the JWK it writes.
fn check(key: &Jwk<'_>) {
    let mut buf = vec![0u8; key.decoded_len()];
    let m = key.material(&mut buf).unwrap();
    check_shape(&m);
    let text = to_jwk(&m);
    let mut again = vec![0u8; key.decoded_len()];
    let reread: Result<KeyMaterial<'_>, Error> =
        Jwk::parse(text.as_bytes()).and_then(|k| k.material(&mut again));
    assert_eq!(reread, Ok(m));
    if key.decoded_len() > 0 {
        let mut short = vec![0u8; key.decoded_len() - 1];
        assert_eq!(key.material(&mut short), Err(Error::BufferTooSmall));
    }
}

fuzz_target!(|data: &[u8]| {
    let alone = Jwk::parse(data);
    if let Ok(key) = &alone {
        check(key);
    }
    if let Ok(set) = JwkSet::parse(data) {
        for key in set.keys().flatten() {
            check(&key);
        }
    }
    // The same text as a set's only key.
    let wrapped = [&b"{\"keys\":["[..], data, b"]}"].concat();
    if let Ok(set) = JwkSet::parse(&wrapped) {
        let keys: Vec<_> = set.keys().collect();
        if let [only] = &keys[..] {
            assert_eq!(
                only.as_ref()
                    .map(|k| (k.kty(), k.decoded_len()))
                    .map_err(|e| *e),
                alone
                    .as_ref()
                    .map(|k| (k.kty(), k.decoded_len()))
                    .map_err(|e| *e)
            );
        }
    }
});
