//! Build script: provisions the device (id, root key, command keys, and for the
//! opt-in `hs256` build its secret key) and puts `memory.x` (and an empty
//! `device.x`) on the link path.
//!
//! Inputs (all optional; see README.md "Provisioning"):
//! - `LATCHKEY_PROVISION_FILE`: the JSON `latchkey-server device provision ID`
//!   prints (device id, root public key, command keys as JWKs, and for an HS256
//!   device `hmac_key`). Default: `provisioning/dev-1.json`, the DEVELOPMENT ONLY
//!   keys of `latchkey-server --dev-keys`, public keys only.
//! - `LATCHKEY_DEVICE_ID`: overrides the file's device id.
//! - `LATCHKEY_DEVICE_KEY_HEX`: the HS256 key (feature `hs256`), overriding the
//!   file's `hmac_key`; without either, the key is derived from the DEVELOPMENT
//!   ONLY master secret (bytes 0x00..=0x1f) as the server derives device keys.
//! - `LATCHKEY_TIME_FLOOR`: unix seconds below which the device clock never starts
//!   (default: the time this script ran).
//! - `DEFMT_LOG`: defmt log filter for this crate (default `info`).
//!
//! The default build holds public keys only: the secret key is written into the
//! generated code only when feature `hs256` is on.

use std::{env, fmt::Write as _, fs, path::PathBuf, time::SystemTime};

use base64ct::{Base64UrlUnpadded, Encoding};
use hkdf::Hkdf;
use latchkey_protocol::{DEVICE_KEY_SALT, DeviceId, MAX_COMMAND_KEYS, MAX_KID_LEN};
use serde_json::Value;
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
/// The provisioning file used when none is given.
const DEV_PROVISION_FILE: &str = "provisioning/dev-1.json";
/// The development root's kid (`latchkey-server --dev-keys`).
const DEV_ROOT_KID: &str = "dev-root";

fn main() {
    if let Err(msg) = run() {
        eprintln!("latchkey-firmware build.rs: {msg}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    for var in [
        "LATCHKEY_PROVISION_FILE",
        "LATCHKEY_DEVICE_ID",
        "LATCHKEY_DEVICE_KEY_HEX",
        "LATCHKEY_TIME_FLOOR",
        "DEFMT_LOG",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=memory-128k.x");
    println!("cargo:rerun-if-changed=memory-rs256.x");

    // defmt keeps only `error` logs unless DEFMT_LOG says otherwise; the device logs
    // every decision at `info`/`warn`, so default this crate to `info`. (The defmt
    // macros run inside rustc, which sees this variable.)
    let level = env::var("DEFMT_LOG").unwrap_or_else(|_| "info".to_owned());
    println!("cargo:rustc-env=DEFMT_LOG={level}");

    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);

    // Linker script for cortex-m-rt's link.x (only used by the thumb build): the
    // 64 KiB / 20 KiB part; the 128 KiB one for the build that verifies ES256 too;
    // a 512 KiB / 64 KiB one for RS256, whose key slots and arithmetic need the RAM.
    let memory = if env::var_os("CARGO_FEATURE_RS256").is_some() {
        "memory-rs256.x"
    } else if env::var_os("CARGO_FEATURE_ES256").is_some() {
        "memory-128k.x"
    } else {
        "memory.x"
    };
    fs::copy(memory, out.join("memory.x")).map_err(|e| format!("{memory}: {e}"))?;
    // cortex-m-rt's `device` feature includes `device.x` (a device crate's handler
    // names); the firmware's 32 interrupt vectors all name `DefaultHandler`
    // (src/main.rs), so there is nothing to provide.
    fs::write(
        out.join("device.x"),
        "/* every interrupt is DefaultHandler (src/main.rs: __INTERRUPTS) */\n",
    )
    .map_err(|e| format!("device.x: {e}"))?;
    println!("cargo:rustc-link-search={}", out.display());

    let path = env::var("LATCHKEY_PROVISION_FILE").unwrap_or_else(|_| DEV_PROVISION_FILE.into());
    println!("cargo:rerun-if-changed={path}");
    let text = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let file: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;

    let id = match env::var("LATCHKEY_DEVICE_ID") {
        Ok(id) => id,
        Err(_) => file["device"]
            .as_str()
            .ok_or_else(|| format!("{path}: no \"device\""))?
            .to_owned(),
    };
    // The contract's rule, so the server can issue tokens for every id that builds.
    DeviceId::new(&id).map_err(|e| format!("device id {id:?}: {e}"))?;

    let root = &file["root_key"];
    let root_kid = root["kid"].as_str().unwrap_or("").to_owned();
    let root_key = ed25519_x(root).map_err(|e| format!("{path}: root_key: {e}"))?;
    let verifies = |alg: &str| match alg {
        "EdDSA" => env::var_os("CARGO_FEATURE_EDDSA").is_some(),
        "ES256" => env::var_os("CARGO_FEATURE_ES256").is_some(),
        "RS256" => env::var_os("CARGO_FEATURE_RS256").is_some(),
        _ => false,
    };
    let mut keys = Vec::new();
    for jwk in file["command_keys"].as_array().into_iter().flatten() {
        let alg = jwk["alg"].as_str().unwrap_or("");
        if !verifies(alg) {
            continue;
        }
        let kid = jwk["kid"].as_str().unwrap_or("");
        if kid.is_empty() || kid.len() > MAX_KID_LEN {
            return Err(format!(
                "{path}: command key kid {kid:?}: 1-{MAX_KID_LEN} bytes"
            ));
        }
        let material = material(jwk).map_err(|e| format!("{path}: command key {kid}: {e}"))?;
        keys.push((kid.to_owned(), alg.to_owned(), material));
    }
    let hs256 = env::var_os("CARGO_FEATURE_HS256").is_some();
    if !hs256 && keys.is_empty() {
        return Err(format!(
            "{path}: no command key this build verifies (enabled: eddsa/es256/rs256 features)"
        ));
    }
    if keys.len() > MAX_COMMAND_KEYS {
        return Err(format!("{path}: more than {MAX_COMMAND_KEYS} command keys"));
    }
    if root_kid == DEV_ROOT_KID {
        println!(
            "cargo:warning=latchkey-firmware: DEVELOPMENT ONLY root and command keys \
             ({path}): anyone can sign commands for this build"
        );
    }

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
    let _ = writeln!(
        src,
        "/// This device's id (the `aud` its tokens must carry)."
    );
    let _ = writeln!(src, "pub const DEVICE_ID: &str = {id:?};");
    let _ = writeln!(src, "/// The root key's id (for the log).");
    let _ = writeln!(src, "pub const ROOT_KID: &str = {root_kid:?};");
    let _ = writeln!(
        src,
        "/// The root public key (Ed25519): it signs trust statements."
    );
    let _ = writeln!(
        src,
        "pub const ROOT_KEY: [u8; 32] = [{}];",
        bytes(&root_key)
    );
    let _ = writeln!(
        src,
        "/// `true` when the keys are the DEVELOPMENT ONLY ones (`--dev-keys`)."
    );
    let _ = writeln!(
        src,
        "pub const DEVELOPMENT_KEYS: bool = {};",
        root_kid == DEV_ROOT_KID
    );
    let _ = writeln!(
        src,
        "/// The command keys this build verifies: kid, algorithm name, public material\n\
         /// (Ed25519: the key; ES256: x || y; RS256: the modulus)."
    );
    let _ = writeln!(src, "pub const COMMAND_KEYS: &[(&str, &str, &[u8])] = &[");
    for (kid, alg, m) in &keys {
        let _ = writeln!(src, "    ({kid:?}, {alg:?}, &[{}]),", bytes(m));
    }
    let _ = writeln!(src, "];");
    if hs256 {
        let (key, development) = hmac_key(&file, &id)?;
        let _ = writeln!(
            src,
            "/// This device's HS256 key (feature `hs256`): a secret that can mint commands."
        );
        let _ = writeln!(src, "pub const DEVICE_KEY: [u8; 32] = [{}];", bytes(&key));
        let _ = writeln!(
            src,
            "/// `true` when `DEVICE_KEY` is derived from the public development master secret."
        );
        let _ = writeln!(src, "pub const DEVELOPMENT_KEY: bool = {development};");
    }
    let _ = writeln!(
        src,
        "/// Unix seconds: the device clock starts here at boot (never earlier)."
    );
    let _ = writeln!(src, "pub const TIME_FLOOR: u64 = {floor};");
    fs::write(out.join("provisioning.rs"), src).map_err(|e| format!("provisioning.rs: {e}"))?;
    Ok(())
}

fn bytes(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "0x{b:02x}, ");
        s
    })
}

