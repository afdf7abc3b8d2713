//! Arbitrary claims text, correctly signed, against serde_json both ways:
//! - what the verifier accepts, serde_json reads as the same object: the same
//!   member names (escapes decoded) with the same values, in the same order;
//!   string values decode to the same text through every accessor;
//! - what serde_json reads as an object the verifier accepts too, unless a rule
//!   beyond RFC 8259 refuses it (duplicate names, nesting, member count, claim
//!   types), and then with that rule's error.
//! Tokens whose `exp`, `nbf`, `iat` or `aud` the harness would have to judge are
//! left to the first direction.
#![no_main]

use latchkey_core::{ClaimSet, Error, Key, Algorithm, Validation, Verifier};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

mod common;

const NOW: u64 = 1_700_000_000;
const MAX_DEPTH: u8 = 16;

/// serde_json's reading of `text` as one object: its members in order (names
/// decoded, duplicates kept), or `None` when it is not one JSON object.
fn serde_members(text: &[u8]) -> Option<Vec<(String, Value)>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, Value)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(member) = map.next_entry::<String, Value>()? {
                out.push(member);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let members = de.deserialize_map(Members).ok()?;
    de.end().ok()?;
    Some(members)
}

/// Nesting depth of a value: a scalar 0, an empty or flat array or object 1.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|claims: &[u8]| {
    let key = Key::new(Algorithm::Hs256, common::KEY).unwrap();
    let token = common::token(br#"{"alg":"HS256"}"#, claims);
    let validation = Validation {
        required: ClaimSet::NONE,
        max_token_len: 16 * 1024,
        max_depth: MAX_DEPTH,
        ..Validation::new()
    };
    let verifier = Verifier::new(key, validation);
    let mut scratch = vec![0u8; 16 * 1024];
    let got = verifier.verify(token.as_bytes(), NOW, &mut scratch);
    let serde = serde_members(claims);

    match (&got, &serde) {
        (Ok(c), Some(members)) => {
            // The same members, in order, with the same values.
            let ours: Vec<_> = c.iter().collect();
            assert_eq!(ours.len(), members.len());
            for ((name, value), (want_name, want_value)) in ours.iter().zip(members) {
                let mut buf = vec![0u8; name.raw().len()];
                assert_eq!(name.decode_into(&mut buf).unwrap(), want_name);
                assert!(name.eq_str(want_name));
                assert!(name.chars().eq(want_name.chars()));
                assert_eq!(c.get(want_name), Some(*value));
                let reread: Value = serde_json::from_str(value.raw()).unwrap();
                assert_eq!(&reread, want_value);
                if let (Some(s), Value::String(want)) = (value.as_str(), want_value) {
                    let mut buf = vec![0u8; s.raw().len()];
                    assert_eq!(s.decode_into(&mut buf).unwrap(), want);
                    assert!(s.eq_str(want) && s.chars().eq(want.chars()));
                    assert_eq!(s.as_str().is_some(), !s.raw().contains('\\'));
                }
                // serde_json holds `-0` as a float; `as_i64` reads it as 0.
                if let Some(n) = value.as_i64() {
                    assert_eq!(want_value.as_f64(), Some(n as f64));
                }
                if let Some(n) = want_value.as_i64() {
                    assert_eq!(value.as_i64(), Some(n));
                }
            }
        }
        (Ok(_), None) => {
            // RFC 8259 allows numbers like 1e400 that serde_json refuses to hold.
            let e = serde_json::from_slice::<Value>(claims).unwrap_err();
            assert!(e.to_string().contains("number out of range"), "{e}");
        }
        (Err(e), Some(members)) => {
            let names = |n: &str| members.iter().filter(|(k, _)| k == n).count();
            let judged_elsewhere = ["exp", "nbf", "iat", "aud"].iter().any(|n| names(n) > 0);
            if judged_elsewhere {
                return;
            }
            let duplicates = members.iter().any(|(k, _)| names(k) > 1);
            let too_deep = members.iter().any(|(_, v)| 1 + depth(v) > usize::from(MAX_DEPTH));
            let bad_type = ["iss", "sub", "jti"]
                .iter()
                .any(|n| members.iter().any(|(k, v)| k == n && !v.is_string()));
            let why = match e {
                Error::DuplicateMember => duplicates,
                Error::TooDeep => too_deep,
                Error::TooManyMembers => members.len() > latchkey_core::MAX_MEMBERS,
                Error::InvalidClaim(_) => bad_type,
                _ => false,
            };
            assert!(why, "refused {e:?}, serde_json reads {members:?}");
        }
        (Err(_), None) => {}
    }
});
