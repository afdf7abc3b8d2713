//! The Wycheproof RSASSA-PKCS1-v1_5 and RSASSA-PSS suites from `tests/data/wycheproof/`
//! (the project's copy, C2SP commit dac1dd47), run through `latchkey_core::alg::rsa`.
//!
//! Every case must come out as its label says, except the cases in [`POLICY`], where
//! this project's rules differ from the label (each with its reason); `acceptable`
//! cases must all be in that table, saying which way they go. Keys come from each
//! group's SubjectPublicKeyInfo DER, parsed with `spki` and `pkcs1` here in the test,
//! as a caller would.

use std::path::PathBuf;

use latchkey_core::Error;
use latchkey_core::alg::rsa::{RsaHash, RsaVerifyingKey};
use serde_json::Value;
use spki::SubjectPublicKeyInfoRef;
use spki::der::Decode;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scheme {
    Pkcs1v15,
    Pss,
}

/// One suite file: its scheme and hash, and the totals it must produce, so that a
/// run which skips cases fails.
struct Suite {
    file: &'static str,
    scheme: Scheme,
    hash: RsaHash,
    /// Test cases in the file.
    cases: usize,
    /// Signatures accepted.
    accepted: usize,
}

const SUITES: [Suite; 7] = [
    Suite {
        file: RS256_2048,
        scheme: Scheme::Pkcs1v15,
        hash: RsaHash::Sha256,
        cases: 259,
        accepted: 7,
    },
    Suite {
        file: RS384_2048,
        scheme: Scheme::Pkcs1v15,
        hash: RsaHash::Sha384,
        cases: 258,
        accepted: 7,
    },
    Suite {
        file: RS512_2048,
        scheme: Scheme::Pkcs1v15,
        hash: RsaHash::Sha512,
        cases: 259,
        accepted: 7,
    },
    Suite {
        file: RS256_3072,
        scheme: Scheme::Pkcs1v15,
        hash: RsaHash::Sha256,
        cases: 259,
        accepted: 7,
    },
    Suite {
        file: RS256_4096,
        scheme: Scheme::Pkcs1v15,
        hash: RsaHash::Sha256,
        cases: 258,
        accepted: 7,
    },
    Suite {
        file: "rsa_pss_2048_sha256_mgf1_32_test.json",
        scheme: Scheme::Pss,
        hash: RsaHash::Sha256,
        cases: 108,
        accepted: 63,
    },
    Suite {
        file: "rsa_pss_2048_sha384_mgf1_48_test.json",
        scheme: Scheme::Pss,
        hash: RsaHash::Sha384,
        cases: 141,
        accepted: 95,
    },
];

/// What becomes of a case.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// The signature verifies.
    Accepted,
    /// The signature is refused with `Error::BadSignature`.
    Refused,
    /// The key is refused when built (`Error::InvalidKey`), so no signature under it verifies.
    KeyRefused,
}

const RS256_2048: &str = "rsa_signature_2048_sha256_test.json";
const RS384_2048: &str = "rsa_signature_2048_sha384_test.json";
const RS512_2048: &str = "rsa_signature_2048_sha512_test.json";
const RS256_3072: &str = "rsa_signature_3072_sha256_test.json";
const RS256_4096: &str = "rsa_signature_4096_sha256_test.json";

/// `acceptable` (tcId 8 of each PKCS#1 file): a DigestInfo without the NULL
/// parameters. The expected encoding is built whole and compared, never parsed, so
/// a DigestInfo other than the RFC 8017 9.2 one is refused.
const NO_NULL: &str = "acceptable, refused: DigestInfo without NULL";
/// `valid` signatures under e = 3 keys: only e = 65537 is accepted (issue 15), so the
/// key itself is refused and nothing verifies under it.
const E3: &str = "valid, refused: the key has e = 3";

/// Every case whose outcome differs from its label, and every `acceptable` case:
/// (file, tcId, outcome, reason).
const POLICY: &[(&str, u64, Outcome, &str)] = &[
    (RS256_2048, 8, Outcome::Refused, NO_NULL),
    (RS384_2048, 8, Outcome::Refused, NO_NULL),
    (RS512_2048, 8, Outcome::Refused, NO_NULL),
    (RS256_3072, 8, Outcome::Refused, NO_NULL),
    (RS256_4096, 8, Outcome::Refused, NO_NULL),
    (RS256_2048, 258, Outcome::KeyRefused, E3),
    (RS256_2048, 259, Outcome::KeyRefused, E3),
    (RS512_2048, 259, Outcome::KeyRefused, E3),
    (RS256_3072, 259, Outcome::KeyRefused, E3),
];

