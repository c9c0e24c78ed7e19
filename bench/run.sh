#!/usr/bin/env bash
# run.sh: echo, HTTP and TLS benchmarks, swx-server (base and process mode) against a reference (bare epoll echo; nginx), and optionally against a baseline build of swx, in one run; the targets met or missed; writes docs/benchmarks.md and its chart.
#
# Every row also gives the server's CPU time per request: utime + stime of
# the server's whole process tree, read from /proc at both ends of the
# measured window (by swx-loadgen --cpu-pid, or by this script around a wrk
# run), divided by the requests answered.
#
# Time: a default run (targets, echo, http, tls) takes about 21 minutes on
# a quiet 2-CPU machine: 162 runs of 6-8 s (1 s warm-up in a row's first
# round, 6 s measured, start-up; the rows the targets read are measured in
# BENCH_ROUNDS=5 rounds), the idle-connection memory rows (up to a minute
# per server with 19000 connections on a busy machine), builds, checks and
# the report; BENCH_BASELINE adds about 4 minutes (tls measures the current
# build only); BENCH_PERF=1 adds about a minute. Every step is bounded:
# swx-loadgen measures at most 60 s and an
# alarm kills it 30 s past its planned end, wrk and h2load get 30 s past their planned
# end, the idle-connection client 300 s, perf and gnuplot 60 s, curl 10 s,
# a server gets 10 s to start and 10 s after SIGTERM before SIGKILL. Every
# server is stopped at the end, on failure and on Ctrl-C too, and all
# traffic goes to 127.0.0.1.
#
# Environment (all optional):
#   BUILD_DIR       meson build dir (default ./build; set up if missing)
#   BENCH_BASELINE  another meson build dir of swx to compare with, say of an older commit:
#                     git worktree add /tmp/old COMMIT
#                     meson setup /tmp/old/build /tmp/old && ninja -C /tmp/old/build
#                     BENCH_BASELINE=/tmp/old/build ./bench/run.sh
#                   Every configuration of every suite then runs against the reference,
#                   the baseline and the current build, back to back, each swx-server with
#                   its own build's plugins. The report names each build's commit and gives,
#                   per configuration, both builds' rows, their ratios to the reference, the
#                   current / baseline ratios and a one-line verdict on the CPU time per
#                   request; a first table gathers the verdicts. The dir is brought up to
#                   date with ninja first; the run stops at once if that fails.
#   BENCH_REPEAT    with BENCH_BASELINE, echo and http suites: measure the baseline and the current build this many
#                   times per configuration, alternating which goes first, and report each
#                   build's median run (default 1); the run takes about that many times longer
#   BENCH_SUITES    the suites to run, any of "targets", "echo", "http", "tls" (default all four);
#                   the report holds only the suites run. "targets" measures swx base mode
#                   and process mode side by side with nginx (HTTP GET / from wrk -t1 -c64
#                   and from swx-loadgen) and the bare epoll loop (echo, 64 connections,
#                   ping-pong and 16-deep pipelined), memory per idle keep-alive connection,
#                   p99 at half of peak load, draws the chart (${BENCH_OUT%.md}.png, gnuplot)
#                   and says of each target of the page whether it is met (bench/targets.sh);
#                   BENCH_CONFIGS does not apply to it. It takes about 13 minutes. "tls" (bench/tls.sh)
#                   measures swx base mode and process mode against nginx over TLS (same
#                   certificate; TLS 1.3, AES-128-GCM, X25519 on every handshake): HTTPS
#                   keep-alive GET / (wrk), new TLS connections per second (wrk with
#                   Connection: close) and HTTP/2 (h2load, 8 connections x 8 streams), and
#                   says whether the TLS targets are met; about 6 minutes, needs wrk and
#                   h2load (nghttp2-client; installed with apt-get when missing):
#                     BENCH_SUITES=tls BENCH_OUT=/tmp/tls.md ./bench/run.sh
#                   "access_log" (never by default)
#                   runs the HTTP GET / benchmark of the current build twice per
#                   configuration, without and with server.access_log (a file in the temp
#                   dir), and compares their CPU time per request; alone it needs no nginx:
#                     BENCH_SUITES=access_log BENCH_OUT=/tmp/alog.md ./bench/run.sh
#                   "coroutine" (never by default) runs the HTTP GET / and the echo
#                   benchmarks of the current build twice per configuration, with
#                   server.enable_coroutine false and true, and compares their CPU time
#                   per request (the target: at most 5 % more with it on); alone it needs
#                   no nginx:
#                     BENCH_SUITES=coroutine BENCH_OUT=/tmp/coro.md ./bench/run.sh
#   BENCH_DURATION  measured seconds per configuration (default 6, loadgen caps at 60)
#   BENCH_WARMUP    warm-up seconds per configuration (default 1)
#   BENCH_ROUNDS    targets and tls: rounds of the rows the targets read (default 5); each
#                   round measures every server once, in the same order, and a row is the
#                   round with the median requests/s, its spread shown beside it; a target
#                   that is a ratio of two servers is the median of the rounds' ratios
#   BENCH_SIZE      echo message size in bytes (default 64)
#   BENCH_FILE_SIZE HTTP: size in bytes of the static file both servers send (default 4096)
#   BENCH_THREADS   loadgen threads, 0 = one per CPU (default 1)
#   BENCH_CONFIGS   space-separated CONNECTIONS:PIPELINE pairs, every suite (default "50:1 50:16 1000:1")
#   BENCH_OUT       report path (default docs/benchmarks.md)
#   NGINX           the nginx binary (default: nginx on PATH or /usr/sbin/nginx; when there is
#                   none, the Debian package is installed with apt-get)
#   WRK             targets: the wrk binary (default: wrk on PATH; when there is none,
#                   Debian's wrk is installed with apt-get; gnuplot-nox too for the chart)
#   BENCH_PERF      targets: 1 = profile each swx-server with perf record for 4 s under
#                   HTTP and echo load (after the measured runs) and list the top symbols
#   BENCH_NOFILE    the open-file limit asked for with ulimit -n (default 65536; when it
#                   is refused, the hard limit); the page says the one in force
#   BENCH_IDLE_CONNS targets: idle keep-alive connections for the memory rows (default:
#                   the open-file limit less 1024, at most 25000 for the loopback port range)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(realpath -m "${BUILD_DIR:-$ROOT/build}")
SUITES=${BENCH_SUITES:-"targets echo http tls"}
DURATION=${BENCH_DURATION:-6}
WARMUP=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_ROUNDS:-5}
SIZE=${BENCH_SIZE:-64}
FILE_SIZE=${BENCH_FILE_SIZE:-4096}
THREADS=${BENCH_THREADS:-1}
CONFIGS=${BENCH_CONFIGS:-"50:1 50:16 1000:1"}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
NCPU=$(nproc)
WRK=
IDLE_N=0
NGINX_WCONN=

