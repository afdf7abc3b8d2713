#!/usr/bin/env bash
# Wall clock per full verification: runs `cargo bench -p latchkey-core --bench verify`
# (criterion: 1 s warm-up, 3 s measurement, 100 samples per case) and prints the
# medians as a Markdown table with the ratios measured in the same run.
#
#   core/benches/wallclock.sh          (from anywhere)
#
# The medians come from target/criterion/<token>/<impl>/new/estimates.json. The load
# average before and after the run is printed too: on a shared machine the absolute
# times move with it, the same-run ratios much less.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
cargo bench --quiet -p latchkey-core --bench verify --no-run
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --quiet -p latchkey-core --bench verify >/dev/null 2>&1
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
median() { jq '.median.point_estimate' "target/criterion/$1/new/estimates.json"; }
echo
echo "| token | latchkey-core | jsonwebtoken | HMAC floor | jsonwebtoken / latchkey | latchkey / floor |"
echo "|---|---:|---:|---:|---:|---:|"
for tok in short typical large; do
    awk -v t="$tok" -v lk="$(median "$tok/latchkey")" -v jw="$(median "$tok/jsonwebtoken")" \
        -v fl="$(median "$tok/hmac-floor")" 'BEGIN {
        printf "| %s | %.0f ns | %.0f ns | %.0f ns | %.2fx | %.2fx |\n", t, lk, jw, fl, jw / lk, lk / fl }'
done
echo
echo "system clock read (SystemTime::now, done inside jsonwebtoken::decode): $(median system-clock | xargs printf '%.0f') ns"
