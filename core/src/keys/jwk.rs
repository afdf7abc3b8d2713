//! One JWK (RFC 7517 section 4; `RSA`, `EC` and `oct` members RFC 7518 section 6,
//! `OKP` RFC 8037 section 2), read by core's own JSON reader: the members checked
//! when it is parsed, the base64url members decoded into a caller buffer after.

use core::fmt;

use super::{
    Curve, ED25519_KEY_LEN, KeyMaterial, KeyType, MAX_RSA_EXPONENT_LEN, MAX_RSA_MODULUS_LEN,
};
use crate::json::{Object, optional_str, parse_object};
use crate::{Error, JsonStr, b64};

/// The deepest nesting a JWK may have, the object itself counting as one (its
/// `key_ops` and `x5c` arrays make two; the rest is room for members this reader
/// ignores). A JWK Set may nest two levels more.
pub const MAX_JWK_DEPTH: u8 = 8;

/// The most operations a JWK's `key_ops` may list (RFC 7517 registers eight and
/// forbids duplicates); more is [`Error::InvalidKey`].
pub const MAX_KEY_OPS: usize = 16;

/// The private members of each key type: RSA's (RFC 7518 section 6.3.2), and the
/// `d` of `EC` and `OKP` keys, and of any other asymmetric type. An `oct` key's
/// `k` is its secret, and a symmetric key has nothing else to hide.
const RSA_PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// A base64url member's text, checked, and its decoded length.
#[derive(Clone, Copy, Default)]
struct B64<'a> {
    text: &'a [u8],
    len: usize,
}

/// A JWK, checked: a public key (or an HMAC secret) for verifying signatures,
/// borrowed from its text. Its key material is decoded with [`Jwk::material`].
///
/// What [`Jwk::parse`] reads (RFC 7517, 7518, 8037):
/// - `kty`: `RSA` (`n`, `e`), `EC` (`crv` `P-256`, `P-384` or `P-521`, `x`, `y`),
///   `OKP` (`crv` `Ed25519`, `x`), `oct` (`k`);
/// - `use`, when present, must be `sig`, and `key_ops`, when present, an array of
///   distinct strings, must include `verify`;
/// - `alg` and `kid`, when present, must be strings, handed out as written: the
///   caller binds the key to an algorithm (the JWK's `alg` when present);
/// - the key's members are strict base64url (no padding, no `+` or `/`, no
///   whitespace, no JSON escapes, no stray bits); RSA's `n` and `e` have no
///   leading zero byte (RFC 7518 section 6.3.1: the minimum number of octets);
///   EC coordinates are exactly the curve's length (section 6.2.1.2).
///
/// Any other member is ignored, among them `x5c`, `x5t` and `x5u`: the key is
/// the JWK's own members, never a certificate's. A private key is refused, not
/// stripped to its public part: a verifier that is handed one has been handed a
/// secret by mistake, and saying so is the safer answer.
#[derive(Clone, Copy)]
pub struct Jwk<'a> {
    kty: KeyType,
    curve: Option<Curve>,
    /// `n`, `x` or `k`.
    first: B64<'a>,
    /// `e` or `y`; empty for `OKP` and `oct`.
    second: B64<'a>,
    alg: Option<JsonStr<'a>>,
    kid: Option<JsonStr<'a>>,
}

impl<'a> Jwk<'a> {
    /// Parses and checks one JWK.
    ///
    /// The checks run in this order, so that a JWK Set's keys for other uses are
    /// skippable whatever their type: the JSON; `kty` present; no private member;
    /// `use` and `key_ops` allow verification; `kty` and `crv` supported; the
    /// members.
    ///
    /// # Errors
    /// - the JSON reader's: [`Error::InvalidJson`], [`Error::InvalidUtf8`],
    ///   [`Error::NotAnObject`], [`Error::DuplicateMember`], [`Error::TooDeep`]
    ///   (beyond [`MAX_JWK_DEPTH`]), [`Error::TooManyMembers`],
    ///   [`Error::TokenTooLarge`] (a text over 32 KiB);
    /// - [`Error::PrivateKey`]: a private member (`d`; RSA's `p`, `q`, `dp`, `dq`,
    ///   `qi`, `oth`);
    /// - [`Error::KeyNotForVerify`]: `use` other than `sig`, or `key_ops` without
    ///   `verify`;
    /// - [`Error::UnsupportedKey`]: another `kty`, or another `crv`;
    /// - [`Error::InvalidKey`]: a member missing or of the wrong type, `key_ops`
    ///   with duplicates or more than [`MAX_KEY_OPS`] entries, a key member not
    ///   strict base64url, of the wrong length, or with a leading zero byte.
    pub fn parse(text: &'a [u8]) -> Result<Self, Error> {
        let obj = parse_object(text, MAX_JWK_DEPTH)?;
        Self::from_object(&obj)
    }

