//! [`KeySet`]: a fixed-capacity table of keys, each with an optional `kid`, from
//! which a token's header picks the one key that verifies it; and [`KeySource`],
//! what a [`Verifier`](crate::Verifier) takes its key from (one [`Key`] or a set).

use core::fmt;

use crate::json::Value;
use crate::{Algorithm, Error, Key};

/// The longest `kid` a [`KeySet`] holds, in bytes (identity providers use 20 to 45:
/// thumbprints, UUIDs, dates).
pub const MAX_KID_LEN: usize = 64;

struct Entry {
    kid: Option<heapless::String<MAX_KID_LEN>>,
    key: Key,
}

/// Up to `N` keys, each bound to its algorithm and optionally named by a `kid`: a
/// JWK Set's signature keys, without a heap.
///
/// A verifier over a set ([`Verifier::with_keys`](crate::Verifier::with_keys))
/// chooses the key from the token's header, and from nothing else:
/// - with a `kid`, the key of that `kid` ([`Error::UnknownKey`] if none has it;
///   keys without a `kid` are never chosen this way);
/// - without a `kid`, the one key bound to the header's `alg`
///   ([`Error::UnknownKey`] if none is, [`Error::AmbiguousKey`] if several are);
/// - then, as for a single key, the header's `alg` must be the chosen key's
///   ([`Error::WrongAlgorithm`], [`Error::AlgorithmNone`]).
///
/// Header members that carry or point to keys (`jwk`, `jku`, `x5u`, `x5c`) are never
/// read: the key always comes from here.
///
/// The set is `N` [`Key`]s and their `kid`s big (about `N` × 1.6 KiB with `rsa`,
/// see [`Key`]'s size table).
///
/// ```
/// use latchkey_core::{Algorithm, Error, HeaderParams, Key, KeySet, Validation, Verifier};
///
/// # fn main() -> Result<(), Error> {
/// let old = Key::new(Algorithm::Hs256, &[1; 32])?;
/// let new = Key::new(Algorithm::Hs256, &[2; 32])?;
/// let mut keys = KeySet::<4>::new();
/// keys.insert(Some("2025-01"), old.clone())?;
/// keys.insert(Some("2025-07"), new)?;
/// assert_eq!(keys.insert(Some("2025-01"), old.clone()), Err(Error::DuplicateKey));
///
/// let verifier = Verifier::with_keys(&keys, Validation::new());
/// let mut out = [0u8; 256];
/// let hp = HeaderParams { typ: None, kid: Some("2025-01") };
/// let token = old.sign(&hp, br#"{"exp":1700000060}"#, &mut out)?;
/// let mut scratch = [0u8; 256];
/// verifier.verify(token.as_bytes(), 1_700_000_000, &mut scratch)?;
///
/// // Without a kid, two HS256 keys fit: refused.
/// let token = old.sign(&HeaderParams::default(), br#"{"exp":1700000060}"#, &mut out)?;
/// let err = verifier.verify(token.as_bytes(), 1_700_000_000, &mut scratch);
/// assert_eq!(err.unwrap_err(), Error::AmbiguousKey);
/// # Ok(())
/// # }
/// ```
pub struct KeySet<const N: usize> {
    entries: heapless::Vec<Entry, N>,
}

impl<const N: usize> KeySet<N> {
    /// An empty set.
    #[must_use]
    pub const fn new() -> Self {
        KeySet {
            entries: heapless::Vec::new(),
        }
    }

    /// Adds `key`, named by `kid` if given. Keys without a `kid` are chosen by
    /// their algorithm alone.
    ///
    /// # Errors
    /// [`Error::DuplicateKey`] when a key with this `kid` is already in the set;
    /// [`Error::KeySetFull`] when the set holds `N` keys; [`Error::BufferTooSmall`]
    /// when `kid` is longer than [`MAX_KID_LEN`]. A refused key changes nothing.
    pub fn insert(&mut self, kid: Option<&str>, key: Key) -> Result<(), Error> {
        let kid = match kid {
            Some(kid) => {
                if self.get(kid).is_some() {
                    return Err(Error::DuplicateKey);
                }
                Some(heapless::String::try_from(kid).map_err(|_| Error::BufferTooSmall)?)
            }
            None => None,
        };
        self.entries
            .push(Entry { kid, key })
            .map_err(|_| Error::KeySetFull)
    }

