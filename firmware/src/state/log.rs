//! [`Log`]: an append-only log of fixed-size records in a ring of flash pages,
//! whose newest valid record is the stored state (the record format and the
//! write order are in the [parent module's docs](super)).

use core::marker::PhantomData;

use embedded_storage::nor_flash::NorFlash;
use heapless::Vec;

use super::Crc32;

/// The magic word that opens every record, `LKL1`; written last.
pub const MAGIC: [u8; 4] = *b"LKL1";
/// Bytes before the payload: magic, version, payload length, sequence number.
pub const HEADER_LEN: usize = 12;
/// Bytes of the CRC-32 that ends a record.
const CRC_LEN: usize = 4;
/// Bytes read or written at a time (the stack buffer of every flash access).
const CHUNK: usize = 64;

/// A payload read back: up to `N` bytes, on the stack.
pub type Payload<const N: usize> = Vec<u8, N>;

/// What a log's payloads are: the version its owner reads and writes and the
/// shortest payload it takes (the longest is the log's capacity `N`). A record
/// of another version, or of a length outside `min_len..=N`, counts as invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The payload format version.
    pub version: u16,
    /// The shortest payload, in bytes.
    pub min_len: usize,
}

/// Why a log could not be opened or appended to. After a failed
/// [`Log::append`] the stored state is the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogError<E> {
    /// The flash refused a read, an erase or a write (or the power went).
    Flash(E),
    /// The region does not suit this log: `base` not on an erase sector, fewer
    /// than two pages, a number of sectors that is not whole pages, a region
    /// past the end of the flash, or a flash whose write or read size is not a
    /// power of two up to 64 bytes.
    Region,
    /// The payload's length is outside the format's `min_len..=N`.
    Length,
    /// The sequence number is exhausted (2³² − 1 records: never, at any real rate).
    Exhausted,
}

/// An append-only log of records holding payloads of up to `N` bytes, in a
/// region of a flash `F` (see the [module docs](super)). The log keeps no
/// flash: every call takes it, so two logs can share one flash.
#[derive(Debug)]
pub struct Log<F, const N: usize> {
    base: u32,
    pages: u32,
    format: Format,
    /// Where the next record goes: page and slot (slot 0: erase the page first).
    next: (u32, u32),
    /// The highest sequence number stored or spent (0: none yet).
    seq: u32,
    _flash: PhantomData<fn(&mut F)>,
}

/// What a record slot holds, as far as the log cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    version: u16,
    len: u16,
    seq: u32,
}

impl<F: NorFlash, const N: usize> Log<F, N> {
    /// Alignment of records: the word, write and read sizes.
    const ALIGN: usize = max(4, max(F::WRITE_SIZE, F::READ_SIZE));
    /// Bytes of one record: header, `N` payload bytes, zeros, CRC-32, rounded up
    /// to a multiple of 4 bytes and of the flash's write and read sizes.
    pub const RECORD_LEN: usize = (HEADER_LEN + N + CRC_LEN).next_multiple_of(Self::ALIGN);
    /// Erase sectors in one page: the fewest that hold a record.
    pub const PAGE_SECTORS: usize = Self::RECORD_LEN.div_ceil(F::ERASE_SIZE);
    /// Bytes of one page.
    pub const PAGE_LEN: usize = Self::PAGE_SECTORS * F::ERASE_SIZE;
    /// Records one page holds.
    pub const RECORDS_PER_PAGE: usize = Self::PAGE_LEN / Self::RECORD_LEN;

