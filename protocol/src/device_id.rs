//! Device ids: the one syntax the firmware build, the server's API and CLI, and
//! the tokens' `aud` all use.

use core::fmt;

use crate::limits::MAX_DEVICE_ID_LEN;

/// The device id rule in words, for error messages.
pub const DEVICE_ID_RULE: &str =
    "1-64 characters from A-Z a-z 0-9 . _ -, the first a letter or a digit";

/// A device id: 1 to [`MAX_DEVICE_ID_LEN`] (64) bytes of `A-Z a-z 0-9 . _ -`, the
/// first a letter or a digit. Case matters (`Door-1` and `door-1` are two devices).
///
/// Why so plain: the id is a URL path segment (`/devices/{id}/commands`; `.` and
/// `..` would be rewritten by clients, so an id never starts with `.`), a command
/// line argument (never starts with `-`), JSON (`aud`), a Rust string literal in
/// the firmware build, and the HKDF `info` of the device key. `:` is not allowed:
/// it separates `ID=tcp://HOST:PORT` parts and is not portable in file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId<'a>(&'a str);

impl<'a> DeviceId<'a> {
    /// Checks `id` against the rule.
    ///
    /// # Errors
    /// [`BadDeviceId`] when `id` breaks the rule.
    pub fn new(id: &'a str) -> Result<DeviceId<'a>, BadDeviceId> {
        let bytes = id.as_bytes();
        let first_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric);
        let rest_ok = bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if first_ok && rest_ok && bytes.len() <= MAX_DEVICE_ID_LEN {
            Ok(DeviceId(id))
        } else {
            Err(BadDeviceId)
        }
    }

    /// The id.
    #[must_use]
    pub const fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for DeviceId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A device id that breaks the rule of [`DeviceId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadDeviceId;

impl fmt::Display for BadDeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a device id is {DEVICE_ID_RULE}")
    }
}

impl core::error::Error for BadDeviceId {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn the_device_id_rule() {
        let longest = "a".repeat(MAX_DEVICE_ID_LEN);
        for good in ["dev-1", "door-1.a_b", "D", "0", "A.b_c-9", longest.as_str()] {
            assert_eq!(DeviceId::new(good).map(|d| d.as_str()), Ok(good), "{good}");
        }
        let too_long = "a".repeat(MAX_DEVICE_ID_LEN + 1);
        for bad in [
            "",
            too_long.as_str(),
            "door 1",
            "door:1",
            "door/1",
            "door%31",
            ".",
            "..",
            ".hidden",
            "-x",
            "_x",
            "dör",
            "door\n",
            "door\"1",
        ] {
            assert_eq!(DeviceId::new(bad), Err(BadDeviceId), "{bad:?}");
        }
        assert!(
            BadDeviceId
                .to_string()
                .contains("the first a letter or a digit")
        );
    }
}
