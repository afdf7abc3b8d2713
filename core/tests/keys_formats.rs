//! The key readers (`latchkey_core::keys`) on hand-made inputs and on generated ones:
//! - `data/keys/malformed.json` (written by `data/keys/make_malformed.py`, which names
//!   its sources): DER, PEM, JWK and JWK Set inputs, each with the answer it must get;
//! - properties: no input makes a reader panic, and what parses reads back the same
//!   when written again (material encoded by RustCrypto's `der`/`spki`/`pkcs1` and
//!   `pem-rfc7468`, and as a JWK by `base64ct`, reads as that material; DER that
//!   parses is exactly the DER the material encodes to).

use base64ct::{Base64UrlUnpadded, Encoding};
use der::Encode;
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use latchkey_core::Error;
use latchkey_core::keys::{
    Curve, ED25519_KEY_LEN, JWK_BUFFER_LEN, Jwk, JwkSet, KeyMaterial, KeyType,
    MAX_RSA_EXPONENT_LEN, MAX_RSA_MODULUS_LEN, PEM_BUFFER_LEN,
};
use proptest::prelude::*;
use serde_json::Value;

/// What a reader says: `ok:<kty>` or the error's code.
fn answer(r: Result<KeyMaterial<'_>, Error>) -> String {
    match r {
        Ok(m) => {
            check_shape(&m);
            format!("ok:{}", m.kty().name())
        }
        Err(e) => e.code().to_string(),
    }
}

/// The shape every reader promises (see `KeyMaterial`).
fn check_shape(m: &KeyMaterial<'_>) {
    match *m {
        KeyMaterial::Rsa { n, e } => {
            assert!(n.first().is_some_and(|&b| b != 0) && n.len() <= MAX_RSA_MODULUS_LEN);
            assert!(e.first().is_some_and(|&b| b != 0) && e.len() <= MAX_RSA_EXPONENT_LEN);
        }
        KeyMaterial::Ec { curve, x, y } => {
            assert_eq!((x.len(), y.len()), (curve.field_len(), curve.field_len()));
        }
        KeyMaterial::Ed25519(x) => assert_eq!(x.len(), ED25519_KEY_LEN),
        KeyMaterial::Oct(_) => {}
        _ => panic!("a material this test does not know"),
    }
}

fn spki(input: &[u8]) -> String {
    answer(KeyMaterial::from_spki_der(input))
}

fn pkcs1(input: &[u8]) -> String {
    answer(KeyMaterial::from_pkcs1_der(input))
}

fn pem(input: &[u8]) -> String {
    let mut buf = [0u8; PEM_BUFFER_LEN];
    answer(KeyMaterial::from_pem(input, &mut buf))
}

fn jwk(input: &[u8]) -> String {
    let mut buf = vec![0u8; 4096];
    answer(Jwk::parse(input).and_then(|k| k.material(&mut buf)))
}

/// A set's error, or each key's answer.
fn jwks(input: &[u8]) -> Result<Vec<String>, String> {
    let set = JwkSet::parse(input).map_err(|e| e.code().to_string())?;
    Ok(set
        .keys()
        .map(|k| {
            let mut buf = vec![0u8; 4096];
            answer(k.and_then(|k| k.material(&mut buf)))
        })
        .collect())
}

#[test]
fn hand_made_cases() {
    let path = format!(
        "{}/tests/data/keys/malformed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut wrong = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let format = case["format"].as_str().unwrap();
        let comment = &case["comment"];
        let input = match (case.get("text"), case.get("hex")) {
            (Some(text), None) => text.as_str().unwrap().as_bytes().to_vec(),
            (None, Some(hex)) => {
                let hex = hex.as_str().unwrap();
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect()
            }
            _ => panic!("{case}"),
        };
        let expect = &case["expect"];
        let got = match format {
            "spki" => Value::from(spki(&input)),
            "pkcs1" => Value::from(pkcs1(&input)),
            "pem" => Value::from(pem(&input)),
            "jwk" => Value::from(jwk(&input)),
            "jwks" => match jwks(&input) {
                Ok(keys) => Value::from(keys),
                Err(code) => Value::from(code),
            },
            _ => panic!("{case}"),
        };
        if &got != expect {
            wrong.push(format!("{format}: {comment}: {got}, not {expect}"));
        }
        *counts.entry(format).or_default() += 1;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            ("jwk", 69),
            ("jwks", 13),
            ("pem", 30),
            ("pkcs1", 8),
            ("spki", 53)
        ]
    );
}

