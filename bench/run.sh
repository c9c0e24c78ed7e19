#!/usr/bin/env bash
# run.sh: echo benchmark, epoll-echo (reference) vs swx-server in one run; writes docs/benchmarks.md.
#
# Environment (all optional):
#   BUILD_DIR       meson build dir (default ./build; set up if missing)
#   BENCH_DURATION  measured seconds per configuration (default 8, loadgen caps at 60)
#   BENCH_WARMUP    warm-up seconds per configuration (default 2)
#   BENCH_SIZE      message size in bytes (default 64)
#   BENCH_THREADS   loadgen threads, 0 = one per CPU (default 1)
#   BENCH_CONFIGS   space-separated CONNECTIONS:PIPELINE pairs (default "50:1 50:16 1000:1")
#   BENCH_OUT       report path (default docs/benchmarks.md)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(realpath -m "${BUILD_DIR:-$ROOT/build}")
DURATION=${BENCH_DURATION:-8}
WARMUP=${BENCH_WARMUP:-2}
SIZE=${BENCH_SIZE:-64}
THREADS=${BENCH_THREADS:-1}
CONFIGS=${BENCH_CONFIGS:-"50:1 50:16 1000:1"}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/swx-bench.XXXXXX")
LOADGEN=$BUILD/bench/swx-loadgen
ECHO_REF=$BUILD/bench/epoll-echo
SWX=$BUILD/server/swx-server
PLUGIN=$BUILD/plugins/echo/libswx_echo.so
PIDS=()
SERVER_PID=
LINE=
LOAD_BEFORE=
BUSY_BEFORE=
SWX_NOTE=""
STATUS=0
declare -A RES

log() { echo "run.sh: $*" >&2; }

