//! The JWS layer (RFC 7515 compact serialization): split a token, decode and check
//! its header, check the MAC, hand back the verified payload bytes; and the
//! reverse, signing any payload into a caller buffer.

use core::str;

use crate::json::{self, JsonStr, Object};
use crate::key::{Algorithm, Key, MAX_MAC_LEN};
use crate::{Error, b64};

/// The three base64url segments of a compact token, not yet trusted.
struct Parts<'t> {
    header: &'t [u8],
    payload: &'t [u8],
    signature: &'t [u8],
    signing_input: &'t [u8],
}

/// Splits at the first and the last dot. Dots in between (more than three
/// segments) are not looked for here: [`three_segments`] reports them.
///
/// With `mac_chars`, the length of the MAC segment the key expects, the last dot
/// is first looked for where that puts it. A dot inside what is then taken for the
/// MAC makes its decode fail, and every failure with a dot in the payload or MAC
/// is `Malformed`; so the result is what the search from the back gives.
fn split(token: &[u8], mac_chars: Option<usize>) -> Result<Parts<'_>, Error> {
    // The header is short and the MAC is at the end: look for the first dot from
    // the front and the last from the back.
    let first = crate::scan::position(token, b'.').ok_or(Error::Malformed)?;
    let expected = mac_chars
        .and_then(|n| token.len().checked_sub(n.saturating_add(1)))
        .filter(|&i| i > first && token.get(i) == Some(&b'.'));
    let last = match expected {
        Some(i) => i,
        None => crate::scan::rposition(token, b'.').ok_or(Error::Malformed)?,
    };
    let header = token.get(..first).ok_or(Error::Malformed)?;
    let signing_input = token.get(..last).ok_or(Error::Malformed)?;
    let payload = signing_input
        .get(first.saturating_add(1)..)
        .ok_or(Error::Malformed)?;
    let signature = token
        .get(last.saturating_add(1)..)
        .ok_or(Error::Malformed)?;
    if first == last || header.is_empty() || signature.is_empty() {
        return Err(Error::Malformed);
    }
    Ok(Parts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// `result` of checking `parts`, unless the payload or the MAC holds a dot: then
/// the token has more than three segments and that is the error, whatever else
/// failed.
///
/// Looked for only when something failed: a payload or MAC with a dot never
/// succeeds (a dot is not base64url, so its decode refuses it), so a success needs
/// no scan and every failure reports exactly what a scan before anything else
/// would have.
fn three_segments<T>(parts: &Parts<'_>, result: Result<T, Error>) -> Result<T, Error> {
    let dot = |segment| crate::scan::contains(segment, b'.');
    match result {
        Err(_) if dot(parts.payload) || dot(parts.signature) => Err(Error::Malformed),
        other => other,
    }
}

/// A verified token's protected header.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    alg: Algorithm,
    typ: Option<JsonStr<'a>>,
    kid: Option<JsonStr<'a>>,
    cty: Option<JsonStr<'a>>,
}

impl<'a> Header<'a> {
    /// The algorithm, which is always the verifying key's.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `typ` member, if present.
    #[must_use]
    pub fn typ(&self) -> Option<JsonStr<'a>> {
        self.typ
    }

    /// The `kid` member, if present.
    #[must_use]
    pub fn kid(&self) -> Option<JsonStr<'a>> {
        self.kid
    }

    /// The `cty` member, if present.
    #[must_use]
    pub fn cty(&self) -> Option<JsonStr<'a>> {
        self.cty
    }
}

/// A verified JWS: its header and the payload bytes the MAC covers.
#[derive(Clone, Copy, Debug)]
pub struct Jws<'a> {
    /// The protected header.
    pub header: Header<'a>,
    /// The decoded payload (any bytes; JSON for a JWT).
    pub payload: &'a [u8],
}

/// The header of a token that has NOT been verified, for choosing a key by `kid`.
///
/// Nothing in it may be trusted: use it only to pick which key to verify with.
#[derive(Clone, Copy, Debug)]
pub struct UntrustedHeader<'a> {
    alg: Option<JsonStr<'a>>,
    kid: Option<JsonStr<'a>>,
    typ: Option<JsonStr<'a>>,
}

impl<'a> UntrustedHeader<'a> {
    /// The claimed `alg` (unverified).
    #[must_use]
    pub fn alg(&self) -> Option<JsonStr<'a>> {
        self.alg
    }

    /// The claimed `kid` (unverified).
    #[must_use]
    pub fn kid(&self) -> Option<JsonStr<'a>> {
        self.kid
    }

    /// The claimed `typ` (unverified).
    #[must_use]
    pub fn typ(&self) -> Option<JsonStr<'a>> {
        self.typ
    }
}

