//! Persistent device state in flash through `embedded-storage`'s [`NorFlash`]:
//! an append-only [`Log`] of versioned, CRC-checked records, so that a power
//! cut mid-write never leaves a state that accepts more than before.
//!
//! The device keeps two logs, each in its own region of whole erase sectors:
//!
//! - **counters** ([`CounterLog`], typed [`Counters`]): the clock floor, the
//!   highest `seq` obeyed and the replay window. Written before every command
//!   is carried out.
//! - **trust** ([`TrustLog`]): the trust epoch and the command keys, as opaque
//!   bytes the key table encodes (its own [`Format`] version). Written only
//!   when a `trust` statement is taken up.
//!
//! # The log
//!
//! A region is a ring of `K ≥ 2` pages; a page is the fewest erase sectors that
//! hold one record ([`Log::PAGE_SECTORS`]). Records have one fixed size per log
//! ([`Log::RECORD_LEN`]) and sit one after another from the start of a page.
//! An append writes the record to the first erased (all `0xFF`) slot after the
//! newest valid record, skipping any slot that is not erased (one whose write
//! was cut is never written over); when the page has no such slot left, the
//! next page of the ring is erased and the record goes to its start. The erased
//! page never holds the newest valid record, so the record a cut may spoil is
//! always the one being written. (With no valid record, appends go on after the
//! newest intact record of another version, or start at the first page.)
//!
//! A record is written in two steps: everything after its first write unit
//! (the rest of the header, the payload, the padding and the CRC-32), then the
//! first unit, which holds the magic word (its first bytes, if the flash writes
//! fewer than 4 bytes at a time). Until that last write is down the slot has no
//! magic and is not a record; a write torn inside a word fails the
//! magic or the CRC. At open every slot of every page is read: the valid record
//! with the highest sequence number is the state. A valid record has the magic,
//! a good CRC, the log's payload [`Format`] version and a payload length in the
//! format's range; any other slot (an older or newer format, a torn write,
//! garbage) counts as no record. Sequence numbers go on from the highest of any
//! intact record (magic and CRC good), so a record always outranks those before
//! it, of whatever version.
//!
//! Record layout, little-endian, `N` the log's payload capacity:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | magic `LKL1` (in the first write unit: written last) |
//! | 4 | 2 | payload format version ([`Format::version`]) |
//! | 6 | 2 | payload length `len`, `Format::min_len..=N` |
//! | 8 | 4 | sequence number (the highest valid one wins) |
//! | 12 | `len` | payload |
//! | 12 + `len` | to `RECORD_LEN − 4` | zeros |
//! | `RECORD_LEN − 4` | 4 | CRC-32 (IEEE) of bytes `0..RECORD_LEN − 4`, magic included |
//!
//! `RECORD_LEN` is `16 + N` rounded up to a multiple of 4 bytes and of the
//! flash's write and read sizes. The logs the device keeps, on a flash with
//! 1 KiB erase sectors and 4-byte writes (the STM32F103's pages; its 2-byte
//! writes give the same figures):
//!
//! | log | `N` | version | `RECORD_LEN` | page | records per page | region |
//! |-----|----:|---------|-------------:|-----:|-----------------:|-------:|
//! | counters | [`COUNTERS_LEN`] = 24 | [`COUNTERS_FORMAT`] = 1 | 40 | 1 sector | 25 | [`COUNTERS_SECTORS`] = 4 sectors, 4 pages |
//! | trust | [`TRUST_CAPACITY`] = 1352 | the key table's | 1368 | 2 sectors | 1 | [`TRUST_SECTORS`] = 4 sectors, 2 pages |
//!
//! Counters payload, version 1 (24 bytes): clock floor (u64, unix seconds),
//! highest `seq` obeyed (u64, 0: none yet), replay window (u64, bit `i` set: `seq`
//! `highest_seq − i` was obeyed). [`CounterLog::save`] never stores less than
//! it stored before: the floor and the highest `seq` never go down, and a
//! window is never forgotten (see [`Counters::join`]).
//!
//! Wear figures are in the firmware README ("Flash wear").

mod cut;
mod log;
pub mod ram;

use embedded_storage::nor_flash::NorFlash;

use crate::replay::Window;
use latchkey_protocol::{MAX_COMMAND_KEYS, MAX_KID_LEN};

pub use cut::{CutAfter, CutError};
pub use log::{Format, HEADER_LEN, Log, LogError, MAGIC, Payload};

/// Bytes of a version-1 counters payload.
pub const COUNTERS_LEN: usize = 24;

/// The counters payload format: version 1, exactly [`COUNTERS_LEN`] bytes.
pub const COUNTERS_FORMAT: Format = Format {
    version: 1,
    min_len: COUNTERS_LEN,
};

