//! The protected header: what a verified token's header hands out, the checks
//! it must pass (the key chosen from `kid`/`alg`, `alg` against the key, `b64`,
//! `crit`, `typ`), and the untrusted look at it for callers that pick keys
//! themselves.
//!
//! Header members that carry or point to keys (`jwk`, `jku`, `x5u`, `x5c`) are
//! never read: the key is the verifier's (RFC 8725 section 3.10 asks never to trust
//! them), so a token carrying them is verified like any other.

use super::split::split;
use crate::json::{self, JsonStr, Object};
use crate::key_set::sealed::Select;
use crate::{Algorithm, Error, Key, b64};

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

/// The header members [`check_header`] reads: alg, b64, crit, typ, kid, cty. No
/// other member is read, whatever it says (`jwk`, `jku`, `x5u`, `x5c` included).
const HEADER_MEMBERS: [u32; 6] = [
    json::key_of(b"alg"),
    json::key_of(b"b64"),
    json::key_of(b"crit"),
    json::key_of(b"typ"),
    json::key_of(b"kid"),
    json::key_of(b"cty"),
];

/// Parses the header, chooses its key from `keys` (by `kid`, else by `alg`, for a
/// key set; the one key otherwise), and checks it against that key: `alg`, then
/// `b64`, `crit`, the members' types and `typ`. One parse, one path for every key
/// source.
// Inlinable into `verify`, which sits in another file (so, in a release build,
// another codegen unit).
#[inline]
pub(super) fn check_header<'a, 'k, K: Select + ?Sized>(
    bytes: &'a [u8],
    keys: &'k K,
    typ: Option<&str>,
    max_depth: u8,
) -> Result<(Header<'a>, &'k Key), Error> {
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
    let key = keys.select(name, kid)?;
    let key_alg = key.algorithm();
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
    Ok((header, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::HeaderParams;

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

    /// Every header member the accessors hand out, from `check_header` and from
    /// `untrusted_header`.
    #[test]
    fn header_accessors() {
        let full = br#"{"alg":"HS256","typ":"JWT","kid":"k1","cty":"lk"}"#;
        let key = Key::new(Algorithm::Hs256, &[7; 32]).unwrap();
        let (h, _) = check_header(full, &key, Some("JWT"), 16).unwrap();
        assert_eq!(h.alg(), Algorithm::Hs256);
        assert_eq!(h.typ().map(JsonStr::raw), Some("JWT"));
        assert_eq!(h.kid().map(JsonStr::raw), Some("k1"));
        assert_eq!(h.cty().map(JsonStr::raw), Some("lk"));
        let (bare, _) = check_header(br#"{"alg":"HS256"}"#, &key, None, 16).unwrap();
        assert!(bare.typ().is_none() && bare.kid().is_none() && bare.cty().is_none());

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
}