fn policy(file: &str, id: u64) -> Option<(Outcome, &'static str)> {
    POLICY
        .iter()
        .find(|(f, i, _, _)| *f == file && *i == id)
        .map(|&(_, _, outcome, reason)| (outcome, reason))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hash_name(hash: RsaHash) -> &'static str {
    match hash {
        RsaHash::Sha256 => "SHA-256",
        RsaHash::Sha384 => "SHA-384",
        RsaHash::Sha512 => "SHA-512",
    }
}

/// The group's key, from its SubjectPublicKeyInfo DER; the modulus is checked against
/// the group's hex `n` (which carries a sign byte) on the way.
fn group_key(group: &Value) -> Result<RsaVerifyingKey, Error> {
    let der = hex(group["publicKeyDer"].as_str().expect("publicKeyDer"));
    let spki = SubjectPublicKeyInfoRef::from_der(&der).expect("SPKI DER");
    assert_eq!(spki.algorithm.oid, pkcs1::ALGORITHM_OID);
    let bits = spki.subject_public_key.as_bytes().expect("whole bytes");
    let key = pkcs1::RsaPublicKeyRef::from_der(bits).expect("RSAPublicKey DER");
    let n = key.modulus.as_bytes();
    let e = key.public_exponent.as_bytes();
    let hex_n = hex(group["publicKey"]["modulus"].as_str().expect("modulus"));
    assert_eq!(hex_n.strip_prefix(&[0]).unwrap_or(&hex_n), n);
    RsaVerifyingKey::new(n, e)
}

#[test]
fn wycheproof_rsa() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wycheproof");
    let mut used_policy = 0;
    let mut total = 0;
    for suite in &SUITES {
        let text = std::fs::read_to_string(dir.join(suite.file)).expect("suite file");
        let data: Value = serde_json::from_str(&text).expect("suite JSON");
        let (mut cases, mut accepted) = (0, 0);
        for group in data["testGroups"].as_array().expect("testGroups") {
            assert_eq!(group["sha"], hash_name(suite.hash), "{}", suite.file);
            if suite.scheme == Scheme::Pss {
                // RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash.
                assert_eq!(group["mgf"], "MGF1");
                assert_eq!(group["mgfSha"], group["sha"]);
                let h_len = match suite.hash {
                    RsaHash::Sha256 => 32,
                    RsaHash::Sha384 => 48,
                    RsaHash::Sha512 => 64,
                };
                assert_eq!(group["sLen"], h_len);
            }
            let key = group_key(group);
            if let Ok(key) = &key {
                assert_eq!(u64::from(key.modulus_bits()), group["keySize"]);
            }
            for case in group["tests"].as_array().expect("tests") {
                let id = case["tcId"].as_u64().expect("tcId");
                let label = case["result"].as_str().expect("result");
                let msg = hex(case["msg"].as_str().expect("msg"));
                let sig = hex(case["sig"].as_str().expect("sig"));
                let mut what = format!("{} tcId {id} ({label}: {})", suite.file, case["comment"]);
                let expected = match (policy(suite.file, id), label) {
                    (Some((outcome, reason)), _) => {
                        used_policy += 1;
                        what = format!("{what}, policy: {reason}");
                        outcome
                    }
                    (None, "valid") => Outcome::Accepted,
                    (None, "invalid") => Outcome::Refused,
                    (None, other) => panic!("{what}: `{other}` is not in the policy table"),
                };
                let got = match &key {
                    Err(Error::InvalidKey) => Outcome::KeyRefused,
                    Err(e) => panic!("{what}: key refused with {e:?}"),
                    Ok(key) => match suite.scheme {
                        Scheme::Pkcs1v15 => key.verify_pkcs1v15(suite.hash, &msg, &sig),
                        Scheme::Pss => key.verify_pss(suite.hash, &msg, &sig),
                    }
                    .map_or_else(
                        |e| {
                            assert_eq!(e, Error::BadSignature, "{what}");
                            Outcome::Refused
                        },
                        |()| Outcome::Accepted,
                    ),
                };
                assert_eq!(got, expected, "{what}");
                cases += 1;
                accepted += usize::from(got == Outcome::Accepted);
            }
        }
        assert_eq!(data["numberOfTests"], cases, "{}", suite.file);
        assert_eq!(
            (cases, accepted),
            (suite.cases, suite.accepted),
            "{}",
            suite.file
        );
        total += cases;
    }
    // Every table entry was met once, and nothing was skipped.
    assert_eq!(used_policy, POLICY.len());
    assert_eq!(total, 1542);
}