    fn from_object(obj: &Object<'a>) -> Result<Self, Error> {
        let kty = string(obj, "kty")?.ok_or(Error::InvalidKey)?;
        let kty = [KeyType::Rsa, KeyType::Ec, KeyType::Okp, KeyType::Oct]
            .into_iter()
            .find(|t| kty.eq_str(t.name()));
        let private: &[&str] = match kty {
            Some(KeyType::Rsa) => &RSA_PRIVATE,
            Some(KeyType::Oct) => &[],
            _ => &["d"],
        };
        if private.iter().any(|name| obj.get(name).is_some()) {
            return Err(Error::PrivateKey);
        }
        if !for_verify(obj)? {
            return Err(Error::KeyNotForVerify);
        }
        let kty = kty.ok_or(Error::UnsupportedKey)?;
        let alg = string(obj, "alg")?;
        let kid = string(obj, "kid")?;
        let (curve, first, second) = match kty {
            KeyType::Rsa => (
                None,
                rsa_int(obj, "n", MAX_RSA_MODULUS_LEN)?,
                rsa_int(obj, "e", MAX_RSA_EXPONENT_LEN)?,
            ),
            KeyType::Ec => {
                let crv = string(obj, "crv")?.ok_or(Error::InvalidKey)?;
                let curve = Curve::from_name(crv).ok_or(Error::UnsupportedKey)?;
                let len = curve.field_len();
                (Some(curve), sized(obj, "x", len)?, sized(obj, "y", len)?)
            }
            KeyType::Okp => {
                let crv = string(obj, "crv")?.ok_or(Error::InvalidKey)?;
                if !crv.eq_str("Ed25519") {
                    return Err(Error::UnsupportedKey);
                }
                (None, sized(obj, "x", ED25519_KEY_LEN)?, B64::default())
            }
            KeyType::Oct => (None, member(obj, "k")?.0, B64::default()),
        };
        Ok(Jwk {
            kty,
            curve,
            first,
            second,
            alg,
            kid,
        })
    }

    /// The key's type (`kty`).
    #[must_use]
    pub const fn kty(&self) -> KeyType {
        self.kty
    }

    /// The curve of an `EC` key; `None` for the others.
    #[must_use]
    pub const fn curve(&self) -> Option<Curve> {
        self.curve
    }

    /// The `alg` member as written, if any, for the caller to bind the key to
    /// (RFC 8725 section 3.1: with `alg`, the key is for that algorithm only).
    #[must_use]
    pub const fn alg(&self) -> Option<JsonStr<'a>> {
        self.alg
    }

    /// The `kid` member as written, if any.
    #[must_use]
    pub const fn kid(&self) -> Option<JsonStr<'a>> {
        self.kid
    }

    /// How many bytes [`Jwk::material`] writes: at most
    /// [`JWK_BUFFER_LEN`](super::JWK_BUFFER_LEN) for a public key, the length of
    /// the secret for an `oct` key.
    #[must_use]
    pub const fn decoded_len(&self) -> usize {
        self.first.len.saturating_add(self.second.len)
    }

    /// Decodes the key's members into the front of `buf` and returns the
    /// material, which borrows from `buf`.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` is shorter than
    /// [`decoded_len`](Self::decoded_len); nothing else can fail here.
    pub fn material<'b>(&self, buf: &'b mut [u8]) -> Result<KeyMaterial<'b>, Error> {
        let (a, b) = buf
            .split_at_mut_checked(self.first.len)
            .ok_or(Error::BufferTooSmall)?;
        let a = decode(self.first, a)?;
        let b = decode(self.second, b)?;
        Ok(match (self.kty, self.curve) {
            (KeyType::Rsa, _) => KeyMaterial::Rsa { n: a, e: b },
            (KeyType::Ec, Some(curve)) => KeyMaterial::Ec { curve, x: a, y: b },
            (KeyType::Okp, _) => KeyMaterial::Ed25519(a),
            // `parse` gives an EC key its curve, so this is `oct`.
            _ => KeyMaterial::Oct(a),
        })
    }
}

