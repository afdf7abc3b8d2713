//! The command keys a device trusts, and the trust statements that change them.
//!
//! A public-key device is built with a root public key (Ed25519) and its first
//! command keys, each a `kid` bound to one algorithm. Command tokens name their key
//! by `kid` (latchkey-core's [`KeySet`](latchkey_core::KeySet) picks it, and pins
//! its algorithm). The root signs nothing but trust statements (`lk-trust+jwt`, see
//! [`latchkey_protocol::TrustStatement`]): with an `epoch` above the device's, a
//! statement retires the kids it lists and adds the JWKs it carries.
//!
//! The table persists as a record ([`KeyTable::encode`]) that names the root it
//! was signed under: after a reflash with the same root the table stays (keys the
//! root added stay, keys it retired stay retired); under another root it goes, and
//! the build's keys count.

use heapless::{String, Vec};
use latchkey_core::keys::{Jwk, KeyMaterial};
use latchkey_core::{Algorithm, Claims, Error, Key, keys::Curve};
use latchkey_protocol::{MAX_COMMAND_KEYS, MAX_KID_LEN, Reason};

/// Bytes of a key's public material the table holds: an Ed25519 key (32), a P-256
/// point `x || y` (64), or with feature `rs256` an RSA-2048 modulus (256).
#[cfg(not(feature = "rs256"))]
pub const MAX_MATERIAL_LEN: usize = 64;
/// Bytes of a key's public material the table holds: an Ed25519 key (32), a P-256
/// point `x || y` (64), or with feature `rs256` an RSA-2048 modulus (256; the
/// device holds 2048-bit RSA keys, whose tokens its line carries).
#[cfg(feature = "rs256")]
pub const MAX_MATERIAL_LEN: usize = 256;

/// Bytes of an Ed25519 public key: the root key.
pub const ROOT_KEY_LEN: usize = 32;

/// One command key: its `kid`, the one algorithm it verifies, its public material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key's id, as command tokens name it.
    pub kid: String<MAX_KID_LEN>,
    /// The algorithm the key is bound to.
    pub alg: Algorithm,
    /// Ed25519: the key; ES256: `x || y`; RS256: the modulus (`e` is 65537).
    pub material: Vec<u8, MAX_MATERIAL_LEN>,
}

impl KeyEntry {
    /// An entry, checked: the key must build for `alg` in this firmware.
    ///
    /// # Errors
    /// [`Reason::BadTrust`] for a `kid` that is empty or too long, material too
    /// long, or a key latchkey-core refuses (a wrong length, a point off its curve,
    /// an algorithm this build does not verify).
    pub fn new(kid: &str, alg: Algorithm, material: &[u8]) -> Result<KeyEntry, Reason> {
        let entry = KeyEntry {
            kid: String::try_from(kid).map_err(|_| Reason::BadTrust)?,
            alg,
            material: Vec::from_slice(material).map_err(|_| Reason::BadTrust)?,
        };
        if entry.kid.is_empty() {
            return Err(Reason::BadTrust);
        }
        entry.key().map_err(|_| Reason::BadTrust)?;
        Ok(entry)
    }

    /// The entry read from one JWK (a trust statement's `add`): it must carry a
    /// `kid` and an `alg`.
    ///
    /// # Errors
    /// [`Reason::BadTrust`] for anything latchkey-core's JWK reader refuses, a
    /// JWK without `kid` or `alg`, or a key [`KeyEntry::new`] refuses.
    #[inline(never)] // a frame of its own (see `Authorizer::take_up`)
    pub fn from_jwk(text: &[u8]) -> Result<KeyEntry, Reason> {
        let jwk = Jwk::parse(text).map_err(|_| Reason::BadTrust)?;
        let mut kid_buf = [0u8; MAX_KID_LEN];
        let kid = jwk
            .kid()
            .ok_or(Reason::BadTrust)?
            .decode_into(&mut kid_buf)
            .map_err(|_| Reason::BadTrust)?;
        let alg = jwk
            .alg()
            .and_then(|a| a.as_str())
            .and_then(|name| Algorithm::from_name(name).ok())
            .ok_or(Reason::BadTrust)?;
        let mut buf = [0u8; latchkey_core::keys::JWK_BUFFER_LEN];
        let mut material = [0u8; MAX_MATERIAL_LEN];
        let len = match jwk.material(&mut buf).map_err(|_| Reason::BadTrust)? {
            KeyMaterial::Ed25519(x) => put(&mut material, &[x])?,
            KeyMaterial::Ec {
                curve: Curve::P256,
                x,
                y,
            } => put(&mut material, &[x, y])?,
            KeyMaterial::Rsa { n, e } if e == [1, 0, 1] => put(&mut material, &[n])?,
            _ => return Err(Reason::BadTrust),
        };
        KeyEntry::new(kid, alg, material.get(..len).unwrap_or_default())
    }

