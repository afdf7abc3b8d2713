//! Published vectors, run at the JWS layer: the RFC tokens of `data/rfc_vectors.json`
//! (RFC 7515 A.1-A.3, RFC 8037 A.4, RFC 7520 4.1-4.4; the file names its sources)
//! and the Wycheproof JWS suite from `data/wycheproof/` (the project's copy), each
//! case through a verifier with its group's key.
//!
//! Keys come from the vectors' JWKs through `Key::from_jwk` (feature `jwk`), the
//! crate's one JWK reader and its binding rule: a key whose `use` is not `sig`, or
//! whose `key_ops` does not name `verify`, is no signature key, and a key is bound
//! to its JWK's `alg` (the RFC vectors' JWKs have none: the vector's `alg` is
//! pinned).
//!
//! In a build without an algorithm's feature its keys cannot be built
//! ([`Error::UnsupportedAlgorithm`]); those cases are counted as skipped and run
//! against an unrelated HS256 key instead, which must refuse them all.

use std::path::PathBuf;

use latchkey_core::{Algorithm, ClaimSet, Error, Key, Validation, Verifier};
use serde_json::Value;

/// The key of `jwk`, bound to `alg` (the RFC vectors' JWKs name none).
fn key_from_jwk(jwk: &Value, alg: &str) -> Result<Key, Error> {
    let alg = Algorithm::from_name(alg)?;
    Key::from_jwk(jwk.to_string().as_bytes(), Some(alg))
}

/// A signature key from a JWK, bound to the JWK's own `alg`.
fn signature_key(jwk: &Value) -> Result<Key, Error> {
    Key::from_jwk(jwk.to_string().as_bytes(), None)
}

/// A key built, or the reason it was not: `Err(None)` when this build leaves its
/// algorithm out.
fn built(key: Result<Key, Error>, alg: &str) -> Result<Key, Option<Error>> {
    match key {
        Err(Error::UnsupportedAlgorithm) => {
            let alg = Algorithm::from_name(alg).unwrap();
            assert!(!alg.is_supported(), "{alg} is built in, yet unsupported");
            Err(None)
        }
        other => other.map_err(Some),
    }
}

#[test]
fn rfc_vectors() {
    let data: Value =
        serde_json::from_str(include_str!("data/rfc_vectors.json")).expect("valid data file");
    let vectors = data["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 8);
    let (mut verified, mut refused, mut skipped) = (0, 0, 0);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let alg = v["alg"].as_str().unwrap();
        let token = v["token"].as_str().unwrap().as_bytes();
        let key = match built(key_from_jwk(&v["jwk"], alg), alg) {
            Err(None) => {
                skipped += 1;
                continue;
            }
            Err(Some(e)) => {
                // Only where the file says the policy refuses it, with that error.
                let code = v["refused"]["error"].as_str();
                assert_eq!(Some(e.code()), code, "{name}: {e}");
                assert!(v["refused"]["reason"].is_string(), "{name}");
                refused += 1;
                continue;
            }
            Ok(key) => key,
        };
        assert!(v.get("refused").is_none(), "{name}: the policy refuses it");
        let verifier = Verifier::new(key.clone(), Validation::new());
        let mut scratch = [0u8; 1024];
        let jws = verifier
            .verify_jws(token, &mut scratch)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            jws.payload,
            v["payload"].as_str().unwrap().as_bytes(),
            "{name}"
        );
        assert_eq!(jws.header.alg().name(), alg, "{name}");
        if let Some(kid) = v["kid"].as_str() {
            assert!(jws.header.kid().unwrap().eq_str(kid), "{name}");
        }
        // One flipped signature bit must fail.
        let mut bad = token.to_vec();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let mut scratch = [0u8; 1024];
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
            let mut scratch = [0u8; 1024];
            let claims = verifier.verify(token, exp - 1, &mut scratch).unwrap();
            assert_eq!(claims.exp(), Some(exp as i64));
            assert_eq!(
                claims.get("http://example.com/is_root").unwrap().as_bool(),
                Some(true)
            );
            let mut scratch = [0u8; 1024];
            assert_eq!(
                verifier.verify(token, exp, &mut scratch).unwrap_err(),
                Error::Expired
            );
        }
        verified += 1;
    }
    // RFC 7520 4.3 (ES512) is refused in every build: no algorithm of this crate
    // takes its P-521 key either.
    let es512 = &vectors[6];
    assert_eq!(es512["name"], "RFC 7520 4.3");
    for alg in [Algorithm::Es256, Algorithm::Es384] {
        assert_eq!(
            key_from_jwk(&es512["jwk"], alg.name()).err(),
            Some(Error::KeyMismatch)
        );
    }
    assert_eq!(refused, 1);
    let all = ["rsa", "sha512", "es256", "eddsa"];
    if cfg!(all(
        feature = "rsa",
        feature = "sha512",
        feature = "es256",
        feature = "eddsa"
    )) {
        assert_eq!((verified, skipped), (7, 0), "with {all:?}");
    }
    eprintln!("rfc vectors: {verified} verified, {refused} refused by policy, {skipped} skipped");
}

fn wycheproof_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof/json_web_signature_test.json")
}

/// A case where the project's outcome is not the suite's label, with the reason.
/// The suite has no `acceptable` label; were one added, the run stops and asks for
/// an entry here.
struct Policy {
    tc_id: u64,
    accept: bool,
    reason: &'static str,
}

