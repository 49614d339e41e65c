#!/usr/bin/env bash
# Scale-out load test: three quickstarts sharing one Redis against one
# quickstart on its in-memory stores, in the same run, alternating.
#
#   bench/redis.sh
#   PAIRS=3 DURATION=10 REDIS_URL=redis://127.0.0.1:6379 bench/redis.sh
#
# Each pair runs (A) one quickstart (in-memory stores) under one wrk with 32
# connections, then (B) three quickstarts with WECHAT_REDIS_URL and a fresh
# WECHAT_REDIS_PREFIX, each under its own wrk with 11 connections, at the
# same time; it prints pushes/s of each and the ratio B / A. Every request
# is unique (a fresh nonce and MsgId, from `wechat-loadgen`, one file per
# wrk), so no push is a duplicate; any non-2xx answer fails the script.
# On one machine the instances share its cores: the ratio is what the
# shared stores cost per push, not what N machines would add.
#
# Needs wrk, redis-cli and a Redis at REDIS_URL. The keys written are
# deleted at the end of each pair. Settings: PAIRS (2), DURATION seconds
# (8), MAX_RATE (100000 requests/s the request files allow for),
# REDIS_URL, CARGO_TARGET_DIR, TMPDIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
PAIRS=${PAIRS:-2}
DURATION=${DURATION:-8}
MAX_RATE=${MAX_RATE:-100000}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export WECHAT_TOKEN=${WECHAT_TOKEN:-devtoken}
export RUST_LOG=${RUST_LOG:-warn}

require_tools wrk redis-cli cargo
redis-cli -u "$REDIS_URL" ping >/dev/null || { echo "no Redis at $REDIS_URL" >&2; exit 1; }

echo "== building (release): the quickstart and the request generator"
(cd "$root" && cargo build --release --example quickstart && cargo build --release -p wechat-events-bench --bins)
target=$(target_dir "$root")
QUICKSTART=$target/release/examples/quickstart
LOADGEN=$target/release/wechat-loadgen
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# start PORT [ENV...]: a quickstart listening on PORT.
start() {
    local port=$1
    shift
    env WECHAT_ADDR="127.0.0.1:$port" "$@" "$QUICKSTART" >"$work/qs-$port.out" 2>"$work/qs-$port.log" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "listening on" "$work/qs-$port.out" 2>/dev/null && return
        sleep 0.05
    done
    echo "the quickstart on port $port did not start:" >&2
    cat "$work/qs-$port.log" >&2
    exit 1
}

stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pids=()
}

# load PORT CONNECTIONS FILE: wrk's requests/s; fails on any error.
load() {
    local out
    out=$(WECHAT_REQUESTS="$3" WECHAT_REQUESTS_WRAP=0 wrk -t1 -c"$2" -d"${DURATION}s" \
        -s "$here/requests.lua" "http://127.0.0.1:$1/wechat")
    if wrk_failed "$out"; then
        echo "FAILED on port $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/Requests\/sec/ {print int($2)}' <<<"$out"
}

count=$((MAX_RATE * DURATION))
ratios=()
for pair in $(seq "$PAIRS"); do
    "$LOADGEN" --kind text --count "$count" --out "$work/a" >/dev/null
    start 18190
    a=$(load 18190 32 "$work/a")
    stop_all

    prefix="bench-$$-$pair"
    for i in 1 2 3; do
        "$LOADGEN" --kind text --count "$((count / 2))" --out "$work/b$i" >/dev/null
        start "$((18190 + i))" WECHAT_REDIS_URL="$REDIS_URL" WECHAT_REDIS_PREFIX="$prefix"
    done
    loads=()
    for i in 1 2 3; do
        load "$((18190 + i))" 11 "$work/b$i" >"$work/rps$i" &
        loads+=($!)
    done
    for pid in "${loads[@]}"; do
        wait "$pid" || { echo "a load run failed" >&2; exit 1; }
    done
    b=0
    for i in 1 2 3; do
        rps=$(cat "$work/rps$i")
        [[ -n $rps ]] || { echo "instance $i reported nothing" >&2; exit 1; }
        b=$((b + rps))
    done
    stop_all
    redis-cli -u "$REDIS_URL" --scan --pattern "*$prefix*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}')
    ratios+=("$ratio")
    echo "pair $pair: one instance in memory $a pushes/s; three on one Redis $b pushes/s ($(cat "$work/rps1") + $(cat "$work/rps2") + $(cat "$work/rps3")); ratio $ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "median ratio (three on Redis / one in memory): $median"
