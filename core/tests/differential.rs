//! Differential and property tests: tokens `jsonwebtoken` signs verify here and
//! tokens signed here verify there, for random claims; the base64url decoder
//! agrees with `base64ct`; the JSON validator never accepts what `serde_json`
//! rejects, and reads every object `serde_json` writes (escaped or not) as
//! `serde_json` does.

use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_core::{Algorithm, Error, HeaderParams, Key, Validation, Verifier};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
enum Aud {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct TestClaims {
    sub: String,
    aud: Aud,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    n: i64,
    scope: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const TARGET: &str = "device-7";

fn claims() -> impl Strategy<Value = TestClaims> {
    let word = "[a-z0-9\\-]{1,12}";
    let aud = prop_oneof![
        prop_oneof![Just(TARGET.to_owned()), word.prop_map(String::from)].prop_map(Aud::One),
        prop::collection::vec(
            prop_oneof![Just(TARGET.to_owned()), word.prop_map(String::from)],
            0..4
        )
        .prop_map(Aud::Many),
    ];
    (
        any::<String>(),
        aud,
        120u64..10_000_000,
        prop::option::of(0u64..100_000),
        prop::option::of(0u64..100_000),
        any::<i64>(),
        "[ -~]{0,40}",
    )
        .prop_map(|(sub, aud, ttl, nbf_ago, iat_ago, n, scope)| {
            let now = now();
            TestClaims {
                sub,
                aud,
                exp: now + ttl,
                nbf: nbf_ago.map(|a| now - a),
                iat: iat_ago.map(|a| now - a),
                n,
                scope,
            }
        })
}

fn algorithm() -> impl Strategy<Value = (Algorithm, jsonwebtoken::Algorithm)> {
    prop_oneof![
        Just((Algorithm::Hs256, jsonwebtoken::Algorithm::HS256)),
        Just((Algorithm::Hs384, jsonwebtoken::Algorithm::HS384)),
        Just((Algorithm::Hs512, jsonwebtoken::Algorithm::HS512)),
    ]
}

fn names_target(aud: &Aud) -> bool {
    match aud {
        Aud::One(a) => a == TARGET,
        Aud::Many(v) => v.iter().any(|a| a == TARGET),
    }
}

fn their_validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(alg);
    v.leeway = 0;
    v.set_audience(&[TARGET]);
    v.validate_nbf = true;
    v
}

fn our_validation() -> Validation<'static> {
    Validation {
        leeway: 0,
        audience: Some(TARGET),
        ..Validation::new()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn jsonwebtoken_signs_latchkey_verifies(
        c in claims(),
        (ours, theirs) in algorithm(),
        secret in prop::collection::vec(any::<u8>(), 64..96),
    ) {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(theirs),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
        ).unwrap();
        let verifier = Verifier::new(Key::new(ours, &secret).unwrap(), our_validation());
        let mut scratch = vec![0u8; token.len()];
        let got = verifier.verify(token.as_bytes(), now(), &mut scratch);
        if names_target(&c.aud) {
            let claims = got.unwrap();
            let mut buf = vec![0u8; c.sub.len()];
            prop_assert_eq!(claims.sub().unwrap().decode_into(&mut buf).unwrap(), c.sub.as_str());
            prop_assert_eq!(claims.exp(), Some(c.exp as i64));
            prop_assert_eq!(claims.get("n").unwrap().as_i64(), Some(c.n));
        } else {
            prop_assert_eq!(got.unwrap_err(), Error::WrongAudience);
        }
        // Whatever they sign, our typed read of the same claims agrees with theirs.
        if names_target(&c.aud) {
            let mut scratch = vec![0u8; 2 * token.len()];
            let (_, read) = verifier
                .verify_with::<SmallClaims>(token.as_bytes(), now(), &mut scratch)
                .unwrap();
            prop_assert_eq!(read.n, c.n);
            prop_assert_eq!(read.exp, c.exp);
        }
    }

