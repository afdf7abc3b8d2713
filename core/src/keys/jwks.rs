//! A JWK Set (RFC 7517 section 5), `{"keys":[...]}`: the whole text validated
//! once, then its keys handed out one at a time, each parsed as a [`Jwk`],
//! without allocating.

use core::fmt;

use super::jwk::{Jwk, MAX_JWK_DEPTH};
use crate::json::parse_object;
use crate::{Elements, Error};

/// A JWK Set, checked as JSON, borrowed from its text. Its keys come from
/// [`JwkSet::keys`].
#[derive(Clone)]
pub struct JwkSet<'a> {
    keys: Elements<'a>,
}

impl<'a> JwkSet<'a> {
    /// Parses a JWK Set: one JSON object of at most 32 KiB, nested at most
    /// [`MAX_JWK_DEPTH`] + 2 levels (so each key at most [`MAX_JWK_DEPTH`]), whose
    /// `keys` member is an array. Other members are ignored.
    ///
    /// # Errors
    /// The JSON reader's errors, as [`Jwk::parse`]; [`Error::InvalidKey`] when
    /// `keys` is missing or not an array. A key's own errors come from
    /// [`JwkSet::keys`].
    pub fn parse(text: &'a [u8]) -> Result<Self, Error> {
        let obj = parse_object(text, MAX_JWK_DEPTH.saturating_add(2))?;
        let keys = obj
            .get("keys")
            .and_then(|v| v.as_array())
            .ok_or(Error::InvalidKey)?;
        Ok(JwkSet { keys })
    }

    /// The set's keys in order, each parsed by [`Jwk::parse`]: `Ok` with the key,
    /// or the key's error. The rule for a set (RFC 7517 section 4.2 and issue 15):
    /// a key for another use, [`Error::KeyNotForVerify`], is skipped; what to do
    /// with any other error (refuse the set, or skip an
    /// [`Error::UnsupportedKey`]) is the caller's choice, as are duplicate `kid`s.
    ///
    /// ```
    /// use latchkey_core::Error;
    /// use latchkey_core::keys::{JWK_BUFFER_LEN, JwkSet, KeyMaterial};
    ///
    /// # fn main() -> Result<(), Error> {
    /// let text = br#"{"keys":[
    ///     {"kty":"OKP","crv":"X25519","use":"enc","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},
    ///     {"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    /// ]}"#;
    /// let set = JwkSet::parse(text)?;
    /// let mut found = 0;
    /// for key in set.keys() {
    ///     let jwk = match key {
    ///         Ok(jwk) => jwk,
    ///         Err(Error::KeyNotForVerify) => continue,
    ///         Err(e) => return Err(e),
    ///     };
    ///     let mut buf = [0u8; JWK_BUFFER_LEN];
    ///     let material = jwk.material(&mut buf)?;
    ///     assert!(matches!(material, KeyMaterial::Ed25519(_)));
    ///     assert!(jwk.kid().is_some_and(|kid| kid.eq_str("a")));
    ///     found += 1;
    /// }
    /// assert_eq!(found, 1);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn keys(&self) -> JwkSetKeys<'a> {
        JwkSetKeys {
            elements: self.keys.clone(),
        }
    }
}

/// The keys of a [`JwkSet`], each parsed or refused as [`Jwk::parse`] does.
#[derive(Clone)]
pub struct JwkSetKeys<'a> {
    elements: Elements<'a>,
}

/// Nothing of the text: a set may hold `oct` keys, which are secrets.
impl fmt::Debug for JwkSet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkSet").finish_non_exhaustive()
    }
}

/// Nothing of the text, as [`JwkSet`].
impl fmt::Debug for JwkSetKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkSetKeys").finish_non_exhaustive()
    }
}

impl<'a> Iterator for JwkSetKeys<'a> {
    type Item = Result<Jwk<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        // Each element is valid JSON nested at most MAX_JWK_DEPTH levels (the set
        // was validated whole), parsed again as a top-level object so that its
        // member table, duplicates included, is its own.
        self.elements.next().map(|v| Jwk::parse(v.raw().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::vec::Vec;

    use super::*;
    use crate::keys::KeyType;

    fn kinds(text: &str) -> Result<Vec<Result<KeyType, Error>>, Error> {
        Ok(JwkSet::parse(text.as_bytes())?
            .keys()
            .map(|k| k.map(|k| k.kty()))
            .collect())
    }

    const ED: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn keys_in_order_each_with_its_error() {
        let text = format!(
            r#"{{"keys":[{ED},{{"kty":"oct","k":"AA","use":"enc"}},{{"kty":"oct","k":"AA","k":"AA"}},
            {{"kty":"XYZ"}},1,{{"kty":"oct","k":"AA","d":1,"p":2}},{ED}],"other":{{"a":[]}}}}"#
        );
        assert_eq!(
            kinds(&text),
            Ok(std::vec![
                Ok(KeyType::Okp),
                Err(Error::KeyNotForVerify),
                Err(Error::DuplicateMember),
                Err(Error::UnsupportedKey),
                Err(Error::NotAnObject),
                Ok(KeyType::Oct),
                Ok(KeyType::Okp),
            ])
        );
        assert_eq!(kinds(r#"{"keys":[]}"#), Ok(Vec::new()));
    }

    /// A set may hold secrets: its Debug shows none of its text.
    #[test]
    fn debug_shows_no_key() {
        let set = JwkSet::parse(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap();
        assert_eq!(format!("{set:?}"), "JwkSet { .. }");
        assert_eq!(format!("{:?}", set.keys()), "JwkSetKeys { .. }");
    }

    #[test]
    fn the_set_itself() {
        for (text, want) in [
            (r#"{}"#, Error::InvalidKey),
            (r#"{"keys":{}}"#, Error::InvalidKey),
            (r#"{"keys":null}"#, Error::InvalidKey),
            (r#"{"Keys":[]}"#, Error::InvalidKey),
            (r#"[]"#, Error::NotAnObject),
            (r#"{"keys":[],"keys":[]}"#, Error::DuplicateMember),
            (r#"{"keys":[}"#, Error::InvalidJson),
        ] {
            assert_eq!(kinds(text).unwrap_err(), want, "{text}");
        }
        // A key nested as deep as a JWK may be; one level more is refused for
        // the whole set.
        let deep = |n: usize| {
            format!(
                r#"{{"keys":[{{"kty":"oct","k":"","z":{}{}}}]}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let n = usize::from(MAX_JWK_DEPTH) - 1;
        assert_eq!(kinds(&deep(n)), Ok(std::vec![Ok(KeyType::Oct)]));
        assert_eq!(kinds(&deep(n + 1)).unwrap_err(), Error::TooDeep);
    }
}
