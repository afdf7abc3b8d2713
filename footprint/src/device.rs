//! The Cortex-M3 side: verify once and exit QEMU with `SYS_EXIT_EXTENDED`: 0
//! when the token verified. That is all the binary whose flash is reported does;
//! with the `measure` feature it also calls marker functions around the
//! verification (for instruction counting under QEMU), paints the stack and
//! measures the verification's peak, runs the bare-HMAC peer between markers of
//! its own, and reports over semihosting; building the key has markers of its own
//! too, and its stack is measured apart.

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, entry, exception};

use crate::{SCRATCH_LEN, verifier, verify_once};

/// The interrupt part of the vector table: the mps2-an385's 32 external interrupts
/// (its CMSDK peripherals), all to cortex-m-rt's default handler, as a minimal
/// binary for this board carries. Without a device crate cortex-m-rt would put its
/// 240-entry default here (960 bytes instead of 128).
// SAFETY: the name and section are the ones cortex-m-rt's `device` feature expects
// (`link.x` places `.vector_table.interrupts` right after the exception vectors);
// every entry is a handler cortex-m-rt defines.
#[allow(unsafe_code)]
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [DefaultHandler; 32];

// SAFETY: cortex-m-rt's `link.x` provides `DefaultHandler`; only its address is used.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// cortex-m-rt's default interrupt handler (loops; the probe enables none).
    fn DefaultHandler();
}

#[cfg(feature = "measure")]
mod measure {
    //! Measurement, not part of the measured binary: the stack paint and scan,
    //! the bare-HMAC peer, and the semihosting report.
    use core::hint::black_box;

    use semihosting::io::Write as _;

    use crate::SCRATCH_LEN;

    /// Start of a measured region: `footprint/measure.sh` counts the instructions QEMU
    /// executes from here to [`mark_verify_end`]. Never inlined, distinct bodies, so
    /// each has its own address.
    #[inline(never)]
    pub fn mark_verify_start() {
        black_box(0x5354_5254u32);
    }

    /// End of the measured verification.
    #[inline(never)]
    pub fn mark_verify_end() {
        black_box(0x454e_4430u32);
    }

    /// Start of building the key and the verifier (before the verification's markers).
    #[inline(never)]
    pub fn mark_key_start() {
        black_box(0x4b45_5953u32);
    }

    /// End of building the key.
    #[inline(never)]
    pub fn mark_key_end() {
        black_box(0x4b45_5945u32);
    }

    /// cortex-m-rt's paint value (`STACK_PAINT_VALUE`, feature `paint-stack`).
    const PAINT: u32 = 0xcccc_cccc;

