#!/usr/bin/env bash
# run.sh: echo and HTTP benchmarks, swx-server against a reference (bare epoll echo; nginx) in one run; writes docs/benchmarks.md.
#
# Environment (all optional):
#   BUILD_DIR       meson build dir (default ./build; set up if missing)
#   BENCH_SUITES    the suites to run, "echo", "http" or both (default "echo http");
#                   the report holds only the suites run
#   BENCH_DURATION  measured seconds per configuration (default 6, loadgen caps at 60)
#   BENCH_WARMUP    warm-up seconds per configuration (default 1)
#   BENCH_SIZE      echo message size in bytes (default 64)
#   BENCH_FILE_SIZE HTTP: size in bytes of the static file both servers send (default 4096)
#   BENCH_THREADS   loadgen threads, 0 = one per CPU (default 1)
#   BENCH_CONFIGS   space-separated CONNECTIONS:PIPELINE pairs, every suite (default "50:1 50:16 1000:1")
#   BENCH_OUT       report path (default docs/benchmarks.md)
#   NGINX           the nginx binary (default: nginx on PATH or /usr/sbin/nginx; when there is
#                   none, the Debian package is installed with apt-get)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(realpath -m "${BUILD_DIR:-$ROOT/build}")
SUITES=${BENCH_SUITES:-"echo http"}
DURATION=${BENCH_DURATION:-6}
WARMUP=${BENCH_WARMUP:-1}
SIZE=${BENCH_SIZE:-64}
FILE_SIZE=${BENCH_FILE_SIZE:-4096}
THREADS=${BENCH_THREADS:-1}
CONFIGS=${BENCH_CONFIGS:-"50:1 50:16 1000:1"}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
NCPU=$(nproc)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/swx-bench.XXXXXX")
LOADGEN=$BUILD/bench/swx-loadgen
ECHO_REF=$BUILD/bench/epoll-echo
SWX=$BUILD/server/swx-server
ECHO_PLUGIN=$BUILD/plugins/echo/libswx_echo.so
HTTP_PLUGIN=$BUILD/plugins/http_hello/libswx_http_hello.so
GREETING="Hello from swx!"
STATIC=static.txt
# name:path pairs the HTTP suite requests
TARGETS="hello:/ static:/$STATIC"
NGINX_BIN=
PIDS=()
SERVER_PID=
REF_PID=
REF_PORT=
SWX_PID=
SWX_PORT=
LINE=
LOAD_BEFORE=
BUSY_BEFORE=
SWX_NOTE=""
NGINX_NOTE=""
STATUS=0
declare -A RES

log() { echo "run.sh: $*" >&2; }

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
    if ! ninja -C "$BUILD" server/swx-server plugins/echo/libswx_echo.so \
            plugins/http_hello/libswx_http_hello.so >&2; then
        SWX_NOTE="swx-server or its plugins failed to build"
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

