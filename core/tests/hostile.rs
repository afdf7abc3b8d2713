//! The hostile-token table in `data/hostile.json`: each case builds a token
//! (signed with the table's key unless the case breaks the MAC on purpose) and
//! names the exact error the verifier must return.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use latchkey_core::{Algorithm, ClaimSet, Key, Validation, Verifier};
use serde_json::Value;
use sha2::Sha256;

const KEY: &[u8; 32] = b"hostile-table-key-0123456789abcd";
const NOW: u64 = 1_700_000_000;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn claims_text(case: &Value) -> String {
    if let Some(n) = case["claims_pad"].as_u64() {
        return format!(r#"{{"exp":9999999999,"pad":"{}"}}"#, "x".repeat(n as usize));
    }
    if let Some(n) = case["claims_deep"].as_u64() {
        let n = n as usize;
        return format!(
            r#"{{"exp":9999999999,"d":{}{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        );
    }
    if let Some(n) = case["claims_members"].as_u64() {
        let mut s = String::from(r#"{"exp":9999999999"#);
        for i in 1..n {
            s.push_str(&format!(r#","m{i}":{i}"#));
        }
        s.push('}');
        return s;
    }
    case["claims"].as_str().unwrap().to_owned()
}

fn build_token(case: &Value) -> String {
    let header = case["header_segment"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| b64(case["header"].as_str().unwrap().as_bytes()));
    let payload = case["payload_segment"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| b64(claims_text(case).as_bytes()));
    let signing_input = format!("{header}.{payload}");
    let mutate = case["mutate"].as_str().unwrap_or("");
    let key: &[u8] = if mutate == "other-key" {
        b"another-key-0123456789abcdefghij"
    } else {
        KEY
    };
    let mut sig = b64(&mac(key, signing_input.as_bytes()));
    match mutate {
        "drop-signature" => sig.clear(),
        "mac-truncate" => sig.truncate(sig.len() - 3),
        "mac-extend" => sig.push_str("AAA"),
        "mac-huge" => sig = "A".repeat(100),
        "mac-pad" => sig.push('='),
        "mac-noncanonical" => {
            let last = sig.pop().unwrap();
            let idx = ALPHABET.iter().position(|&c| c == last as u8).unwrap();
            sig.push(ALPHABET[idx | 1] as char);
        }
        "mac-flip" => {
            let first = if sig.starts_with('A') { "B" } else { "A" };
            sig.replace_range(0..1, first);
        }
        "mac-space" => sig.insert(5, ' '),
        // Same length, so the last dot is where the key's MAC length points.
        "mac-dot" => sig.replace_range(10..11, "."),
        "mac-dot-end" => {
            sig.pop();
            sig.push('.');
        }
        "two-segments" => return signing_input,
        "four-segments" => return format!("{signing_input}.{sig}.x"),
        "empty" => return String::new(),
        "" | "other-key" => {}
        other => panic!("unknown mutation {other}"),
    }
    format!("{signing_input}.{sig}")
}

fn validation(case: &Value) -> Validation<'_> {
    let v = &case["validation"];
    let mut out = Validation::new();
    if let Some(l) = v["leeway"].as_u64() {
        out.leeway = l;
    }
    out.audience = v["aud"].as_str();
    out.issuer = v["iss"].as_str();
    out.typ = v["typ"].as_str();
    if let Some(n) = v["max_token_len"].as_u64() {
        out.max_token_len = n as usize;
    }
    if let Some(list) = v["required"].as_array() {
        out.required = list.iter().fold(ClaimSet::NONE, |set, c| {
            set | match c.as_str().unwrap() {
                "exp" => ClaimSet::EXP,
                "nbf" => ClaimSet::NBF,
                "iat" => ClaimSet::IAT,
                "iss" => ClaimSet::ISS,
                "aud" => ClaimSet::AUD,
                "sub" => ClaimSet::SUB,
                "jti" => ClaimSet::JTI,
                other => panic!("unknown claim {other}"),
            }
        });
    }
    out
}

#[test]
fn hostile_table() {
    let data: Value = serde_json::from_str(include_str!("data/hostile.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 100);
    let key = Key::new(Algorithm::Hs256, KEY).unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let token = build_token(case);
        let verifier = Verifier::new(key.clone(), validation(case));
        let mut scratch = vec![0u8; case["scratch"].as_u64().unwrap_or(4096) as usize];
        let got = match verifier.verify(token.as_bytes(), NOW, &mut scratch) {
            Ok(_) => "ok".to_owned(),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                assert!(
                    e.code()
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                );
                format!("{e:?}")
            }
        };
        let want = case["expect"].as_str().unwrap();
        if got != want {
            failures.push(format!("{}: want {want}, got {got}", case["name"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_failed_verification_changes_nothing() {
    // The verifier holds no state: a refused token leaves a later valid one unaffected.
    let key = Key::new(Algorithm::Hs256, KEY).unwrap();
    let verifier = Verifier::new(key.clone(), Validation::new());
    let mut out = [0u8; 256];
    let good = key
        .sign(&Default::default(), br#"{"exp":9999999999}"#, &mut out)
        .unwrap()
        .to_owned();
    let mut scratch = [0u8; 256];
    assert!(verifier.verify(b"x.y.z", NOW, &mut scratch).is_err());
    assert!(verifier.verify(good.as_bytes(), NOW, &mut scratch).is_ok());
}