    /// A set of the signature keys of a JWK Set (RFC 7517 section 5), as
    /// [`KeySet::insert_jwks`] adds them to an empty set.
    ///
    /// # Errors
    /// As [`KeySet::insert_jwks`].
    #[cfg(feature = "jwk")]
    pub fn from_jwks(text: &[u8], pinned: Option<Algorithm>) -> Result<Self, Error> {
        let mut set = Self::new();
        set.insert_jwks(text, pinned)?;
        Ok(set)
    }

    /// Adds the signature keys of a JWK Set (`{"keys":[...]}`), each bound to one
    /// algorithm as [`Key::from_jwk`] binds it (its `alg`, which must be `pinned`
    /// if both are given, else `pinned`) and named by its `kid`; returns how many
    /// were added (none is not an error: every verification will then be
    /// [`Error::UnknownKey`]).
    ///
    /// A key whose `use` is not `sig` or whose `key_ops` lacks `verify` is skipped
    /// (RFC 7517 section 4.2). Any other key that breaks a rule refuses the whole
    /// set, and the call adds nothing: a set is the issuer's statement of its keys,
    /// and one that is wrong in part is not trusted for the rest.
    ///
    /// # Errors
    /// - [`JwkSet::parse`](crate::keys::JwkSet::parse)'s and, for any key,
    ///   [`Key::from_jwk`]'s (a private key, a key of an unsupported type or
    ///   algorithm, a 1024-bit RSA key, a point off its curve, a key without an
    ///   algorithm when none is pinned, ...);
    /// - [`Error::DuplicateKey`]: two keys with one `kid`, or a `kid` already in
    ///   the set;
    /// - [`Error::KeyMismatch`]: secret (`oct`) keys mixed with public keys, in the
    ///   text or with the keys already in the set;
    /// - [`Error::BufferTooSmall`]: a `kid` over [`MAX_KID_LEN`] bytes (decoded);
    /// - [`Error::KeySetFull`]: more keys than the set has room for.
    #[cfg(feature = "jwk")]
    pub fn insert_jwks(&mut self, text: &[u8], pinned: Option<Algorithm>) -> Result<usize, Error> {
        let before = self.entries.len();
        let added = self.insert_each_jwk(text, pinned);
        if added.is_err() {
            self.entries.truncate(before);
        }
        added.map(|()| self.entries.len().saturating_sub(before))
    }

    #[cfg(feature = "jwk")]
    fn insert_each_jwk(&mut self, text: &[u8], pinned: Option<Algorithm>) -> Result<(), Error> {
        let set = crate::keys::JwkSet::parse(text)?;
        for jwk in set.keys() {
            let jwk = match jwk {
                Ok(jwk) => jwk,
                Err(Error::KeyNotForVerify) => continue,
                Err(e) => return Err(e),
            };
            let key = Key::from_parsed_jwk(&jwk, pinned)?;
            // A published secret beside public keys: whoever holds the set can
            // mint tokens, which a set of public keys exists to prevent.
            if self
                .entries
                .iter()
                .any(|e| e.key.is_public() != key.is_public())
            {
                return Err(Error::KeyMismatch);
            }
            let mut buf = [0u8; MAX_KID_LEN];
            let kid = jwk.kid().map(|kid| kid.decode_into(&mut buf)).transpose()?;
            self.insert(kid, key)?;
        }
        Ok(())
    }

    /// The key named `kid`, if any.
    #[must_use]
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.entries
            .iter()
            .find(|e| e.kid.as_deref() == Some(kid))
            .map(|e| &e.key)
    }

    /// Every key and its `kid`, in the order they were inserted.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &Key)> + '_ {
        self.entries.iter().map(|e| (e.kid.as_deref(), &e.key))
    }

    /// The number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every key, in place: a device refills its set without a second
    /// set's worth of stack (about 1.6 KiB per key with `rsa`).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The capacity, `N`.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for KeySet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for KeySet<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Where a [`Verifier`](crate::Verifier) takes its key from: one [`Key`], a
