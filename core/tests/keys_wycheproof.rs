//! The key readers (`latchkey_core::keys`) against Wycheproof (`data/wycheproof/`, the
//! project's copy of C2SP Wycheproof `testvectors_v1/`, commit dac1dd47):
//! - every group's key of the RSA PKCS#1 and PSS, ECDSA P1363 and Ed25519 suites, read
//!   from its `publicKeyDer` (SPKI), `publicKeyPem`, `publicKeyAsn` (PKCS#1, RSA) and
//!   JWK (`publicKeyJwk`, or the RSA suites' `keyJwk`), gives the same material, which
//!   is the group's raw `modulus`/`publicExponent`, `wx`/`wy` or `pk`;
//! - the same keys bound to their algorithm by `Key::from_pem`, `Key::from_der` and
//!   `Key::from_jwk`;
//! - the JWK suite (`json_web_key_test.json`): each group's keys as the readers and
//!   the key constructors see them, then each case end to end: the group's set read
//!   by `KeySet::from_jwks`, its JWS verified through `Verifier::with_keys`
//!   ([`JWK_SUITE`]), with a policy table where the outcome is not the label
//!   ([`JWK_POLICY`]).

use latchkey_core::alg::ecdsa::Es256VerifyingKey;
use latchkey_core::alg::rsa::RsaVerifyingKey;
use latchkey_core::keys::{Curve, JWK_BUFFER_LEN, Jwk, JwkSet, KeyMaterial, PEM_BUFFER_LEN};
use latchkey_core::{Algorithm, ClaimSet, Error, Key, KeySet, Validation, Verifier};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A raw integer as the readers return it: no leading zero bytes.
fn unsigned(s: &str) -> Vec<u8> {
    let b = unhex(s);
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}

/// A raw coordinate at the curve's width: the suites write `wx`/`wy` as DER
/// integers (a sign byte, or leading zeros dropped).
fn coordinate(s: &str, len: usize) -> Vec<u8> {
    let b = unsigned(s);
    let mut out = vec![0; len - b.len()];
    out.extend_from_slice(&b);
    out
}

/// How many of the group's encodings were read; each gave `want`.
fn read_every_way(group: &Value, want: KeyMaterial<'_>) -> usize {
    let ctx = &group["publicKeyDer"];
    let mut ways = 0;
    let der = unhex(group["publicKeyDer"].as_str().unwrap());
    assert_eq!(KeyMaterial::from_spki_der(&der), Ok(want), "SPKI {ctx}");
    ways += 1;

    let mut buf = [0u8; PEM_BUFFER_LEN];
    let pem = group["publicKeyPem"].as_str().unwrap();
    assert_eq!(
        KeyMaterial::from_pem(pem.as_bytes(), &mut buf),
        Ok(want),
        "PEM {ctx}"
    );
    ways += 1;

    if let Some(asn) = group.get("publicKeyAsn") {
        let der = unhex(asn.as_str().unwrap());
        assert_eq!(KeyMaterial::from_pkcs1_der(&der), Ok(want), "PKCS#1 {ctx}");
        ways += 1;
    }

    if let Some(jwk) = group.get("publicKeyJwk").or(group.get("keyJwk")) {
        let text = serde_json::to_string(jwk).unwrap();
        let key = Jwk::parse(text.as_bytes()).unwrap();
        let mut buf = [0u8; JWK_BUFFER_LEN];
        assert_eq!(key.material(&mut buf), Ok(want), "JWK {text}");
        assert_eq!(key.kty(), want.kty());
        assert_eq!(key.curve(), want.curve());
        assert_eq!(
            key.alg().map(|a| a.raw()),
            jwk.get("alg").and_then(Value::as_str)
        );
        ways += 1;
    }
    ways
}

/// (groups, encodings read) of one suite.
fn suite(name: &str, want: impl Fn(&Value) -> (Vec<u8>, Vec<u8>)) -> (usize, usize) {
    let doc = load(name);
    let mut totals = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let (a, b) = want(group);
        let material = match group["publicKey"].get("curve").and_then(Value::as_str) {
            None => KeyMaterial::Rsa { n: &a, e: &b },
            Some("edwards25519") => KeyMaterial::Ed25519(&a),
            Some("secp256r1") => KeyMaterial::Ec {
                curve: Curve::P256,
                x: &a,
                y: &b,
            },
            Some("secp384r1") => KeyMaterial::Ec {
                curve: Curve::P384,
                x: &a,
                y: &b,
            },
            Some(other) => panic!("{other}"),
        };
        totals.0 += 1;
        totals.1 += read_every_way(group, material);
    }
    totals
}

