//! Secret material: the serving key file with its two rings, the root key file,
//! the development keys, and device-key derivation.
//!
//! The serving key file is JSON:
//! ```text
//! {"master_secret": HEX,
//!  "session_keys": [{"kid": "k1", "alg": "HS256", "created": UNIX, "secret": HEX},
//!                   {"kid": "k2", "alg": "EdDSA", "created": UNIX, "private": HEX}, ...],
//!  "command_keys": [{"kid": "c1", "alg": "EdDSA", "created": UNIX, "private": HEX}, ...],
//!  "device_command_algs": {"door-2": "EdDSA"}}
//! ```
//! The session ring signs access and refresh tokens: with HS256 keys (the default)
//! only the server verifies them; with EdDSA, ES256 or RS256 keys, for deployments
//! where other services verify access tokens, the public halves are published in
//! the JWK Set. The command ring signs the command tokens of devices registered
//! with a public-key algorithm, and is published as a JWK Set too. HMAC keys are
//! never published. In each ring the first key
//! (of an algorithm, for the command ring) signs and every key verifies, so a
//! rotation puts a new key first and a retirement drops an old one. Devices not in
//! `device_command_algs` get HS256 tokens under their HKDF-derived key, as before
//! the rings existed. A file of the first format (`signing_keys`, no command ring)
//! still loads, with an empty command ring.
//!
//! The root key (Ed25519) lives in a file of its own, never in the serving file: it
//! signs nothing but `trust` statements, offline.

use crate::error::Error;
use crate::store::{StoredKey, StoredRing};
use hkdf::Hkdf;
use latchkey_core::Algorithm;
use latchkey_protocol::limits::MAX_SIGNING_INPUT_LEN;
use latchkey_protocol::{ISSUER, MAX_COMMAND_KEYS, MAX_KID_LEN};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The HKDF salt of device keys: the contract's, which the firmware build uses too.
pub use latchkey_protocol::DEVICE_KEY_SALT;

/// Environment variable that may hold the whole key file's JSON instead of a file.
pub const KEYS_ENV: &str = "LATCHKEY_KEYS_JSON";

/// Shortest secret accepted anywhere (HS256 needs 32 bytes, RFC 7518 section 3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// The RSA modulus of generated RS256 command keys, in bits.
pub const RSA_BITS: usize = 2048;

/// One HS256 session key with its `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key id put in the JWS header.
    pub kid: String,
    /// The raw secret (at least 32 bytes).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// One key of the session ring.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SessionKey {
    /// HS256: a secret only this server holds, never published.
    Hmac(SigningKey),
    /// EdDSA, ES256 or RS256: a private key whose public half is published in
    /// the JWK Set, so other services can verify access tokens.
    Private(Box<CommandKey>),
}

impl SessionKey {
    /// The key id put in the JWS header.
    #[must_use]
    pub fn kid(&self) -> &str {
        match self {
            SessionKey::Hmac(k) => &k.kid,
            SessionKey::Private(k) => &k.kid,
        }
    }

    /// The algorithm this key signs for.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SessionKey::Hmac(_) => Algorithm::Hs256,
            SessionKey::Private(k) => k.alg,
        }
    }
}

/// The algorithms of the session ring: HS256 (the default) and the public-key ones.
pub const SESSION_ALGS: [Algorithm; 4] = [
    Algorithm::Hs256,
    Algorithm::EdDsa,
    Algorithm::Es256,
    Algorithm::Rs256,
];

/// The private half of a command key.
#[derive(Clone)]
enum Private {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
}

/// One key of the command ring (or a public-key session key): a private key the
/// server signs with, bound to one algorithm (EdDSA, ES256 or RS256), named by
/// its `kid`.
#[derive(Clone)]
pub struct CommandKey {
    /// The key id put in the JWS header and the JWK.
    pub kid: String,
    /// When the key was made, seconds since the Unix epoch.
    pub created: i64,
    alg: Algorithm,
    private: Private,
}

impl PartialEq for CommandKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid
            && self.created == other.created
            && self.alg == other.alg
            && self.private_bytes() == other.private_bytes()
    }
}

impl Eq for CommandKey {}

impl std::fmt::Debug for CommandKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The algorithms of the command ring (and of `device add --command-alg`, with HS256).
pub const COMMAND_ALGS: [Algorithm; 3] = [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256];

/// Random bytes for the RSA key generator, from the OS.
struct OsRng;

impl rsa::rand_core::TryRng for OsRng {
    type Error = getrandom::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst)
    }
}

impl rsa::rand_core::TryCryptoRng for OsRng {}

impl CommandKey {
    /// A fresh key for `alg` (EdDSA, ES256 or RS256), named `kid`.
    ///
    /// # Errors
    /// [`Error::Config`] for another algorithm or a `kid` longer than a device
    /// holds ([`MAX_KID_LEN`]); [`Error::Internal`] if the OS
    /// random source fails.
    pub fn generate(alg: Algorithm, kid: String, created: i64) -> Result<Self, Error> {
        check_command_kid(&kid)?;
        let private = match alg {
            Algorithm::EdDsa => {
                let mut seed = [0u8; 32];
                random_bytes(&mut seed)?;
                Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
            Algorithm::Es256 => loop {
                let mut scalar = [0u8; 32];
                random_bytes(&mut scalar)?;
                // Out of range (zero or past the order) with odds near 2^-32: draw again.
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&scalar) {
                    break Private::P256(k);
                }
            },
            Algorithm::Rs256 => Private::Rsa(Box::new(
                rsa::PrivateKey::new(&mut OsRng, RSA_BITS)
                    .map_err(|e| Error::Internal(format!("RSA key generation: {e}")))?,
            )),
            other => return Err(unsupported_command_alg(other)),
        };
        Ok(CommandKey {
            kid,
            created,
            alg,
            private,
        })
    }

    /// A key from its stored private bytes: an Ed25519 seed, a P-256 scalar (32
    /// bytes each), or an RSA key as PKCS#8 DER.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key when the bytes do not make a key of `alg`,
    /// or its `kid` is longer than a device holds ([`MAX_KID_LEN`]).
    pub fn from_private(
        alg: Algorithm,
        kid: String,
        created: i64,
        bytes: &[u8],
    ) -> Result<Self, Error> {
        check_command_kid(&kid)?;
        let bad = |what: &str| Error::Config(format!("command key {kid:?}: {what}"));
        let private = match alg {
            Algorithm::EdDsa => Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                bytes
                    .try_into()
                    .map_err(|_| bad("an Ed25519 private key is 32 bytes"))?,
            )),
            Algorithm::Es256 => Private::P256(
                p256::ecdsa::SigningKey::from_slice(bytes)
                    .map_err(|_| bad("not a P-256 private scalar (32 bytes)"))?,
            ),
            Algorithm::Rs256 => {
                use rsa::pkcs8::DecodePrivateKey;
                let key = rsa::PrivateKey::from_pkcs8_der(bytes)
                    .map_err(|e| bad(&format!("not an RSA PKCS#8 key: {e}")))?;
                let bits = rsa::traits::PublicKeyParts::size(&key) * 8;
                if !(2048..=4096).contains(&bits) {
                    return Err(bad(&format!("RSA keys are 2048-4096 bits, not {bits}")));
                }
                Private::Rsa(Box::new(key))
            }
            other => return Err(unsupported_command_alg(other)),
        };
        let key = CommandKey {
            kid: kid.clone(),
            created,
            alg,
            private,
        };
        // The public half must build core's verifying key: a key core would refuse
        // (an RSA exponent other than 65537, say) would sign tokens nobody verifies.
        key.public_key()
            .map_err(|e| bad(&format!("its public key is refused: {e}")))?;
        Ok(key)
    }

    /// The algorithm this key signs for.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn private_bytes(&self) -> Vec<u8> {
        match &self.private {
            Private::Ed25519(k) => k.to_bytes().to_vec(),
            Private::P256(k) => k.to_bytes().to_vec(),
            Private::Rsa(k) => {
                use rsa::pkcs8::EncodePrivateKey;
                k.to_pkcs8_der()
                    .map(|d| d.as_bytes().to_vec())
                    .unwrap_or_default()
            }
        }
    }

    /// The public key as core's verifying [`latchkey_core::Key`], bound to this
    /// key's algorithm.
    ///
    /// # Errors
    /// Core's, for a key it refuses (never for a key this module made).
    pub fn public_key(&self) -> Result<latchkey_core::Key, latchkey_core::Error> {
        use latchkey_core::{EcCurve, Key};
        match &self.private {
            Private::Ed25519(k) => Key::ed25519(self.alg, &k.verifying_key().to_bytes()),
            Private::P256(k) => {
                let (x, y) = p256_xy(k);
                Key::ec(self.alg, EcCurve::P256, &x, &y)
            }
            Private::Rsa(k) => {
                let (n, e) = rsa_ne(k);
                Key::rsa(self.alg, &n, &e)
            }
        }
    }

    /// The public key as a JWK (RFC 7517): `kty`, the key's members, `kid`, `alg`,
    /// `use: "sig"`. Never a private member.
    #[must_use]
    pub fn public_jwk(&self) -> serde_json::Value {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let b64 = Base64UrlUnpadded::encode_string;
        let mut jwk = match &self.private {
            Private::Ed25519(k) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(&k.verifying_key().to_bytes()),
            }),
            Private::P256(k) => {
                let (x, y) = p256_xy(k);
                serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y) })
            }
            Private::Rsa(k) => {
                let (n, e) = rsa_ne(k);
                serde_json::json!({ "kty": "RSA", "n": b64(&n), "e": b64(&e) })
            }
        };
        if let Some(map) = jwk.as_object_mut() {
            map.insert("kid".into(), self.kid.clone().into());
            map.insert("alg".into(), self.alg.name().into());
            map.insert("use".into(), "sig".into());
        }
        jwk
    }
}

