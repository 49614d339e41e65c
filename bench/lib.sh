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