    /// Opens the log in the `sectors` erase sectors from byte `base` of `flash`
    /// and reads it: the payload of the valid record with the highest sequence
    /// number, or `None` if there is none (a new device, or only formats this
    /// firmware does not read). Reads only; the first [`Log::append`] erases
    /// what it needs.
    ///
    /// # Errors
    /// [`LogError::Region`] if the region does not suit this log (see there);
    /// [`LogError::Flash`] if the flash cannot be read.
    pub fn open(
        flash: &mut F,
        base: u32,
        sectors: u32,
        format: Format,
    ) -> Result<(Self, Option<Payload<N>>), LogError<F::Error>> {
        let pages = Self::pages(flash, base, sectors).ok_or(LogError::Region)?;
        let mut log = Self {
            base,
            pages,
            format,
            next: (0, 0),
            seq: 0,
            _flash: PhantomData,
        };
        // The newest valid record, and the newest intact one of any version:
        // new records are numbered above all of them.
        let mut newest: Option<(u32, u32, Header)> = None;
        let mut newest_intact: Option<(u32, u32, Header)> = None;
        for page in 0..pages {
            for slot in 0..Self::RECORDS_PER_PAGE as u32 {
                let Some(h) = log.intact(flash, log.at(page, slot))? else {
                    continue;
                };
                let newer = |n: Option<(u32, u32, Header)>| n.is_none_or(|(_, _, n)| h.seq > n.seq);
                if newer(newest_intact) {
                    newest_intact = Some((page, slot, h));
                }
                if log.valid(h) && newer(newest) {
                    newest = Some((page, slot, h));
                }
            }
        }
        // Appends go on after the newest valid record, so the page erased next
        // is never its page; with none, after the newest of another version,
        // so that it is kept as long as it can be.
        if let Some((page, slot, h)) = newest_intact {
            log.seq = h.seq;
            log.next = log.after(page, slot);
        }
        let Some((page, slot, h)) = newest else {
            return Ok((log, None));
        };
        log.next = log.after(page, slot);
        let mut payload = Vec::new();
        let len = usize::from(h.len);
        let at = log.at(page, slot);
        let mut copied = Ok(());
        read_chunks(flash, at, Self::RECORD_LEN, |offset, bytes| {
            for (i, &b) in bytes.iter().enumerate() {
                let i = offset + i;
                if (HEADER_LEN..HEADER_LEN + len).contains(&i) {
                    copied = payload.push(b);
                }
            }
            copied.is_ok() && offset + bytes.len() < HEADER_LEN + len
        })
        .map_err(LogError::Flash)?;
        // Cannot fail: `valid` held `len` to at most `N`.
        Ok((log, copied.ok().map(|()| payload)))
    }

    /// Appends a record holding `payload`, which becomes the stored state once
    /// its last write (the magic word) is down. It goes to the first erased
    /// slot after the newest record (a slot that is not erased, such as one
    /// whose write was cut, is skipped); when the page has none, the next page
    /// of the ring is erased and the record goes to its start.
    ///
    /// # Errors
    /// [`LogError::Length`] for a payload outside `min_len..=N` (nothing
    /// written); [`LogError::Exhausted`] when no sequence number is left;
    /// [`LogError::Flash`] when the flash fails: the stored state is then still
    /// the one before the call, and the next append never writes over what
    /// this one left (it skips that slot, or erases that page again).
    pub fn append(&mut self, flash: &mut F, payload: &[u8]) -> Result<(), LogError<F::Error>> {
        if !(self.format.min_len..=N).contains(&payload.len()) {
            return Err(LogError::Length);
        }
        let seq = self.seq.checked_add(1).ok_or(LogError::Exhausted)?;
        // Spent even if the write fails: no two records ever share a number.
        self.seq = seq;
        let (mut page, mut slot) = self.next;
        while slot != 0 && !self.erased(flash, self.at(page, slot))? {
            (page, slot) = self.after(page, slot);
        }
        self.next = (page, slot);
        if slot == 0 {
            let start = self.at(page, 0);
            flash
                .erase(start, start + Self::PAGE_LEN as u32)
                .map_err(LogError::Flash)?;
        }
        let record = Record::new(self.format.version, seq, payload, Self::RECORD_LEN);
        let at = self.at(page, slot);
        let first = F::WRITE_SIZE.max(1);
        // Everything after the first write unit (the body and the CRC), then the
        // first unit, which holds the magic word: until it is down the record
        // has no magic, and a unit torn mid-write fails the magic or the CRC.
        write_chunks(flash, at, &record, first, Self::RECORD_LEN).map_err(LogError::Flash)?;
        write_chunks(flash, at, &record, 0, first).map_err(LogError::Flash)?;
        self.next = self.after(page, slot);
        Ok(())
    }

