//! The `token verify` contract: exit codes 0/1/2, claims on stdout, one
//! `invalid: <reason-code>: <text>` line on stderr.

use latchkey_core::{Algorithm, HeaderParams, Key};
use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey-server");
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn sign(alg: Algorithm, secret: &[u8], payload: &str) -> String {
    let key = Key::new(alg, secret).unwrap();
    let mut out = [0u8; 2048];
    key.sign(
        &HeaderParams {
            typ: Some("JWT"),
            kid: None,
        },
        payload.as_bytes(),
        &mut out,
    )
    .unwrap()
    .to_owned()
}

fn secret() -> Vec<u8> {
    (0u8..32).collect()
}

fn verify(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(["token", "verify"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn base(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["--alg", "HS256", "--key-hex", KEY_HEX, "--now", "1000"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

fn run(extra: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let args = base(extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    verify(&refs, stdin)
}

fn assert_invalid(result: (i32, String, String), code: &str) {
    let (status, out, err) = result;
    assert_eq!(status, 1, "stderr: {err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with(&format!("invalid: {code}: ")), "{err:?}");
    assert!(
        err.ends_with('\n') && err.len() > format!("invalid: {code}: ").len() + 1,
        "{err:?}"
    );
}

#[test]
fn valid_token_prints_its_claims_as_one_json_object() {
    let t = sign(
        Algorithm::Hs256,
        &secret(),
        r#"{ "sub" : "alice", "exp": 2000,
        "note": "a b" }"#,
    );
    let (code, out, err) = run(&[&t], b"");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "{\"sub\":\"alice\",\"exp\":2000,\"note\":\"a b\"}\n");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sub"], "alice");
}

#[test]
fn stdin_dash_removes_exactly_one_trailing_newline() {
    let t = sign(Algorithm::Hs256, &secret(), r#"{"sub":"a"}"#);
    assert_eq!(run(&["-"], format!("{t}\n").as_bytes()).0, 0);
    assert_eq!(run(&["-"], t.as_bytes()).0, 0);
    assert_invalid(run(&["-"], format!("{t}\n\n").as_bytes()), "bad-base64");
    assert_invalid(run(&["-"], format!(" {t}\n").as_bytes()), "bad-base64");
}

#[test]
fn rejections_have_reason_codes() {
    let s = secret();
    assert_invalid(
        run(&[&sign(Algorithm::Hs256, &s, r#"{"exp":999}"#)], b""),
        "expired",
    );
    assert_invalid(
        run(&[&sign(Algorithm::Hs256, &s, r#"{"nbf":1001}"#)], b""),
        "not-yet-valid",
    );
    assert_invalid(
        run(&[&sign(Algorithm::Hs256, &[9; 32], r#"{"sub":"a"}"#)], b""),
        "bad-signature",
    );
    // --alg is the only algorithm accepted.
    assert_invalid(
        run(&[&sign(Algorithm::Hs512, &[0; 64], r#"{"sub":"a"}"#)], b""),
        "wrong-alg",
    );
    // aud present without --aud: rejected (RFC 7519 4.1.3); with --aud: checked.
    let aud = sign(Algorithm::Hs256, &s, r#"{"aud":"door-1"}"#);
    assert_invalid(run(&[&aud], b""), "wrong-audience");
    assert_eq!(run(&["--aud", "door-1", &aud], b"").0, 0);
    assert_invalid(run(&["--aud", "door-2", &aud], b""), "wrong-audience");
    let iss = sign(Algorithm::Hs256, &s, r#"{"iss":"latchkey"}"#);
    assert_eq!(run(&["--iss", "latchkey", &iss], b"").0, 0);
    assert_invalid(run(&["--iss", "other", &iss], b""), "wrong-issuer");
    // Default: no claim required; --require adds them.
    let bare = sign(Algorithm::Hs256, &s, "{}");
    assert_eq!(run(&[&bare], b"").0, 0);
    assert_invalid(run(&["--require", "exp,jti", &bare], b""), "missing-claim");
    // Default leeway 0; --leeway widens it.
    let just = sign(Algorithm::Hs256, &s, r#"{"exp":1000}"#);
    assert_invalid(run(&[&just], b""), "expired");
    assert_eq!(run(&["--leeway", "5", &just], b"").0, 0);
    assert_invalid(run(&["x.y"], b""), "malformed");
    let none = "eyJhbGciOiJub25lIn0.e30.c2ln";
    assert_invalid(run(&[none], b""), "alg-none");
}

#[test]
fn key_file_is_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.bin");
    std::fs::write(&path, secret()).unwrap();
    let t = sign(Algorithm::Hs256, &secret(), r#"{"sub":"a"}"#);
    let (code, out, _) = verify(
        &[
            "--alg",
            "HS256",
            "--key-file",
            path.to_str().unwrap(),
            "--now",
            "1",
            &t,
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "{\"sub\":\"a\"}\n"));
}

#[test]
fn usage_errors_exit_2() {
    let t = sign(Algorithm::Hs256, &secret(), "{}");
    for args in [
        vec!["--key-hex", KEY_HEX, &t],                   // no --alg
        vec!["--alg", "HS256", &t],                       // no key
        vec!["--alg", "RS256", "--key-hex", KEY_HEX, &t], // unsupported alg
        vec!["--alg", "none", "--key-hex", KEY_HEX, &t],  // none
        vec![
            "--alg",
            "HS256",
            "--key-hex",
            KEY_HEX,
            "--key-file",
            "k",
            &t,
        ], // both keys
        vec!["--alg", "HS256", "--key-hex", "zz", &t],    // bad hex
        vec!["--alg", "HS256", "--key-hex", "0011", &t],  // key too short
        vec!["--alg", "HS256", "--key-hex", KEY_HEX, "--now", "soon", &t],
        vec![
            "--alg",
            "HS256",
            "--key-hex",
            KEY_HEX,
            "--require",
            "foo",
            &t,
        ],
        vec!["--alg", "HS256", "--key-hex", KEY_HEX], // no token
        vec!["--alg", "HS256", "--key-file", "/nonexistent/key", &t],
    ] {
        let (code, out, err) = verify(&args, b"");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(!err.is_empty());
    }
}

// Public-key tokens: signed here with the `rsa`, `p256` and `ed25519-dalek` crates.

use base64ct::{Base64UrlUnpadded, Encoding};
use std::path::{Path, PathBuf};

/// A deterministic generator (splitmix64) for the PSS salt: the test needs a
/// signature, not secrecy.
struct SaltRng(u64);

impl rsa::rand_core::TryRng for SaltRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64().map(|x| (x >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let x = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for SaltRng {}

/// A compact JWS of `header` and `claims`, signed by `sign`.
fn jws(header: &str, claims: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims.as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn core_data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data")
        .join(path)
}

/// The committed RSA-2048 test key (core/tests/data/rsa/README.md).
fn rsa_key() -> rsa::PrivateKey {
    use rsa::pkcs8::DecodePrivateKey;
    let pem = std::fs::read_to_string(core_data("rsa/rsa2048.pem")).unwrap();
    rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap()
}

fn rsa_public_pem(key: &rsa::PrivateKey) -> String {
    use rsa::pkcs8::EncodePublicKey;
    key.to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
}

fn p256_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap()
}

fn p256_jwk(key: &p256::ecdsa::SigningKey, alg: &str) -> String {
    let p = key.verifying_key().to_sec1_point(false);
    let (x, y) = p.as_bytes()[1..].split_at(32);
    format!(
        r#"{{"kty":"EC","crv":"P-256","alg":"{alg}","x":"{}","y":"{}"}}"#,
        b64(x),
        b64(y)
    )
}

fn es256(key: &p256::ecdsa::SigningKey, input: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let sig: p256::ecdsa::Signature = key.sign(input);
    sig.to_bytes().to_vec()
}

/// `token verify` with a key file holding `contents`.
fn with_file(flag: &str, alg: &str, contents: &str, token: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, contents).unwrap();
    verify(
        &[
            "--alg",
            alg,
            flag,
            path.to_str().unwrap(),
            "--now",
            "1000",
            token,
        ],
        b"",
    )
}

const CLAIMS: &str = r#"{"sub":"alice","exp":2000}"#;
const OUT: &str = "{\"sub\":\"alice\",\"exp\":2000}\n";

#[test]
fn rs256_and_ps256_with_a_pem_file() {
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    let key = rsa_key();
    let pem = rsa_public_pem(&key);
    let rs = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let t = jws(r#"{"alg":"RS256"}"#, CLAIMS, |m| rs.sign(m).to_vec());
    assert_eq!(
        with_file("--key-file", "RS256", &pem, &t),
        (0, OUT.into(), String::new())
    );
    let ps = rsa::pss::SigningKey::<sha2::Sha256>::new(key);
    let t = jws(r#"{"alg":"PS256"}"#, CLAIMS, |m| {
        ps.sign_with_rng(&mut SaltRng(1), m).to_vec()
    });
    assert_eq!(with_file("--key-file", "PS256", &pem, &t).0, 0);
    // The key is bound to --alg: a PS256 token under RS256 is refused.
    assert_invalid(with_file("--key-file", "RS256", &pem, &t), "wrong-alg");
    // The same key as hex DER (SPKI).
    use rsa::pkcs8::EncodePublicKey;
    let der = rsa_key().to_public_key().to_public_key_der().unwrap();
    let hex: String = der.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let (code, out, _) = verify(
        &["--alg", "PS256", "--key-hex", &hex, "--now", "1", &t],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, OUT));
}

#[test]
fn es256_with_a_jwk_file() {
    let key = p256_key();
    let t = jws(r#"{"alg":"ES256"}"#, CLAIMS, |m| es256(&key, m));
    let jwk = p256_jwk(&key, "ES256");
    assert_eq!(
        with_file("--key-file", "ES256", &jwk, &t),
        (0, OUT.into(), String::new())
    );
    let other = p256::ecdsa::SigningKey::from_slice(&[8; 32]).unwrap();
    let forged = jws(r#"{"alg":"ES256"}"#, CLAIMS, |m| es256(&other, m));
    assert_invalid(
        with_file("--key-file", "ES256", &jwk, &forged),
        "bad-signature",
    );
}

#[test]
fn eddsa_with_a_jwks_file_picks_by_kid() {
    use ed25519_dalek::Signer;
    let a = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let b = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    let okp = |kid: &str, k: &ed25519_dalek::SigningKey| {
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","use":"sig","x":"{}"}}"#,
            b64(&k.verifying_key().to_bytes())
        )
    };
    let enc = r#"{"kty":"RSA","use":"enc","n":"AQ","e":"AQAB"}"#;
    let set = format!(r#"{{"keys":[{},{enc},{}]}}"#, okp("a", &a), okp("b", &b));
    let sign = |kid: &str, k: &ed25519_dalek::SigningKey| {
        let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#);
        jws(&header, CLAIMS, |m| k.sign(m).to_bytes().to_vec())
    };
    for (kid, key) in [("a", &a), ("b", &b)] {
        let t = sign(kid, key);
        assert_eq!(
            with_file("--jwks-file", "EdDSA", &set, &t),
            (0, OUT.into(), String::new()),
            "{kid}"
        );
    }
    assert_invalid(
        with_file("--jwks-file", "EdDSA", &set, &sign("b", &a)),
        "bad-signature",
    );
    assert_invalid(
        with_file("--jwks-file", "EdDSA", &set, &sign("c", &a)),
        "unknown-key",
    );
    // Without a kid, two EdDSA keys fit.
    let t = jws(r#"{"alg":"EdDSA"}"#, CLAIMS, |m| {
        a.sign(m).to_bytes().to_vec()
    });
    assert_invalid(with_file("--jwks-file", "EdDSA", &set, &t), "ambiguous-key");
}

/// The Wycheproof JWK suite's key of the group `comment`, `public` or `private`.
fn wycheproof_jwk(comment: &str, which: &str) -> String {
    let text = std::fs::read_to_string(core_data("wycheproof/json_web_key_test.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let group = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == comment)
        .unwrap();
    group[which]["keys"][0].to_string()
}

#[test]
fn keys_that_break_the_rules_exit_2_naming_the_rule() {
    let t = jws(r#"{"alg":"ES256"}"#, CLAIMS, |m| es256(&p256_key(), m));
    let rsa_private = std::fs::read_to_string(core_data("rsa/rsa2048.pem")).unwrap();
    let cases = [
        (
            "--key-file",
            "RS256",
            wycheproof_jwk("keysize_too_small", "public"),
            "bad-key: public key is malformed or not allowed (RSA keys need e = 65537 and an odd modulus of 2048 to 4096 bits)",
        ),
        (
            "--key-file",
            "ES256",
            wycheproof_jwk("invalid_point", "public"),
            "bad-key: public key is malformed or not allowed (an EC key must be a point on the algorithm's curve)",
        ),
        (
            "--key-file",
            "ES256",
            wycheproof_jwk("invalid_point", "private"),
            "private-key: a private key was given where a public key belongs (give the public key)",
        ),
        (
            "--key-file",
            "RS256",
            rsa_private.clone(),
            "private-key: a private key was given where a public key belongs (give the public key)",
        ),
        (
            "--key-file",
            "ES384",
            p256_jwk(&p256_key(), "ES256"),
            "key-mismatch: key does not fit the algorithm (type, curve) or cannot sign (the key's type and curve, and a JWK's alg, must be those of --alg)",
        ),
        (
            "--key-file",
            "ES384",
            p256_jwk(&p256_key(), "ES384"),
            "key-mismatch: key does not fit the algorithm (type, curve) or cannot sign (the key's type and curve, and a JWK's alg, must be those of --alg)",
        ),
        (
            "--key-file",
            "ES256",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE".into(),
            "neither a PEM public key (-----BEGIN) nor a JWK ({)",
        ),
        (
            "--jwks-file",
            "ES256",
            format!(r#"{{"keys":[{}]}}"#, p256_jwk(&p256_key(), "ES384")),
            "key-mismatch: ",
        ),
        (
            "--jwks-file",
            "ES256",
            format!(
                r#"{{"keys":[{0},{0}]}}"#,
                p256_jwk(&p256_key(), "ES256").replace("{", r#"{"kid":"k","#)
            ),
            "duplicate-kid: a key with this kid is already in the set (each kid once)",
        ),
        (
            "--jwks-file",
            "ES256",
            r#"{"keys":[{"kty":"oct","k":"AA","use":"enc"}]}"#.into(),
            "no signature key",
        ),
    ];
    for (flag, alg, contents, message) in cases {
        let (code, out, err) = with_file(flag, alg, &contents, &t);
        assert_eq!((code, out.as_str()), (2, ""), "{alg} {contents}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(message), "{alg} {contents}: {err}");
    }
    // A PEM key for HS256 is read as the raw secret: the PEM text is a long secret.
    let (code, _, err) = with_file("--key-file", "HS256", &rsa_private, &t);
    assert_eq!(code, 1, "{err}");
    // The capacity: 17 keys are one too many.
    let keys: Vec<String> = (0..17)
        .map(|i| p256_jwk(&p256_key(), "ES256").replace("{", &format!(r#"{{"kid":"{i}","#)))
        .collect();
    let set = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
    let (code, _, err) = with_file("--jwks-file", "ES256", &set, &t);
    assert_eq!(code, 2);
    assert!(err.contains("key-set-full"), "{err}");
}
