//! Authorization: is this token good for this command on this device, now? And
//! is this trust statement good for changing the device's keys?
//!
//! Order of checks for a command (the first failure is the answer):
//! latchkey-core (size, segments, header: the key chosen by `kid` and its pinned
//! `alg`, `b64`, `crit`, `typ`; the signature, claim types, required claims,
//! `exp`/`nbf`/`iat`, `iss`, `aud`); then the contract's rules
//! (`latchkey_protocol`): lifetime, scope, argument, sequence number. Checking
//! changes nothing: the caller saves the [`Counters`] an accepted token leads to,
//! and only then [`Authorizer::commit`]s them and runs the command.

use core::cell::Cell;

use heapless::String;
use latchkey_core::{ClaimSet, Claims, Error, Key, KeySet, Validation, Verifier};
use latchkey_protocol::limits::max_token_len;
use latchkey_protocol::{
    ArgClaim, COMMAND_TOKEN_TYPE, Command, ISSUER, LEEWAY, MAX_COMMAND_KEYS, Reason as Rule,
    TRUST_TOKEN_TYPE, lifetime_ok,
};

use crate::answer::Reason;
use crate::clock::Clock;
use crate::keys::{self, KeyTable, ROOT_KEY_LEN};
use crate::persist::Counters;
use crate::replay::Window;

/// Longest token this build accepts: an EdDSA or ES256 token (or a trust
/// statement, which the root signs with Ed25519), 855 bytes.
#[cfg(not(feature = "rs256"))]
pub const MAX_TOKEN_LEN: usize = max_token_len(latchkey_protocol::limits::ED25519_SIGNATURE_LEN);
/// Longest token this build accepts: an RS256 token under a 2048-bit key.
#[cfg(feature = "rs256")]
pub const MAX_TOKEN_LEN: usize = max_token_len(latchkey_protocol::limits::RS256_2048_SIGNATURE_LEN);

/// Scratch for the decoded header and claims: 3/4 of the longest token, rounded up.
pub const SCRATCH_LEN: usize = MAX_TOKEN_LEN.div_ceil(4) * 3;
/// Deepest JSON nesting in a token: command claims are flat; a trust statement
/// holds JWKs (with `key_ops` arrays) in an array.
pub const MAX_DEPTH: u8 = 4;

/// Who was let in, for the log. `sub`, cut to 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// The token's subject (user name), possibly shortened; empty when absent.
    pub subject: String<32>,
}

/// A command token that passed every check: who it lets in, and the state that
/// must be saved before the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Who was let in.
    pub grant: Grant,
    /// The clock floor and replay window once this token is used up.
    pub counters: Counters,
}

/// The root of trust of a public-key device.
struct Root {
    key: Key,
    bytes: [u8; ROOT_KEY_LEN],
    table: KeyTable,
}

/// Verifies command tokens and trust statements for one device, and keeps the
/// state that needs: the keys, the clock floor and the replay window.
pub struct Authorizer<'a> {
    device_id: &'a str,
    keys: KeySet<MAX_COMMAND_KEYS>,
    root: Option<Root>,
    clock: Clock,
    window: Window,
    scratch: [u8; SCRATCH_LEN],
}

impl<'a> Authorizer<'a> {
    /// A public-key device `device_id`: command keys from `table`, trust statements
    /// signed by the Ed25519 `root` key; its clock reads at least `time_floor`
    /// (unix seconds) at boot.
    ///
    /// # Errors
    /// latchkey-core's, for a root that is not an Ed25519 public key or a table
    /// entry that is not a key.
    pub fn public(
        device_id: &'a str,
        root: &[u8; ROOT_KEY_LEN],
        table: KeyTable,
        time_floor: u64,
    ) -> Result<Self, Error> {
        let key = Key::ed25519(latchkey_core::Algorithm::EdDsa, root)?;
        let mut auth = Self {
            device_id,
            keys: KeySet::new(),
            root: Some(Root {
                key,
                bytes: *root,
                table,
            }),
            clock: Clock::new(time_floor),
            window: Window::default(),
            scratch: [0; SCRATCH_LEN],
        };
        auth.load_keys()?;
        Ok(auth)
    }