    // SAFETY: the linker script defines both symbols; only their addresses are used.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        /// Lowest stack address (cortex-m-rt's `link.x`).
        static _stack_end: u32;
        /// Initial stack pointer, the top of the stack (cortex-m-rt's `link.x`).
        static _stack_start: u32;
    }

    /// Paints the free stack below this function's frame, so the scan after the
    /// verification sees only what the verification touched.
    #[inline(never)]
    fn repaint_free_stack() {
        let bottom = core::ptr::addr_of!(_stack_end) as usize;
        let sp = cortex_m::register::msp::read() as usize;
        let mut p = bottom;
        while p < sp {
            // SAFETY: [bottom, sp) is the unused part of the stack (below the current
            // stack pointer, above the statics), word-aligned, and nothing else runs.
            #[allow(unsafe_code)]
            unsafe {
                core::ptr::write_volatile(p as *mut u32, PAINT);
            }
            p += 4;
        }
    }

    /// The lowest stack address written since the last paint (the deepest point).
    fn lowest_touched() -> usize {
        let bottom = core::ptr::addr_of!(_stack_end) as usize;
        let top = core::ptr::addr_of!(_stack_start) as usize;
        let mut p = bottom;
        while p < top {
            // SAFETY: [bottom, top) is the stack region cortex-m-rt reserves; reads only.
            #[allow(unsafe_code)]
            let word = unsafe { core::ptr::read_volatile(p as *const u32) };
            if word != PAINT {
                break;
            }
            p += 4;
        }
        p
    }

    /// Writes `label` and `n` in decimal on the semihosting console (no `core::fmt`,
    /// which would dwarf the code being measured).
    fn report(label: &[u8], n: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if let Ok(mut out) = semihosting::io::stdout() {
            let _ = out.write_all(label);
            let _ = out.write_all(&digits[i..]);
            let _ = out.write_all(b"\n");
        }
    }

    mod peer {
        //! The on-device peer: HMAC-SHA256 over the same signing input from a pre-keyed
        //! state (clone, update, finalize), between its own markers.
        use core::hint::black_box;

        use hmac::{Hmac, KeyInit, Mac};
        use sha2::Sha256;

        /// Start of the measured bare HMAC.
        #[inline(never)]
        pub fn mark_hmac_start() {
            black_box(0x484d_4153u32);
        }

        /// End of the measured bare HMAC.
        #[inline(never)]
        pub fn mark_hmac_end() {
            black_box(0x484d_4145u32);
        }

        /// The keyed state, as a verifier keeps it.
        pub fn keyed() -> Option<Hmac<Sha256>> {
            <Hmac<Sha256> as KeyInit>::new_from_slice(crate::SECRET).ok()
        }

        /// One pre-keyed HMAC over the token's signing input.
        #[inline(never)]
        pub fn mac_once(keyed: &Hmac<Sha256>) -> u8 {
            let token = black_box(crate::TOKEN);
            let end = token.iter().rposition(|&b| b == b'.').unwrap_or(0);
            let input = token.get(..end).unwrap_or(&[]);
            let tag = keyed.clone().chain_update(input).finalize().into_bytes();
            tag.first().copied().unwrap_or(0)
        }
    }

    /// Paints the free stack and returns the stack pointer the verification
    /// starts from (inlined: the caller's own stack pointer).
    #[inline(always)]
    pub fn before() -> usize {
        repaint_free_stack();
        cortex_m::register::msp::read() as usize
    }

    /// The stack used since [`before`] returned `sp` (inlined: scanned right away).
    #[inline(always)]
    pub fn used_since(sp: usize) -> usize {
        sp.saturating_sub(lowest_touched())
    }

    /// After the verification: the stack it used, the peer's run, the report, with
    /// the stack building the key took.
    pub fn after(sp: usize, ok: bool, verifier_bytes: usize, key_stack: usize) {
        let lowest = lowest_touched();
        let top = core::ptr::addr_of!(_stack_start) as usize;
        if let Some(keyed) = peer::keyed() {
            peer::mark_hmac_start();
            black_box(peer::mac_once(&keyed));
            peer::mark_hmac_end();
        }
        report(b"verified: ", usize::from(ok));
        report(
            b"stack bytes, one verification: ",
            sp.saturating_sub(lowest),
        );
        report(
            b"stack bytes, whole program at that peak: ",
            top.saturating_sub(lowest),
        );
        report(b"scratch bytes (in main's frame): ", SCRATCH_LEN);
        report(b"verifier bytes (in main's frame): ", verifier_bytes);
        report(b"stack bytes, building the key: ", key_stack);
    }
}

#[entry]
fn main() -> ! {
    // Building the key (for RSA, its Montgomery parameters) is measured on its own,
    // before the verification's markers.
    #[cfg(feature = "measure")]
    let key_sp = measure::before();
    #[cfg(feature = "measure")]
    measure::mark_key_start();
    let verifier = verifier();
    #[cfg(feature = "measure")]
    measure::mark_key_end();
    #[cfg(feature = "measure")]
    let key_stack = measure::used_since(key_sp);
    let Some(verifier) = verifier else {
        semihosting::process::exit(2)
    };
    let mut scratch = [0u8; SCRATCH_LEN];
    #[cfg(feature = "measure")]
    let sp = measure::before();
    #[cfg(feature = "measure")]
    measure::mark_verify_start();
    let ok = verify_once(&verifier, &mut scratch);
    #[cfg(feature = "measure")]
    measure::mark_verify_end();
    #[cfg(feature = "measure")]
    measure::after(sp, ok, core::mem::size_of_val(&verifier), key_stack);
    semihosting::process::exit(if ok { 0 } else { 1 })
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    semihosting::process::exit(101)
}

/// A fault exits QEMU with a failure code instead of spinning forever.
// SAFETY: cortex-m-rt requires the handler to be an `unsafe fn`; it only exits.
#[allow(unsafe_code)]
#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    semihosting::process::exit(102)
}
