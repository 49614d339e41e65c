#!/usr/bin/env bash
# Compares two quickstart builds end to end, alternating them (A B A B ...)
# under wrk, each run on fresh requests: requests/s and the server's CPU
# time per request (user + system, from /proc). For before/after figures
# of a change; bench/run.sh compares the quickstart with bare actix-web.
#
#   bench/ab.sh OLD_QUICKSTART NEW_QUICKSTART
#   MODE=secure PAIRS=3 bench/ab.sh OLD NEW
#
# Build each side with `cargo build --release --example quickstart` and copy
# the binary aside. Needs wrk and the request generator
# (`cargo build --release -p wechat-events-bench --bins`). Settings: MODE
# (plain | secure), PAIRS (4), DURATION seconds (8), PORT (18095).
set -euo pipefail
old=$1 new=$2
MODE=${MODE:-plain} PAIRS=${PAIRS:-4} DURATION=${DURATION:-8} PORT=${PORT:-18095}
root=$(cd "$(dirname "$0")/.." && pwd)
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
LOADGEN=$target/release/wechat-loadgen
export WECHAT_TOKEN=${WECHAT_TOKEN:-devtoken}
keys=(WECHAT_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG WECHAT_APPID=wxb11529c136998cb6)
secure=() server_env=()
if [[ $MODE == secure ]]; then secure=(--secure); server_env=("${keys[@]}"); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/wechat-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)
for pair in $(seq "$PAIRS"); do
    for which in old new; do
        bin=$old
        if [[ $which == new ]]; then bin=$new; fi
        env "${keys[@]}" "$LOADGEN" --kind text --count $((70000 * (DURATION + 1))) "${secure[@]}" --out "$work/requests"
        env WECHAT_ADDR="127.0.0.1:$PORT" "${server_env[@]}" "$bin" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
        before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
        out=$(WECHAT_REQUESTS="$work/requests" wrk -t1 -c32 -d"${DURATION}s" -s "$root/bench/requests.lua" "http://127.0.0.1:$PORT/wechat")
        after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
            echo "FAILED: wrk saw errors against $bin" >&2
            echo "$out" >&2
            exit 1
        fi
        n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
        printf 'pair %s %s: %s req/s, %s µs CPU per request\n' "$pair" "$which" \
            "$(sed -n 's/^Requests\/sec:\s*//p' <<<"$out")" \
            "$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
    done
done
