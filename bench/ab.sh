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
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
target=$(target_dir "$root")
LOADGEN=$target/release/wechat-loadgen
export WECHAT_TOKEN=${WECHAT_TOKEN:-devtoken}
keys=(WECHAT_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG WECHAT_APPID=wxb11529c136998cb6)
secure=() server_env=()
if [[ $MODE == secure ]]; then secure=(--secure); server_env=("${keys[@]}"); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/wechat-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
for pair in $(seq "$PAIRS"); do
    for which in old new; do
        bin=$old
        if [[ $which == new ]]; then bin=$new; fi
        env "${keys[@]}" "$LOADGEN" --kind text --count $((100000 * (DURATION + 1))) "${secure[@]}" --out "$work/requests"
        env WECHAT_ADDR="127.0.0.1:$PORT" "${server_env[@]}" "$bin" >/dev/null 2>&1 &
        pid=$!
        wait_for_port "$PORT"
        before=$(cpu_ticks "$pid")
        out=$(WECHAT_REQUESTS="$work/requests" wrk -t1 -c32 -d"${DURATION}s" -s "$root/bench/requests.lua" "http://127.0.0.1:$PORT/wechat")
        after=$(cpu_ticks "$pid")
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        if wrk_failed "$out"; then
            echo "FAILED: wrk saw errors against $bin" >&2
            echo "$out" >&2
            exit 1
        fi
        printf 'pair %s %s: %s req/s, %s µs CPU per request\n' "$pair" "$which" \
            "$(sed -n 's/^Requests\/sec:\s*//p' <<<"$out")" \
            "$(cpu_per_request $((after - before)) "$(wrk_requests "$out")")"
    done
done