    /// The sequence number of the last record appended or found (0: none).
    pub const fn sequence(&self) -> u32 {
        self.seq
    }

    /// How many pages the region holds, if it suits this log.
    fn pages(flash: &F, base: u32, sectors: u32) -> Option<u32> {
        let pow2_upto_chunk = |n: usize| n.is_power_of_two() && n <= CHUNK;
        if !pow2_upto_chunk(F::WRITE_SIZE)
            || !pow2_upto_chunk(F::READ_SIZE)
            || !F::ERASE_SIZE.is_multiple_of(Self::ALIGN)
            || !(base as usize).is_multiple_of(F::ERASE_SIZE)
            || u16::try_from(N).is_err()
        {
            return None;
        }
        let page_sectors = u32::try_from(Self::PAGE_SECTORS).ok()?;
        let len = sectors.checked_mul(F::ERASE_SIZE as u32)?;
        let end = base.checked_add(len)?;
        let pages = sectors.checked_div(page_sectors)?;
        (sectors.is_multiple_of(page_sectors) && pages >= 2 && end as usize <= flash.capacity())
            .then_some(pages)
    }

    /// The flash address of a slot (inside the region, as `open` checked).
    const fn at(&self, page: u32, slot: u32) -> u32 {
        self.base + page * Self::PAGE_LEN as u32 + slot * Self::RECORD_LEN as u32
    }

    /// The slot after `(page, slot)` in the ring.
    const fn after(&self, page: u32, slot: u32) -> (u32, u32) {
        if slot + 1 < Self::RECORDS_PER_PAGE as u32 {
            (page, slot + 1)
        } else {
            ((page + 1) % self.pages, 0)
        }
    }

    /// Whether an intact record is one this log reads.
    fn valid(&self, h: Header) -> bool {
        h.version == self.format.version && (self.format.min_len..=N).contains(&usize::from(h.len))
    }

    /// The header of the record at `at` if it is intact (magic and CRC good).
    fn intact(&self, flash: &mut F, at: u32) -> Result<Option<Header>, LogError<F::Error>> {
        let crc_at = Self::RECORD_LEN - CRC_LEN;
        let mut head = [0u8; HEADER_LEN];
        let mut stored = [0u8; CRC_LEN];
        let mut crc = Crc32::new();
        let mut magic_ok = true;
        read_chunks(flash, at, Self::RECORD_LEN, |offset, bytes| {
            for (i, &b) in bytes.iter().enumerate() {
                let i = offset + i;
                if let Some(h) = head.get_mut(i) {
                    *h = b;
                }
                if let Some(s) = i.checked_sub(crc_at).and_then(|j| stored.get_mut(j)) {
                    *s = b;
                }
            }
            let body = bytes.get(..crc_at.saturating_sub(offset)).unwrap_or(bytes);
            crc.update(body);
            // The magic is in the first chunk: stop at once if it is not there.
            magic_ok = head.starts_with(&MAGIC);
            magic_ok
        })
        .map_err(LogError::Flash)?;
        if !magic_ok || crc.finish().to_le_bytes() != stored {
            return Ok(None);
        }
        Ok(Some(Header {
            version: u16::from_le_bytes([head[4], head[5]]),
            len: u16::from_le_bytes([head[6], head[7]]),
            seq: u32::from_le_bytes([head[8], head[9], head[10], head[11]]),
        }))
    }

