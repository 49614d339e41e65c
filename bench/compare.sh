#!/usr/bin/env bash
# Compares two builds of a criterion bench binary figure by figure,
# alternating them (old, new, old, new, ...) so that a busy machine slows
# both alike; prints each figure's median over ROUNDS runs and the ratio.
#
#   bench/compare.sh OLD_BINARY NEW_BINARY [FILTER_REGEX]
#
# The binaries are criterion benches built with `cargo bench --no-run`
# (target/release/deps/per_message-*); copy the old one aside before
# rebuilding. ROUNDS (default 3) and SECONDS_PER_RUN (default 1).
set -euo pipefail
old=$1 new=$2 filter=${3:-.}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-1}

names=$("$new" --bench --list 2>/dev/null | sed -n 's/: benchmark$//p' | grep -E -- "$filter")
estimate() { # binary name -> point estimate in ns
    "$1" --bench --noplot --warm-up-time 0.5 --measurement-time "$secs" "^$(sed 's/[+.()]/\\&/g' <<<"$2")\$" 2>/dev/null |
        sed -n 's/.*time: *\[[^ ]* [^ ]* \([0-9.]*\) \([nµm]*s\).*/\1 \2/p' | head -1 |
        awk '{ v = $1; if ($2 == "µs") v *= 1000; else if ($2 == "ms") v *= 1e6; print v }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf '%-40s %12s %12s %7s\n' figure "old (ns)" "new (ns)" new/old
while IFS= read -r name; do
    olds=() news=()
    for _ in $(seq "$rounds"); do
        olds+=("$(estimate "$old" "$name")")
        news+=("$(estimate "$new" "$name")")
    done
    o=$(printf '%s\n' "${olds[@]}" | median)
    n=$(printf '%s\n' "${news[@]}" | median)
    printf '%-40s %12.1f %12.1f %7.2f\n' "$name" "$o" "$n" "$(awk -v o="$o" -v n="$n" 'BEGIN { print n / o }')"
done <<<"$names"
