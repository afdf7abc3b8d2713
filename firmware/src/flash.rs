//! The device's state flash under QEMU: a file on the host, reached through
//! semihosting, that behaves as NOR flash ([`NorFlash`]): an erase sets whole
//! sectors to `0xFF`, a write can only clear bits (the bytes written are ANDed
//! into what the file holds). The mps2-an385 has no flash QEMU keeps across
//! runs; a host file does, so state survives a reboot of the emulator.
//!
//! Part of the binary (`main.rs`'s device module), not of the library: it
//! needs the `semihosting` crate's file calls, which exist only on the target.
//! One semihosting write cannot be interrupted; power cuts are tested on the
//! host with `latchkey_firmware::state::CutAfter`.

use core::ffi::CStr;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash, check_erase, check_read,
    check_write,
};
use latchkey_firmware::state::{COUNTERS_SECTORS, TRUST_SECTORS};
use semihosting::fs::File;
use semihosting::io::{Read, Seek, SeekFrom, Write};

/// Bytes of an erase sector: 1 KiB, an STM32F103 page.
pub const SECTOR_SIZE: usize = 1024;
/// Erase sectors in the file: the counters region, then the trust region.
pub const SECTORS: usize = (COUNTERS_SECTORS + TRUST_SECTORS) as usize;
/// Bytes of the file: 8 KiB.
pub const CAPACITY: usize = SECTOR_SIZE * SECTORS;
/// Where the counters region starts.
pub const COUNTERS_BASE: u32 = 0;
/// Where the trust region starts, right after the counters region.
pub const TRUST_BASE: u32 = COUNTERS_SECTORS * SECTOR_SIZE as u32;

/// Bytes moved per semihosting call.
const CHUNK: usize = 64;

/// Why a flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// Offset or length not a multiple of the read, write or erase size.
    NotAligned,
    /// Outside the flash.
    OutOfBounds,
    /// The host file could not be opened, read, written or sought.
    Io,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::Io => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for FlashError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => Self::NotAligned,
            NorFlashErrorKind::OutOfBounds => Self::OutOfBounds,
            _ => Self::Io,
        }
    }
}

impl From<semihosting::io::Error> for FlashError {
    fn from(_: semihosting::io::Error) -> Self {
        Self::Io
    }
}

/// [`CAPACITY`] bytes of NOR flash in a host file: [`SECTOR_SIZE`] sectors,
/// 4-byte writes.
pub struct FileFlash {
    file: File,
}

impl FileFlash {
    /// Opens the flash file at `path` (relative to QEMU's working directory),
    /// creating it erased (all `0xFF`) when it is missing; a file shorter than
    /// [`CAPACITY`] is taken to be erased past its end.
    ///
    /// # Errors
    /// [`FlashError::Io`] if the file can be neither opened nor created.
    pub fn open(path: &CStr) -> Result<Self, FlashError> {
        let file = match File::options().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(_) => File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?,
        };
        let mut flash = Self { file };
        let len = usize::try_from(flash.file.metadata()?.len()).unwrap_or(usize::MAX);
        if len < CAPACITY {
            flash.fill(len, CAPACITY)?;
        }
        Ok(flash)
    }

    /// Sets bytes `from..to` of the file to `0xFF`.
    fn fill(&mut self, from: usize, to: usize) -> Result<(), FlashError> {
        self.file.seek(SeekFrom::Start(from as u64))?;
        let erased = [0xFFu8; CHUNK];
        let mut at = from;
        while at < to {
            let n = CHUNK.min(to - at);
            self.file.write_all(&erased[..n])?;
            at += n;
        }
        Ok(())
    }
}

impl ErrorType for FileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        check_read(self, offset, bytes.len())?;
        self.file.seek(SeekFrom::Start(u64::from(offset)))?;
        self.file.read_exact(bytes)?;
        Ok(())
    }

    fn capacity(&self) -> usize {
        CAPACITY
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        check_erase(self, from, to)?;
        self.fill(from as usize, to as usize)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        check_write(self, offset, bytes.len())?;
        let mut at = u64::from(offset);
        for new in bytes.chunks(CHUNK) {
            let mut cell = [0u8; CHUNK];
            let cell = &mut cell[..new.len()];
            self.file.seek(SeekFrom::Start(at))?;
            self.file.read_exact(cell)?;
            for (c, n) in cell.iter_mut().zip(new) {
                *c &= n;
            }
            self.file.seek(SeekFrom::Start(at))?;
            self.file.write_all(cell)?;
            at += new.len() as u64;
        }
        Ok(())
    }
}
