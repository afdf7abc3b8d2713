//! Build script: chooses the word-at-a-time code paths.
//!
//! `cfg(latchkey_word64)` selects code that reads eight bytes as one `u64` (base64
//! octets, digit runs, the JSON string scan) and inlines the hot readers. It is set
//! on 64-bit targets, where that is fastest; 32-bit targets (the device) get the
//! byte-at-a-time code, which is smaller there. `LATCHKEY_CORE_NARROW=1` leaves it
//! unset on the host too, so the host's tests run the device's paths
//! (`cargo xtask test` does, as step `core-narrow`).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(latchkey_word64)");
    println!("cargo::rerun-if-env-changed=LATCHKEY_CORE_NARROW");
    let wide = env::var("CARGO_CFG_TARGET_POINTER_WIDTH").is_ok_and(|w| w == "64");
    if wide && env::var_os("LATCHKEY_CORE_NARROW").is_none() {
        println!("cargo::rustc-cfg=latchkey_word64");
    }
}
