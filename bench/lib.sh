# Helpers shared by the load scripts in bench/ (sourced, not run).

# target_dir ROOT: the workspace's cargo target directory.
target_dir() {
    (cd "$1" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
}

# wait_for_port PORT: returns once something accepts on 127.0.0.1:PORT;
# fails after 10 s.
wait_for_port() {
    local port=$1
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port after 10 s" >&2
    return 1
}

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# cpu_per_request TICKS REQUESTS: microseconds of CPU per request.
cpu_per_request() {
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN { printf "%.1f\n", t / hz * 1e6 / n }'
}

# wrk_requests WRK_OUTPUT: how many requests the run completed.
wrk_requests() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$1"; }

# wrk_failed WRK_OUTPUT: true when wrk saw a non-2xx answer or a socket error.
wrk_failed() { grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$1"; }

# require_tools TOOL...: fails, naming the first missing one (with how to
# install wrk).
require_tools() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            case $tool in
                wrk) echo "wrk is not installed: sudo apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)" >&2 ;;
                *) echo "$tool is not installed" >&2 ;;
            esac
            exit 1
        fi
    done
}

# median: the median of the numbers on standard input, one per line.
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# with_server_workdir NAME: makes $work, a temporary directory, and on exit
# stops the server in $server_pid (when set) and removes $work.
with_server_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    server_pid=
    trap 'if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
}

# print_setup: the machine and the wrk settings (THREADS, CONNECTIONS,
# DURATION, PAIRS) a load script runs with.
print_setup() {
    echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "wrk: $THREADS thread(s), $CONNECTIONS connections, ${DURATION}s per run, $PAIRS pairs"
}