    /// Whether the slot at `at` is all `0xFF`.
    fn erased(&self, flash: &mut F, at: u32) -> Result<bool, LogError<F::Error>> {
        let mut erased = true;
        read_chunks(flash, at, Self::RECORD_LEN, |_, bytes| {
            erased = bytes.iter().all(|&b| b == 0xFF);
            erased
        })
        .map_err(LogError::Flash)?;
        Ok(erased)
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The bytes of one record, produced piece by piece (no record-sized buffer).
pub(crate) struct Record<'a> {
    head: [u8; HEADER_LEN],
    payload: &'a [u8],
    crc: [u8; CRC_LEN],
    len: usize,
}

impl<'a> Record<'a> {
    /// The `len`-byte record of `payload` (at most `len - 16` bytes long, and at
    /// most `u16::MAX`) under `version` and sequence number `seq`.
    pub(crate) fn new(version: u16, seq: u32, payload: &'a [u8], len: usize) -> Self {
        let mut head = [0u8; HEADER_LEN];
        head[0..4].copy_from_slice(&MAGIC);
        head[4..6].copy_from_slice(&version.to_le_bytes());
        let payload_len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
        head[6..8].copy_from_slice(&payload_len.to_le_bytes());
        head[8..12].copy_from_slice(&seq.to_le_bytes());
        let mut crc = Crc32::new();
        crc.update(&head);
        crc.update(payload);
        let zeros = len.saturating_sub(HEADER_LEN + payload.len() + CRC_LEN);
        for _ in 0..zeros {
            crc.update(&[0]);
        }
        Self {
            head,
            payload,
            crc: crc.finish().to_le_bytes(),
            len,
        }
    }

