//! Verifying a compact JWS: the checks in their fixed order, from the size limit
//! to the signature, and only then the payload decode.

use super::header::{Header, check_header};
use super::split::{Parts, split, three_segments};
use crate::key::VERIFY_SIGNATURE_LEN;
use crate::key_set::sealed::Select;
use crate::{Error, b64};

/// A verified JWS: its header and the payload bytes the signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Jws<'a> {
    /// The protected header.
    pub header: Header<'a>,
    /// The decoded payload (any bytes; JSON for a JWT).
    pub payload: &'a [u8],
}

/// Verifies a compact JWS with the key `keys` chooses; returns it and the unused
/// tail of `scratch`.
///
/// Checks run in a fixed order: size, three segments, header (the key chosen, alg
/// against it, b64, crit, typ), the signature (HMAC in constant time), and only
/// then the payload decode.
pub(crate) fn verify<'s, K: Select + ?Sized>(
    keys: &K,
    token: &[u8],
    typ: Option<&str>,
    max_len: usize,
    max_depth: u8,
    scratch: &'s mut [u8],
) -> Result<(Jws<'s>, &'s mut [u8]), Error> {
    if token.len() > max_len {
        return Err(Error::TokenTooLarge);
    }
    let sig_chars = keys
        .signature_len()
        .map(|n| n.saturating_mul(4).div_ceil(3));
    let parts = split(token, sig_chars)?;
    let verified = verify_parts(keys, &parts, typ, max_depth, scratch);
    three_segments(&parts, verified)
}

