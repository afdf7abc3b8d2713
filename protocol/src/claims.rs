//! Command tokens: their header `typ`, their issuer, their claims, and how a
//! device's key is derived.

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::device_id::DeviceId;
use crate::limits::MAX_LIFETIME;

/// Header `typ` of a command token. Access and refresh tokens have other types
/// (`at+jwt`, `rt+jwt`), so one never passes for the other.
pub const COMMAND_TOKEN_TYPE: &str = "lk-cmd+jwt";

/// `iss` of every command token.
pub const ISSUER: &str = "latchkey";

/// HKDF salt of a device's HS256 key: the key is HKDF-SHA256 (RFC 5869) of the
/// server's master secret with this salt and the device id's bytes as `info`,
/// 32 bytes.
pub const DEVICE_KEY_SALT: &[u8] = b"latchkey-device-key-v1";

/// The claims of a command token, as the server writes them (this field order).
///
/// The device requires `iss`, `aud`, `scope`, `iat`, `nbf`, `exp` and `jti`, and
/// `arg` exactly when the command takes an argument; `sub` is only logged. It
/// reads `aud` as a string or as an array that names it; the server writes a
/// string. Deserializing borrows every string, so it needs strings without JSON
/// escapes (or a deserializer that unescapes into a buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandClaims<'a> {
    /// Always [`ISSUER`].
    pub iss: &'a str,
    /// The user the token was issued to.
    pub sub: &'a str,
    /// The device id.
    pub aud: &'a str,
    /// The granted command names, separated by single spaces (the server grants
    /// one command per token).
    pub scope: &'a str,
    /// Issue time, unix seconds.
    pub iat: i64,
    /// Not before, unix seconds (the server writes `iat`).
    pub nbf: i64,
    /// Expiry, unix seconds; `exp - iat` is at most [`MAX_LIFETIME`].
    pub exp: i64,
    /// A unique token id; the device obeys each `jti` once.
    pub jti: &'a str,
    /// The command's argument (`led`'s level), bound so a token for one level
    /// cannot set another; absent for commands without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<u8>,
}

impl<'a> CommandClaims<'a> {
    /// The claims of a token granting `command` on `device` to `sub`, issued at
    /// `iat` and valid for `lifetime` seconds.
    ///
    /// # Errors
    /// [`LifetimeTooLong`] when `lifetime` is over [`MAX_LIFETIME`]: the device
    /// would refuse the token.
    pub fn new(
        sub: &'a str,
        device: DeviceId<'a>,
        command: Command,
        iat: i64,
        lifetime: u64,
        jti: &'a str,
    ) -> Result<Self, LifetimeTooLong> {
        if lifetime > MAX_LIFETIME {
            return Err(LifetimeTooLong);
        }
        // At most 300: the cast is exact.
        let exp = iat.saturating_add(lifetime as i64);
        Ok(CommandClaims {
            iss: ISSUER,
            sub,
            aud: device.as_str(),
            scope: command.name(),
            iat,
            nbf: iat,
            exp,
            jti,
            arg: command.argument(),
        })
    }
}

/// Whether a token issued at `iat` and expiring at `exp` has a lifetime the device
/// accepts: `0 <= exp - iat <= MAX_LIFETIME`.
#[must_use]
pub fn lifetime_ok(iat: i64, exp: i64) -> bool {
    exp.checked_sub(iat)
        .is_some_and(|life| (0..=MAX_LIFETIME as i64).contains(&life))
}

/// A command token lifetime over [`MAX_LIFETIME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeTooLong;

impl core::fmt::Display for LifetimeTooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "a command token lives at most {MAX_LIFETIME} s (the device refuses longer ones)"
        )
    }
}

impl core::error::Error for LifetimeTooLong {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_written_in_the_servers_order() {
        let device = DeviceId::new("door-1").unwrap();
        let claims = CommandClaims::new("alice", device, Command::Led(7), 100, 60, "j1").unwrap();
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            r#"{"iss":"latchkey","sub":"alice","aud":"door-1","scope":"led","iat":100,"nbf":100,"exp":160,"jti":"j1","arg":7}"#
        );
        let open = CommandClaims::new("alice", device, Command::Open, 100, 300, "j2").unwrap();
        let text = serde_json::to_string(&open).unwrap();
        assert!(!text.contains("arg"), "{text}");
        let back: CommandClaims<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, open);
        assert_eq!(
            CommandClaims::new("alice", device, Command::Open, 100, 301, "j3"),
            Err(LifetimeTooLong)
        );
    }

    #[test]
    fn lifetimes() {
        assert!(lifetime_ok(100, 100));
        assert!(lifetime_ok(100, 400));
        assert!(!lifetime_ok(100, 401));
        assert!(!lifetime_ok(100, 99));
        assert!(!lifetime_ok(i64::MIN, i64::MAX));
        assert!(!lifetime_ok(i64::MAX, i64::MIN));
    }
}
