//! [`CutAfter`]: a [`NorFlash`] wrapper that loses power after a given number
//! of steps, for power-cut tests of anything written over `NorFlash`.
//!
//! One host write (or one semihosting file write) cannot be interrupted, so
//! the cut is made here, in front of the flash, step by step:
//!
//! - a **write** is one step per word of [`NorFlash::WRITE_SIZE`] bytes, in
//!   address order;
//! - an **erase** is one step per erase sector, in address order;
//! - a **read** is free.
//!
//! `CutAfter::new(flash, n)` lets the first `n` steps through; the operation
//! that meets the cut stops there and fails with [`CutError::PowerCut`], and so
//! does every operation after it (reads included: the power is gone). Its
//! earlier steps stay done: a write cut at its third word has written its first
//! two. With [`CutAfter::torn`] the step that meets the cut is also left half
//! done, as a real part may leave it: the word is programmed with only the low
//! four bits of each byte (`byte | 0xF0`), or the sector has only its first half
//! erased (the second half keeps what it held).
//!
//! [`CutAfter::into_inner`] is the reboot: the flash as the cut left it.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash, check_erase, check_write,
};

/// Largest half sector [`CutAfter::torn`] can keep through a half erase (a
/// buffer on the stack); a torn erase of a larger sector erases none of it.
const HALF_SECTOR_BUF: usize = 2048;

/// The inner flash's error, or the power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutError<E> {
    /// The wrapped flash refused the operation.
    Flash(E),
    /// The operation's range is not aligned or not inside the flash
    /// (`embedded_storage`'s `check_erase`/`check_write`); no step was taken.
    Refused(NorFlashErrorKind),
    /// The power was cut: this operation stopped partway, later ones do nothing.
    PowerCut,
}

impl<E: NorFlashError> NorFlashError for CutError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::Flash(e) => e.kind(),
            Self::Refused(kind) => *kind,
            Self::PowerCut => NorFlashErrorKind::Other,
        }
    }
}

/// A flash that loses power after a number of steps (see the module docs).
#[derive(Debug, Clone)]
pub struct CutAfter<F> {
    inner: F,
    /// Steps left before the cut.
    left: usize,
    /// Steps done so far.
    used: usize,
    /// Whether the step that meets the cut is left half done.
    torn: bool,
    /// Set once the cut has happened.
    cut: bool,
}

impl<F: NorFlash> CutAfter<F> {
    /// `inner`, losing power after `steps` steps; the step that meets the cut
    /// does nothing. `usize::MAX` steps: never, in practice (a step counter).
    pub const fn new(inner: F, steps: usize) -> Self {
        Self {
            inner,
            left: steps,
            used: 0,
            torn: false,
            cut: false,
        }
    }

    /// Like [`CutAfter::new`], but the step that meets the cut is left half done.
    pub const fn torn(inner: F, steps: usize) -> Self {
        Self {
            inner,
            left: steps,
            used: 0,
            torn: true,
            cut: false,
        }
    }

    /// Steps done so far (the step left half done by a torn cut not counted).
    pub const fn used(&self) -> usize {
        self.used
    }

    /// Whether the power has been cut.
    pub const fn is_cut(&self) -> bool {
        self.cut
    }

    /// The flash as the operations so far left it (power back on).
    pub fn into_inner(self) -> F {
        self.inner
    }

    /// Takes one step; `false` (and the cut) when none is left.
    fn step(&mut self) -> bool {
        if self.cut || self.left == 0 {
            self.cut = true;
            return false;
        }
        self.left -= 1;
        self.used += 1;
        true
    }

    fn powered(&self) -> Result<(), CutError<F::Error>> {
        if self.cut {
            Err(CutError::PowerCut)
        } else {
            Ok(())
        }
    }

    /// The sector at `at` left half erased: its first half `0xFF`, its second
    /// half as it was.
    fn half_erase(&mut self, at: u32) -> Result<(), F::Error> {
        let half = F::ERASE_SIZE / 2;
        let mut kept = [0u8; HALF_SECTOR_BUF];
        let Some(kept) = kept.get_mut(..half) else {
            return Ok(());
        };
        if half == 0 || !half.is_multiple_of(F::WRITE_SIZE) {
            return Ok(());
        }
        let second = at + half as u32;
        self.inner.read(second, kept)?;
        self.inner.erase(at, at + F::ERASE_SIZE as u32)?;
        self.inner.write(second, kept)
    }
}

impl<F: NorFlash> ErrorType for CutAfter<F> {
    type Error = CutError<F::Error>;
}