/// [`KeySet`], or a reference to either. Sealed: the choice of a key is this
/// crate's, made from the header alone.
pub trait KeySource: sealed::Select {}

impl KeySource for Key {}
impl<const N: usize> KeySource for KeySet<N> {}
impl<T: KeySource + ?Sized> KeySource for &T {}

pub(crate) mod sealed {
    use super::{Algorithm, Error, Key, KeySet, Value};

    /// How a key source chooses its key from the header, and what it knows of the
    /// signature's length before the header is read.
    pub trait Select {
        /// The key for a header whose `alg` name (decoded) is `alg` and whose
        /// `kid` member is `kid`; the caller then checks `alg` against the key.
        ///
        /// # Errors
        /// See [`KeySet`]'s rules.
        fn select(&self, alg: &[u8], kid: Option<Value<'_>>) -> Result<&Key, Error>;

        /// The signature length every key of the source expects, if one does.
        fn signature_len(&self) -> Option<usize>;
    }

    /// One key is the key, whatever the header says (its `alg` is checked next).
    impl Select for Key {
        #[inline]
        fn select(&self, _: &[u8], _: Option<Value<'_>>) -> Result<&Key, Error> {
            Ok(self)
        }

        #[inline]
        fn signature_len(&self) -> Option<usize> {
            Some(Key::signature_len(self))
        }
    }

    impl<const N: usize> Select for KeySet<N> {
        fn select(&self, alg: &[u8], kid: Option<Value<'_>>) -> Result<&Key, Error> {
            if let Some(kid) = kid {
                let kid = kid.as_str().ok_or(Error::InvalidHeader)?;
                return self
                    .entries
                    .iter()
                    .find(|e| e.kid.as_deref().is_some_and(|k| kid.eq_str(k)))
                    .map(|e| &e.key)
                    .ok_or(Error::UnknownKey);
            }
            // No kid: the header's alg picks, so it must name an algorithm.
            let alg = Algorithm::from_name_bytes(alg)?;
            let mut fitting = self.entries.iter().filter(|e| e.key.algorithm() == alg);
            let first = fitting.next().ok_or(Error::UnknownKey)?;
            if fitting.next().is_some() {
                return Err(Error::AmbiguousKey);
            }
            Ok(&first.key)
        }

        // The key is not known before the header is read: the split searches for
        // the last dot from the back.
        fn signature_len(&self) -> Option<usize> {
            None
        }
    }

    impl<T: Select + ?Sized> Select for &T {
        #[inline]
        fn select(&self, alg: &[u8], kid: Option<Value<'_>>) -> Result<&Key, Error> {
            (**self).select(alg, kid)
        }

        #[inline]
        fn signature_len(&self) -> Option<usize> {
            (**self).signature_len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(alg: Algorithm, b: u8) -> Key {
        Key::new(alg, &[b; 64]).unwrap()
    }

    /// The header's `alg` and `kid` as `check_header` hands them to `select`.
    #[cfg(feature = "sha512")]
    fn pick<'k, const N: usize>(set: &'k KeySet<N>, header: &str) -> Result<&'k Key, Error> {
        use super::sealed::Select;
        let obj = crate::json::parse_object(header.as_bytes(), 8).unwrap();
        let alg = obj.get("alg").and_then(Value::as_str).unwrap();
        let mut buf = [0u8; 16];
        let name = alg.decode_bytes(&mut buf).unwrap();
        set.select(name, obj.get("kid"))
    }