/// The key's description: never its members (an `oct` key's are a secret).
impl fmt::Debug for Jwk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("curve", &self.curve)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("decoded_len", &self.decoded_len())
            .finish_non_exhaustive()
    }
}

/// The string member `name`, if present.
fn string<'a>(obj: &Object<'a>, name: &str) -> Result<Option<JsonStr<'a>>, Error> {
    optional_str(obj.get(name), Error::InvalidKey)
}

/// Whether `use` and `key_ops` allow verifying signatures (RFC 7517 sections 4.2
/// and 4.3): `use`, when present, a string that is `sig`; `key_ops`, when
/// present, an array of at most [`MAX_KEY_OPS`] distinct strings of which one is
/// `verify`.
fn for_verify(obj: &Object<'_>) -> Result<bool, Error> {
    let use_sig = string(obj, "use")?.is_none_or(|u| u.eq_str("sig"));
    let Some(ops) = obj.get("key_ops") else {
        return Ok(use_sig);
    };
    let ops = ops.as_array().ok_or(Error::InvalidKey)?;
    let mut verify = false;
    for (i, op) in ops.clone().enumerate() {
        let op = op.as_str().ok_or(Error::InvalidKey)?;
        let repeated = ops
            .clone()
            .take(i)
            .any(|o| o.as_str().is_some_and(|o| o.chars().eq(op.chars())));
        if i >= MAX_KEY_OPS || repeated {
            return Err(Error::InvalidKey);
        }
        verify |= op.eq_str("verify");
    }
    Ok(use_sig && verify)
}

/// The base64url member `name`, required, checked by decoding it a piece at a
/// time into a small stack buffer (nothing is kept): its text, and the first
/// decoded byte.
fn member<'a>(obj: &Object<'a>, name: &str) -> Result<(B64<'a>, Option<u8>), Error> {
    let text = string(obj, name)?.ok_or(Error::InvalidKey)?.raw_bytes();
    let len = b64::decoded_len(text.len()).ok_or(Error::InvalidKey)?;
    let mut first = None;
    let mut piece = [0u8; 48];
    // 64 characters are 48 whole bytes: only the last piece has a tail, whose
    // stray bits `decode` refuses. An escape's backslash is outside the alphabet.
    for chars in text.chunks(64) {
        let bytes = b64::decode(chars, &mut piece).map_err(|_| Error::InvalidKey)?;
        first = first.or(bytes.first().copied());
    }
    Ok((B64 { text, len }, first))
}

/// A member of exactly `len` decoded bytes.
fn sized<'a>(obj: &Object<'a>, name: &str, len: usize) -> Result<B64<'a>, Error> {
    let (m, _) = member(obj, name)?;
    if m.len == len {
        Ok(m)
    } else {
        Err(Error::InvalidKey)
    }
}

/// An RSA integer (RFC 7518 section 6.3.1): not empty, no leading zero byte, at
/// most `max` bytes.
fn rsa_int<'a>(obj: &Object<'a>, name: &str, max: usize) -> Result<B64<'a>, Error> {
    match member(obj, name)? {
        (m, Some(first)) if first != 0 && m.len <= max => Ok(m),
        _ => Err(Error::InvalidKey),
    }
}

