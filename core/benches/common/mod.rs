//! The benchmark tokens and the three verifiers compared on them, shared by
//! `benches/verify.rs` (wall clock) and `examples/callgrind.rs` (instructions), so
//! both measure exactly the same bytes under exactly the same policy.
//!
//! Every token is signed by latchkey-core and checked to verify with all three
//! before anything is measured.

use base64ct::Encoding;
use hmac::{Hmac, KeyInit, Mac};
use latchkey_core::{Algorithm, HeaderParams, Key, Validation, Verifier};
use serde::Deserialize;
use sha2::Sha256;

/// The HS256 secret of every benchmark token (public test material, not a secret).
pub const SECRET: &[u8] = b"latchkey benchmark key: DEVELOPMENT ONLY";
/// `iat` and `nbf` of every token.
pub const IAT: u64 = 1_700_000_000;
/// `exp` of every token: far in the future, because `jsonwebtoken` reads the system clock.
pub const EXP: u64 = 4_000_000_000;
/// The time latchkey-core is given (caller-supplied time; any instant between `IAT` and `EXP`).
pub const NOW: u64 = 1_800_000_000;
/// Scratch for latchkey-core: more than 3/4 of the largest token.
pub const SCRATCH_LEN: usize = 2048;

/// One benchmark token.
pub struct BenchToken {
    /// `short`, `typical` or `large`.
    pub name: &'static str,
    /// The compact JWS.
    pub token: String,
}

impl BenchToken {
    /// `header.payload`: the bytes the MAC covers.
    pub fn signing_input(&self) -> &[u8] {
        let end = self.token.rfind('.').unwrap_or(0);
        &self.token.as_bytes()[..end]
    }
}

/// Claims JSON of about 50 bytes (token about 150 bytes).
fn short_claims() -> String {
    format!(r#"{{"sub":"alice","iat":{IAT},"exp":{EXP}}}"#)
}

/// The claims Flask-JWT-Extended puts in an access token, in its member order
/// (`fresh, iat, jti, type, sub, nbf, csrf, exp`; token about 330 bytes).
fn typical_claims() -> String {
    format!(
        concat!(
            r#"{{"fresh":false,"iat":{iat},"jti":"0f6e0c1a-6a3f-4d86-9b5e-2f0c9d7a1b34","#,
            r#""type":"access","sub":"alice","nbf":{iat},"#,
            r#""csrf":"9b7c5a2e-4d1f-4e8a-b3c6-1a2b3c4d5e6f","exp":{exp}}}"#
        ),
        iat = IAT,
        exp = EXP
    )
}

/// The typical claims plus a nested profile and a long permission list (token
/// about 2 KB): strings, arrays, nesting depth 3.
fn large_claims() -> String {
    let mut perms = Vec::new();
    let mut n = 0;
    // Grow the list until the token is about 2 KB (payload ~1.45 KB of JSON).
    while perms.iter().map(|p: &String| p.len() + 3).sum::<usize>() < 1050 {
        perms.push(format!("device:door-{n:02}:open"));
        n += 1;
    }
    let perms = perms
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        concat!(
            r#"{{"fresh":false,"iat":{iat},"jti":"0f6e0c1a-6a3f-4d86-9b5e-2f0c9d7a1b34","#,
            r#""type":"access","sub":"alice","nbf":{iat},"#,
            r#""profile":{{"name":"Alice Example","email":"alice@example.com","#,
            r#""groups":["staff","building-a",{{"site":"north","floor":3}}]}},"#,
            r#""perms":[{perms}],"#,
            r#""csrf":"9b7c5a2e-4d1f-4e8a-b3c6-1a2b3c4d5e6f","exp":{exp}}}"#
        ),
        iat = IAT,
        exp = EXP,
        perms = perms
    )
}

/// The latchkey-core key for [`SECRET`].
pub fn key() -> Key {
    Key::new(Algorithm::Hs256, SECRET).expect("benchmark key is long enough")
}

/// The three benchmark tokens, header `{"alg":"HS256","typ":"JWT"}` as
/// Flask-JWT-Extended writes it.
pub fn tokens() -> [BenchToken; 3] {
    let sign = |name, claims: String| {
        let mut out = vec![0u8; 4096];
        let header = HeaderParams {
            typ: Some("JWT"),
            kid: None,
        };
        let token = key()
            .sign(&header, claims.as_bytes(), &mut out)
            .expect("benchmark token fits")
            .to_owned();
        BenchToken { name, token }
    };
    [
        sign("short", short_claims()),
        sign("typical", typical_claims()),
        sign("large", large_claims()),
    ]
}

/// latchkey-core with its default policy: HS256 key, leeway 60 s, `exp` required,
/// `exp`/`nbf`/`iat` checked when present, a token carrying `aud` rejected.
pub fn latchkey() -> Verifier<'static> {
    Verifier::new(key(), Validation::new())
}

/// The registered claims `jsonwebtoken` hands back, as latchkey's `Claims` does.
#[derive(Debug, Deserialize)]
#[allow(
    dead_code,
    reason = "deserialized for parity with latchkey's Claims, not read"
)]
pub struct Registered {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    sub: Option<String>,
    jti: Option<String>,
}

/// `jsonwebtoken` under the equivalent policy: HS256 only, leeway 60 s, `exp`
/// required and checked, `nbf` checked (off by default there, always on in
/// latchkey), a token carrying `aud` rejected when none is expected (its default).
pub fn jsonwebtoken() -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET).expect("HMAC key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = 60;
    validation.validate_nbf = true;
    (key, validation)
}

/// The floor: HMAC-SHA256 keyed once (inner and outer pad hashes precomputed), as
/// any verifier can keep it; each use clones it, hashes the signing input, finalizes.
pub fn floor() -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("HMAC takes any key length")
}

/// One pre-keyed HMAC-SHA256 over `input`.
pub fn floor_mac(keyed: &Hmac<Sha256>, input: &[u8]) -> [u8; 32] {
    keyed
        .clone()
        .chain_update(input)
        .finalize()
        .into_bytes()
        .into()
}

/// Panics unless every token verifies with all three; returns the tokens.
pub fn checked_tokens() -> [BenchToken; 3] {
    let tokens = tokens();
    let lk = latchkey();
    let (jkey, jval) = jsonwebtoken();
    let keyed = floor();
    for t in &tokens {
        let mut scratch = [0u8; SCRATCH_LEN];
        let claims = lk
            .verify(t.token.as_bytes(), NOW, &mut scratch)
            .unwrap_or_else(|e| panic!("latchkey rejects the {} token: {e}", t.name));
        assert_eq!(claims.exp(), Some(EXP as i64));
        let data = jsonwebtoken::decode::<Registered>(t.token.as_bytes(), &jkey, &jval)
            .unwrap_or_else(|e| panic!("jsonwebtoken rejects the {} token: {e}", t.name));
        assert_eq!(data.claims.exp, Some(EXP));
        let mac = floor_mac(&keyed, t.signing_input());
        let sig = t.token.rsplit('.').next().unwrap_or("");
        let mut buf = [0u8; 32];
        let expected = base64ct::Base64UrlUnpadded::decode(sig, &mut buf).expect("base64url MAC");
        assert_eq!(&mac[..], expected, "floor MAC of the {} token", t.name);
    }
    tokens
}
