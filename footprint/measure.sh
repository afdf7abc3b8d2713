#!/usr/bin/env bash
# Footprint of latchkey-core on the Cortex-M3 (thumbv7m-none-eabi, QEMU mps2-an385).
#
#   footprint/measure.sh          (from anywhere; needs qemu-system-arm, llvm-size, llvm-nm)
#
# Builds latchkey-footprint under the root profiles `firmware` (everything at
# opt-level "z", latchkey-core at 3, fat LTO) and `firmware-small` (all "z"), each
# with sha2's default (unrolled) software backend and with
# `--cfg sha2_backend_soft="compact"`, and prints one Markdown table row each:
#   flash   = .vector_table + .text + .rodata + .data (what is programmed) of the
#             plain build, which only verifies and exits (status 0: verified)
#   RAM     = .data + .bss + .uninit (static RAM; the rest of RAM is stack)
#   stack   = peak stack of one Verifier::verify call (stack painted, then scanned;
#             reported over semihosting by the build with --features measure)
#   verify / HMAC instructions = guest instructions QEMU executes between the marker
#             functions (-singlestep -d exec,nochain: one log line per instruction),
#             for the full verification and for a bare pre-keyed HMAC-SHA256 over the
#             same signing input (the --features measure build; its measurement
#             code runs outside the markers)
# Heap: the probe links no allocator; the script checks that no `__rust_alloc` exists.
#
# Builds go to target/footprint/<backend>/ so their RUSTFLAGS (which replace the
# workspace's thumbv7m rustflags, including -Tdefmt.x) never force rebuilds of the
# firmware's artifacts in target/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET=thumbv7m-none-eabi
WORK="$ROOT/target/footprint"
mkdir -p "$WORK"

# The project's one QEMU command line (tests/harness/src/qemu.rs), through its program.
cargo build --quiet -p latchkey-harness --bin latchkey-qemu
QEMU="$ROOT/target/debug/latchkey-qemu"
qemu() { # elf [extra qemu args...]
    local elf="$1"
    shift
    timeout 120 "$QEMU" --null-serial "$elf" "$@"
}

between() { # log start-symbol end-symbol -> instructions from start marker to end marker
    awk -v a="$2" -v b="$3" 'index($0, a) && !s { s = NR } index($0, b) && s && !e { e = NR }
        END { if (s && e) print e - s; else print "n/a" }' "$1"
}

echo "| profile | sha2 backend | flash B | .text | .rodata | static RAM B | stack B (one verify) | verify instr | bare HMAC instr | verify / HMAC |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for backend in unrolled compact; do
    flags="-C link-arg=-Tlink.x"
    if [ "$backend" = compact ]; then
        flags="$flags --cfg sha2_backend_soft=\"compact\""
    fi
    dir="$WORK/$backend"
    for profile in firmware firmware-small; do
        elf="$dir/$TARGET/$profile/latchkey-footprint"
        RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" cargo build --quiet -p latchkey-footprint \
            --target "$TARGET" --profile "$profile"
        cp "$elf" "$dir/$profile.elf"
        RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" cargo build --quiet -p latchkey-footprint \
            --target "$TARGET" --profile "$profile" --features measure
        cp "$elf" "$dir/$profile.measure.elf"

        plain="$dir/$profile.elf"
        if llvm-nm "$plain" | grep -q __rust_alloc; then
            echo "error: $plain links an allocator" >&2
            exit 1
        fi
        read -r vt text rodata data bss uninit < <(llvm-size -A "$plain" | awk '
            $1 == ".vector_table" { vt = $2 } $1 == ".text" { t = $2 } $1 == ".rodata" { r = $2 }
            $1 == ".data" { d = $2 } $1 == ".bss" { b = $2 } $1 == ".uninit" { u = $2 }
            END { print vt + 0, t + 0, r + 0, d + 0, b + 0, u + 0 }')
        qemu "$plain" || { echo "error: $plain did not verify (exit status $?)" >&2; exit 1; }
        out="$(qemu "$dir/$profile.measure.elf")"
        echo "$out" | grep -q "^verified: 1$" || { echo "error: the measure build did not verify: $out" >&2; exit 1; }
        stack="$(echo "$out" | awk -F': ' '/one verification/ { print $2 }')"

        log="$dir/$profile.exec.log"
        qemu "$dir/$profile.measure.elf" -singlestep -d exec,nochain -D "$log" >/dev/null
        v="$(between "$log" mark_verify_start mark_verify_end)"
        h="$(between "$log" mark_hmac_start mark_hmac_end)"
        rm -f "$log"
        awk -v p="$profile" -v be="$backend" -v vt="$vt" -v t="$text" -v r="$rodata" -v d="$data" \
            -v b="$bss" -v u="$uninit" -v s="$stack" -v v="$v" -v h="$h" 'BEGIN {
            printf "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %.2fx |\n",
                p, be, vt + t + r + d, t, r, d + b + u, s, v, h, v / h }'
    done
done