    #[test]
    fn latchkey_signs_jsonwebtoken_verifies(
        c in claims(),
        (ours, theirs) in algorithm(),
        secret in prop::collection::vec(any::<u8>(), 64..96),
    ) {
        let key = Key::new(ours, &secret).unwrap();
        let mut scratch = vec![0u8; 4096];
        let mut out = vec![0u8; 8192];
        let token = key
            .sign_json(&HeaderParams { typ: Some("JWT"), kid: Some("k1") }, &c, &mut scratch, &mut out)
            .unwrap();
        let got = jsonwebtoken::decode::<TestClaims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(&secret).unwrap(),
            &their_validation(theirs),
        );
        if names_target(&c.aud) {
            let data = got.unwrap();
            prop_assert_eq!(data.claims, c);
            prop_assert_eq!(data.header.kid.as_deref(), Some("k1"));
        } else {
            prop_assert!(got.is_err());
        }
    }

    #[test]
    fn one_changed_byte_never_verifies(
        c in claims(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let key = Key::new(Algorithm::Hs256, &[9; 32]).unwrap();
        let mut scratch = vec![0u8; 4096];
        let mut out = vec![0u8; 8192];
        let token = key.sign_json(&HeaderParams::default(), &c, &mut scratch, &mut out).unwrap();
        let mut bad = token.as_bytes().to_vec();
        let i = pos.index(bad.len());
        prop_assume!(bad[i] != byte);
        bad[i] = byte;
        let verifier = Verifier::new(key.clone(), our_validation());
        let mut scratch = vec![0u8; 8192];
        prop_assert!(verifier.verify(&bad, now(), &mut scratch).is_err());
    }

    #[test]
    fn base64_decoder_agrees_with_base64ct(s in "[A-Za-z0-9_=+/ -]{0,64}") {
        let ours = {
            let key = Key::new(Algorithm::Hs256, &[1; 32]).unwrap();
            // Decode through a JWS payload: valid header and MAC, payload segment `s`.
            let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256"}"#);
            let signing_input = format!("{header}.{s}");
            let mut tmp = [0u8; 64];
            let mac = hmac_tag(&[1; 32], signing_input.as_bytes(), &mut tmp);
            let token = format!("{signing_input}.{}", Base64UrlUnpadded::encode_string(mac));
            let verifier = Verifier::new(key, Validation::new());
            let mut scratch = [0u8; 256];
            verifier.verify_jws(token.as_bytes(), &mut scratch).map(|j| j.payload.to_vec())
        };
        // Strings containing '.' are not generated, so the payload segment is exactly `s`.
        match Base64UrlUnpadded::decode_vec(&s) {
            Ok(bytes) => prop_assert_eq!(ours.unwrap(), bytes),
            Err(_) => prop_assert_eq!(ours.unwrap_err(), Error::InvalidBase64),
        }
    }

    #[test]
    fn json_validator_never_accepts_what_serde_json_rejects(s in "[{}\\[\\]\":,a-c0-9.eE+\\- \\\\u]{0,40}") {
        let key = Key::new(Algorithm::Hs256, &[2; 32]).unwrap();
        let mut out = [0u8; 512];
        let token = key.sign(&HeaderParams::default(), s.as_bytes(), &mut out).unwrap();
        let verifier = Verifier::new(key.clone(), Validation { required: latchkey_core::ClaimSet::NONE, ..Validation::new() });
        let mut scratch = [0u8; 512];
        if verifier.verify(token.as_bytes(), 0, &mut scratch).is_ok() {
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            prop_assert!(v.is_object());
        }
    }

    /// Valid objects with one byte inserted, replaced or removed: near misses are
    /// where a validator's mistakes hide (random text rarely comes close; this
    /// finds the fuzz finding of 2026-11-28, `{"a":Y1]}`, at once).
    #[test]
    fn json_validator_never_accepts_a_mutant_serde_json_rejects(
        v in json_object(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        kind in 0u8..3,
    ) {
        let mut text = serde_json::to_string(&v).unwrap().into_bytes();
        let i = at.index(text.len() + 1);
        match kind {
            0 => text.insert(i, byte),
            1 => if let Some(b) = text.get_mut(i) { *b = byte },
            _ => if i < text.len() { text.remove(i); },
        }
        let key = Key::new(Algorithm::Hs256, &[2; 32]).unwrap();
        let mut out = vec![0u8; 16384];
        let token = key.sign(&HeaderParams::default(), &text, &mut out).unwrap();
        let verifier = Verifier::new(key.clone(), Validation { required: latchkey_core::ClaimSet::NONE, ..Validation::new() });
        let mut scratch = vec![0u8; 16384];
        if verifier.verify(token.as_bytes(), 0, &mut scratch).is_ok() {
            match serde_json::from_slice::<serde_json::Value>(&text) {
                Ok(v) => prop_assert!(v.is_object()),
                // RFC 8259 allows numbers serde_json cannot hold (1e400).
                Err(e) => prop_assert!(e.to_string().contains("number out of range"), "{e}"),
            }
        }
    }

    /// Every object serde_json writes, with some characters of its strings (names
    /// included) rewritten as `\uXXXX` escapes, is accepted and read as serde_json
    /// reads it: the same members in order, names decoded, values equal, strings
    /// decoding to the same text through every accessor.
    #[test]
    fn json_validator_reads_serde_json_objects_as_serde_json_does(
        v in json_object().prop_filter("no registered claim names", |v| {
            v.as_object().unwrap().keys().all(|k| !REGISTERED.contains(&k.as_str()))
        }),
        escapes in any::<u64>(),
    ) {
        let text = escape_some(&serde_json::to_string(&v).unwrap(), escapes);
        let key = Key::new(Algorithm::Hs256, &[3; 32]).unwrap();
        let mut out = vec![0u8; 65536];
        let token = key.sign(&HeaderParams::default(), text.as_bytes(), &mut out).unwrap();
        let validation = Validation {
            required: latchkey_core::ClaimSet::NONE,
            max_token_len: 65536,
            ..Validation::new()
        };
        let verifier = Verifier::new(key.clone(), validation);
        let mut scratch = vec![0u8; 65536];
        let got = verifier.verify(token.as_bytes(), 0, &mut scratch);
        prop_assert!(got.is_ok(), "{text}: {got:?}");
        let claims = got.unwrap();
        // serde_json's reading of the same text (its float parsing is not an exact
        // round trip of the generated value).
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want = doc.as_object().unwrap();
        prop_assert_eq!(claims.iter().count(), want.len());
        for ((name, value), (want_name, want_value)) in claims.iter().zip(want) {
            let mut buf = vec![0u8; name.raw().len()];
            prop_assert_eq!(name.decode_into(&mut buf).unwrap(), want_name.as_str());
            prop_assert!(name.eq_str(want_name) && name.chars().eq(want_name.chars()));
            prop_assert_eq!(claims.get(want_name), Some(value));
            let reread: serde_json::Value = serde_json::from_str(value.raw()).unwrap();
            prop_assert_eq!(&reread, want_value);
            if let serde_json::Value::String(want) = want_value {
                let s = value.as_str().unwrap();
                let mut buf = vec![0u8; s.raw().len()];
                prop_assert_eq!(s.decode_into(&mut buf).unwrap(), want.as_str());
                prop_assert!(s.eq_str(want) && s.chars().eq(want.chars()));
            }
            if let Some(n) = want_value.as_i64() {
                prop_assert_eq!(value.as_i64(), Some(n));
            }
        }
    }
}

/// The claim names the claims layer reads itself (their types are its rules).
const REGISTERED: [&str; 7] = ["exp", "nbf", "iat", "iss", "sub", "jti", "aud"];

/// `json` with the characters of its strings at the set bits of `mask` (taken
/// in turn, cycling) rewritten as `\uXXXX` escapes (surrogate pairs above
/// U+FFFF); escapes already there are kept as they are.
fn escape_some(json: &str, mask: u64) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = json.chars();
    let mut bit = 0u32;
    while let Some(c) = chars.next() {
        if !in_string {
            in_string = c == '"';
            out.push(c);
            continue;
        }
        match c {
            '"' => {
                in_string = false;
                out.push(c);
            }
            '\\' => {
                out.push(c);
                let e = chars.next().unwrap();
                out.push(e);
                if e == 'u' {
                    out.extend(chars.by_ref().take(4));
                }
            }
            c if mask.rotate_right(bit) & 1 == 1 => {
                bit += 1;
                for unit in c.encode_utf16(&mut [0u16; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => {
                bit += 1;
                out.push(c);
            }
        }
    }
    out
}

/// Strings with escapes cannot borrow (`serde-json-core` unescapes them into
/// the spare scratch), so the typed read here takes numbers only.
#[derive(Deserialize)]
struct SmallClaims {
    n: i64,
    exp: u64,
}

fn hmac_tag<'a>(key: &[u8], data: &[u8], out: &'a mut [u8; 64]) -> &'a [u8] {
    use hmac::{Hmac, KeyInit, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    let tag = m.finalize().into_bytes();
    out[..32].copy_from_slice(&tag);
    &out[..32]
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z\\\\\"]{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map(any::<String>(), value, 0..8)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}