/// A command key's public JWK as a trust statement carries it: `kty`, the key's
/// members, `kid`, `alg`, in this order, and nothing else (no `use`: every byte
/// counts against the device's [`MAX_SIGNING_INPUT_LEN`]).
#[derive(Serialize)]
struct TrustJwk<'a> {
    kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    kid: &'a str,
    alg: &'static str,
}

impl CommandKey {
    fn trust_jwk(&self) -> TrustJwk<'_> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let b64 = |b: &[u8]| Some(Base64UrlUnpadded::encode_string(b));
        let mut jwk = TrustJwk {
            kty: "OKP",
            crv: None,
            n: None,
            e: None,
            x: None,
            y: None,
            kid: &self.kid,
            alg: self.alg.name(),
        };
        match &self.private {
            Private::Ed25519(k) => {
                jwk.crv = Some("Ed25519");
                jwk.x = b64(&k.verifying_key().to_bytes());
            }
            Private::P256(k) => {
                let (x, y) = p256_xy(k);
                (jwk.kty, jwk.crv, jwk.x, jwk.y) = ("EC", Some("P-256"), b64(&x), b64(&y));
            }
            Private::Rsa(k) => {
                let (n, e) = rsa_ne(k);
                (jwk.kty, jwk.n, jwk.e) = ("RSA", b64(&n), b64(&e));
            }
        }
        jwk
    }
}

/// Refuses a command-key `kid` a device cannot hold.
fn check_command_kid(kid: &str) -> Result<(), Error> {
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(Error::Config(format!(
            "command key {kid:?}: a command key's kid is 1-{MAX_KID_LEN} bytes (the device's key table)"
        )));
    }
    Ok(())
}

fn p256_xy(k: &p256::ecdsa::SigningKey) -> (Vec<u8>, Vec<u8>) {
    let point = k.verifying_key().to_sec1_point(false);
    // Uncompressed SEC1: 0x04 || x || y, 32 bytes each.
    let bytes = point.as_bytes();
    let xy = bytes.get(1..).unwrap_or_default();
    let (x, y) = xy.split_at(xy.len() / 2);
    (x.to_vec(), y.to_vec())
}

fn rsa_ne(k: &rsa::PrivateKey) -> (Vec<u8>, Vec<u8>) {
    use rsa::traits::PublicKeyParts;
    let public = k.to_public_key();
    (public.n_bytes().to_vec(), public.e_bytes().to_vec())
}

fn unsupported_command_alg(alg: Algorithm) -> Error {
    Error::Config(format!(
        "{alg} is not a command-key algorithm; expected EdDSA, ES256 or RS256"
    ))
}

/// Core's one signing interface, for the command ring's private keys: the
/// signature in its JWS form (Ed25519's 64 bytes, ECDSA's fixed-width `r || s`,
/// RSA PKCS#1 v1.5's k bytes).
impl latchkey_core::Signer for CommandKey {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn signature_len(&self) -> usize {
        match &self.private {
            Private::Rsa(k) => rsa::traits::PublicKeyParts::size(k.as_ref()),
            _ => 64,
        }
    }

    fn sign(&self, input: &[u8], out: &mut [u8]) -> Result<usize, latchkey_core::Error> {
        use rsa::signature::{SignatureEncoding, Signer as _};
        let sig: Vec<u8> = match &self.private {
            Private::Ed25519(k) => k.sign(input).to_bytes().to_vec(),
            Private::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            Private::Rsa(k) => {
                rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(k.as_ref().clone())
                    .try_sign(input)
                    .map_err(|_| latchkey_core::Error::KeyMismatch)?
                    .to_vec()
            }
        };
        out.get_mut(..sig.len())
            .ok_or(latchkey_core::Error::BufferTooSmall)?
            .copy_from_slice(&sig);
        Ok(sig.len())
    }
}

/// All secrets the serving process holds (the root key is not among them).
#[derive(Clone, PartialEq, Eq)]
pub struct KeySet {
    /// Master secret from which HMAC device keys are derived (never stored per device).
    pub master_secret: Vec<u8>,
    /// The session ring: access and refresh token keys; the first signs, all verify.
    pub session_keys: Vec<SessionKey>,
    /// When each session key was made (by `kid`), where known.
    pub session_created: BTreeMap<String, i64>,
    /// The command ring: the first key of each algorithm signs, all are published.
    pub command_keys: Vec<CommandKey>,
    /// Devices whose command tokens are signed by the command ring, and with which
    /// algorithm; every other device gets HS256 tokens under its derived key.
    pub device_command_algs: BTreeMap<String, Algorithm>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("session_keys", &self.session_keys)
            .field("command_keys", &self.command_keys)
            .field("device_command_algs", &self.device_command_algs)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    master_secret: String,
    #[serde(alias = "signing_keys")]
    session_keys: Vec<KeyFileEntry>,
    #[serde(default)]
    command_keys: Vec<CommandKeyEntry>,
    #[serde(default)]
    device_command_algs: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<i64>,
    /// An HS256 key's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// A public-key session key's private bytes, as a command key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandKeyEntry {
    kid: String,
    alg: String,
    created: i64,
    private: String,
}

/// An algorithm by its JWS name.
///
/// # Errors
/// [`Error::Config`] for a name that is no algorithm.
pub fn parse_alg(name: &str) -> Result<Algorithm, Error> {
    Algorithm::from_name(name).map_err(|_| Error::Config(format!("unknown algorithm {name:?}")))
}

/// Lowercase hex of `bytes`.
#[must_use]
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Parses hex (either case, no separators).
///
/// # Errors
/// [`Error::Config`] on an odd length or a non-hex character.
pub fn from_hex(s: &str) -> Result<Vec<u8>, Error> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::Config("hex string has an odd length".into()));
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(Error::Config("not a hex string".into())),
        })
        .collect()
}

/// Fills `buf` from the operating system's random source.
///
/// # Errors
/// [`Error::Internal`] if the OS refuses (practically never).
pub fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Internal(format!("random source: {e}")))
}

/// 16 random bytes as 22 characters of unpadded base64url (token ids, family ids).
///
/// # Errors
/// [`Error::Internal`] if the OS random source fails.
pub fn random_id() -> Result<String, Error> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut raw = [0u8; 16];
    random_bytes(&mut raw)?;
    Ok(Base64UrlUnpadded::encode_string(&raw))
}

/// A new `kid`: `prefix` and 8 hex digits of randomness.
///
/// # Errors
/// [`Error::Internal`] if the OS random source fails.
pub fn new_kid(prefix: &str) -> Result<String, Error> {
    let mut raw = [0u8; 4];
    random_bytes(&mut raw)?;
    Ok(format!("{prefix}-{}", to_hex(&raw)))
}

fn check_kid(kid: &str, seen: &[&str]) -> Result<(), Error> {
    if kid.is_empty() || kid.len() > 64 {
        return Err(Error::Config("a kid must be 1-64 bytes".into()));
    }
    if seen.contains(&kid) {
        return Err(Error::Config(format!("duplicate kid {kid:?}")));
    }
    Ok(())
}

