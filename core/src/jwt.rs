//! The JWT layer (RFC 7519): the validation policy, the verifier, and the claims
//! it hands back, borrowed from the caller's scratch buffer.

use core::ops::BitOr;

use crate::error::Claim;
use crate::json::{self, Elements, JsonStr, Object, Value};
use crate::jws::{self, Header, Jws};
use crate::{Error, Key, KeySource};

/// Default clock-skew allowance, in seconds, applied to `exp`, `nbf` and `iat`
/// (the same as `jsonwebtoken`'s).
pub const DEFAULT_LEEWAY: u64 = 60;
/// Default maximum token length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 4096;
/// Default maximum JSON nesting depth (the header or claims object counts as 1).
pub const DEFAULT_MAX_DEPTH: u8 = 16;

/// A set of registered claims, e.g. the claims a token must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimSet(u8);

impl ClaimSet {
    /// No claims.
    pub const NONE: ClaimSet = ClaimSet(0);
    /// `exp`.
    pub const EXP: ClaimSet = ClaimSet(1);
    /// `nbf`.
    pub const NBF: ClaimSet = ClaimSet(1 << 1);
    /// `iat`.
    pub const IAT: ClaimSet = ClaimSet(1 << 2);
    /// `iss`.
    pub const ISS: ClaimSet = ClaimSet(1 << 3);
    /// `aud`.
    pub const AUD: ClaimSet = ClaimSet(1 << 4);
    /// `sub`.
    pub const SUB: ClaimSet = ClaimSet(1 << 5);
    /// `jti`.
    pub const JTI: ClaimSet = ClaimSet(1 << 6);

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: ClaimSet) -> ClaimSet {
        ClaimSet(self.0 | other.0)
    }

    /// Whether every claim of `other` is in `self`.
    #[must_use]
    pub const fn contains(self, other: ClaimSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set holding just `claim`.
    #[must_use]
    pub const fn of(claim: Claim) -> ClaimSet {
        match claim {
            Claim::Exp => ClaimSet::EXP,
            Claim::Nbf => ClaimSet::NBF,
            Claim::Iat => ClaimSet::IAT,
            Claim::Iss => ClaimSet::ISS,
            Claim::Aud => ClaimSet::AUD,
            Claim::Sub => ClaimSet::SUB,
            Claim::Jti => ClaimSet::JTI,
        }
    }
}

impl BitOr for ClaimSet {
    type Output = ClaimSet;

    fn bitor(self, rhs: ClaimSet) -> ClaimSet {
        self.union(rhs)
    }
}