/// The DER of a SubjectPublicKeyInfo holding `m`, written by RustCrypto's encoders.
fn to_spki(m: &KeyMaterial<'_>, out: &mut [u8; 1024]) -> Vec<u8> {
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    let mut key = Vec::new();
    let (oid, params_oid) = match *m {
        KeyMaterial::Rsa { .. } => {
            key = to_pkcs1(m);
            (RSA, None)
        }
        KeyMaterial::Ec { curve, x, y } => {
            key.push(4);
            key.extend_from_slice(x);
            key.extend_from_slice(y);
            let named = match curve {
                Curve::P256 => "1.2.840.10045.3.1.7",
                Curve::P384 => "1.3.132.0.34",
                Curve::P521 => "1.3.132.0.35",
                _ => panic!(),
            };
            (EC, Some(ObjectIdentifier::new(named).unwrap()))
        }
        KeyMaterial::Ed25519(x) => {
            key.extend_from_slice(x);
            (ED25519, None)
        }
        _ => panic!("no SPKI for {m:?}"),
    };
    let parameters = match (&params_oid, oid == RSA) {
        (Some(named), _) => {
            Some(AnyRef::new(der::Tag::ObjectIdentifier, named.as_bytes()).unwrap())
        }
        (None, true) => Some(AnyRef::NULL),
        (None, false) => None,
    };
    let spki = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef { oid, parameters },
        subject_public_key: BitStringRef::from_bytes(&key).unwrap(),
    };
    spki.encode_to_slice(out).unwrap().to_vec()
}

/// The DER of a PKCS#1 `RSAPublicKey`, written by `pkcs1`.
fn to_pkcs1(m: &KeyMaterial<'_>) -> Vec<u8> {
    let KeyMaterial::Rsa { n, e } = *m else {
        panic!()
    };
    let key = pkcs1::RsaPublicKeyRef {
        modulus: UintRef::new(n).unwrap(),
        public_exponent: UintRef::new(e).unwrap(),
    };
    let mut out = [0u8; 1024];
    key.encode_to_slice(&mut out).unwrap().to_vec()
}

/// The PEM of `der`, written by `pem-rfc7468`.
fn to_pem(label: &str, der: &[u8]) -> Vec<u8> {
    let mut out = [0u8; 2048];
    let text = pem_rfc7468::encode(label, pem_rfc7468::LineEnding::LF, der, &mut out).unwrap();
    text.as_bytes().to_vec()
}

/// `m` as a JWK, written with `base64ct`.
fn to_jwk(m: &KeyMaterial<'_>) -> String {
    let b = Base64UrlUnpadded::encode_string;
    match *m {
        KeyMaterial::Rsa { n, e } => format!(r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#, b(n), b(e)),
        KeyMaterial::Ec { curve, x, y } => format!(
            r#"{{"kty":"EC","crv":"{}","x":"{}","y":"{}"}}"#,
            curve.name(),
            b(x),
            b(y)
        ),
        KeyMaterial::Ed25519(x) => format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, b(x)),
        KeyMaterial::Oct(k) => format!(r#"{{"kty":"oct","k":"{}"}}"#, b(k)),
        _ => panic!(),
    }
}

/// Owned material, for the strategies.
#[derive(Clone, Debug)]
enum Owned {
    Rsa(Vec<u8>, Vec<u8>),
    Ec(Curve, Vec<u8>, Vec<u8>),
    Ed25519(Vec<u8>),
    Oct(Vec<u8>),
}

impl Owned {
    fn material(&self) -> KeyMaterial<'_> {
        match self {
            Owned::Rsa(n, e) => KeyMaterial::Rsa { n, e },
            Owned::Ec(curve, x, y) => KeyMaterial::Ec {
                curve: *curve,
                x,
                y,
            },
            Owned::Ed25519(x) => KeyMaterial::Ed25519(x),
            Owned::Oct(k) => KeyMaterial::Oct(k),
        }
    }
}

/// An unsigned integer of 1 to `max` bytes without a leading zero byte.
fn int(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (1u8..=255, prop::collection::vec(any::<u8>(), 0..max)).prop_map(|(top, mut rest)| {
        rest.insert(0, top);
        rest
    })
}

fn material() -> impl Strategy<Value = Owned> {
    let curve = prop::sample::select(vec![Curve::P256, Curve::P384, Curve::P521]);
    prop_oneof![
        (int(MAX_RSA_MODULUS_LEN), int(MAX_RSA_EXPONENT_LEN)).prop_map(|(n, e)| Owned::Rsa(n, e)),
        curve.prop_flat_map(|c| {
            let coordinate = prop::collection::vec(any::<u8>(), c.field_len());
            (coordinate.clone(), coordinate).prop_map(move |(x, y)| Owned::Ec(c, x, y))
        }),
        prop::collection::vec(any::<u8>(), ED25519_KEY_LEN).prop_map(Owned::Ed25519),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(Owned::Oct),
    ]
}