impl KeySet {
    /// DEVELOPMENT ONLY: the fixed demo keys (master secret = bytes 00..1f, session
    /// key `dev-1` = bytes 20..3f, Ed25519 command key `dev-cmd-1` from the seed
    /// bytes 60..7f). Anyone can read them here; never deploy them.
    #[must_use]
    pub fn development() -> Self {
        let seed: [u8; 32] = std::array::from_fn(|i| 0x60 + i as u8);
        KeySet {
            master_secret: (0u8..32).collect(),
            session_keys: vec![SessionKey::Hmac(SigningKey {
                kid: "dev-1".into(),
                secret: (32u8..64).collect(),
            })],
            session_created: BTreeMap::new(),
            command_keys: vec![CommandKey {
                kid: "dev-cmd-1".into(),
                created: 0,
                alg: Algorithm::EdDsa,
                private: Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)),
            }],
            device_command_algs: BTreeMap::new(),
        }
    }

    /// Fresh random keys: a 32-byte master secret, one 32-byte session key and
    /// one Ed25519 command key.
    ///
    /// # Errors
    /// [`Error::Internal`] if the OS random source fails.
    pub fn generate() -> Result<Self, Error> {
        let now = crate::tokens::unix_now();
        let mut master = vec![0u8; 32];
        random_bytes(&mut master)?;
        let session = SigningKey::generate()?;
        Ok(KeySet {
            master_secret: master,
            session_created: BTreeMap::from([(session.kid.clone(), now)]),
            session_keys: vec![SessionKey::Hmac(session)],
            command_keys: vec![CommandKey::generate(Algorithm::EdDsa, new_kid("c")?, now)?],
            device_command_algs: BTreeMap::new(),
        })
    }

    /// Parses and checks the key file's JSON.
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem: bad JSON or hex, no session key,
    /// duplicate or empty `kid`, a secret shorter than 32 bytes, a session key not
    /// HS256, a command key that is not a key of its algorithm, a device bound to
    /// an algorithm the command ring has no key for.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let file: KeyFile = serde_json::from_str(text)
            .map_err(|e| Error::Config(format!("key file is not valid: {e}")))?;
        let master_secret = from_hex(&file.master_secret)
            .map_err(|e| Error::Config(format!("master_secret: {e}")))?;
        if master_secret.len() < MIN_SECRET_LEN {
            return Err(Error::Config(format!(
                "master_secret is {} bytes; at least {MIN_SECRET_LEN} are required",
                master_secret.len()
            )));
        }
        if file.session_keys.is_empty() {
            return Err(Error::Config("session_keys is empty".into()));
        }
        let mut session_keys: Vec<SessionKey> = Vec::new();
        let mut session_created = BTreeMap::new();
        for entry in file.session_keys {
            let seen: Vec<&str> = session_keys.iter().map(SessionKey::kid).collect();
            check_kid(&entry.kid, &seen)?;
            if let Some(created) = entry.created {
                session_created.insert(entry.kid.clone(), created);
            }
            session_keys.push(session_key_from_entry(entry)?);
        }
        let mut command_keys: Vec<CommandKey> = Vec::new();
        for entry in file.command_keys {
            let seen: Vec<&str> = command_keys.iter().map(|k| k.kid.as_str()).collect();
            check_kid(&entry.kid, &seen)?;
            let alg = parse_alg(&entry.alg)
                .map_err(|e| Error::Config(format!("command key {:?}: {e}", entry.kid)))?;
            let private = from_hex(&entry.private)
                .map_err(|e| Error::Config(format!("command key {:?}: {e}", entry.kid)))?;
            command_keys.push(CommandKey::from_private(
                alg,
                entry.kid,
                entry.created,
                &private,
            )?);
        }
        let mut device_command_algs = BTreeMap::new();
        for (device, alg) in file.device_command_algs {
            let alg =
                parse_alg(&alg).map_err(|e| Error::Config(format!("device {device:?}: {e}")))?;
            device_command_algs.insert(device, alg);
        }
        let keys = KeySet {
            master_secret,
            session_keys,
            session_created,
            command_keys,
            device_command_algs,
        };
        keys.check_devices()?;
        keys.check_published_kids()?;
        Ok(keys)
    }

    /// Every device bound to a public-key algorithm has a command key of it.
    ///
    /// # Errors
    /// [`Error::Config`] naming the device and the `keys rotate` that fixes it.
    pub fn check(&self) -> Result<(), Error> {
        self.check_devices()
    }

    /// No public session key shares a `kid` with a command key: both are in
    /// one JWK Set, where a `kid` names one key.
    fn check_published_kids(&self) -> Result<(), Error> {
        for key in &self.session_keys {
            if let SessionKey::Private(k) = key
                && self.command_keys.iter().any(|c| c.kid == k.kid)
            {
                return Err(Error::Config(format!(
                    "session key {:?} has the kid of a command key; both are published",
                    k.kid
                )));
            }
        }
        Ok(())
    }

    fn check_devices(&self) -> Result<(), Error> {
        for (device, alg) in &self.device_command_algs {
            if *alg != Algorithm::Hs256 && self.command_signer(*alg).is_none() {
                return Err(Error::Config(format!(
                    "device {device:?} takes {alg} command tokens but the command ring has \
                     no {alg} key; run `latchkey-server keys rotate --ring command --alg {alg}`"
                )));
            }
        }
        Ok(())
    }

    /// The command key that signs for `alg`: the ring's first of that algorithm.
    #[must_use]
    pub fn command_signer(&self, alg: Algorithm) -> Option<&CommandKey> {
        self.command_keys.iter().find(|k| k.alg == alg)
    }

    /// The algorithm of `device`'s command tokens: its binding, else HS256.
    #[must_use]
    pub fn device_command_alg(&self, device: &str) -> Algorithm {
        self.device_command_algs
            .get(device)
            .copied()
            .unwrap_or(Algorithm::Hs256)
    }

    /// The published JWK Set (RFC 7517 section 5): the public session keys,
    /// then the command ring. HS256 session keys are never in it.
    #[must_use]
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .session_keys
            .iter()
            .filter_map(|k| match k {
                SessionKey::Private(k) => Some(k.public_jwk()),
                SessionKey::Hmac(_) => None,
            })
            .chain(self.command_keys.iter().map(CommandKey::public_jwk))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The command ring's public keys alone as a JWK Set: what a device is
    /// built to trust (`device provision`), never a session key.
    #[must_use]
    pub fn command_jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .command_keys
            .iter()
            .map(CommandKey::public_jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The key file's JSON for these keys.
    #[must_use]
    pub fn to_json(&self) -> String {
        let file = KeyFile {
            comment: Some(
                "Latchkey server secrets. Keep this file private (mode 0600, owned by \
                 the serving user). In each ring the first key signs (the first of its \
                 algorithm for command keys); all listed keys verify."
                    .into(),
            ),
            master_secret: to_hex(&self.master_secret),
            session_keys: self
                .session_keys
                .iter()
                .map(|k| session_entry(k, self.session_created.get(k.kid()).copied()))
                .collect(),
            command_keys: self
                .command_keys
                .iter()
                .map(|k| CommandKeyEntry {
                    kid: k.kid.clone(),
                    alg: k.alg.name().into(),
                    created: k.created,
                    private: to_hex(&k.private_bytes()),
                })
                .collect(),
            device_command_algs: self
                .device_command_algs
                .iter()
                .map(|(d, a)| (d.clone(), a.name().to_owned()))
                .collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Loads the keys: DEVELOPMENT ONLY keys if `dev` is set, else the JSON in
    /// `$LATCHKEY_KEYS_JSON` if set, else the key file at `path`, which is created
    /// with fresh random keys (mode 0600) if absent.
    ///
    /// # Errors
    /// [`Error::Config`] if the file or variable cannot be read or is invalid, or
    /// the file is open to others or owned by another user.
    pub fn load(path: &Path, dev: bool) -> Result<Self, Error> {
        if dev {
            tracing::warn!("using the DEVELOPMENT ONLY keys: never do this in production");
            return Ok(Self::development());
        }
        if let Ok(text) = std::env::var(KEYS_ENV) {
            return Self::from_json(&text).map_err(|e| Error::Config(format!("{KEYS_ENV}: {e}")));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                require_private(path)?;
                Self::from_json(&text)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = Self::generate()?;
                write_private(path, keys.to_json().as_bytes())?;
                tracing::info!(path = %path.display(), "created a new key file");
                Ok(keys)
            }
            Err(e) => Err(Error::Config(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes these keys over the key file at `path`: to a new private file beside
    /// it, then renamed over it, so a reader sees the old file or the new one.
    ///
    /// # Errors
    /// [`Error::Config`] if a device binding lacks its key, or the file cannot be
    /// written.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        self.check_devices()?;
        let tmp = path.with_extension("json.new");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, self.to_json().as_bytes())?;
        std::fs::rename(&tmp, path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Puts a fresh key first in the session ring (`alg`, HS256 by default;
    /// EdDSA, ES256 or RS256) or the command ring (`alg`, EdDSA by default) and
    /// returns its `kid`. The old keys stay, and verify, until retired.
    ///
    /// # Errors
    /// [`Error::Config`] for an algorithm the ring does not take;
    /// [`Error::Internal`] if the OS random source fails.
    pub fn rotate(&mut self, ring: Ring, alg: Option<Algorithm>) -> Result<String, Error> {
        let now = crate::tokens::unix_now();
        match ring {
            Ring::Session => {
                let key = SessionKey::generate(alg.unwrap_or(Algorithm::Hs256), now)?;
                let kid = key.kid().to_owned();
                self.session_created.insert(kid.clone(), now);
                self.session_keys.insert(0, key);
                Ok(kid)
            }
            Ring::Command => {
                let key =
                    CommandKey::generate(alg.unwrap_or(Algorithm::EdDsa), new_kid("c")?, now)?;
                let kid = key.kid.clone();
                self.command_keys.insert(0, key);
                Ok(kid)
            }
        }
    }

    /// Removes the key `kid` from `ring`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown `kid`, the last session key, or the last
    /// command key of an algorithm a device is bound to.
    pub fn retire(&mut self, ring: Ring, kid: &str) -> Result<(), Error> {
        match ring {
            Ring::Session => {
                let i = self
                    .session_keys
                    .iter()
                    .position(|k| k.kid() == kid)
                    .ok_or_else(|| Error::Config(format!("no session key {kid:?}")))?;
                if self.session_keys.len() == 1 {
                    return Err(Error::Config(
                        "the last session key cannot be retired".into(),
                    ));
                }
                self.session_keys.remove(i);
                self.session_created.remove(kid);
            }
            Ring::Command => {
                let i = self
                    .command_keys
                    .iter()
                    .position(|k| k.kid == kid)
                    .ok_or_else(|| Error::Config(format!("no command key {kid:?}")))?;
                let removed = self.command_keys.remove(i);
                if let Err(e) = self.check_devices() {
                    self.command_keys.insert(i, removed);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The 32-byte HS256 key of `device_id`: HKDF-SHA256(master secret, salt
    /// `latchkey-device-key-v1`, info = the id's bytes).
    #[must_use]
    pub fn device_key(&self, device_id: &str) -> [u8; 32] {
        derive_device_key(&self.master_secret, device_id)
    }
}

impl SessionKey {
    /// A fresh session key of `alg` with a new `kid`: 32 random bytes for HS256,
    /// else a key pair as [`CommandKey::generate`] makes one.
    ///
    /// # Errors
    /// [`Error::Config`] for an algorithm not in [`SESSION_ALGS`];
    /// [`Error::Internal`] if the OS random source fails.
    pub fn generate(alg: Algorithm, created: i64) -> Result<Self, Error> {
        match alg {
            Algorithm::Hs256 => SigningKey::generate().map(SessionKey::Hmac),
            a if SESSION_ALGS.contains(&a) => CommandKey::generate(a, new_kid("k")?, created)
                .map(|k| SessionKey::Private(Box::new(k))),
            other => Err(Error::Config(format!(
                "{other} is not a session-key algorithm; expected HS256, EdDSA, ES256 or RS256"
            ))),
        }
    }
}

/// A session key from its key file entry: `secret` for HS256 (the default when
/// `alg` is absent, as in the first format), `private` for the public-key ones.
fn session_key_from_entry(entry: KeyFileEntry) -> Result<SessionKey, Error> {
    let kid = entry.kid;
    let bad = |e: &dyn std::fmt::Display| Error::Config(format!("session key {kid:?}: {e}"));
    let alg = entry
        .alg
        .as_deref()
        .map_or(Ok(Algorithm::Hs256), parse_alg)
        .map_err(|e| bad(&e))?;
    if !SESSION_ALGS.contains(&alg) {
        return Err(bad(&format!(
            "{alg} is not a session-key algorithm (HS256, EdDSA, ES256, RS256)"
        )));
    }
    match (alg, entry.secret, entry.private) {
        (Algorithm::Hs256, Some(secret), None) => {
            let secret = from_hex(&secret)
                .map_err(|e| Error::Config(format!("signing key {kid:?}: {e}")))?;
            if secret.len() < MIN_SECRET_LEN {
                return Err(Error::Config(format!(
                    "signing key {kid:?} is {} bytes; at least {MIN_SECRET_LEN} are required",
                    secret.len()
                )));
            }
            Ok(SessionKey::Hmac(SigningKey { kid, secret }))
        }
        (Algorithm::Hs256, _, _) => Err(bad(&"an HS256 key has a `secret` and no `private`")),
        (alg, None, Some(private)) => {
            let bytes = from_hex(&private).map_err(|e| bad(&e))?;
            let created = entry.created.unwrap_or(0);
            CommandKey::from_private(alg, kid.clone(), created, &bytes)
                .map(|k| SessionKey::Private(Box::new(k)))
                .map_err(|e| bad(&e))
        }
        (alg, _, _) => Err(bad(&format!(
            "an {alg} key has a `private` and no `secret`"
        ))),
    }
}

/// The key file entry of a session key.
fn session_entry(key: &SessionKey, created: Option<i64>) -> KeyFileEntry {
    let (secret, private) = match key {
        SessionKey::Hmac(k) => (Some(to_hex(&k.secret)), None),
        SessionKey::Private(k) => (None, Some(to_hex(&k.private_bytes()))),
    };
    KeyFileEntry {
        kid: key.kid().to_owned(),
        alg: Some(key.algorithm().name().into()),
        created,
        secret,
        private,
    }
}

impl SigningKey {
    /// A fresh 32-byte HS256 session key with a new `kid`.
    ///
    /// # Errors
    /// [`Error::Internal`] if the OS random source fails.
    pub fn generate() -> Result<Self, Error> {
        let mut secret = vec![0u8; 32];
        random_bytes(&mut secret)?;
        Ok(SigningKey {
            kid: new_kid("k")?,
            secret,
        })
    }
}

/// Whether [`KeySet::load`] takes the keys from `$LATCHKEY_KEYS_JSON` (which no
/// command can write back) rather than the key file.
#[must_use]
pub fn keys_from_env() -> bool {
    std::env::var_os(KEYS_ENV).is_some()
}

/// The two rings of the serving key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ring {
    /// Keys of access and refresh tokens: HS256, or public-key ones published
    /// in the JWK Set.
    Session,
    /// Public-key command-token keys, published in the JWK Set.
    Command,
}

/// The root key: Ed25519, in a file of its own (never the serving key file),
/// signing nothing but `trust` statements. The file is JSON
/// `{"kid": K, "alg": "EdDSA", "created": UNIX, "private": HEX}`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RootKey(CommandKey);

/// `typ` of trust statements signed by the root key: the contract's.
pub use latchkey_protocol::TRUST_TOKEN_TYPE as TRUST_TYP;

/// The claims of a trust statement, in the contract's order
/// ([`latchkey_protocol::TrustStatement::MEMBERS`]).
#[derive(Serialize)]
struct TrustClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    epoch: u32,
    add: Vec<TrustJwk<'a>>,
    retire: &'a [String],
}

/// What a trust statement says, as [`verify_trust`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSummary {
    /// Its `epoch`.
    pub epoch: u32,
    /// How many keys it adds.
    pub add: usize,
    /// How many kids it retires.
    pub retire: usize,
}

/// Checks that `jws` is a trust statement for `device` signed by the root key
/// `root`, before it is sent to the device: within the line's and the
/// device's size limits, `typ` [`TRUST_TYP`], the root's signature, `iss`
/// [`ISSUER`], `aud` the device, an `epoch` of 1 or more, `add` an array of
/// JWKs each with a `kid` of at most [`MAX_KID_LEN`] bytes and an `alg`, and
/// `retire` an array of kids.
///
/// # Errors
/// [`Error::Malformed`] saying which check failed.
pub fn verify_trust(
    root: &latchkey_core::Key,
    device: &str,
    jws: &str,
) -> Result<TrustSummary, Error> {
    use latchkey_core::{ClaimSet, Validation, Verifier};
    let bad = |why: &str| Error::Malformed(format!("not a trust statement for {device:?}: {why}"));
    let signing_input = jws
        .rsplit_once('.')
        .map_or(jws.len(), |(input, _)| input.len());
    if jws.len() > latchkey_protocol::MAX_TOKEN_LEN || signing_input > MAX_SIGNING_INPUT_LEN {
        return Err(bad("longer than a device reads"));
    }
    let verifier = Verifier::new(
        root.clone(),
        Validation {
            required: ClaimSet::NONE,
            typ: Some(TRUST_TYP),
            ..Validation::new()
        },
    );
    let mut scratch = vec![0u8; jws.len()];
    let verified = verifier
        .verify_jws(jws.as_bytes(), &mut scratch)
        .map_err(|e| bad(&format!("{} ({})", e.code(), e)))?;
    let claims: serde_json::Value =
        serde_json::from_slice(verified.payload).map_err(|_| bad("its payload is not JSON"))?;
    if claims["iss"] != ISSUER || claims["aud"] != device {
        return Err(bad("iss or aud"));
    }
    let epoch = claims["epoch"]
        .as_u64()
        .and_then(|e| u32::try_from(e).ok())
        .filter(|e| *e > 0)
        .ok_or_else(|| bad("epoch"))?;
    let add = claims["add"].as_array().ok_or_else(|| bad("add"))?;
    let kid_ok = |k: &serde_json::Value| {
        k.as_str()
            .is_some_and(|k| (1..=MAX_KID_LEN).contains(&k.len()))
    };
    if !add
        .iter()
        .all(|jwk| kid_ok(&jwk["kid"]) && jwk["alg"].is_string())
    {
        return Err(bad("a key in add lacks a kid or an alg"));
    }
    let retire = claims["retire"].as_array().ok_or_else(|| bad("retire"))?;
    if !retire.iter().all(kid_ok) {
        return Err(bad("retire"));
    }
    Ok(TrustSummary {
        epoch,
        add: add.len(),
        retire: retire.len(),
    })
}

impl RootKey {
    /// DEVELOPMENT ONLY: the root key from the seed bytes 40..5f, kid `dev-root`.
    #[must_use]
    pub fn development() -> Self {
        let seed: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
        RootKey(CommandKey {
            kid: "dev-root".into(),
            created: 0,
            alg: Algorithm::EdDsa,
            private: Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)),
        })
    }

    /// Creates a new root key file at `path` (mode 0600; never overwriting).
    ///
    /// # Errors
    /// [`Error::Config`] if the file exists or cannot be written.
    pub fn create(path: &Path) -> Result<Self, Error> {
        let key = RootKey(CommandKey::generate(
            Algorithm::EdDsa,
            new_kid("root")?,
            crate::tokens::unix_now(),
        )?);
        key.save(path)?;
        Ok(key)
    }

    /// Writes this root key to a new file at `path` (mode 0600; never
    /// overwriting): with [`RootKey::development`], a root key file that signs
    /// trust statements the development firmware build takes.
    ///
    /// # Errors
    /// [`Error::Config`] if the file exists or cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let entry = CommandKeyEntry {
            kid: self.0.kid.clone(),
            alg: "EdDSA".into(),
            created: self.0.created,
            private: to_hex(&self.0.private_bytes()),
        };
        let json = serde_json::to_string_pretty(&entry).unwrap_or_default();
        write_private(path, json.as_bytes())
    }

    /// Loads the root key: the development one if `dev`, else the file at `path`,
    /// which must exist, be private and be owned by this user.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file and the fix.
    pub fn load(path: &Path, dev: bool) -> Result<Self, Error> {
        if dev {
            return Ok(Self::development());
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "root key {}: {e} (create it with `latchkey-server keys root-init`)",
                path.display()
            ))
        })?;
        require_private(path)?;
        let entry: CommandKeyEntry = serde_json::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: not a root key file: {e}", path.display())))?;
        if entry.alg != "EdDSA" {
            return Err(Error::Config(format!(
                "{}: the root key is Ed25519 (EdDSA)",
                path.display()
            )));
        }
        let private = from_hex(&entry.private)?;
        Ok(RootKey(CommandKey::from_private(
            Algorithm::EdDsa,
            entry.kid,
            entry.created,
            &private,
        )?))
    }

    /// The root key's `kid`.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The public root key as a JWK.
    #[must_use]
    pub fn public_jwk(&self) -> serde_json::Value {
        self.0.public_jwk()
    }

    /// The public root key for core's verifier.
    ///
    /// # Errors
    /// Never for a key this module made.
    pub fn public_key(&self) -> Result<latchkey_core::Key, latchkey_core::Error> {
        self.0.public_key()
    }

    /// Signs the trust statement for `device` at `epoch` as a compact JWS: header
    /// `{"alg":"EdDSA","typ":"lk-trust+jwt","kid":ROOT_KID}`, claims
    /// `{"iss":"latchkey","aud":DEVICE,"epoch":N,"add":[jwk...],"retire":[kid...]}`
    /// in this order, each JWK `kty`, its key members, `kid`, `alg`.
    ///
    /// Its signing input must fit a device's [`MAX_SIGNING_INPUT_LEN`] (768
    /// bytes): an Ed25519 JWK with a 32-byte kid adds 180 bytes to it, so with
    /// the longest device id a statement adds two such keys and retires one
    /// (651 bytes, test `trust_statements_fit_the_device_or_are_refused`);
    /// three are refused. A P-256 JWK is 58 bytes longer (`y`). An RS256 key's
    /// JWK alone is about 400 bytes (its 2048-bit `n` is 342 characters), about
    /// 540 once base64url-encoded: one fits only alone, with a short device id
    /// and few retired kids, and a statement that does not fit is refused here,
    /// never signed.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid device id, nothing to add or retire,
    /// more keys than a device holds ([`MAX_COMMAND_KEYS`]), a retired kid
    /// longer than [`MAX_KID_LEN`], or a statement over [`MAX_SIGNING_INPUT_LEN`];
    /// [`Error::Internal`] if signing fails.
    pub fn sign_trust(
        &self,
        device: &str,
        epoch: u32,
        add: &[&CommandKey],
        retire: &[String],
    ) -> Result<String, Error> {
        let refuse = |why: String| {
            Err(Error::Config(format!(
                "trust statement for {device:?}: {why}"
            )))
        };
        if latchkey_protocol::DeviceId::new(device).is_err() {
            return refuse(latchkey_protocol::BadDeviceId.to_string());
        }
        if add.is_empty() && retire.is_empty() {
            return refuse("nothing to add or retire (--add KID, --retire KID)".into());
        }
        if add.len() > MAX_COMMAND_KEYS {
            return refuse(format!(
                "a device holds at most {MAX_COMMAND_KEYS} command keys"
            ));
        }
        if let Some(kid) = retire
            .iter()
            .find(|k| k.is_empty() || k.len() > MAX_KID_LEN)
        {
            return refuse(format!("retired kid {kid:?} is not 1-{MAX_KID_LEN} bytes"));
        }
        let claims = TrustClaims {
            iss: ISSUER,
            aud: device,
            epoch,
            add: add.iter().map(|k| k.trust_jwk()).collect(),
            retire,
        };
        let payload = serde_json::to_vec(&claims)
            .map_err(|e| Error::Internal(format!("trust statement: {e}")))?;
        let mut out = vec![0u8; payload.len() * 2 + 1024];
        let jws = latchkey_core::sign(
            &self.0,
            &latchkey_core::HeaderParams {
                typ: Some(TRUST_TYP),
                kid: Some(&self.0.kid),
            },
            &payload,
            &mut out,
        )
        .map(str::to_owned)
        .map_err(|e| Error::Internal(format!("signing the trust statement: {e}")))?;
        let input = jws
            .rsplit_once('.')
            .map_or(jws.len(), |(input, _)| input.len());
        if input > MAX_SIGNING_INPUT_LEN {
            return refuse(format!(
                "its signing input is {input} bytes, over the {MAX_SIGNING_INPUT_LEN} a device \
                 reads; add or retire fewer keys per statement"
            ));
        }
        Ok(jws)
    }
}

/// The HKDF salt of the key-encryption key, apart from the device keys' salt so
/// no device key is ever the KEK.
pub const KEK_SALT: &[u8] = b"latchkey-kek-v1";

/// Length of the random XChaCha20-Poly1305 nonce that starts a wrapped key.
pub const WRAP_NONCE_LEN: usize = 24;

/// The key-encryption key: HKDF-SHA256 of the key file's master secret (salt
/// [`KEK_SALT`]), so it stays in the key file (0600, owned by the serving user)
/// while the private keys it wraps live in the database.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Ring {
    /// The ring's name in the store and in `keys list`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Ring::Session => "session",
            Ring::Command => "command",
        }
    }
}

