//! A RAM-backed [`NorFlash`] for host tests that behaves like NOR: erase sets
//! whole sectors to `0xFF`, and a write can only clear bits (a 1 over a 0 is an
//! error). Power cuts come from wrapping it in [`super::CutAfter`].

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// What went wrong, as a NOR part would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    /// Offset or length not a multiple of the write or erase size.
    NotAligned,
    /// Outside the flash.
    OutOfBounds,
    /// A write would set a bit that is 0 (only an erase does that).
    NotErased,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::NotErased => NorFlashErrorKind::Other,
        }
    }
}

/// `SIZE` bytes of NOR flash in RAM: 1 KiB sectors (an STM32F103 page), 4-byte
/// writes. Starts erased.
#[derive(Debug, Clone)]
pub struct RamFlash<const SIZE: usize> {
    bytes: [u8; SIZE],
}

impl<const SIZE: usize> Default for RamFlash<SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize> RamFlash<SIZE> {
    /// An erased flash.
    pub const fn new() -> Self {
        Self {
            bytes: [0xFF; SIZE],
        }
    }

    /// The raw contents.
    pub const fn bytes(&self) -> &[u8; SIZE] {
        &self.bytes
    }

    /// The raw contents, to damage them as no NOR write could (a bit set back
    /// to 1, say).
    pub const fn bytes_mut(&mut self) -> &mut [u8; SIZE] {
        &mut self.bytes
    }

    /// The first byte of `len` bytes at `offset`, if they are aligned to
    /// `align` and inside the flash.
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
        let from = self
            .bytes
            .get(start..start + bytes.len())
            .ok_or(RamFlashError::OutOfBounds)?;
        bytes.copy_from_slice(from);
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
        self.bytes
            .get_mut(start..start + len)
            .ok_or(RamFlashError::OutOfBounds)?
            .fill(0xFF);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let start = self.range(offset, bytes.len(), Self::WRITE_SIZE)?;
        let old = self
            .bytes
            .get_mut(start..start + bytes.len())
            .ok_or(RamFlashError::OutOfBounds)?;
        if old.iter().zip(bytes).any(|(o, n)| n & !o != 0) {
            return Err(RamFlashError::NotErased);
        }
        for (o, n) in old.iter_mut().zip(bytes) {
            *o &= n;
        }
        Ok(())
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
        assert_eq!(&f.bytes()[..4], &[0x0E, 0xF0, 0x00, 0xFF]);
        assert_eq!(f.write(2, &[0; 4]), Err(RamFlashError::NotAligned));
        assert_eq!(f.write(2048, &[0; 4]), Err(RamFlashError::OutOfBounds));
        assert_eq!(f.erase(0, 1000), Err(RamFlashError::NotAligned));
        assert_eq!(f.erase(1024, 0), Err(RamFlashError::OutOfBounds));
        assert_eq!(f.erase(1024, 3072), Err(RamFlashError::OutOfBounds));
        let mut buf = [0u8; 4];
        assert_eq!(f.read(2046, &mut buf), Err(RamFlashError::OutOfBounds));
        assert_eq!(f.erase(0, 1024), Ok(()));
        assert!(f.bytes().iter().all(|&b| b == 0xFF));
    }
}
