//! Arbitrary bytes as a DER SubjectPublicKeyInfo and as a PKCS#1 `RSAPublicKey`:
//! the readers return, never panic; what reads as a key has the promised shape and
//! is exactly the DER that key encodes to (DER is canonical), so it re-reads the same.
#![no_main]

use latchkey_core::keys::KeyMaterial;
use libfuzzer_sys::fuzz_target;

mod keys_common;
use keys_common::{check_shape, to_pkcs1, to_spki};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = KeyMaterial::from_spki_der(data) {
        check_shape(&m);
        let again = to_spki(&m);
        assert_eq!(again, data);
        assert_eq!(KeyMaterial::from_spki_der(&again), Ok(m));
    }
    if let Ok(m) = KeyMaterial::from_pkcs1_der(data) {
        check_shape(&m);
        let KeyMaterial::Rsa { n, e } = m else {
            panic!("PKCS#1 gave {m:?}")
        };
        assert_eq!(to_pkcs1(n, e), data);
    }
});
