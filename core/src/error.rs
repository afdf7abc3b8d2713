//! The one error type of the crate: every way a token or a key can be refused.

use core::fmt;

/// A registered claim named by an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Claim {
    /// `exp`, expiration time.
    Exp,
    /// `nbf`, not before.
    Nbf,
    /// `iat`, issued at.
    Iat,
    /// `iss`, issuer.
    Iss,
    /// `aud`, audience.
    Aud,
    /// `sub`, subject.
    Sub,
    /// `jti`, JWT ID.
    Jti,
}

impl Claim {
    /// The claim's member name in the claims set.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Claim::Exp => "exp",
            Claim::Nbf => "nbf",
            Claim::Iat => "iat",
            Claim::Iss => "iss",
            Claim::Aud => "aud",
            Claim::Sub => "sub",
            Claim::Jti => "jti",
        }
    }
}

/// Why a token, a key or a buffer was refused.
///
/// Each variant has a stable, kebab-case reason code ([`Error::code`]) that devices
/// and servers report on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The key is shorter than the hash output (RFC 7518 section 3.2).
    KeyTooShort,
    /// The token is longer than the configured maximum.
    TokenTooLarge,
    /// A caller buffer is too small for the decoded or encoded data.
    BufferTooSmall,
    /// The token is not three non-empty dot-separated segments.
    Malformed,
    /// A segment is not strict, canonical, unpadded base64url.
    InvalidBase64,
    /// The header or the claims are not valid UTF-8.
    InvalidUtf8,
    /// The header or the claims are not valid JSON (RFC 8259).
    InvalidJson,
    /// JSON nesting deeper than the configured maximum.
    TooDeep,
    /// The header or the claims object has more members than can be tracked.
    TooManyMembers,
    /// A member name occurs twice in the header or the claims object.
    DuplicateMember,
    /// The header or the claims are JSON, but not a JSON object.
    NotAnObject,
    /// A header member is missing or has the wrong type (`alg`, `typ`, `kid`, `crit`, `b64`).
    InvalidHeader,
    /// The header says `alg: none` (in any spelling).
    AlgorithmNone,
    /// The header's `alg` is not the algorithm of the verifier's key.
    WrongAlgorithm,
    /// A key was asked for an algorithm this build leaves out: HS384, HS512, RS384,
    /// RS512, PS384 or PS512 without the `sha512` feature, or an algorithm whose
    /// feature (`rsa`, `es256`, `es384`, `eddsa`) is off.
    UnsupportedAlgorithm,
    /// The header has a `crit` member naming extensions this verifier does not understand.
    CriticalHeader,
    /// The header asks for an unencoded payload (`b64: false`, RFC 7797).
    UnencodedPayload,
    /// The header's `typ` is not the expected token type.
    WrongType,
    /// The signature does not match, or has the wrong length.
    BadSignature,
    /// A required claim is absent.
    MissingClaim(Claim),
    /// A claim has the wrong JSON type or an unusable value (for `exp`, `nbf`
    /// and `iat`: not a number, or a number beyond `i64` such as `1e400`).
    InvalidClaim(Claim),
    /// `exp` has passed (leeway applied).
    Expired,
    /// `nbf` is still in the future (leeway applied).
    NotYetValid,
    /// `iat` is in the future (leeway applied).
    IssuedInFuture,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not name the expected audience, or is present when none is expected.
    WrongAudience,
    /// The caller's own claims type could not be read from the claims set.
    CustomClaims,
    /// A public key was refused when it was built: malformed (the wrong length or
    /// encoding, not a point of the curve, the identity, a point of small order) or
    /// outside this crate's rules (RSA: e = 65537 and an odd 2048-4096-bit modulus).
    /// Also a key file that is not what its format says ([`keys`](crate::keys)): bad
    /// DER or PEM, a JWK member missing, of the wrong type or not strict base64url.
    InvalidKey,
    /// A key of the wrong type for what it was asked (RFC 8725 section 3.1): a key
    /// built for an algorithm of another family (an HMAC secret for RS256, an RSA key
    /// for ES256), an EC key of another curve, or a public key asked to sign. Also a
    /// JWK whose `alg` is not the algorithm the caller pinned, and a JWK Set that
    /// mixes secret (`oct`) keys with public keys.
    KeyMismatch,
    /// No key of the key set fits the token: its `kid` names none, or, without a
    /// `kid`, no key is bound to its `alg`.
    UnknownKey,
    /// The token has no `kid` and more than one key of the key set is bound to its `alg`.
    AmbiguousKey,
    /// A key with this `kid` is already in the key set.
    DuplicateKey,
    /// The key set is full (its capacity is in its type).
    KeySetFull,
    /// A well-formed key of a kind this crate does not read: another key type or
    /// curve (`X25519`, `secp256k1`, an RSA-PSS-only SPKI), a compressed EC point, a
    /// PEM label other than a public key's, a JWK whose `alg` names no signature
    /// algorithm of this crate (`ES512`, `ES224`, `A256GCM`).
    UnsupportedKey,
    /// A JWK that is not for verifying signatures: `use` other than `sig`, or
    /// `key_ops` without `verify`. In a JWK Set such a key is skipped.
    KeyNotForVerify,
    /// A private key where a public key belongs: a PEM `... PRIVATE KEY` label, or a
    /// JWK with private members (`d`, RSA's `p`, `q`, `dp`, `dq`, `qi`, `oth`).
    PrivateKey,
    /// A key bound to no algorithm: a JWK without `alg`, and the caller pinned none
    /// (RFC 8725 section 3.1: each key is for exactly one algorithm).
    NoAlgorithm,
}