impl<F: NorFlash> ReadNorFlash for CutAfter<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.powered()?;
        self.inner.read(offset, bytes).map_err(CutError::Flash)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl<F: NorFlash> NorFlash for CutAfter<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.powered()?;
        check_erase(self, from, to).map_err(CutError::Refused)?;
        let mut at = from;
        while at < to {
            if !self.step() {
                if self.torn {
                    self.half_erase(at).map_err(CutError::Flash)?;
                }
                return Err(CutError::PowerCut);
            }
            let end = at + F::ERASE_SIZE as u32;
            self.inner.erase(at, end).map_err(CutError::Flash)?;
            at = end;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.powered()?;
        check_write(self, offset, bytes.len()).map_err(CutError::Refused)?;
        let mut at = offset;
        for word in bytes.chunks_exact(F::WRITE_SIZE) {
            if !self.step() {
                if self.torn {
                    let mut half = [0xFFu8; 64];
                    if let Some(half) = half.get_mut(..word.len()) {
                        for (h, w) in half.iter_mut().zip(word) {
                            *h = w | 0xF0;
                        }
                        self.inner.write(at, half).map_err(CutError::Flash)?;
                    }
                }
                return Err(CutError::PowerCut);
            }
            self.inner.write(at, word).map_err(CutError::Flash)?;
            at += F::WRITE_SIZE as u32;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ram::{RamFlash, RamFlashError};
    use super::*;

    type Ram = RamFlash<2048>;

    #[test]
    fn steps_are_words_written_and_sectors_erased() {
        let mut f = CutAfter::new(Ram::new(), usize::MAX);
        f.write(0, &[0; 12]).unwrap();
        assert_eq!(f.used(), 3);
        f.erase(0, 2048).unwrap();
        assert_eq!(f.used(), 5);
        let mut b = [0u8; 4];
        f.read(0, &mut b).unwrap();
        assert_eq!(f.used(), 5);
        assert!(!f.is_cut());
    }

    #[test]
    fn a_clean_cut_lets_the_first_words_land_and_stops_everything() {
        let mut f = CutAfter::new(Ram::new(), 2);
        assert_eq!(f.write(8, &[0; 16]), Err(CutError::PowerCut));
        assert!(f.is_cut());
        let mut b = [0u8; 4];
        assert_eq!(f.read(0, &mut b), Err(CutError::PowerCut));
        assert_eq!(f.erase(0, 1024), Err(CutError::PowerCut));
        let ram = f.into_inner();
        assert_eq!(&ram.bytes()[..8], &[0xFF; 8]);
        assert_eq!(&ram.bytes()[8..16], &[0; 8]);
        assert_eq!(&ram.bytes()[16..28], &[0xFF; 12]);
    }

    #[test]
    fn a_torn_cut_leaves_the_word_half_programmed() {
        let mut f = CutAfter::torn(Ram::new(), 1);
        assert_eq!(
            f.write(0, &[0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0]),
            Err(CutError::PowerCut)
        );
        let ram = f.into_inner();
        assert_eq!(
            &ram.bytes()[..8],
            &[0x12, 0x34, 0x56, 0x78, 0xFA, 0xFC, 0xFE, 0xF0]
        );
    }

    #[test]
    fn a_cut_erase_stops_at_a_sector_and_a_torn_one_halves_it() {
        let mut ram = Ram::new();
        ram.write(0, &[0; 2048]).unwrap();
        // Clean: the first sector erased, the second untouched.
        let mut f = CutAfter::new(ram.clone(), 1);
        assert_eq!(f.erase(0, 2048), Err(CutError::PowerCut));
        let after = f.into_inner();
        assert!(after.bytes()[..1024].iter().all(|&b| b == 0xFF));
        assert!(after.bytes()[1024..].iter().all(|&b| b == 0));
        // Torn: the sector at the cut has its first half erased.
        let mut f = CutAfter::torn(ram, 1);
        assert_eq!(f.erase(0, 2048), Err(CutError::PowerCut));
        let after = f.into_inner();
        assert!(after.bytes()[..1536].iter().all(|&b| b == 0xFF));
        assert!(after.bytes()[1536..].iter().all(|&b| b == 0));
    }

    #[test]
    fn the_inner_flash_refusals_pass_through_and_take_no_step() {
        let mut f = CutAfter::new(Ram::new(), 10);
        let refused = |kind| Err(CutError::Refused(kind));
        assert_eq!(f.write(2, &[0; 4]), refused(NorFlashErrorKind::NotAligned));
        assert_eq!(f.write(0, &[0; 3]), refused(NorFlashErrorKind::NotAligned));
        assert_eq!(
            f.write(2048, &[0; 4]),
            refused(NorFlashErrorKind::OutOfBounds)
        );
        assert_eq!(f.erase(0, 100), refused(NorFlashErrorKind::NotAligned));
        assert_eq!(f.erase(0, 4096), refused(NorFlashErrorKind::OutOfBounds));
        assert_eq!(f.used(), 0);
        f.write(0, &[0; 4]).unwrap();
        assert_eq!(
            f.write(0, &[1; 4]),
            Err(CutError::Flash(RamFlashError::NotErased))
        );
        assert!(!f.is_cut());
    }
}
