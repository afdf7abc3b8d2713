//! Build script: puts `memory.x` on the link path for cortex-m-rt's `link.x`, and an
//! empty `defmt.x`: the workspace's `.cargo/config.toml` links every thumbv7m binary
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
    println!("cargo:rustc-link-search={}", out.display());
}
