#!/usr/bin/env bash
# Where one verification's instructions go on the emulated Cortex-M3: runs a probe
# ELF built by footprint/measure.sh under QEMU with one log line per executed
# instruction (each line names the symbol of its PC) and counts, per function, the
# instructions executed between mark_verify_start and mark_verify_end (REGION=key:
# between mark_key_start and mark_key_end, building the key). Inlined code counts
# under the function it was inlined into.
#
#   footprint/profile.sh [profile] [backend] [top] [alg]   (defaults: firmware compact 25 hs256)
#   e.g. footprint/profile.sh firmware-small compact 25 eddsa
#        REGION=key footprint/profile.sh firmware compact 25 rs256
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${1:-firmware}"
BACKEND="${2:-compact}"
TOP="${3:-25}"
ALG="${4:-hs256}"
REGION="${REGION:-verify}"
ELF="$ROOT/target/footprint/$BACKEND/$PROFILE.$ALG.measure.elf"
[ -f "$ELF" ] || { echo "no $ELF: run footprint/measure.sh first" >&2; exit 1; }
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
cargo build --quiet -p latchkey-harness --bin latchkey-qemu
timeout 120 "$ROOT/target/debug/latchkey-qemu" --null-serial "$ELF" \
    -singlestep -d exec,nochain -D "$LOG" >/dev/null
awk -v a="mark_${REGION}_start" -v b="mark_${REGION}_end" \
    'index($0, a) && !on { on = 1 } index($0, b) && on { exit }
     on { n[$NF]++; total++ }
     END { for (f in n) printf "%7d %5.1f%% %s\n", n[f], 100 * n[f] / total, f; printf "%7d 100.0%% TOTAL\n", total }' "$LOG" |
    sort -rn | llvm-cxxfilt | sed -E -e 's/::h[0-9a-f]{16}$//' \
        -e 's/\$LT\$/</g; s/\$GT\$/>/g; s/\$u20\$/ /g; s/\$u5b\$/[/g; s/\$u5d\$/]/g' \
        -e 's/\$C\$/,/g; s/\$u7b\$/{/g; s/\$u7d\$/}/g; s/\$RF\$/\&/g; s/\.\./::/g; s/^( *[0-9]+ +[0-9.]+% )_</\1</' | head -n "$((TOP + 1))"