fn b64(jwk: &Value, member: &str) -> Result<Vec<u8>, String> {
    let text = jwk[member]
        .as_str()
        .ok_or_else(|| format!("no \"{member}\""))?;
    Base64UrlUnpadded::decode_vec(text).map_err(|e| format!("\"{member}\": {e}"))
}

fn ed25519_x(jwk: &Value) -> Result<Vec<u8>, String> {
    if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" {
        return Err("not an Ed25519 key".into());
    }
    let x = b64(jwk, "x")?;
    if x.len() != 32 {
        return Err("an Ed25519 key is 32 bytes".into());
    }
    Ok(x)
}

/// The public material as `latchkey_firmware::keys::KeyEntry` holds it.
fn material(jwk: &Value) -> Result<Vec<u8>, String> {
    if jwk.get("d").is_some() {
        return Err("a private key".into());
    }
    match jwk["kty"].as_str() {
        Some("OKP") => ed25519_x(jwk),
        Some("EC") => Ok([b64(jwk, "x")?, b64(jwk, "y")?].concat()),
        Some("RSA") => {
            if b64(jwk, "e")? != [1, 0, 1] {
                return Err("RSA keys with e = 65537 only".into());
            }
            b64(jwk, "n")
        }
        _ => Err("unsupported key type".into()),
    }
}

/// The HS256 key: `LATCHKEY_DEVICE_KEY_HEX`, else the file's `hmac_key`, else
/// the development derivation (with a warning). Returns it and whether it is the
/// development one.
fn hmac_key(file: &Value, id: &str) -> Result<([u8; 32], bool), String> {
    let hex = env::var("LATCHKEY_DEVICE_KEY_HEX")
        .ok()
        .or_else(|| file["hmac_key"].as_str().map(str::to_owned));
    match hex {
        Some(hex) => Ok((parse_key_hex(&hex)?, false)),
        None => {
            println!(
                "cargo:warning=latchkey-firmware: DEVELOPMENT ONLY HS256 key for `{id}` \
                 (derived from the public development master secret)"
            );
            Ok((derive_device_key(&DEV_MASTER_SECRET, id), true))
        }
    }
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
        return Err("the HS256 key: expected 64 hex digits (32 bytes)".to_owned());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2).unwrap_or("");
        *byte = u8::from_str_radix(pair, 16).map_err(|_| "the HS256 key: not hex".to_owned())?;
    }
    Ok(key)
}
