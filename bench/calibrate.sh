#!/usr/bin/env bash
# Calibrates bench/run.sh's ratio on this machine: how the end-to-end
# ratio of bare actix-web *itself* falls when each request does some work.
#
#   bench/calibrate.sh
#   WORK_NS="0 1000 3000" PAIRS=3 DURATION=5 bench/calibrate.sh
#
# For each amount of work W (nanoseconds of busy work per request, the
# bare server's BARE_WORK_NS), it alternates the bare server doing W (A)
# with the bare server doing none (B), PAIRS times, under the same wrk
# load as run.sh (one thread, 32 connections, loopback, plaintext text
# pushes), and prints each run, the median ratio A/B and each side's CPU
# per request. A server whose requests cost W more than bare actix-web's
# can reach no better ratio than the curve's at W: where wrk and the
# server share the cores, the curve says what run.sh's targets ask of the
# service's own work per push.
#
# Needs wrk and a Rust toolchain (see run.sh). Settings (environment):
# WORK_NS ("0 500 1000 2000 4000 8000"), PAIRS (3), DURATION seconds (5),
# CONNECTIONS (32), THREADS (1), PORT_A (18082), PORT_B (18083).
set -euo pipefail

WORK_NS=${WORK_NS:-0 500 1000 2000 4000 8000}
PAIRS=${PAIRS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
PORT_A=${PORT_A:-18082}
PORT_B=${PORT_B:-18083}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

require_tools wrk cargo

echo "== building (release): the bare server and the request generator"
(cd "$root" && cargo build --release -p wechat-events-bench --bins)
target=$(target_dir "$root")
BARE=$target/release/bare-actix
LOADGEN=$target/release/wechat-loadgen

with_server_workdir wechat-calibrate
print_setup
# The bare server checks nothing: one file of requests, sent round and round.
WECHAT_TOKEN=${WECHAT_TOKEN:-devtoken} "$LOADGEN" --kind text --count 200000 --out "$work/requests"

# run PORT WORK_NS: starts the bare server doing WORK_NS per request, loads
# it, stops it; prints "REQUESTS_PER_S CPU_US_PER_REQUEST".
run() {
    local port=$1 ns=$2 out before after
    BARE_WORK_NS=$ns WECHAT_ADDR="127.0.0.1:$port" "$BARE" >/dev/null 2>&1 &
    server_pid=$!
    wait_for_port "$port"
    before=$(cpu_ticks "$server_pid")
    out=$(WECHAT_REQUESTS="$work/requests" WECHAT_REQUESTS_WRAP=1 wrk -t"$THREADS" -c"$CONNECTIONS" \
        -d"${DURATION}s" -s "$here/requests.lua" "http://127.0.0.1:$port/wechat")
    after=$(cpu_ticks "$server_pid")
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    if wrk_failed "$out"; then
        echo "FAILED: wrk saw errors:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$(sed -n 's/^Requests\/sec:\s*//p' <<<"$out") $(cpu_per_request $((after - before)) "$(wrk_requests "$out")")"
}

summary=()
for ns in $WORK_NS; do
    echo
    echo "== bare with ${ns} ns of work per request (A) vs bare (B), alternating"
    ratios=()
    for pair in $(seq "$PAIRS"); do
        read -r a a_cpu < <(run "$PORT_A" "$ns")
        read -r b b_cpu < <(run "$PORT_B" 0)
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
        ratios+=("$ratio")
        printf 'pair %s: A %.0f req/s (%s µs CPU/req)  B %.0f req/s (%s µs CPU/req)  ratio %s\n' \
            "$pair" "$a" "$a_cpu" "$b" "$b_cpu" "$ratio"
    done
    result=$(printf '%6s ns of work per request: median ratio %s' "$ns" "$(printf '%s\n' "${ratios[@]}" | median)")
    echo "$result"
    summary+=("$result")
done

echo
echo "== summary (bare actix-web with work added, against itself without)"
printf '%s\n' "${summary[@]}"
