//! Build script: chooses between the speed-first and the size-first code paths.
//!
//! `cfg(latchkey_fast)`, set on 64-bit targets, selects the speed-first paths:
//! eight bytes read as one `u64` (base64 octets, date digits, the JSON string
//! scan), the hot readers inlined, and the header shortcuts of `jws.rs` (a header
//! in the form `Key::sign` writes read by prefix matching). Without it (32-bit
//! targets: the device, where flash counts more than a few hundred instructions)
//! the same results come from smaller byte-at-a-time code and the JSON path alone.
//! `LATCHKEY_CORE_SMALL=1` leaves the cfg unset on the host too, so the host's
//! tests run the device's paths (`cargo xtask test` does, as step `core-small`).

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
