//! Verifying a compact JWS: the checks in their fixed order, from the size limit
//! to the MAC, and only then the payload decode.

use super::header::{Header, check_header};
use super::split::{Parts, split, three_segments};
use crate::key::{Key, MAX_MAC_LEN};
use crate::{Error, b64};

/// A verified JWS: its header and the payload bytes the MAC covers.
#[derive(Clone, Copy, Debug)]
pub struct Jws<'a> {
    /// The protected header.
    pub header: Header<'a>,
    /// The decoded payload (any bytes; JSON for a JWT).
    pub payload: &'a [u8],
}

/// Verifies a compact JWS with `key`; returns it and the unused tail of `scratch`.
///
/// Checks run in a fixed order: size, three segments, header (alg against the
/// key, crit, b64, typ), MAC in constant time, and only then the payload decode.
pub(crate) fn verify<'s>(
    key: &Key,
    token: &[u8],
    typ: Option<&str>,
    max_len: usize,
    max_depth: u8,
    scratch: &'s mut [u8],
) -> Result<(Jws<'s>, &'s mut [u8]), Error> {
    if token.len() > max_len {
        return Err(Error::TokenTooLarge);
    }
    let mac_chars = key.algorithm().output_len().saturating_mul(4).div_ceil(3);
    let parts = split(token, Some(mac_chars))?;
    let verified = verify_parts(key, &parts, typ, max_depth, scratch);
    three_segments(&parts, verified)
}

/// [`verify`] after the split.
fn verify_parts<'s>(
    key: &Key,
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
    let header = check_header(
        b64::decode(parts.header, header_buf)?,
        key.algorithm(),
        typ,
        max_depth,
    )?;

    let mut tag = [0u8; MAX_MAC_LEN];
    let tag = match b64::decode(parts.signature, &mut tag) {
        Ok(tag) => tag,
        Err(Error::BufferTooSmall) => return Err(Error::BadSignature),
        Err(e) => return Err(e),
    };
    key.verify(parts.signing_input, tag)?;

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
    use crate::jws::{HeaderParams, untrusted_header};
    use crate::key::Algorithm;

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
            let mut tag = [0u8; MAX_MAC_LEN];
            let n = key.mac(input.as_bytes(), &mut tag);
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
}
