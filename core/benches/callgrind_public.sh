#!/usr/bin/env bash
# Instructions per public-key JWT verification under callgrind: latchkey-core's
# Verifier on a whole RS256, PS256, ES256 or EdDSA token, latchkey-core's own leaf
# primitive (alg::rsa / alg::ecdsa / alg::eddsa) on its 285-byte signing input,
# jsonwebtoken 12 (rust_crypto) on the same token, and the raw primitive (rsa /
# p256 / ed25519-dalek verify_strict) on the signing input, each key built once
# (see core/examples/callgrind_public.rs). "token layer" is Verifier - leaf: what
# splitting, decoding and checking the header and claims add to the signature.
#
#   core/benches/callgrind_public.sh [iterations]     (default 100; run from anywhere)
#
# Prints a Markdown table (instructions per call = collected Ir / iterations) and
# leaves the raw profiles in target/callgrind/ for callgrind_annotate. As in
# callgrind.sh, sha2 takes its portable software path under valgrind (no SHA-NI).
set -euo pipefail
N="${1:-100}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
cargo build --quiet --release -p latchkey-core --features rsa,es256,eddsa --example callgrind_public
BIN="$ROOT/target/release/examples/callgrind_public"
OUT="$ROOT/target/callgrind"
mkdir -p "$OUT"

count() { # impl alg -> instructions per call
    local impl="$1" alg="$2" file="$OUT/public.$1.$2.out"
    timeout 900 valgrind --tool=callgrind --callgrind-out-file="$file" \
        --toggle-collect="*measure_${impl}*" "$BIN" "$impl" "$alg" "$N" >/dev/null 2>&1
    awk -v n="$N" '/^totals:/ { printf "%.0f", $2 / n }' "$file"
}

echo "| alg | signing input B | latchkey Verifier | latchkey leaf | token layer | jsonwebtoken | raw primitive | latchkey / raw | jsonwebtoken / raw |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for alg in rs256 ps256 es256 eddsa; do
    bytes=$("$BIN" raw "$alg" 1 | awk '{ print $3 }')
    lk=$(count latchkey "$alg")
    leaf=$(count leaf "$alg")
    jw=$(count jsonwebtoken "$alg")
    raw=$(count raw "$alg")
    awk -v a="$alg" -v b="$bytes" -v lk="$lk" -v lf="$leaf" -v jw="$jw" -v r="$raw" 'BEGIN {
        printf "| %s | %d | %d | %d | %d | %d | %d | %.3fx | %.3fx |\n", toupper(a), b, lk, lf, lk - lf, jw, r, lk / r, jw / r }'
done
