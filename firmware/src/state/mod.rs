//! Persistent device state: the clock floor and the replay cache, in a
//! versioned record kept in two flash slots through `embedded-storage`'s
//! [`NorFlash`], so that a power cut mid-write never leaves a state that
//! accepts more than before.
//!
//! Each save erases the slot that does *not* hold the newest valid record and
//! writes the new record there with the next sequence number: the body and its
//! CRC-32 first, the magic word last. Until the magic word is down the slot is
//! invalid; a write torn inside a word fails the CRC. At boot the valid slot
//! with the highest sequence number wins, so a cut leaves either the old record
//! (the other slot is untouched) or the new one. The floor saved is never lower
//! than the one already stored.
//!
//! Record, version 1, little-endian, [`RECORD_LEN`] bytes:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | magic `LKS1` (written last) |
//! | 4 | 2 | version = 1 |
//! | 6 | 2 | record length in bytes |
//! | 8 | 4 | sequence number (the higher wins) |
//! | 12 | 8 | clock floor (unix seconds) |
//! | 20 | 2 | replay entries used (≤ [`REPLAY_CAPACITY`]) |
//! | 22 | 2 | zero |
//! | 24 | 24 × 32 | replay entries: 16-byte id, 8-byte `until`; unused ones zero |
//! | 792 | 4 | CRC-32 (IEEE) of bytes 0..792, magic included |
//!
//! A later version (the key table, the trust epoch) gets a new version number
//! and length; a reader refuses versions it does not know (that slot counts as
//! invalid, so a downgrade falls back to what it can read or to the build's floor).

pub mod ram;

use embedded_storage::nor_flash::NorFlash;
use heapless::Vec;

use crate::replay::{Entry, REPLAY_CAPACITY};

/// The magic word, `LKS1` as bytes.
pub const MAGIC: [u8; 4] = *b"LKS1";
/// The record version this firmware writes and reads.
pub const VERSION: u16 = 1;
const HEADER_LEN: usize = 24;
const ENTRY_LEN: usize = 24;
/// Bytes in a version-1 record (a multiple of 4, the usual NOR write size).
pub const RECORD_LEN: usize = HEADER_LEN + ENTRY_LEN * REPLAY_CAPACITY + 4;

/// What persists: the clock floor and the replay cache's entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// The device clock (unix seconds) when saved: it never reads less after a boot.
    pub floor: u64,
    /// Used token ids, each until its `exp + leeway`.
    pub replay: Vec<Entry, REPLAY_CAPACITY>,
}

impl State {
    /// The record bytes for this state under sequence number `seq`.
    pub fn encode(&self, seq: u32) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[0..4].copy_from_slice(&MAGIC);
        r[4..6].copy_from_slice(&VERSION.to_le_bytes());
        r[6..8].copy_from_slice(&(RECORD_LEN as u16).to_le_bytes());
        r[8..12].copy_from_slice(&seq.to_le_bytes());
        r[12..20].copy_from_slice(&self.floor.to_le_bytes());
        r[20..22].copy_from_slice(&(self.replay.len() as u16).to_le_bytes());
        for (slot, e) in r[HEADER_LEN..RECORD_LEN - 4]
            .chunks_exact_mut(ENTRY_LEN)
            .zip(&self.replay)
        {
            slot[..16].copy_from_slice(&e.id);
            slot[16..].copy_from_slice(&e.until.to_le_bytes());
        }
        let crc = crc32(&r[..RECORD_LEN - 4]);
        r[RECORD_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        r
    }

