//! Published vectors: RFC 7515 A.1, RFC 7520 4.4 (data file) and the Wycheproof
//! JWS suite from `tests/data/wycheproof/` (the project's copy), run at the signature layer.

use std::path::PathBuf;

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_core::{Algorithm, ClaimSet, Error, Key, Validation, Verifier};
use serde_json::Value;

fn key_from_jwk(alg: &str, k: &str) -> Result<Key, Error> {
    let secret = Base64UrlUnpadded::decode_vec(k).expect("JWK k is base64url");
    Key::new(Algorithm::from_name(alg)?, &secret)
}

#[test]
fn rfc_vectors() {
    let data: Value =
        serde_json::from_str(include_str!("data/rfc_vectors.json")).expect("valid data file");
    let vectors = data["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let key = key_from_jwk(v["alg"].as_str().unwrap(), v["k"].as_str().unwrap()).unwrap();
        let token = v["token"].as_str().unwrap().as_bytes();
        let verifier = Verifier::new(key.clone(), Validation::new());
        let mut scratch = [0u8; 512];
        let jws = verifier
            .verify_jws(token, &mut scratch)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            jws.payload,
            v["payload"].as_str().unwrap().as_bytes(),
            "{name}"
        );
        if let Some(kid) = v["kid"].as_str() {
            assert!(jws.header.kid().unwrap().eq_str(kid), "{name}");
        }
        // One flipped signature bit must fail.
        let mut bad = token.to_vec();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let mut scratch = [0u8; 512];
        assert_eq!(
            verifier.verify_jws(&bad, &mut scratch).unwrap_err(),
            Error::BadSignature,
            "{name}"
        );

        if let Some(jwt) = v.get("jwt") {
            let exp = jwt["exp"].as_u64().unwrap();
            let strict = Validation {
                leeway: 0,
                issuer: jwt["iss"].as_str(),
                required: ClaimSet::EXP | ClaimSet::ISS,
                ..Validation::new()
            };
            let verifier = Verifier::new(key, strict);
            let mut scratch = [0u8; 512];
            let claims = verifier.verify(token, exp - 1, &mut scratch).unwrap();
            assert_eq!(claims.exp(), Some(exp as i64));
            assert_eq!(
                claims.get("http://example.com/is_root").unwrap().as_bool(),
                Some(true)
            );
            let mut scratch = [0u8; 512];
            assert_eq!(
                verifier.verify(token, exp, &mut scratch).unwrap_err(),
                Error::Expired
            );
        }
    }
}

fn wycheproof_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof/json_web_signature_test.json")
}

/// Labels in the suite that contradict the data (see its README): 367 and
/// 370 are byte-identical to the valid 357; 372 and 373 carry a `?` inside a
/// base64url segment.
fn expected_valid(tc_id: u64, label: &str) -> bool {
    match tc_id {
        367 | 370 => true,
        372 | 373 => false,
        _ => label == "valid",
    }
}

#[test]
fn wycheproof_jws() {
    let text = std::fs::read_to_string(wycheproof_path())
        .expect("core/tests/data/wycheproof/json_web_signature_test.json");
    let suite: Value = serde_json::from_str(&text).unwrap();
    // Algorithms without an HMAC key are verified with an unrelated HS256 key:
    // whatever they claim, none may pass.
    let foreign = Key::new(Algorithm::Hs256, &[0x5a; 32]).unwrap();
    let (mut passed, mut rejected, mut skipped) = (0, 0, 0);
    for group in suite["testGroups"].as_array().unwrap() {
        let jwk = group.get("private").or(group.get("public")).unwrap();
        let hmac_key = match (jwk["kty"].as_str(), jwk["alg"].as_str()) {
            (Some("oct"), Some(alg)) => {
                Some(key_from_jwk(alg, jwk["k"].as_str().unwrap()).unwrap())
            }
            _ => None,
        };
        let key = hmac_key.clone().unwrap_or_else(|| foreign.clone());
        let verifier = Verifier::new(key, Validation::new());
        for t in group["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let want = expected_valid(id, t["result"].as_str().unwrap());
            // The JSON serialization is not a compact token: feed its text.
            let jws = match &t["jws"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut scratch = [0u8; 8192];
            let got = verifier.verify_jws(jws.as_bytes(), &mut scratch);
            match (hmac_key.is_some(), want, got) {
                (true, true, Ok(_)) => passed += 1,
                (true, false, Err(_)) => rejected += 1,
                (false, true, Err(_)) => skipped += 1, // unsupported algorithm, still rejected
                (false, false, Err(_)) => rejected += 1,
                (_, _, got) => panic!(
                    "tcId {id} ({}): expected valid={want}, got {got:?}",
                    t["comment"]
                ),
            }
        }
    }
    assert_eq!(passed + rejected + skipped, 401);
    // 1 (hs256) + 2 (rfc7520 HS256 groups) + 7 labelled valid in base64, +2 relabelled, -2 relabelled.
    assert_eq!(passed, 10, "HMAC cases accepted");
    assert!(rejected > 300, "rejected {rejected}");
    eprintln!(
        "wycheproof: {passed} valid accepted, {rejected} invalid rejected, {skipped} skipped (unsupported alg, rejected)"
    );
}
