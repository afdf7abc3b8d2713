#!/usr/bin/env bash
# Footprint of latchkey-core on the Cortex-M3 (thumbv7m-none-eabi, QEMU mps2-an385).
#
#   footprint/measure.sh          (from anywhere; needs qemu-system-arm, llvm-size, llvm-nm)
#   ALGS="eddsa rs256" BACKENDS=compact footprint/measure.sh     (a subset)
#
# Builds latchkey-footprint for each algorithm (hs256: no feature; eddsa, rs256, es256:
# the features alg-eddsa, alg-rs256 (2048-bit key), alg-es256) under the root profiles
# `firmware` (everything at opt-level "z", latchkey-core at 3, fat LTO) and
# `firmware-small` (all "z"), with `--cfg sha2_backend_soft="compact"` (the firmware's
# SHA-2 backend); HS256 also with sha2's default (unrolled) backend. One Markdown row each:
#   flash   = .vector_table + .text + .rodata + .data (what is programmed) of the
#             plain build, which only builds the key, verifies and exits (status 0:
#             verified); "over HS256" = minus the HS256 probe of the same profile and
#             backend
#   RAM     = .data + .bss + .uninit (static RAM; the rest of RAM is stack)
#   stack   = peak stack of one Verifier::verify call (stack painted, then scanned;
#             reported over semihosting by the build with --features measure)
#   verify instructions = guest instructions QEMU executes between the marker
#             functions (-singlestep -d exec,nochain: one log line per instruction)
#             around the full verification (the --features measure build; its
#             measurement code runs outside the markers)
#   key instr / key stack = the same for building the Key and the Verifier, which
#             the probe does once before the verification (RSA: the Montgomery
#             parameters; EdDSA: decompressing and checking the point; ES256: the
#             on-curve check)
#   verify / HMAC = (HS256 only) the verification over a bare pre-keyed HMAC-SHA256
#             of the same signing input, run between markers of its own
# Heap: the probe links no allocator; the script checks that no `__rust_alloc` exists.
#
# Builds go to target/footprint/<backend>/ so their RUSTFLAGS (which replace the
# workspace's thumbv7m rustflags, including -Tdefmt.x) never force rebuilds of the
# firmware's artifacts in target/. ELFs: target/footprint/<backend>/<profile>.<alg>[.measure].elf
# (footprint/profile.sh reads the measure ones).
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

ALGS="${ALGS:-hs256 eddsa rs256 es256}"
BACKENDS="${BACKENDS:-compact unrolled}"

echo "| algorithm | profile | sha2 backend | flash B | over HS256 B | .text | .rodata | static RAM B | stack B (one verify) | verify instr | key instr | key stack B | verify / HMAC |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for backend in $BACKENDS; do
    flags="-C link-arg=-Tlink.x"
    if [ "$backend" = compact ]; then
        flags="$flags --cfg sha2_backend_soft=\"compact\""
    fi
    dir="$WORK/$backend"
    for alg in $ALGS; do
        # The unrolled backend is the HS256 probe's second build only.
        if [ "$backend" != compact ] && [ "$alg" != hs256 ]; then
            continue
        fi
        features=""
        if [ "$alg" != hs256 ]; then
            features="alg-$alg"
        fi
        for profile in firmware firmware-small; do
            elf="$dir/$TARGET/$profile/latchkey-footprint"
            RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" cargo build --quiet -p latchkey-footprint \
                --target "$TARGET" --profile "$profile" --features "$features"
            cp "$elf" "$dir/$profile.$alg.elf"
            RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" cargo build --quiet -p latchkey-footprint \
                --target "$TARGET" --profile "$profile" --features "measure $features"
            cp "$elf" "$dir/$profile.$alg.measure.elf"

            plain="$dir/$profile.$alg.elf"
            if llvm-nm "$plain" | grep -q __rust_alloc; then
                echo "error: $plain links an allocator" >&2
                exit 1
            fi
            read -r vt text rodata data bss uninit < <(llvm-size -A "$plain" | awk '
                $1 == ".vector_table" { vt = $2 } $1 == ".text" { t = $2 } $1 == ".rodata" { r = $2 }
                $1 == ".data" { d = $2 } $1 == ".bss" { b = $2 } $1 == ".uninit" { u = $2 }
                END { print vt + 0, t + 0, r + 0, d + 0, b + 0, u + 0 }')
            flash=$((vt + text + rodata + data))
            if [ "$alg" = hs256 ]; then
                declare "base_${backend}_${profile//-/_}=$flash"
            fi
            base_var="base_${backend}_${profile//-/_}"
            base="${!base_var:-}"
            qemu "$plain" || { echo "error: $plain did not verify (exit status $?)" >&2; exit 1; }
            out="$(qemu "$dir/$profile.$alg.measure.elf")"
            echo "$out" | grep -q "^verified: 1$" || { echo "error: the measure build did not verify: $out" >&2; exit 1; }
            stack="$(echo "$out" | awk -F': ' '/one verification/ { print $2 }')"
            kstack="$(echo "$out" | awk -F': ' '/building the key/ { print $2 }')"

            log="$dir/$profile.$alg.exec.log"
            qemu "$dir/$profile.$alg.measure.elf" -singlestep -d exec,nochain -D "$log" >/dev/null
            v="$(between "$log" mark_verify_start mark_verify_end)"
            k="$(between "$log" mark_key_start mark_key_end)"
            h="$(between "$log" mark_hmac_start mark_hmac_end)"
            rm -f "$log"
            awk -v a="$alg" -v p="$profile" -v be="$backend" -v f="$flash" -v base="$base" -v t="$text" \
                -v r="$rodata" -v d="$data" -v b="$bss" -v u="$uninit" -v s="$stack" -v v="$v" \
                -v k="$k" -v ks="$kstack" -v h="$h" 'BEGIN {
                over = (base == "") ? "n/a" : (a == "hs256" ? "0" : sprintf("%d", f - base))
                ratio = (a == "hs256") ? sprintf("%.2fx", v / h) : "-"
                printf "| %s | %s | %s | %d | %s | %d | %d | %d | %d | %d | %d | %d | %s |\n",
                    toupper(a), p, be, f, over, t, r, d + b + u, s, v, k, ks, ratio }'
        done
    done
done