    /// Byte `i` of the record.
    pub(crate) fn byte(&self, i: usize) -> u8 {
        if let Some(&b) = self.head.get(i) {
            return b;
        }
        if let Some(&b) = i.checked_sub(HEADER_LEN).and_then(|j| self.payload.get(j)) {
            return b;
        }
        let crc_at = self.len.saturating_sub(CRC_LEN);
        i.checked_sub(crc_at)
            .and_then(|j| self.crc.get(j))
            .copied()
            .unwrap_or(0)
    }
}

/// Reads `len` bytes at `at` chunk by chunk, handing each to `f` with its offset
/// from `at`, until `f` returns `false` or the bytes run out.
fn read_chunks<F: NorFlash>(
    flash: &mut F,
    at: u32,
    len: usize,
    mut f: impl FnMut(usize, &[u8]) -> bool,
) -> Result<(), F::Error> {
    let mut buf = [0u8; CHUNK];
    let mut offset = 0;
    while offset < len {
        let n = CHUNK.min(len - offset);
        let chunk = &mut buf[..n];
        flash.read(at + offset as u32, chunk)?;
        if !f(offset, chunk) {
            break;
        }
        offset += n;
    }
    Ok(())
}

/// Writes bytes `from..to` of `record` to the record at `at`, chunk by chunk
/// (`from` and `to` are multiples of the write size, as is `CHUNK`).
fn write_chunks<F: NorFlash>(
    flash: &mut F,
    at: u32,
    record: &Record<'_>,
    from: usize,
    to: usize,
) -> Result<(), F::Error> {
    let mut buf = [0u8; CHUNK];
    let mut offset = from;
    while offset < to {
        let n = CHUNK.min(to - offset);
        let chunk = &mut buf[..n];
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = record.byte(offset + i);
        }
        flash.write(at + offset as u32, chunk)?;
        offset += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::ram::RamFlash;
    use super::super::{COUNTERS_LEN, CutAfter, TRUST_CAPACITY, crc32};
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec as StdVec;

    type Ram = RamFlash<6144>;
    /// The region starts at 1 KiB, not at the flash's start, to catch offset
    /// mistakes; the flash has a sector on each side of a 4-sector region.
    const BASE: u32 = 1024;
    const SECTORS: u32 = 4;
    const V1: Format = Format {
        version: 1,
        min_len: 1,
    };
    type Small = Log<Ram, COUNTERS_LEN>;
    type Trust = Log<Ram, TRUST_CAPACITY>;

    fn open<const N: usize>(ram: &mut Ram, format: Format) -> (Log<Ram, N>, Option<StdVec<u8>>) {
        let (log, found) = Log::<Ram, N>::open(ram, BASE, SECTORS, format).unwrap();
        (log, found.map(|p| p.to_vec()))
    }

    fn payload(i: u32, len: usize) -> StdVec<u8> {
        (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
    }

    /// Whether everything outside the region is still erased.
    fn outside_untouched(ram: &Ram) -> bool {
        let end = (BASE + SECTORS * 1024) as usize;
        ram.bytes()[..BASE as usize]
            .iter()
            .chain(&ram.bytes()[end..])
            .all(|&b| b == 0xFF)
    }

    #[test]
    fn the_device_logs_have_the_documented_geometry() {
        assert_eq!(Small::RECORD_LEN, 40);
        assert_eq!(Small::PAGE_SECTORS, 1);
        assert_eq!(Small::RECORDS_PER_PAGE, 25);
        assert_eq!(TRUST_CAPACITY, 1352);
        assert_eq!(Trust::RECORD_LEN, 1368);
        assert_eq!(Trust::PAGE_SECTORS, 2);
        assert_eq!(Trust::PAGE_LEN, 2048);
        assert_eq!(Trust::RECORDS_PER_PAGE, 1);
    }

    #[test]
    fn a_record_is_laid_out_as_documented() {
        let mut ram = Ram::new();
        let format = Format {
            version: 0x0207,
            min_len: 0,
        };
        let (mut log, found) = open::<COUNTERS_LEN>(&mut ram, format);
        assert_eq!(found, None);
        log.append(&mut ram, &[0xA1, 0xB2, 0xC3]).unwrap();
        let r = &ram.bytes()[1024..1064];
        assert_eq!(&r[0..4], b"LKL1");
        assert_eq!(&r[4..6], &[0x07, 0x02]);
        assert_eq!(&r[6..8], &[3, 0]);
        assert_eq!(&r[8..12], &[1, 0, 0, 0]);
        assert_eq!(&r[12..15], &[0xA1, 0xB2, 0xC3]);
        assert!(r[15..36].iter().all(|&b| b == 0));
        assert_eq!(&r[36..40], &crc32(&r[..36]).to_le_bytes());
        assert!(ram.bytes()[1064..2048].iter().all(|&b| b == 0xFF));
        assert!(outside_untouched(&ram));
        assert_eq!(log.sequence(), 1);
        assert_eq!(
            open::<COUNTERS_LEN>(&mut ram, format).1,
            Some(vec![0xA1, 0xB2, 0xC3])
        );
    }

    #[test]
    fn appends_fill_a_page_then_erase_the_next_and_wrap_the_ring() {
        let mut ram = Ram::new();
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, V1);
        for i in 1..=101u32 {
            log.append(&mut ram, &payload(i, 24)).unwrap();
            let n = (i - 1) as usize;
            let at = 1024 + (n / 25 % 4) * 1024 + (n % 25) * 40;
            assert_eq!(&ram.bytes()[at..at + 4], b"LKL1", "record {i}");
            assert_eq!(&ram.bytes()[at + 8..at + 12], &i.to_le_bytes());
            let (reopened, found) = open::<COUNTERS_LEN>(&mut ram.clone(), V1);
            assert_eq!(found, Some(payload(i, 24)), "record {i}");
            assert_eq!(reopened.sequence(), i);
        }
        // The 101st went over the first page, erased: the other pages keep theirs.
        assert!(ram.bytes()[1024 + 40..2048].iter().all(|&b| b == 0xFF));
        assert_eq!(&ram.bytes()[2048..2052], b"LKL1");
        assert!(outside_untouched(&ram));
        // A reopened log goes on where this one would.
        let (mut reopened, _) = open::<COUNTERS_LEN>(&mut ram, V1);
        reopened.append(&mut ram, &payload(102, 24)).unwrap();
        assert_eq!(&ram.bytes()[1064..1068], b"LKL1");
    }

    #[test]
    fn a_torn_slot_is_skipped_and_never_written_over() {
        let mut ram = Ram::new();
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, V1);
        for i in 1..=3 {
            log.append(&mut ram, &payload(i, 24)).unwrap();
        }
        // The fourth is cut after 5 of its 10 words.
        let mut cut = CutAfter::new(ram, 5);
        let (mut log, _) = Log::<_, COUNTERS_LEN>::open(&mut cut, BASE, SECTORS, V1).unwrap();
        assert!(log.append(&mut cut, &payload(4, 24)).is_err());
        let mut ram = cut.into_inner();
        let torn: StdVec<u8> = ram.bytes()[1144..1184].to_vec();
        assert_ne!(torn, [0xFF; 40]);
        let (mut log, found) = open::<COUNTERS_LEN>(&mut ram, V1);
        assert_eq!(found, Some(payload(3, 24)));
        log.append(&mut ram, &payload(4, 24)).unwrap();
        assert_eq!(&ram.bytes()[1144..1184], torn.as_slice());
        assert_eq!(&ram.bytes()[1184..1188], b"LKL1");
        assert_eq!(open::<COUNTERS_LEN>(&mut ram, V1).1, Some(payload(4, 24)));
    }

