#!/usr/bin/env bash
# End-to-end load test: the quickstart against a bare actix-web server.
#
#   bench/run.sh                 # everything: plain and secure, text echo and subscribe, then RSS
#   MODES=plain KINDS=text PAIRS=3 DURATION=5 bench/run.sh
#   RSS_SECONDS=0 bench/run.sh   # skip the RSS measurement
#
# For each mode (plain, secure) and push kind (text echo, subscribe) it runs
# the two servers alternately, quickstart then bare, PAIRS times, each run a
# fresh server process under wrk (one thread, 32 connections, loopback),
# and prints every run and the median of the per-pair ratios. Each run also
# reports the server's CPU time per request (user + system, from /proc),
# which depends less than requests/s on how the scheduler shares the cores
# between wrk and the server; its median ratio (bare / quickstart) is printed
# beside the throughput's. Every request
# the quickstart gets is unique: a fresh nonce (so a fresh signature) and a
# fresh MsgId (text) or user (subscribe), precomputed by `wechat-loadgen` just
# before each pair (timestamps stay valid for 300 s); the bare server, which
# checks nothing, is sent the same file, from the top again if it runs out. Any non-2xx answer or socket error fails
# the script. Finally it loads the quickstart for RSS_SECONDS (default 30) and
# reports its resident memory.
#
# Needs wrk (Debian/Ubuntu: `sudo apt-get install wrk`; macOS: `brew install
# wrk`), curl and a Rust toolchain. Settings (environment): PAIRS (5),
# DURATION seconds per run (10), CONNECTIONS (32), THREADS (1), MODES
# ("plain secure"), KINDS ("text subscribe"), MAX_RATE (100000: requests per
# second the quickstart's precomputed requests allow for), RSS_SECONDS (30), PORT_A (18080,
# quickstart), PORT_B (18081, bare), RUST_LOG (passed to the quickstart;
# unset = its default, info), CARGO_TARGET_DIR, TMPDIR.
set -euo pipefail

PAIRS=${PAIRS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
MODES=${MODES:-plain secure}
KINDS=${KINDS:-text subscribe}
MAX_RATE=${MAX_RATE:-100000}
RSS_SECONDS=${RSS_SECONDS:-30}
PORT_A=${PORT_A:-18080}
PORT_B=${PORT_B:-18081}

# The official sample's EncodingAESKey and AppID: any valid pair does.
export WECHAT_TOKEN=${WECHAT_TOKEN:-devtoken}
AES_KEY=${BENCH_AES_KEY:-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG}
APPID=${BENCH_APPID:-wxb11529c136998cb6}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

require_tools wrk curl cargo

echo "== building (release): the quickstart, the bare server and the request generator"
(cd "$root" && cargo build --release --example quickstart && cargo build --release -p wechat-events-bench --bins)
target=$(target_dir "$root")
QUICKSTART=$target/release/examples/quickstart
BARE=$target/release/bare-actix
LOADGEN=$target/release/wechat-loadgen

with_server_workdir wechat-bench
print_setup

# start_server quickstart|bare MODE: starts it in the background (server_pid).
start_server() {
    local which=$1 mode=$2
    if [[ $which == quickstart ]]; then
        local env=(WECHAT_ADDR="127.0.0.1:$PORT_A")
        if [[ $mode == secure ]]; then env+=(WECHAT_AES_KEY="$AES_KEY" WECHAT_APPID="$APPID"); fi
        env "${env[@]}" "$QUICKSTART" >"$work/server.out" 2>"$work/server.log" &
        server_pid=$!
        wait_for_port "$PORT_A"
    else
        WECHAT_ADDR="127.0.0.1:$PORT_B" "$BARE" >"$work/server.out" 2>"$work/server.log" &
        server_pid=$!
        wait_for_port "$PORT_B"
    fi
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# generate MODE KIND COUNT: the requests file and one check request.
generate() {
    local secure=()
    if [[ $1 == secure ]]; then secure=(--secure); fi
    WECHAT_AES_KEY=$AES_KEY WECHAT_APPID=$APPID \
        "$LOADGEN" --kind "$2" --count "$3" "${secure[@]}" \
        --out "$work/requests" --check "$work/check"
}

# check quickstart|bare PORT MODE KIND: one request through curl; the answer
# must be right (the bare server answers its constant).
check() {
    local which=$1 port=$2 mode=$3 kind=$4 uri body status
    IFS=$'\t' read -r uri body <"$work/check"
    status=$(curl -sS -o "$work/answer" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
        --data-binary "$body" "http://127.0.0.1:$port$uri")
    local want
    case $which/$mode/$kind in
        bare/*) want='收到:hi' ;;
        */secure/*) want='<Encrypt>' ;;
        */plain/text) want='收到:hi' ;;
        */plain/subscribe) want='欢迎关注' ;;
    esac
    if [[ $status != 200 ]] || ! grep -q "$want" "$work/answer"; then
        echo "sanity check failed on port $port ($mode $kind): status $status, answer:" >&2
        cat "$work/answer" >&2
        exit 1
    fi
}