fn rsa(group: &Value) -> (Vec<u8>, Vec<u8>) {
    let key = &group["publicKey"];
    (
        unsigned(key["modulus"].as_str().unwrap()),
        unsigned(key["publicExponent"].as_str().unwrap()),
    )
}

fn ec(len: usize) -> impl Fn(&Value) -> (Vec<u8>, Vec<u8>) {
    move |group| {
        let key = &group["publicKey"];
        (
            coordinate(key["wx"].as_str().unwrap(), len),
            coordinate(key["wy"].as_str().unwrap(), len),
        )
    }
}

#[test]
fn rsa_keys_read_four_ways() {
    let mut totals = (0, 0);
    for name in [
        "rsa_signature_2048_sha256_test.json",
        "rsa_signature_2048_sha384_test.json",
        "rsa_signature_2048_sha512_test.json",
        "rsa_signature_3072_sha256_test.json",
        "rsa_signature_4096_sha256_test.json",
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        "rsa_pss_2048_sha384_mgf1_48_test.json",
    ] {
        let (groups, ways) = suite(name, rsa);
        totals = (totals.0 + groups, totals.1 + ways);
    }
    // Every group has all four encodings.
    assert_eq!(totals, (11, 44));
}

#[test]
fn ec_keys_read_three_ways() {
    // 9 groups of each suite have no JWK: those are read two ways.
    assert_eq!(
        suite("ecdsa_secp256r1_sha256_p1363_test.json", ec(32)),
        (112, 112 * 3 - 9)
    );
    assert_eq!(
        suite("ecdsa_secp384r1_sha384_p1363_test.json", ec(48)),
        (104, 104 * 3 - 9)
    );
}

#[test]
fn ed25519_keys_read_three_ways() {
    let pk = |g: &Value| (unhex(g["publicKey"]["pk"].as_str().unwrap()), Vec::new());
    assert_eq!(suite("ed25519_test.json", pk), (78, 78 * 3));
}

/// One group of the JWK suite. The suite is about keys in use: each case is a JWS
/// to verify with the group's keys. The readers read the keys; the constructors
/// (alg::rsa, alg::ecdsa, `Key::new` for HMAC) check them; `KeySet::from_jwks` binds
/// them to their algorithms and `Verifier::with_keys` picks one and verifies.
struct JwkCase {
    /// The case(s) of the group (one group may hold two).
    tc_ids: &'static [u64],
    /// The label: whether the JWS must verify.
    valid: bool,
    /// Each key of the verifier's set (the group's `public` set, or `private` when it
    /// has none: HMAC keys are secrets either way): `ok:<kty>` or the reader's error.
    read: &'static [&'static str],
    /// Each key read, given to today's constructor for its type: `ok`, the
    /// constructor's error, or `-` when there is none (an `oct` key whose `alg` is
    /// not an HMAC algorithm).
    built: &'static [&'static str],
    /// Each key of the group's `private` set, when it has a `public` one too.
    private: &'static [&'static str],
    /// Each case's outcome end to end, in `tc_ids` order: `ok`, or the error code
    /// of `KeySet::from_jwks` (the whole set refused) or of the verification.
    got: &'static [&'static str],
}

