//! The Wycheproof Ed25519 suite (`data/wycheproof/ed25519_test.json`) through
//! [`Ed25519VerifyingKey`]: each group's key from its raw 32 bytes (and its JWK `x`,
//! which must be the same bytes), each case a strict verification.

mod signature_suite;

use base64ct::{Base64UrlUnpadded, Encoding};
use latchkey_core::alg::eddsa::Ed25519VerifyingKey;
use signature_suite::{Policy, Totals, run, unhex};

/// Cases where the project's outcome is not the label's. None: the suite's
/// `invalid` cases are exactly the non-strict ones (non-canonical S, R not a point,
/// wrong lengths), which strict verification refuses, and this copy holds no
/// `acceptable` case. Were one added (a lenient verifier accepting, say, a
/// small-order R), the project refuses it: one signature per message and key,
/// whoever verifies; it would be listed here with `accept: false`.
const POLICY: &[Policy] = &[];

#[test]
fn wycheproof_ed25519() {
    let totals = run(
        "ed25519_test.json",
        |group| {
            let pk = unhex(group["publicKey"]["pk"].as_str().unwrap());
            let x = group["publicKeyJwk"]["x"].as_str().unwrap();
            assert_eq!(Base64UrlUnpadded::decode_vec(x).unwrap(), pk, "JWK x is pk");
            Ed25519VerifyingKey::from_bytes(&pk)
        },
        |key, msg, sig| key.verify(msg, sig),
        POLICY,
    );
    assert_eq!(
        totals,
        Totals {
            valid_accepted: 88,
            invalid_refused: 63,
            refused_for_the_key: 0,
            acceptable: 0,
            by_policy: 0
        }
    );
}