# run_wrk PORT [wrap]: prints requests/s; fails loudly on any non-2xx or
# socket error. Leaves the server's CPU time per request (µs) in $work/cpu.
run_wrk() {
    local port=$1 wrap=${2:-0} out before after count
    before=$(cpu_ticks "$server_pid")
    out=$(WECHAT_REQUESTS="$work/requests" WECHAT_REQUESTS_WRAP=$wrap wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" \
        -s "$here/requests.lua" "http://127.0.0.1:$port/wechat")
    after=$(cpu_ticks "$server_pid")
    count=$(wrk_requests "$out")
    cpu_per_request $((after - before)) "$count" >"$work/cpu"
    echo "$out" >"$work/wrk.out"
    if wrk_failed "$out"; then
        echo "FAILED: wrk saw errors (a non-2xx answer means a refused or duplicated request, or an exhausted requests file: raise MAX_RATE):" >&2
        echo "$out" >&2
        echo "--- server log (last lines):" >&2
        tail -5 "$work/server.log" >&2
        exit 1
    fi
    sed -n 's/^Requests\/sec:\s*//p' <<<"$out"
}

count=$((MAX_RATE * (DURATION + 1)))
summary=()
for mode in $MODES; do
    for kind in $KINDS; do
        echo
        echo "== $mode mode, $kind: quickstart (A) vs bare actix-web (B), alternating"
        ratios=() as=() bs=() cpus=()
        for pair in $(seq "$PAIRS"); do
            line="pair $pair:"
            generate "$mode" "$kind" "$count"
            for which in quickstart bare; do
                start_server "$which" "$mode"
                port=$PORT_A wrap=0
                if [[ $which == bare ]]; then port=$PORT_B wrap=1; fi
                check "$which" "$port" "$mode" "$kind"
                rps=$(run_wrk "$port" "$wrap")
                cpu=$(cat "$work/cpu")
                stop_server
                if [[ $which == quickstart ]]; then a=$rps a_cpu=$cpu; as+=("$a"); else b=$rps b_cpu=$cpu; bs+=("$b"); fi
                line+=" $which $(printf '%.0f' "$rps") req/s (${cpu} µs CPU/req)"
            done
            ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
            ratios+=("$ratio")
            cpus+=("$(awk -v a="$a_cpu" -v b="$b_cpu" 'BEGIN { printf "%.3f", b / a }')")
            echo "$line  ratio $ratio"
        done
        ma=$(printf '%s\n' "${as[@]}" | median)
        mb=$(printf '%s\n' "${bs[@]}" | median)
        mr=$(printf '%s\n' "${ratios[@]}" | median)
        mc=$(printf '%s\n' "${cpus[@]}" | median)
        result=$(printf '%-6s %-9s quickstart median %6.0f req/s, bare median %6.0f req/s, median ratio %s (CPU per request, bare/quickstart: %s)' \
            "$mode" "$kind" "$ma" "$mb" "$mr" "$mc")
        echo "$result"
        summary+=("$result")
    done
done

if [[ $RSS_SECONDS -gt 0 ]]; then
    echo
    echo "== RSS: the quickstart (plain mode, text echo) after ${RSS_SECONDS}s at full load"
    count=$((MAX_RATE * (RSS_SECONDS + 1)))
    generate plain text "$count"
    start_server quickstart plain
    check quickstart "$PORT_A" plain text
    rss_start=$(sed -n 's/^VmRSS:\s*//p' "/proc/$server_pid/status")
    saved=$DURATION
    DURATION=$RSS_SECONDS
    (sleep $((RSS_SECONDS - 1)) && sed -n 's/^VmRSS:\s*//p' "/proc/$server_pid/status" >"$work/rss") &
    sampler=$!
    rps=$(run_wrk "$PORT_A")
    wait "$sampler"
    DURATION=$saved
    rss_end=$(cat "$work/rss")
    hwm=$(sed -n 's/^VmHWM:\s*//p' "/proc/$server_pid/status")
    stop_server
    result=$(printf 'RSS: %s at start, %s after %ss at %.0f req/s (peak %s)' \
        "$rss_start" "$rss_end" "$((RSS_SECONDS - 1))" "$rps" "$hwm")
    echo "$result"
    summary+=("$result")
fi

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