    #[test]
    fn insert_rules() {
        let mut set = KeySet::<3>::new();
        assert!(set.is_empty());
        assert_eq!(set.capacity(), 3);
        set.insert(Some("a"), hs(Algorithm::Hs256, 1)).unwrap();
        set.insert(None, hs(Algorithm::Hs256, 2)).unwrap();
        // Any number of keys without kid, and a kid differing only in case.
        set.insert(Some("A"), hs(Algorithm::Hs256, 3)).unwrap();
        assert_eq!(
            set.insert(Some("a"), hs(Algorithm::Hs256, 4)),
            Err(Error::DuplicateKey)
        );
        assert_eq!(
            set.insert(Some("b"), hs(Algorithm::Hs256, 4)),
            Err(Error::KeySetFull)
        );
        assert_eq!(
            set.insert(None, hs(Algorithm::Hs256, 4)),
            Err(Error::KeySetFull)
        );
        assert_eq!(set.len(), 3);
        extern crate std;
        let mut small = KeySet::<1>::new();
        let long = "k".repeat(MAX_KID_LEN + 1);
        assert_eq!(
            small.insert(Some(&long), hs(Algorithm::Hs256, 1)),
            Err(Error::BufferTooSmall)
        );
        assert!(small.is_empty(), "a refused key changes nothing");
        small
            .insert(Some(&long[..MAX_KID_LEN]), hs(Algorithm::Hs256, 1))
            .unwrap();
        assert_eq!(
            std::format!("{set:?}"),
            r#"{Some("a"): Key { alg: Hs256, .. }, None: Key { alg: Hs256, .. }, Some("A"): Key { alg: Hs256, .. }}"#
        );
        // Cleared, the set takes its kids again.
        set.clear();
        assert!(set.is_empty() && set.get("a").is_none());
        set.insert(Some("a"), hs(Algorithm::Hs256, 5)).unwrap();
        assert_eq!(set.len(), 1);
    }