/// Erase sectors of the counters region: 4 pages of 25 records (see the
/// README's "Flash wear" for why four).
pub const COUNTERS_SECTORS: u32 = 4;

/// Longest public key a command key holds, in bytes: an RSA-2048 modulus
/// (256) with room for its exponent; Ed25519 needs 32, a P-256 SEC1 point 65.
pub const MAX_KEY_MATERIAL_LEN: usize = 300;

/// Largest trust payload, in bytes: room for the epoch (4), a key count (1)
/// and [`MAX_COMMAND_KEYS`] keys of a length-prefixed `kid` (1 + [`MAX_KID_LEN`]),
/// an algorithm code (1) and length-prefixed key material (2 +
/// [`MAX_KEY_MATERIAL_LEN`]): 1349, rounded up to a multiple of 4.
pub const TRUST_CAPACITY: usize =
    (4 + 1 + MAX_COMMAND_KEYS * (1 + MAX_KID_LEN + 1 + 2 + MAX_KEY_MATERIAL_LEN))
        .next_multiple_of(4);

/// Erase sectors of the trust region: 2 pages of 2 sectors, one record each.
pub const TRUST_SECTORS: u32 = 4;

/// The trust log: opaque payloads of up to [`TRUST_CAPACITY`] bytes, whose
/// format and version the key table owns.
pub type TrustLog<F> = Log<F, TRUST_CAPACITY>;

/// What the counters log stores: everything a command changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// The device clock (unix seconds) when saved: it never reads less after a boot.
    pub floor: u64,
    /// The highest `seq` obeyed (0: none yet).
    pub highest_seq: u64,
    /// The replay window: bit `i` set when `seq` `highest_seq - i` was obeyed
    /// (bit 0 is `highest_seq` itself).
    pub window: u64,
}

impl Counters {
    /// The counters of a device whose clock reads `floor` and that obeyed the
    /// numbers of `window`.
    pub const fn new(floor: u64, window: Window) -> Self {
        Self {
            floor,
            highest_seq: window.highest,
            window: window.map,
        }
    }

    /// The replay window these counters hold.
    pub const fn replay(&self) -> Window {
        Window {
            highest: self.highest_seq,
            map: self.window,
        }
    }

    /// The version-1 payload: floor, highest `seq`, window, each u64 little-endian.
    pub fn encode(&self) -> [u8; COUNTERS_LEN] {
        let mut p = [0u8; COUNTERS_LEN];
        p[0..8].copy_from_slice(&self.floor.to_le_bytes());
        p[8..16].copy_from_slice(&self.highest_seq.to_le_bytes());
        p[16..24].copy_from_slice(&self.window.to_le_bytes());
        p
    }

    /// Reads a version-1 payload back; `None` unless it is exactly
    /// [`COUNTERS_LEN`] bytes.
    pub fn decode(payload: &[u8]) -> Option<Self> {
        let p: &[u8; COUNTERS_LEN] = payload.try_into().ok()?;
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&p[i..i + 8]);
            u64::from_le_bytes(b)
        };
        Some(Self {
            floor: u64_at(0),
            highest_seq: u64_at(8),
            window: u64_at(16),
        })
    }

    /// The counters that refuse everything either refuses: the later floor, the
    /// higher `seq`, and both windows' obeyed numbers (those that fall below
    /// the higher window are refused as too old anyway).
    pub fn join(&self, other: &Self) -> Self {
        let (hi, lo) = if self.highest_seq >= other.highest_seq {
            (self, other)
        } else {
            (other, self)
        };
        let shift = hi.highest_seq - lo.highest_seq;
        let moved = u32::try_from(shift)
            .ok()
            .and_then(|s| lo.window.checked_shl(s))
            .unwrap_or(0);
        Self {
            floor: self.floor.max(other.floor),
            highest_seq: hi.highest_seq,
            window: hi.window | moved,
        }
    }
}

/// The counters log: a [`Log`] of [`Counters`] that never stores less than it
/// stored before.
#[derive(Debug)]
pub struct CounterLog<F> {
    log: Log<F, COUNTERS_LEN>,
    /// Everything stored (or attempted) so far, joined: the least the next record holds.
    stored: Counters,
}

impl<F: NorFlash> CounterLog<F> {
    /// Opens the counters log in `sectors` erase sectors from byte `base` and
    /// reads the stored counters (`None` on a new device).
    ///
    /// # Errors
    /// As [`Log::open`].
    pub fn open(
        flash: &mut F,
        base: u32,
        sectors: u32,
    ) -> Result<(Self, Option<Counters>), LogError<F::Error>> {
        let (log, payload) = Log::open(flash, base, sectors, COUNTERS_FORMAT)?;
        // Cannot be `None` for a payload the log took: its length is exactly 24.
        let found = payload.and_then(|p| Counters::decode(&p));
        let stored = found.unwrap_or_default();
        Ok((Self { log, stored }, found))
    }