const POLICY: &[Policy] = &[
    Policy {
        tc_id: 346,
        accept: false,
        reason: "RFC 7520 4.2's PS384 token under a JWK whose alg is PS256: a key is bound \
                 to its JWK's alg (RFC 8725 3.1), so the token's PS384 is WrongAlgorithm",
    },
    Policy {
        tc_id: 350,
        accept: false,
        reason: "the same PS384 token under the same PS256 JWK (with key_ops): WrongAlgorithm",
    },
    Policy {
        tc_id: 347,
        accept: false,
        reason: "RFC 7520 4.3, ES512 on P-521 (the JWK says alg ES521): not an algorithm of \
                 this crate, so no key is built (UnsupportedKey)",
    },
    Policy {
        tc_id: 351,
        accept: false,
        reason: "the same ES512 token and P-521 JWK (with key_ops): not built (UnsupportedKey)",
    },
    Policy {
        tc_id: 367,
        accept: true,
        reason: "labelled invalid, yet byte-identical to the valid tcId 357 (see the copy's README)",
    },
    Policy {
        tc_id: 370,
        accept: true,
        reason: "labelled invalid, yet byte-identical to the valid tcId 357 (see the copy's README)",
    },
    Policy {
        tc_id: 372,
        accept: false,
        reason: "labelled valid, yet a base64url segment holds a `?` (see the copy's README)",
    },
    Policy {
        tc_id: 373,
        accept: false,
        reason: "labelled valid, yet a base64url segment holds a `?` (see the copy's README)",
    },
];

/// What the suite run did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    /// Labelled valid and accepted.
    valid_accepted: usize,
    /// Labelled invalid and refused.
    invalid_refused: usize,
    /// Of the refused cases, those whose group key was not built (another use,
    /// key_ops without verify, an algorithm this crate does not implement).
    refused_for_the_key: usize,
    /// Outcomes from the policy table instead of the label.
    by_policy: usize,
    /// Cases of an algorithm this build leaves out (run against a foreign key).
    skipped: usize,
}

#[test]
fn wycheproof_jws() {
    let text = std::fs::read_to_string(wycheproof_path())
        .expect("core/tests/data/wycheproof/json_web_signature_test.json");
    let suite: Value = serde_json::from_str(&text).unwrap();
    assert!(POLICY.iter().all(|p| !p.reason.is_empty()));
    let foreign = Verifier::new(
        Key::new(Algorithm::Hs256, &[0x5a; 32]).unwrap(),
        Validation::new(),
    );
    let mut used = vec![false; POLICY.len()];
    let mut totals = Totals::default();
    let mut wrong = Vec::new();
    let mut cases = 0;
    for group in suite["testGroups"].as_array().unwrap() {
        // The public key where the group has one: a private JWK is refused.
        let jwk = group.get("public").or(group.get("private")).unwrap();
        let alg = jwk["alg"].as_str().unwrap_or("");
        let key = built(signature_key(jwk), alg);
        let verifier = key
            .as_ref()
            .ok()
            .map(|k| Verifier::new(k.clone(), Validation::new()));
        for t in group["tests"].as_array().unwrap() {
            cases += 1;
            let id = t["tcId"].as_u64().unwrap();
            let label = t["result"].as_str().unwrap();
            let rule = POLICY.iter().position(|p| p.tc_id == id);
            let accept = match (rule, label) {
                (Some(i), _) => {
                    used[i] = true;
                    assert_ne!(
                        POLICY[i].accept,
                        label == "valid",
                        "tcId {id}: the policy entry agrees with the label; remove it"
                    );
                    POLICY[i].accept
                }
                (None, "valid") => true,
                (None, "invalid") => false,
                (None, other) => panic!("tcId {id}: label {other:?} needs a policy entry"),
            };
            // The JSON serialization is not a compact token: feed its text.
            let jws = match &t["jws"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut scratch = [0u8; 8192];
            let got = match (&verifier, &key) {
                (Some(v), _) => v.verify_jws(jws.as_bytes(), &mut scratch).map(|_| ()),
                (None, Err(Some(e))) => Err(*e),
                (None, _) => {
                    totals.skipped += 1;
                    let got = foreign.verify_jws(jws.as_bytes(), &mut scratch);
                    assert!(
                        got.is_err(),
                        "tcId {id}: accepted by an unrelated HS256 key"
                    );
                    continue;
                }
            };
            match (accept, got) {
                (true, Ok(())) => totals.valid_accepted += usize::from(label == "valid"),
                (false, Err(_)) => {
                    totals.invalid_refused += usize::from(label == "invalid");
                    totals.refused_for_the_key += usize::from(verifier.is_none());
                }
                (_, got) => wrong.push(format!(
                    "tcId {id} ({label}, {}): want accept={accept}{}, got {got:?}",
                    t["comment"],
                    rule.map(|i| format!(" (policy: {})", POLICY[i].reason))
                        .unwrap_or_default()
                )),
            }
            totals.by_policy += usize::from(rule.is_some());
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cases, suite["numberOfTests"].as_u64().unwrap());
    assert_eq!(cases, 401);
    let stale: Vec<u64> = POLICY
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|p| p.0.tc_id)
        .collect();
    assert!(
        stale.is_empty(),
        "policy entries for absent cases {stale:?}"
    );
    eprintln!("wycheproof JWS: {cases} cases, {totals:?}");
    if cfg!(not(any(feature = "rsa", feature = "es256"))) {
        // HMAC only: the HS256 groups, and the keys refused in every build.
        let hmac_only = Totals {
            valid_accepted: 8,
            invalid_refused: 32,
            refused_for_the_key: 6,
            by_policy: 6,
            skipped: 355,
        };
        assert_eq!(totals, hmac_only);
    }
    if cfg!(all(feature = "rsa", feature = "sha512", feature = "es256")) {
        assert_eq!(
            totals,
            Totals {
                valid_accepted: 40,
                invalid_refused: 353,
                refused_for_the_key: 6,
                by_policy: POLICY.len(),
                skipped: 0,
            }
        );
    }
}
