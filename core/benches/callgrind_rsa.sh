#!/usr/bin/env bash
# Instructions per RSA-2048 verification under callgrind: latchkey-core's alg::rsa
# against the raw `rsa` crate, each with its key built once, on the same 285-byte
# signing input and signature (see core/examples/callgrind_rsa.rs).
#
#   core/benches/callgrind_rsa.sh [iterations]     (default 200; run from anywhere)
#
# Prints a Markdown table (instructions per call = collected Ir / iterations) and
# leaves the raw profiles in target/callgrind/ for callgrind_annotate. As in
# callgrind.sh, sha2 takes its portable software path under valgrind (no SHA-NI).
set -euo pipefail
N="${1:-200}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
cargo build --quiet --release -p latchkey-core --features rsa --example callgrind_rsa
BIN="$ROOT/target/release/examples/callgrind_rsa"
OUT="$ROOT/target/callgrind"
mkdir -p "$OUT"

count() { # impl alg -> instructions per call
    local impl="$1" alg="$2" file="$OUT/rsa.$1.$2.out"
    timeout 600 valgrind --tool=callgrind --callgrind-out-file="$file" \
        --toggle-collect="*measure_${impl}*" "$BIN" "$impl" "$alg" "$N" >/dev/null 2>&1
    awk -v n="$N" '/^totals:/ { printf "%.0f", $2 / n }' "$file"
}

echo "| alg | signing input B | latchkey-core | rsa crate | latchkey / rsa |"
echo "|---|---:|---:|---:|---:|"
for alg in rs256 ps256; do
    bytes=$("$BIN" latchkey "$alg" 1 | awk '{ print $3 }')
    lk=$(count latchkey "$alg")
    peer=$(count rsa "$alg")
    awk -v a="$alg" -v b="$bytes" -v lk="$lk" -v p="$peer" 'BEGIN {
        printf "| %s | %d | %d | %d | %.3fx |\n", toupper(a), b, lk, p, lk / p }'
done
