//! Signing: a header written in one fixed form and any payload, into a caller
//! buffer.

use core::str;

use crate::key::Key;
use crate::{Error, b64};

/// Header members to write when signing. `alg` comes from the key.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeaderParams<'a> {
    /// The `typ` member, e.g. `"JWT"` or `"at+jwt"`.
    pub typ: Option<&'a str>,
    /// The `kid` member, naming the key.
    pub kid: Option<&'a str>,
}

/// A cursor writing into a caller buffer; every write is bounds-checked.
struct Writer<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, data: &[u8]) -> Result<(), Error> {
        let end = self.len.saturating_add(data.len());
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    fn json_string(&mut self, s: &str) -> Result<(), Error> {
        self.bytes(b"\"")?;
        for c in s.chars() {
            match c {
                '"' => self.bytes(b"\\\"")?,
                '\\' => self.bytes(b"\\\\")?,
                c if u32::from(c) < 0x20 => {
                    let hex = b"0123456789abcdef";
                    let n = usize::from(c as u8);
                    let hi = *hex.get(n >> 4).ok_or(Error::InvalidHeader)?;
                    let lo = *hex.get(n & 0xf).ok_or(Error::InvalidHeader)?;
                    self.bytes(&[b'\\', b'u', b'0', b'0', hi, lo])?;
                }
                c => self.bytes(c.encode_utf8(&mut [0u8; 4]).as_bytes())?,
            }
        }
        self.bytes(b"\"")
    }

    fn base64(&mut self, data: &[u8]) -> Result<(), Error> {
        let dst = self.buf.get_mut(self.len..).ok_or(Error::BufferTooSmall)?;
        let n = b64::encode(data, dst)?.len();
        self.len = self.len.saturating_add(n);
        Ok(())
    }
}

/// The longest header `sign` writes (`kid` and `typ` included).
const MAX_HEADER_LEN: usize = 256;

impl Key {
    /// Signs `payload` as a compact JWS into `out` and returns the token.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] for a public key, which cannot sign;
    /// [`Error::BufferTooSmall`] when `out` cannot hold the token or the header
    /// (with `kid` and `typ`) is over 256 bytes.
    pub fn sign<'o>(
        &self,
        header: &HeaderParams<'_>,
        payload: &[u8],
        out: &'o mut [u8],
    ) -> Result<&'o str, Error> {
        let mut head = [0u8; MAX_HEADER_LEN];
        let mut h = Writer {
            buf: &mut head,
            len: 0,
        };
        h.bytes(b"{\"alg\":\"")?;
        h.bytes(self.algorithm().name().as_bytes())?;
        h.bytes(b"\"")?;
        if let Some(typ) = header.typ {
            h.bytes(b",\"typ\":")?;
            h.json_string(typ)?;
        }
        if let Some(kid) = header.kid {
            h.bytes(b",\"kid\":")?;
            h.json_string(kid)?;
        }
        h.bytes(b"}")?;
        let head_len = h.len;

        let mut w = Writer { buf: out, len: 0 };
        w.base64(head.get(..head_len).ok_or(Error::BufferTooSmall)?)?;
        w.bytes(b".")?;
        w.base64(payload)?;
        let mut tag = [0u8; 64];
        let signing_input = w.buf.get(..w.len).ok_or(Error::BufferTooSmall)?;
        let n = self.mac(signing_input, &mut tag)?;
        w.bytes(b".")?;
        w.base64(tag.get(..n).ok_or(Error::BufferTooSmall)?)?;
        let len = w.len;
        let token = out.get(..len).ok_or(Error::BufferTooSmall)?;
        str::from_utf8(token).map_err(|_| Error::InvalidUtf8)
    }

    /// Serializes `claims` as JSON (with `serde-json-core`, into `scratch`) and
    /// signs it into `out`.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `scratch` cannot hold the JSON or `out` the
    /// token.
    pub fn sign_json<'o, T: serde::Serialize + ?Sized>(
        &self,
        header: &HeaderParams<'_>,
        claims: &T,
        scratch: &mut [u8],
        out: &'o mut [u8],
    ) -> Result<&'o str, Error> {
        let n = serde_json_core::to_slice(claims, scratch).map_err(|_| Error::BufferTooSmall)?;
        let payload = scratch.get(..n).ok_or(Error::BufferTooSmall)?;
        self.sign(header, payload, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;
    use crate::jws::untrusted_header;

    #[test]
    fn header_escapes_kid() {
        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        let mut out = [0u8; 256];
        let hp = HeaderParams {
            typ: Some("JWT"),
            kid: Some("a\"b\\c\u{1}"),
        };
        let token = key.sign(&hp, b"{}", &mut out).unwrap();
        let mut scratch = [0u8; 128];
        let h = untrusted_header(token.as_bytes(), &mut scratch).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            h.kid().unwrap().decode_into(&mut buf).unwrap(),
            "a\"b\\c\u{1}"
        );

        // Only what JSON requires is escaped: a space or `/` is written as is.
        let hp = HeaderParams {
            typ: None,
            kid: Some(" a/b\u{1f}"),
        };
        let token = key.sign(&hp, b"{}", &mut out).unwrap();
        let (header, _) = token.split_once('.').unwrap();
        let mut json = [0u8; 64];
        assert_eq!(
            b64::decode(header.as_bytes(), &mut json).unwrap(),
            br#"{"alg":"HS256","kid":" a/b\u001f"}"#
        );
    }

    #[test]
    fn small_out_buffer_is_an_error() {
        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        let mut out = [0u8; 40];
        assert_eq!(
            key.sign(&HeaderParams::default(), b"{}", &mut out),
            Err(Error::BufferTooSmall)
        );
    }
}