/// The associated data binding a wrapped key to its place: a ciphertext moved
/// to another `kid`, ring or algorithm no longer opens.
fn wrap_aad(ring: Ring, kid: &str, alg: Algorithm) -> Vec<u8> {
    format!("latchkey-ring-v1\0{}\0{kid}\0{}", ring.name(), alg.name()).into_bytes()
}

impl Kek {
    /// The KEK of the key file whose master secret is `master`.
    #[must_use]
    pub fn from_master(master: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(KEK_SALT), master);
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF's limit, so expand cannot fail.
        if hk.expand(b"key-ring-wrap", &mut okm).is_err() {
            okm = [0u8; 32];
        }
        Kek(okm)
    }

    /// `private` encrypted with XChaCha20-Poly1305 under this KEK: a random
    /// 24-byte nonce, then the ciphertext and tag; the ring, `kid` and
    /// algorithm are the associated data.
    ///
    /// # Errors
    /// [`Error::Internal`] if the random source or the cipher fails.
    pub fn wrap(
        &self,
        ring: Ring,
        kid: &str,
        alg: Algorithm,
        private: &[u8],
    ) -> Result<Vec<u8>, Error> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0.into());
        let mut nonce = [0u8; WRAP_NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = wrap_aad(ring, kid, alg);
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: private,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Internal(format!("wrapping key {kid:?} failed")))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The private bytes [`Kek::wrap`] sealed for this ring, `kid` and algorithm.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key when it does not open: another KEK
    /// (another key file's master secret) or a row changed in the database.
    pub fn unwrap(
        &self,
        ring: Ring,
        kid: &str,
        alg: Algorithm,
        wrapped: &[u8],
    ) -> Result<Vec<u8>, Error> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let refused = || {
            Error::Config(format!(
                "{} key {kid:?} in the database does not open with this key file's \
                 key-encryption key: the key file is not the one the ring was stored \
                 under (or the row was altered)",
                ring.name()
            ))
        };
        let (nonce, sealed) = wrapped
            .split_at_checked(WRAP_NONCE_LEN)
            .ok_or_else(refused)?;
        let nonce: [u8; WRAP_NONCE_LEN] = nonce.try_into().map_err(|_| refused())?;
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0.into());
        let aad = wrap_aad(ring, kid, alg);
        cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| refused())
    }
}