    /// The verifying key.
    ///
    /// # Errors
    /// latchkey-core's, for material that is not a key of the entry's algorithm.
    pub fn key(&self) -> Result<Key, Error> {
        match self.alg {
            Algorithm::EdDsa => Key::ed25519(self.alg, &self.material),
            Algorithm::Rs256 => Key::rsa(self.alg, &self.material, &[1, 0, 1]),
            _ => {
                let (x, y) = self.material.split_at(self.material.len() / 2);
                Key::ec(self.alg, latchkey_core::EcCurve::P256, x, y)
            }
        }
    }
}

/// Copies `parts` one after another into `out`; returns the length.
fn put(out: &mut [u8], parts: &[&[u8]]) -> Result<usize, Reason> {
    let mut len = 0;
    for part in parts {
        let end = len + part.len();
        out.get_mut(len..end)
            .ok_or(Reason::BadTrust)?
            .copy_from_slice(part);
        len = end;
    }
    Ok(len)
}

/// The command keys and the trust epoch they are at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyTable {
    /// The epoch of the last trust statement taken up (0: the build's keys).
    pub epoch: u32,
    /// The keys, in the order they were added.
    pub entries: Vec<KeyEntry, MAX_COMMAND_KEYS>,
}

/// Bytes of one encoded entry: kid length and kid, algorithm name length and
/// name, material length and material.
const ENTRY_LEN: usize = 1 + MAX_KID_LEN + 1 + 8 + 2 + MAX_MATERIAL_LEN;

/// Bytes of an encoded table: the root it was signed under, the epoch, the count
/// and [`MAX_COMMAND_KEYS`] entries (zero-filled when unused).
pub const RECORD_LEN: usize = ROOT_KEY_LEN + 4 + 1 + MAX_COMMAND_KEYS * ENTRY_LEN;

/// The trust log of `state` holds the record in every build (1237 bytes with `rs256`).
const _: () = assert!(RECORD_LEN <= crate::state::TRUST_CAPACITY);

/// The key table record's format in the trust log.
pub const RECORD_FORMAT: crate::state::Format = crate::state::Format {
    version: 1,
    min_len: RECORD_LEN,
};

