//! Arbitrary bytes as a PEM public key: the reader returns, never panics, and never
//! writes past the DER it reports; what reads as a key, written again as PEM (its
//! DER by RustCrypto's encoders, the same label), re-reads the same, and a buffer
//! one byte short of its DER is `BufferTooSmall`.
#![no_main]

use latchkey_core::Error;
use latchkey_core::keys::{KeyMaterial, PEM_BUFFER_LEN};
use libfuzzer_sys::fuzz_target;

mod keys_common;
use keys_common::{check_shape, to_pkcs1, to_spki};

fuzz_target!(|data: &[u8]| {
    let mut buf = [0u8; PEM_BUFFER_LEN];
    let Ok(m) = KeyMaterial::from_pem(data, &mut buf) else {
        return;
    };
    check_shape(&m);
    let label = pem_rfc7468::decode_label(data).unwrap();
    let der = match (label, m) {
        ("PUBLIC KEY", m) => to_spki(&m),
        ("RSA PUBLIC KEY", KeyMaterial::Rsa { n, e }) => to_pkcs1(n, e),
        other => panic!("{other:?}"),
    };
    let mut text = vec![0u8; 4096];
    let text = pem_rfc7468::encode(label, pem_rfc7468::LineEnding::LF, &der, &mut text).unwrap();
    let mut again = [0u8; PEM_BUFFER_LEN];
    assert_eq!(KeyMaterial::from_pem(text.as_bytes(), &mut again), Ok(m));
    let mut short = vec![0u8; der.len() - 1];
    assert_eq!(
        KeyMaterial::from_pem(data, &mut short),
        Err(Error::BufferTooSmall)
    );
});
