#!/usr/bin/env bash
# Instructions per push with metrics on and off (issue 20), counted by
# valgrind's callgrind: repeatable whatever else the machine does. Each
# setting runs N and 2N pushes; (I(2N) - I(N)) / N is the cost of one.
#
#   bench/push-cost.sh [N]      (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
cargo build --release -p wechat-events-bench --bin push-cost >&2
bin=target/release/push-cost
count() { # pushes setting -> instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
declare -A per
for setting in off on; do
    one=$(count "$n" "$setting")
    two=$(count $((2 * n)) "$setting")
    per[$setting]=$(((two - one) / n))
    echo "metrics $setting: $((per[$setting])) instructions per push"
done
awk -v on="${per[on]}" -v off="${per[off]}" 'BEGIN { printf "on/off: %.3f (+%d instructions)\n", on / off, on - off }'