/// The JWK suite, case by case.
const JWK_SUITE: &[JwkCase] = &[
    JwkCase {
        tc_ids: &[1],
        valid: false,
        read: &["ok:oct", "ok:EC"],
        built: &["ok", "ok"],
        private: &[],
        got: &["key-mismatch"], // an HMAC secret beside a public key
    },
    JwkCase {
        tc_ids: &[2, 3],
        valid: true, // tcId 3 (a modified signature) is invalid
        read: &["ok:oct", "ok:oct"],
        built: &["ok", "ok"],
        private: &[],
        got: &["ok", "bad-signature"], // the kid picks the key
    },
    JwkCase {
        tc_ids: &[4],
        valid: false,
        // The second key's `k` ends in stray bits: not strict base64url.
        read: &["ok:oct", "bad-key"],
        built: &["ok"],
        private: &[],
        got: &["bad-key"], // one bad key refuses the set
    },
    JwkCase {
        tc_ids: &[5],
        valid: true,
        read: &["ok:RSA"],
        built: &["ok"],
        private: &["private-key"],
        got: &["ok"],
    },
    JwkCase {
        tc_ids: &[6],
        valid: false,
        read: &["key-not-for-verify"],
        built: &[],
        private: &["private-key"],
        got: &["unknown-key"], // the only key is skipped (use enc)
    },
    JwkCase {
        tc_ids: &[7],
        valid: false,
        read: &["ok:RSA"],
        built: &["ok"],
        private: &["private-key"],
        got: &["ok"], // see JWK_POLICY
    },
    JwkCase {
        tc_ids: &[8],
        valid: false,
        read: &["ok:RSA"],
        built: &["bad-key"], // 1024 bits
        private: &["private-key"],
        got: &["bad-key"],
    },
    JwkCase {
        tc_ids: &[9],
        valid: false,
        read: &["ok:RSA"],
        built: &["bad-key"], // e = 1
        private: &["private-key"],
        got: &["bad-key"],
    },
    JwkCase {
        tc_ids: &[10],
        valid: false,
        read: &["ok:oct"],
        built: &["key-too-short"],
        private: &[],
        got: &["key-too-short"],
    },
    JwkCase {
        tc_ids: &[11],
        valid: false,
        read: &["ok:oct"],
        built: &["key-too-short"],
        private: &[],
        got: &["key-too-short"],
    },
    JwkCase {
        tc_ids: &[12],
        valid: false,
        read: &["ok:oct"],
        built: &["key-too-short"],
        private: &[],
        got: &["key-too-short"],
    },
    JwkCase {
        tc_ids: &[13],
        valid: true,
        read: &["ok:oct"],
        built: &["ok"],
        private: &[],
        got: &["ok"],
    },
    JwkCase {
        tc_ids: &[14],
        valid: true,
        read: &["ok:oct"],
        built: &["ok"],
        private: &[],
        got: &["ok"],
    },
    JwkCase {
        tc_ids: &[15],
        valid: true,
        read: &["ok:oct"],
        built: &["ok"],
        private: &[],
        got: &["ok"],
    },
    JwkCase {
        tc_ids: &[16],
        valid: false,
        read: &["ok:oct"],
        built: &["key-too-short"],
        private: &[],
        got: &["key-too-short"],
    },
    JwkCase {
        tc_ids: &[17],
        valid: false,
        read: &["ok:oct"],
        built: &["key-too-short"],
        private: &[],
        got: &["key-too-short"],
    },
    JwkCase {
        tc_ids: &[18],
        valid: false,
        read: &["ok:oct"],
        built: &["key-too-short"],
        private: &[],
        got: &["key-too-short"],
    },
    JwkCase {
        tc_ids: &[19],
        valid: false,
        read: &["ok:EC"],
        built: &["ok"],
        private: &["private-key"],
        got: &["unsupported-key"], // alg ES521
    },
    JwkCase {
        tc_ids: &[20],
        valid: false,
        read: &["ok:EC"],
        built: &["ok"],
        private: &["private-key"],
        got: &["unsupported-key"], // alg ES224
    },
    JwkCase {
        tc_ids: &[21],
        valid: false,
        read: &["key-not-for-verify"],
        built: &[],
        private: &["private-key"],
        got: &["unknown-key"], // the only key is skipped (use enc)
    },
    JwkCase {
        tc_ids: &[22],
        valid: false,
        read: &["ok:EC"],
        built: &["bad-key"], // the point is not on P-256
        private: &["private-key"],
        got: &["bad-key"],
    },
    JwkCase {
        tc_ids: &[23],
        valid: false,
        read: &["bad-key"], // P-384 with 32-byte coordinates
        built: &[],
        private: &["private-key"],
        got: &["bad-key"],
    },
    JwkCase {
        tc_ids: &[24],
        valid: false,
        read: &["bad-key"], // kty RSA with EC members
        built: &[],
        private: &["private-key"],
        got: &["bad-key"],
    },
    JwkCase {
        tc_ids: &[25],
        valid: false,
        read: &["ok:oct"],
        built: &["-"],
        private: &[],
        got: &["unsupported-key"], // alg A256GCM
    },
    JwkCase {
        tc_ids: &[26],
        valid: false,
        read: &["ok:oct"],
        built: &["-"],
        private: &[],
        got: &["unsupported-key"], // alg A256KW
    },
];

