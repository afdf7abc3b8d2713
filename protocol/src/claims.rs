//! Command tokens: their header `typ`, their issuer, their claims, and how a
//! device's key is derived.

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::device_id::DeviceId;
use crate::limits::MAX_LIFETIME;

/// Header `typ` of a command token. Access and refresh tokens have other types
/// (`at+jwt`, `rt+jwt`), so one never passes for the other.
pub const COMMAND_TOKEN_TYPE: &str = "lk-cmd+jwt";

/// `iss` of every command token and trust statement.
pub const ISSUER: &str = "latchkey";

/// Header `typ` of a trust statement: a JWS signed by the root key that changes a
/// device's command keys (see [`TrustStatement`]).
pub const TRUST_TOKEN_TYPE: &str = "lk-trust+jwt";

/// Largest `seq` (2^53, the largest integer every JSON reader holds exactly).
pub const MAX_SEQ: u64 = 1 << 53;

/// HKDF salt of a device's HS256 key: the key is HKDF-SHA256 (RFC 5869) of the
/// server's master secret with this salt and the device id's bytes as `info`,
/// 32 bytes.
pub const DEVICE_KEY_SALT: &[u8] = b"latchkey-device-key-v1";

/// The claims of a command token, as the server writes them (this field order).
///
/// The device requires `iss`, `aud`, `scope`, `iat`, `nbf`, `exp`, `jti` and `seq`,
/// and `arg` exactly when the command takes an argument; `sub` is only logged. It
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
    /// A unique token id (for logs and audit; the device's replay check is `seq`).
    pub jti: &'a str,
    /// The device's sequence number for this token, `1..=`[`MAX_SEQ`]: the server
    /// counts per device, and the device obeys each `seq` once, within a sliding
    /// window of [`crate::limits::REPLAY_WINDOW`] below the highest it obeyed.
    pub seq: u64,
    /// The command's argument (`led`'s level), bound so a token for one level
    /// cannot set another; absent for commands without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<u8>,
}

impl<'a> CommandClaims<'a> {
    /// The claims of a token granting `command` on `device` to `sub`, issued at
    /// `iat`, valid for `lifetime` seconds, with the device's sequence number `seq`.
    ///
    /// # Errors
    /// [`LifetimeTooLong`] when `lifetime` is over [`MAX_LIFETIME`]: the device
    /// would refuse the token. (The caller keeps `seq` in `1..=MAX_SEQ` and
    /// `command` grantable; the device refuses other tokens.)
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sub: &'a str,
        device: DeviceId<'a>,
        command: Command,
        iat: i64,
        lifetime: u64,
        jti: &'a str,
        seq: u64,
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
            seq,
            arg: command.argument(),
        })
    }
}

/// The claims of a trust statement (`typ` [`TRUST_TOKEN_TYPE`], EdDSA, signed by
/// the root key), as the server writes them (this field order):
///
/// ```json
/// {"iss":"latchkey","aud":"door-1","epoch":3,
///  "add":[{"kty":"OKP","crv":"Ed25519","x":"...","kid":"cmd-1a2b3c4d","alg":"EdDSA"}],
///  "retire":["cmd-00ff00ff"]}
/// ```
///
/// A device takes it up when the root signature holds, `iss` is [`ISSUER`], `aud`
/// names it, and `epoch` is above the one it holds: it first retires the kids in
/// `retire` (unknown ones are ignored), then adds the keys in `add` (each a public
/// JWK with a `kid` of at most [`crate::limits::MAX_KID_LEN`] bytes and an `alg`
/// the build verifies), and refuses the whole statement if that would leave no
/// key or more than [`crate::limits::MAX_COMMAND_KEYS`]. The JWKs are JSON values,
/// so this type only names the members; the server builds them with `serde_json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustStatement;

impl TrustStatement {
    /// The members, in the order the server writes them.
    pub const MEMBERS: [&'static str; 5] = ["iss", "aud", "epoch", "add", "retire"];
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
        let claims =
            CommandClaims::new("alice", device, Command::Led(7), 100, 60, "j1", 9).unwrap();
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            r#"{"iss":"latchkey","sub":"alice","aud":"door-1","scope":"led","iat":100,"nbf":100,"exp":160,"jti":"j1","seq":9,"arg":7}"#
        );
        let open = CommandClaims::new("alice", device, Command::Open, 100, 300, "j2", 10).unwrap();
        let text = serde_json::to_string(&open).unwrap();
        assert!(!text.contains("arg"), "{text}");
        let back: CommandClaims<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, open);
        assert_eq!(
            CommandClaims::new("alice", device, Command::Open, 100, 301, "j3", 11),
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
