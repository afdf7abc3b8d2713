//! Signing: the one signing interface, [`Signer`], and the compact-JWS writer that
//! takes it: a header written in one fixed form and any payload, into a caller
//! buffer.

use core::str;

use crate::algorithm::Algorithm;
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

/// The longest header the writer makes (`kid` and `typ` included).
const MAX_HEADER_LEN: usize = 256;

/// The longest signature the compact-JWS writer takes from a [`Signer`]: 512
/// bytes, an RSA-4096 signature, the longest of any algorithm this crate defines
/// (whatever the features: a signer need not be one of this build's verifiers).
pub const MAX_SIGNATURE_LEN: usize = 512;

/// What signs a token: core's one signing interface, which the compact-JWS writer
/// ([`sign`], [`sign_json`]) takes.
///
/// HMAC keys implement it ([`Key`](crate::Key); a public `Key` refuses with
/// [`Error::KeyMismatch`]). Core holds no private asymmetric keys: a host
/// implements it for its own RSA, ECDSA or Ed25519 signing key (an HSM, a KMS, a
/// RustCrypto key), writing the signature in its JWS form (RFC 7518: the raw
/// PKCS#1 v1.5 or PSS signature of k bytes, ECDSA's fixed-width `r || s`, never DER;
/// Ed25519's 64 bytes).
pub trait Signer {
    /// The algorithm, written as the header's `alg`.
    fn algorithm(&self) -> Algorithm;

    /// The length of the signature [`Signer::sign`] writes, in bytes (at most
    /// [`MAX_SIGNATURE_LEN`]).
    fn signature_len(&self) -> usize;

    /// Signs `signing_input` (the ASCII `header.payload` of the token) into `out`,
    /// which is exactly [`Signer::signature_len`] bytes, and returns the number of
    /// bytes written, which must be all of them.
    ///
    /// # Errors
    /// Whatever the signer refuses with; [`Error::KeyMismatch`] for a key that
    /// cannot sign.
    fn sign(&self, signing_input: &[u8], out: &mut [u8]) -> Result<usize, Error>;
}

/// Signs `payload` as a compact JWS with `signer` into `out` and returns the token:
/// the header `{"alg":…,"typ":…,"kid":…}` (in that order, `alg` from the signer,
/// `typ` and `kid` when given), the payload, and the signature, each base64url.
///
/// # Errors
/// [`Error::BufferTooSmall`] when `out` cannot hold the token, the header (with
/// `kid` and `typ`) is over 256 bytes, or the signer's signature is over
/// [`MAX_SIGNATURE_LEN`]; [`Error::BadSignature`] when the signer writes another
/// length than its [`Signer::signature_len`]; whatever the signer refuses with.
pub fn sign<'o, S: Signer + ?Sized>(
    signer: &S,
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
    h.bytes(signer.algorithm().name().as_bytes())?;
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
    let mut sig = [0u8; MAX_SIGNATURE_LEN];
    let sig = sig
        .get_mut(..signer.signature_len())
        .ok_or(Error::BufferTooSmall)?;
    let signing_input = w.buf.get(..w.len).ok_or(Error::BufferTooSmall)?;
    // A signature of another length than announced would never verify.
    if signer.sign(signing_input, sig)? != sig.len() {
        return Err(Error::BadSignature);
    }
    w.bytes(b".")?;
    w.base64(sig)?;
    let len = w.len;
    let token = out.get(..len).ok_or(Error::BufferTooSmall)?;
    str::from_utf8(token).map_err(|_| Error::InvalidUtf8)
}

/// Serializes `claims` as JSON (with `serde-json-core`, into `scratch`) and signs
/// it with `signer` into `out` ([`sign`]).
///
/// # Errors
/// As [`sign`]; [`Error::BufferTooSmall`] also when `scratch` cannot hold the JSON.
pub fn sign_json<'o, S: Signer + ?Sized, T: serde::Serialize + ?Sized>(
    signer: &S,
    header: &HeaderParams<'_>,
    claims: &T,
    scratch: &mut [u8],
    out: &'o mut [u8],
) -> Result<&'o str, Error> {
    let n = serde_json_core::to_slice(claims, scratch).map_err(|_| Error::BufferTooSmall)?;
    let payload = scratch.get(..n).ok_or(Error::BufferTooSmall)?;
    sign(signer, header, payload, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
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

    /// A stand-in signer: `len` bytes of `fill`, or an error.
    struct Fixed {
        alg: Algorithm,
        len: usize,
        wrote: usize,
        fill: Result<u8, Error>,
    }

    impl Signer for Fixed {
        fn algorithm(&self) -> Algorithm {
            self.alg
        }
        fn signature_len(&self) -> usize {
            self.len
        }
        fn sign(&self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
            assert!(input.starts_with(b"eyJ") && input.contains(&b'.'));
            assert_eq!(
                out.len(),
                self.len,
                "the writer hands out exactly signature_len"
            );
            out.fill(self.fill?);
            Ok(self.wrote)
        }
    }

    /// The writer takes any signer: `alg` is the signer's, the signature is what it
    /// wrote, up to 512 bytes; its errors, and lengths other than announced, are
    /// errors.
    #[test]
    fn any_signer_through_the_writer() {
        let mut out = [0u8; 1024];
        let rsa4096 = Fixed {
            alg: Algorithm::Ps512,
            len: 512,
            wrote: 512,
            fill: Ok(0xa5),
        };
        let token = sign(&rsa4096, &HeaderParams::default(), b"{}", &mut out).unwrap();
        let (head, sig) = token.rsplit_once('.').unwrap();
        let mut buf = [0u8; 600];
        assert_eq!(b64::decode(sig.as_bytes(), &mut buf).unwrap(), [0xa5; 512]);
        let (head, _) = head.split_once('.').unwrap();
        assert_eq!(
            b64::decode(head.as_bytes(), &mut buf).unwrap(),
            br#"{"alg":"PS512"}"#
        );
        let cases = [
            (Algorithm::EdDsa, 513, 513, Ok(1), Error::BufferTooSmall),
            (Algorithm::EdDsa, 64, 65, Ok(1), Error::BadSignature),
            (Algorithm::EdDsa, 64, 63, Ok(1), Error::BadSignature),
            (
                Algorithm::Es256,
                64,
                64,
                Err(Error::KeyMismatch),
                Error::KeyMismatch,
            ),
        ];
        for (alg, len, wrote, fill, want) in cases {
            let signer = Fixed {
                alg,
                len,
                wrote,
                fill,
            };
            assert_eq!(
                sign(&signer, &HeaderParams::default(), b"{}", &mut out),
                Err(want)
            );
        }
    }
}
