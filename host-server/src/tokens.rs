//! Issuing and checking tokens, only through latchkey-core.
//!
//! Access (`typ` `at+jwt`) and refresh (`typ` `rt+jwt`) tokens are signed by the
//! session ring's first key (HS256, or EdDSA, ES256 or RS256 whose public half is
//! published) with a `kid` naming it; each key has its own verifiers, bound to its
//! algorithm, and each kind its own, whose `typ` check keeps one kind from passing
//! as the other. Command tokens
//! (`typ` `lk-cmd+jwt`, claims `latchkey_protocol::CommandClaims`) are signed with
//! the device's derived key.

use crate::error::Error;
use crate::keys::{CommandKey, KeySet, SessionKey, random_id};
use latchkey_core::{
    Algorithm, ClaimSet, Claims, HeaderParams, JsonStr, Key, Validation, Verifier, untrusted_header,
};
use latchkey_protocol::{Command, CommandClaims, DeviceId, MAX_LIFETIME};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The `iss` of every token this server issues: the contract's issuer.
pub use latchkey_protocol::ISSUER;
/// `typ` of access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` of refresh tokens.
pub const REFRESH_TYP: &str = "rt+jwt";
/// `typ` of device command tokens: the contract's.
pub use latchkey_protocol::COMMAND_TOKEN_TYPE as COMMAND_TYP;
/// Clock skew tolerated on the server's own tokens, in seconds.
pub const SERVER_LEEWAY: u64 = 5;
/// Longest token accepted (latchkey-core's default).
pub const MAX_TOKEN_LEN: usize = 4096;

/// What the store handed out for one command token before it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandTicket<'a> {
    /// The token's `jti`.
    pub jti: &'a str,
    /// The device's sequence number for it.
    pub seq: u64,
    /// The algorithm of the device's command tokens.
    pub alg: Algorithm,
}

/// Refuses a command no command token may grant: `trust`, which only a trust
/// statement signed by the root key authorizes.
///
/// # Errors
/// [`Error::Malformed`] for [`Command::Trust`], naming what to use instead.
pub fn grantable(command: Command) -> Result<(), Error> {
    if command.is_grantable() {
        Ok(())
    } else {
        Err(Error::Malformed(format!(
            "{} is never issued as a command token: trust statements are signed with the \
             root key (`latchkey-server device trust`) and delivered with \
             POST /devices/{{id}}/trust",
            command.name()
        )))
    }
}

/// Token lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Access tokens (default 15 min).
    pub access: Duration,
    /// Refresh tokens (default 30 days).
    pub refresh: Duration,
    /// Device command tokens (default 60 s; at most the contract's
    /// [`MAX_LIFETIME`], 300 s, which the device enforces).
    pub command: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            access: Duration::from_secs(15 * 60),
            refresh: Duration::from_secs(30 * 24 * 3600),
            command: Duration::from_secs(60),
        }
    }
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[derive(Serialize)]
struct AccessOut<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: &'a str,
    fam: &'a str,
    fresh: bool,
}

#[derive(Serialize)]
struct RefreshOut<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: &'a str,
    fam: &'a str,
}

/// A signed token with the facts the server records about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The compact JWS.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`.
    pub exp: i64,
}

/// The claims of a verified access or refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// `sub`: the username.
    pub sub: String,
    /// `jti`.
    pub jti: String,
    /// `fam`: the refresh family the token belongs to.
    pub fam: String,
    /// `iat`.
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
    /// `fresh`: issued by a password login, not by a refresh (access tokens only).
    pub fresh: bool,
}

/// Which kind of server token to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `at+jwt`.
    Access,
    /// `rt+jwt`.
    Refresh,
}

struct KeyEntry {
    access: Verifier<'static>,
    refresh: Verifier<'static>,
    /// The exact header segments this server writes with this key, access then
    /// refresh: a token whose first segment is one of them names this key, found
    /// without decoding the header twice (the verifier still checks all of it).
    headers: [String; 2],
}

impl KeyEntry {
    fn verifier(&self, kind: Kind) -> &Verifier<'static> {
        match kind {
            Kind::Access => &self.access,
            Kind::Refresh => &self.refresh,
        }
    }

    fn header(&self, kind: Kind) -> &str {
        let [access, refresh] = &self.headers;
        match kind {
            Kind::Access => access,
            Kind::Refresh => refresh,
        }
    }
}