impl KeyTable {
    /// The table a verified trust statement's claims make of this one: `epoch`
    /// above ours, then the kids in `retire` gone (unknown ones ignored), then the
    /// JWKs in `add` added.
    ///
    /// # Errors
    /// [`Reason::BadTrust`] when `epoch`, `add` or `retire` is missing or of the
    /// wrong type or a key is refused ([`KeyEntry::from_jwk`]);
    /// [`Reason::StaleEpoch`] when `epoch` is not above ours;
    /// [`Reason::KeyTableFull`] for more than [`MAX_COMMAND_KEYS`] keys or a `kid`
    /// held twice; [`Reason::LastKey`] when no key would be left.
    #[inline(never)] // a frame of its own (see `Authorizer::take_up`)
    pub fn after(&self, claims: &Claims<'_>) -> Result<KeyTable, Reason> {
        let epoch = claims
            .get("epoch")
            .and_then(|v| v.as_i64())
            .and_then(|e| u32::try_from(e).ok())
            .ok_or(Reason::BadTrust)?;
        let add = claims
            .get("add")
            .and_then(|v| v.as_array())
            .ok_or(Reason::BadTrust)?;
        let retire = claims
            .get("retire")
            .and_then(|v| v.as_array())
            .ok_or(Reason::BadTrust)?;
        if epoch <= self.epoch {
            return Err(Reason::StaleEpoch);
        }
        let mut next = KeyTable {
            epoch,
            entries: self.entries.clone(),
        };
        for kid in retire {
            let mut buf = [0u8; MAX_KID_LEN];
            let kid = kid.as_str().ok_or(Reason::BadTrust)?;
            // A kid longer than any held cannot name one: nothing to retire.
            if let Ok(kid) = kid.decode_into(&mut buf) {
                next.entries.retain(|e| e.kid != kid);
            }
        }
        for jwk in add {
            let entry = KeyEntry::from_jwk(jwk.raw().as_bytes())?;
            if next.entries.iter().any(|e| e.kid == entry.kid) {
                return Err(Reason::KeyTableFull);
            }
            next.entries.push(entry).map_err(|_| Reason::KeyTableFull)?;
        }
        if next.entries.is_empty() {
            return Err(Reason::LastKey);
        }
        Ok(next)
    }

    /// The record that persists this table as signed under `root`.
    #[inline(never)] // a frame of its own (see `Authorizer::take_up`)
    pub fn encode(&self, root: &[u8; ROOT_KEY_LEN]) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        let mut w = Cursor { buf: &mut r, at: 0 };
        w.put(root);
        w.put(&self.epoch.to_le_bytes());
        w.put(&[self.entries.len() as u8]);
        for e in &self.entries {
            let start = w.at;
            w.put(&[e.kid.len() as u8]);
            w.put(e.kid.as_bytes());
            w.at = start + 1 + MAX_KID_LEN;
            let name = e.alg.name().as_bytes();
            w.put(&[name.len() as u8]);
            w.put(name);
            w.at = start + 1 + MAX_KID_LEN + 1 + 8;
            w.put(&(e.material.len() as u16).to_le_bytes());
            w.put(&e.material);
            w.at = start + ENTRY_LEN;
        }
        r
    }

    /// The table a record holds, if it was signed under `root` and every entry is
    /// a key this build verifies; `None` otherwise (the caller falls back to the
    /// build's keys).
    pub fn decode(r: &[u8], root: &[u8; ROOT_KEY_LEN]) -> Option<KeyTable> {
        if r.len() != RECORD_LEN || r.get(..ROOT_KEY_LEN)? != root {
            return None;
        }
        let epoch = u32::from_le_bytes(r.get(ROOT_KEY_LEN..ROOT_KEY_LEN + 4)?.try_into().ok()?);
        let count = usize::from(*r.get(ROOT_KEY_LEN + 4)?);
        let mut table = KeyTable {
            epoch,
            entries: Vec::new(),
        };
        let entries = r.get(ROOT_KEY_LEN + 5..)?.chunks_exact(ENTRY_LEN);
        for e in entries.take(count) {
            let kid_len = usize::from(*e.first()?);
            let kid = core::str::from_utf8(e.get(1..1 + kid_len)?).ok()?;
            let at = 1 + MAX_KID_LEN;
            let name_len = usize::from(*e.get(at)?);
            let name = core::str::from_utf8(e.get(at + 1..at + 1 + name_len)?).ok()?;
            let alg = Algorithm::from_name(name).ok()?;
            let at = at + 1 + 8;
            let len = usize::from(u16::from_le_bytes([*e.get(at)?, *e.get(at + 1)?]));
            let material = e.get(at + 2..at + 2 + len)?;
            table
                .entries
                .push(KeyEntry::new(kid, alg, material).ok()?)
                .ok()?;
        }
        if table.entries.len() != count || count == 0 {
            return None;
        }
        Some(table)
    }
}

/// Writes into a fixed record; writes past its end are dropped (the layout is
/// fixed, so none happen).
struct Cursor<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }
}
