//! What the fuzz targets share: signing a raw header and claims text, and the
//! public keys of the RFC examples.
// Each target uses part of what is here.
#![allow(dead_code)]

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use latchkey_core::{Algorithm, EcCurve, Key};

/// The HS256 key of the fuzz targets.
pub const KEY: &[u8; 32] = b"fuzz-key-0123456789abcdef0123456";

/// Appends base64url (no padding) of `data` to `out`.
pub fn b64(data: &[u8], out: &mut String) {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
}

/// A compact JWS of exactly these header and claims bytes, MAC'd with [`KEY`]
/// (`Key::sign` writes its own header, so the MAC is computed here, with the
/// same crates latchkey-core uses).
pub fn token(header: &[u8], claims: &[u8]) -> String {
    let mut token = String::new();
    b64(header, &mut token);
    token.push('.');
    b64(claims, &mut token);
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
    m.update(token.as_bytes());
    let mac: [u8; 32] = m.finalize().into_bytes().into();
    token.push('.');
    b64(&mac, &mut token);
    token
}

/// The seed of the Ed25519 key `verify_signed` signs with.
pub const ED25519_SEED: [u8; 32] = *b"fuzz-ed25519-seed-0123456789abcd";

/// A compact JWS of exactly these header and claims bytes, signed with Ed25519
/// from [`ED25519_SEED`].
pub fn ed25519_token(header: &[u8], claims: &[u8]) -> String {
    use ed25519_dalek::Signer;
    let mut token = String::new();
    b64(header, &mut token);
    token.push('.');
    b64(claims, &mut token);
    let sig = ed25519_dalek::SigningKey::from_bytes(&ED25519_SEED).sign(token.as_bytes());
    token.push('.');
    b64(&sig.to_bytes(), &mut token);
    token
}

/// The public key of [`ED25519_SEED`].
pub fn ed25519_key() -> Key {
    let public = ed25519_dalek::SigningKey::from_bytes(&ED25519_SEED).verifying_key();
    Key::ed25519(Algorithm::EdDsa, public.as_bytes()).unwrap()
}

fn unb64<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    assert_eq!(Base64UrlUnpadded::decode(s, &mut out).unwrap().len(), N);
    out
}

/// One key of each public-key family: the example keys of RFC 7515 A.2 (RS256),
/// A.3 (ES256) and RFC 8037 A.2 (EdDSA), whose tokens are expired or lack the
/// claims the targets require.
pub fn public_keys() -> [Key; 3] {
    let n: [u8; 256] = unb64(concat!(
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4",
        "d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5r",
        "exMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhy",
        "xXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    ));
    let x: [u8; 32] = unb64("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
    let y: [u8; 32] = unb64("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
    let ed: [u8; 32] = unb64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    [
        Key::rsa(Algorithm::Rs256, &n, &[1, 0, 1]).unwrap(),
        Key::ec(Algorithm::Es256, EcCurve::P256, &x, &y).unwrap(),
        Key::ed25519(Algorithm::EdDsa, &ed).unwrap(),
    ]
}