impl SessionKey {
    /// This key wrapped under `kek` for the store (an HS256 key's secret, else
    /// the private bytes as the key file holds them).
    ///
    /// # Errors
    /// As [`Kek::wrap`].
    pub fn stored(&self, kek: &Kek, created: i64) -> Result<StoredKey, Error> {
        let private = match self {
            SessionKey::Hmac(k) => k.secret.clone(),
            SessionKey::Private(k) => k.private_bytes(),
        };
        stored_key(
            kek,
            Ring::Session,
            self.kid(),
            self.algorithm(),
            created,
            &private,
        )
    }
}

impl CommandKey {
    /// This key wrapped under `kek` for the store.
    ///
    /// # Errors
    /// As [`Kek::wrap`].
    pub fn stored(&self, kek: &Kek) -> Result<StoredKey, Error> {
        stored_key(
            kek,
            Ring::Command,
            &self.kid,
            self.alg,
            self.created,
            &self.private_bytes(),
        )
    }
}

fn stored_key(
    kek: &Kek,
    ring: Ring,
    kid: &str,
    alg: Algorithm,
    created: i64,
    private: &[u8],
) -> Result<StoredKey, Error> {
    Ok(StoredKey {
        ring: ring.name().into(),
        kid: kid.into(),
        alg: alg.name().into(),
        created,
        wrapped: kek.wrap(ring, kid, alg, private)?,
    })
}