/// Decodes a token's header without verifying anything, to choose a key by `kid`.
///
/// # Errors
/// [`Error::Malformed`], [`Error::InvalidBase64`], [`Error::BufferTooSmall`], or a
/// JSON error for the header.
pub fn untrusted_header<'s>(
    token: &[u8],
    scratch: &'s mut [u8],
) -> Result<UntrustedHeader<'s>, Error> {
    let parts = split(token, None)?;
    if crate::scan::contains(parts.payload, b'.') {
        return Err(Error::Malformed);
    }
    let bytes = b64::decode(parts.header, scratch)?;
    let obj = json::parse_object(bytes, crate::jwt::DEFAULT_MAX_DEPTH)?;
    Ok(UntrustedHeader {
        alg: string_member(&obj, "alg")?,
        kid: string_member(&obj, "kid")?,
        typ: string_member(&obj, "typ")?,
    })
}

fn string_member<'a>(obj: &Object<'a>, name: &str) -> Result<Option<JsonStr<'a>>, Error> {
    json::optional_str(obj.get(name), Error::InvalidHeader)
}

/// Whether a `typ` value names the expected type: media types compare without
/// regard to case, and the `application/` prefix is optional (RFC 7515 4.1.9).
fn typ_matches(actual: JsonStr<'_>, expected: &str) -> bool {
    let mut buf = [0u8; 128];
    // Without escapes the raw text is the decoded one (same length limit).
    let actual = match actual.plain() {
        Some(s) if s.len() <= buf.len() => s,
        _ => match actual.decode_bytes(&mut buf) {
            Ok(s) => s,
            Err(_) => return false,
        },
    };
    strip_application(actual).eq_ignore_ascii_case(strip_application(expected.as_bytes()))
}

fn strip_application(s: &[u8]) -> &[u8] {
    match s.split_at_checked(12) {
        Some((p, rest)) if p.eq_ignore_ascii_case(b"application/") => rest,
        _ => s,
    }
}

/// The header members [`check_header`] reads: alg, b64, crit, typ, kid, cty.
const HEADER_MEMBERS: [u32; 6] = [
    json::key_of(b"alg"),
    json::key_of(b"b64"),
    json::key_of(b"crit"),
    json::key_of(b"typ"),
    json::key_of(b"kid"),
    json::key_of(b"cty"),
];

