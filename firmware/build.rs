//! Build script: provisions the device identity and puts `memory.x` (and an empty
//! `device.x`) on the link path.
//!
//! Inputs (all optional; see README.md "Provisioning"):
//! - `LATCHKEY_DEVICE_FILE`: path of a file with `device_id = ...` and
//!   `device_key_hex = ...` lines (`#` starts a comment).
//! - `LATCHKEY_DEVICE_ID`, `LATCHKEY_DEVICE_KEY_HEX`: override the file.
//! - `LATCHKEY_TIME_FLOOR`: unix seconds below which the device clock never starts
//!   (default: the time this script ran).
//! - `DEFMT_LOG`: defmt log filter for this crate (default `info`).
//!
//! Without a key, the key is derived from the DEVELOPMENT ONLY master secret
//! (bytes 0x00..=0x1f) exactly as the server derives device keys, and the build
//! says so with a warning.

use std::{env, fmt::Write as _, fs, path::PathBuf, time::SystemTime};

use hkdf::Hkdf;
use latchkey_protocol::{DEVICE_KEY_SALT, DeviceId};
use sha2::Sha256;

/// DEVELOPMENT ONLY master secret: bytes 0x00..=0x1f.
const DEV_MASTER_SECRET: [u8; 32] = {
    let mut s = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        s[i] = i as u8;
        i += 1;
    }
    s
};
/// Device id used when none is provisioned.
const DEV_DEVICE_ID: &str = "dev-1";

fn main() {
    if let Err(msg) = run() {
        eprintln!("latchkey-firmware build.rs: {msg}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    for var in [
        "LATCHKEY_DEVICE_FILE",
        "LATCHKEY_DEVICE_ID",
        "LATCHKEY_DEVICE_KEY_HEX",
        "LATCHKEY_TIME_FLOOR",
        "DEFMT_LOG",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory.x");

    // defmt keeps only `error` logs unless DEFMT_LOG says otherwise; the device logs
    // every decision at `info`/`warn`, so default this crate to `info`. (The defmt
    // macros run inside rustc, which sees this variable.)
    let level = env::var("DEFMT_LOG").unwrap_or_else(|_| "info".to_owned());
    println!("cargo:rustc-env=DEFMT_LOG={level}");

    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);

    // Linker script for cortex-m-rt's link.x (only used by the thumb build).
    fs::copy("memory.x", out.join("memory.x")).map_err(|e| format!("memory.x: {e}"))?;
    // cortex-m-rt's `device` feature includes `device.x` (a device crate's handler
    // names); the firmware's 32 interrupt vectors all name `DefaultHandler`
    // (src/main.rs), so there is nothing to provide.
    fs::write(
        out.join("device.x"),
        "/* every interrupt is DefaultHandler (src/main.rs: __INTERRUPTS) */\n",
    )
    .map_err(|e| format!("device.x: {e}"))?;
    println!("cargo:rustc-link-search={}", out.display());

    let (mut id, mut key_hex) = (None::<String>, None::<String>);
    if let Ok(path) = env::var("LATCHKEY_DEVICE_FILE") {
        println!("cargo:rerun-if-changed={path}");
        let text = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("{path}:{}: expected `name = value`", n + 1))?;
            match k.trim() {
                "device_id" => id = Some(v.trim().to_owned()),
                "device_key_hex" => key_hex = Some(v.trim().to_owned()),
                other => return Err(format!("{path}:{}: unknown name `{other}`", n + 1)),
            }
        }
    }
    if let Ok(v) = env::var("LATCHKEY_DEVICE_ID") {
        id = Some(v);
    }
    if let Ok(v) = env::var("LATCHKEY_DEVICE_KEY_HEX") {
        key_hex = Some(v);
    }

    let id = id.unwrap_or_else(|| DEV_DEVICE_ID.to_owned());
    // The contract's rule, so the server can issue tokens for every id that builds.
    DeviceId::new(&id).map_err(|e| format!("device id {id:?}: {e}"))?;
    let (key, development) = match key_hex {
        Some(hex) => (parse_key_hex(&hex)?, false),
        None => {
            println!(
                "cargo:warning=latchkey-firmware: DEVELOPMENT ONLY device key for `{id}` \
                 (derived from the public development master secret)"
            );
            (derive_device_key(&DEV_MASTER_SECRET, &id), true)
        }
    };
    let floor = match env::var("LATCHKEY_TIME_FLOOR") {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|e| format!("LATCHKEY_TIME_FLOOR: {e}"))?,
        Err(_) => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };

    let mut src = String::new();
    let key_list = key.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "0x{b:02x}, ");
        s
    });
    let _ = writeln!(
        src,
        "/// This device's id (the `aud` its tokens must carry)."
    );
    let _ = writeln!(src, "pub const DEVICE_ID: &str = {id:?};");
    let _ = writeln!(
        src,
        "/// This device's HS256 key (HKDF-SHA256 of the server master secret, info = id)."
    );
    let _ = writeln!(src, "pub const DEVICE_KEY: [u8; 32] = [{key_list}];");
    let _ = writeln!(
        src,
        "/// `true` when `DEVICE_KEY` is the DEVELOPMENT ONLY key (public master secret)."
    );
    let _ = writeln!(src, "pub const DEVELOPMENT_KEY: bool = {development};");
    let _ = writeln!(
        src,
        "/// Unix seconds: the device clock starts here at boot (never earlier)."
    );
    let _ = writeln!(src, "pub const TIME_FLOOR: u64 = {floor};");
    fs::write(out.join("provisioning.rs"), src).map_err(|e| format!("provisioning.rs: {e}"))?;
    Ok(())
}

/// HKDF-SHA256(ikm = master, salt = the contract's `DEVICE_KEY_SALT`, info = device id),
/// 32 bytes.
fn derive_device_key(master: &[u8], device_id: &str) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(DEVICE_KEY_SALT), master);
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 255 * 32 byte limit: expand cannot fail.
    let _ = hk.expand(device_id.as_bytes(), &mut okm);
    okm
}

fn parse_key_hex(hex: &str) -> Result<[u8; 32], String> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return Err("LATCHKEY_DEVICE_KEY_HEX: expected 64 hex digits (32 bytes)".to_owned());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2).unwrap_or("");
        *byte = u8::from_str_radix(pair, 16)
            .map_err(|_| "LATCHKEY_DEVICE_KEY_HEX: not hex".to_owned())?;
    }
    Ok(key)
}