/// What a verifier accepts beyond the signature.
///
/// The algorithm is not here: it is the key's, and the token's `alg` is only
/// checked against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validation<'a> {
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`
    /// (default [`DEFAULT_LEEWAY`]).
    pub leeway: u64,
    /// Claims that must be present (default: `exp`).
    pub required: ClaimSet,
    /// The issuer `iss` must equal, if set; then `iss` must be present.
    pub issuer: Option<&'a str>,
    /// The audience `aud` must name, if set; then `aud` must be present. When
    /// unset, a token that carries `aud` is rejected (RFC 7519 section 4.1.3).
    pub audience: Option<&'a str>,
    /// The header `typ` the token must carry, if set (case-insensitive, the
    /// `application/` prefix optional), so one kind of token cannot pass as another.
    pub typ: Option<&'a str>,
    /// Longest token accepted, in bytes (default [`DEFAULT_MAX_TOKEN_LEN`]).
    pub max_token_len: usize,
    /// Deepest JSON nesting accepted in the header and claims (default
    /// [`DEFAULT_MAX_DEPTH`], at most 64).
    pub max_depth: u8,
}

impl Validation<'_> {
    /// The defaults: leeway 60 s, `exp` required, no issuer, audience or type
    /// expected, tokens up to 4096 bytes, JSON nesting up to 16.
    #[must_use]
    pub const fn new() -> Self {
        Validation {
            leeway: DEFAULT_LEEWAY,
            required: ClaimSet::EXP,
            issuer: None,
            audience: None,
            typ: None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl Default for Validation<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// The audience claim: one string or an array of strings (both occur in practice).
#[derive(Clone, Debug)]
pub enum Audience<'a> {
    /// `"aud": "x"`
    One(JsonStr<'a>),
    /// `"aud": ["x", "y"]`
    Many(Elements<'a>),
}

impl<'a> Audience<'a> {
    /// Whether the audience names `who`.
    #[must_use]
    pub fn contains(&self, who: &str) -> bool {
        match self {
            Audience::One(s) => s.eq_str(who),
            Audience::Many(e) => e.clone().any(|v| v.as_str().is_some_and(|s| s.eq_str(who))),
        }
    }

    /// Every audience named.
    pub fn iter(&self) -> impl Iterator<Item = JsonStr<'a>> + use<'a> {
        let (one, many) = match self {
            Audience::One(s) => (Some(*s), None),
            Audience::Many(e) => (None, Some(e.clone())),
        };
        one.into_iter()
            .chain(many.into_iter().flatten().filter_map(Value::as_str))
    }
}

/// The claims of a verified token, borrowed from the caller's scratch buffer.
// `repr(C)` with the member table last: with a field written after the table's
// (uninitialized) storage, LLVM merged the initial stores into one `memset` of the
// whole table (~35 instructions a verification).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Claims<'a> {
    header: Header<'a>,
    payload: &'a [u8],
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    iss: Option<JsonStr<'a>>,
    sub: Option<JsonStr<'a>>,
    jti: Option<JsonStr<'a>>,
    aud: Option<Audience<'a>>,
    /// The registered claims present (whatever their values). The fields above
    /// say it too, but set once while the claims are picked it costs the
    /// device less code than collecting it from them in `check`.
    present: ClaimSet,
    object: Object<'a>,
}

fn date(v: Option<Value<'_>>, claim: Claim) -> Result<Option<i64>, Error> {
    v.map(|v| v.as_numeric_date().ok_or(Error::InvalidClaim(claim)))
        .transpose()
}

fn string(v: Option<Value<'_>>, claim: Claim) -> Result<Option<JsonStr<'_>>, Error> {
    json::optional_str(v, Error::InvalidClaim(claim))
}

/// The registered claims [`Claims::parse`] reads, in [`ClaimSet`]'s bit order.
const REGISTERED: [Claim; 7] = [
    Claim::Exp,
    Claim::Nbf,
    Claim::Iat,
    Claim::Iss,
    Claim::Aud,
    Claim::Sub,
    Claim::Jti,
];

/// [`REGISTERED`]'s names as [`json::key_of`] keys.
// Evaluated at compile time: an out-of-bounds index here fails the build.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const REGISTERED_KEYS: [u32; 7] = {
    let mut keys = [0; 7];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = json::key_of(REGISTERED[i].name().as_bytes());
        i += 1;
    }
    keys
};

impl<'a> Claims<'a> {
    /// A verified JWS's claims, not yet read: fill them with [`Claims::parse`].
    /// Built where it will stay, so the member table is not copied around.
    fn unparsed(jws: Jws<'a>) -> Self {
        Claims {
            header: jws.header,
            payload: jws.payload,
            object: Object::empty(),
            exp: None,
            nbf: None,
            iat: None,
            iss: None,
            sub: None,
            jti: None,
            aud: None,
            present: ClaimSet::NONE,
        }
    }

    /// Reads the registered claims of the verified payload (types only, no policy).
    fn parse(&mut self, max_depth: u8) -> Result<(), Error> {
        json::parse_into(self.payload, max_depth, &mut self.object)?;
        let picked = self.object.pick(&REGISTERED_KEYS);
        // Bit i of a `ClaimSet` is `REGISTERED[i]`.
        for (i, v) in picked.iter().enumerate() {
            if v.is_some() {
                self.present = self.present.union(ClaimSet(1u8.wrapping_shl(i as u32)));
            }
        }
        let [exp, nbf, iat, iss, aud, sub, jti] = picked;
        self.aud = match aud {
            None => None,
            Some(v) => {
                if let Some(s) = v.as_str() {
                    Some(Audience::One(s))
                } else {
                    let items = v.as_array().ok_or(Error::InvalidClaim(Claim::Aud))?;
                    if items.clone().any(|i| i.as_str().is_none()) {
                        return Err(Error::InvalidClaim(Claim::Aud));
                    }
                    Some(Audience::Many(items))
                }
            }
        };
        self.exp = date(exp, Claim::Exp)?;
        self.nbf = date(nbf, Claim::Nbf)?;
        self.iat = date(iat, Claim::Iat)?;
        self.iss = string(iss, Claim::Iss)?;
        self.sub = string(sub, Claim::Sub)?;
        self.jti = string(jti, Claim::Jti)?;
        Ok(())
    }

    /// Applies the policy at time `now` (seconds since the Unix epoch).
    fn check(&self, v: &Validation<'_>, now: u64) -> Result<(), Error> {
        use Claim::*;
        // The first required claim missing, in `REGISTERED` order.
        let missing = v.required.0 & !self.present.0;
        if missing != 0 {
            let first = REGISTERED.get(missing.trailing_zeros() as usize);
            return Err(Error::MissingClaim(first.copied().unwrap_or(Exp)));
        }
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let leeway = i64::try_from(v.leeway).unwrap_or(i64::MAX);
        if self
            .exp
            .is_some_and(|exp| exp.saturating_add(leeway) <= now)
        {
            return Err(Error::Expired);
        }
        let late_now = now.saturating_add(leeway);
        if self.nbf.is_some_and(|nbf| nbf > late_now) {
            return Err(Error::NotYetValid);
        }
        if self.iat.is_some_and(|iat| iat > late_now) {
            return Err(Error::IssuedInFuture);
        }
        if let Some(expected) = v.issuer {
            let iss = self.iss.ok_or(Error::MissingClaim(Iss))?;
            if !iss.eq_str(expected) {
                return Err(Error::WrongIssuer);
            }
        }
        match (v.audience, &self.aud) {
            (Some(_), None) => return Err(Error::MissingClaim(Aud)),
            (Some(expected), Some(aud)) if !aud.contains(expected) => {
                return Err(Error::WrongAudience);
            }
            (None, Some(_)) => return Err(Error::WrongAudience),
            _ => {}
        }
        Ok(())
    }

    /// The protected header.
    #[must_use]
    pub fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// The verified claims set as JSON bytes.
    #[must_use]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// `exp`, in seconds since the Unix epoch (fractions truncated toward zero; a
    /// value beyond `i64` was refused as [`Error::InvalidClaim`]).
    #[must_use]
    pub fn exp(&self) -> Option<i64> {
        self.exp
    }

    /// `nbf`, in seconds since the Unix epoch (fractions truncated toward zero; a
    /// value beyond `i64` was refused as [`Error::InvalidClaim`]).
    #[must_use]
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// `iat`, in seconds since the Unix epoch (fractions truncated toward zero; a
    /// value beyond `i64` was refused as [`Error::InvalidClaim`]).
    #[must_use]
    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    /// `iss`.
    #[must_use]
    pub fn iss(&self) -> Option<JsonStr<'a>> {
        self.iss
    }

    /// `sub`.
    #[must_use]
    pub fn sub(&self) -> Option<JsonStr<'a>> {
        self.sub
    }

    /// `jti`.
    #[must_use]
    pub fn jti(&self) -> Option<JsonStr<'a>> {
        self.jti
    }

    /// `aud`.
    #[must_use]
    pub fn aud(&self) -> Option<Audience<'a>> {
        self.aud.clone()
    }

    /// Any top-level claim by name (escape-aware), e.g. `scope`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.object.get(name)
    }

    /// Every top-level claim, in document order.
    pub fn iter(&self) -> impl Iterator<Item = (JsonStr<'a>, Value<'a>)> + '_ {
        self.object.members()
    }
}

/// Verifies tokens under one policy with one key ([`Verifier::new`]) or with the key
/// a [`KeySet`](crate::KeySet) chooses from each token's header
/// ([`Verifier::with_keys`]).
///
/// The key fixes the algorithm; the token's `alg` is only compared with it.
#[derive(Clone, Debug)]
pub struct Verifier<'v, K = Key> {
    keys: K,
    validation: Validation<'v>,
}

impl<'v> Verifier<'v> {
    /// A verifier for `key` under `validation`.
    #[must_use]
    pub const fn new(key: Key, validation: Validation<'v>) -> Self {
        Verifier {
            keys: key,
            validation,
        }
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &Key {
        &self.keys
    }
}

impl<'v, K: KeySource> Verifier<'v, K> {
    /// A verifier that takes each token's key from `keys` (a
    /// [`KeySet`](crate::KeySet), or a reference to one), chosen from the header's
    /// `kid` and `alg` by the set's rules, under `validation`.
    #[must_use]
    pub const fn with_keys(keys: K, validation: Validation<'v>) -> Self {
        Verifier { keys, validation }
    }

    /// Where the keys come from.
    #[must_use]
    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// The policy.
    #[must_use]
    pub fn validation(&self) -> &Validation<'v> {
        &self.validation
    }

    fn jws<'s>(
        &self,
        token: &[u8],
        scratch: &'s mut [u8],
    ) -> Result<(Jws<'s>, &'s mut [u8]), Error> {
        let v = &self.validation;
        jws::verify(
            &self.keys,
            token,
            v.typ,
            v.max_token_len,
            v.max_depth,
            scratch,
        )
    }

    /// Verifies the signature layer only: size, segments, header (and the key it
    /// chooses), signature. The payload may be any bytes.
    ///
    /// `scratch` must hold the decoded header and payload (3/4 of the token length).
    ///
    /// # Errors
    /// Any of the token, header or signature errors of [`Error`].
    pub fn verify_jws<'s>(&self, token: &[u8], scratch: &'s mut [u8]) -> Result<Jws<'s>, Error> {
        self.jws(token, scratch).map(|(jws, _)| jws)
    }

    /// Verifies a JWT at `now` (seconds since the Unix epoch): signature, claims
    /// types, required claims, time, issuer and audience.
    ///
    /// # Errors
    /// The first check that fails, as an [`Error`].
    #[inline]
    pub fn verify<'s>(
        &self,
        token: &[u8],
        now: u64,
        scratch: &'s mut [u8],
    ) -> Result<Claims<'s>, Error> {
        self.verify_at(token, scratch, |_| now)
    }

    /// Like [`Verifier::verify`], but the time is chosen by `now` after the
    /// signature holds, from the authenticated claims (a device can move a clock
    /// floor forward to a trusted `iat`, say).
    ///
    /// # Errors
    /// The first check that fails, as an [`Error`].
    #[inline]
    pub fn verify_at<'s>(
        &self,
        token: &[u8],
        scratch: &'s mut [u8],
        now: impl FnOnce(&Claims<'s>) -> u64,
    ) -> Result<Claims<'s>, Error> {
        let (jws, _) = self.jws(token, scratch)?;
        let mut claims = Claims::unparsed(jws);
        claims.parse(self.validation.max_depth)?;
        claims.check(&self.validation, now(&claims))?;
        Ok(claims)
    }

    /// Like [`Verifier::verify`], and also reads the caller's own claims type `C`
    /// from the claims set with `serde-json-core`. `C` may borrow strings from the
    /// scratch buffer; strings with escapes are unescaped into the part of
    /// `scratch` the token did not use, so leave some room if they can occur.
    ///
    /// # Errors
    /// The first check that fails; [`Error::CustomClaims`] when `C` cannot be read.
    pub fn verify_with<'s, C: serde::Deserialize<'s>>(
        &self,
        token: &[u8],
        now: u64,
        scratch: &'s mut [u8],
    ) -> Result<(Claims<'s>, C), Error> {
        let (jws, spare) = self.jws(token, scratch)?;
        let mut claims = Claims::unparsed(jws);
        claims.parse(self.validation.max_depth)?;
        claims.check(&self.validation, now)?;
        let (custom, _) = serde_json_core::from_slice_escaped::<C>(claims.payload, spare)
            .map_err(|_| Error::CustomClaims)?;
        Ok((claims, custom))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, HeaderParams};

    const NOW: u64 = 1_700_000_000;

    fn key() -> Key {
        Key::new(Algorithm::Hs256, b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn token<'o>(claims: &str, out: &'o mut [u8]) -> &'o str {
        key()
            .sign(&HeaderParams::default(), claims.as_bytes(), out)
            .unwrap()
    }

    fn check(claims: &str, v: Validation<'_>) -> Result<(), Error> {
        let mut out = [0u8; 1024];
        let t = token(claims, &mut out);
        let mut scratch = [0u8; 1024];
        Verifier::new(key(), v)
            .verify(t.as_bytes(), NOW, &mut scratch)
            .map(|_| ())
    }

    #[test]
    fn time_boundaries_with_leeway() {
        let v = Validation {
            leeway: 10,
            ..Validation::new()
        };
        assert_eq!(check(r#"{"exp":1699999990}"#, v), Err(Error::Expired));
        assert_eq!(check(r#"{"exp":1699999991}"#, v), Ok(()));
        let strict = Validation {
            leeway: 0,
            ..Validation::new()
        };
        assert_eq!(check(r#"{"exp":1700000000}"#, strict), Err(Error::Expired));
        assert_eq!(check(r#"{"exp":1700000001}"#, strict), Ok(()));
        let nbf = |n: u64| format_nbf(n);
        assert_eq!(check(&nbf(NOW + 11), v), Err(Error::NotYetValid));
        assert_eq!(check(&nbf(NOW + 10), v), Ok(()));
    }

    fn format_nbf(n: u64) -> heapless::String<64> {
        let mut s = heapless::String::new();
        core::fmt::Write::write_fmt(&mut s, format_args!(r#"{{"exp":9999999999,"nbf":{n}}}"#))
            .unwrap();
        s
    }

    #[test]
    fn audience_rules() {
        let v = Validation {
            audience: Some("dev-1"),
            ..Validation::new()
        };
        let e = r#""exp":9999999999"#;
        assert_eq!(check(&alloc_fmt(e, r#""aud":"dev-1""#), v), Ok(()));
        assert_eq!(check(&alloc_fmt(e, r#""aud":["x","dev-1"]"#), v), Ok(()));
        assert_eq!(
            check(&alloc_fmt(e, r#""aud":["x","dev-2"]"#), v),
            Err(Error::WrongAudience)
        );
        assert_eq!(
            check(&alloc_fmt(e, r#""aud":["x",1]"#), v),
            Err(Error::InvalidClaim(Claim::Aud))
        );
        assert_eq!(
            check(&alloc_fmt(e, r#""aud":1"#), v),
            Err(Error::InvalidClaim(Claim::Aud))
        );
        assert_eq!(
            check(&alloc_fmt(e, r#""sub":"x""#), v),
            Err(Error::MissingClaim(Claim::Aud))
        );
        assert_eq!(
            check(&alloc_fmt(e, r#""aud":"dev-1""#), Validation::new()),
            Err(Error::WrongAudience)
        );
        assert_eq!(check(&alloc_fmt(e, r#""aud":"d\u0065v-1""#), v), Ok(()));
    }

    fn alloc_fmt(a: &str, b: &str) -> heapless::String<256> {
        let mut s = heapless::String::new();
        core::fmt::Write::write_fmt(&mut s, format_args!("{{{a},{b}}}")).unwrap();
        s
    }

    /// What a verified token's claims hand out, claim by claim.
    #[test]
    fn claims_accessors() {
        extern crate std;
        use std::vec::Vec;
        let text = r#"{"exp":9999999999,"nbf":1600000000.5,"iat":1650000000,"iss":"i\u0073s","sub":"s","jti":"j1","aud":["x","a"],"scope":"open"}"#;
        let mut out = [0u8; 1024];
        let t = token(text, &mut out);
        let mut scratch = [0u8; 1024];
        let v = Validation {
            audience: Some("a"),
            ..Validation::new()
        };
        let verifier = Verifier::new(key(), v);
        let c = verifier.verify(t.as_bytes(), NOW, &mut scratch).unwrap();
        assert_eq!(c.payload(), text.as_bytes());
        assert_eq!(c.header().alg(), Algorithm::Hs256);
        assert_eq!(c.exp(), Some(9_999_999_999));
        assert_eq!(c.nbf(), Some(1_600_000_000));
        assert_eq!(c.iat(), Some(1_650_000_000));
        assert_eq!(c.iss().map(JsonStr::raw), Some(r"i\u0073s"));
        assert!(c.iss().is_some_and(|i| i.eq_str("iss")));
        assert_eq!(c.sub().map(JsonStr::raw), Some("s"));
        assert_eq!(c.jti().map(JsonStr::raw), Some("j1"));
        let aud = c.aud().unwrap();
        assert_eq!(aud.iter().map(JsonStr::raw).collect::<Vec<_>>(), ["x", "a"]);
        assert!(aud.contains("x") && aud.contains("a") && !aud.contains("y"));
        assert_eq!(
            c.get("scope").and_then(Value::as_str).map(JsonStr::raw),
            Some("open")
        );
        assert_eq!(c.iter().count(), 8);
        // Absent claims are absent.
        let mut out = [0u8; 1024];
        let t = token(r#"{"exp":9999999999}"#, &mut out);
        let verifier = Verifier::new(key(), Validation::new());
        let c = verifier.verify(t.as_bytes(), NOW, &mut scratch).unwrap();
        assert!(c.nbf().is_none() && c.iat().is_none() && c.iss().is_none());
        assert!(c.sub().is_none() && c.jti().is_none() && c.aud().is_none());
    }

    #[test]
    fn claim_sets() {
        let all = REGISTERED;
        // `Claims::parse` sets bit i for `REGISTERED[i]`: that is `ClaimSet::of`'s
        // bit, and the keys are those claims' names.
        for (i, &c) in all.iter().enumerate() {
            assert_eq!(ClaimSet::of(c), ClaimSet(1 << i), "{c:?}");
            assert_eq!(
                Some(REGISTERED_KEYS[i]),
                json::name_key(c.name().as_bytes())
            );
        }
        let mut union = ClaimSet::NONE;
        for (i, &a) in all.iter().enumerate() {
            assert_ne!(ClaimSet::of(a), ClaimSet::NONE, "{a:?}");
            for &b in &all[i + 1..] {
                assert!(!ClaimSet::of(a).contains(ClaimSet::of(b)), "{a:?} {b:?}");
            }
            union = union.union(ClaimSet::of(a));
        }
        for a in all {
            assert!(union.contains(ClaimSet::of(a)));
            // A union with a member already in the set changes nothing.
            assert_eq!(union.union(ClaimSet::of(a)), union);
        }
        assert!(ClaimSet::EXP.contains(ClaimSet::NONE));
        assert!(!ClaimSet::NONE.contains(ClaimSet::EXP));
    }

    /// Each claim, required alone, is enough to refuse a token without it, and
    /// only that claim's absence is reported.
    #[test]
    fn every_claim_can_be_required() {
        let members = [
            (Claim::Exp, r#""exp":9999999999"#),
            (Claim::Nbf, r#""nbf":1"#),
            (Claim::Iat, r#""iat":1"#),
            (Claim::Iss, r#""iss":"i""#),
            (Claim::Aud, r#""aud":"a""#),
            (Claim::Sub, r#""sub":"s""#),
            (Claim::Jti, r#""jti":"j""#),
        ];
        let object = |skip: Option<Claim>| {
            let mut s = heapless::String::<256>::new();
            let _ = s.push('{');
            for (_, text) in members.iter().filter(|(c, _)| Some(*c) != skip) {
                if s.len() > 1 {
                    let _ = s.push(',');
                }
                let _ = s.push_str(text);
            }
            let _ = s.push('}');
            s
        };
        for (claim, _) in members {
            let v = Validation {
                required: ClaimSet::of(claim),
                // A configured audience would report a missing `aud` by itself.
                audience: (claim != Claim::Aud).then_some("a"),
                ..Validation::new()
            };
            assert_eq!(
                check(&object(Some(claim)), v),
                Err(Error::MissingClaim(claim))
            );
            let with_aud = Validation {
                audience: Some("a"),
                ..v
            };
            assert_eq!(check(&object(None), with_aud), Ok(()));
        }
    }

    /// `exp`, `nbf` or `iat` beyond `i64` (truncated) is malformed, never a
    /// far-future or far-past date: refused as `InvalidClaim` whatever the time.
    #[test]
    fn dates_beyond_i64_are_malformed() {
        let huge = [
            "1e400",
            "-1e400",
            "9223372036854775808",
            "-9223372036854775809",
            "1e19",
            "9.3e18",
            "-9.3e18",
        ];
        let none = Validation {
            required: ClaimSet::NONE,
            ..Validation::new()
        };
        for claim in [Claim::Exp, Claim::Nbf, Claim::Iat] {
            for n in huge {
                let text = alloc_fmt(r#""sub":"s""#, &date_member(claim, n));
                assert_eq!(
                    check(&text, none),
                    Err(Error::InvalidClaim(claim)),
                    "{text}"
                );
            }
        }
    }

    /// Dates at the ends of `i64` and in exponent form are read as their
    /// values, and only the time checks judge them.
    #[test]
    fn dates_that_fit_are_read_as_their_values() {
        use core::cell::Cell;
        let fits = [
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("1e18", 1_000_000_000_000_000_000),
            ("1.5e9", 1_500_000_000),
        ];
        for claim in [Claim::Exp, Claim::Nbf, Claim::Iat] {
            for (n, value) in fits {
                let text = alloc_fmt(r#""sub":"s""#, &date_member(claim, n));
                let mut out = [0u8; 1024];
                let t = token(&text, &mut out);
                let mut scratch = [0u8; 1024];
                let v = Validation {
                    required: ClaimSet::NONE,
                    ..Validation::new()
                };
                let read = Cell::new(None);
                let got = Verifier::new(key(), v).verify_at(t.as_bytes(), &mut scratch, |c| {
                    read.set(match claim {
                        Claim::Exp => c.exp(),
                        Claim::Nbf => c.nbf(),
                        _ => c.iat(),
                    });
                    NOW
                });
                assert_eq!(read.get(), Some(value), "{text}");
                let late = value > NOW as i64;
                let want = match claim {
                    Claim::Exp if !late => Err(Error::Expired),
                    Claim::Nbf if late => Err(Error::NotYetValid),
                    Claim::Iat if late => Err(Error::IssuedInFuture),
                    _ => Ok(()),
                };
                assert_eq!(got.map(|_| ()), want, "{text}");
            }
        }
    }

    fn date_member(claim: Claim, n: &str) -> heapless::String<64> {
        let mut s = heapless::String::new();
        core::fmt::Write::write_fmt(&mut s, format_args!(r#""{}":{n}"#, claim.name())).unwrap();
        s
    }

    #[test]
    fn claim_types_are_checked_never_ignored() {
        let v = Validation::new();
        assert_eq!(
            check(r#"{"exp":"9999999999"}"#, v),
            Err(Error::InvalidClaim(Claim::Exp))
        );
        assert_eq!(
            check(r#"{"exp":9999999999,"nbf":null}"#, v),
            Err(Error::InvalidClaim(Claim::Nbf))
        );
        assert_eq!(
            check(r#"{"exp":9999999999,"iss":7}"#, v),
            Err(Error::InvalidClaim(Claim::Iss))
        );
        assert_eq!(check(r#"{}"#, v), Err(Error::MissingClaim(Claim::Exp)));
        let none = Validation {
            required: ClaimSet::NONE,
            ..v
        };
        assert_eq!(check(r#"{}"#, none), Ok(()));
    }

    /// A verifier over a key set, owned or borrowed, has the claims API of one
    /// over a key; the header's `alg` must still be the chosen key's.
    #[test]
    fn verifier_over_a_key_set() {
        use crate::KeySet;
        let other = Key::new(Algorithm::Hs256, &[9; 32]).unwrap();
        let mut keys = KeySet::<2>::new();
        keys.insert(Some("main"), key()).unwrap();
        keys.insert(Some("other"), other.clone()).unwrap();
        let sign = |k: &Key, kid| {
            let mut out = [0u8; 256];
            let hp = HeaderParams { typ: None, kid };
            let t = k.sign(&hp, br#"{"exp":9999999999,"sub":"s"}"#, &mut out);
            std::string::String::from(t.unwrap())
        };
        extern crate std;
        let borrowed = Verifier::with_keys(&keys, Validation::new());
        let mut scratch = [0u8; 512];
        let t = sign(&key(), Some("main"));
        let c = borrowed.verify(t.as_bytes(), NOW, &mut scratch).unwrap();
        assert_eq!(c.sub().map(JsonStr::raw), Some("s"));
        assert!(c.header().kid().is_some_and(|k| k.eq_str("main")));
        // Signed with one key, naming the other: the named key decides.
        let t = sign(&key(), Some("other"));
        assert_eq!(
            borrowed.verify(t.as_bytes(), NOW, &mut scratch).err(),
            Some(Error::BadSignature)
        );
        let t = sign(&key(), Some("none-such"));
        assert_eq!(
            borrowed.verify_jws(t.as_bytes(), &mut scratch).err(),
            Some(Error::UnknownKey)
        );
        let t = sign(&key(), None);
        assert_eq!(
            borrowed.verify(t.as_bytes(), NOW, &mut scratch).err(),
            Some(Error::AmbiguousKey)
        );
        // The kid's key is HS512: a token saying HS256 for it is refused.
        #[cfg(feature = "sha512")]
        {
            #[derive(serde::Deserialize)]
            struct Sub<'a> {
                sub: &'a str,
            }
            let mut mixed = KeySet::<2>::new();
            mixed.insert(Some("main"), key()).unwrap();
            let hs512 = Key::new(Algorithm::Hs512, &[3; 64]).unwrap();
            mixed.insert(Some("big"), hs512).unwrap();
            let owned = Verifier::with_keys(mixed, Validation::new());
            let t = sign(&key(), Some("big"));
            assert_eq!(
                owned.verify(t.as_bytes(), NOW, &mut scratch).err(),
                Some(Error::WrongAlgorithm)
            );
            // Without a kid, the one HS256 key.
            let t = sign(&key(), None);
            let (c, custom) = owned
                .verify_with::<Sub>(t.as_bytes(), NOW, &mut scratch)
                .unwrap();
            assert_eq!((c.exp(), custom.sub), (Some(9_999_999_999), "s"));
            assert_eq!(owned.keys().len(), 2);
        }
    }
}
