//! Secret material: the key file, the development keys, and device-key derivation.
//!
//! The key file is JSON:
//! `{"master_secret": HEX, "signing_keys": [{"kid": "k1", "secret": HEX}, ...]}`.
//! The first signing key signs; every listed key verifies, so a key is rotated by
//! putting a new one first and dropping the old one once its tokens have expired.

use crate::error::Error;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;

/// The HKDF salt of device keys: the contract's, which the firmware build uses too.
pub use latchkey_protocol::DEVICE_KEY_SALT;

/// Environment variable that may hold the whole key file's JSON instead of a file.
pub const KEYS_ENV: &str = "LATCHKEY_KEYS_JSON";

/// Shortest secret accepted anywhere (HS256 needs 32 bytes, RFC 7518 section 3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// One HS256 signing key with its `kid`.
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

/// All secrets the server holds.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySet {
    /// Master secret from which device keys are derived (never stored per device).
    pub master_secret: Vec<u8>,
    /// Token signing keys; the first one signs, all of them verify.
    pub signing_keys: Vec<SigningKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("signing_keys", &self.signing_keys)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    master_secret: String,
    signing_keys: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyFileEntry {
    kid: String,
    secret: String,
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

impl KeySet {
    /// DEVELOPMENT ONLY: the fixed demo keys (master secret = bytes 00..1f, signing
    /// key `dev-1` = bytes 20..3f). Anyone can read them here; never deploy them.
    #[must_use]
    pub fn development() -> Self {
        KeySet {
            master_secret: (0u8..32).collect(),
            signing_keys: vec![SigningKey {
                kid: "dev-1".into(),
                secret: (32u8..64).collect(),
            }],
        }
    }

    /// Fresh random keys (32-byte master secret, one 32-byte signing key).
    ///
    /// # Errors
    /// [`Error::Internal`] if the OS random source fails.
    pub fn generate() -> Result<Self, Error> {
        let mut master = vec![0u8; 32];
        random_bytes(&mut master)?;
        let mut secret = vec![0u8; 32];
        random_bytes(&mut secret)?;
        let mut kid_raw = [0u8; 4];
        random_bytes(&mut kid_raw)?;
        Ok(KeySet {
            master_secret: master,
            signing_keys: vec![SigningKey {
                kid: format!("k-{}", to_hex(&kid_raw)),
                secret,
            }],
        })
    }

    /// Parses and checks the key file's JSON.
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem: bad JSON or hex, no signing key,
    /// duplicate or empty `kid`, or a secret shorter than 32 bytes.
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
        if file.signing_keys.is_empty() {
            return Err(Error::Config("signing_keys is empty".into()));
        }
        let mut signing_keys: Vec<SigningKey> = Vec::new();
        for entry in file.signing_keys {
            if entry.kid.is_empty() || entry.kid.len() > 64 {
                return Err(Error::Config("a signing key kid must be 1-64 bytes".into()));
            }
            if signing_keys.iter().any(|k| k.kid == entry.kid) {
                return Err(Error::Config(format!("duplicate kid {:?}", entry.kid)));
            }
            let secret = from_hex(&entry.secret)
                .map_err(|e| Error::Config(format!("signing key {:?}: {e}", entry.kid)))?;
            if secret.len() < MIN_SECRET_LEN {
                return Err(Error::Config(format!(
                    "signing key {:?} is {} bytes; at least {MIN_SECRET_LEN} are required",
                    entry.kid,
                    secret.len()
                )));
            }
            signing_keys.push(SigningKey {
                kid: entry.kid,
                secret,
            });
        }
        Ok(KeySet {
            master_secret,
            signing_keys,
        })
    }

    /// The key file's JSON for these keys.
    #[must_use]
    pub fn to_json(&self) -> String {
        let file = KeyFile {
            comment: Some(
                "Latchkey server secrets. Keep this file private (mode 0600). \
                 The first signing key signs; all listed keys verify."
                    .into(),
            ),
            master_secret: to_hex(&self.master_secret),
            signing_keys: self
                .signing_keys
                .iter()
                .map(|k| KeyFileEntry {
                    kid: k.kid.clone(),
                    secret: to_hex(&k.secret),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Loads the keys: DEVELOPMENT ONLY keys if `dev` is set, else the JSON in
    /// `$LATCHKEY_KEYS_JSON` if set, else the key file at `path`, which is created
    /// with fresh random keys (mode 0600) if absent.
    ///
    /// # Errors
    /// [`Error::Config`] if the file or variable cannot be read or is invalid.
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

    /// The 32-byte HS256 key of `device_id`: HKDF-SHA256(master secret, salt
    /// `latchkey-device-key-v1`, info = the id's bytes).
    #[must_use]
    pub fn device_key(&self, device_id: &str) -> [u8; 32] {
        derive_device_key(&self.master_secret, device_id)
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
/// 0600 or stricter (no group or other bits). Used for the key file and the TLS
/// private key.
///
/// # Errors
/// [`Error::Config`] naming the file, its mode, and the `chmod` that fixes it.
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
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
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

    #[test]
    fn random_ids_are_22_chars_and_distinct() {
        let a = random_id().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, random_id().unwrap());
    }
}
