//! A RAM-backed [`NorFlash`] for host tests that behaves like NOR: erase sets
//! whole sectors to `0xFF`, a write can only clear bits (a 1 over a 0 is an
//! error), and the power can be cut after a given number of word operations.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// What went wrong, as a NOR part (or its power supply) would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    /// Offset or length not a multiple of the write or erase size.
    NotAligned,
    /// Outside the flash.
    OutOfBounds,
    /// A write would set a bit that is 0 (only an erase does that).
    NotErased,
    /// The power was cut: this and every later operation fails.
    PowerCut,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::NotErased | Self::PowerCut => NorFlashErrorKind::Other,
        }
    }
}

/// `SIZE` bytes of NOR flash in RAM: 1 KiB sectors (an STM32F103 page), 4-byte
/// writes. Starts erased.
#[derive(Debug, Clone)]
pub struct RamFlash<const SIZE: usize> {
    bytes: [u8; SIZE],
    /// Word operations (a 4-byte write or the erase of 4 bytes) left before the
    /// power is cut; `None`: never.
    budget: Option<usize>,
    /// Word operations done so far (erase and write alike).
    ops: usize,
}

impl<const SIZE: usize> Default for RamFlash<SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize> RamFlash<SIZE> {
    /// An erased flash with no power cut planned.
    pub const fn new() -> Self {
        Self {
            bytes: [0xFF; SIZE],
            budget: None,
            ops: 0,
        }
    }

    /// Cuts the power after `words` more word operations. The operation that
    /// meets the cut is left half done: a write clears only the low half of its
    /// word's bits, an erase stops partway (sectors erase from their start).
    pub fn cut_power_after(&mut self, words: usize) {
        self.budget = Some(words);
    }

    /// Power back on (a reboot): operations work again.
    pub fn restore_power(&mut self) {
        self.budget = None;
    }

    /// Word operations done since this flash was made.
    pub const fn ops(&self) -> usize {
        self.ops
    }

    /// The raw contents.
    pub const fn bytes(&self) -> &[u8; SIZE] {
        &self.bytes
    }

    /// Takes one word operation from the budget; `false` when the power is cut.
    fn spend(&mut self) -> bool {
        spend_word(&mut self.budget, &mut self.ops)
    }

    fn range(&self, offset: u32, len: usize, align: usize) -> Result<usize, RamFlashError> {
        let start = offset as usize;
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError::NotAligned);
        }
        match start.checked_add(len) {
            Some(end) if end <= SIZE => Ok(start),
            _ => Err(RamFlashError::OutOfBounds),
        }
    }
}

impl<const SIZE: usize> ErrorType for RamFlash<SIZE> {
    type Error = RamFlashError;
}

impl<const SIZE: usize> ReadNorFlash for RamFlash<SIZE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let start = self.range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.bytes[start..start + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize> NorFlash for RamFlash<SIZE> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 1024;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(RamFlashError::OutOfBounds)?;
        let start = self.range(from, len, Self::ERASE_SIZE)?;
        for word in self.bytes[start..start + len].chunks_exact_mut(4) {
            if !spend_word(&mut self.budget, &mut self.ops) {
                // Half of this word erased, then the power is gone.
                word[..2].fill(0xFF);
                return Err(RamFlashError::PowerCut);
            }
            word.fill(0xFF);
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let start = self.range(offset, bytes.len(), Self::WRITE_SIZE)?;
        let old = &self.bytes[start..start + bytes.len()];
        if old.iter().zip(bytes).any(|(o, n)| n & !o != 0) {
            return Err(RamFlashError::NotErased);
        }
        for (i, new) in bytes.chunks_exact(4).enumerate() {
            let at = start + 4 * i;
            if !self.spend() {
                // Only the low half of the word's bits were programmed.
                for (o, n) in self.bytes[at..at + 2].iter_mut().zip(new) {
                    *o &= n;
                }
                return Err(RamFlashError::PowerCut);
            }
            for (o, n) in self.bytes[at..at + 4].iter_mut().zip(new) {
                *o &= n;
            }
        }
        Ok(())
    }
}

/// [`RamFlash::spend`] on split borrows (the erase loop holds `bytes`).
fn spend_word(budget: &mut Option<usize>, ops: &mut usize) -> bool {
    match budget {
        Some(0) => false,
        Some(n) => {
            *n -= 1;
            *ops += 1;
            true
        }
        None => {
            *ops += 1;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_nor() {
        let mut f = RamFlash::<2048>::new();
        assert_eq!(f.write(0, &[0x0F, 0xF0, 0x00, 0xFF]), Ok(()));
        // Clearing more bits is fine; setting one back is not.
        assert_eq!(f.write(0, &[0x0E, 0xF0, 0x00, 0xFF]), Ok(()));
        assert_eq!(
            f.write(0, &[0x1E, 0xF0, 0x00, 0xFF]),
            Err(RamFlashError::NotErased)
        );
        assert_eq!(f.write(2, &[0; 4]), Err(RamFlashError::NotAligned));
        assert_eq!(f.write(2048, &[0; 4]), Err(RamFlashError::OutOfBounds));
        assert_eq!(f.erase(0, 1000), Err(RamFlashError::NotAligned));
        assert_eq!(f.erase(0, 1024), Ok(()));
        assert!(f.bytes().iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn a_power_cut_leaves_the_word_half_done_and_stops_everything() {
        let mut f = RamFlash::<1024>::new();
        f.cut_power_after(1);
        assert_eq!(f.write(0, &[0; 8]), Err(RamFlashError::PowerCut));
        assert_eq!(&f.bytes()[..8], &[0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
        // The erase that meets the cut erases half of its first word.
        assert_eq!(f.erase(0, 1024), Err(RamFlashError::PowerCut));
        assert_eq!(&f.bytes()[..4], &[0xFF, 0xFF, 0, 0]);
        f.restore_power();
        assert_eq!(f.erase(0, 1024), Ok(()));
        assert_eq!(f.write(0, &[0; 8]), Ok(()));
        f.cut_power_after(1);
        assert_eq!(f.erase(0, 1024), Err(RamFlashError::PowerCut));
        assert_eq!(&f.bytes()[..8], &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0]);
    }
}
