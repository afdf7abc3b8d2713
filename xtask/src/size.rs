//! `cargo xtask size`: flash and RAM use of the firmware, read from the ELF section headers.

use std::path::PathBuf;

use crate::cmd;
use crate::firmware::{self, FIRMWARE_PROFILE, TARGET};
use crate::{Args, Error, Project, setup};

const HELP: &str = "\
cargo xtask size: flash/RAM report of the firmware ELF

USAGE: cargo xtask size [--profile NAME] [--compare | --builds | --elf PATH]

Builds the firmware (unless --elf is given) and prints its allocated sections
like `size -A`, then the totals like `size` (Berkeley format):
  text  = allocated, read-only sections (code, vector table, rodata)
  data  = allocated, writable sections with contents (copied from flash)
  bss   = allocated sections without contents (zeroed RAM, stack, heap)
  flash = text + data            ram = data + bss
(cortex-m-rt's stack is not a section: ram does not include it.)

OPTIONS:
  --profile NAME   firmware (default) or firmware-small
  --compare        build both firmware profiles (firmware, firmware-small) and
                   print their totals side by side
  --builds         build the four firmware builds (default EdDSA, es256, rs256,
                   the opt-in hs256) with the profile and print each one's flash
                   and static RAM against the regions of the linker script it
                   was linked with (memory.x, memory-128k.x or memory-rs256.x, as build.rs
                   chose); stack room = RAM region - static RAM. Provisioned
                   as the build is (LATCHKEY_PROVISION_FILE, else dev-1.json)
  --elf PATH       report on this ELF instead of building (32- or 64-bit)
";

/// A section's flags and type, as far as the report needs them.
const SHF_WRITE: u64 = 0x1;
const SHF_ALLOC: u64 = 0x2;
const SHT_NOBITS: u32 = 8;

/// The firmware builds `--builds` reports (name, cargo feature arguments): the
/// ones firmware/README.md, "Builds", lists.
const BUILDS: [(&str, &[&str]); 4] = [
    ("eddsa (default)", &[]),
    ("es256", &["--features", "es256"]),
    ("rs256", &["--features", "rs256"]),
    (
        "hs256 (opt-in)",
        &["--no-default-features", "--features", "hs256"],
    ),
];

/// One section header of an ELF file.
#[derive(Debug, PartialEq, Eq)]
pub struct Section {
    /// Its name from the section-name string table.
    pub name: String,
    /// `sh_type`.
    pub kind: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addr`: where it lives at run time.
    pub addr: u64,
    /// `sh_size` in bytes.
    pub size: u64,
}

/// Berkeley-style totals.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Read-only allocated bytes.
    pub text: u64,
    /// Writable allocated bytes with contents.
    pub data: u64,
    /// Allocated bytes without contents.
    pub bss: u64,
}

impl Totals {
    /// Adds up the allocated sections.
    pub fn of(sections: &[Section]) -> Totals {
        let mut t = Totals::default();
        for s in sections.iter().filter(|s| s.flags & SHF_ALLOC != 0) {
            if s.kind == SHT_NOBITS {
                t.bss += s.size;
            } else if s.flags & SHF_WRITE != 0 {
                t.data += s.size;
            } else {
                t.text += s.size;
            }
        }
        t
    }

    /// Bytes in flash: code, constants and the initial values of `data`.
    pub fn flash(&self) -> u64 {
        self.text + self.data
    }

    /// Bytes of RAM taken before the program runs.
    pub fn ram(&self) -> u64 {
        self.data + self.bss
    }
}

/// Little-endian field reader that turns every out-of-range read into an error.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Result<[u8; N], Error> {
        let start = usize::try_from(at).map_err(|_| bad("offset out of range"))?;
        self.0
            .get(start..start.saturating_add(N))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated file"))
    }
    fn u16(&self, at: u64) -> Result<u16, Error> {
        self.bytes(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: u64) -> Result<u32, Error> {
        self.bytes(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: u64) -> Result<u64, Error> {
        self.bytes(at).map(u64::from_le_bytes)
    }
    /// A 32-bit field in ELF32, a 64-bit one in ELF64.
    fn word(&self, at: u64, wide: bool) -> Result<u64, Error> {
        if wide {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

fn bad(why: &str) -> Error {
    Error::Failed(format!("not a readable ELF file: {why}"))
}

/// Reads the section headers of a little-endian ELF32 or ELF64 file.
///
/// # Errors
/// `Error::Failed` when the bytes are not such a file or are cut short.
pub fn sections(file: &[u8]) -> Result<Vec<Section>, Error> {
    let r = Reader(file);
    if r.bytes::<4>(0)? != *b"\x7fELF" {
        return Err(bad("no ELF magic"));
    }
    let wide = match r.bytes::<1>(4)?[0] {
        1 => false,
        2 => true,
        _ => return Err(bad("unknown ELF class")),
    };
    if r.bytes::<1>(5)?[0] != 1 {
        return Err(bad("big-endian ELF is not supported"));
    }
    // Offsets of e_shoff, e_shentsize, e_shnum and e_shstrndx in the file header.
    let (shoff_at, entsize_at) = if wide { (0x28, 0x3a) } else { (0x20, 0x2e) };
    let shoff = r.word(shoff_at, wide)?;
    let entsize = u64::from(r.u16(entsize_at)?);
    let count = u64::from(r.u16(entsize_at + 2)?);
    let strndx = u64::from(r.u16(entsize_at + 4)?);
    if entsize < if wide { 64 } else { 40 } {
        return Err(bad("section headers too small"));
    }

    let header = |i: u64| -> Result<(u32, u32, u64, u64, u64, u64), Error> {
        let at = shoff
            .checked_add(i.checked_mul(entsize).ok_or_else(|| bad("overflow"))?)
            .ok_or_else(|| bad("overflow"))?;
        // The whole header must be there, not just the fields read.
        r.bytes::<1>(at + entsize - 1)?;
        let name = r.u32(at)?;
        let kind = r.u32(at + 4)?;
        let flags = r.word(at + 8, wide)?;
        let (addr, offset, size) = if wide {
            (r.u64(at + 16)?, r.u64(at + 24)?, r.u64(at + 32)?)
        } else {
            (
                u64::from(r.u32(at + 12)?),
                u64::from(r.u32(at + 16)?),
                u64::from(r.u32(at + 20)?),
            )
        };
        Ok((name, kind, flags, addr, offset, size))
    };
    let (_, _, _, _, names_at, names_len) = header(strndx)?;
    let start = usize::try_from(names_at).map_err(|_| bad("offset out of range"))?;
    let len = usize::try_from(names_len).map_err(|_| bad("size out of range"))?;
    let names = file
        .get(start..start.saturating_add(len))
        .ok_or_else(|| bad("truncated section names"))?;

    (0..count)
        .map(|i| {
            let (name_at, kind, flags, addr, _, size) = header(i)?;
            let tail = names.get(name_at as usize..).unwrap_or_default();
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            Ok(Section {
                name: String::from_utf8_lossy(&tail[..end]).into_owned(),
                kind,
                flags,
                addr,
                size,
            })
        })
        .collect()
}

/// The report: allocated sections, then the totals.
pub fn report(sections: &[Section]) -> String {
    let mut out = format!("{:<24} {:>10} {:>12}\n", "section", "size", "addr");
    for s in sections
        .iter()
        .filter(|s| s.flags & SHF_ALLOC != 0 && s.size > 0)
    {
        out.push_str(&format!("{:<24} {:>10} {:#012x}\n", s.name, s.size, s.addr));
    }
    let t = Totals::of(sections);
    out.push_str(&format!(
        "\n{:>10} {:>10} {:>10}\n{:>10} {:>10} {:>10}\n\nflash: {} bytes   ram: {} bytes\n",
        "text",
        "data",
        "bss",
        t.text,
        t.data,
        t.bss,
        t.flash(),
        t.ram()
    ));
    out
}

/// The regions of a linker script's `MEMORY` block that the budget names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Regions {
    /// `FLASH`: code and constants (the state pages are a region of their own).
    pub flash: u64,
    /// `STATE`: the flash pages the device's state lives in.
    pub state: u64,
    /// `RAM`: statics and the stack.
    pub ram: u64,
}

impl Regions {
    /// Reads `NAME : ORIGIN = ..., LENGTH = N[K|M]` lines of a `MEMORY` block.
    ///
    /// # Errors
    /// `Error::Failed` when `FLASH` or `RAM` is missing or a length does not parse.
    pub fn parse(script: &str) -> Result<Regions, Error> {
        let mut regions = Regions::default();
        for line in script.lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            let Some((_, length)) = rest.split_once("LENGTH") else {
                continue;
            };
            let length = length.trim_start_matches([' ', '=']).trim();
            let (digits, scale) = match length.strip_suffix('K') {
                Some(d) => (d, 1024),
                None => match length.strip_suffix('M') {
                    Some(d) => (d, 1024 * 1024),
                    None => (length, 1),
                },
            };
            let bytes = digits
                .trim()
                .parse::<u64>()
                .map_err(|_| Error::Failed(format!("linker script: bad LENGTH in `{line}`")))?
                * scale;
            match name.trim() {
                "FLASH" => regions.flash = bytes,
                "STATE" => regions.state = bytes,
                "RAM" => regions.ram = bytes,
                _ => {}
            }
        }
        if regions.flash == 0 || regions.ram == 0 {
            return Err(Error::Failed(
                "linker script: no FLASH or RAM region".into(),
            ));
        }
        Ok(regions)
    }
}

/// The `out_dir` of latchkey-firmware's build script, from cargo's JSON messages.
fn firmware_out_dir(messages: &str) -> Option<PathBuf> {
    // The last one: the build just made.
    messages
        .lines()
        .rev()
        .filter(|m| {
            m.contains("\"reason\":\"build-script-executed\"") && m.contains("latchkey-firmware")
        })
        .find_map(|m| {
            let rest = m.split_once("\"out_dir\":\"")?.1;
            Some(PathBuf::from(rest.split_once('"')?.0))
        })
}

/// Builds one firmware build; returns its totals and the regions it was linked in.
fn build_one(
    project: &Project,
    profile: &str,
    features: &[&str],
) -> Result<(Totals, Regions), Error> {
    let mut build = cmd::cargo(
        project,
        &[
            "build",
            "-p",
            "latchkey-firmware",
            "--target",
            TARGET,
            "--profile",
            profile,
            "--message-format=json-render-diagnostics",
        ],
    );
    build.args(features).stderr(std::process::Stdio::inherit());
    println!("$ {}", cmd::show(&build));
    let out = build
        .output()
        .map_err(|e| Error::Io(format!("cannot run `{}`", cmd::show(&build)), e))?;
    if !out.status.success() {
        return Err(Error::Failed(format!("`{}` failed", cmd::show(&build))));
    }
    let messages = String::from_utf8_lossy(&out.stdout);
    let out_dir = firmware_out_dir(&messages).ok_or_else(|| {
        Error::Failed("cargo named no latchkey-firmware build script output".into())
    })?;
    let script = out_dir.join("memory.x");
    let script = std::fs::read_to_string(&script)
        .map_err(|e| Error::Io(format!("cannot read {}", script.display()), e))?;
    let totals = Totals::of(&sections(&read(&project.firmware_elf(profile))?)?);
    Ok((totals, Regions::parse(&script)?))
}

/// The `--builds` table: one row per build, flash and static RAM against its regions.
fn builds_table(project: &Project, profile: &str) -> Result<String, Error> {
    let mut table = format!(
        "\nprofile {profile}\n{:<16} {:>8} {:>8} {:>8} {:>16} {:>8} {:>14} {:>12}\n",
        "build", "text", "data", "bss", "flash/region", "free", "RAM/region", "stack room"
    );
    for (name, features) in BUILDS {
        let (t, r) = build_one(project, profile, features)?;
        table.push_str(&format!(
            "{name:<16} {:>8} {:>8} {:>8} {:>16} {:>8} {:>14} {:>12}\n",
            t.text,
            t.data,
            t.bss,
            format!("{}/{}", t.flash(), r.flash),
            i128::from(r.flash) - i128::from(t.flash()),
            format!("{}/{}", t.ram(), r.ram),
            i128::from(r.ram) - i128::from(t.ram()),
        ));
    }
    table.push_str(
        "\n(flash region = the part's flash less its STATE pages; the linker refuses a build\n\
         that does not fit, so every row that printed fits its region.)\n",
    );
    Ok(table)
}

/// `cargo xtask size`.
///
/// # Errors
/// When the build fails or the ELF cannot be read.
pub fn main(project: &Project, args: &[String]) -> Result<(), Error> {
    let Some(args) = Args::parse(
        args,
        &["--compare", "--builds"],
        &["--profile", "--elf"],
        HELP,
    )?
    else {
        return Ok(());
    };
    if let Some(path) = args.value("--elf") {
        let elf = PathBuf::from(path);
        println!("{}\n", elf.display());
        print!("{}", report(&sections(&read(&elf)?)?));
        return Ok(());
    }
    if !setup::run().target {
        return Err(Error::Failed(
            "setup is incomplete: no thumbv7m target".into(),
        ));
    }
    if args.has("--builds") {
        let profile = args.value("--profile").unwrap_or(FIRMWARE_PROFILE);
        print!("{}", builds_table(project, profile)?);
        return Ok(());
    }
    if args.has("--compare") {
        let mut table = format!(
            "\n{:<16} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            "profile", "text", "data", "bss", "flash", "ram"
        );
        for profile in [FIRMWARE_PROFILE, "firmware-small"] {
            let t = Totals::of(&sections(&read(&firmware::build(project, profile)?)?)?);
            table.push_str(&format!(
                "{profile:<16} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                t.text,
                t.data,
                t.bss,
                t.flash(),
                t.ram()
            ));
        }
        print!("{table}");
        return Ok(());
    }
    let profile = args.value("--profile").unwrap_or(FIRMWARE_PROFILE);
    let elf = firmware::build(project, profile)?;
    println!("{}\n", elf.display());
    print!("{}", report(&sections(&read(&elf)?)?));
    Ok(())
}

fn read(elf: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(elf).map_err(|e| Error::Io(format!("cannot read {}", elf.display()), e))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A minimal ELF32: header, a name table, and sections `.text`, `.data`, `.bss`.
    fn tiny_elf32() -> Vec<u8> {
        let names = b"\0.text\0.data\0.bss\0.shstrtab\0.comment\0";
        let mut f = vec![0u8; 52];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 1; // ELFCLASS32
        f[5] = 1; // little-endian
        let names_at = f.len() as u32;
        f.extend_from_slice(names);
        while !f.len().is_multiple_of(4) {
            f.push(0);
        }
        let shoff = f.len() as u32;
        // (name offset, type, flags, addr, offset, size)
        let headers: [(u32, u32, u32, u32, u32, u32); 6] = [
            (0, 0, 0, 0, 0, 0),
            (1, 1, 0x6, 0x0, 0, 1000),          // .text: ALLOC|EXEC
            (7, 1, 0x3, 0x2000_0000, 0, 24),    // .data: WRITE|ALLOC
            (13, 8, 0x3, 0x2000_0018, 0, 4096), // .bss: NOBITS
            (18, 3, 0, 0, names_at, names.len() as u32), // .shstrtab
            (28, 1, 0x30, 0, 0, 77),            // .comment: not allocated
        ];
        for (name, kind, flags, addr, offset, size) in headers {
            for v in [name, kind, flags, addr, offset, size, 0, 0, 0, 0] {
                f.extend_from_slice(&v.to_le_bytes());
            }
        }
        f[0x20..0x24].copy_from_slice(&shoff.to_le_bytes());
        f[0x2e..0x30].copy_from_slice(&40u16.to_le_bytes());
        f[0x30..0x32].copy_from_slice(&6u16.to_le_bytes());
        f[0x32..0x34].copy_from_slice(&4u16.to_le_bytes());
        f
    }

    #[test]
    fn reads_elf32_sections_and_totals() {
        let s = sections(&tiny_elf32()).expect("valid ELF32");
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["", ".text", ".data", ".bss", ".shstrtab", ".comment"]
        );
        let t = Totals::of(&s);
        assert_eq!(
            t,
            Totals {
                text: 1000,
                data: 24,
                bss: 4096
            }
        );
        assert_eq!((t.flash(), t.ram()), (1024, 4120));
        let text = report(&s);
        assert!(text.contains("flash: 1024 bytes   ram: 4120 bytes"));
        assert!(!text.contains(".comment"));
    }

    #[test]
    fn reads_our_own_elf64_binary() {
        let exe = std::env::current_exe().expect("test binary path");
        let bytes = std::fs::read(exe).expect("readable");
        let s = sections(&bytes).expect("valid ELF64");
        let text = s.iter().find(|s| s.name == ".text").expect(".text");
        assert!(text.size > 0);
        assert!(Totals::of(&s).text >= text.size);
    }

    #[test]
    fn reads_the_regions_of_the_linker_scripts() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware");
        let small = std::fs::read_to_string(root.join("memory.x")).expect("memory.x");
        let large = std::fs::read_to_string(root.join("memory-128k.x")).expect("memory-128k.x");
        let regions = |flash, state, ram| Regions { flash, state, ram };
        assert_eq!(
            Regions::parse(&small).expect("parses"),
            regions(56 * 1024, 8 * 1024, 20 * 1024)
        );
        assert_eq!(
            Regions::parse(&large).expect("parses"),
            regions(120 * 1024, 8 * 1024, 20 * 1024)
        );
        let rs256 = std::fs::read_to_string(root.join("memory-rs256.x")).expect("memory-rs256.x");
        assert_eq!(
            Regions::parse(&rs256).expect("parses"),
            regions(504 * 1024, 8 * 1024, 64 * 1024)
        );
        assert!(Regions::parse("MEMORY { }").is_err());
        assert!(Regions::parse("  FLASH : ORIGIN = 0, LENGTH = lots").is_err());
    }

    #[test]
    fn finds_the_firmware_build_script_out_dir() {
        let messages = concat!(
            r#"{"reason":"build-script-executed","package_id":"path+file:///w/core#latchkey-core@0.1.0","out_dir":"/t/core/out"}"#,
            "\n",
            r#"{"reason":"build-script-executed","package_id":"path+file:///w/firmware#latchkey-firmware@0.1.0","linked_libs":[],"out_dir":"/t/fw/out"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        assert_eq!(firmware_out_dir(messages), Some(PathBuf::from("/t/fw/out")));
        assert_eq!(firmware_out_dir("{}"), None);
    }

    #[test]
    fn rejects_garbage_and_truncation_without_panicking() {
        assert!(sections(b"").is_err());
        assert!(sections(b"MZ\x90\x00 not an elf").is_err());
        let elf = tiny_elf32();
        for cut in [5, 40, 60, elf.len() - 1] {
            assert!(sections(&elf[..cut]).is_err(), "cut at {cut}");
        }
    }
}