# loadgen PGID PORT CONNS DEPTH DURATION WARMUP MODE_ARGS...: sets LINE to
# the result line; PGID is the server's, for the CPU accounting. Not in a
# subshell, so an interrupted load generator stops the script.
loadgen() {
    local pgid=$1 port=$2 conns=$3 depth=$4 dur=$5 warm=$6 rc=0 c0 c1 o0 o1
    shift 6
    c0=$(cpu_jiffies | tr ' ' ,)
    o0=$(own_jiffies "$pgid")
    "$LOADGEN" -c "$conns" -p "$depth" -d "$dur" -w "$warm" -t "$THREADS" "$@" \
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

# measure KEY PORT PID_VAR CONFIG MODE_ARGS...: one configuration against
# one server, the result in RES[KEY,CONFIG]; PID_VAR is emptied when the
# server died meanwhile.
measure() {
    local key=$1 port=$2 cfg=$4
    local -n pid_of=$3
    shift 4
    log "$key: ${cfg%%:*} connections, pipeline ${cfg##*:}"
    loadgen "$pid_of" "$port" "${cfg%%:*}" "${cfg##*:}" "$DURATION" "$WARMUP" "$@"
    log "  $LINE"
    RES[$key,$cfg]=$LINE
    if ! kill -0 "$pid_of" 2>/dev/null; then
        log "$key: the server exited during the run"
        STATUS=1
        pid_of=
    fi
}

# bench_pair KEY MODE_ARGS...: every configuration against the reference
# and then swx-server, back to back, so that work elsewhere on the machine
# disturbs both alike; results in RES[KEY-ref,CONFIG] and RES[KEY-swx,CONFIG].
bench_pair() {
    local key=$1 cfg
    shift
    for cfg in $CONFIGS; do
        [ -z "$REF_PID" ] || measure "$key-ref" "$REF_PORT" REF_PID "$cfg" "$@"
        [ -z "$SWX_PID" ] || measure "$key-swx" "$SWX_PORT" SWX_PID "$cfg" "$@"
    done
}

# stop_all LOG...: stops every server started, then shows what their logs
# say of errors.
stop_all() {
    local pid f
    for pid in "${PIDS[@]}"; do
        stop_server "$pid"
    done
    PIDS=()
    REF_PID=
    SWX_PID=
    for f in "$@"; do
        if grep -q -i -E 'error|fatal|emerg|crit' "$f" 2>/dev/null; then
            log "${f##*/} holds errors (first lines):"
            grep -m 5 -i -E 'error|fatal|emerg|crit' "$f" >&2
        fi
    done
}

# swx_fails NOTE: swx-server is not measured further, for the reason NOTE.
swx_fails() {
    SWX_NOTE=$1
    SWX_PID=
    STATUS=1
    log "$SWX_NOTE"
}

# swx_up NAME PLUGIN PORT: starts swx-server with $TMP/NAME.json, which
# serves PORT; sets SWX_PID and SWX_PORT, or SWX_NOTE when it cannot.
swx_up() {
    local name=$1 plugin=$2
    SWX_PID=
    SWX_PORT=$3
    if [ -n "$SWX_NOTE" ]; then
        log "$SWX_NOTE; measuring the references only"
        STATUS=1
        return 0
    fi
    if [ ! -x "$SWX" ] || [ ! -f "$plugin" ]; then
        swx_fails "swx-server or the ${plugin##*/} plugin was not built"
        return 0
    fi
    start_server "$name" "$SWX" --config "$TMP/$name.json"
    if wait_port "$SWX_PORT" "$SERVER_PID"; then
        SWX_PID=$SERVER_PID
        return 0
    fi
    swx_fails "swx-server did not start"
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
    local port
    REF_PORT=$(free_port)
    start_server epoll-echo "$ECHO_REF" "$REF_PORT"
    REF_PID=$SERVER_PID
    wait_port "$REF_PORT" "$REF_PID" || { cat "$TMP/epoll-echo.log" >&2; log "epoll-echo did not start"; exit 1; }
    load_works "$REF_PID" "$REF_PORT" -s "$SIZE" || { log "epoll-echo failed the echo check"; exit 1; }
    port=$(free_port)
    echo_config "$ECHO_PLUGIN" "$port" >"$TMP/swx-echo.json"
    swx_up swx-echo "$ECHO_PLUGIN" "$port"
    if [ -n "$SWX_PID" ] && ! load_works "$SWX_PID" "$SWX_PORT" -s "$SIZE"; then
        swx_fails "swx-server failed the echo check"
    fi
    bench_pair echo -s "$SIZE"
    stop_all "$TMP/swx-echo.log"
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
events { worker_connections 16384; }
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
        curl -s -f -o "$TMP/$name.${t%%:*}" "http://127.0.0.1:$port${t#*:}" || return 1
    done
    if ! cmp -s "$TMP/$name.hello" "$TMP/hello.expected" || ! cmp -s "$TMP/$name.static" "$TMP/www/$STATIC"; then
        log "$name does not serve the expected bytes"
        return 1
    fi
    for t in $TARGETS; do
        load_works "$pid" "$port" --http "${t#*:}" || return 1
    done
}

# nginx_up: starts nginx from its own prefix in $TMP; sets REF_PID and
# REF_PORT, or NGINX_NOTE when it cannot.
nginx_up() {
    local dir=$TMP/nginx
    REF_PID=
    find_nginx
    if [ -n "$NGINX_NOTE" ]; then
        log "$NGINX_NOTE; measuring swx-server only"
        STATUS=1
        return 0
    fi
    mkdir -p "$dir"
    REF_PORT=$(free_port)
    nginx_config "$dir" "$REF_PORT" "$TMP/www" >"$dir/nginx.conf"
    start_server nginx "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;'
    if wait_port "$REF_PORT" "$SERVER_PID" && http_works nginx "$SERVER_PID" "$REF_PORT"; then
        REF_PID=$SERVER_PID
        return 0
    fi
    NGINX_NOTE="nginx did not start or failed the check"
    STATUS=1
    log "$NGINX_NOTE; its logs:"
    tail -20 "$TMP/nginx.log" "$dir/error.log" >&2 || true
}

# Both servers run side by side, idle but for the one measured.
run_http() {
    local port t
    make_docroot
    nginx_up
    port=$(free_port)
    http_config "$HTTP_PLUGIN" "$port" "$TMP/www" >"$TMP/swx-http.json"
    swx_up swx-http "$HTTP_PLUGIN" "$port"
    if [ -n "$SWX_PID" ] && ! http_works swx "$SWX_PID" "$SWX_PORT"; then
        swx_fails "swx-server failed the HTTP check"
    fi
    for t in $TARGETS; do
        bench_pair "http-${t%%:*}" --http "${t#*:}"
    done
    stop_all "$TMP/swx-http.log" "$TMP/nginx/error.log"
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

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# row LABEL LINE [COLUMN]: one table row from a loadgen result line, with
# an extra column (a loadgen field) when asked.
row() {
    local l=$2 extra=${3:+ n/a |}
    if [ -z "$l" ]; then
        echo "| $1 | n/a | n/a | n/a | n/a | n/a |$extra"
        return
    fi
    [ -z "${3:-}" ] || extra=" $(field "$l" "$3") |"
    echo "| $1 | $(field "$l" rps) | $(field "$l" p50_us) | $(field "$l" p99_us) | $(field "$l" errors)" \
         "| $(field "$l" other_cpu) |$extra"
}

# table TITLE REF_LABEL REF_LINE SWX_LINE [COLUMN]: one configuration.
table() {
    local r=$3 s=$4 col=${5:-}
    echo "#### $1"
    echo
    echo "| server | requests/s | p50 µs | p99 µs | errors | other CPU % |${col:+ bytes/response |}"
    echo "|---|---:|---:|---:|---:|---:|${col:+---:|}"
    row "$2" "$r" "$col"
    row "swx-server" "$s" "$col"
    echo "| **swx / reference** | **$(ratio "$(field "$s" rps)" "$(field "$r" rps)")** |" \
         "$(ratio "$(field "$s" p50_us)" "$(field "$r" p50_us)") |" \
         "$(ratio "$(field "$s" p99_us)" "$(field "$r" p99_us)") | | |${col:+ |}"
    echo
}

echo_tables() {
    local cfg
    for cfg in $CONFIGS; do
        table "${cfg%%:*} connections, pipeline ${cfg##*:}, $SIZE-byte messages" \
            "epoll-echo (reference)" "${RES[echo-ref,$cfg]:-}" "${RES[echo-swx,$cfg]:-}"
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
                "${RES[http-$name-ref,$cfg]:-}" "${RES[http-$name-swx,$cfg]:-}" resp_bytes
        done
    done
}

tables() {
    if suite_on echo; then
        printf '### Echo\n\n'
        echo_tables
    fi
    if suite_on http; then
        http_tables
    fi
}

machine() {
    echo "- CPUs (nproc): $NCPU"
    echo "- CPU model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- Kernel: $(uname -srm)"
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Before measuring: CPUs ${BUSY_BEFORE}% busy over 1 s, load average $LOAD_BEFORE"
    echo "- Load generator: swx-loadgen, $THREADS thread(s), ${WARMUP} s warm-up then" \
         "${DURATION} s measured per configuration"
    if suite_on http && [ -n "$NGINX_BIN" ]; then
        echo "- nginx: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
    fi
}

report_intro() {
    cat <<EOF
# Benchmarks

Generated by \`./bench/run.sh\`; do not edit by hand.

Two suites, each measuring swx-server against a reference server in the
same run of the script on the same machine, with the load generator
competing for the same CPUs. Both servers of a suite run side by side, idle
but for the one measured, and each configuration runs against the reference
and then against swx-server, back to back, so that other work on the
machine disturbs both alike. Absolute numbers depend on the machine; read
the **swx / reference** ratios (above 1 is better for requests/s, below 1 is
better for latency). On a small or shared machine the ratios move between
runs: repeat the run before reading much into a change. "other CPU %" is the
share of all CPU time (user + system) that processes other than the load
generator and the server under test used while that row ran; much above 10
means the row was disturbed by other work.

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
  \`index.html\`), so swx-server's plugin path also pays a few file-system
  calls before the request reaches the worker. "bytes/response" is the
  average size of a response, head included: the servers do not send the
  same headers.

Re-run: \`./bench/run.sh\` (about $(run_seconds) s;
BENCH_SUITES, BENCH_DURATION, BENCH_WARMUP, BENCH_SIZE, BENCH_FILE_SIZE,
BENCH_THREADS, BENCH_CONFIGS tune it).

## Machine

$(machine)
EOF
}

# The measured runs' wall time, roughly: per configuration, the warm-up,
# the run and a second of start-up.
run_seconds() {
    local runs=0 n
    n=$(wc -w <<<"$CONFIGS")
    ! suite_on echo || runs=$((runs + 2 * n))
    ! suite_on http || runs=$((runs + 2 * n * $(wc -w <<<"$TARGETS")))
    echo $((runs * (DURATION + WARMUP + 1)))
}

# shellcheck disable=SC2016  # the backquotes are Markdown's
report_configs() {
    printf '\n## Server configurations\n'
    if suite_on echo; then
        printf '\nswx-server, echo:\n\n```json\n%s\n```\n' \
            "$(echo_config "<build>/plugins/echo/libswx_echo.so" "<free port>")"
    fi
    if suite_on http; then
        printf '\nswx-server, HTTP:\n\n```json\n%s\n```\n' \
            "$(http_config "<build>/plugins/http_hello/libswx_http_hello.so" "<free port>" "<tmp>/www")"
        printf '\nnginx, HTTP (run as `nginx -p <tmp>/nginx -c <tmp>/nginx/nginx.conf -g '"'"'daemon off;'"'"'`):\n\n'
        printf '```nginx\n%s\n```\n' "$(nginx_config "<tmp>/nginx" "<free port>" "<tmp>/www")"
    fi
}

report_notes() {
    if [ "$BUSY_BEFORE" -ge 10 ]; then
        printf '\n**The machine was not idle when measuring began (CPUs %s%% busy):' "$BUSY_BEFORE"
        printf ' other work shared the CPUs, so these numbers are noisier than usual.**\n'
    fi
    if [ -n "$SWX_NOTE" ]; then
        printf '\n**swx-server was not measured in full in this run: %s.**' "$SWX_NOTE"
        printf ' Its missing rows read n/a.\n'
    fi
    if suite_on http && [ -n "$NGINX_NOTE" ]; then
        printf '\n**nginx was not measured in this run: %s.** Its rows read n/a.\n' "$NGINX_NOTE"
    fi
}

report() {
    report_intro
    report_configs
    report_notes
    printf '\n## Results\n\n'
    tables
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
for s in $SUITES; do
    [ "$s" = echo ] || [ "$s" = http ] || { log "BENCH_SUITES: unknown suite '$s'"; exit 2; }
done
build
BUSY_BEFORE=$(cpu_busy)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$BUSY_BEFORE" -lt 10 ] || log "CPUs already ${BUSY_BEFORE}% busy: the numbers will be noisy"
if suite_on echo; then
    run_echo
fi
if suite_on http; then
    run_http
fi
report >"$TMP/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$TMP/report.md" "$OUT"
echo
tables
log "wrote ${OUT#"$ROOT"/}"
exit "$STATUS"
