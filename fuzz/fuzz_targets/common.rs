//! What the fuzz targets share: signing a raw header and claims text.

use hmac::{Hmac, KeyInit, Mac};

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