/// A session key's signing half: the HMAC key, or the private key.
enum SessionSigner {
    Hmac(Box<Key>),
    Private(Box<CommandKey>),
}

impl SessionSigner {
    /// The signer of `key` and its verifying key, bound to its algorithm.
    fn of(key: &SessionKey) -> Result<(Self, Key), Error> {
        let bad =
            |e: latchkey_core::Error| Error::Config(format!("session key {:?}: {e}", key.kid()));
        match key {
            SessionKey::Hmac(k) => {
                let key = Key::new(Algorithm::Hs256, &k.secret).map_err(bad)?;
                Ok((SessionSigner::Hmac(Box::new(key.clone())), key))
            }
            SessionKey::Private(k) => {
                let public = k.public_key().map_err(bad)?;
                Ok((SessionSigner::Private(k.clone()), public))
            }
        }
    }
}

impl latchkey_core::Signer for SessionSigner {
    fn algorithm(&self) -> Algorithm {
        match self {
            SessionSigner::Hmac(k) => latchkey_core::Signer::algorithm(k.as_ref()),
            SessionSigner::Private(k) => latchkey_core::Signer::algorithm(k.as_ref()),
        }
    }

    fn signature_len(&self) -> usize {
        match self {
            SessionSigner::Hmac(k) => k.as_ref().signature_len(),
            SessionSigner::Private(k) => k.as_ref().signature_len(),
        }
    }

    fn sign(&self, input: &[u8], out: &mut [u8]) -> Result<usize, latchkey_core::Error> {
        match self {
            SessionSigner::Hmac(k) => latchkey_core::Signer::sign(k.as_ref(), input, out),
            SessionSigner::Private(k) => latchkey_core::Signer::sign(k.as_ref(), input, out),
        }
    }
}

