//! Every size and time limit of the contract, in one place: each one follows from
//! the ones above it, so a change here moves the others with it.
//!
//! How they follow:
//!
//! ```text
//! token   = signing input (header.payload, at most MAX_SIGNING_INPUT_LEN)
//!           + "." + base64url(signature)             -> max_token_len(signature bytes)
//! request = id (MAX_ID_LEN) + " " + "led 255" + " "  -> MAX_REQUEST_PREFIX_LEN
//!           + token + an optional "\r"               -> max_line_len(token bytes)
//! verdict = id + " " + "DENIED" + " " + reason code  -> MAX_VERDICT_LEN
//! ```
//!
//! | signature           | bytes | token limit | request line limit |
//! |---------------------|------:|------------:|-------------------:|
//! | HS256               |    32 |         812 |                830 |
//! | EdDSA (Ed25519)     |    64 |         855 |                873 |
//! | ES256               |    64 |         855 |                873 |
//! | RS256 (2048-bit)    |   256 |        1111 |               1129 |
//!
//! [`MAX_TOKEN_LEN`] and [`MAX_LINE_LEN`] are the RS256 row: the line format carries
//! every token some device build verifies. A device refuses tokens over its own
//! build's row (`token-too-large`, from latchkey-core's length check): the default
//! EdDSA build takes [`max_token_len`]`(`[`ED25519_SIGNATURE_LEN`]`)`, 855 bytes,
//! and sizes its scratch buffer for that.

/// Seconds of clock skew the device allows on `exp`, `nbf` and `iat`.
pub const LEEWAY: u64 = 5;

/// Longest lifetime of a command token, `exp - iat`, in seconds. The device refuses
/// a longer one (`lifetime-too-long`), so the server never issues one.
pub const MAX_LIFETIME: u64 = 300;

/// Longest request id, in bytes (see [`crate::RequestId`]).
pub const MAX_ID_LEN: usize = 8;

/// Longest device id, in bytes (see [`crate::DeviceId`]).
pub const MAX_DEVICE_ID_LEN: usize = 64;

/// Longest signing input of a command token (`header.payload`, base64url), in
/// bytes: the budget for the header and the claims, whatever the algorithm.
///
/// The server's largest command token fits: a header naming a [`MAX_KID_LEN`]-byte
/// `kid`, a 128-byte user name made of characters JSON escapes (256 bytes once
/// escaped), a 64-byte device id, `led 255`, a 22-character `jti` and a 16-digit
/// `seq` (test `the_largest_command_token_fits_the_device` in latchkey-server).
pub const MAX_SIGNING_INPUT_LEN: usize = 768;

/// Longest `kid` of a command key a device holds, in bytes.
pub const MAX_KID_LEN: usize = 32;

/// How many command keys a device holds at most (the key table in its state).
pub const MAX_COMMAND_KEYS: usize = 4;

/// The replay window: a device obeys a `seq` at most once, and refuses one that is
/// this many or more below the highest `seq` it obeyed (`sequence-too-old`), as
/// the IPsec and DTLS anti-replay windows do (RFC 4303 section 3.4.3).
pub const REPLAY_WINDOW: u64 = 64;

/// Command tokens the server issues to one user for one device within
/// [`MAX_LIFETIME`] seconds. Each token issued moves the device's `seq` up by
/// one, so while at most `(REPLAY_WINDOW - 1) / MAX_TOKENS_PER_USER` users are
/// issuing at full rate, no one's unused token falls out of the window before
/// it expires: one user's burst of `status` cannot make another user's `open`
/// `sequence-too-old`.
pub const MAX_TOKENS_PER_USER: u32 = 16;

/// Bytes of an HS256 signature (HMAC-SHA256).
pub const HS256_SIGNATURE_LEN: usize = 32;
/// Bytes of an EdDSA (Ed25519) signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;
/// Bytes of an ES256 signature (`r || s`, JWS form).
pub const ES256_SIGNATURE_LEN: usize = 64;
/// Bytes of an RS256 signature under a 2048-bit key.
pub const RS256_2048_SIGNATURE_LEN: usize = 256;

/// Length of `bytes` bytes in unpadded base64url.
#[must_use]
pub const fn base64url_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// Longest command token whose signature is `signature_len` bytes long.
#[must_use]
pub const fn max_token_len(signature_len: usize) -> usize {
    MAX_SIGNING_INPUT_LEN + 1 + base64url_len(signature_len)
}

/// Longest token a request line carries: 1111 bytes, an RS256 token under a
/// 2048-bit key (see the table in this module's docs).
pub const MAX_TOKEN_LEN: usize = max_token_len(RS256_2048_SIGNATURE_LEN);

/// The longest command with its argument: `led 255` (`status` is shorter).
const LONGEST_COMMAND: usize = 7;

/// The longest request before its token: `<id> led 255 `.
pub const MAX_REQUEST_PREFIX_LEN: usize = MAX_ID_LEN + 1 + LONGEST_COMMAND + 1;

/// Longest request line carrying a token of `token_len` bytes, without its `\n`
/// (a `\r` before the `\n` counts, so one byte is added for it).
#[must_use]
pub const fn max_line_len(token_len: usize) -> usize {
    MAX_REQUEST_PREFIX_LEN + token_len + 1
}

/// Longest request line a device reads, without its `\n`: 1129 bytes, so every
/// request with a token of up to [`MAX_TOKEN_LEN`] bytes fits.
pub const MAX_LINE_LEN: usize = max_line_len(MAX_TOKEN_LEN);

/// Longest reason code (`DENIED`/`ERROR` detail). latchkey-core's codes are
/// passed through as they are and fit too (longest: `unencoded-payload`, 17).
pub const MAX_REASON_LEN: usize = 24;

/// Longest detail of a verdict: a reason code, or an `OK` result
/// (`door=closed led=255`, 19 bytes).
pub const MAX_DETAIL_LEN: usize = MAX_REASON_LEN;

/// Longest verdict line, without its `\n`: 40 bytes.
pub const MAX_VERDICT_LEN: usize = MAX_ID_LEN + 1 + "DENIED".len() + 1 + MAX_DETAIL_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_follow_from_each_other() {
        assert_eq!(base64url_len(32), 43);
        assert_eq!(base64url_len(64), 86);
        assert_eq!(base64url_len(256), 342);
        assert_eq!(base64url_len(0), 0);
        assert_eq!(max_token_len(HS256_SIGNATURE_LEN), 812);
        assert_eq!(max_token_len(ED25519_SIGNATURE_LEN), 855);
        assert_eq!(max_token_len(ES256_SIGNATURE_LEN), 855);
        assert_eq!(max_token_len(RS256_2048_SIGNATURE_LEN), 1111);
        assert_eq!(MAX_REQUEST_PREFIX_LEN, "12345678 led 255 ".len());
        assert_eq!((MAX_TOKEN_LEN, MAX_LINE_LEN), (1111, 1129));
        // Users issuing at full rate that the window carries (see MAX_TOKENS_PER_USER).
        assert_eq!((REPLAY_WINDOW - 1) / u64::from(MAX_TOKENS_PER_USER), 3);
        assert_eq!(MAX_VERDICT_LEN, "12345678 DENIED ".len() + MAX_REASON_LEN);
        assert_eq!(MAX_VERDICT_LEN, 40);
        assert!("door=closed led=255".len() <= MAX_DETAIL_LEN);
    }
}