TMP=$(mktemp -d "${TMPDIR:-/tmp}/swx-bench.XXXXXX")
LOADGEN=$BUILD/bench/swx-loadgen
ECHO_REF=$BUILD/bench/epoll-echo
ECHO_PLUGIN=plugins/echo/libswx_echo.so
HTTP_PLUGIN=plugins/http_hello/libswx_http_hello.so
GREETING="Hello from swx!"
STATIC=static.txt
# name:path pairs the HTTP suite requests
TARGETS="hello:/ static:/$STATIC"
NGINX_BIN=
PIDS=()
SERVER_PID=
LINE=
LOAD_BEFORE=
BUSY_BEFORE=
NGINX_NOTE=""
STATUS=0
declare -A RES
# The swx builds measured, each a key of the arrays below: "cur" (BUILD_DIR),
# and "base" first when BENCH_BASELINE is set.
BUILDS=cur
REPEAT=${BENCH_REPEAT:-1}
# Per build: its meson build dir, its commit, and why it is not measured
# (further) when it is not.
declare -A BDIR=([cur]="$BUILD" [base]="") COMMIT=([cur]="" [base]="") SWX_NOTE=([cur]="" [base]="")
# Per server of a suite ("ref", the reference, and each build): its pid, empty
# when it is not running, and its port.
declare -A SRV_PID=([ref]="" [cur]="" [base]="") SRV_PORT=([ref]="" [cur]="" [base]="")

log() { echo "run.sh: $*" >&2; }

# shellcheck source=bench/targets.sh
. "$ROOT/bench/targets.sh"
# shellcheck source=bench/tls.sh
. "$ROOT/bench/tls.sh"

# Stops one server started by start_server: TERM, a grace period, then KILL
# for whatever is left in its process group (swx's and nginx's workers
# included).
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
trap 'exit 129' HUP

suite_on() {
    [[ " $SUITES " == *" $1 "* ]]
}

# The bench tools alone, with the system compiler, when meson cannot set up
# the tree (the server may be mid-change).
build_bench_only() {
    log "meson build unavailable; compiling the bench tools directly"
    mkdir -p "$TMP/bin"
    LOADGEN=$TMP/bin/swx-loadgen
    ECHO_REF=$TMP/bin/epoll-echo
    "${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -pthread -D_GNU_SOURCE \
        -o "$LOADGEN" "$ROOT/bench/loadgen.c" "$ROOT/bench/http_resp.c" "$ROOT/bench/proc_cpu.c"
    "${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$ECHO_REF" "$ROOT/bench/epoll_echo.c"
}

build() {
    if [ ! -f "$BUILD/build.ninja" ] && ! meson setup "$BUILD" "$ROOT" >"$TMP/setup.log" 2>&1; then
        tail -5 "$TMP/setup.log" >&2
        SWX_NOTE[cur]="the meson build could not be set up"
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
    if ! ninja -C "$BUILD" server/swx-server "$ECHO_PLUGIN" "$HTTP_PLUGIN" >&2; then
        SWX_NOTE[cur]="swx-server or its plugins failed to build"
    fi
}

# Brings BENCH_BASELINE's build up to date. A comparison is the point of
# setting it, so a baseline that cannot be built stops the run before
# anything is measured, rather than measuring stale binaries.
build_baseline() {
    local dir
    [ -n "${BENCH_BASELINE:-}" ] || return 0
    dir=$(realpath -m "$BENCH_BASELINE")
    if [ ! -f "$dir/build.ninja" ]; then
        log "BENCH_BASELINE: $dir is not a meson build dir (no build.ninja)"
        exit 2
    fi
    if ! ninja -C "$dir" >"$TMP/ninja-base.log" 2>&1; then
        tail -15 "$TMP/ninja-base.log" >&2
        log "BENCH_BASELINE: ninja -C $dir failed"
        exit 2
    fi
    if [ ! -x "$dir/server/swx-server" ]; then
        log "BENCH_BASELINE: $dir has no server/swx-server"
        exit 2
    fi
    BDIR[base]=$dir
    BUILDS="base cur"
}

# source_of DIR: the source dir of the meson build dir DIR.
source_of() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
        "$1/meson-info/meson-info.json" 2>/dev/null
}

# commit_of K: the commit build K was made from, as git describe names it
# in the build's source dir.
commit_of() {
    local src
    src=$(source_of "${BDIR[$1]}") || src=
    # The bench tools alone, compiled without meson, are this tree's.
    [ -n "$src" ] || [ "$1" != cur ] || src=$ROOT
    git -C "${src:-/nonexistent}" describe --always --dirty 2>/dev/null || echo "unknown commit"
}

swx_bin() {
    echo "${BDIR[$1]}/server/swx-server"
}

# The label of build K in the report.
build_label() {
    if [ "$BUILDS" = cur ]; then
        echo "swx-server"
    elif [ "$1" = base ]; then
        echo "swx-server baseline (${COMMIT[base]})"
    else
        echo "swx-server current (${COMMIT[cur]})"
    fi
}