    /// Reads a record back: its sequence number and state, or `None` if the
    /// bytes are not a whole, intact version-1 record.
    pub fn decode(r: &[u8; RECORD_LEN]) -> Option<(u32, State)> {
        let (body, crc) = r.split_at(RECORD_LEN - 4);
        if body[0..4] != MAGIC || crc32(body).to_le_bytes() != crc {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([r[i], r[i + 1]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&r[i..i + 8]);
            u64::from_le_bytes(b)
        };
        if u16_at(4) != VERSION || usize::from(u16_at(6)) != RECORD_LEN {
            return None;
        }
        let count = usize::from(u16_at(20));
        if count > REPLAY_CAPACITY {
            return None;
        }
        let seq = u32::from_le_bytes([r[8], r[9], r[10], r[11]]);
        let mut state = State {
            floor: u64_at(12),
            replay: Vec::new(),
        };
        for slot in r[HEADER_LEN..].chunks_exact(ENTRY_LEN).take(count) {
            let mut id = [0u8; 16];
            id.copy_from_slice(&slot[..16]);
            let until = u64::from_le_bytes(slot[16..].try_into().ok()?);
            state.replay.push(Entry { id, until }).ok()?;
        }
        Some((seq, state))
    }
}

/// Why a save failed. The stored state is then the one before the save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveError<E> {
    /// The flash refused an erase or a write (or the power went).
    Flash(E),
    /// The sequence number is exhausted (2³² saves: never, at any real rate).
    Exhausted,
}

/// The two slots in `flash` from byte `base` on, and which one holds the newest record.
pub struct StateStore<F> {
    flash: F,
    base: u32,
    /// Slot and sequence number of the newest valid record, if any.
    newest: Option<(usize, u32)>,
    /// The floor of the newest valid record (0 if none): saves never go below it.
    floor: u64,
}

impl<F: NorFlash> StateStore<F> {
    /// Bytes one slot takes: [`RECORD_LEN`] rounded up to whole erase sectors.
    pub const SLOT_LEN: usize = RECORD_LEN.div_ceil(F::ERASE_SIZE) * F::ERASE_SIZE;

    /// Opens the slots at `base` (a multiple of the erase size; `2 * SLOT_LEN`
    /// bytes) and reads the newest valid record: `None` if neither slot holds
    /// one (a new device, or a format this firmware does not know).
    ///
    /// # Errors
    /// The flash's error if it cannot be read.
    pub fn open(mut flash: F, base: u32) -> Result<(Self, Option<State>), F::Error> {
        let mut newest: Option<(usize, u32, State)> = None;
        for slot in 0..2 {
            let mut r = [0u8; RECORD_LEN];
            flash.read(slot_at(base, slot, Self::SLOT_LEN), &mut r)?;
            if let Some((seq, state)) = State::decode(&r)
                && newest.as_ref().is_none_or(|(_, s, _)| seq > *s)
            {
                newest = Some((slot, seq, state));
            }
        }
        let store = Self {
            flash,
            base,
            newest: newest.as_ref().map(|(slot, seq, _)| (*slot, *seq)),
            floor: newest.as_ref().map_or(0, |(_, _, s)| s.floor),
        };
        Ok((store, newest.map(|(_, _, s)| s)))
    }

    /// Writes `state` as the newest record, into the slot that does not hold the
    /// current newest one. The floor written is at least the one already stored.
    ///
    /// # Errors
    /// [`SaveError`]; the state stored before the call then still holds, and the
    /// next save goes to the same slot.
    pub fn save(&mut self, state: &State) -> Result<(), SaveError<F::Error>> {
        let (slot, seq) = match self.newest {
            None => (0, 1),
            Some((slot, seq)) => (1 - slot, seq.checked_add(1).ok_or(SaveError::Exhausted)?),
        };
        let floor = state.floor.max(self.floor);
        let record = State {
            floor,
            replay: state.replay.clone(),
        }
        .encode(seq);
        let at = slot_at(self.base, slot, Self::SLOT_LEN);
        let end = at + Self::SLOT_LEN as u32;
        self.flash.erase(at, end).map_err(SaveError::Flash)?;
        // Everything after the magic word, then the magic word.
        let tail = MAGIC.len().max(F::WRITE_SIZE);
        self.flash
            .write(at + tail as u32, &record[tail..])
            .map_err(SaveError::Flash)?;
        self.flash
            .write(at, &record[..tail])
            .map_err(SaveError::Flash)?;
        self.newest = Some((slot, seq));
        self.floor = floor;
        Ok(())
    }

    /// Gives the flash back.
    pub fn release(self) -> F {
        self.flash
    }
}

