//! Latchkey firmware for the mps2-an385 board (Cortex-M3), as emulated by QEMU.
//!
//! This file only wires hardware to the portable logic in the library: UART0
//! bytes in, answer lines out, SysTick for the uptime, FPGA IO LEDs as outputs,
//! defmt over semihosting for the log. Everything it decides comes from
//! [`latchkey_firmware::Firmware`], which is unit-tested on the host.
//!
//! On the host (plain `cargo build`/`cargo test` at the workspace root) this
//! binary is an empty stub.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

/// The state flash: a host file through semihosting.
#[cfg(target_os = "none")]
mod flash;

#[cfg(target_os = "none")]
mod device {
    use core::cell::RefCell;
    use core::sync::atomic::{AtomicU32, Ordering};

    use cortex_m::interrupt::Mutex;
    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m_rt::{ExceptionFrame, entry, exception};
    use defmt_semihosting as _;
    use embedded_hal::digital::{ErrorType as PinErrorType, OutputPin, StatefulOutputPin};
    use embedded_hal::pwm::{ErrorType as PwmErrorType, SetDutyCycle};
    use heapless::Deque;
    use latchkey_firmware::keys::RECORD_FORMAT;
    use latchkey_firmware::provisioning::{DEVICE_ID, TIME_FLOOR};
    use latchkey_firmware::state::{
        COUNTERS_SECTORS, CounterLog, Counters, Payload, TRUST_CAPACITY, TRUST_SECTORS, TrustLog,
    };
    use latchkey_firmware::{Answer, Authorizer, Decision, Firmware, Persist, SaveFailed};

    use crate::flash::{COUNTERS_BASE, FileFlash, TRUST_BASE};

    /// QEMU exit codes (semihosting SYS_EXIT_EXTENDED); documented in README.md.
    mod exit_code {
        /// A Rust panic (should never happen: the logic never panics on input).
        pub const PANIC: i32 = 101;
        /// HardFault (or any fault escalated to it).
        pub const HARD_FAULT: i32 = 102;
        /// An exception or interrupt the firmware never enables.
        pub const UNEXPECTED_IRQ: i32 = 103;
        /// A provisioned key was refused by latchkey-core at boot.
        pub const BAD_KEY: i32 = 104;
        /// The state flash (its host file) could not be opened or read at boot.
        pub const FLASH: i32 = 105;
        /// Feature `power-cut`: the power was cut in the middle of a flash write.
        #[cfg(feature = "power-cut")]
        pub const POWER_CUT: i32 = 106;
    }

    /// SysTick runs from the 25 MHz CPU clock; one tick every half second
    /// (the reload register has 24 bits, so a whole second does not fit).
    const CPU_HZ: u32 = 25_000_000;
    const TICKS_PER_SEC: u32 = 2;
    static TICKS: AtomicU32 = AtomicU32::new(0);

    fn uptime() -> u64 {
        u64::from(TICKS.load(Ordering::Relaxed) / TICKS_PER_SEC)
    }

    /// The memory-mapped registers this firmware touches, and nothing else, so
    /// that the volatile accesses below can only reach these addresses.
    #[derive(Clone, Copy)]
    #[repr(u32)]
    enum Reg {
        /// CMSDK APB UART0 (0x4000_4000): data, state, control, interrupt clear, baud divider.
        UartData = 0x4000_4000,
        UartState = 0x4000_4004,
        UartCtrl = 0x4000_4008,
        UartIntClear = 0x4000_400C,
        UartBaudDiv = 0x4000_4010,
        /// FPGA IO LED0 register: bit 0 = lock released, bit 1 = LED lit.
        FpgaLed0 = 0x4002_8000,
        /// NVIC interrupt set-enable register 0 (IRQ 0..31).
        NvicIser0 = 0xE000_E100,
    }

    const UART_STATE_TX_FULL: u32 = 1 << 0;
    const UART_STATE_RX_FULL: u32 = 1 << 1;
    const UART_CTRL_TX_EN: u32 = 1 << 0;
    const UART_CTRL_RX_EN: u32 = 1 << 1;
    const UART_CTRL_RX_INT_EN: u32 = 1 << 3;
    const UART_INT_RX: u32 = 1 << 1;
    /// UART0 RX is IRQ 0 on mps2-an385.
    const UART0_RX_IRQ: i16 = 0;