impl Error {
    /// A stable, kebab-case reason code for logs and wire protocols.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Error::KeyTooShort => "key-too-short",
            Error::TokenTooLarge => "token-too-large",
            Error::BufferTooSmall => "buffer-too-small",
            Error::Malformed => "malformed",
            Error::InvalidBase64 => "bad-base64",
            Error::InvalidUtf8 => "bad-utf8",
            Error::InvalidJson => "bad-json",
            Error::TooDeep => "too-deep",
            Error::TooManyMembers => "too-many-members",
            Error::DuplicateMember => "duplicate-member",
            Error::NotAnObject => "not-an-object",
            Error::InvalidHeader => "bad-header",
            Error::AlgorithmNone => "alg-none",
            Error::WrongAlgorithm => "wrong-alg",
            Error::UnsupportedAlgorithm => "unsupported-alg",
            Error::CriticalHeader => "crit-header",
            Error::UnencodedPayload => "unencoded-payload",
            Error::WrongType => "wrong-type",
            Error::BadSignature => "bad-signature",
            Error::MissingClaim(_) => "missing-claim",
            Error::InvalidClaim(_) => "bad-claim",
            Error::Expired => "expired",
            Error::NotYetValid => "not-yet-valid",
            Error::IssuedInFuture => "issued-in-future",
            Error::WrongIssuer => "wrong-issuer",
            Error::WrongAudience => "wrong-audience",
            Error::CustomClaims => "bad-custom-claims",
            Error::InvalidKey => "bad-key",
            Error::KeyMismatch => "key-mismatch",
            Error::UnknownKey => "unknown-key",
            Error::AmbiguousKey => "ambiguous-key",
            Error::DuplicateKey => "duplicate-kid",
            Error::KeySetFull => "key-set-full",
            Error::UnsupportedKey => "unsupported-key",
            Error::KeyNotForVerify => "key-not-for-verify",
            Error::PrivateKey => "private-key",
            Error::NoAlgorithm => "no-alg",
        }
    }

    const fn text(self) -> &'static str {
        match self {
            Error::KeyTooShort => "key is shorter than the hash output",
            Error::TokenTooLarge => "token is longer than the configured maximum",
            Error::BufferTooSmall => "buffer too small",
            Error::Malformed => "token is not three non-empty dot-separated segments",
            Error::InvalidBase64 => "segment is not canonical unpadded base64url",
            Error::InvalidUtf8 => "JSON is not valid UTF-8",
            Error::InvalidJson => "invalid JSON",
            Error::TooDeep => "JSON nesting is too deep",
            Error::TooManyMembers => "JSON object has too many members",
            Error::DuplicateMember => "duplicate JSON member name",
            Error::NotAnObject => "JSON is not an object",
            Error::InvalidHeader => "header member missing or of the wrong type",
            Error::AlgorithmNone => "alg none is never accepted",
            Error::WrongAlgorithm => "alg does not match the key",
            Error::UnsupportedAlgorithm => "algorithm not built in (see the crate features)",
            Error::CriticalHeader => "unsupported critical header extension",
            Error::UnencodedPayload => "unencoded payload (b64: false) is not supported",
            Error::WrongType => "unexpected token type (typ)",
            Error::BadSignature => "signature does not match",
            Error::MissingClaim(_) => "missing required claim",
            Error::InvalidClaim(_) => "claim has the wrong type or value",
            Error::Expired => "token has expired",
            Error::NotYetValid => "token is not yet valid",
            Error::IssuedInFuture => "token was issued in the future",
            Error::WrongIssuer => "unexpected issuer",
            Error::WrongAudience => "token is not meant for this audience",
            Error::CustomClaims => "custom claims could not be read",
            Error::InvalidKey => "public key is malformed or not allowed",
            Error::KeyMismatch => "key does not fit the algorithm (type, curve) or cannot sign",
            Error::UnknownKey => "no key for the token's kid or alg",
            Error::AmbiguousKey => "several keys fit the token's alg and it has no kid",
            Error::DuplicateKey => "a key with this kid is already in the set",
            Error::KeySetFull => "the key set is full",
            Error::UnsupportedKey => "key type, curve or encoding is not supported",
            Error::KeyNotForVerify => "key is not for verifying signatures (use, key_ops)",
            Error::PrivateKey => "a private key was given where a public key belongs",
            Error::NoAlgorithm => "the key names no algorithm (alg) and none was pinned",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())?;
        match self {
            Error::MissingClaim(c) | Error::InvalidClaim(c) => write!(f, " `{}`", c.name()),
            _ => Ok(()),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_claim() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            Error::MissingClaim(Claim::Exp).to_string(),
            "missing required claim `exp`"
        );
        assert_eq!(Error::Expired.to_string(), "token has expired");
    }

    #[test]
    fn error_is_small() {
        assert!(core::mem::size_of::<Error>() <= 2);
    }
}