fn slot_at(base: u32, slot: usize, slot_len: usize) -> u32 {
    base + (slot * slot_len) as u32
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib and Ethernet), bit by bit: no table
/// in flash, and 800 bytes per save or boot is nothing.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::ram::RamFlash;
    use super::*;
    use crate::replay::ReplayCache;
    use proptest::prelude::*;
    use std::vec::Vec as StdVec;

    type Flash = RamFlash<4096>;
    /// Slots at 1 KiB and 2 KiB: not at the flash's start, to catch offset mistakes.
    const BASE: u32 = 1024;

    fn state(floor: u64, ids: &[(u8, u64)]) -> State {
        State {
            floor,
            replay: ids
                .iter()
                .map(|&(i, until)| Entry { id: [i; 16], until })
                .collect(),
        }
    }

    fn reopen(flash: Flash) -> Option<State> {
        StateStore::open(flash, BASE).unwrap().1
    }

    #[test]
    fn crc32_check_value() {
        // The catalogue's check value for CRC-32/ISO-HDLC (zlib's crc32).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_spoils_it() {
        let s = state(1_800_000_000, &[(1, 1_800_000_065), (2, 1_800_000_300)]);
        let r = s.encode(7);
        assert_eq!(RECORD_LEN, 796);
        assert_eq!(State::decode(&r), Some((7, s)));
        for i in 0..RECORD_LEN * 8 {
            let mut bad = r;
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(State::decode(&bad), None, "bit {i}");
        }
        assert_eq!(State::decode(&[0xFF; RECORD_LEN]), None);
        // An unknown version, even with a good CRC, is not read.
        let mut v2 = r;
        v2[4] = 2;
        let crc = crc32(&v2[..RECORD_LEN - 4]);
        v2[RECORD_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(State::decode(&v2), None);
    }

    #[test]
    fn saves_alternate_slots_and_the_highest_sequence_wins() {
        let (mut store, found) = StateStore::open(Flash::new(), BASE).unwrap();
        assert_eq!(found, None);
        let (a, b, c) = (
            state(100, &[(1, 160)]),
            state(200, &[]),
            state(300, &[(3, 360)]),
        );
        store.save(&a).unwrap();
        store.save(&b).unwrap();
        let flash = store.release();
        // Nothing outside the two slots was touched.
        assert!(flash.bytes()[..1024].iter().all(|&x| x == 0xFF));
        assert!(flash.bytes()[3072..].iter().all(|&x| x == 0xFF));
        assert_eq!(
            State::decode(flash.bytes()[1024..1820].try_into().unwrap())
                .unwrap()
                .0,
            1
        );
        assert_eq!(
            State::decode(flash.bytes()[2048..2844].try_into().unwrap())
                .unwrap()
                .0,
            2
        );
        assert_eq!(reopen(flash.clone()), Some(b));
        let (mut store, _) = StateStore::open(flash, BASE).unwrap();
        store.save(&c).unwrap();
        // The third save went over the first (the older) slot.
        let flash = store.release();
        assert_eq!(
            State::decode(flash.bytes()[1024..1820].try_into().unwrap())
                .unwrap()
                .0,
            3
        );
        assert_eq!(reopen(flash), Some(c));
    }

    #[test]
    fn the_stored_floor_never_goes_down() {
        let (mut store, _) = StateStore::open(Flash::new(), BASE).unwrap();
        store.save(&state(500, &[])).unwrap();
        store.save(&state(400, &[(9, 450)])).unwrap();
        let (mut store, found) = StateStore::open(store.release(), BASE).unwrap();
        assert_eq!(found, Some(state(500, &[(9, 450)])));
        store.save(&state(0, &[])).unwrap();
        assert_eq!(reopen(store.release()), Some(state(500, &[])));
    }

    /// `recovered` refuses every token `old` refused: its floor is not lower, and
    /// every id `old` held that is still live at `recovered`'s floor is held as long.
    fn refuses_all_old_refused(old: &State, recovered: &State) -> bool {
        recovered.floor >= old.floor
            && old
                .replay
                .iter()
                .filter(|e| e.until >= recovered.floor)
                .all(|e| {
                    recovered
                        .replay
                        .iter()
                        .any(|r| r.id == e.id && r.until >= e.until)
                })
    }

    /// `old` after accepting one more token (id `new_id`, judged at `floor + ahead`).
    fn after_one_more(old: &State, ahead: u64, new_id: &[u8], lifetime: u64) -> State {
        let now = old.floor + ahead;
        let mut cache = ReplayCache::<REPLAY_CAPACITY>::from_entries(&old.replay);
        let _ = cache.check_and_insert(new_id, now + lifetime, now);
        State {
            floor: now,
            replay: cache.entries().iter().copied().collect(),
        }
    }

    fn any_state() -> impl Strategy<Value = State> {
        (
            0u64..4_000_000_000,
            proptest::collection::vec((any::<[u8; 16]>(), 0u64..400), 0..=REPLAY_CAPACITY),
        )
            .prop_map(|(floor, ids)| State {
                floor,
                replay: ids
                    .into_iter()
                    .map(|(id, after)| Entry {
                        id,
                        until: (floor + after).saturating_sub(100),
                    })
                    .collect(),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Issue 17: a power cut at every word of a save (the erase included)
        /// leaves the old state or the new one, never one that accepts more than
        /// the old.
        #[test]
        fn a_power_cut_anywhere_in_a_save_leaves_the_old_or_the_new_state(
            older in any_state(),
            old in any_state(),
            one_slot_used in any::<bool>(),
            ahead in 0u64..1_000,
            new_id in any::<[u8; 16]>(),
        ) {
            let old = State { floor: old.floor.max(older.floor), ..old };
            let (mut store, _) = StateStore::open(Flash::new(), BASE).unwrap();
            if !one_slot_used {
                store.save(&older).unwrap();
            }
            store.save(&old).unwrap();
            let flash = store.release();
            let reopened = reopen(flash.clone());
            prop_assert_eq!(reopened.as_ref(), Some(&old));
            let new = after_one_more(&old, ahead, &new_id, 60);
            prop_assert!(refuses_all_old_refused(&old, &new));

            // How many word operations a whole save takes.
            let (mut store, _) = StateStore::open(flash.clone(), BASE).unwrap();
            store.save(&new).unwrap();
            let total = store.release().ops() - flash.ops();
            prop_assert_eq!(total, 1024 / 4 + RECORD_LEN / 4);

            let mut seen_new_at = None;
            for cut in 0..=total {
                let mut f = flash.clone();
                f.cut_power_after(cut);
                let (mut store, _) = StateStore::open(f, BASE).unwrap();
                let saved = store.save(&new);
                prop_assert_eq!(saved.is_ok(), cut == total);
                let mut f = store.release();
                f.restore_power();
                let recovered = reopen(f);
                prop_assert!(
                    recovered.as_ref() == Some(&old) || recovered.as_ref() == Some(&new),
                    "cut after {} of {} words: {:?}", cut, total, recovered
                );
                let recovered = recovered.unwrap();
                prop_assert!(refuses_all_old_refused(&old, &recovered));
                if recovered == new && old != new {
                    seen_new_at.get_or_insert(cut);
                }
            }
            // The new state shows only once the last word (the magic) is down.
            if old != new {
                prop_assert_eq!(seen_new_at, Some(total));
            }
        }
    }

    #[test]
    fn a_save_cut_short_is_retried_into_the_same_slot() {
        let (mut store, _) = StateStore::open(Flash::new(), BASE).unwrap();
        store.save(&state(100, &[])).unwrap();
        let mut flash = store.release();
        flash.cut_power_after(300);
        let (mut store, _) = StateStore::open(flash, BASE).unwrap();
        assert!(matches!(
            store.save(&state(200, &[])),
            Err(SaveError::Flash(ram::RamFlashError::PowerCut))
        ));
        let mut flash = store.release();
        flash.restore_power();
        let (mut store, found) = StateStore::open(flash, BASE).unwrap();
        assert_eq!(found, Some(state(100, &[])));
        store.save(&state(200, &[])).unwrap();
        let flash = store.release();
        let seqs: StdVec<_> = [1024usize, 2048]
            .iter()
            .map(|&at| {
                State::decode(flash.bytes()[at..at + RECORD_LEN].try_into().unwrap()).map(|r| r.0)
            })
            .collect();
        assert_eq!(seqs, [Some(1), Some(2)]);
    }
}
