//! Build script: chooses the speed-first or the size-first form of a few leaf
//! functions.
//!
//! `cfg(latchkey_fast)`, set on 64-bit targets, selects eight bytes read as one
//! `u64` in three leaves: the byte searches of `scan.rs` (the segment dots, the end
//! of a JSON string), the base64url block decode of `b64.rs`, and the plain-digit
//! run of a NumericDate; and it inlines the hot readers. Without it (32-bit
//! targets: the device, where flash counts more than a few hundred instructions)
//! those leaves go a byte (base64: a quad) at a time and the hot readers stay out
//! of line, one copy each. The test build compiles both forms of each leaf, and
//! property tests hold the wide form to the narrow one on every test run.
//! Nothing else depends on the cfg: every token is split, decoded and parsed by
//! the same code on every target, and accepted or refused alike. `LATCHKEY_CORE_SMALL=1` leaves the cfg unset on the host too, so the
//! host's tests run the device's build (`cargo xtask test` does, as step
//! `core-small`).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(latchkey_fast)");
    println!("cargo::rerun-if-env-changed=LATCHKEY_CORE_SMALL");
    let wide = env::var("CARGO_CFG_TARGET_POINTER_WIDTH").is_ok_and(|w| w == "64");
    let small = env::var_os("LATCHKEY_CORE_SMALL").is_some_and(|v| !v.is_empty());
    if wide && !small {
        println!("cargo::rustc-cfg=latchkey_fast");
    }
}