    fn read(reg: Reg) -> u32 {
        // SAFETY: `reg` is one of the fixed, aligned MMIO registers of mps2-an385
        // listed in `Reg`; a 32-bit volatile read of them has no side effect
        // beyond the device's own (UART DATA pops the received byte).
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::read_volatile(reg as usize as *const u32)
        }
    }

    fn write(reg: Reg, value: u32) {
        // SAFETY: as in `read`; these registers are not memory Rust knows about.
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::write_volatile(reg as usize as *mut u32, value);
        }
    }

    fn uart_init() {
        write(Reg::UartCtrl, 0);
        // QEMU moves no data with a divider under 16; the rate itself does not matter there.
        write(Reg::UartBaudDiv, CPU_HZ / 115_200);
        write(Reg::UartIntClear, 0xF);
        write(
            Reg::UartCtrl,
            UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN,
        );
        write(Reg::NvicIser0, 1 << UART0_RX_IRQ);
    }

    fn uart_write(bytes: &[u8]) {
        for &b in bytes {
            while read(Reg::UartState) & UART_STATE_TX_FULL != 0 {}
            write(Reg::UartData, u32::from(b));
        }
    }

    /// Bytes the RX interrupt took from the UART and the main loop has not read
    /// yet: a line keeps arriving while the previous one is being verified.
    static RX: Mutex<RefCell<Deque<u8, RX_QUEUE>>> = Mutex::new(RefCell::new(Deque::new()));
    const RX_QUEUE: usize = 128;

    /// The RX interrupt: acknowledge it and move what the UART holds into `RX`.
    /// With `RX` full the byte stays in the UART (QEMU then holds back the
    /// socket; on hardware that is where an overrun would start).
    fn uart_rx_interrupt() {
        write(Reg::UartIntClear, UART_INT_RX);
        cortex_m::interrupt::free(|cs| {
            let mut queue = RX.borrow(cs).borrow_mut();
            while !queue.is_full() && read(Reg::UartState) & UART_STATE_RX_FULL != 0 {
                // Truncation intended: DATA holds one byte in bits 0..8.
                let _ = queue.push_back(read(Reg::UartData) as u8);
            }
        });
    }

    /// Next received byte, sleeping with WFI until there is one. The checks and
    /// the WFI run with interrupts masked so a byte cannot arrive unseen between
    /// them; a pending RX interrupt still ends WFI, and its handler runs once
    /// unmasked. The UART is read directly only when `RX` is empty, so bytes
    /// come out in the order they arrived.
    fn uart_read_byte() -> u8 {
        loop {
            let byte = cortex_m::interrupt::free(|cs| {
                if let Some(b) = RX.borrow(cs).borrow_mut().pop_front() {
                    Some(b)
                } else if read(Reg::UartState) & UART_STATE_RX_FULL != 0 {
                    Some(read(Reg::UartData) as u8)
                } else {
                    cortex_m::asm::wfi();
                    None
                }
            });
            if let Some(b) = byte {
                return b;
            }
        }
    }

    /// The lock output: FPGA IO LED0 bit 0 (high = released).
    struct LockPin;

    impl PinErrorType for LockPin {
        type Error = core::convert::Infallible;
    }

    impl OutputPin for LockPin {
        fn set_low(&mut self) -> Result<(), Self::Error> {
            write(Reg::FpgaLed0, read(Reg::FpgaLed0) & !1);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Self::Error> {
            write(Reg::FpgaLed0, read(Reg::FpgaLed0) | 1);
            Ok(())
        }
    }

    impl StatefulOutputPin for LockPin {
        fn is_set_high(&mut self) -> Result<bool, Self::Error> {
            Ok(read(Reg::FpgaLed0) & 1 != 0)
        }
        fn is_set_low(&mut self) -> Result<bool, Self::Error> {
            Ok(read(Reg::FpgaLed0) & 1 == 0)
        }
    }

    /// The dimmable LED: the board has no PWM, so this models one: the duty is
    /// held here and FPGA IO LED0 bit 1 shows whether the LED is lit at all.
    struct LedPwm {
        duty: u16,
    }

    impl PwmErrorType for LedPwm {
        type Error = core::convert::Infallible;
    }

    impl SetDutyCycle for LedPwm {
        fn max_duty_cycle(&self) -> u16 {
            255
        }
        fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Self::Error> {
            self.duty = duty.min(255);
            let lit = if self.duty > 0 { 2 } else { 0 };
            write(Reg::FpgaLed0, (read(Reg::FpgaLed0) & !2) | lit);
            Ok(())
        }
    }

    /// Bytes of stack ever used: the stack is painted with 0xCCCC_CCCC by
    /// cortex-m-rt (`paint-stack`) before `main`; count from the bottom up to the
    /// first word that no longer holds the paint.
    fn stack_peak() -> (u32, u32) {
        // Linker symbols of cortex-m-rt's link.x: only their addresses are used.
        #[allow(unsafe_code)]
        unsafe extern "C" {
            static _stack_start: u32;
            static _stack_end: u32;
        }
        let top = (&raw const _stack_start) as usize;
        let bottom = (&raw const _stack_end) as usize;
        let mut addr = bottom;
        while addr < top {
            // SAFETY: `addr` is word-aligned and inside the RAM between the end of
            // the statics and the initial stack pointer, which the linker reserves
            // for the stack; reading it races with nothing (single core, and the
            // words below the stack pointer are not in use).
            #[allow(unsafe_code)]
            let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
            if word != cortex_m_rt::STACK_PAINT_VALUE {
                break;
            }
            addr += 4;
        }
        ((top - addr) as u32, (top - bottom) as u32)
    }

    #[entry]
    fn main() -> ! {
        let Some(mut cp) = cortex_m::Peripherals::take() else {
            semihosting::process::exit(exit_code::UNEXPECTED_IRQ)
        };
        cp.SYST.set_clock_source(SystClkSource::Core);
        cp.SYST.set_reload(CPU_HZ / TICKS_PER_SEC - 1);
        cp.SYST.clear_current();
        cp.SYST.enable_interrupt();
        cp.SYST.enable_counter();

        let fw = init();
        uart_init();
        let (used, size) = stack_peak();
        let (epoch, keys) = fw.auth().trust_epoch();
        defmt::info!(
            "boot: device {=str}, clock {=u64} (build floor {=u64}), highest seq {=u64}, trust epoch {=u32} ({=usize} keys), stack {=u32}/{=u32} B",
            DEVICE_ID,
            fw.now(uptime()),
            TIME_FLOOR,
            fw.auth().counters(uptime()).highest_seq,
            epoch,
            keys,
            used,
            size
        );

        loop {
            let byte = uart_read_byte();
            if byte != b'\n' {
                let _ = fw.push_byte(byte, uptime()); // no line ends here
                continue;
            }
            // The whole decision for one line (parse, verify, run the command),
            // bracketed for instruction counting (see README.md, Measurements).
            insn_mark_line_begin();
            let decision = fw.push_byte(byte, uptime());
            insn_mark_line_end();
            if let Some(decision) = decision {
                report(&decision, fw.now(uptime()));
            }
        }
    }

    /// The device, in static memory: its buffers (line, token scratch, key set)
    /// stay out of the stack, which the signature check needs.
    type Device = Firmware<'static, LockPin, LedPwm, FlashStore>;

    /// Builds the device from the provisioning and the state saved in flash.
    /// Never inlined: what it builds on the way lives in its own stack frame,
    /// gone before the first line is read.
    #[inline(never)]
    fn init() -> &'static mut Device {
        let Some(mut auth) = authorizer() else {
            semihosting::process::exit(exit_code::BAD_KEY)
        };
        let Ok((store, counters, keys)) = FlashStore::open() else {
            semihosting::process::exit(exit_code::FLASH)
        };
        auth.resume(counters.as_ref(), keys.as_deref(), uptime());
        let device = Firmware::new(auth, LockPin, LedPwm { duty: 0 }, store);
        cortex_m::singleton!(: Device = device)
            .unwrap_or_else(|| semihosting::process::exit(exit_code::UNEXPECTED_IRQ))
    }

    /// The flash the state is saved in: the host file, or with feature `power-cut`
    /// the same file losing power after the number of write steps (words written
    /// and sectors erased) that the file `latchkey-power-cut` in QEMU's working
    /// directory names.
    #[cfg(not(feature = "power-cut"))]
    type Flash = FileFlash;
    #[cfg(feature = "power-cut")]
    type Flash = latchkey_firmware::state::CutAfter<FileFlash>;

    /// The device's state in flash: the counters log and the trust log.
    struct FlashStore {
        flash: Flash,
        counters: CounterLog<Flash>,
        trust: TrustLog<Flash>,
    }

    /// What was saved, as read back at boot.
    type Saved = (
        FlashStore,
        Option<Counters>,
        Option<Payload<TRUST_CAPACITY>>,
    );

    impl FlashStore {
        fn open() -> Result<Saved, ()> {
            let file = FileFlash::open(c"latchkey-flash.bin").map_err(|_| ())?;
            let mut flash = power(file);
            let (counters, saved) =
                CounterLog::open(&mut flash, COUNTERS_BASE, COUNTERS_SECTORS).map_err(|_| ())?;
            let (trust, keys) =
                TrustLog::open(&mut flash, TRUST_BASE, TRUST_SECTORS, RECORD_FORMAT)
                    .map_err(|_| ())?;
            let store = FlashStore {
                flash,
                counters,
                trust,
            };
            Ok((store, saved, keys))
        }
    }

    impl Persist for FlashStore {
        fn save_counters(&mut self, counters: &Counters) -> Result<(), SaveFailed> {
            let saved = self.counters.save(&mut self.flash, counters);
            power_check(&self.flash);
            saved.map(|_| ()).map_err(|_| SaveFailed)
        }

        fn save_keys(&mut self, record: &[u8]) -> Result<(), SaveFailed> {
            let saved = self.trust.append(&mut self.flash, record);
            power_check(&self.flash);
            saved.map_err(|_| SaveFailed)
        }
    }

    #[cfg(not(feature = "power-cut"))]
    fn power(file: FileFlash) -> Flash {
        file
    }

    /// Feature `power-cut`: the flash loses power after the steps the file
    /// `latchkey-power-cut` names (decimal); without the file, never.
    #[cfg(feature = "power-cut")]
    fn power(file: FileFlash) -> Flash {
        use semihosting::io::Read;
        let mut text = [0u8; 20];
        let steps = semihosting::fs::File::open(c"latchkey-power-cut")
            .ok()
            .and_then(|mut f| f.read(&mut text).ok())
            .and_then(|n| core::str::from_utf8(text.get(..n)?).ok())
            .and_then(|t| t.trim().parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        defmt::warn!(
            "power-cut build: the power goes after {=usize} flash steps",
            steps
        );
        latchkey_firmware::state::CutAfter::torn(file, steps)
    }

    #[cfg(not(feature = "power-cut"))]
    fn power_check(_: &Flash) {}

    /// Feature `power-cut`: once the cut has happened, the device is off: QEMU
    /// stops at once, before anything else runs or is answered.
    #[cfg(feature = "power-cut")]
    fn power_check(flash: &Flash) {
        if flash.is_cut() {
            semihosting::process::exit(exit_code::POWER_CUT);
        }
    }

    /// The public-key device: the build's root and command keys.
    #[cfg(not(feature = "hs256"))]
    fn authorizer() -> Option<Authorizer<'static>> {
        use latchkey_core::Algorithm;
        use latchkey_firmware::keys::{KeyEntry, KeyTable};
        use latchkey_firmware::provisioning::{COMMAND_KEYS, DEVELOPMENT_KEYS, ROOT_KEY, ROOT_KID};
        let mut table = KeyTable::default();
        for (kid, alg, material) in COMMAND_KEYS {
            let alg = Algorithm::from_name(alg).ok()?;
            table
                .entries
                .push(KeyEntry::new(kid, alg, material).ok()?)
                .ok()?;
        }
        if DEVELOPMENT_KEYS {
            defmt::warn!("DEVELOPMENT ONLY keys: anyone can sign commands for this build");
        }
        defmt::info!(
            "root {=str}, {=usize} command keys",
            ROOT_KID,
            table.entries.len()
        );
        Authorizer::public(DEVICE_ID, &ROOT_KEY, table, TIME_FLOOR).ok()
    }

    /// The opt-in HMAC device: a secret HS256 key, no trust statements.
    #[cfg(feature = "hs256")]
    fn authorizer() -> Option<Authorizer<'static>> {
        use latchkey_core::{Algorithm, Key};
        use latchkey_firmware::provisioning::{DEVELOPMENT_KEY, DEVICE_KEY};
        if DEVELOPMENT_KEY {
            defmt::warn!("DEVELOPMENT ONLY key: do not deploy this build");
        }
        let key = Key::new(Algorithm::Hs256, &DEVICE_KEY).ok()?;
        Some(Authorizer::hmac(DEVICE_ID, key, TIME_FLOOR))
    }

    /// Marker: a line's decision starts (its address is looked up in the ELF).
    #[inline(never)]
    fn insn_mark_line_begin() {
        cortex_m::asm::nop();
    }

    /// Marker: a line's decision is done.
    #[inline(never)]
    fn insn_mark_line_end() {
        cortex_m::asm::nop();
        cortex_m::asm::nop();
    }

    /// Writes the answer line and logs the decision.
    fn report(decision: &Decision, now: u64) {
        // The verdict always encodes (checked by a host test); were one not to,
        // the line would still be answered, because the newline is written apart.
        let line = decision.line();
        uart_write(line.as_bytes());
        uart_write(b"\n");

        let command = decision.command.map_or("-", |c| c.name());
        let (used, size) = stack_peak();
        match (&decision.answer, &decision.grant) {
            (Answer::Ok(_), Some(grant)) => defmt::info!(
                "{=str} sub={=str} -> {=[u8]:a} (now {=u64}, stack peak {=u32}/{=u32} B)",
                command,
                grant.subject.as_str(),
                line.as_bytes(),
                now,
                used,
                size
            ),
            _ => defmt::warn!(
                "{=str} -> {=[u8]:a} (now {=u64}, stack peak {=u32}/{=u32} B)",
                command,
                line.as_bytes(),
                now,
                used,
                size
            ),
        }
    }

    #[exception]
    fn SysTick() {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }

    /// The interrupt part of the vector table: the mps2-an385's 32 external
    /// interrupts (UART0 RX is IRQ 0), every one to [`DefaultHandler`], which
    /// dispatches on the interrupt number. Without it cortex-m-rt puts its 240-entry
    /// default here (960 bytes instead of 128).
    // SAFETY: the name and section are the ones cortex-m-rt's `device` feature
    // expects (`link.x` places `.vector_table.interrupts` right after the exception
    // vectors); every entry is the `DefaultHandler` defined below.
    #[allow(unsafe_code)]
    #[unsafe(link_section = ".vector_table.interrupts")]
    #[unsafe(no_mangle)]
    static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [DefaultHandlerSymbol; 32];

    // SAFETY: `#[exception] DefaultHandler` below exports this symbol; only its
    // address is used, in the table above.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        /// The exported `DefaultHandler` (cortex-m-rt's trampoline, which reads
        /// the interrupt number and calls the function below).
        #[link_name = "DefaultHandler"]
        fn DefaultHandlerSymbol();
    }

    /// Every device interrupt lands here. UART0 RX is the only one enabled;
    /// anything else is a bug: stop with a failure code.
    #[exception]
    #[allow(unsafe_code)]
    unsafe fn DefaultHandler(irqn: i16) {
        if irqn == UART0_RX_IRQ {
            uart_rx_interrupt();
        } else {
            semihosting::process::exit(exit_code::UNEXPECTED_IRQ);
        }
    }

    #[exception]
    #[allow(unsafe_code)]
    unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
        semihosting::process::exit(exit_code::HARD_FAULT)
    }

    /// Panics leave QEMU with a failure code and write nothing to the defmt stream
    /// (a half-written frame would garble the decoder).
    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        semihosting::process::exit(exit_code::PANIC)
    }
}