# Stops one server started by start_server: TERM, a grace period, then KILL
# for whatever is left in its process group (swx's workers included).
stop_server() {
    local pid=$1 _
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null; then
        log "process group $pid still alive after SIGTERM + 10 s; sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop_server "$pid"
    done
    PIDS=()
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The bench tools alone, with the system compiler, when meson cannot set up
# the tree (the server may be mid-change).
build_bench_only() {
    log "meson build unavailable; compiling the bench tools directly"
    mkdir -p "$TMP/bin"
    LOADGEN=$TMP/bin/swx-loadgen
    ECHO_REF=$TMP/bin/epoll-echo
    "${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -pthread \
        -o "$LOADGEN" "$ROOT/bench/loadgen.c"
    "${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$ECHO_REF" "$ROOT/bench/epoll_echo.c"
}

build() {
    if [ ! -f "$BUILD/build.ninja" ] && ! meson setup "$BUILD" "$ROOT" >"$TMP/setup.log" 2>&1; then
        tail -5 "$TMP/setup.log" >&2
        SWX_NOTE="the meson build could not be set up"
        build_bench_only
        return
    fi
    if ninja -C "$BUILD" >"$TMP/ninja.log" 2>&1; then
        return
    fi
    log "full build failed (tail of the log below); building only what the benchmark needs"
    tail -15 "$TMP/ninja.log" >&2
    ninja -C "$BUILD" bench/swx-loadgen bench/epoll-echo >&2 || build_bench_only
    # A stale swx-server from an older build must not be measured.
    if ! ninja -C "$BUILD" server/swx-server plugins/echo/libswx_echo.so >&2; then
        SWX_NOTE="swx-server or the echo plugin failed to build"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME CMD...: runs CMD in its own session (so its children
# can be found by process group); sets SERVER_PID.
start_server() {
    local name=$1
    shift
    setsid "$@" >"$TMP/$name.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
}

wait_port() {
    local port=$1 pid=$2 _
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# field LINE KEY: the value of KEY=VALUE in a loadgen result line.
field() {
    awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' <<<"$1"
}

# cpu_jiffies: "busy total" CPU ticks since boot, all CPUs; busy is user +
# nice + system, the part that per-process times also count.
cpu_jiffies() {
    awk 'NR == 1 { t = 0; for (i = 2; i <= NF; i++) t += $i; print $2 + $3 + $4, t }' /proc/stat
}

# own_jiffies PGID: CPU ticks of the server's process group plus this
# script's waited-for children (the load generator).
own_jiffies() {
    {
        cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$1" '{ sub(/^.*\) /, "") } $3 == g { t += $12 + $13 } END { print t + 0 }'
        awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"
    } | awk '{ t += $1 } END { print t }'
}

# other_cpu BEFORE AFTER OWN_BEFORE OWN_AFTER: percent of all CPU time that
# processes other than the benchmark's used meanwhile.
other_cpu() {
    awk -v a="$1" -v b="$2" -v oa="$3" -v ob="$4" 'BEGIN {
        split(a, x, ","); split(b, y, ",")
        other = (y[1] - x[1]) - (ob - oa); tot = y[2] - x[2]
        printf "%.0f", (tot > 0 && other > 0 ? 100 * other / tot : 0) }'
}

# loadgen PORT CONNS DEPTH DURATION WARMUP: sets LINE to the result line.
# Not in a subshell, so an interrupted load generator stops the script.
loadgen() {
    local port=$1 conns=$2 depth=$3 dur=$4 warm=$5 rc=0 c0 c1 o0 o1
    c0=$(cpu_jiffies | tr ' ' ,)
    o0=$(own_jiffies "$SERVER_PID")
    "$LOADGEN" -c "$conns" -p "$depth" -s "$SIZE" -d "$dur" -w "$warm" -t "$THREADS" \
        127.0.0.1 "$port" >"$TMP/loadgen.out" 2>>"$TMP/loadgen.err" || rc=$?
    if [ "$rc" -gt 128 ]; then
        log "load generator killed by signal $((rc - 128)); stopping"
        exit "$rc"
    fi
    c1=$(cpu_jiffies | tr ' ' ,)
    o1=$(own_jiffies "$SERVER_PID")
    LINE="$(tail -1 "$TMP/loadgen.out") other_cpu=$(other_cpu "$c0" "$c1" "$o0" "$o1")"
}

# A short run that must see echoes and no error before numbers mean anything.
echo_works() {
    loadgen "$1" 4 4 1 0
    log "echo check: $LINE"
    [ -n "$LINE" ] && [ "$(field "$LINE" errors)" = 0 ] && [ "$(field "$LINE" requests)" != 0 ]
}

# bench_server KEY PORT PID: every configuration against one server.
bench_server() {
    local key=$1 port=$2 pid=$3 cfg
    for cfg in $CONFIGS; do
        log "$key: ${cfg%%:*} connections, pipeline ${cfg##*:}"
        loadgen "$port" "${cfg%%:*}" "${cfg##*:}" "$DURATION" "$WARMUP"
        log "  $LINE"
        RES[$key,$cfg]=$LINE
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$key exited during the run"
            STATUS=1
            return
        fi
    done
}

run_reference() {
    local port pid
    port=$(free_port)
    start_server epoll-echo "$ECHO_REF" "$port"
    pid=$SERVER_PID
    wait_port "$port" "$pid" || { cat "$TMP/epoll-echo.log" >&2; log "epoll-echo did not start"; exit 1; }
    echo_works "$port" || { log "epoll-echo failed the echo check"; exit 1; }
    bench_server ref "$port" "$pid"
    stop_server "$pid"
    PIDS=()
}

# swx_config PLUGIN_PATH PORT: the benchmark's server configuration.
swx_config() {
    cat <<EOF
{ "server": { "reactor_num": 2, "worker_num": 2, "log_level": "warning" },
  "plugins": [ { "name": "echo", "path": "$1" } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $2, "plugin": "echo" } ] }
EOF
}

run_swx() {
    local port pid
    if [ -z "$SWX_NOTE" ] && { [ ! -x "$SWX" ] || [ ! -f "$PLUGIN" ]; }; then
        SWX_NOTE="swx-server or the echo plugin was not built"
    fi
    if [ -n "$SWX_NOTE" ]; then
        log "$SWX_NOTE; measuring the reference only"
        STATUS=1
        return
    fi
    port=$(free_port)
    swx_config "$PLUGIN" "$port" >"$TMP/swx.json"
    start_server swx "$SWX" --config "$TMP/swx.json"
    pid=$SERVER_PID
    if ! wait_port "$port" "$pid" || ! echo_works "$port"; then
        SWX_NOTE="swx-server did not start or failed the echo check"
        log "$SWX_NOTE; its log:"
        tail -20 "$TMP/swx.log" >&2
        STATUS=1
    else
        bench_server swx "$port" "$pid"
    fi
    stop_server "$pid"
    PIDS=()
    if grep -q -i -E 'error|fatal' "$TMP/swx.log"; then
        log "swx-server logged errors (first lines):"
        grep -m 5 -i -E 'error|fatal' "$TMP/swx.log" >&2
    fi
}

# Percent of all CPU time that was busy over one second: whether other work
# is running next to the benchmark.
cpu_busy() {
    local a b
    a=$(head -1 /proc/stat)
    sleep 1
    b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y); tot = 0
        for (i = 2; i <= n; i++) tot += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.0f", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# row LABEL LINE: one table row from a loadgen result line.
row() {
    local l=$2
    if [ -z "$l" ]; then
        echo "| $1 | n/a | n/a | n/a | n/a | n/a |"
        return
    fi
    echo "| $1 | $(field "$l" rps) | $(field "$l" p50_us) | $(field "$l" p99_us) | $(field "$l" errors)" \
         "| $(field "$l" other_cpu) |"
}

tables() {
    local cfg r s
    for cfg in $CONFIGS; do
        r=${RES[ref,$cfg]:-}
        s=${RES[swx,$cfg]:-}
        echo "### ${cfg%%:*} connections, pipeline ${cfg##*:}, $SIZE-byte messages"
        echo
        echo "| server | requests/s | p50 µs | p99 µs | errors | other CPU % |"
        echo "|---|---:|---:|---:|---:|---:|"
        row "epoll-echo (reference)" "$r"
        row "swx-server" "$s"
        echo "| **swx / reference** | **$(ratio "$(field "$s" rps)" "$(field "$r" rps)")** |" \
             "$(ratio "$(field "$s" p50_us)" "$(field "$r" p50_us)") |" \
             "$(ratio "$(field "$s" p99_us)" "$(field "$r" p99_us)") | | |"
        echo
    done
}

machine() {
    echo "- CPUs (nproc): $(nproc)"
    echo "- CPU model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- Kernel: $(uname -srm)"
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Before measuring: CPUs ${BUSY_BEFORE}% busy over 1 s, load average $LOAD_BEFORE"
    echo "- Load generator: swx-loadgen, $THREADS thread(s), ${SIZE}-byte messages," \
         "${WARMUP} s warm-up then ${DURATION} s measured per configuration"
}

report() {
    cat <<EOF
# Echo benchmark

Generated by \`./bench/run.sh\`; do not edit by hand.

What is measured: a closed-loop TCP echo load over loopback. \`swx-loadgen\`
(bench/loadgen.c) opens N connections, keeps P fixed-size messages
outstanding on each (the pipeline depth) and counts a request complete when
all of its bytes have come back; every echoed byte is checked against what
was sent. Latency runs from the moment a message is queued for sending to the
moment its last byte is read back (CLOCK_MONOTONIC), so with N x P requests in
flight it is about N x P / throughput. The reference is \`epoll-echo\`
(bench/epoll_echo.c), a bare single-threaded epoll echo server: the cost of
the kernel's loopback path with nothing on top. swx-server runs the echo
plugin, so every message crosses reactor thread -> worker process -> reactor.

Both servers are measured in the same run of the script on the same machine,
with the load generator competing for the same CPUs. Absolute numbers depend
on the machine; read the **swx / reference** ratios (above 1 is better for
requests/s, below 1 is better for latency). On a small or shared machine the
ratios move between runs: repeat the run before reading much into a change.
"other CPU %" is the share of all CPU time (user + system) that processes
other than the load generator and the server under test used while that row
ran; much above 10 means the row was disturbed by other work.

Re-run: \`./bench/run.sh\` (about $(( ($(wc -w <<<"$CONFIGS") * 2) * (DURATION + WARMUP + 1) )) s;
BENCH_DURATION, BENCH_WARMUP, BENCH_SIZE, BENCH_THREADS, BENCH_CONFIGS tune it).

## Machine

$(machine)

## swx configuration

\`\`\`json
$(swx_config "<build>/plugins/echo/libswx_echo.so" "<free port>")
\`\`\`
EOF
    if [ "$BUSY_BEFORE" -ge 10 ]; then
        printf '\n**The machine was not idle when measuring began (CPUs %s%% busy):' "$BUSY_BEFORE"
        printf ' other work shared the CPUs, so these numbers are noisier than usual.**\n'
    fi
    if [ -n "$SWX_NOTE" ]; then
        printf '\n**swx-server was not measured in this run: %s.** Only the reference numbers are real.\n' \
            "$SWX_NOTE"
    fi
    printf '\n## Results\n\n'
    tables
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
build
BUSY_BEFORE=$(cpu_busy)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$BUSY_BEFORE" -lt 10 ] || log "CPUs already ${BUSY_BEFORE}% busy: the numbers will be noisy"
run_reference
run_swx
report >"$TMP/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$TMP/report.md" "$OUT"
echo
tables
log "wrote ${OUT#"$ROOT"/}"
exit "$STATUS"