    /// The selection rules, case by case: the result is the key's first MAC byte
    /// (which key was chosen) or the error.
    #[test]
    #[cfg(feature = "sha512")]
    fn selection_rules() {
        let mut set = KeySet::<5>::new();
        set.insert(Some("one"), hs(Algorithm::Hs256, 1)).unwrap();
        set.insert(Some("two"), hs(Algorithm::Hs256, 2)).unwrap();
        set.insert(None, hs(Algorithm::Hs384, 3)).unwrap();
        set.insert(Some("four"), hs(Algorithm::Hs512, 4)).unwrap();
        set.insert(None, hs(Algorithm::Hs512, 5)).unwrap();
        let which = |header: &str| {
            pick(&set, header).map(|k| {
                let mut m = [0u8; 64];
                let n = crate::Signer::sign(k, b"x", &mut m).unwrap();
                (k.algorithm(), n, m[0])
            })
        };
        let id = |b: u8, alg| {
            let mut m = [0u8; 64];
            let n = crate::Signer::sign(&hs(alg, b), b"x", &mut m).unwrap();
            Ok((alg, n, m[0]))
        };
        // kid picks, whatever alg says (alg is checked against it afterwards).
        assert_eq!(
            which(r#"{"alg":"HS256","kid":"two"}"#),
            id(2, Algorithm::Hs256)
        );
        assert_eq!(
            which(r#"{"alg":"RS256","kid":"one"}"#),
            id(1, Algorithm::Hs256)
        );
        // Escapes in the kid are decoded before comparing.
        assert_eq!(
            which(r#"{"alg":"HS256","kid":"\u006fne"}"#),
            id(1, Algorithm::Hs256)
        );
        // Unknown kid, even with one key of that alg without kid.
        assert_eq!(
            which(r#"{"alg":"HS384","kid":"three"}"#),
            Err(Error::UnknownKey)
        );
        assert_eq!(
            which(r#"{"alg":"HS256","kid":"ONE"}"#),
            Err(Error::UnknownKey)
        );
        assert_eq!(
            which(r#"{"alg":"HS256","kid":7}"#),
            Err(Error::InvalidHeader)
        );
        // No kid: exactly one key of the alg.
        assert_eq!(which(r#"{"alg":"HS384"}"#), id(3, Algorithm::Hs384));
        assert_eq!(which(r#"{"alg":"HS256"}"#), Err(Error::AmbiguousKey));
        // Keys with and without kid both count.
        assert_eq!(which(r#"{"alg":"HS512"}"#), Err(Error::AmbiguousKey));
        assert_eq!(which(r#"{"alg":"ES256"}"#), Err(Error::UnknownKey));
        assert_eq!(which(r#"{"alg":"ES512"}"#), Err(Error::WrongAlgorithm));
        assert_eq!(which(r#"{"alg":"nOnE"}"#), Err(Error::AlgorithmNone));
        assert_eq!(which(r#"{"alg":"hs384"}"#), Err(Error::WrongAlgorithm));
        let empty = KeySet::<0>::new();
        assert_eq!(
            pick(&empty, r#"{"alg":"HS256"}"#).err(),
            Some(Error::UnknownKey)
        );
        assert_eq!(
            pick(&empty, r#"{"alg":"HS256","kid":"a"}"#).err(),
            Some(Error::UnknownKey)
        );
    }

    /// What a JWK Set adds, and what refuses it whole.
    #[test]
    #[cfg(feature = "jwk")]
    fn jwks_rules() {
        extern crate std;
        use std::format;
        use std::string::String;
        const K: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let oct = |kid: &str, extra: &str| {
            format!(r#"{{"kty":"oct","kid":"{kid}","alg":"HS256","k":"{K}"{extra}}}"#)
        };
        let set = |keys: &[String]| format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        let ed = r#"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

        let text = set(&[
            oct("a", ""),
            oct("b", r#","use":"enc""#),
            oct("\\u0063", ""),
        ]);
        let keys = KeySet::<2>::from_jwks(text.as_bytes(), None).unwrap();
        let kids: std::vec::Vec<_> = keys.iter().map(|(kid, _)| kid).collect();
        assert_eq!(kids, [Some("a"), Some("c")], "use enc skipped, kid decoded");

        let mut keys = KeySet::<3>::new();
        keys.insert(Some("x"), hs(Algorithm::Hs256, 9)).unwrap();
        for (text, want) in [
            (set(&[oct("a", ""), oct("a", "")]), Error::DuplicateKey),
            (set(&[oct("x", "")]), Error::DuplicateKey),
            (
                set(&[oct("a", ""), oct("b", ""), oct("c", "")]),
                Error::KeySetFull,
            ),
            (
                set(&[oct("a", ""), oct("b", r#","use":1"#)]),
                Error::InvalidKey,
            ),
            (
                set(&[oct("a", ""), oct("b", r#","alg":"HS384""#)]),
                Error::DuplicateMember,
            ),
            (set(&[oct("a", ""), ed.into()]), Error::KeyMismatch),
            (
                set(&[oct("a", ""), "{\"kty\":\"oct\",\"k\":\"\"}".into()]),
                Error::NoAlgorithm,
            ),
            (
                set(&[oct("a", ""), oct(&"k".repeat(MAX_KID_LEN + 1), "")]),
                Error::BufferTooSmall,
            ),
            ("{\"keys\":{}}".into(), Error::InvalidKey),
        ] {
            assert_eq!(keys.insert_jwks(text.as_bytes(), None), Err(want), "{text}");
            assert_eq!(keys.len(), 1, "a refused set adds nothing: {text}");
        }
        // Pinned: a key without alg takes it; a key whose alg differs refuses the set.
        let bare = format!(r#"{{"kty":"oct","kid":"n","k":"{K}"}}"#);
        let text = set(&[oct("a", ""), bare.clone()]);
        assert_eq!(
            keys.insert_jwks(text.as_bytes(), Some(Algorithm::Hs256)),
            Ok(2)
        );
        assert_eq!(keys.get("n").map(Key::algorithm), Some(Algorithm::Hs256));
        let mut other = KeySet::<3>::new();
        assert_eq!(
            other.insert_jwks(text.as_bytes(), Some(Algorithm::Hs384)),
            Err(Error::KeyMismatch)
        );
        assert_eq!(other.insert_jwks(br#"{"keys":[]}"#, None), Ok(0));
    }
}