impl KeySet {
    /// Both rings wrapped under `kek`, each ring's signing key first: what
    /// [`crate::store::Store::import_key_ring`] takes.
    ///
    /// # Errors
    /// As [`Kek::wrap`].
    pub fn stored_keys(&self, kek: &Kek) -> Result<Vec<StoredKey>, Error> {
        let mut out = Vec::new();
        for k in &self.session_keys {
            let created = self.session_created.get(k.kid()).copied().unwrap_or(0);
            out.push(k.stored(kek, created)?);
        }
        for k in &self.command_keys {
            out.push(k.stored(kek)?);
        }
        Ok(out)
    }

    /// The keys every instance on `store`'s database shares: the key file's (or
    /// `$LATCHKEY_KEYS_JSON`'s) master secret and device bindings, with both rings
    /// from the store, unwrapped under the key-encryption key of that master
    /// secret. While the store's rings are empty (a database from before, or a new
    /// one) the key file's rings are imported into it first, once, with a notice
    /// on stderr; from then on the file's rings are not read. `dev`: the fixed
    /// DEVELOPMENT ONLY keys, in memory, never stored.
    ///
    /// # Errors
    /// [`KeySet::load`]'s; [`Error::Config`] when the stored keys do not open
    /// under this key file (another master secret); [`Error::Store`].
    pub fn load_shared(
        path: &Path,
        dev: bool,
        store: &dyn crate::store::Store,
    ) -> Result<Self, Error> {
        let file = Self::load(path, dev)?;
        if dev {
            return Ok(file);
        }
        let kek = file.kek();
        let mut ring = store.key_ring()?;
        if ring.keys.is_empty() {
            if store.import_key_ring(&file.stored_keys(&kek)?)? {
                eprintln!(
                    "latchkey-server: the key rings of {} are now in the database (wrapped \
                     under the file's master secret); from now on they are read from there",
                    path.display()
                );
            }
            ring = store.key_ring()?;
        }
        file.with_stored_rings(&ring, &kek)
    }

    /// These keys (master secret, device bindings) with both rings replaced by
    /// the store's `ring`, unwrapped under `kek`.
    ///
    /// # Errors
    /// [`Error::Config`] if a key does not open under `kek` (naming the key
    /// file), is not a key of its algorithm, the session ring is empty, or a
    /// device binding lacks its key.
    pub fn with_stored_rings(&self, ring: &StoredRing, kek: &Kek) -> Result<KeySet, Error> {
        let mut keys = KeySet {
            session_keys: Vec::new(),
            session_created: BTreeMap::new(),
            command_keys: Vec::new(),
            ..self.clone()
        };
        for row in &ring.keys {
            let alg = parse_alg(&row.alg)?;
            let which = match row.ring.as_str() {
                "session" => Ring::Session,
                "command" => Ring::Command,
                other => return Err(Error::Config(format!("the store has a ring {other:?}"))),
            };
            let private = kek.unwrap(which, &row.kid, alg, &row.wrapped)?;
            let kid = row.kid.clone();
            if which == Ring::Command {
                let key = CommandKey::from_private(alg, kid, row.created, &private)?;
                keys.command_keys.push(key);
                continue;
            }
            let entry = KeyFileEntry {
                kid: kid.clone(),
                alg: Some(row.alg.clone()),
                created: Some(row.created),
                secret: (alg == Algorithm::Hs256).then(|| to_hex(&private)),
                private: (alg != Algorithm::Hs256).then(|| to_hex(&private)),
            };
            keys.session_keys.push(session_key_from_entry(entry)?);
            keys.session_created.insert(kid, row.created);
        }
        if keys.session_keys.is_empty() {
            return Err(Error::Config(
                "the store's session ring is empty; run `latchkey-server keys rotate --ring session`"
                    .into(),
            ));
        }
        keys.check_devices()?;
        keys.check_published_kids()?;
        Ok(keys)
    }

    /// The key-encryption key of these keys' master secret.
    #[must_use]
    pub fn kek(&self) -> Kek {
        Kek::from_master(&self.master_secret)
    }
}

/// HKDF-SHA256(ikm = `master`, salt = [`DEVICE_KEY_SALT`], info = `device_id`), 32 bytes.
#[must_use]
pub fn derive_device_key(master: &[u8], device_id: &str) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(DEVICE_KEY_SALT), master);
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF's 255 * 32 limit, so expand cannot fail.
    if hk.expand(device_id.as_bytes(), &mut okm).is_err() {
        okm = [0u8; 32];
    }
    okm
}

/// Refuses a secret file that others may read or write: on Unix its mode must be
/// 0600 or stricter (no group or other bits), and on Linux it must be owned by the
/// effective user. Used for the key file, the root key file and the TLS private key.
///
/// # Errors
/// [`Error::Config`] naming the file, its mode or owner, and the `chmod` or
/// `chown` that fixes it.
pub fn require_private(path: &Path) -> Result<(), Error> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Config(format!(
                "{} holds secrets but has mode {mode:04o}: others may read it; \
                 run `chmod 600 {}` (0600 or stricter is required)",
                path.display(),
                path.display()
            )));
        }
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        check_owner(path, meta.uid(), rustix::process::geteuid().as_raw())?;
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// Refuses a secret file owned by another user than the one serving: whoever owns
/// it may change its mode or its keys.
#[cfg(unix)]
fn check_owner(path: &Path, file_uid: u32, euid: u32) -> Result<(), Error> {
    if file_uid == euid {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{} holds secrets but is owned by uid {file_uid}, not by the serving user \
         (uid {euid}); run `chown {euid} {}` (or serve as its owner)",
        path.display(),
        path.display()
    )))
}