    /// Stores `counters` joined with what is stored ([`Counters::join`]), and
    /// returns what was written: the floor and the highest `seq` never go down.
    ///
    /// # Errors
    /// As [`Log::append`]; the counters stored before the call then still
    /// hold, and the next save still joins this one's (in case it landed).
    pub fn save(
        &mut self,
        flash: &mut F,
        counters: &Counters,
    ) -> Result<Counters, LogError<F::Error>> {
        let next = self.stored.join(counters);
        self.stored = next;
        self.log.append(flash, &next.encode())?;
        Ok(next)
    }

    /// The sequence number of the last record written or found.
    pub const fn sequence(&self) -> u32 {
        self.log.sequence()
    }
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib and Ethernet), fed piece by piece.
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A CRC over no bytes yet.
    pub const fn new() -> Self {
        Self(!0)
    }

    /// Feeds `bytes`, bit by bit: no table in flash, and a record of 40 bytes
    /// per command (1368 per trust record) is nothing.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u32::from(b);
            for _ in 0..8 {
                let mask = (self.0 & 1).wrapping_neg();
                self.0 = (self.0 >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
    }

    /// The CRC of the bytes fed so far.
    pub const fn finish(self) -> u32 {
        !self.0
    }
}

/// CRC-32 of `bytes` (see [`Crc32`]).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::ram::RamFlash;
    use super::*;
    use proptest::prelude::*;

    type Ram = RamFlash<6144>;
    type Flash = CutAfter<Ram>;
    /// The counters region: 1 KiB to 5 KiB of a 6 KiB flash.
    const BASE: u32 = 1024;
    const T0: u64 = 1_800_000_000;

    #[test]
    fn crc32_check_value() {
        // The catalogue's check value for CRC-32/ISO-HDLC (zlib's crc32).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        let mut piecewise = Crc32::new();
        piecewise.update(b"1234");
        piecewise.update(b"");
        piecewise.update(b"56789");
        assert_eq!(piecewise.finish(), 0xCBF4_3926);
    }

    #[test]
    fn counters_read_back_and_only_from_24_bytes() {
        let c = Counters {
            floor: T0,
            highest_seq: 0x0102_0304_0506_0708,
            window: 0x8000_0000_0000_0001,
        };
        let p = c.encode();
        assert_eq!(&p[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(Counters::decode(&p), Some(c));
        assert_eq!(Counters::decode(&p[..23]), None);
        assert_eq!(Counters::decode(&[0; 25]), None);
    }

    #[test]
    fn join_keeps_the_later_floor_the_higher_seq_and_both_windows() {
        let a = Counters {
            floor: 500,
            highest_seq: 10,
            window: 0b1011, // 10, 9, 7
        };
        let b = Counters {
            floor: 400,
            highest_seq: 12,
            window: 0b101, // 12, 10
        };
        let j = Counters {
            floor: 500,
            highest_seq: 12,
            window: 0b10_1101, // 12, 10, 9, 7
        };
        assert_eq!(a.join(&b), j);
        assert_eq!(b.join(&a), j);
        assert_eq!(a.join(&a), a);
        // A window 64 or more below the higher one adds nothing.
        let far = Counters {
            floor: 0,
            highest_seq: 200,
            window: 1,
        };
        assert_eq!(a.join(&far).window, 1);
        assert_eq!(
            a.join(&Counters {
                highest_seq: 73,
                ..far
            })
            .window,
            1 | 0b1011 << 63
        );
        let max = Counters {
            highest_seq: u64::MAX,
            ..far
        };
        assert_eq!(Counters::default().join(&max), max);
    }

    #[test]
    fn the_stored_floor_and_seq_never_go_down() {
        let mut ram = Ram::new();
        let (mut log, found) = CounterLog::open(&mut ram, BASE, COUNTERS_SECTORS).unwrap();
        assert_eq!(found, None);
        let high = Counters {
            floor: T0,
            highest_seq: 40,
            window: 1,
        };
        assert_eq!(log.save(&mut ram, &high).unwrap(), high);
        let low = Counters {
            floor: T0 - 100,
            highest_seq: 39,
            window: 1,
        };
        let joined = Counters {
            window: 0b11,
            ..high
        };
        assert_eq!(log.save(&mut ram, &low).unwrap(), joined);
        let (mut log, found) = CounterLog::open(&mut ram, BASE, COUNTERS_SECTORS).unwrap();
        assert_eq!(found, Some(joined));
        assert_eq!(log.sequence(), 2);
        assert_eq!(log.save(&mut ram, &Counters::default()).unwrap(), joined);
    }

    fn open(ram: Ram) -> (CounterLog<Flash>, Option<Counters>, Flash) {
        let mut flash = CutAfter::new(ram, usize::MAX);
        let (log, found) = CounterLog::open(&mut flash, BASE, COUNTERS_SECTORS).unwrap();
        (log, found, flash)
    }

    fn reopen(ram: &Ram) -> Option<Counters> {
        open(ram.clone()).1
    }

    /// Saves `c` into `ram` with the power cut after `steps` steps (`torn`: the
    /// step at the cut half done), then reboots: whether the save reported
    /// success, and the flash as it was left.
    fn cut_save(ram: &Ram, steps: usize, torn: bool, c: &Counters) -> (bool, Ram) {
        let (mut log, _, flash) = open(ram.clone());
        let mut flash = if torn {
            CutAfter::torn(flash.into_inner(), steps)
        } else {
            CutAfter::new(flash.into_inner(), steps)
        };
        let ok = log.save(&mut flash, c).is_ok();
        (ok, flash.into_inner())
    }

    /// Every cut of saving `c` over `ram`, clean and torn: after the reboot the
    /// counters read are the old ones or the new ones, never less than the old,
    /// the new only once the save is whole, and the next boot's save lands.
    /// Returns the flash after the whole save.
    fn check_every_cut(ram: &Ram, c: &Counters) -> Result<Ram, TestCaseError> {
        let old = reopen(ram);
        let new = old.unwrap_or_default().join(c);
        let (mut log, _, mut counter) = open(ram.clone());
        log.save(&mut counter, c).unwrap();
        let total = counter.used();
        let whole = counter.into_inner();
        prop_assert_eq!(reopen(&whole), Some(new));
        // Ten words, and one sector erase when the record starts a page.
        prop_assert!(total == 10 || total == 11, "{} steps", total);
        for torn in [false, true] {
            for steps in 0..=total {
                let (ok, after) = cut_save(ram, steps, torn, c);
                prop_assert_eq!(ok, steps == total);
                let found = reopen(&after);
                let want = if steps == total { Some(new) } else { old };
                prop_assert_eq!(
                    found,
                    want,
                    "cut after {} of {} (torn {})",
                    steps,
                    total,
                    torn
                );
                if let (Some(found), Some(old)) = (found, old) {
                    prop_assert!(found.floor >= old.floor && found.highest_seq >= old.highest_seq);
                }
                prop_assert!(
                    after.bytes()[..1024]
                        .iter()
                        .chain(&after.bytes()[5120..])
                        .all(|&b| b == 0xFF)
                );
                let (mut log, _, mut flash) = open(after);
                prop_assert_eq!(log.save(&mut flash, c).unwrap(), new);
                prop_assert_eq!(reopen(&flash.into_inner()), Some(new));
            }
        }
        Ok(whole)
    }

    /// Issue 17: a power cut at every step of each of the first 105 saves (four
    /// page changes, each with its erase, and the ring wrapping to its first
    /// page) leaves the old counters or the new ones.
    #[test]
    fn a_cut_anywhere_in_any_save_through_a_ring_wrap_leaves_the_old_or_the_new() {
        let mut ram = Ram::new();
        for i in 1..=105u64 {
            let c = Counters {
                floor: T0 + 7 * i,
                highest_seq: i,
                window: (1 << (i % 64)) | 1,
            };
            ram = check_every_cut(&ram, &c).unwrap();
        }
        assert_eq!(reopen(&ram).map(|c| c.highest_seq), Some(105));
    }

    fn any_counters() -> impl Strategy<Value = Counters> {
        (T0..T0 + 1000, 0u64..200, any::<u64>()).prop_map(|(floor, highest_seq, window)| Counters {
            floor,
            highest_seq,
            window,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// The same after any history of saves, each of them possibly cut
        /// (leaving torn slots and half-erased pages behind), of any counters,
        /// higher or lower than those stored.
        #[test]
        fn a_cut_anywhere_after_any_history_leaves_the_old_or_the_new(
            history in proptest::collection::vec(
                (any_counters(), proptest::option::of((0usize..12, any::<bool>()))), 0..130),
            last in proptest::collection::vec(any_counters(), 1..3),
        ) {
            let mut ram = Ram::new();
            let mut stored: Option<Counters> = None;
            for (c, cut) in &history {
                let (steps, torn) = cut.unwrap_or((usize::MAX, false));
                let (_, after) = cut_save(&ram, steps, torn, c);
                let new = stored.unwrap_or_default().join(c);
                let found = reopen(&after);
                prop_assert!(found == stored || found == Some(new));
                (ram, stored) = (after, found);
            }
            for c in &last {
                ram = check_every_cut(&ram, c)?;
            }
        }
    }
}
