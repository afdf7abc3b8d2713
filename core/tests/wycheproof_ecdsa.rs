//! The Wycheproof ECDSA P1363 suites (`data/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json`,
//! `ecdsa_secp384r1_sha384_p1363_test.json`: `r || s`, the JWS encoding) through
//! [`Es256VerifyingKey`] and [`Es384VerifyingKey`]: each group's key from its SEC1
//! uncompressed point, and from its JWK `x` and `y` when the group has a JWK (both
//! must give the same key or the same refusal).
#![cfg(any(feature = "es256", feature = "es384"))]

mod signature_suite;

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_core::Error;
use serde_json::Value;
use signature_suite::{Policy, Totals, run, unhex};

/// Cases where the project's outcome is not the label's, for both curves. None:
/// the `invalid` cases (r or s of 0, n or more, wrong lengths, DER or other
/// encodings, wrong points) are all outside what the verifier takes, and the
/// `valid` ones, including high `s` (RFC 7518 does not ask for low `s`) and the
/// edge-case keys, are signatures the project accepts. This copy holds no
/// `acceptable` case; were one added, the project would refuse it (`accept:
/// false`, with its reason here): a signature that some verifiers refuse is not
/// one an issuer should send.
const POLICY: &[Policy] = &[];

/// The group's key, built both ways where the group has both.
fn key<K: PartialEq + std::fmt::Debug>(
    group: &Value,
    from_sec1: impl Fn(&[u8]) -> Result<K, Error>,
    from_coordinates: impl Fn(&[u8], &[u8]) -> Result<K, Error>,
) -> Result<K, Error> {
    let key = from_sec1(&unhex(group["publicKey"]["uncompressed"].as_str().unwrap()));
    if let Some(jwk) = group.get("publicKeyJwk") {
        let coordinate = |c: &str| Base64UrlUnpadded::decode_vec(jwk[c].as_str().unwrap()).unwrap();
        assert_eq!(
            from_coordinates(&coordinate("x"), &coordinate("y")),
            key,
            "{jwk}"
        );
    }
    key
}

#[cfg(feature = "es256")]
#[test]
fn wycheproof_es256() {
    use latchkey_core::alg::ecdsa::Es256VerifyingKey as K;
    let totals = run(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        |group| key(group, K::from_sec1, K::from_coordinates),
        |key, msg, sig| key.verify(msg, sig),
        POLICY,
    );
    assert_eq!(
        totals,
        Totals {
            valid_accepted: 173,
            invalid_refused: 89,
            refused_for_the_key: 0,
            acceptable: 0,
            by_policy: 0
        }
    );
}

#[cfg(feature = "es384")]
#[test]
fn wycheproof_es384() {
    use latchkey_core::alg::ecdsa::Es384VerifyingKey as K;
    let totals = run(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        |group| key(group, K::from_sec1, K::from_coordinates),
        |key, msg, sig| key.verify(msg, sig),
        POLICY,
    );
    assert_eq!(
        totals,
        Totals {
            valid_accepted: 193,
            invalid_refused: 87,
            refused_for_the_key: 0,
            acceptable: 0,
            by_policy: 0
        }
    );
}