    /// Fills the key set from the root's table, in place: one key at a time, never
    /// a second set on the stack (an RSA key's parameters are 1.6 KiB). Keys of a
    /// table built through [`KeyEntry::new`](crate::keys::KeyEntry::new) always build.
    ///
    /// # Errors
    /// latchkey-core's, for an entry that is not a key; the set is then empty.
    #[inline(never)]
    fn load_keys(&mut self) -> Result<(), Error> {
        self.keys.clear();
        let Some(root) = &self.root else {
            return Ok(());
        };
        for e in &root.table.entries {
            if let Err(err) = self.keys.insert(Some(&e.kid), e.key()?) {
                self.keys.clear();
                return Err(err);
            }
        }
        Ok(())
    }

    /// An HMAC device `device_id` holding the secret `key` (the opt-in build for
    /// parts too small for public keys): it takes no trust statements.
    pub fn hmac(device_id: &'a str, key: Key, time_floor: u64) -> Self {
        let mut keys = KeySet::new();
        // An empty set has room for one key without a kid.
        let _ = keys.insert(None, key);
        Self {
            device_id,
            keys,
            root: None,
            clock: Clock::new(time_floor),
            window: Window::default(),
            scratch: [0; SCRATCH_LEN],
        }
    }

    fn validation(&self, typ: &'static str, required: ClaimSet) -> Validation<'a> {
        Validation {
            leeway: LEEWAY,
            required,
            issuer: Some(ISSUER),
            audience: Some(self.device_id),
            typ: Some(typ),
            max_token_len: MAX_TOKEN_LEN,
            max_depth: MAX_DEPTH,
        }
    }

    /// The device's current time estimate (unix seconds) at `uptime`.
    pub fn now(&self, uptime: u64) -> u64 {
        self.clock.now(uptime)
    }

    /// The state to save at `uptime`: the clock as the floor, and the window.
    pub fn counters(&self, uptime: u64) -> Counters {
        Counters::new(self.clock.now(uptime), self.window)
    }

    /// The trust epoch and the number of command keys held.
    pub fn trust_epoch(&self) -> (u32, usize) {
        let epoch = self.root.as_ref().map_or(0, |r| r.table.epoch);
        (epoch, self.keys.len())
    }

    /// Takes up state read back from flash at boot, at `uptime`: the clock moves
    /// up to the saved floor (never back) and the window is the saved one; a key
    /// record saved under this build's root replaces the build's keys (one saved
    /// under another root, or unreadable, is ignored).
    pub fn resume(&mut self, counters: Option<&Counters>, key_record: Option<&[u8]>, uptime: u64) {
        if let Some(c) = counters {
            self.clock.raise_to(c.floor, uptime);
            self.window = c.replay();
        }
        let Some(root) = &mut self.root else { return };
        let Some(table) = key_record.and_then(|r| KeyTable::decode(r, &root.bytes)) else {
            return;
        };
        let build = core::mem::replace(&mut root.table, table);
        if self.load_keys().is_err() {
            // Not a table of keys after all (never for a decoded one): the build's.
            if let Some(root) = &mut self.root {
                root.table = build;
            }
            let _ = self.load_keys();
        }
    }

    /// Decides whether `token` authorizes `command` at `uptime` seconds since
    /// boot, changing nothing.
    ///
    /// An authentic token is judged at `max(now, iat)` (the server vouched that it
    /// was at least that late); the [`Counters`] of an accepted token carry that
    /// time as the floor, so the clock moves up to a token's `iat` only when the
    /// token is used up: a refused one (wrong scope, too long a lifetime, replayed,
    /// ...) leaves the clock where it was.
    ///
    /// # Errors
    /// The reason for the refusal.
    pub fn authorize(
        &mut self,
        command: Command,
        token: &[u8],
        uptime: u64,
    ) -> Result<Accepted, Reason> {
        let clock = self.clock;
        let judged_at = Cell::new(clock.now(uptime));
        let required = ClaimSet::EXP | ClaimSet::IAT | ClaimSet::NBF | ClaimSet::JTI;
        let verifier =
            Verifier::with_keys(&self.keys, self.validation(COMMAND_TOKEN_TYPE, required));
        let claims = verifier.verify_at(token, &mut self.scratch, |claims| {
            let iat = claims.iat().map_or(0, |t| u64::try_from(t).unwrap_or(0));
            let now = clock.now(uptime).max(iat);
            judged_at.set(now);
            now
        })?;
        check_lifetime(&claims)?;
        let granted = claims
            .get("scope")
            .and_then(|v| v.as_str())
            .is_some_and(|scope| command.granted_by(scope.chars()));
        if !granted {
            return Err(Rule::MissingScope.into());
        }
        let arg = match claims.get("arg") {
            None => ArgClaim::Absent,
            Some(v) => v.as_i64().map_or(ArgClaim::Other, ArgClaim::Integer),
        };
        if !command.bound_by(arg) {
            return Err(Rule::WrongArgument.into());
        }
        let seq = claims
            .get("seq")
            .and_then(|v| v.as_i64())
            .and_then(|s| u64::try_from(s).ok())
            .ok_or(Rule::BadSequence)?;
        self.window.check(seq)?;
        let mut grant = Grant::default();
        if let Some(sub) = claims.sub() {
            for c in sub.chars() {
                if grant.subject.push(c).is_err() {
                    break;
                }
            }
        }
        let mut after = clock;
        after.raise_to(judged_at.get(), uptime);
        Ok(Accepted {
            grant,
            counters: Counters::new(after.now(uptime), self.window.with(seq)),
        })
    }

    /// Makes `counters` (an [`Accepted`] token's, once saved) the device's state.
    pub fn commit(&mut self, counters: &Counters, uptime: u64) {
        self.clock.raise_to(counters.floor, uptime);
        self.window = counters.replay();
    }

    /// Decides whether `token` is a trust statement the device takes up at
    /// `uptime`, and returns the key table it leads to, changing nothing: signed
    /// by the root, `typ` `lk-trust+jwt`, `iss` and `aud` right, unexpired if it
    /// has an `exp`, an `epoch` above the device's, and a table that is not empty
    /// nor too large ([`KeyTable::after`]).
    ///
    /// # Errors
    /// The reason for the refusal; [`Rule::BadTrust`] on a device without a root
    /// (an HMAC build).
    #[inline(never)] // see `take_up`
    pub fn check_trust(&mut self, token: &[u8], uptime: u64) -> Result<KeyTable, Reason> {
        let Some(root) = &self.root else {
            return Err(Rule::BadTrust.into());
        };
        let now = self.clock.now(uptime);
        let validation = self.validation(TRUST_TOKEN_TYPE, ClaimSet::NONE);
        let verifier = Verifier::with_keys(&root.key, validation);
        let claims = verifier.verify(token, now, &mut self.scratch)?;
        Ok(root.table.after(&claims)?)
    }

    /// The record that saves `table` under this device's root (for a table from
    /// [`Authorizer::check_trust`]); `None` on a device without a root.
    pub fn key_record(&self, table: &KeyTable) -> Option<[u8; keys::RECORD_LEN]> {
        self.root.as_ref().map(|r| table.encode(&r.bytes))
    }

    /// Makes `table` (a checked one, once saved) the device's command keys.
    ///
    /// # Errors
    /// latchkey-core's, for a table that does not build (never for one from
    /// [`Authorizer::check_trust`]); the keys are then unchanged.
    // Never inlined, like the other steps of a trust statement: a frame of their own
    // each, so the stack holds the signature check's or the key building's buffers,
    // never both (the device has 20 KiB of RAM). The set is refilled in place.
    #[inline(never)]
    pub fn take_up(&mut self, table: KeyTable) -> Result<(), Error> {
        let Some(root) = &mut self.root else {
            return Ok(());
        };
        let before = core::mem::replace(&mut root.table, table);
        if let Err(e) = self.load_keys() {
            if let Some(root) = &mut self.root {
                root.table = before;
            }
            let _ = self.load_keys();
            return Err(e);
        }
        Ok(())
    }
}

/// `exp - iat` must be within [0, MAX_LIFETIME] (the contract's rule).
fn check_lifetime(claims: &Claims<'_>) -> Result<(), Reason> {
    match (claims.iat(), claims.exp()) {
        (Some(iat), Some(exp)) if lifetime_ok(iat, exp) => Ok(()),
        _ => Err(Rule::LifetimeTooLong.into()),
    }
}