fn code(e: Error) -> String {
    e.code().to_string()
}

/// Reads each key of a set two ways, alone and through [`JwkSet`], which must agree;
/// returns each key's answer and, for those read, the constructor's.
fn read_set(set: &Value) -> (Vec<String>, Vec<String>) {
    let text = serde_json::to_string(set).unwrap();
    let through_set: Vec<Result<Jwk<'_>, Error>> =
        JwkSet::parse(text.as_bytes()).unwrap().keys().collect();
    let mut read = Vec::new();
    let mut built = Vec::new();
    let alone: Vec<String> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| serde_json::to_string(k).unwrap())
        .collect();
    assert_eq!(alone.len(), through_set.len());
    for (text, from_set) in alone.iter().zip(through_set) {
        let key = Jwk::parse(text.as_bytes());
        assert_eq!(
            key.as_ref().map(Jwk::kty).map_err(|e| *e),
            from_set.map(|k| k.kty())
        );
        match key {
            Ok(key) => {
                read.push(format!("ok:{}", key.kty().name()));
                let mut buf = [0u8; JWK_BUFFER_LEN];
                let material = key.material(&mut buf).unwrap();
                built.push(build(material, key.alg().map(|a| a.raw())));
            }
            Err(e) => read.push(code(e)),
        }
    }
    (read, built)
}

/// Today's constructor for the material's type.
fn build(material: KeyMaterial<'_>, alg: Option<&str>) -> String {
    let result = match material {
        KeyMaterial::Rsa { n, e } => RsaVerifyingKey::new(n, e).map(drop),
        KeyMaterial::Ec {
            curve: Curve::P256,
            x,
            y,
        } => Es256VerifyingKey::from_coordinates(x, y).map(drop),
        KeyMaterial::Oct(k) => {
            let alg = match alg {
                Some("HS256") => Algorithm::Hs256,
                Some("HS384") => Algorithm::Hs384,
                Some("HS512") => Algorithm::Hs512,
                _ => return "-".into(),
            };
            Key::new(alg, k).map(drop)
        }
        other => panic!("no constructor in this suite for {other:?}"),
    };
    match result {
        Ok(()) => "ok".into(),
        Err(e) => code(e),
    }
}

/// A case of the JWK suite whose outcome here is not its label, and why.
struct Policy {
    tc_id: u64,
    accept: bool,
    reason: &'static str,
}

const JWK_POLICY: &[Policy] = &[Policy {
    tc_id: 7,
    accept: true,
    reason: "a ROCA-weak RSA-2048 key (CVE-2017-15361, its modulus factorable) with a valid \
             RS256 signature: no check here detects ROCA moduli (a fingerprint test, not a \
             property a verifier can check cheaply); the key passes every rule of this \
             crate, so the token verifies, and refusing such keys is left to key management",
}];

/// The case, end to end: the set bound by `KeySet::from_jwks` (no algorithm pinned:
/// every key of the suite has its own `alg`), the JWS through `Verifier::with_keys`.
fn end_to_end(set: &Value, jws: &str) -> String {
    let text = serde_json::to_string(set).unwrap();
    let keys = match KeySet::<4>::from_jwks(text.as_bytes(), None) {
        Ok(keys) => keys,
        Err(e) => return code(e),
    };
    let verifier = Verifier::with_keys(
        &keys,
        Validation {
            required: ClaimSet::NONE,
            ..Validation::new()
        },
    );
    let mut scratch = [0u8; 1024];
    match verifier.verify_jws(jws.as_bytes(), &mut scratch) {
        Ok(_) => "ok".into(),
        Err(e) => code(e),
    }
}