fn check_header<'a>(
    bytes: &'a [u8],
    key_alg: Algorithm,
    typ: Option<&str>,
    max_depth: u8,
) -> Result<Header<'a>, Error> {
    let mut obj = Object::empty();
    json::parse_into(bytes, max_depth, &mut obj)?;
    let [alg, b64, crit, typ_member, kid, cty] = obj.pick(&HEADER_MEMBERS);
    let string = |v| json::optional_str(v, Error::InvalidHeader);
    let alg = string(alg)?.ok_or(Error::InvalidHeader)?;
    let mut buf = [0u8; 16];
    // Without escapes the raw text is the name (too long a name is wrong either way).
    let name = match alg.plain() {
        Some(name) => name,
        None => alg
            .decode_bytes(&mut buf)
            .map_err(|_| Error::WrongAlgorithm)?,
    };
    // The key fixes the algorithm: the header's is only compared with it, and
    // `none`, in any letter case, has its own error.
    // Byte by byte: `==` on slices would link `memcmp` for five bytes.
    if !name.iter().eq(key_alg.name().as_bytes()) {
        return Err(if name.eq_ignore_ascii_case(b"none") {
            Error::AlgorithmNone
        } else {
            Error::WrongAlgorithm
        });
    }
    let alg = key_alg;
    if let Some(b64) = b64 {
        match b64.as_bool() {
            Some(true) => {}
            Some(false) => return Err(Error::UnencodedPayload),
            None => return Err(Error::InvalidHeader),
        }
    }
    // No extension is understood yet, so any `crit` is refused (RFC 7515 4.1.11).
    if crit.is_some() {
        return Err(Error::CriticalHeader);
    }
    let header = Header {
        alg,
        typ: string(typ_member)?,
        kid: string(kid)?,
        cty: string(cty)?,
    };
    if let Some(expected) = typ {
        match header.typ {
            Some(actual) if typ_matches(actual, expected) => {}
            _ => return Err(Error::WrongType),
        }
    }
    Ok(header)
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
        let mut tag = [0u8; MAX_MAC_LEN];
        let signing_input = w.buf.get(..w.len).ok_or(Error::BufferTooSmall)?;
        let n = self.mac(signing_input, &mut tag);
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

    /// The split the MAC length points at is the one the search from the back makes.
    #[test]
    fn expected_mac_length_splits_as_the_search_from_the_back() {
        for token in [
            &b"aa.bb.cccc"[..],
            b"aa.bb.cc.c",
            b"aa.b.b.ccc",
            b"a.bbcccc",
            b"aa..cccc",
        ] {
            for n in 0..token.len() + 2 {
                let hinted = split(token, Some(n)).map(|p| (p.header, p.payload, p.signature));
                let plain = split(token, None).map(|p| (p.header, p.payload, p.signature));
                match (hinted, plain) {
                    (Ok(h), Ok(p)) if h != p => {
                        // Only when the MAC segment it takes holds a dot, which fails.
                        assert!(h.2.contains(&b'.'), "{token:?} {n}");
                    }
                    (h, p) => assert_eq!(h.is_ok(), p.is_ok(), "{token:?} {n}"),
                }
            }
        }
    }

    #[test]
    fn split_counts_segments() {
        assert_eq!(split(b"a.b", None).err(), Some(Error::Malformed));
        assert_eq!(split(b".b.c", None).err(), Some(Error::Malformed));
        assert_eq!(split(b"a.b.", None).err(), Some(Error::Malformed));
        let p = split(b"a..c", None).unwrap();
        assert_eq!(p.signing_input, b"a.");
        assert!(p.payload.is_empty());
    }

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
                    assert_eq!(jws.header.typ.map(JsonStr::raw), typ);
                    assert_eq!(jws.header.kid.map(JsonStr::raw), Some("k"));
                }
                Err(e) => assert!(!ok && e == Error::WrongType, "{typ:?} {expected:?} {e:?}"),
            }
        }
    }

    #[test]
    fn typ_comparison() {
        extern crate std;
        let t = |raw: &'static str| JsonStr::from_raw(raw.as_bytes());
        assert!(typ_matches(t("JWT"), "jwt"));
        assert!(typ_matches(t("application/at+jwt"), "at+jwt"));
        assert!(typ_matches(t("at+JWT"), "Application/at+jwt"));
        assert!(!typ_matches(t("rt+jwt"), "at+jwt"));
        assert!(!typ_matches(t("JWT"), "at+jwt"));
        // Only `application/` is optional, not any twelve characters.
        assert!(!typ_matches(t("xxxxxxxxxxxxJWT"), "JWT"));
        assert!(!typ_matches(t("JWT"), "xxxxxxxxxxxxJWT"));
        assert!(typ_matches(t("xxxxxxxxxxxxJWT"), "XXXXXXXXXXXXjwt"));
        // Up to 128 bytes, with or without escapes; longer never matches.
        for (len, matches) in [(128, true), (129, false)] {
            let plain = "t".repeat(len);
            let escaped = std::format!("\\u0074{}", "t".repeat(len - 1));
            for raw in [&plain, &escaped] {
                let actual = JsonStr::from_raw(raw.as_bytes());
                assert_eq!(typ_matches(actual, &plain), matches, "{len} {raw}");
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

    /// Every header member the accessors hand out, from `check_header` and from
    /// `untrusted_header`.
    #[test]
    fn header_accessors() {
        let full = br#"{"alg":"HS256","typ":"JWT","kid":"k1","cty":"lk"}"#;
        let h = check_header(full, Algorithm::Hs256, Some("JWT"), 16).unwrap();
        assert_eq!(h.alg(), Algorithm::Hs256);
        assert_eq!(h.typ().map(JsonStr::raw), Some("JWT"));
        assert_eq!(h.kid().map(JsonStr::raw), Some("k1"));
        assert_eq!(h.cty().map(JsonStr::raw), Some("lk"));
        let bare = check_header(br#"{"alg":"HS256"}"#, Algorithm::Hs256, None, 16).unwrap();
        assert!(bare.typ().is_none() && bare.kid().is_none() && bare.cty().is_none());

        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        let mut out = [0u8; 256];
        let hp = HeaderParams {
            typ: Some("at+jwt"),
            kid: Some("k2"),
        };
        let token = key.sign(&hp, b"{}", &mut out).unwrap();
        let mut scratch = [0u8; 128];
        let u = untrusted_header(token.as_bytes(), &mut scratch).unwrap();
        assert_eq!(u.alg().map(JsonStr::raw), Some("HS256"));
        assert_eq!(u.typ().map(JsonStr::raw), Some("at+jwt"));
        assert_eq!(u.kid().map(JsonStr::raw), Some("k2"));
    }

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