# Sets NGINX_BIN, installing Debian's nginx when there is none (the
# package only: the system's nginx service and /etc/nginx are left alone).
find_nginx() {
    NGINX_BIN=${NGINX:-$(command -v nginx || true)}
    [ -n "$NGINX_BIN" ] || [ ! -x /usr/sbin/nginx ] || NGINX_BIN=/usr/sbin/nginx
    if [ -n "$NGINX_BIN" ]; then
        [ -x "$NGINX_BIN" ] || NGINX_NOTE="$NGINX_BIN is not an executable"
        return 0
    fi
    log "nginx not found; installing it with apt-get"
    if apt_install nginx-light || apt_install nginx \
            || { apt-get update -q >&2 && { apt_install nginx-light || apt_install nginx; }; }; then
        NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    fi
    [ -x "$NGINX_BIN" ] || NGINX_NOTE="nginx is not installed and apt-get could not install it"
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >&2
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

# field LINE KEY: the value of KEY=VALUE in a loadgen result line. In bash
# alone: the report asks for hundreds of fields.
field() {
    local kv words
    read -r -a words <<<"$1"
    for kv in "${words[@]}"; do
        if [ "${kv%%=*}" = "$2" ]; then
            echo "${kv#*=}"
            return 0
        fi
    done
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

# loadgen PGID PORT CONNS DEPTH DURATION WARMUP MODE_ARGS...: sets LINE to
# the result line; PGID is the server's pid (and process group), for the CPU
# accounting. Not in a subshell, so an interrupted load generator stops the
# script.
loadgen() {
    local pgid=$1 port=$2 conns=$3 depth=$4 dur=$5 warm=$6 rc=0 c0 c1 o0 o1
    shift 6
    local pin=()
    [ -z "${LOADGEN_CPU:-}" ] || pin=(taskset -c "$LOADGEN_CPU")
    c0=$(cpu_jiffies | tr ' ' ,)
    o0=$(own_jiffies "$pgid")
    "${pin[@]}" "$LOADGEN" -c "$conns" -p "$depth" -d "$dur" -w "$warm" -t "$THREADS" --cpu-pid "$pgid" "$@" \
        127.0.0.1 "$port" >"$TMP/loadgen.out" 2>>"$TMP/loadgen.err" || rc=$?
    if [ "$rc" -gt 128 ]; then
        log "load generator killed by signal $((rc - 128)); stopping"
        exit "$rc"
    fi
    c1=$(cpu_jiffies | tr ' ' ,)
    o1=$(own_jiffies "$pgid")
    LINE="$(tail -1 "$TMP/loadgen.out") other_cpu=$(other_cpu "$c0" "$c1" "$o0" "$o1")"
}

# load_works PID PORT MODE_ARGS...: a short run that must see answers and
# no error before numbers mean anything.
load_works() {
    local pid=$1 port=$2
    shift 2
    loadgen "$pid" "$port" 4 4 1 0 "$@"
    log "check $*: $LINE"
    [ -n "$LINE" ] && [ "$(field "$LINE" errors)" = 0 ] && [ "$(field "$LINE" requests)" != 0 ]
}

# measure KEY SERVER CONFIG MODE_ARGS...: one configuration against one
# server (ref, base or cur), the result in RES[KEY-SERVER,CONFIG];
# SRV_PID[SERVER] is emptied when the server died meanwhile.
measure() {
    local key=$1-$2 srv=$2 cfg=$3
    shift 3
    log "$key: ${cfg%%:*} connections, pipeline ${cfg##*:}"
    loadgen "${SRV_PID[$srv]}" "${SRV_PORT[$srv]}" "${cfg%%:*}" "${cfg##*:}" "$DURATION" "$WARMUP" "$@"
    log "  $LINE"
    RES[$key,$cfg]=$LINE
    if ! kill -0 "${SRV_PID[$srv]}" 2>/dev/null; then
        log "$key: the server exited during the run"
        STATUS=1
        SRV_PID[$srv]=
    fi
}

# bench_all KEY MODE_ARGS...: every configuration against the reference,
# then the baseline swx-server if any, then the current one, back to back,
# so that work elsewhere on the machine disturbs them alike; results in
# RES[KEY-ref,CONFIG], RES[KEY-base,CONFIG] and RES[KEY-cur,CONFIG].
bench_all() {
    local key=$1 cfg srv
    shift
    for cfg in $CONFIGS; do
        if [ "$REPEAT" -gt 1 ] && [ "$BUILDS" != cur ]; then
            bench_pair "$key" "$cfg" "$@"
            continue
        fi
        for srv in ref $BUILDS; do
            [ -z "${SRV_PID[$srv]}" ] || measure "$key" "$srv" "$cfg" "$@"
        done
    done
}

# median_line LINE...: the result line whose server CPU time per request
# is the median of those given (the lower middle one of an even count).
median_line() {
    local l
    for l in "$@"; do
        printf '%s\t%s\n' "$(field "$l" cpu_us_per_req)" "$l"
    done | sort -g -k1,1 | awk -F '\t' '{ line[NR] = $2 }
        END { print line[int((NR + 1) / 2)] }'
}

# round_keep KEY IDX R: RES[KEY,IDX] is round R's result (kept as
# RES[KEY,IDX#rR]).
round_keep() {
    RES[$1,$2#r$3]=${RES[$1,$2]:-}
}

# rounds_median KEY IDX [FIELD]: RES[KEY,IDX] becomes the kept round whose
# FIELD (default rps: requests/s) is the median (the lower middle one of
# an even count), with rounds=N FIELD_min=.. FIELD_max=.. added; rounds
# without the figure are left out.
rounds_median() {
    local r l f=${3:-rps} lines=()
    for ((r = 1; r <= ROUNDS; r++)); do
        l=${RES[$1,$2#r$r]:-}
        [ -z "$l" ] || [ -z "$(field "$l" "$f")" ] || lines+=("$l")
    done
    [ "${#lines[@]}" -gt 0 ] || return 0
    RES[$1,$2]=$(for l in "${lines[@]}"; do
        printf '%s\t%s\n' "$(field "$l" "$f")" "$l"
    done | sort -g -k1,1 | awk -F '\t' -v f="$f" '{ v[NR] = $1; line[NR] = $2 }
        END { printf "%s rounds=%d %s_min=%s %s_max=%s\n", line[int((NR + 1) / 2)], NR, f, v[1], f, v[NR] }')
}

# paired_ratio FIELD NUM_KEY DEN_KEY IDX: FIELD's ratio of two servers
# measured in the same rounds (RES[NUM_KEY,IDX#rR] over RES[DEN_KEY,IDX#rR]),
# each round's ratio taken apart, then their median (the lower middle one
# of an even count) as "MEDIAN MIN MAX N"; without rounds, the ratio of
# the two rows. A stall of the machine slows the servers measured next to
# each other in one round alike, so the ratio of a round is steadier than
# the ratio of two medians taken from different rounds.
paired_ratio() {
    local f=$1 r a b out=()
    for ((r = 1; r <= ROUNDS; r++)); do
        a=$(field "${RES[$2,$4#r$r]:-}" "$f")
        b=$(field "${RES[$3,$4#r$r]:-}" "$f")
        a=$(ratio "$a" "$b" 4)
        [ "$a" = n/a ] || out+=("$a")
    done
    if [ "${#out[@]}" -eq 0 ]; then
        a=$(ratio "$(field "${RES[$2,$4]:-}" "$f")" "$(field "${RES[$3,$4]:-}" "$f")")
        [ "$a" = n/a ] || echo "$a $a $a 1"
        return 0
    fi
    printf '%s\n' "${out[@]}" | sort -g | awk '{ v[NR] = $1 }
        END { printf "%.2f %.2f %.2f %d\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}

# range_cell LINE [FIELD]: FIELD (default rps), and the spread of the
# rounds when there were several.
range_cell() {
    local f=${2:-rps} v n
    v=$(cell "$1" "$f")
    n=$(field "$1" rounds)
    if [ "${n:-1}" -gt 1 ] && [ -n "$(field "$1" "${f}_min")" ]; then
        echo "$v ($(field "$1" "${f}_min")–$(field "$1" "${f}_max"))"
    else
        echo "$v"
    fi
}

rps_cell() {
    range_cell "$1" rps
}

# bench_pair KEY CONFIG MODE_ARGS...: BENCH_REPEAT: the reference once,
# then the baseline and the current build REPEAT times each, alternating
# which goes first; each build's result is its median run.
bench_pair() {
    local key=$1 cfg=$2 i srv order
    shift 2
    local -a got_base=() got_cur=()
    [ -z "${SRV_PID[ref]}" ] || measure "$key" ref "$cfg" "$@"
    for ((i = 0; i < REPEAT; i++)); do
        order="base cur"
        [ $((i % 2)) -eq 0 ] || order="cur base"
        for srv in $order; do
            [ -n "${SRV_PID[$srv]}" ] || continue
            measure "$key" "$srv" "$cfg" "$@"
            if [ "$srv" = base ]; then got_base+=("$LINE"); else got_cur+=("$LINE"); fi
        done
    done
    [ ${#got_base[@]} -eq 0 ] || RES[$key-base,$cfg]=$(median_line "${got_base[@]}")
    [ ${#got_cur[@]} -eq 0 ] || RES[$key-cur,$cfg]=$(median_line "${got_cur[@]}")
}

# stop_all LOG...: stops every server started, then shows what their logs
# say of errors.
stop_all() {
    local pid f
    for pid in "${PIDS[@]}"; do
        stop_server "$pid"
    done
    PIDS=()
    SRV_PID=([ref]="" [cur]="" [base]="")
    for f in "$@"; do
        if grep -q -i -E 'error|fatal|emerg|crit' "$f" 2>/dev/null; then
            log "${f##*/} holds errors (first lines):"
            grep -m 5 -i -E 'error|fatal|emerg|crit' "$f" >&2
        fi
    done
}

# swx_fails K NOTE: build K's swx-server is not measured further, for the
# reason NOTE.
swx_fails() {
    SWX_NOTE[$1]=$2
    SRV_PID[$1]=
    STATUS=1
    log "$(build_label "$1"): $2"
}

# swx_up K SUITE PLUGIN CONFIG_FN: starts build K's swx-server on a free
# port, with CONFIG_FN's configuration for that build's PLUGIN (a path in
# the build dir); sets SRV_PID[K] and SRV_PORT[K], or SWX_NOTE[K] when it
# cannot.
swx_up() {
    local k=$1 name=swx-$2-$1 plugin=${BDIR[$1]}/$3 config=$4 port
    SRV_PID[$k]=
    if [ -n "${SWX_NOTE[$k]}" ]; then
        log "$(build_label "$k"): ${SWX_NOTE[$k]}; not measured"
        STATUS=1
        return 0
    fi
    if [ ! -x "$(swx_bin "$k")" ] || [ ! -f "$plugin" ]; then
        swx_fails "$k" "swx-server or the ${plugin##*/} plugin was not built"
        return 0
    fi
    port=$(free_port)
    "$config" "$plugin" "$port" "$TMP/www" >"$TMP/$name.json"
    start_server "$name" "$(swx_bin "$k")" --config "$TMP/$name.json"
    if wait_port "$port" "$SERVER_PID"; then
        SRV_PID[$k]=$SERVER_PID
        SRV_PORT[$k]=$port
        return 0
    fi
    swx_fails "$k" "swx-server did not start"
    tail -20 "$TMP/$name.log" >&2
}

# ---- echo ----

# echo_config PLUGIN_PATH PORT: swx's configuration for the echo suite.
echo_config() {
    cat <<EOF
{ "server": { "reactor_num": $NCPU, "worker_num": $NCPU, "log_level": "warning" },
  "plugins": [ { "name": "echo", "path": "$1" } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $2, "plugin": "echo" } ] }
EOF
}

run_echo() {
    local k
    SRV_PORT[ref]=$(free_port)
    start_server epoll-echo "$ECHO_REF" "${SRV_PORT[ref]}"
    SRV_PID[ref]=$SERVER_PID
    wait_port "${SRV_PORT[ref]}" "$SERVER_PID" || { cat "$TMP/epoll-echo.log" >&2; log "epoll-echo did not start"; exit 1; }
    load_works "$SERVER_PID" "${SRV_PORT[ref]}" -s "$SIZE" || { log "epoll-echo failed the echo check"; exit 1; }
    for k in $BUILDS; do
        swx_up "$k" echo "$ECHO_PLUGIN" echo_config
        if [ -n "${SRV_PID[$k]}" ] && ! load_works "${SRV_PID[$k]}" "${SRV_PORT[$k]}" -s "$SIZE"; then
            swx_fails "$k" "swx-server failed the echo check"
        fi
    done
    bench_all echo -s "$SIZE"
    stop_all "$TMP"/swx-echo-*.log
}

# ---- HTTP ----

# The document root both HTTP servers serve the static file from: the same
# bytes, printable, FILE_SIZE long.
make_docroot() {
    mkdir -p "$TMP/www"
    python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.write(("swx static file line\n" * (n // 21 + 1))[:n])' \
        "$FILE_SIZE" >"$TMP/www/$STATIC"
    # nginx's workers run as nobody when it starts as root.
    chmod 755 "$TMP" "$TMP/www"
    chmod 644 "$TMP/www/$STATIC"
}

# nginx_config PREFIX PORT DOCROOT: nginx's configuration for the HTTP suite.
nginx_config() {
    cat <<EOF
worker_processes $NCPU;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections ${NGINX_WCONN:-16384}; }
http {
    access_log off;
    default_type text/plain;
    charset utf-8;
    types { text/plain txt; }
    sendfile on;
    keepalive_requests 1000000000;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    server {
        listen 127.0.0.1:$2;
        location = / { return 200 "$GREETING\n"; }
        location / { root $3; }
    }
}
EOF
}

# http_config PLUGIN_PATH PORT DOCROOT: swx's configuration for the HTTP suite.
http_config() {
    cat <<EOF
{ "server": { "reactor_num": $NCPU, "worker_num": $NCPU, "log_level": "warning" },
  "plugins": [ { "name": "http_hello", "path": "$1",
                 "config": { "greeting": "$GREETING" } } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $2, "plugin": "http_hello",
                   "protocol": "http", "document_root": "$3" } ] }
EOF
}

# http_works NAME PID PORT: whether every target's body is the expected
# bytes, and a short load on each sees no error.
http_works() {
    local name=$1 pid=$2 port=$3 t
    printf '%s\n' "$GREETING" >"$TMP/hello.expected"
    for t in $TARGETS; do
        curl -s -f --max-time 10 -o "$TMP/$name.${t%%:*}" "http://127.0.0.1:$port${t#*:}" || return 1
    done
    if ! cmp -s "$TMP/$name.hello" "$TMP/hello.expected" || ! cmp -s "$TMP/$name.static" "$TMP/www/$STATIC"; then
        log "$name does not serve the expected bytes"
        return 1
    fi
    for t in $TARGETS; do
        load_works "$pid" "$port" --http "${t#*:}" || return 1
    done
}

# nginx_up: starts nginx from its own prefix in $TMP; sets SRV_PID[ref] and
# SRV_PORT[ref], or NGINX_NOTE when it cannot.
nginx_up() {
    local dir=$TMP/nginx port
    SRV_PID[ref]=
    find_nginx
    if [ -n "$NGINX_NOTE" ]; then
        log "$NGINX_NOTE; measuring swx-server only"
        STATUS=1
        return 0
    fi
    mkdir -p "$dir"
    port=$(free_port)
    nginx_config "$dir" "$port" "$TMP/www" >"$dir/nginx.conf"
    start_server nginx "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;'
    if wait_port "$port" "$SERVER_PID" && http_works nginx "$SERVER_PID" "$port"; then
        SRV_PID[ref]=$SERVER_PID
        SRV_PORT[ref]=$port
        return 0
    fi
    NGINX_NOTE="nginx did not start or failed the check"
    STATUS=1
    log "$NGINX_NOTE; its logs:"
    tail -20 "$TMP/nginx.log" "$dir/error.log" >&2 || true
}

# ---- access_log: the HTTP hello benchmark with and without an access log ----

# access_log_config PLUGIN_PATH PORT DOCROOT: http_config's configuration
# with every request logged to a file in the temp dir.
access_log_config() {
    cat <<EOF
{ "server": { "reactor_num": $NCPU, "worker_num": $NCPU, "log_level": "warning",
              "access_log": "$TMP/access.log" },
  "plugins": [ { "name": "http_hello", "path": "$1",
                 "config": { "greeting": "$GREETING" } } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $2, "plugin": "http_hello",
                   "protocol": "http", "document_root": "$3" } ] }
EOF
}

# alog_up NAME CONFIG_FN: the current build with CONFIG_FN's configuration
# as SRV_PID[NAME], SRV_PORT[NAME] (both servers run side by side).
alog_up() {
    swx_up cur "$1" "$HTTP_PLUGIN" "$2"
    SRV_PID[$1]=${SRV_PID[cur]}
    SRV_PORT[$1]=${SRV_PORT[cur]}
    SRV_PID[cur]=
    if [ -n "${SRV_PID[$1]}" ] && ! http_works "swx-$1" "${SRV_PID[$1]}" "${SRV_PORT[$1]}"; then
        swx_fails cur "swx-server ($1) failed the HTTP check"
        SRV_PID[$1]=
    fi
}

# Per configuration: access_log off, then on, back to back; results in
# RES[alog-off,CONFIG] and RES[alog-on,CONFIG].
run_access_log() {
    local cfg srv
    make_docroot
    alog_up off http_config
    alog_up on access_log_config
    for cfg in $CONFIGS; do
        for srv in off on; do
            [ -z "${SRV_PID[$srv]}" ] || measure alog "$srv" "$cfg" --http /
        done
    done
    log "access log: $(wc -l <"$TMP/access.log" 2>/dev/null || echo 0) lines written"
    stop_all "$TMP"/swx-off-cur.log "$TMP"/swx-on-cur.log
}

access_log_tables() {
    local cfg off on change
    echo "### HTTP, GET / with and without \`access_log\` (current build)"
    echo
    for cfg in $CONFIGS; do
        off=${RES[alog-off,$cfg]:-}
        on=${RES[alog-on,$cfg]:-}
        echo "#### ${cfg%%:*} connections, pipeline ${cfg##*:}"
        echo
        echo "| server | requests/s | p50 µs | p99 µs | errors | other CPU % | server CPU µs/request |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        row "swx-server, access_log off" "$off"
        row "swx-server, access_log on" "$on"
        ratio_row "on / off" "$on" "$off" "" cpu_us_per_req
        echo
        change=$(cpu_change "$off" "$on")
        echo "**access_log on:** ${change:-n/a} server CPU time per request than off" \
             "($(cell "$on" cpu_us_per_req) µs against $(cell "$off" cpu_us_per_req) µs)."
        echo
    done
}

# ---- coroutine: HTTP hello and echo with enable_coroutine off and on ----

# with_coroutine ON CONFIG_FN ARGS...: CONFIG_FN's configuration with
# server.enable_coroutine ON (true or false).
with_coroutine() {
    local on=$1
    shift
    "$@" | sed "s/\"log_level\": \"warning\"/\"log_level\": \"warning\", \"enable_coroutine\": $on/"
}
coro_http_off() { with_coroutine false http_config "$@"; }
coro_http_on() { with_coroutine true http_config "$@"; }
coro_echo_off() { with_coroutine false echo_config "$@"; }
coro_echo_on() { with_coroutine true echo_config "$@"; }

# coro_up NAME PLUGIN CONFIG_FN: the current build as SRV_PID[NAME],
# SRV_PORT[NAME], checked with an HTTP GET or an echo.
coro_up() {
    swx_up cur "$1" "$2" "$3"
    SRV_PID[$1]=${SRV_PID[cur]}
    SRV_PORT[$1]=${SRV_PORT[cur]}
    SRV_PID[cur]=
    [ -n "${SRV_PID[$1]}" ] || return 0
    if [[ $1 == http-* ]]; then
        http_works "swx-$1" "${SRV_PID[$1]}" "${SRV_PORT[$1]}" && return 0
    else
        load_works "${SRV_PID[$1]}" "${SRV_PORT[$1]}" -s "$SIZE" && return 0
    fi
    swx_fails cur "swx-server ($1) failed its check"
    SRV_PID[$1]=
}

# Per suite and configuration: enable_coroutine off, then on, back to back;
# results in RES[coro-SUITE-off,CONFIG] and RES[coro-SUITE-on,CONFIG].
run_coroutine() {
    local cfg srv
    make_docroot
    coro_up http-off "$HTTP_PLUGIN" coro_http_off
    coro_up http-on "$HTTP_PLUGIN" coro_http_on
    for cfg in $CONFIGS; do
        for srv in http-off http-on; do
            [ -z "${SRV_PID[$srv]}" ] || measure coro "$srv" "$cfg" --http /
        done
    done
    stop_all "$TMP"/swx-http-off-cur.log "$TMP"/swx-http-on-cur.log
    coro_up echo-off "$ECHO_PLUGIN" coro_echo_off
    coro_up echo-on "$ECHO_PLUGIN" coro_echo_on
    for cfg in $CONFIGS; do
        for srv in echo-off echo-on; do
            [ -z "${SRV_PID[$srv]}" ] || measure coro "$srv" "$cfg" -s "$SIZE"
        done
    done
    stop_all "$TMP"/swx-echo-off-cur.log "$TMP"/swx-echo-on-cur.log
}

# The runtime's own costs (bench/coro_bench.c), in this process's CPU time.
coroutine_costs() {
    local bin="$BUILD/bench/coro-bench"
    echo "### The coroutine runtime's own costs (current build)"
    echo
    if ! ninja -C "$BUILD" bench/coro-bench >"$TMP/coro-bench.build" 2>&1 || [ ! -x "$bin" ]; then
        echo "bench/coro-bench could not be built."
        echo
        return
    fi
    echo "\`bench/coro-bench\` (CPU time of its own process, so that other work"
    echo "on the machine does not count):"
    echo
    timeout 120 "$bin" 2>&1 | sed 's/^/- /'
    echo
}

coroutine_tables() {
    local cfg off on change what
    coroutine_costs
    for what in http echo; do
        if [ $what = http ]; then
            echo "### HTTP, GET / with enable_coroutine off and on (current build)"
        else
            echo "### Echo with enable_coroutine off and on (current build)"
        fi
        echo
        for cfg in $CONFIGS; do
            off=${RES[coro-$what-off,$cfg]:-}
            on=${RES[coro-$what-on,$cfg]:-}
            echo "#### ${cfg%%:*} connections, pipeline ${cfg##*:}"
            echo
            echo "| server | requests/s | p50 µs | p99 µs | errors | other CPU % | server CPU µs/request |"
            echo "|---|---:|---:|---:|---:|---:|---:|"
            row "swx-server, enable_coroutine false" "$off"
            row "swx-server, enable_coroutine true" "$on"
            ratio_row "on / off" "$on" "$off" "" cpu_us_per_req
            echo
            change=$(cpu_change "$off" "$on")
            echo "**enable_coroutine on:** ${change:-n/a} server CPU time per request than off" \
                 "($(cell "$on" cpu_us_per_req) µs against $(cell "$off" cpu_us_per_req) µs; the target is at most 5 % more)."
            echo
        done
    done
}

# The servers run side by side, idle but for the one measured.
run_http() {
    local k t
    make_docroot
    nginx_up
    for k in $BUILDS; do
        swx_up "$k" http "$HTTP_PLUGIN" http_config
        if [ -n "${SRV_PID[$k]}" ] && ! http_works "swx-$k" "${SRV_PID[$k]}" "${SRV_PORT[$k]}"; then
            swx_fails "$k" "swx-server failed the HTTP check"
        fi
    done
    for t in $TARGETS; do
        bench_all "http-${t%%:*}" --http "${t#*:}"
    done
    stop_all "$TMP"/swx-http-*.log "$TMP/nginx/error.log"
}

# ---- the report ----

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

# ratio A B [DECIMALS]: A / B, or n/a when either is not a number or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
        n = "^[0-9]+(\\.[0-9]+)?$"
        if (a !~ n || b !~ n || b + 0 == 0) print "n/a"; else printf("%." d "f\n", a / b) }'
}

# cell LINE KEY: a loadgen field for a table cell, n/a when it is missing.
cell() {
    local v
    v=$(field "$1" "$2")
    echo "${v:-n/a}"
}

# row LABEL LINE [COLUMN]: one table row from a loadgen result line, with
# an extra column (a loadgen field) when asked.
row() {
    local l=$2 extra=${3:+ n/a |}
    if [ -z "$l" ]; then
        echo "| $1 | n/a | n/a | n/a | n/a | n/a | n/a |$extra"
        return
    fi
    [ -z "${3:-}" ] || extra=" $(field "$l" "$3") |"
    echo "| $1 | $(rps_cell "$l") | $(field "$l" p50_us) | $(field "$l" p99_us) | $(field "$l" errors)" \
         "| $(field "$l" other_cpu) | $(cell "$l" cpu_us_per_req) |$extra"
}

# ratio_cell KEY NUM_LINE DEN_LINE BOLD_KEY: the ratio of one field of two
# rows, in bold when it is the one the row is about.
ratio_cell() {
    local r
    r=$(ratio "$(field "$2" "$1")" "$(field "$3" "$1")")
    if [ "$1" = "$4" ] && [ "$r" != n/a ]; then
        echo "**$r**"
    else
        echo "$r"
    fi
}

# ratio_row LABEL NUM_LINE DEN_LINE COLUMN BOLD_KEY: the ratios of two rows;
# BOLD_KEY is the field in bold (rps or cpu_us_per_req).
ratio_row() {
    local n=$2 d=$3 b=$5
    echo "| **$1** | $(ratio_cell rps "$n" "$d" "$b") | $(ratio_cell p50_us "$n" "$d" "$b") |" \
         "$(ratio_cell p99_us "$n" "$d" "$b") | | | $(ratio_cell cpu_us_per_req "$n" "$d" "$b") |${4:+ |}"
}

# cpu_change BASE_LINE CUR_LINE: the current build's CPU time per request
# against the baseline's: "3.1% less", "0.4% more" or "the same" (within
# 0.05%); nothing when either is missing.
cpu_change() {
    awk -v b="$(field "$1" cpu_us_per_req)" -v c="$(field "$2" cpu_us_per_req)" 'BEGIN {
        n = "^[0-9]+(\\.[0-9]+)?$"
        if (b !~ n || c !~ n || b + 0 == 0) exit
        d = sprintf("%.1f", 100 * (c / b - 1)) + 0
        if (d == 0) print "the same"
        else if (d < 0) printf("%.1f%% less\n", -d)
        else printf("%.1f%% more\n", d) }'
}

# verdict BASE_LINE CUR_LINE: one line on the current build's CPU time per
# request against the baseline's, with a warning when other work disturbed
# either row.
verdict() {
    local change ob oc noise=""
    change=$(cpu_change "$1" "$2")
    if [ -z "$change" ]; then
        echo "**Verdict:** none: a build's CPU time per request is missing from this configuration."
        return
    fi
    ob=$(field "$1" other_cpu)
    oc=$(field "$2" other_cpu)
    if [ "${ob:-0}" -ge 10 ] || [ "${oc:-0}" -ge 10 ]; then
        noise=" Other work took ${ob}% and ${oc}% of the CPUs during these two rows: repeat the run before trusting this."
    fi
    if [ "$change" = "the same" ]; then
        change="the same CPU time per request as the baseline"
    else
        change="$change CPU time per request than the baseline"
    fi
    echo "**Verdict:** current uses $change ($(field "$2" cpu_us_per_req) µs against" \
         "$(field "$1" cpu_us_per_req) µs).$noise"
}

# table TITLE REF_LABEL KEY CONFIG [COLUMN]: one configuration: the
# reference, each build, their ratios and, with a baseline, the verdict.
table() {
    local r=${RES[$3-ref,$4]:-} b=${RES[$3-base,$4]:-} c=${RES[$3-cur,$4]:-} col=${5:-}
    echo "#### $1"
    echo
    echo "| server | requests/s | p50 µs | p99 µs | errors | other CPU % | server CPU µs/request |${col:+ bytes/response |}"
    echo "|---|---:|---:|---:|---:|---:|---:|${col:+---:|}"
    row "$2" "$r" "$col"
    if [ "$BUILDS" = cur ]; then
        row "$(build_label cur)" "$c" "$col"
        ratio_row "swx / reference" "$c" "$r" "$col" rps
        echo
        return
    fi
    row "$(build_label base)" "$b" "$col"
    row "$(build_label cur)" "$c" "$col"
    ratio_row "baseline / reference" "$b" "$r" "$col" rps
    ratio_row "current / reference" "$c" "$r" "$col" rps
    ratio_row "current / baseline" "$c" "$b" "$col" cpu_us_per_req
    echo
    verdict "$b" "$c"
    echo
}

echo_tables() {
    local cfg
    for cfg in $CONFIGS; do
        table "${cfg%%:*} connections, pipeline ${cfg##*:}, $SIZE-byte messages" \
            "epoll-echo (reference)" echo "$cfg"
    done
}

http_tables() {
    local t name cfg
    for t in $TARGETS; do
        name=${t%%:*}
        if [ "$name" = hello ]; then
            echo "### HTTP, GET / (plugin: reactor -> worker -> reactor)"
        else
            echo "### HTTP, GET /$STATIC ($FILE_SIZE-byte static file: reactor only)"
        fi
        echo
        for cfg in $CONFIGS; do
            table "${cfg%%:*} connections, pipeline ${cfg##*:}" "nginx (reference)" \
                "http-$name" "$cfg" resp_bytes
        done
    done
}

# The result keys of the suites run, one per benchmark.
result_keys() {
    local t
    ! suite_on echo || echo echo
    if suite_on http; then
        for t in $TARGETS; do
            echo "http-${t%%:*}"
        done
    fi
}

key_title() {
    local t
    if [ "$1" = echo ]; then
        echo "echo, $SIZE-byte messages"
        return
    fi
    for t in $TARGETS; do
        [ "http-${t%%:*}" != "$1" ] || echo "HTTP, GET ${t#*:}"
    done
}

# summary: every configuration's CPU time per request, baseline against
# current, in one table: what a change meant to keep behaviour must not
# make worse.
summary() {
    local key cfg b c change n=0 ok=0
    echo "### Current against baseline: server CPU time per request"
    echo
    echo "| benchmark | connections:pipeline | baseline µs/request | current µs/request | current / baseline | current uses |"
    echo "|---|---|---:|---:|---:|---|"
    for key in $(result_keys); do
        for cfg in $CONFIGS; do
            b=${RES[$key-base,$cfg]:-}
            c=${RES[$key-cur,$cfg]:-}
            change=$(cpu_change "$b" "$c")
            echo "| $(key_title "$key") | $cfg | $(cell "$b" cpu_us_per_req) | $(cell "$c" cpu_us_per_req)" \
                 "| $(ratio "$(field "$c" cpu_us_per_req)" "$(field "$b" cpu_us_per_req)" 3) | ${change:-n/a} |"
            [ -n "$change" ] || continue
            n=$((n + 1))
            [ "$change" = "the same" ] || [[ "$change" == *less ]] || continue
            ok=$((ok + 1))
        done
    done
    echo
    echo "The current build used the same or less CPU time per request than the baseline in $ok of $n configurations."
    echo
}

tables() {
    if suite_on targets; then
        t_tables
    fi
    if suite_on tls; then
        tls_tables
    fi
    suite_on echo || suite_on http || suite_on access_log || suite_on coroutine || return 0
    [ "$BUILDS" = cur ] || summary
    if suite_on echo; then
        printf '### Echo\n\n'
        echo_tables
    fi
    if suite_on http; then
        http_tables
    fi
    if suite_on access_log; then
        access_log_tables
    fi
    if suite_on coroutine; then
        coroutine_tables
    fi
}

# show_dir DIR: DIR relative to the source tree when it is inside it.
show_dir() {
    case $1 in
    "$ROOT") echo . ;;
    "$ROOT"/*) echo "${1#"$ROOT"/}" ;;
    *) echo "$1" ;;
    esac
}

machine() {
    local k
    echo "- CPUs (nproc): $NCPU"
    echo "- CPU model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- Kernel: $(uname -srm)"
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Before measuring: CPUs ${BUSY_BEFORE}% busy over 1 s, load average $LOAD_BEFORE"
    echo "- Load generator: swx-loadgen, $THREADS thread(s), ${WARMUP} s warm-up then" \
         "${DURATION} s measured per configuration"
    echo "- Open-file limit (ulimit -n): $(ulimit -n)"
    if { suite_on targets || suite_on tls; } && [ -n "$WRK" ]; then
        echo "- wrk: $("$WRK" -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    fi
    if suite_on tls && [ -n "$H2LOAD" ]; then
        echo "- h2load: $("$H2LOAD" --version 2>&1 | head -1)"
        echo "- OpenSSL: $(openssl version 2>&1)"
    fi
    if { suite_on http || suite_on targets || suite_on tls; } && [ -n "$NGINX_BIN" ]; then
        echo "- nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
    fi
    for k in $BUILDS; do
        echo "- $(build_label "$k"): commit \`${COMMIT[$k]}\`, build dir \`$(show_dir "${BDIR[$k]}")\`"
    done
}

# shellcheck disable=SC2016  # the backquotes are Markdown's
baseline_intro() {
    [ "$BUILDS" != cur ] || return 0
    printf '\n%s\n' 'This run also measured a baseline build of swx-server (`BENCH_BASELINE`):
each configuration ran against the reference, the baseline and the current
build, back to back, each build with its own plugins, all three servers
idle but for the one measured. The **current / baseline** row compares the
two builds; its server CPU time per request is what a change that keeps
behaviour must not make worse (below 1 is better), the verdict under each
configuration says it in words, and the first table gathers them. Two
builds of the same code differ by the noise of the machine alone, a few
percent on a small or shared one: repeat the run before reading much into
a difference of that size.'
    [ "$REPEAT" -le 1 ] || printf '\n%s\n' "With \`BENCH_REPEAT\`=$REPEAT, each configuration ran the reference once,
then the baseline and the current build $REPEAT times each, alternating which
went first; each build's row is its median run by server CPU time per
request."
}

report_intro() {
    cat <<EOF
# Benchmarks

Generated by \`./bench/run.sh\`; do not edit by hand.

Each suite measures swx-server against a reference server in the
same run of the script on the same machine, with the load generator
competing for the same CPUs. The servers of a suite run side by side, idle
but for the one measured, and each configuration runs against the reference
and then against swx-server, back to back, so that other work on the
machine disturbs both alike. Absolute numbers depend on the machine; read
the **swx / reference** ratios (above 1 is better for requests/s, below 1 is
better for latency and CPU time). On a small or shared machine the ratios
move between runs: repeat the run before reading much into a change.
"other CPU %" is the share of all CPU time (user + system) that processes
other than the load generator and the server under test used while that row
ran; much above 10 means the row was disturbed by other work. "server CPU
µs/request" is the CPU time (user + system) of the server's whole process
tree over the measured window, read from /proc at both ends of it by
\`swx-loadgen --cpu-pid\`, divided by the requests answered in it. It
depends on the load as well as on the code (a server that finds more work
per wake-up spends less per request), so compare it between servers
measured back to back.
$(baseline_intro)

The load is closed-loop over loopback: \`swx-loadgen\` (bench/loadgen.c)
opens N connections and keeps P requests outstanding on each (the pipeline
depth); a new one is sent as soon as one is answered. Latency runs from the
moment a request is queued for sending to the moment its answer is whole
(CLOCK_MONOTONIC), so with N x P requests in flight it is about
N x P / throughput.

- **Echo**: fixed-size messages; a request is complete when all of its bytes
  have come back, and every echoed byte is checked against what was sent.
  The reference is \`epoll-echo\` (bench/epoll_echo.c), a bare
  single-threaded epoll echo server: the cost of the kernel's loopback path
  with nothing on top. swx-server runs the echo plugin, so every message
  crosses reactor thread -> worker process -> reactor.
- **HTTP**: HTTP/1.1 keep-alive \`GET\`s (\`swx-loadgen --http PATH\`); each
  response's status line, \`Content-Length\` or chunked body is parsed
  (bench/http_resp.c) and a response counts when it is whole; a status
  other than 200 or a malformed response is an error. The reference is
  nginx with $NCPU worker processes, in the same run. \`GET /\` is answered
  by nginx's \`return 200 "$GREETING\\n"\` inside its worker, with no
  other process involved; swx-server answers it with the http_hello
  plugin, and every request crosses reactor thread -> worker process ->
  reactor: the reactor parses the request, sends it over a Unix socket to a
  worker, the worker's \`on_request\` builds the response and sends it back,
  and the reactor writes it. That hop (two more socket writes and reads, and
  a wake-up of another process per request) is what nginx does not pay.
  swx-server also reads one request per connection at a time, so pipelined
  requests wait in the socket until the one before has come back from the
  worker, where nginx answers a whole pipelined batch in one pass. \`GET
  /$STATIC\` is a $FILE_SIZE-byte file from the \`document_root\`, which
  swx-server's reactor threads answer themselves with \`sendfile(2)\`, as
  nginx's workers do: the same path length on both sides. The \`/\` request
  goes through the \`document_root\` too (the root is a directory without
  \`index.html\`), so swx-server's plugin path also pays one file-system
  call (the \`openat2\` of the missing index file) before the request
  reaches the worker. "bytes/response" is the
  average size of a response, head included: the servers do not send the
  same headers.
$(alog_intro)
$(t_intro)
$(tls_intro)
$(coro_intro)

Re-run: \`./bench/run.sh\` (about $(run_seconds 1) s;
BENCH_SUITES, BENCH_DURATION, BENCH_WARMUP, BENCH_SIZE, BENCH_FILE_SIZE,
BENCH_THREADS, BENCH_CONFIGS, BENCH_ROUNDS, BENCH_PERF, BENCH_IDLE_CONNS tune it). To compare two builds of swx-server,
say before and after a change, in the same run against the same references,
set \`BENCH_BASELINE\` to the meson build dir of the other one (about
$(run_seconds 2) s); bench/run.sh's header shows how to make one.

## Machine

$(machine)
EOF
}

coro_intro() {
    suite_on coroutine || return 0
    printf '%s\n' '- **coroutine**: the HTTP `GET /` and the echo benchmarks of the current
  build, twice per configuration, back to back: with
  `server.enable_coroutine` false (callbacks are plain calls) and true
  (each callback runs in a coroutine from the pool). The **on / off** row
  is what running callbacks in coroutines costs in server CPU time per
  request; the target is at most 5 % more.'
}

alog_intro() {
    suite_on access_log || return 0
    printf '%s\n' '- **access_log**: the HTTP `GET /` benchmark of the current build, twice
  per configuration, back to back: without an access log and with
  `server.access_log` writing every request to a file in the temp dir
  (nginx'"'"'s combined format). The **on / off** row is what the access log
  costs in server CPU time per request.'
}

# run_seconds BUILDS: the measured runs' wall time, roughly, with BUILDS
# swx builds: per configuration and server, the warm-up, the run and a
# second of start-up.
run_seconds() {
    local runs=0 n
    n=$(($(wc -w <<<"$CONFIGS") * (1 + $1)))
    ! suite_on echo || runs=$((runs + n))
    ! suite_on http || runs=$((runs + n * $(wc -w <<<"$TARGETS")))
    ! suite_on access_log || runs=$((runs + 2 * $(wc -w <<<"$CONFIGS")))
    # targets: echo 2 loads x (5 + 1) servers, wrk x (5 + 1) and 4 paced
    # runs, each ROUNDS times; swx-loadgen x (5 + 1); then about 30 s for
    # the memory rows.
    ! suite_on targets || runs=$((runs + ROUNDS * (2 * (5 + $1 - 1) + (5 + $1 - 1) + 4) + (5 + $1 - 1)))
    ! suite_on coroutine || runs=$((runs + 4 * $(wc -w <<<"$CONFIGS")))
    # tls: 3 benchmarks x 3 servers x ROUNDS.
    ! suite_on tls || runs=$((runs + 9 * ROUNDS))
    echo $((runs * (DURATION + WARMUP + 1) + $(suite_on targets && echo 30 || echo 0)))
}

# shellcheck disable=SC2016  # the backquotes are Markdown's
report_configs() {
    printf '\n## Server configurations\n'
    if suite_on echo; then
        printf '\nswx-server, echo:\n\n```json\n%s\n```\n' \
            "$(echo_config "<build>/$ECHO_PLUGIN" "<free port>")"
    fi
    if suite_on http; then
        printf '\nswx-server, HTTP:\n\n```json\n%s\n```\n' \
            "$(http_config "<build>/$HTTP_PLUGIN" "<free port>" "<tmp>/www")"
    fi
    if suite_on targets; then
        printf '\nswx-server in base mode, targets (HTTP; echo has the echo plugin and worker_num 1;\n'
        printf 'the process-mode configurations have `"reactor_num"` in place of `"mode": "base"`, with\n'
        printf 'the numbers of the table rows, and those marked open_cpu_affinity `"open_cpu_affinity": true`):\n\n```json\n%s\n```\n' \
            "$(T_SRV=bm t_http_cfg "<build>/$HTTP_PLUGIN" "<free port>" "<tmp>/www")"
    fi
    if suite_on http || suite_on targets; then
        printf '\nnginx, HTTP (run as `nginx -p <tmp>/nginx -c <tmp>/nginx/nginx.conf -g '"'"'daemon off;'"'"'`;'
        ! suite_on targets || printf '\nin targets with `worker_connections %s`, for the idle connections' "$((IDLE_N + 1024))"
        printf '):\n\n```nginx\n%s\n```\n' "$(nginx_config "<tmp>/nginx" "<free port>" "<tmp>/www")"
    fi
    tls_configs
    if suite_on access_log; then
        printf '\nswx-server, HTTP with access_log (the same without it is the HTTP one):\n\n```json\n%s\n```\n' \
            "$(access_log_config "<build>/$HTTP_PLUGIN" "<free port>" "<tmp>/www")"
    fi
}

report_notes() {
    local k
    if [ "$BUSY_BEFORE" -ge 10 ]; then
        printf '\n**The machine was not idle when measuring began (CPUs %s%% busy):' "$BUSY_BEFORE"
        printf ' other work shared the CPUs, so these numbers are noisier than usual.**\n'
    fi
    for k in $BUILDS; do
        [ -n "${SWX_NOTE[$k]}" ] || continue
        printf '\n**%s was not measured in full in this run: %s.**' "$(build_label "$k")" "${SWX_NOTE[$k]}"
        printf ' Its missing rows read n/a.\n'
    done
    if { suite_on http || suite_on tls; } && [ -n "$NGINX_NOTE" ]; then
        printf '\n**nginx was not measured in this run: %s.** Its rows read n/a.\n' "$NGINX_NOTE"
    fi
}

report() {
    report_intro
    report_configs
    report_notes
    printf '\n## Results\n\n'
    cat "$TMP/tables.md"
}

ulimit -n "${BENCH_NOFILE:-65536}" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
IDLE_N=$(($(ulimit -n) - 1024))
[ "$IDLE_N" -le 25000 ] || IDLE_N=25000
IDLE_N=${BENCH_IDLE_CONNS:-$IDLE_N}
for s in $SUITES; do
    [ "$s" = echo ] || [ "$s" = http ] || [ "$s" = access_log ] || [ "$s" = targets ] ||
        [ "$s" = coroutine ] || [ "$s" = tls ] ||
        { log "BENCH_SUITES: unknown suite '$s'"; exit 2; }
done
build_baseline
build
for k in $BUILDS; do
    COMMIT[$k]=$(commit_of "$k")
    log "$(build_label "$k"): ${BDIR[$k]}"
done
BUSY_BEFORE=$(cpu_busy)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$BUSY_BEFORE" -lt 10 ] || log "CPUs already ${BUSY_BEFORE}% busy: the numbers will be noisy"
if suite_on targets; then
    run_targets
fi
if suite_on echo; then
    run_echo
fi
if suite_on http; then
    run_http
fi
if suite_on tls; then
    run_tls
fi
if suite_on access_log; then
    run_access_log
fi
if suite_on coroutine; then
    run_coroutine
fi
tables >"$TMP/tables.md"
report >"$TMP/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$TMP/report.md" "$OUT"
echo
cat "$TMP/tables.md"
log "wrote ${OUT#"$ROOT"/}"
exit "$STATUS"