#[test]
fn jwk_suite() {
    let doc = load("json_web_key_test.json");
    let groups = doc["testGroups"].as_array().unwrap();
    assert_eq!(groups.len(), JWK_SUITE.len());
    let mut used = vec![false; JWK_POLICY.len()];
    let (mut accepted, mut refused) = (0, 0);
    for (group, want) in groups.iter().zip(JWK_SUITE) {
        let tests = group["tests"].as_array().unwrap();
        let tc_ids: Vec<u64> = tests.iter().map(|t| t["tcId"].as_u64().unwrap()).collect();
        assert_eq!(tc_ids, want.tc_ids, "{}", group["comment"]);
        assert_eq!(tests[0]["result"] == "valid", want.valid, "{tc_ids:?}");

        let verifier_set = group.get("public").unwrap_or(&group["private"]);
        let (read, built) = read_set(verifier_set);
        assert_eq!(read, want.read, "{tc_ids:?}");
        assert_eq!(built, want.built, "{tc_ids:?}");
        if group.get("public").is_some() {
            let (private, _) = read_set(&group["private"]);
            assert_eq!(private, want.private, "{tc_ids:?}");
            // Handed the private set, the binding refuses it whole.
            let text = serde_json::to_string(&group["private"]).unwrap();
            assert_eq!(
                KeySet::<4>::from_jwks(text.as_bytes(), None).map(|_| ()),
                Err(Error::PrivateKey),
                "{tc_ids:?}"
            );
        } else {
            assert!(want.private.is_empty());
        }

        let got: Vec<String> = tests
            .iter()
            .map(|t| end_to_end(verifier_set, t["jws"].as_str().unwrap()))
            .collect();
        assert_eq!(got, want.got, "{tc_ids:?}");
        for (t, got) in tests.iter().zip(&got) {
            let id = t["tcId"].as_u64().unwrap();
            let label = t["result"].as_str().unwrap();
            let accept = match JWK_POLICY.iter().position(|p| p.tc_id == id) {
                Some(i) => {
                    used[i] = true;
                    assert_ne!(JWK_POLICY[i].accept, label == "valid", "tcId {id}: stale");
                    JWK_POLICY[i].accept
                }
                None => match label {
                    "valid" => true,
                    "invalid" => false,
                    other => panic!("tcId {id}: label {other:?} needs a policy entry"),
                },
            };
            assert_eq!(got == "ok", accept, "tcId {id}: {got}");
            if accept {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
    }
    assert!(used.iter().all(|u| *u), "policy entries for absent cases");
    assert!(JWK_POLICY.iter().all(|p| !p.reason.is_empty()));
    // Every case decided: 6 accepted (5 valid, tcId 7 by policy), 20 refused.
    assert_eq!((accepted, refused), (6, 20));
}

/// The suites' keys bound to their algorithm from each format.
#[test]
fn keys_bound_from_every_format() {
    let (mut bound, mut refused) = (0, 0);
    for (name, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::Rs256),
        ("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::Ps256),
        ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::Es256),
    ] {
        for group in load(name)["testGroups"].as_array().unwrap() {
            let der = unhex(group["publicKeyDer"].as_str().unwrap());
            let pem = group["publicKeyPem"].as_str().unwrap().as_bytes();
            let mut keys = vec![Key::from_der(alg, &der), Key::from_pem(alg, pem)];
            if let Some(asn) = group.get("publicKeyAsn") {
                keys.push(Key::from_der(alg, &unhex(asn.as_str().unwrap())));
            }
            if let Some(jwk) = group.get("publicKeyJwk").or(group.get("keyJwk")) {
                let text = serde_json::to_string(jwk).unwrap();
                keys.push(Key::from_jwk(text.as_bytes(), Some(alg)));
            }
            // The suites hold e = 3 keys too, outside this crate's rules.
            let e = group["publicKey"].get("publicExponent");
            if e.is_some_and(|e| unsigned(e.as_str().unwrap()) != [1, 0, 1]) {
                for key in keys {
                    assert_eq!(key.map(|_| ()), Err(Error::InvalidKey));
                    refused += 1;
                }
                continue;
            }
            for key in keys {
                assert_eq!(
                    key.map(|k| k.algorithm()),
                    Ok(alg),
                    "{name} {}",
                    group["publicKeyDer"]
                );
                bound += 1;
            }
            // Another family's algorithm, or another curve's, is a mismatch.
            let other = if alg == Algorithm::Es256 {
                Algorithm::Es384
            } else {
                Algorithm::Es256
            };
            assert_eq!(
                Key::from_der(other, &der).map(|_| ()),
                Err(Error::KeyMismatch)
            );
        }
    }
    // RSA: 4 groups of 4 encodings, 2 of them with e = 3; P-256: 112 groups of 3,
    // 9 without a JWK.
    assert_eq!((bound, refused), (2 * 4 + 112 * 3 - 9, 2 * 4));
}