/// [`verify`] after the split.
fn verify_parts<'s, K: Select + ?Sized>(
    keys: &K,
    parts: &Parts<'_>,
    typ: Option<&str>,
    max_depth: u8,
    scratch: &'s mut [u8],
) -> Result<(Jws<'s>, &'s mut [u8]), Error> {
    let header_len = b64::decoded_len(parts.header.len()).ok_or(Error::InvalidBase64)?;
    let (header_buf, rest) = scratch
        .split_at_mut_checked(header_len)
        .ok_or(Error::BufferTooSmall)?;
    // The JSON path for every header on every target, so a token is accepted or
    // refused by the same code on the host as on the device: no shortcut for the
    // form `Key::sign` writes.
    let (header, key) = check_header(b64::decode(parts.header, header_buf)?, keys, typ, max_depth)?;

    // Sized for the longest signature of the build's algorithms: longer is bad
    // without decoding it all, and every key takes exactly its own length.
    let mut sig = [0u8; VERIFY_SIGNATURE_LEN];
    let sig = match b64::decode(parts.signature, &mut sig) {
        Ok(sig) if sig.len() == key.signature_len() => sig,
        Ok(_) | Err(Error::BufferTooSmall) => return Err(Error::BadSignature),
        Err(e) => return Err(e),
    };
    key.verify(parts.signing_input, sig)?;

    let payload_len = b64::decoded_len(parts.payload.len()).ok_or(Error::InvalidBase64)?;
    let (payload_buf, rest) = rest
        .split_at_mut_checked(payload_len)
        .ok_or(Error::BufferTooSmall)?;
    let payload = b64::decode(parts.payload, payload_buf)?;
    Ok((Jws { header, payload }, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::JsonStr;
    use crate::jws::{HeaderParams, Signer, untrusted_header};
    use crate::{Algorithm, Key};

    /// More than three segments is `Malformed` whatever else is wrong, and even when
    /// the MAC over everything before the last dot holds.
    #[test]
    fn extra_segments_are_malformed_whatever_else_fails() {
        extern crate std;
        use std::borrow::ToOwned;
        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        let mut out = [0u8; 256];
        let token = key.sign(&HeaderParams::default(), b"{}", &mut out).unwrap();
        let (input, _) = token.rsplit_once('.').unwrap();
        let (header, payload) = input.split_once('.').unwrap();
        let mac_of = |input: &str| {
            let mut tag = [0u8; 64];
            let n = Signer::sign(&key, input.as_bytes(), &mut tag).unwrap();
            let mut sig = [0u8; 128];
            let sig = b64::encode(&tag[..n], &mut sig).unwrap().to_owned();
            std::format!("{input}.{sig}")
        };
        let macd = mac_of(&std::format!("{header}.{payload}.{payload}"));
        let cases = [
            // A valid MAC over four segments.
            macd.clone(),
            // A bad MAC.
            std::format!("{header}.{payload}.{payload}.AAAA"),
            // A bad header too.
            std::format!("e30.{payload}.x.AAAA"),
            "!!.a.b.c".to_owned(),
            std::format!("{header}...{}", macd.rsplit_once('.').unwrap().1),
            // A dot inside the MAC segment, at either end and in the middle, so
            // that the dot the key's MAC length points at is not the last one.
            std::format!("{}.", &token[..token.len() - 1]),
            std::format!(
                "{}.{}",
                &token[..token.len() - 20],
                &token[token.len() - 19..]
            ),
            std::format!("{input}..{}", &token[token.len() - 42..]),
        ];
        for case in cases {
            let mut scratch = [0u8; 256];
            assert_eq!(
                verify(&key, case.as_bytes(), None, 4096, 16, &mut scratch).err(),
                Some(Error::Malformed),
                "{case}"
            );
            assert_eq!(
                untrusted_header(case.as_bytes(), &mut scratch).err(),
                Some(Error::Malformed),
                "{case}"
            );
        }
        let mut scratch = [0u8; 256];
        assert!(verify(&key, token.as_bytes(), None, 4096, 16, &mut scratch).is_ok());
    }

    /// Through `verify`, a signed token's `typ` is compared with the expected one
    /// (case-insensitive, `application/` optional) and its `typ` and `kid` are
    /// handed out as written.
    #[test]
    fn expected_typ_through_verify() {
        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        for (typ, expected, ok) in [
            (Some("JWT"), Some("jwt"), true),
            (Some("application/at+jwt"), Some("at+jwt"), true),
            (Some("rt+jwt"), Some("at+jwt"), false),
            (None, Some("at+jwt"), false),
            (None, None, true),
            (Some("JWT"), None, true),
        ] {
            let mut out = [0u8; 256];
            let hp = HeaderParams {
                typ,
                kid: Some("k"),
            };
            let token = key.sign(&hp, b"{}", &mut out).unwrap();
            let mut scratch = [0u8; 256];
            let got = verify(&key, token.as_bytes(), expected, 4096, 16, &mut scratch);
            match got {
                Ok((jws, _)) => {
                    assert!(ok, "{typ:?} {expected:?}");
                    assert_eq!(jws.header.typ().map(JsonStr::raw), typ);
                    assert_eq!(jws.header.kid().map(JsonStr::raw), Some("k"));
                }
                Err(e) => assert!(!ok && e == Error::WrongType, "{typ:?} {expected:?} {e:?}"),
            }
        }
    }

    /// A token of exactly the maximum length is verified; one byte less of limit
    /// refuses it before anything else is looked at.
    #[test]
    fn maximum_length_is_inclusive() {
        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        let mut out = [0u8; 256];
        let token = key.sign(&HeaderParams::default(), b"{}", &mut out).unwrap();
        let n = token.len();
        let mut scratch = [0u8; 256];
        assert!(verify(&key, token.as_bytes(), None, n, 16, &mut scratch).is_ok());
        assert_eq!(
            verify(&key, token.as_bytes(), None, n - 1, 16, &mut scratch).err(),
            Some(Error::TokenTooLarge)
        );
    }

    /// Public keys through `verify`: the RFC 7515 A.3 (ES256) and RFC 8037 A.4
    /// (EdDSA) tokens verify with their keys, and the checks around the signature
    /// hold as for HMAC: the header's `alg` against the key's, exactly the key's
    /// signature length, a public key never signs.
    #[test]
    #[cfg(any(feature = "es256", feature = "eddsa"))]
    fn public_keys_verify_and_never_sign() {
        extern crate std;
        let b64 = |s: &str| {
            let mut buf = [0u8; 64];
            let n = b64::decode(s.as_bytes(), &mut buf).unwrap().len();
            (buf, n)
        };
        let mut cases = std::vec::Vec::new();
        #[cfg(feature = "es256")]
        {
            let (x, _) = b64("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
            let (y, _) = b64("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
            let key = Key::ec(Algorithm::Es256, crate::EcCurve::P256, &x[..32], &y[..32]).unwrap();
            cases.push((key, "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"));
        }
        #[cfg(feature = "eddsa")]
        {
            let (x, _) = b64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
            let key = Key::ed25519(Algorithm::EdDsa, &x[..32]).unwrap();
            cases.push((key, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"));
        }
        for (key, token) in cases {
            assert!(key.is_public());
            assert_eq!(key.signature_len(), 64);
            let mut scratch = [0u8; 512];
            let (jws, _) = verify(&key, token.as_bytes(), None, 4096, 16, &mut scratch).unwrap();
            assert_eq!(jws.header.alg(), key.algorithm());
            let (input, sig) = token.rsplit_once('.').unwrap();
            let (_, payload) = input.split_once('.').unwrap();
            // One signature bit, one byte more or less, another header alg.
            let flipped = std::format!(
                "{input}.{}{}",
                &sig[..sig.len() - 1],
                if sig.ends_with('A') { "Q" } else { "A" }
            );
            let resigned = |len: usize| {
                let (mut raw, _) = b64(sig);
                raw[63] ^= 0xff;
                let mut enc = [0u8; 128];
                let enc = b64::encode(&raw[..len.min(64)], &mut enc).unwrap();
                let pad = if len > 64 { "AAAA" } else { "" };
                std::format!("{input}.{enc}{pad}")
            };
            let (longer, shorter) = (resigned(67), resigned(63));
            let hs256 = std::format!("eyJhbGciOiJIUzI1NiJ9.{payload}.{sig}");
            let none = std::format!("eyJhbGciOiJub25lIn0.{payload}.{sig}");
            for (bad, want) in [
                (flipped, Error::BadSignature),
                (longer, Error::BadSignature),
                (shorter, Error::BadSignature),
                (hs256, Error::WrongAlgorithm),
                (none, Error::AlgorithmNone),
            ] {
                let got = verify(&key, bad.as_bytes(), None, 4096, 16, &mut scratch);
                assert_eq!(got.err(), Some(want), "{bad}");
            }
            let mut out = [0u8; 256];
            assert_eq!(
                key.sign(&HeaderParams::default(), b"{}", &mut out),
                Err(Error::KeyMismatch)
            );
        }
    }
}
