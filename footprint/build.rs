//! Build script: puts `memory.x` on the link path for cortex-m-rt's `link.x`, an
//! empty `device.x` (see `src/device.rs`), and an empty `defmt.x`: the workspace's `.cargo/config.toml` links every thumbv7m binary
//! with `-Tdefmt.x`, and this probe deliberately has no defmt.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory.x");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    fs::write(
        out.join("defmt.x"),
        "/* no defmt in the footprint probe */\n",
    )
    .expect("write defmt.x");
    // cortex-m-rt's `device` feature includes `device.x` (a device crate's handler
    // names); the probe's interrupts all go to the default handler.
    fs::write(
        out.join("device.x"),
        "/* every interrupt of the probe is DefaultHandler (src/device.rs) */\n",
    )
    .expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
}