/// Creates `path` with mode 0600 (never overwriting) and writes `data`.
fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        assert_eq!(from_hex("0aFF").unwrap(), vec![0x0a, 0xff]);
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }

    #[test]
    fn device_keys_differ_per_device_and_follow_rfc5869_shape() {
        let keys = KeySet::development();
        let a = keys.device_key("door-1");
        let b = keys.device_key("door-2");
        assert_ne!(a, b);
        assert_eq!(
            a,
            derive_device_key(&(0u8..32).collect::<Vec<_>>(), "door-1")
        );
        // Independent computation: HKDF-Extract then one Expand block with HMAC.
        use hkdf::hmac::{KeyInit, Mac};
        type H = hkdf::hmac::Hmac<Sha256>;
        let mut ext = <H as KeyInit>::new_from_slice(DEVICE_KEY_SALT).unwrap();
        ext.update(&keys.master_secret);
        let prk = ext.finalize().into_bytes();
        let mut exp = <H as KeyInit>::new_from_slice(&prk).unwrap();
        exp.update(b"door-1");
        exp.update(&[1]);
        assert_eq!(exp.finalize().into_bytes().as_slice(), &a[..]);
    }

    #[test]
    fn key_file_round_trip_and_short_keys_refused() {
        let keys = KeySet::generate().unwrap();
        assert_eq!(KeySet::from_json(&keys.to_json()).unwrap(), keys);
        let short = r#"{"master_secret":"00112233","signing_keys":[{"kid":"a","secret":"00"}]}"#;
        let err = KeySet::from_json(short).unwrap_err().to_string();
        assert!(err.contains("at least 32"), "{err}");
        let master = to_hex(&[7u8; 32]);
        let short_signer = format!(
            r#"{{"master_secret":"{master}","signing_keys":[{{"kid":"a","secret":"0011"}}]}}"#
        );
        let err = KeySet::from_json(&short_signer).unwrap_err().to_string();
        assert!(err.contains("signing key \"a\" is 2 bytes"), "{err}");
    }

    #[test]
    fn created_key_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let first = KeySet::load(&path, false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(KeySet::load(&path, false).unwrap(), first);
        assert_ne!(first, KeySet::development());
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.pem");
        std::fs::write(&path, "x").unwrap();
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o604, false)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let result = require_private(&path);
            assert_eq!(result.is_ok(), ok, "{mode:o}: {result:?}");
            if let Err(Error::Config(message)) = result {
                assert!(
                    message.contains(&format!("chmod 600 {}", path.display())),
                    "{message}"
                );
            }
        }
        let public = KeySet::development().to_json();
        std::fs::write(&path, public).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            matches!(KeySet::load(&path, false), Err(Error::Config(m)) if m.contains("chmod 600"))
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(KeySet::load(&path, false).is_ok());
    }

    /// The RSA test key of core's suite, as a command key.
    fn rsa_command_key(kid: &str) -> CommandKey {
        use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let pem = include_str!("../../core/tests/data/rsa/rsa2048.pem");
        let der = rsa::PrivateKey::from_pkcs8_pem(pem)
            .unwrap()
            .to_pkcs8_der()
            .unwrap();
        CommandKey::from_private(Algorithm::Rs256, kid.into(), 7, der.as_bytes()).unwrap()
    }

    fn three_algorithm_keys() -> KeySet {
        let mut keys = KeySet::generate().unwrap();
        let es = CommandKey::generate(Algorithm::Es256, "es".into(), 5).unwrap();
        keys.command_keys.push(es);
        keys.command_keys.push(rsa_command_key("rs"));
        keys.device_command_algs
            .insert("door-ed".into(), Algorithm::EdDsa);
        keys.device_command_algs
            .insert("door-es".into(), Algorithm::Es256);
        keys.device_command_algs
            .insert("door-rs".into(), Algorithm::Rs256);
        keys
    }

    #[test]
    fn both_rings_and_device_bindings_round_trip() {
        let keys = three_algorithm_keys();
        let json = keys.to_json();
        let back = KeySet::from_json(&json).unwrap();
        assert_eq!(back, keys);
        assert_eq!(
            back.command_keys
                .iter()
                .map(CommandKey::algorithm)
                .collect::<Vec<_>>(),
            [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256]
        );
        assert_eq!(back.device_command_alg("door-es"), Algorithm::Es256);
        assert_eq!(back.device_command_alg("door-old"), Algorithm::Hs256);
        // Debug never shows private bytes.
        let debug = format!("{keys:?}");
        for k in &keys.command_keys {
            assert!(!debug.contains(&to_hex(&k.private_bytes())), "{debug}");
        }
    }

    #[test]
    fn first_format_files_load_with_an_empty_command_ring() {
        let master = to_hex(&[7u8; 32]);
        let secret = to_hex(&[8u8; 32]);
        let old = format!(
            r#"{{"master_secret":"{master}","signing_keys":[{{"kid":"a","secret":"{secret}"}}]}}"#
        );
        let keys = KeySet::from_json(&old).unwrap();
        assert_eq!(keys.session_keys[0].kid(), "a");
        assert!(keys.command_keys.is_empty());
        assert_eq!(keys.jwks(), serde_json::json!({ "keys": [] }));
        // A device bound to an algorithm without a key is refused, naming the fix.
        let bound = old.replace("}]}", r#"}],"device_command_algs":{"door-1":"EdDSA"}}"#);
        let err = KeySet::from_json(&bound).unwrap_err().to_string();
        assert!(
            err.contains("keys rotate --ring command --alg EdDSA"),
            "{err}"
        );
        let err = KeySet::from_json(
            &old.replace("signing_keys", "session_keys")
                .replace(r#""kid":"a","#, r#""kid":"a","alg":"EdDSA","#),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("a `private` and no `secret`"), "{err}");
        let err = KeySet::from_json(&old.replace(r#""kid":"a","#, r#""kid":"a","alg":"PS256","#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a session-key algorithm"), "{err}");
    }

    #[test]
    fn rotation_puts_new_keys_first_and_retirement_keeps_bound_algorithms() {
        let mut keys = KeySet::generate().unwrap();
        let first_cmd = keys.command_keys[0].kid.clone();
        let first_session = keys.session_keys[0].kid().to_owned();
        let kid = keys.rotate(Ring::Command, None).unwrap();
        assert_eq!(keys.command_keys[0].kid, kid);
        assert_eq!(keys.command_signer(Algorithm::EdDsa).unwrap().kid, kid);
        let es = keys.rotate(Ring::Command, Some(Algorithm::Es256)).unwrap();
        assert_eq!(keys.command_signer(Algorithm::EdDsa).unwrap().kid, kid);
        assert_eq!(keys.command_signer(Algorithm::Es256).unwrap().kid, es);
        assert!(keys.rotate(Ring::Command, Some(Algorithm::Hs256)).is_err());
        assert!(keys.rotate(Ring::Session, Some(Algorithm::Ps256)).is_err());
        let session = keys.rotate(Ring::Session, None).unwrap();
        assert_eq!(keys.session_keys[0].kid(), session);
        assert_eq!(keys.session_keys[0].algorithm(), Algorithm::Hs256);
        assert!(keys.session_created.contains_key(&session));
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 3);

        keys.device_command_algs
            .insert("door-1".into(), Algorithm::Es256);
        let err = keys.retire(Ring::Command, &es).unwrap_err().to_string();
        assert!(err.contains("door-1"), "{err}");
        keys.retire(Ring::Command, &first_cmd).unwrap();
        keys.retire(Ring::Session, &first_session).unwrap();
        assert!(
            keys.retire(Ring::Session, &session).is_err(),
            "the last one"
        );
        assert!(keys.retire(Ring::Command, "nope").is_err());
        assert_eq!(KeySet::from_json(&keys.to_json()).unwrap(), keys);
    }

    /// A public-key session key signs first after its rotation, round-trips
    /// through the key file, and is published in the JWK Set (not in the
    /// command ring's set a device is built with); the HS256 key never is.
    #[test]
    fn public_session_keys_are_published_and_hmac_ones_never() {
        let mut keys = KeySet::development();
        let ed = keys.rotate(Ring::Session, Some(Algorithm::EdDsa)).unwrap();
        let es = keys.rotate(Ring::Session, Some(Algorithm::Es256)).unwrap();
        assert_eq!(keys.session_keys[0].kid(), es);
        assert_eq!(keys.session_keys[0].algorithm(), Algorithm::Es256);
        assert_eq!(KeySet::from_json(&keys.to_json()).unwrap(), keys);
        let jwks = keys.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [es.as_str(), ed.as_str(), "dev-cmd-1"]);
        let text = jwks.to_string();
        assert!(!text.contains("dev-1\""), "{text}");
        assert!(!text.contains(&to_hex(&(32u8..64).collect::<Vec<_>>())));
        assert!(!text.contains("\"d\"") && !text.contains("\"k\""), "{text}");
        assert_eq!(keys.command_jwks()["keys"].as_array().unwrap().len(), 1);
        // A session key may not take a command key's kid: one JWK Set names both.
        let json = keys
            .to_json()
            .replace(&format!("\"{ed}\""), "\"dev-cmd-1\"");
        let err = KeySet::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("kid of a command key"), "{err}");
    }

    #[test]
    fn saved_key_files_are_private_and_replace_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let mut keys = KeySet::load(&path, false).unwrap();
        keys.rotate(Ring::Command, None).unwrap();
        keys.save(&path).unwrap();
        assert_eq!(KeySet::load(&path, false).unwrap(), keys);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// The JWK Set parses with core's reader, and every key's public half,
    /// rebuilt from the JWK alone, verifies what the private half signs through
    /// core's `Signer`, inside a core `KeySet` chosen by `kid`.
    #[test]
    fn jwks_keys_verify_what_the_ring_signs() {
        use latchkey_core::keys::{JwkSet, KeyMaterial};
        use latchkey_core::{ClaimSet, Key, Validation, Verifier};
        let keys = three_algorithm_keys();
        let text = keys.jwks().to_string();
        assert!(!text.contains("\"d\""), "{text}");
        let set = JwkSet::parse(text.as_bytes()).unwrap();
        let mut ring: latchkey_core::KeySet<4> = latchkey_core::KeySet::new();
        let mut count = 0;
        for jwk in set.keys() {
            let jwk = jwk.unwrap();
            let alg = Algorithm::from_name(jwk.alg().unwrap().raw()).unwrap();
            let mut buf = [0u8; 1024];
            let key = match jwk.material(&mut buf).unwrap() {
                KeyMaterial::Ed25519(x) => Key::ed25519(alg, x),
                KeyMaterial::Ec { curve, x, y } => {
                    assert_eq!(curve.name(), "P-256");
                    Key::ec(alg, latchkey_core::EcCurve::P256, x, y)
                }
                KeyMaterial::Rsa { n, e } => Key::rsa(alg, n, e),
                other => panic!("unexpected {other:?}"),
            }
            .unwrap();
            ring.insert(Some(jwk.kid().unwrap().raw()), key).unwrap();
            count += 1;
        }
        assert_eq!(count, 3);
        let verifier = Verifier::with_keys(
            ring,
            Validation {
                required: ClaimSet::NONE,
                ..Validation::new()
            },
        );
        for k in &keys.command_keys {
            let mut out = [0u8; 2048];
            let token = latchkey_core::sign(
                k,
                &latchkey_core::HeaderParams {
                    typ: None,
                    kid: Some(&k.kid),
                },
                br#"{"sub":"x"}"#,
                &mut out,
            )
            .unwrap();
            let mut scratch = [0u8; 2048];
            assert!(
                verifier.verify(token.as_bytes(), 1, &mut scratch).is_ok(),
                "{}",
                k.algorithm()
            );
        }
    }

    #[test]
    fn root_key_files_are_separate_private_and_sign_trust_statements() {
        use latchkey_core::{ClaimSet, Validation, Verifier};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.json");
        let err = RootKey::load(&path, false).unwrap_err().to_string();
        assert!(err.contains("keys root-init"), "{err}");
        let root = RootKey::create(&path).unwrap();
        assert!(RootKey::create(&path).is_err(), "never overwritten");
        assert_eq!(RootKey::load(&path, false).unwrap(), root);
        let keys = KeySet::generate().unwrap();
        let key = &keys.command_keys[0];
        let token = root
            .sign_trust("door-1", 3, &[key], &["old".into()])
            .unwrap();
        let verifier = Verifier::new(
            root.public_key().unwrap(),
            Validation {
                required: ClaimSet::NONE,
                typ: Some(TRUST_TYP),
                ..Validation::new()
            },
        );
        let mut scratch = [0u8; 2048];
        let jws = verifier.verify_jws(token.as_bytes(), &mut scratch).unwrap();
        let x = key.public_jwk()["x"].as_str().unwrap().to_owned();
        // The exact bytes: members in the contract's order, each JWK kty, crv,
        // x, kid, alg.
        assert_eq!(
            std::str::from_utf8(jws.payload).unwrap(),
            format!(
                r#"{{"iss":"latchkey","aud":"door-1","epoch":3,"add":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{}","alg":"EdDSA"}}],"retire":["old"]}}"#,
                key.kid
            )
        );
        let header = token.split('.').next().unwrap();
        use base64ct::{Base64UrlUnpadded, Encoding};
        assert_eq!(
            Base64UrlUnpadded::decode_vec(header).unwrap(),
            format!(
                r#"{{"alg":"EdDSA","typ":"lk-trust+jwt","kid":"{}"}}"#,
                root.kid()
            )
            .into_bytes()
        );
        let root_public = root.public_key().unwrap();
        assert_eq!(
            verify_trust(&root_public, "door-1", &token).unwrap(),
            TrustSummary {
                epoch: 3,
                add: 1,
                retire: 1
            }
        );
        // Another device's statement, or one signed by another key: refused.
        assert!(verify_trust(&root_public, "door-2", &token).is_err());
        let other = RootKey::development()
            .sign_trust("door-1", 3, &[key], &[])
            .unwrap();
        let mut scratch = [0u8; 2048];
        assert!(verifier.verify_jws(other.as_bytes(), &mut scratch).is_err());
        assert!(verify_trust(&root_public, "door-1", &other).is_err());
    }

    /// At the widest epoch, the longest device id and 32-byte kids, a statement
    /// adding two Ed25519 keys and retiring one fits a device's signing-input
    /// limit; one adding three is refused rather than signed.
    #[test]
    fn trust_statements_fit_the_device_or_are_refused() {
        let root = RootKey::development();
        let device = "d".repeat(latchkey_protocol::MAX_DEVICE_ID_LEN);
        let key = |i: u8| {
            let kid = format!("{i}").repeat(MAX_KID_LEN);
            CommandKey::generate(Algorithm::EdDsa, kid, 0).unwrap()
        };
        let keys: Vec<CommandKey> = (1..=4).map(key).collect();
        let refs: Vec<&CommandKey> = keys.iter().collect();
        let retire = vec!["r".repeat(MAX_KID_LEN)];
        let two = root
            .sign_trust(&device, u32::MAX, &refs[..2], &retire)
            .unwrap();
        let input = two.rsplit_once('.').unwrap().0.len();
        assert!(input <= MAX_SIGNING_INPUT_LEN, "{input}");
        assert_eq!(input, 651);
        let err = root
            .sign_trust(&device, u32::MAX, &refs[..3], &retire)
            .unwrap_err();
        assert!(err.to_string().contains("over the 768"), "{err}");
        // Nothing to do, a kid a device cannot hold, a bad device id: refused.
        assert!(root.sign_trust(&device, 1, &[], &[]).is_err());
        assert!(
            root.sign_trust("door-1", 1, &[], &["x".repeat(33)])
                .is_err()
        );
        assert!(root.sign_trust("door:1", 1, &refs[..1], &[]).is_err());
        // RS256: one 2048-bit key fits alone beside a short device id.
        let rsa = rsa_command_key("rs");
        assert!(root.sign_trust("door-1", 1, &[&rsa], &[]).is_ok());
        assert!(
            root.sign_trust(&device, u32::MAX, &[&rsa, refs[0]], &retire)
                .is_err()
        );
    }

    #[test]
    fn command_kids_are_at_most_what_a_device_holds() {
        let long = "k".repeat(MAX_KID_LEN + 1);
        let err = CommandKey::generate(Algorithm::EdDsa, long.clone(), 0).unwrap_err();
        assert!(err.to_string().contains("1-32 bytes"), "{err}");
        assert!(CommandKey::from_private(Algorithm::EdDsa, long, 0, &[7; 32]).is_err());
        assert!(CommandKey::generate(Algorithm::EdDsa, "k".repeat(MAX_KID_LEN), 0).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn files_owned_by_another_user_are_refused_naming_chown() {
        let path = Path::new("/srv/keys.json");
        assert!(check_owner(path, 1000, 1000).is_ok());
        let err = check_owner(path, 0, 1000).unwrap_err().to_string();
        assert!(err.contains("owned by uid 0"), "{err}");
        assert!(err.contains("chown 1000 /srv/keys.json"), "{err}");
    }

    /// A wrapped key opens only under its KEK and for its own ring, `kid` and
    /// algorithm; a wrong KEK is refused with a message naming the key file;
    /// two wraps of one key differ (random nonces).
    #[test]
    fn wrapped_keys_open_only_where_they_were_sealed() {
        let kek = Kek::from_master(&[7; 32]);
        let secret = [9u8; 32];
        let w = kek
            .wrap(Ring::Command, "c-1", Algorithm::EdDsa, &secret)
            .unwrap();
        assert_eq!(w.len(), WRAP_NONCE_LEN + 32 + 16);
        assert!(!w.windows(32).any(|win| win == secret));
        assert_ne!(
            w,
            kek.wrap(Ring::Command, "c-1", Algorithm::EdDsa, &secret)
                .unwrap()
        );
        let open = |k: &Kek, ring, kid, alg, w: &[u8]| k.unwrap(ring, kid, alg, w);
        assert_eq!(
            open(&kek, Ring::Command, "c-1", Algorithm::EdDsa, &w).unwrap(),
            secret
        );
        let wrong = Kek::from_master(&[8; 32]);
        let err = open(&wrong, Ring::Command, "c-1", Algorithm::EdDsa, &w).unwrap_err();
        assert!(err.to_string().contains("key-encryption key"), "{err}");
        assert!(open(&kek, Ring::Session, "c-1", Algorithm::EdDsa, &w).is_err());
        assert!(open(&kek, Ring::Command, "c-2", Algorithm::EdDsa, &w).is_err());
        assert!(open(&kek, Ring::Command, "c-1", Algorithm::Es256, &w).is_err());
        assert!(open(&kek, Ring::Command, "c-1", Algorithm::EdDsa, &w[..20]).is_err());
        // The KEK is not the device key of any device id: another salt.
        assert_ne!(kek.0, derive_device_key(&[7; 32], "key-ring-wrap"));
    }

    #[test]
    fn random_ids_are_22_chars_and_distinct() {
        let a = random_id().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, random_id().unwrap());
    }
}