    #[test]
    fn a_torn_last_slot_sends_the_next_record_to_the_next_page() {
        let mut ram = Ram::new();
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, V1);
        for i in 1..=24 {
            log.append(&mut ram, &payload(i, 24)).unwrap();
        }
        let mut cut = CutAfter::torn(ram, 9);
        let (mut log, _) = Log::<_, COUNTERS_LEN>::open(&mut cut, BASE, SECTORS, V1).unwrap();
        assert!(log.append(&mut cut, &payload(25, 24)).is_err());
        let mut ram = cut.into_inner();
        let (mut log, found) = open::<COUNTERS_LEN>(&mut ram, V1);
        assert_eq!(found, Some(payload(24, 24)));
        log.append(&mut ram, &payload(25, 24)).unwrap();
        assert_eq!(&ram.bytes()[2048..2052], b"LKL1");
        assert_eq!(open::<COUNTERS_LEN>(&mut ram, V1).1, Some(payload(25, 24)));
    }

    #[test]
    fn any_flipped_bit_spoils_a_record_and_the_one_before_wins() {
        let mut ram = Ram::new();
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, V1);
        log.append(&mut ram, &payload(1, 24)).unwrap();
        log.append(&mut ram, &payload(2, 24)).unwrap();
        for bit in 0..40 * 8 {
            let mut bad = ram.clone();
            bad.bytes_mut()[1064 + bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                open::<COUNTERS_LEN>(&mut bad, V1).1,
                Some(payload(1, 24)),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn other_versions_and_lengths_are_not_read_but_are_outranked() {
        let mut ram = Ram::new();
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, V1);
        log.append(&mut ram, &payload(1, 24)).unwrap();
        // A later firmware's version 2, then a version-1 record of 8 bytes.
        let v2 = Format {
            version: 2,
            min_len: 1,
        };
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, v2);
        log.append(&mut ram, &payload(2, 24)).unwrap();
        let (mut log, found) = open::<COUNTERS_LEN>(&mut ram, V1);
        assert_eq!(found, Some(payload(1, 24)));
        log.append(&mut ram, &payload(3, 8)).unwrap();
        let exact = Format {
            version: 1,
            min_len: 24,
        };
        let (mut log, found) = open::<COUNTERS_LEN>(&mut ram, exact);
        assert_eq!(found, Some(payload(1, 24)));
        // The next record is numbered above all three, and wins.
        assert_eq!(log.sequence(), 3);
        log.append(&mut ram, &payload(4, 24)).unwrap();
        assert_eq!(&ram.bytes()[1024 + 3 * 40 + 8..][..4], &4u32.to_le_bytes());
        assert_eq!(
            open::<COUNTERS_LEN>(&mut ram, exact).1,
            Some(payload(4, 24))
        );
        assert_eq!(open::<COUNTERS_LEN>(&mut ram, v2).1, Some(payload(2, 24)));
        // A log with a longer record does not read these (its CRC is elsewhere).
        assert_eq!(open::<32>(&mut ram, V1).1, None);
    }

    #[test]
    fn a_payload_outside_the_format_is_refused_and_nothing_is_written() {
        let mut ram = Ram::new();
        let format = Format {
            version: 1,
            min_len: 4,
        };
        let (mut log, _) = open::<COUNTERS_LEN>(&mut ram, format);
        assert_eq!(log.append(&mut ram, &[1, 2, 3]), Err(LogError::Length));
        assert_eq!(log.append(&mut ram, &[0; 25]), Err(LogError::Length));
        assert!(ram.bytes().iter().all(|&b| b == 0xFF));
        log.append(&mut ram, &[0; 24]).unwrap();
        assert_eq!(log.sequence(), 1);
    }

    #[test]
    fn the_sequence_number_runs_out_without_writing() {
        let mut ram = Ram::new();
        let record = Record::new(1, u32::MAX, &[7; 24], 40);
        let bytes: StdVec<u8> = (0..40).map(|i| record.byte(i)).collect();
        ram.write(1024, &bytes).unwrap();
        let before = ram.clone();
        let (mut log, found) = open::<COUNTERS_LEN>(&mut ram, V1);
        assert_eq!(found, Some(vec![7; 24]));
        assert_eq!(log.append(&mut ram, &[8; 24]), Err(LogError::Exhausted));
        assert_eq!(ram.bytes(), before.bytes());
    }

    #[test]
    fn a_region_that_does_not_suit_the_log_is_refused() {
        let mut ram = Ram::new();
        let small = |ram: &mut Ram, base, sectors| Small::open(ram, base, sectors, V1).err();
        let trust = |ram: &mut Ram, base, sectors| Trust::open(ram, base, sectors, V1).err();
        assert_eq!(small(&mut ram, 100, 2), Some(LogError::Region));
        assert_eq!(small(&mut ram, 0, 1), Some(LogError::Region));
        assert_eq!(small(&mut ram, 0, 0), Some(LogError::Region));
        assert_eq!(small(&mut ram, 4096, 3), Some(LogError::Region));
        assert_eq!(small(&mut ram, u32::MAX - 1023, 2), Some(LogError::Region));
        assert_eq!(small(&mut ram, 0, u32::MAX), Some(LogError::Region));
        assert_eq!(trust(&mut ram, 0, 2), Some(LogError::Region));
        assert_eq!(trust(&mut ram, 0, 5), Some(LogError::Region));
        assert_eq!(small(&mut ram, 0, 6), None);
        assert_eq!(trust(&mut ram, 2048, 4), None);
    }

    #[test]
    fn two_logs_share_one_flash() {
        let mut ram = RamFlash::<8192>::new();
        let (mut counters, _) = Log::<_, COUNTERS_LEN>::open(&mut ram, 0, 4, V1).unwrap();
        let (mut trust, _) = Log::<_, TRUST_CAPACITY>::open(&mut ram, 4096, 4, V1).unwrap();
        for i in 1..=30 {
            counters.append(&mut ram, &payload(i, 24)).unwrap();
            if i % 10 == 0 {
                trust
                    .append(&mut ram, &payload(i, 100 + i as usize))
                    .unwrap();
            }
        }
        let (_, c) = Log::<_, COUNTERS_LEN>::open(&mut ram, 0, 4, V1).unwrap();
        let (_, t) = Log::<_, TRUST_CAPACITY>::open(&mut ram, 4096, 4, V1).unwrap();
        assert_eq!(c.map(|p| p.to_vec()), Some(payload(30, 24)));
        assert_eq!(t.map(|p| p.to_vec()), Some(payload(30, 130)));
    }

    /// Appends `payload` to the log in `ram` with the power cut after `steps`
    /// steps (`torn`: the step at the cut half done), then reboots: whether the
    /// append reported success, and the flash as it was left.
    fn cut_append<const N: usize>(
        ram: &Ram,
        steps: usize,
        torn: bool,
        payload: &[u8],
    ) -> (bool, Ram) {
        let mut flash = if torn {
            CutAfter::torn(ram.clone(), steps)
        } else {
            CutAfter::new(ram.clone(), steps)
        };
        let (mut log, _) = Log::<_, N>::open(&mut flash, BASE, SECTORS, V1).unwrap();
        let ok = log.append(&mut flash, payload).is_ok();
        (ok, flash.into_inner())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// Issue 17, for the trust log (two pages of one record, so every append
        /// erases a page): a power cut at every step of an append, after a
        /// history of appends that were themselves cut anywhere, leaves the last
        /// payload stored or the new one, and the new one only once all of it
        /// is down.
        #[test]
        fn a_cut_anywhere_in_a_trust_append_leaves_the_old_or_the_new_payload(
            history in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..=TRUST_CAPACITY),
                 proptest::option::of((0usize..700, any::<bool>()))), 0..6),
            new in proptest::collection::vec(any::<u8>(), 1..=TRUST_CAPACITY),
        ) {
            let mut ram = Ram::new();
            let mut stored: Option<StdVec<u8>> = None;
            for (p, cut) in &history {
                let (steps, torn) = cut.unwrap_or((usize::MAX, false));
                let (_, after) = cut_append::<TRUST_CAPACITY>(&ram, steps, torn, p);
                ram = after;
                let found = open::<TRUST_CAPACITY>(&mut ram, V1).1;
                prop_assert!(found == stored || found.as_ref() == Some(p));
                stored = found;
            }
            let mut counter = CutAfter::new(ram.clone(), usize::MAX);
            let (mut log, _) = Trust::open(&mut ram.clone(), BASE, SECTORS, V1).unwrap();
            let (mut counted, _) = Log::<_, TRUST_CAPACITY>::open(&mut counter, BASE, SECTORS, V1).unwrap();
            counted.append(&mut counter, &new).unwrap();
            let total = counter.used();
            // 342 words and a page of 2 sectors.
            prop_assert_eq!(total, 1368 / 4 + 2);
            log.append(&mut ram.clone(), &new).unwrap();
            for torn in [false, true] {
                for steps in 0..=total {
                    let (ok, mut after) = cut_append::<TRUST_CAPACITY>(&ram, steps, torn, &new);
                    prop_assert_eq!(ok, steps == total);
                    let found = open::<TRUST_CAPACITY>(&mut after, V1).1;
                    if steps == total {
                        prop_assert_eq!(found.as_ref(), Some(&new));
                    } else {
                        prop_assert_eq!(&found, &stored, "cut after {} of {} (torn {})", steps, total, torn);
                    }
                    prop_assert!(outside_untouched(&after));
                    // The next boot's append lands whatever this one left.
                    let (mut log, _) = open::<TRUST_CAPACITY>(&mut after, V1);
                    log.append(&mut after, &new).unwrap();
                    prop_assert_eq!(open::<TRUST_CAPACITY>(&mut after, V1).1, Some(new.clone()));
                }
            }
        }
    }
}
