#!/usr/bin/env bash
# Instructions per verification under callgrind, for latchkey-core, jsonwebtoken and
# the pre-keyed HMAC-SHA256 floor on the short, typical and large benchmark tokens.
#
#   core/benches/callgrind.sh [iterations]     (default 1000; run from anywhere)
#   BREAKDOWN=1 core/benches/callgrind.sh      (also: latchkey per-function self cost)
#
# Prints a Markdown table (instructions per call = collected Ir / iterations) and
# leaves the raw profiles in target/callgrind/ for callgrind_annotate. Note:
# valgrind does not implement SHA-NI, so sha2 takes its portable software path
# here (on real hardware with SHA-NI the hash is much cheaper; see BENCHMARKS.md).
set -euo pipefail
N="${1:-1000}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
cargo build --quiet --release -p latchkey-core --example callgrind
BIN="$ROOT/target/release/examples/callgrind"
OUT="$ROOT/target/callgrind"
mkdir -p "$OUT"

count() { # impl token -> instructions per call
    local impl="$1" tok="$2" file="$OUT/$1.$2.out"
    timeout 300 valgrind --tool=callgrind --callgrind-out-file="$file" \
        --toggle-collect="*measure_${impl}*" "$BIN" "$impl" "$tok" "$N" >/dev/null 2>&1
    awk -v n="$N" '/^totals:/ { printf "%.0f", $2 / n }' "$file"
}

echo "| token | bytes | latchkey-core | jsonwebtoken | HMAC floor | latchkey / floor | jsonwebtoken / latchkey |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for tok in short typical large; do
    bytes=$("$BIN" floor "$tok" 1 | awk '{ print $3 }')
    lk=$(count latchkey "$tok")
    jw=$(count jsonwebtoken "$tok")
    fl=$(count floor "$tok")
    awk -v t="$tok" -v b="$bytes" -v lk="$lk" -v jw="$jw" -v fl="$fl" 'BEGIN {
        printf "| %s | %d | %d | %d | %d | %.2fx | %.2fx |\n", t, b, lk, jw, fl, lk / fl, jw / lk }'
done

# Where latchkey-core's instructions go on the typical token: self cost per function
# (callgrind_annotate splits a function by the source file of inlined code; summed
# back here), per verification.
if [ "${BREAKDOWN:-0}" = 1 ]; then
    echo
    echo "latchkey-core, typical token, self instructions per verification by function:"
    callgrind_annotate --auto=no --inclusive=no --threshold=100 "$OUT/latchkey.typical.out" |
        awk -v n="$N" '/^ *[0-9,]+ \(/ && /:/ {
            c = $1; gsub(",", "", c); line = $0
            sub(/^ *[0-9,]+ \([ 0-9.%]+\) +/, "", line); sub(/ \[.*\]$/, "", line)
            agg[substr(line, index(line, ":") + 1)] += c }
            END { for (f in agg) if (agg[f] / n >= 50) printf "%8.0f  %s\n", agg[f] / n, f }' |
        sort -rn
fi