/// Decodes a checked member into the front of `buf`.
fn decode<'b>(m: B64<'_>, buf: &'b mut [u8]) -> Result<&'b [u8], Error> {
    b64::decode(m.text, buf).map_err(|e| match e {
        Error::BufferTooSmall => e,
        // Checked when the JWK was parsed.
        _ => Error::InvalidKey,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;
    use std::{format, vec};

    use super::*;
    use crate::keys::JWK_BUFFER_LEN;

    /// RFC 7517 appendix A.1: the first key, an EC P-256 public key.
    const RFC7517_EC: &str = r#"{"kty":"EC","crv":"P-256",
        "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        "use":"enc","kid":"1"}"#;

    /// RFC 7517 appendix A.1: the second key, an RSA public key.
    const RFC7517_RSA: &str = r#"{"kty":"RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;

    /// RFC 8037 appendix A.2: the Ed25519 public key.
    const RFC8037_OKP: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    /// RFC 7515 appendix A.1's HMAC key.
    const RFC7515_OCT: &str = r#"{"kty":"oct",
        "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;

    fn parse(text: &str) -> Result<Jwk<'_>, Error> {
        Jwk::parse(text.as_bytes())
    }

    #[test]
    fn rfc_keys() {
        let mut buf = [0u8; JWK_BUFFER_LEN];
        let rsa = parse(RFC7517_RSA).unwrap();
        assert_eq!(rsa.kty(), KeyType::Rsa);
        assert_eq!(rsa.alg().map(JsonStr::raw), Some("RS256"));
        assert_eq!(rsa.kid().map(JsonStr::raw), Some("2011-04-29"));
        assert_eq!(rsa.decoded_len(), 259);
        let KeyMaterial::Rsa { n, e } = rsa.material(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!((n.len(), n[0], e), (256, 0xd2, &[1, 0, 1][..]));

        let okp = parse(RFC8037_OKP).unwrap();
        assert_eq!(
            (okp.kty(), okp.alg(), okp.kid()),
            (KeyType::Okp, None, None)
        );
        let m = okp.material(&mut buf).unwrap();
        assert!(matches!(m, KeyMaterial::Ed25519(x) if x.len() == 32 && x[0] == 0xd7));

        let oct = parse(RFC7515_OCT).unwrap();
        let m = oct.material(&mut buf).unwrap();
        assert!(matches!(m, KeyMaterial::Oct(k) if k.len() == 64 && k[0] == 0x03));

        // The EC key is for encryption: refused as such.
        assert_eq!(parse(RFC7517_EC).unwrap_err(), Error::KeyNotForVerify);
        let sig = RFC7517_EC.replace("enc", "sig");
        let ec = parse(&sig).unwrap();
        assert_eq!(ec.curve(), Some(Curve::P256));
        let KeyMaterial::Ec { curve, x, y } = ec.material(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(
            (curve, x.len(), y.len(), x[0], y[0]),
            (Curve::P256, 32, 32, 0x30, 0xe0)
        );
    }

    #[test]
    fn buffer_too_small() {
        let rsa = parse(RFC7517_RSA).unwrap();
        for len in [0, 1, 256, 258] {
            let mut buf = vec![0u8; len];
            assert_eq!(rsa.material(&mut buf), Err(Error::BufferTooSmall), "{len}");
        }
        let mut buf = [0u8; 259];
        assert!(rsa.material(&mut buf).is_ok());
    }

    #[test]
    fn use_and_key_ops() {
        let with = |extra: &str| {
            let text = RFC8037_OKP.replace("}", &format!(",{extra}}}"));
            parse(&text).map(|_| ())
        };
        for ok in [
            r#""use":"sig""#,
            r#""use":"\u0073ig""#,
            r#""key_ops":["verify"]"#,
            r#""key_ops":["sign","verify"]"#,
            r#""key_ops":["verify","x-custom"],"use":"sig""#,
        ] {
            assert_eq!(with(ok), Ok(()), "{ok}");
        }
        for (bad, want) in [
            (r#""use":"enc""#, Error::KeyNotForVerify),
            (r#""use":"SIG""#, Error::KeyNotForVerify),
            (r#""key_ops":[]"#, Error::KeyNotForVerify),
            (r#""key_ops":["sign"]"#, Error::KeyNotForVerify),
            (
                r#""key_ops":["verify"],"use":"enc""#,
                Error::KeyNotForVerify,
            ),
            (r#""use":1"#, Error::InvalidKey),
            (r#""use":null"#, Error::InvalidKey),
            (r#""key_ops":"verify""#, Error::InvalidKey),
            (r#""key_ops":["verify",1]"#, Error::InvalidKey),
            (r#""key_ops":["verify","verify"]"#, Error::InvalidKey),
            (r#""key_ops":["verify","v\u0065rify"]"#, Error::InvalidKey),
            (r#""key_ops":["sign","sign"]"#, Error::InvalidKey),
        ] {
            assert_eq!(with(bad), Err(want), "{bad}");
        }
        // At most MAX_KEY_OPS operations.
        let ops = |n: usize| {
            let list: std::vec::Vec<String> = (0..n).map(|i| format!("\"op{i}\"")).collect();
            format!(r#""key_ops":["verify",{}]"#, list.join(","))
        };
        assert_eq!(with(&ops(MAX_KEY_OPS - 1)), Ok(()));
        assert_eq!(with(&ops(MAX_KEY_OPS)), Err(Error::InvalidKey));
    }

    #[test]
    fn private_members_refused() {
        let rsa_private = ["d", "p", "q", "dp", "dq", "qi", "oth"];
        for name in rsa_private {
            let text = RFC7517_RSA.replace("\"e\"", &format!("\"{name}\":\"AQAB\",\"e\""));
            assert_eq!(parse(&text).unwrap_err(), Error::PrivateKey, "{name}");
        }
        let text = RFC8037_OKP.replace("\"x\"", "\"d\":\"AA\",\"x\"");
        assert_eq!(parse(&text).unwrap_err(), Error::PrivateKey);
        // Even on a key for encryption, of an unknown type, or escaped.
        let text = RFC7517_EC.replace("\"x\"", "\"d\":\"AA\",\"x\"");
        assert_eq!(parse(&text).unwrap_err(), Error::PrivateKey);
        assert_eq!(
            parse(r#"{"kty":"foo","d":"AA"}"#).unwrap_err(),
            Error::PrivateKey
        );
        let text = RFC8037_OKP.replace("\"x\"", "\"\\u0064\":\"AA\",\"x\"");
        assert_eq!(parse(&text).unwrap_err(), Error::PrivateKey);
        // `p` is not private in an OKP key, nor `d` in an oct key: ignored.
        let text = RFC8037_OKP.replace("\"x\"", "\"p\":\"AA\",\"x\"");
        assert!(parse(&text).is_ok());
        let text = RFC7515_OCT.replace("\"k\"", "\"d\":\"AA\",\"k\"");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn types_and_curves() {
        for (text, want) in [
            (r#"{"kty":"oct"}"#, Error::InvalidKey),
            (r#"{"x":"AA"}"#, Error::InvalidKey),
            (r#"{"kty":1}"#, Error::InvalidKey),
            (r#"{"kty":"rsa","n":"AQ","e":"AQ"}"#, Error::UnsupportedKey),
            (r#"{"kty":"foo"}"#, Error::UnsupportedKey),
            (r#"{"kty":"EC","x":"AA","y":"AA"}"#, Error::InvalidKey),
            (
                r#"{"kty":"EC","crv":"secp256k1","x":"","y":""}"#,
                Error::UnsupportedKey,
            ),
            (
                r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#,
                Error::UnsupportedKey,
            ),
            (
                r#"{"kty":"OKP","crv":"Ed448","x":"AA"}"#,
                Error::UnsupportedKey,
            ),
            (r#"{"kty":"OKP","x":"AA"}"#, Error::InvalidKey),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#,
                Error::InvalidKey,
            ),
            (r#"{"kty":"oct","k":"AA","alg":1}"#, Error::InvalidKey),
            (r#"{"kty":"oct","k":"AA","kid":null}"#, Error::InvalidKey),
            (r#"{"kty":"oct","k":1}"#, Error::InvalidKey),
            ("[]", Error::NotAnObject),
            (
                r#"{"kty":"oct","k":"AA","kty":"oct"}"#,
                Error::DuplicateMember,
            ),
            (r#"{"kty":"oct","k":"AA""#, Error::InvalidJson),
        ] {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
        // The empty secret is well-formed; the HMAC key constructor refuses it.
        let oct = parse(r#"{"kty":"oct","k":""}"#).unwrap();
        assert_eq!(oct.material(&mut []), Ok(KeyMaterial::Oct(&[])));
        // Depth: MAX_JWK_DEPTH levels, the JWK counting as one.
        let nest = |n: usize| {
            format!(
                r#"{{"kty":"oct","k":"","z":{}{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(parse(&nest(usize::from(MAX_JWK_DEPTH) - 1)).is_ok());
        assert_eq!(
            parse(&nest(usize::from(MAX_JWK_DEPTH))).unwrap_err(),
            Error::TooDeep
        );
    }

    #[test]
    fn strict_members() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let okp = |x: &str| {
            let text = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#);
            parse(&text).map(|k| k.decoded_len())
        };
        assert_eq!(okp(x), Ok(32));
        for bad in [
            format!("{x}="),
            x.replace('_', "/"),
            x.replace('S', "+"),
            format!(" {x}"),
            format!("{}\\n{}", &x[..20], &x[20..]),
            format!("\\u0031{}", &x[1..]),
            // Stray bits in the last character.
            format!("{}p", &x[..42]),
            x[..42].into(),
            format!("{x}AA"),
        ] {
            assert_eq!(okp(&bad), Err(Error::InvalidKey), "{bad}");
        }

        let rsa = |n: &str, e: &str| {
            let text = format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#);
            parse(&text).map(|k| k.decoded_len())
        };
        assert_eq!(rsa("AQ", "AQAB"), Ok(4));
        // A leading zero byte, an empty or a zero integer.
        assert_eq!(rsa("AAE", "AQAB"), Err(Error::InvalidKey));
        assert_eq!(rsa("AQ", "AAEAAQ"), Err(Error::InvalidKey));
        assert_eq!(rsa("", "AQAB"), Err(Error::InvalidKey));
        assert_eq!(rsa("AQ", "AA"), Err(Error::InvalidKey));
        // The longest modulus and exponent, and one byte more.
        let longest = |len: usize| {
            let mut buf = [0u8; 1024];
            String::from(b64::encode(&[0xc5; 600][..len], &mut buf).unwrap())
        };
        assert_eq!(
            rsa(
                &longest(MAX_RSA_MODULUS_LEN),
                &longest(MAX_RSA_EXPONENT_LEN)
            ),
            Ok(JWK_BUFFER_LEN)
        );
        assert_eq!(
            rsa(&longest(MAX_RSA_MODULUS_LEN + 1), "AQAB"),
            Err(Error::InvalidKey)
        );
        assert_eq!(
            rsa("AQ", &longest(MAX_RSA_EXPONENT_LEN + 1)),
            Err(Error::InvalidKey)
        );

        // EC coordinates of exactly the curve's length.
        let ec = |crv: &str, x: usize, y: usize| {
            let text = format!(
                r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"}}"#,
                longest(x),
                longest(y)
            );
            parse(&text).map(|k| k.decoded_len())
        };
        for (crv, len) in [("P-256", 32), ("P-384", 48), ("P-521", 66)] {
            assert_eq!(ec(crv, len, len), Ok(2 * len), "{crv}");
            assert_eq!(ec(crv, len - 1, len), Err(Error::InvalidKey), "{crv}");
            assert_eq!(ec(crv, len, len + 1), Err(Error::InvalidKey), "{crv}");
        }
    }

    /// Members with other names, whatever their values, are ignored.
    #[test]
    fn unknown_members_ignored() {
        let text = RFC8037_OKP.replace(
            "}",
            r#","x5c":["MIIB"],"ext":true,"n":1,"y":{"a":[null]},"alg":"EdDSA"}"#,
        );
        let k = parse(&text).unwrap();
        assert_eq!(k.alg().map(JsonStr::raw), Some("EdDSA"));
    }

    #[test]
    fn debug_shows_no_member() {
        let text = format!("{:?}", parse(RFC7515_OCT).unwrap());
        assert!(!text.contains("AyM1"), "{text}");
        assert!(text.contains("decoded_len: 64"), "{text}");
    }
}