/// Signs and verifies the server's tokens.
pub struct TokenService {
    signer: SessionSigner,
    signer_kid: String,
    /// By `kid`; a handful of keys, so a list (no hashing, no owned `kid`).
    verifiers: Vec<(String, KeyEntry)>,
    master: Vec<u8>,
    /// The command ring's signing key of each algorithm (its first of that one).
    command_signers: Vec<CommandKey>,
    /// Devices whose command tokens the ring signs; the others get HS256.
    device_algs: BTreeMap<String, Algorithm>,
    /// The public session keys and the command ring, the body of
    /// `GET /.well-known/jwks.json`.
    jwks: String,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("signer_kid", &self.signer_kid)
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

fn server_validation(typ: &'static str) -> Validation<'static> {
    Validation {
        leeway: SERVER_LEEWAY,
        required: ClaimSet::EXP
            .union(ClaimSet::NBF)
            .union(ClaimSet::IAT)
            .union(ClaimSet::ISS)
            .union(ClaimSet::SUB)
            .union(ClaimSet::JTI),
        issuer: Some(ISSUER),
        audience: None,
        typ: Some(typ),
        ..Validation::new()
    }
}

/// Copies a JSON string out of the scratch buffer, unescaping if needed.
fn owned(s: JsonStr<'_>) -> Result<String, latchkey_core::Error> {
    if let Some(plain) = s.as_str() {
        return Ok(plain.to_owned());
    }
    let mut buf = [0u8; 1024];
    s.decode_into(&mut buf).map(str::to_owned)
}

fn code(e: latchkey_core::Error) -> Error {
    Error::InvalidToken(e.code())
}

impl TokenService {
    /// Builds the service from the key set; the session ring's first key signs.
    ///
    /// # Errors
    /// [`Error::Config`] if the key set has no session key or a key is unusable, or
    /// if the command token lifetime is over [`MAX_LIFETIME`] (every device would
    /// refuse such tokens).
    pub fn new(keys: &KeySet, lifetimes: Lifetimes) -> Result<Self, Error> {
        if lifetimes.command > Duration::from_secs(MAX_LIFETIME) {
            return Err(Error::Config(format!(
                "command token lifetime {} s: devices refuse tokens that live over {MAX_LIFETIME} s",
                lifetimes.command.as_secs_f64()
            )));
        }
        let first = keys
            .session_keys
            .first()
            .ok_or_else(|| Error::Config("no session key".into()))?;
        let mut verifiers = Vec::new();
        for k in &keys.session_keys {
            verifiers.push((k.kid().to_owned(), Self::key_entry(k)?));
        }
        Ok(TokenService {
            signer: SessionSigner::of(first)?.0,
            signer_kid: first.kid().to_owned(),
            verifiers,
            master: keys.master_secret.clone(),
            command_signers: crate::keys::COMMAND_ALGS
                .iter()
                .filter_map(|alg| keys.command_signer(*alg).cloned())
                .collect(),
            device_algs: keys.device_command_algs.clone(),
            jwks: keys.jwks().to_string(),
            lifetimes,
        })
    }

    /// The verifiers of one session key, each bound to the key's algorithm (so
    /// an HS256 header under a public key's `kid` is `wrong-alg`), and the
    /// header segments this server writes with it.
    fn key_entry(k: &SessionKey) -> Result<KeyEntry, Error> {
        let (signer, key) = SessionSigner::of(k)?;
        let header = |typ| -> Result<String, Error> {
            let token = Self::sign(&signer, typ, Some(k.kid()), &serde_json::json!({}))?;
            Ok(token.split('.').next().unwrap_or_default().to_owned())
        };
        Ok(KeyEntry {
            headers: [header(ACCESS_TYP)?, header(REFRESH_TYP)?],
            access: Verifier::new(key.clone(), server_validation(ACCESS_TYP)),
            refresh: Verifier::new(key, server_validation(REFRESH_TYP)),
        })
    }

    fn sign<T: Serialize, S: latchkey_core::Signer>(
        key: &S,
        typ: &str,
        kid: Option<&str>,
        claims: &T,
    ) -> Result<String, Error> {
        let mut scratch = [0u8; 1536];
        let mut out = [0u8; 2560];
        latchkey_core::sign_json(
            key,
            &HeaderParams {
                typ: Some(typ),
                kid,
            },
            claims,
            &mut scratch,
            &mut out,
        )
        .map(str::to_owned)
        .map_err(|e| Error::Internal(format!("signing failed: {e}")))
    }

    /// Issues an access token for `sub` in refresh family `fam`.
    ///
    /// # Errors
    /// [`Error::Internal`] if signing or the random source fails (e.g. a username
    /// too long for the buffers, which the HTTP layer prevents).
    pub fn issue_access(
        &self,
        sub: &str,
        fam: &str,
        fresh: bool,
        now: i64,
    ) -> Result<Issued, Error> {
        let jti = random_id()?;
        let exp = now.saturating_add(secs(self.lifetimes.access));
        let claims = AccessOut {
            iss: ISSUER,
            sub,
            iat: now,
            nbf: now,
            exp,
            jti: &jti,
            fam,
            fresh,
        };
        let token = Self::sign(&self.signer, ACCESS_TYP, Some(&self.signer_kid), &claims)?;
        Ok(Issued { token, jti, exp })
    }

    /// Issues a refresh token for `sub` in refresh family `fam`.
    ///
    /// # Errors
    /// As [`TokenService::issue_access`].
    pub fn issue_refresh(&self, sub: &str, fam: &str, now: i64) -> Result<Issued, Error> {
        let jti = random_id()?;
        let exp = now.saturating_add(secs(self.lifetimes.refresh));
        let claims = RefreshOut {
            iss: ISSUER,
            sub,
            iat: now,
            nbf: now,
            exp,
            jti: &jti,
            fam,
        };
        let token = Self::sign(&self.signer, REFRESH_TYP, Some(&self.signer_kid), &claims)?;
        Ok(Issued { token, jti, exp })
    }

    /// Issues a command token for `device`, granting `command` (its name as the
    /// `scope`, its argument as `arg`) with the `jti` and `seq` the store handed
    /// out ([`crate::store::Store::issue_command`]): signed by the command ring's
    /// key of `ticket.alg` (with its `kid`), or for HS256 with the device's
    /// derived key (no `kid`), as devices with an HMAC key verify.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a device id outside the contract's syntax or a
    /// command no token grants (`trust`); [`Error::Internal`] if the ring has no
    /// key of the algorithm; otherwise as [`TokenService::issue_access`].
    pub fn issue_command(
        &self,
        sub: &str,
        device: &str,
        command: Command,
        now: i64,
        ticket: &CommandTicket<'_>,
    ) -> Result<Issued, Error> {
        grantable(command)?;
        let device = DeviceId::new(device).map_err(|e| Error::Malformed(e.to_string()))?;
        let claims = CommandClaims::new(
            sub,
            device,
            command,
            now,
            self.lifetimes.command.as_secs(),
            ticket.jti,
            ticket.seq,
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        let token = if ticket.alg == Algorithm::Hs256 {
            let device_key = crate::keys::derive_device_key(&self.master, device.as_str());
            let key = Key::new(Algorithm::Hs256, &device_key)
                .map_err(|e| Error::Internal(format!("device key: {e}")))?;
            Self::sign(&key, COMMAND_TYP, None, &claims)?
        } else {
            let signer = self.command_signer(ticket.alg)?;
            Self::sign(signer, COMMAND_TYP, Some(&signer.kid), &claims)?
        };
        Ok(Issued {
            token,
            jti: ticket.jti.to_owned(),
            exp: claims.exp,
        })
    }

    /// The command ring's key that signs for `alg`.
    ///
    /// # Errors
    /// [`Error::Internal`] naming the `keys rotate` that adds one, if there is none.
    pub fn command_signer(&self, alg: Algorithm) -> Result<&CommandKey, Error> {
        self.command_signers
            .iter()
            .find(|k| k.algorithm() == alg)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "no {alg} command key; run `latchkey-server keys rotate --ring command --alg {alg}`"
                ))
            })
    }

    /// `exp` of a command token issued at `now`.
    #[must_use]
    pub fn command_expiry(&self, now: i64) -> i64 {
        now.saturating_add(secs(self.lifetimes.command))
    }

    /// The algorithm of `device`'s command tokens: `stored`, the store's (see
    /// [`crate::store::Device::command_alg`]), else the key file's binding
    /// (devices registered before the store kept it), else HS256.
    ///
    /// # Errors
    /// [`Error::Internal`] if `stored` is no algorithm name.
    pub fn command_alg(&self, device: &str, stored: Option<&str>) -> Result<Algorithm, Error> {
        match stored {
            Some(name) => Algorithm::from_name(name)
                .map_err(|_| Error::Internal(format!("device {device:?}: algorithm {name:?}"))),
            None => Ok(self
                .device_algs
                .get(device)
                .copied()
                .unwrap_or(Algorithm::Hs256)),
        }
    }

    /// The published JWK Set, JSON text: the public session keys and the
    /// command ring (never an HS256 key).
    #[must_use]
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// Verifies a server token of `kind` at `now`: the key is picked by `kid`, then
    /// latchkey-core checks signature, `typ`, `iss`, times and required claims.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with latchkey-core's reason code, `unknown-key` for a
    /// `kid` the server does not have, or `missing-claim` when `fam` is absent.
    pub fn verify(&self, token: &str, kind: Kind, now: i64) -> Result<Verified, Error> {
        let bytes = token.as_bytes();
        if bytes.len() > MAX_TOKEN_LEN {
            return Err(code(latchkey_core::Error::TokenTooLarge));
        }
        // The verifier needs at most the token's length; zeroing 4 KiB for every
        // ~300-byte access token cost more than the HMAC's key schedule.
        let mut small = [0u8; 512];
        let mut large;
        let scratch: &mut [u8] = if bytes.len() <= small.len() {
            &mut small
        } else {
            large = [0u8; MAX_TOKEN_LEN];
            &mut large
        };
        let first = bytes.split(|&b| b == b'.').next().unwrap_or_default();
        let known = self
            .verifiers
            .iter()
            .find(|(_, entry)| entry.header(kind).as_bytes() == first);
        let entry = match known {
            Some((_, entry)) => entry,
            None => {
                let header = untrusted_header(bytes, scratch).map_err(code)?;
                let kid = header.kid().ok_or(Error::InvalidToken("unknown-key"))?;
                self.verifiers
                    .iter()
                    .find_map(|(k, entry)| kid.eq_str(k).then_some(entry))
                    .ok_or(Error::InvalidToken("unknown-key"))?
            }
        };
        let verifier = entry.verifier(kind);
        let now = u64::try_from(now).unwrap_or(0);
        let claims = verifier.verify(bytes, now, scratch).map_err(code)?;
        extract(&claims, kind)
    }
}

