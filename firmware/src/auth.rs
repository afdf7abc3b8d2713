//! Authorization: is this token good for this command on this device, now?
//!
//! Order of checks (the first failure is the answer): latchkey-core (size,
//! segments, header: `alg` pinned to the key's HS256, `b64`, `crit`, `typ`; MAC in
//! constant time, claim types, required claims, `exp`/`nbf`/`iat`, `iss`, `aud`);
//! then the contract's rules (`latchkey_protocol`): lifetime, scope, argument; then
//! replay. Only a token that passes everything uses a replay slot. The token's
//! length was checked when the line was read.

use core::cell::Cell;

use heapless::String;
use latchkey_core::{ClaimSet, Claims, JsonStr, Key, Validation, Verifier};
use latchkey_protocol::{
    ArgClaim, COMMAND_TOKEN_TYPE, Command, ISSUER, LEEWAY, MAX_TOKEN_LEN, Reason as Rule,
    lifetime_ok,
};

use crate::answer::Reason;
use crate::clock::Clock;
use crate::replay::ReplayCache;
use crate::state::State;

/// Scratch for the decoded header and claims: 3/4 of the longest token, rounded up.
pub const SCRATCH_LEN: usize = MAX_TOKEN_LEN.div_ceil(4) * 3;
/// Deepest JSON nesting in a command token (claims are flat).
pub const MAX_DEPTH: u8 = 4;

/// Who was let in, for the log. `sub`, cut to 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// The token's subject (user name), possibly shortened; empty when absent.
    pub subject: String<32>,
}

/// Verifies command tokens for one device and keeps the state that needs:
/// the clock floor and the replay cache.
pub struct Authorizer<'a> {
    verifier: Verifier<'a>,
    clock: Clock,
    replay: ReplayCache,
    scratch: [u8; SCRATCH_LEN],
}

impl<'a> Authorizer<'a> {
    /// An authorizer for the device `device_id` holding `key` (its HS256 device
    /// key), whose clock reads at least `time_floor` (unix seconds) at boot.
    pub fn new(device_id: &'a str, key: Key, time_floor: u64) -> Self {
        let validation = Validation {
            leeway: LEEWAY,
            required: ClaimSet::EXP | ClaimSet::IAT | ClaimSet::NBF | ClaimSet::JTI,
            issuer: Some(ISSUER),
            audience: Some(device_id),
            typ: Some(COMMAND_TOKEN_TYPE),
            max_token_len: MAX_TOKEN_LEN,
            max_depth: MAX_DEPTH,
        };
        Self {
            verifier: Verifier::new(key, validation),
            clock: Clock::new(time_floor),
            replay: ReplayCache::new(),
            scratch: [0; SCRATCH_LEN],
        }
    }

    /// The device's current time estimate (unix seconds) at `uptime`.
    pub fn now(&self, uptime: u64) -> u64 {
        self.clock.now(uptime)
    }

    /// What must survive a reboot, at `uptime`: the clock as the floor, and the
    /// used ids.
    pub fn state(&self, uptime: u64) -> State {
        State {
            floor: self.clock.now(uptime),
            replay: self.replay.entries().iter().copied().collect(),
        }
    }

    /// Takes up `state` as read back from flash at `uptime` (at boot): the clock
    /// moves up to its floor (never back), and the used ids replace the cache's.
    pub fn resume(&mut self, state: &State, uptime: u64) {
        self.clock.raise_to(state.floor, uptime);
        self.replay = ReplayCache::from_entries(&state.replay);
    }

    /// Decides whether `token` authorizes `command` at `uptime` seconds since boot.
    ///
    /// An authentic token is judged at `max(now, iat)` (the server vouched that it
    /// was at least that late), but the clock moves up to its `iat` only once every
    /// check has passed and the token's `jti` is used up: a refused token (wrong
    /// scope, too long a lifetime, replayed, ...) leaves the clock where it was.
    ///
    /// # Errors
    /// The reason for the refusal.
    pub fn authorize(
        &mut self,
        command: Command,
        token: &[u8],
        uptime: u64,
    ) -> Result<Grant, Reason> {
        let clock = self.clock;
        let judged_at = Cell::new(clock.now(uptime));
        let claims = self
            .verifier
            .verify_at(token, &mut self.scratch, |claims| {
                let iat = claims.iat().map_or(0, |t| u64::try_from(t).unwrap_or(0));
                let now = clock.now(uptime).max(iat);
                judged_at.set(now);
                now
            })?;
        let judged_at = judged_at.get();
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
        // `jti` and `exp` are required claims: the verifier made sure they are there.
        let jti = claims.jti().map_or(&[][..], JsonStr::raw_bytes);
        let until = claims
            .exp()
            .map_or(0, |t| u64::try_from(t).unwrap_or(0))
            .saturating_add(LEEWAY);
        self.replay
            .check_and_insert(jti, until, judged_at)
            .map_err(Reason::from)?;
        // Accepted: from here on the command runs, so the token's time holds.
        self.clock.raise_to(judged_at, uptime);
        let mut grant = Grant::default();
        if let Some(sub) = claims.sub() {
            for c in sub.chars() {
                if grant.subject.push(c).is_err() {
                    break;
                }
            }
        }
        Ok(grant)
    }
}

/// `exp - iat` must be within [0, MAX_LIFETIME] (the contract's rule).
fn check_lifetime(claims: &Claims<'_>) -> Result<(), Reason> {
    match (claims.iat(), claims.exp()) {
        (Some(iat), Some(exp)) if lifetime_ok(iat, exp) => Ok(()),
        _ => Err(Rule::LifetimeTooLong.into()),
    }
}