/// Every reader on `input`, for their panics and their promises.
fn read_all(input: &[u8]) {
    for r in [spki(input), pkcs1(input), pem(input), jwk(input)] {
        assert!(!r.is_empty());
    }
    let _ = jwks(input);
    // What parses as DER is exactly the DER its material encodes to.
    if let Ok(m) = KeyMaterial::from_spki_der(input) {
        assert_eq!(to_spki(&m, &mut [0; 1024]), input);
    }
    if let Ok(m) = KeyMaterial::from_pkcs1_der(input) {
        assert_eq!(to_pkcs1(&m), input);
    }
    // What parses as a JWK reads back the same from the JWK its material makes.
    let mut buf = vec![0u8; 4096];
    if let Ok(m) = Jwk::parse(input).and_then(|k| k.material(&mut buf)) {
        let again = to_jwk(&m);
        let mut buf2 = vec![0u8; 4096];
        assert_eq!(
            Jwk::parse(again.as_bytes()).unwrap().material(&mut buf2),
            Ok(m)
        );
    }
}

/// The hand-made inputs that read as a key, to mutate (read once).
fn valid_inputs() -> &'static [Vec<u8>] {
    static INPUTS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    INPUTS.get_or_init(read_valid_inputs)
}

fn read_valid_inputs() -> Vec<Vec<u8>> {
    let path = format!(
        "{}/tests/data/keys/malformed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["expect"].as_str().is_some_and(|e| e.starts_with("ok")) || c["expect"].is_array()
        })
        .map(|c| match c.get("text") {
            Some(t) => t.as_str().unwrap().as_bytes().to_vec(),
            None => {
                let hex = c["hex"].as_str().unwrap();
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect()
            }
        })
        .collect()
}

/// A mutation: set a byte, insert one, remove a range, or truncate.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop::sample::select(
        &b"\x00\x01\x02\x03\x04\x05\x06\x30\x7f\x80\x81\x82\xff\"\\{}[],:-_+/=AQ \n"[..],
    );
    let byte = prop_oneof![any::<u8>(), interesting];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Edit::Remove(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(input: &mut Vec<u8>, edit: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *edit {
        Edit::Set(i, b) if !input.is_empty() => {
            let i = at(i, input.len());
            input[i] = b;
        }
        Edit::Insert(i, b) => {
            let i = at(i, input.len() + 1);
            input.insert(i, b);
        }
        Edit::Remove(i, n) if !input.is_empty() => {
            let i = at(i, input.len());
            input.drain(i..(i + n).min(input.len()));
        }
        Edit::Truncate(i) => input.truncate(at(i, input.len() + 1)),
        _ => {}
    }
}

proptest! {
    /// Any bytes: no reader panics, and what reads as a key keeps its promises.
    #[test]
    fn any_bytes(input in prop::collection::vec(any::<u8>(), 0..700)) {
        read_all(&input);
    }

    /// Valid inputs, a few edits away: the same.
    #[test]
    fn edited_keys(which in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..4)) {
        let mut input = which.get(valid_inputs()).clone();
        for e in &edits {
            apply(&mut input, e);
        }
        read_all(&input);
    }

    /// Material written by the peers' encoders (DER, PEM) and as a JWK reads back as
    /// that material.
    #[test]
    fn written_keys_read_back(owned in material()) {
        let m = owned.material();
        let jwk_text = to_jwk(&m);
        let mut buf = [0u8; 4096];
        prop_assert_eq!(Jwk::parse(jwk_text.as_bytes()).and_then(|k| k.material(&mut buf)), Ok(m));
        if m.kty() == KeyType::Oct {
            return Ok(());
        }
        let der = to_spki(&m, &mut [0; 1024]);
        prop_assert_eq!(KeyMaterial::from_spki_der(&der), Ok(m));
        let mut buf = [0u8; PEM_BUFFER_LEN];
        prop_assert_eq!(KeyMaterial::from_pem(&to_pem("PUBLIC KEY", &der), &mut buf), Ok(m));
        if let KeyMaterial::Rsa { .. } = m {
            let der = to_pkcs1(&m);
            prop_assert_eq!(KeyMaterial::from_pkcs1_der(&der), Ok(m));
            let mut buf = [0u8; PEM_BUFFER_LEN];
            prop_assert_eq!(KeyMaterial::from_pem(&to_pem("RSA PUBLIC KEY", &der), &mut buf), Ok(m));
        }
        // The JWK buffer holds every public key; the PEM buffer, every SPKI.
        prop_assert!(Jwk::parse(jwk_text.as_bytes()).unwrap().decoded_len() <= JWK_BUFFER_LEN);
        prop_assert!(der.len() <= PEM_BUFFER_LEN);
    }
}