fn extract(claims: &Claims<'_>, kind: Kind) -> Result<Verified, Error> {
    let missing = Error::InvalidToken("missing-claim");
    let bad = Error::InvalidToken("bad-claim");
    let sub = owned(claims.sub().ok_or_else(|| missing.clone())?).map_err(code)?;
    let jti = owned(claims.jti().ok_or_else(|| missing.clone())?).map_err(code)?;
    let fam = claims.get("fam").ok_or_else(|| missing.clone())?;
    let fam = owned(fam.as_str().ok_or_else(|| bad.clone())?).map_err(code)?;
    let fresh = match (kind, claims.get("fresh")) {
        (Kind::Access, Some(v)) => v.as_bool().ok_or_else(|| bad.clone())?,
        _ => false,
    };
    Ok(Verified {
        sub,
        jti,
        fam,
        iat: claims.iat().ok_or_else(|| missing.clone())?,
        exp: claims.exp().ok_or(missing)?,
        fresh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Ring, SessionKey, SigningKey};

    fn service() -> TokenService {
        TokenService::new(&KeySet::development(), Lifetimes::default()).unwrap()
    }

    /// A ticket for `alg` with a fixed 22-character `jti` and sequence number 7.
    fn ticket(alg: Algorithm) -> CommandTicket<'static> {
        CommandTicket {
            jti: "jjjjjjjjjjjjjjjjjjjjjj",
            seq: 7,
            alg,
        }
    }

    #[test]
    fn access_and_refresh_round_trip_and_do_not_pass_as_each_other() {
        let s = service();
        let now = 1_700_000_000;
        let a = s.issue_access("alice", "fam1", true, now).unwrap();
        let v = s.verify(&a.token, Kind::Access, now + 10).unwrap();
        assert_eq!(
            (v.sub.as_str(), v.fam.as_str(), v.fresh),
            ("alice", "fam1", true)
        );
        assert_eq!(v.jti, a.jti);
        assert_eq!(v.exp, now + 900);
        assert_eq!(
            s.verify(&a.token, Kind::Refresh, now),
            Err(Error::InvalidToken("wrong-type"))
        );
        let r = s.issue_refresh("alice", "fam1", now).unwrap();
        assert_eq!(s.verify(&r.token, Kind::Refresh, now).unwrap().jti, r.jti);
        assert_eq!(
            s.verify(&r.token, Kind::Access, now),
            Err(Error::InvalidToken("wrong-type"))
        );
        assert_eq!(
            s.verify(&a.token, Kind::Access, now + 1000),
            Err(Error::InvalidToken("expired"))
        );
    }

    /// Token lengths on both sides of the 512-byte scratch, and across it.
    #[test]
    fn tokens_past_the_small_scratch_verify_too() {
        let s = service();
        let mut lengths = Vec::new();
        for len in 150..=220 {
            let name = "n".repeat(len);
            let a = s.issue_access(&name, "f", false, 100).unwrap();
            assert_eq!(s.verify(&a.token, Kind::Access, 100).unwrap().sub, name);
            lengths.push(a.token.len());
        }
        assert!(lengths.contains(&512), "{lengths:?}");
        assert!(lengths.first() < Some(&500) && lengths.last() > Some(&530));
    }

    #[test]
    fn unicode_and_quote_usernames_survive() {
        let s = service();
        let name = "zoë \"the\" \\ admin 🦀";
        let a = s.issue_access(name, "f", false, 100).unwrap();
        assert_eq!(s.verify(&a.token, Kind::Access, 100).unwrap().sub, name);
    }

    #[test]
    fn rotated_keys_verify_old_tokens_and_unknown_kids_fail() {
        let old = service();
        let now = 1_000;
        let t = old.issue_access("alice", "f", true, now).unwrap();
        let mut keys = KeySet::development();
        keys.session_keys.insert(
            0,
            SessionKey::Hmac(SigningKey {
                kid: "new".into(),
                secret: vec![9; 32],
            }),
        );
        let rotated = TokenService::new(&keys, Lifetimes::default()).unwrap();
        assert!(rotated.verify(&t.token, Kind::Access, now).is_ok());
        let fresh = rotated.issue_access("alice", "f", true, now).unwrap();
        assert_eq!(
            old.verify(&fresh.token, Kind::Access, now),
            Err(Error::InvalidToken("unknown-key"))
        );
    }

    /// A header this server would not write (members reordered) still finds its
    /// key by `kid`, and one naming the refresh type fails as the wrong type: the
    /// header-segment shortcut only ever picks the key the header names.
    #[test]
    fn headers_written_elsewhere_find_their_key_by_kid() {
        use base64ct::{Base64UrlUnpadded, Encoding};
        use hkdf::hmac::{Hmac, KeyInit, Mac};
        let s = service();
        let keys = KeySet::development();
        let SessionKey::Hmac(key) = &keys.session_keys[0] else {
            panic!("the development session key is HS256")
        };
        let now = 1_000;
        let issued = s.issue_access("alice", "f", true, now).unwrap();
        let payload = issued.token.split('.').nth(1).unwrap();
        let sign = |header: &str| {
            let input = format!(
                "{}.{payload}",
                Base64UrlUnpadded::encode_string(header.as_bytes())
            );
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key.secret).unwrap();
            mac.update(input.as_bytes());
            let tag = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
            format!("{input}.{tag}")
        };
        let reordered = sign(&format!(
            r#"{{"kid":"{}","typ":"at+jwt","alg":"HS256"}}"#,
            key.kid
        ));
        assert_ne!(reordered.split('.').next(), issued.token.split('.').next());
        assert_eq!(
            s.verify(&reordered, Kind::Access, now).unwrap().jti,
            issued.jti
        );
        let other = sign(r#"{"alg":"HS256","typ":"at+jwt","kid":"nope"}"#);
        assert_eq!(
            s.verify(&other, Kind::Access, now),
            Err(Error::InvalidToken("unknown-key"))
        );
        let refresh = sign(&format!(
            r#"{{"alg":"HS256","typ":"rt+jwt","kid":"{}"}}"#,
            key.kid
        ));
        assert_eq!(
            s.verify(&refresh, Kind::Access, now),
            Err(Error::InvalidToken("wrong-type"))
        );
    }

    /// After a rotation to a public-key session key, tokens are signed by it
    /// (its `alg` and `kid` in the header), the HS256 tokens from before still
    /// verify until their key is retired, and a token with an HS256 header
    /// under the public key's `kid`, MACed with its public bytes (the classic
    /// algorithm confusion), is refused as `wrong-alg`.
    #[test]
    fn public_session_keys_sign_and_the_old_hmac_key_verifies_until_retired() {
        use base64ct::{Base64UrlUnpadded, Encoding};
        use hkdf::hmac::{Hmac, KeyInit, Mac};
        let now = 1_000;
        let old = service().issue_access("alice", "f", true, now).unwrap();
        for alg in [Algorithm::EdDsa, Algorithm::Es256] {
            let mut keys = KeySet::development();
            let kid = keys.rotate(Ring::Session, Some(alg)).unwrap();
            let s = TokenService::new(&keys, Lifetimes::default()).unwrap();
            let t = s.issue_access("alice", "f", true, now).unwrap();
            let r = s.issue_refresh("alice", "f", now).unwrap();
            let header = untrusted_header(t.token.as_bytes(), &mut [0u8; 1024])
                .map(|h| {
                    let alg = h.alg().map(|a| a.raw().to_owned());
                    (alg, h.kid().map(|k| k.raw().to_owned()))
                })
                .unwrap();
            assert_eq!(header, (Some(alg.name().to_owned()), Some(kid.clone())));
            assert_eq!(s.verify(&t.token, Kind::Access, now).unwrap().jti, t.jti);
            assert_eq!(s.verify(&r.token, Kind::Refresh, now).unwrap().jti, r.jti);
            assert!(s.verify(&old.token, Kind::Access, now).is_ok());
            let jwks: serde_json::Value = serde_json::from_str(s.jwks()).unwrap();
            let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
            let input = format!(
                "{}.{}",
                Base64UrlUnpadded::encode_string(
                    format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#).as_bytes()
                ),
                t.token.split('.').nth(1).unwrap()
            );
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(x.as_bytes()).unwrap();
            mac.update(input.as_bytes());
            let tag = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
            assert_eq!(
                s.verify(&format!("{input}.{tag}"), Kind::Access, now),
                Err(Error::InvalidToken("wrong-alg"))
            );
            keys.retire(Ring::Session, "dev-1").unwrap();
            let retired = TokenService::new(&keys, Lifetimes::default()).unwrap();
            assert_eq!(
                retired.verify(&old.token, Kind::Access, now),
                Err(Error::InvalidToken("unknown-key"))
            );
            assert!(retired.verify(&t.token, Kind::Access, now).is_ok());
        }
    }

    #[test]
    fn command_tokens_verify_only_with_their_device_key() {
        let s = service();
        let t = s
            .issue_command(
                "alice",
                "door-1",
                Command::Open,
                500,
                &ticket(Algorithm::Hs256),
            )
            .unwrap();
        let keys = KeySet::development();
        let check = |device: &str| {
            let key = Key::new(Algorithm::Hs256, &keys.device_key(device)).unwrap();
            let v = Verifier::new(
                key,
                Validation {
                    audience: Some("door-1"),
                    typ: Some(COMMAND_TYP),
                    leeway: 0,
                    ..Validation::new()
                },
            );
            let mut scratch = [0u8; 1024];
            v.verify(t.token.as_bytes(), 510, &mut scratch).map(|c| {
                let scope = c
                    .get("scope")
                    .and_then(|v| v.as_str())
                    .map(|s| s.raw().to_owned());
                let seq = c.get("seq").and_then(|v| v.as_i64());
                (c.exp(), scope, c.jti().map(|j| j.raw().len()), seq)
            })
        };
        assert_eq!(
            check("door-1"),
            Ok((Some(560), Some("open".to_owned()), Some(22), Some(7)))
        );
        assert_eq!(check("door-2"), Err(latchkey_core::Error::BadSignature));
    }

    /// The largest command token the server writes: an EdDSA token whose header
    /// names a 32-byte `kid`, the longest user name (128 bytes, each a `"` that
    /// JSON escapes to two), the longest device id, `led 255`, a 22-character
    /// `jti` and a 16-digit `seq`. It fits what a device reads, with the exact
    /// figure the contract's limits.rs is built on.
    #[test]
    fn the_largest_command_token_fits_the_device() {
        use latchkey_protocol::limits::{
            ED25519_SIGNATURE_LEN, MAX_SIGNING_INPUT_LEN, MAX_TOKEN_LEN, max_token_len,
        };
        let mut keys = KeySet::development();
        let kid = "k".repeat(latchkey_protocol::MAX_KID_LEN);
        keys.command_keys.insert(
            0,
            CommandKey::generate(Algorithm::EdDsa, kid.clone(), 0).unwrap(),
        );
        let s = TokenService::new(&keys, Lifetimes::default()).unwrap();
        let user = "\"".repeat(crate::api::MAX_USERNAME);
        let device = "d".repeat(latchkey_protocol::MAX_DEVICE_ID_LEN);
        let seq = 9_007_199_254_740_992; // MAX_SEQ = 2^53, 16 digits
        assert_eq!(seq, latchkey_protocol::MAX_SEQ);
        let t = s
            .issue_command(
                &user,
                &device,
                Command::Led(255),
                1_800_000_000,
                &CommandTicket {
                    seq,
                    ..ticket(Algorithm::EdDsa)
                },
            )
            .unwrap();
        let header = untrusted_header(t.token.as_bytes(), &mut [0u8; 1024])
            .map(|h| h.kid().map(|k| k.raw().to_owned()))
            .unwrap();
        assert_eq!(header.as_deref(), Some(kid.as_str()));
        let signing_input = t.token.rsplit_once('.').unwrap().0;
        assert!(t.token.len() <= max_token_len(ED25519_SIGNATURE_LEN));
        assert!(t.token.len() <= MAX_TOKEN_LEN);
        assert!(
            signing_input.len() <= MAX_SIGNING_INPUT_LEN,
            "{}",
            signing_input.len()
        );
        // The figure latchkey-protocol's limits.rs rests on (768 leaves this much room).
        assert_eq!(signing_input.len(), 748);
    }

    /// A device bound to EdDSA gets tokens the ring's current Ed25519 key signs
    /// (its `kid` in the header), which verify with the public key from the JWK
    /// Set; a device with no binding still gets HS256 under its derived key.
    #[test]
    fn bound_devices_get_ring_signed_tokens_and_the_others_hmac() {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let mut keys = KeySet::development();
        keys.device_command_algs
            .insert("door-ed".into(), Algorithm::EdDsa);
        let s = TokenService::new(&keys, Lifetimes::default()).unwrap();
        assert_eq!(s.command_alg("door-ed", None).unwrap(), Algorithm::EdDsa);
        assert_eq!(s.command_alg("door-1", None).unwrap(), Algorithm::Hs256);
        // The store's algorithm comes first; the key file's binding is the fallback.
        assert_eq!(
            s.command_alg("door-ed", Some("HS256")).unwrap(),
            Algorithm::Hs256
        );
        assert!(s.command_alg("door-1", Some("none")).is_err());
        let t = s
            .issue_command(
                "alice",
                "door-ed",
                Command::Open,
                500,
                &ticket(Algorithm::EdDsa),
            )
            .unwrap();
        let jwks: serde_json::Value = serde_json::from_str(s.jwks()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kid"], "dev-cmd-1");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        let x = Base64UrlUnpadded::decode_vec(jwk["x"].as_str().unwrap()).unwrap();
        let mut ring: latchkey_core::KeySet<2> = latchkey_core::KeySet::new();
        ring.insert(
            Some("dev-cmd-1"),
            Key::ed25519(Algorithm::EdDsa, &x).unwrap(),
        )
        .unwrap();
        let v = Verifier::with_keys(
            ring,
            Validation {
                audience: Some("door-ed"),
                typ: Some(COMMAND_TYP),
                leeway: 0,
                ..Validation::new()
            },
        );
        let mut scratch = [0u8; 1024];
        let claims = v.verify(t.token.as_bytes(), 510, &mut scratch).unwrap();
        assert_eq!(claims.jti().map(|j| j.raw().to_owned()), Some(t.jti));
        let header = untrusted_header(t.token.as_bytes(), &mut [0u8; 1024])
            .map(|h| h.kid().map(|k| k.raw().to_owned()))
            .unwrap();
        assert_eq!(header.as_deref(), Some("dev-cmd-1"));
        // The HMAC device's token does not verify with the ring, and the other way.
        let hmac = s
            .issue_command(
                "alice",
                "door-1",
                Command::Open,
                500,
                &ticket(Algorithm::Hs256),
            )
            .unwrap();
        let mut scratch = [0u8; 1024];
        assert!(v.verify(hmac.token.as_bytes(), 510, &mut scratch).is_err());
        let device_key = Key::new(Algorithm::Hs256, &keys.device_key("door-ed")).unwrap();
        let hv = Verifier::new(device_key, Validation::new());
        let mut scratch = [0u8; 1024];
        assert_eq!(
            hv.verify(t.token.as_bytes(), 510, &mut scratch)
                .unwrap_err(),
            latchkey_core::Error::WrongAlgorithm
        );
    }

    #[test]
    fn command_lifetimes_the_device_refuses_are_refused() {
        let lifetimes = |command| Lifetimes {
            command: Duration::from_secs(command),
            ..Lifetimes::default()
        };
        let keys = KeySet::development();
        let err = TokenService::new(&keys, lifetimes(MAX_LIFETIME + 1)).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("300 s")),
            "{err:?}"
        );
        let s = TokenService::new(&keys, lifetimes(MAX_LIFETIME)).unwrap();
        let t = s
            .issue_command("a", "d", Command::Open, 100, &ticket(Algorithm::Hs256))
            .unwrap();
        assert_eq!(t.exp, 100 + MAX_LIFETIME as i64);
        assert_eq!(s.command_expiry(100), t.exp);
    }

    /// `trust` is never signed as a command token, whatever the algorithm.
    #[test]
    fn trust_is_never_a_command_token() {
        let s = service();
        for alg in [Algorithm::Hs256, Algorithm::EdDsa] {
            let err = s
                .issue_command("a", "d", Command::Trust, 100, &ticket(alg))
                .unwrap_err();
            assert!(
                matches!(&err, Error::Malformed(m) if m.contains("never issued")),
                "{err:?}"
            );
        }
        assert!(grantable(Command::Open).is_ok());
        assert_eq!(grantable(Command::Trust).unwrap_err().status(), 400);
    }
}
