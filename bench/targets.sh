# targets.sh: the "targets" suite of bench/run.sh (sourced by it): swx base and process mode against nginx (wrk) and the bare epoll echo loop, idle-connection memory, p99 at half of peak, the chart, and whether each target of the page is met.
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2004,SC2154  # RES, SRV_PID... are run.sh's associative arrays

T_CONNS=64
T_ECHO_CFGS="$T_CONNS:1 $T_CONNS:16"
T_PERF_SECS=4
declare -A T_NOTE=()
# The figures of this tree's process mode before the faster-process-mode
# change, from the last full run before it (docs/benchmarks.md of
# 2026-12-06 07:13 UTC, commit d851943, BENCH_REPEAT=3 medians, swx-loadgen
# with 50 connections): server CPU µs per request. Quoted in the page; the
# target's ratio uses them when no BENCH_BASELINE build is measured.
PRE_COMMIT=d851943
PRE_HTTP_CPU=46.263
PRE_ECHO_CPU_PP=31.782
PRE_ECHO_CPU_PL=1.890

# The servers of the suite. The targets compare loops with loops: bm and
# pm run as many event loops as the reference they are measured against
# (nginx: NCPU workers; the epoll echo loop: one), so that on a small
# machine that shares its CPUs with the load generator no server gets more
# runnable threads than the other. bm: base mode, worker_num = the
# reference's loops. pm: process mode, reactor_num + worker_num = the
# reference's loops, one each at least. bd and pd, for comparison, run
# the defaults (worker_num and reactor_num = CPUs, sched_policy other).
# bl: the baseline build with pd's configuration, the one its figures
# were measured with.
t_servers() {
    echo "ref bm pm bd pd"
    [ "$BUILDS" = cur ] || echo bl
}

# t_shape SRV KIND: "MODE REACTORS WORKERS" of swx server SRV for KIND.
t_shape() {
    local loops=1 r
    [ "$2" = echo ] || loops=$NCPU
    r=$((loops / 2))
    [ "$r" -ge 1 ] || r=1
    case $1 in
    bm) echo "base 0 $loops" ;;
    pm) echo "process $r $((loops - r > 0 ? loops - r : 1))" ;;
    bd) echo "base 0 $NCPU" ;;
    *) echo "process $NCPU $NCPU" ;;
    esac
}

t_label() {
    local mode r w
    read -r mode r w <<<"$(t_shape "$1" "$2")"
    case $1 in
    ref) [ "$2" = echo ] && echo "epoll-echo (reference, one loop)" || echo "nginx (reference, $NCPU workers)" ;;
    bm) echo "swx-server, base mode, worker_num $w, sched_policy batch" ;;
    bd) echo "swx-server, base mode, worker_num $w" ;;
    pm) echo "swx-server, process mode, reactor_num $r, worker_num $w, open_cpu_affinity" ;;
    pd) echo "swx-server, process mode, reactor_num $r, worker_num $w" ;;
    bl) echo "swx-server baseline (${COMMIT[base]}), process mode, reactor_num $r, worker_num $w" ;;
    esac
}

# t_server_json SRV KIND: the "server" object; a process-mode one names no
# mode, so that a baseline build from before server.mode reads it too. pm
# pins its reactor thread and its worker to the same CPU
# (open_cpu_affinity: both are number 0): every hand-off between them is
# then a wake-up on that CPU, and the load generator keeps the other. bm
# runs its workers as SCHED_BATCH (sched_policy): a worker woken by the
# load generator's request waits for the generator's time slice instead
# of preempting it, and finds more requests when it runs (T_BM_SCHED,
# which the tls suite's base mode sets too).
T_BM_SCHED='"sched_policy": "batch"'
t_server_json() {
    local mode r w extra=""
    read -r mode r w <<<"$(t_shape "$1" "$2")"
    if [ "$mode" = base ]; then
        mode='"mode": "base", '
    else
        mode="\"reactor_num\": $r, "
    fi
    [ "$1" != pm ] || extra=', "open_cpu_affinity": true'
    [ "$1" != bm ] || extra=", $T_BM_SCHED"
    echo "\"server\": { ${mode}\"worker_num\": $w, \"log_level\": \"warning\", \"max_conn\": $((IDLE_N + 1024))$extra }"
}

# The server t_echo_cfg and t_http_cfg write the configuration of
# (swx_up calls them with the plugin, the port and the document root).
T_SRV=bm

t_echo_cfg() {
    cat <<EOF
{ $(t_server_json "$T_SRV" echo),
  "plugins": [ { "name": "echo", "path": "$1" } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $2, "plugin": "echo" } ] }
EOF
}

# No document_root: nginx answers its "location = /" without looking at
# the disk, and swx without a static handler does the same (with one, every
# GET / first looks for an index file, a failed openat2 per request).
t_http_cfg() {
    cat <<EOF
{ $(t_server_json "$T_SRV" http),
  "plugins": [ { "name": "http_hello", "path": "$1",
                 "config": { "greeting": "$GREETING" } } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $2, "plugin": "http_hello",
                   "protocol": "http" } ] }
EOF
}

# t_up SRV KIND: starts server SRV (bm, pm or bl) of KIND (echo or http)
# and checks it answers; sets SRV_PID[SRV], or T_NOTE[SRV] when it cannot.
# A failure leaves the build's other servers measured.
t_up() {
    local srv=$1 kind=$2 k=cur plugin=$ECHO_PLUGIN note
    [ "$srv" != bl ] || k=base
    [ "$kind" = echo ] || plugin=$HTTP_PLUGIN
    note=${SWX_NOTE[$k]}
    T_SRV=$srv
    swx_up "$k" "t$kind-$srv" "$plugin" "t_${kind}_cfg"
    SRV_PID[$srv]=${SRV_PID[$k]}
    SRV_PORT[$srv]=${SRV_PORT[$k]}
    SRV_PID[$k]=
    if [ -n "${SRV_PID[$srv]}" ]; then
        if [ "$kind" = echo ] && ! load_works "${SRV_PID[$srv]}" "${SRV_PORT[$srv]}" -s "$SIZE"; then
            SWX_NOTE[$k]="failed the echo check"
        elif [ "$kind" = http ] && ! t_http_works "t-$srv" "${SRV_PID[$srv]}" "${SRV_PORT[$srv]}"; then
            SWX_NOTE[$k]="failed the HTTP check"
        fi
    fi
    [ "${SWX_NOTE[$k]}" != "$note" ] || return 0
    T_NOTE[$srv]="$(t_label "$srv" "$kind"), $kind: ${SWX_NOTE[$k]}"
    log "${T_NOTE[$srv]}"
    SWX_NOTE[$k]=$note
    SRV_PID[$srv]=
    STATUS=1
}

# t_http_works NAME PID PORT: GET / answers the greeting, and swx-loadgen
# can load it (the targets' configuration serves no files).
t_http_works() {
    printf '%s\n' "$GREETING" >"$TMP/hello.expected"
    curl -s -f --max-time 10 -o "$TMP/$1.hello" "http://127.0.0.1:$3/" &&
        cmp -s "$TMP/$1.hello" "$TMP/hello.expected" &&
        load_works "$2" "$3" --http / || { log "$1 does not serve the greeting"; return 1; }
}

# tree_ticks PGID: "ticks processes": utime + stime of every process of
# the process group (a server started by start_server, workers included).
tree_ticks() {
    # A process may end between the listing and the read: cat fails then.
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v g="$1" '{ sub(/^.*\) /, "") }
        $3 == g { t += $12 + $13; n++ } END { print t + 0, n + 0 }'
}

# wrk_line FILE TICKS_BEFORE TICKS_AFTER: wrk's --latency output as a
# result line in swx-loadgen's KEY=VALUE form, with the server's CPU time.
wrk_line() {
    awk -v a="$2" -v b="$3" -v hz="$(getconf CLK_TCK)" '
        function us(s) {
            if (s ~ /us$/) return s + 0
            if (s ~ /ms$/) return s * 1000
            if (s ~ /m$/) return s * 60e6
            return s * 1e6
        }
        $1 == "50%" { p50 = us($2) } $1 == "90%" { p90 = us($2) } $1 == "99%" { p99 = us($2) }
        / requests in / { req = $1; d = $4; sub(/,$/, "", d); dur = us(d) / 1e6 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { err += $NF }
        END {
            split(a, x, " "); split(b, y, " ")
            printf "requests=%d duration=%.3f rps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f errors=%d",
                req, dur, rps, p50, p90, p99, err
            cpu = (y[1] - x[1]) / hz
            if (req > 0 && x[2] == y[2]) printf " server_cpu_s=%.2f cpu_us_per_req=%.3f server_procs=%d", cpu, cpu * 1e6 / req, y[2]
            else printf " server_cpu_s=n/a cpu_us_per_req=n/a server_procs=n/a"
            print " load=wrk"
        }' "$1"
}

# run_wrk SECONDS URL [ARGS...]: one bounded wrk run, output in $TMP/wrk.out;
# WRK_THREADS threads (default 1).
run_wrk() {
    local secs=$1 url=$2 rc=0
    shift 2
    timeout --foreground -s INT "$((secs + 30))" "$WRK" -t"${WRK_THREADS:-1}" -c"$T_CONNS" -d"${secs}s" "$@" "$url" >"$TMP/wrk.out" 2>&1 || rc=$?
    if [ "$rc" -eq 130 ] || [ "$rc" -gt 128 ]; then
        log "wrk stopped by a signal; stopping"
        exit "$rc"
    fi
    [ "$rc" -eq 0 ] || log "wrk exited with $rc: $(tail -1 "$TMP/wrk.out")"
}

# t_wrk SRV ROUND: HTTP GET / from wrk, after a warm-up run in the first
# round; RES[t-wrk-SRV,1].
t_wrk() {
    local srv=$1 pid=${SRV_PID[$1]} url t0 t1 c0 c1 o0 o1
    [ -n "$pid" ] || return 0
    url="http://127.0.0.1:${SRV_PORT[$srv]}/"
    log "t-wrk-$srv (round $2): wrk -t1 -c$T_CONNS --latency $url"
    [ "$WARMUP" -eq 0 ] || [ "$2" -gt 1 ] || run_wrk "$WARMUP" "$url"
    c0=$(cpu_jiffies | tr ' ' ,)
    o0=$(own_jiffies "$pid")
    t0=$(tree_ticks "$pid")
    run_wrk "$DURATION" "$url" --latency
    t1=$(tree_ticks "$pid")
    c1=$(cpu_jiffies | tr ' ' ,)
    o1=$(own_jiffies "$pid")
    RES[t-wrk-$srv,1]="$(wrk_line "$TMP/wrk.out" "$t0" "$t1") other_cpu=$(other_cpu "$c0" "$c1" "$o0" "$o1")"
    log "  ${RES[t-wrk-$srv,1]}"
}

# t_half SRV: paced HTTP GET / at half the requests/s wrk found; the p99
# of that is the latency target's figure.
t_half() {
    local srv=$1 rps
    rps=$(field "${RES[t-wrk-$1,1]:-}" rps)
    [ -n "${SRV_PID[$srv]}" ] && [ "${rps:-0}" -ge 2 ] || return 0
    LOADGEN_CPU=$(t_last_cpu) measure t-half "$srv" "$T_CONNS:1" --http / -r $((rps / 2))
}

# t_last_cpu: the last CPU this script may run on, where the paced load
# generator runs for every server (empty with one CPU). pm pins its
# reactor thread and worker to the first (open_cpu_affinity) so that the
# generator keeps another; left to the scheduler, the generator ran on
# the pinned CPU about a third of the time, and the server's CPU, 94%
# busy at half of its peak, was then oversubscribed.
t_last_cpu() {
    local cpus
    [ "$NCPU" -gt 1 ] || return 0
    cpus=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//')
    grep -oE '[0-9]+$' <<<"$cpus" || true
}

# t_mem SRV: RSS per idle keep-alive connection; RES[t-mem-SRV,1].
t_mem() {
    local srv=$1 rc=0
    [ -n "${SRV_PID[$srv]}" ] || return 0
    log "t-mem-$srv: $IDLE_N idle keep-alive connections"
    timeout --foreground 300 python3 "$ROOT/bench/idle_conns.py" "${SRV_PORT[$srv]}" "$IDLE_N" "${SRV_PID[$srv]}" \
        >"$TMP/idle.out" 2>>"$TMP/idle.err" || rc=$?
    [ "$rc" -le 128 ] || exit "$rc"
    RES[t-mem-$srv,1]=$(tail -1 "$TMP/idle.out")
    log "  ${RES[t-mem-$srv,1]}"
}

# t_perf SRV NAME LOAD...: BENCH_PERF=1: the top symbols of the server's
# processes while LOAD runs (T_PERF_SECS seconds), in $TMP/perf-NAME-SRV.txt.
t_perf() {
    local srv=$1 name=$2 pids ppid
    shift 2
    [ "${BENCH_PERF:-0}" = 1 ] && [ -n "${SRV_PID[$srv]}" ] || return 0
    command -v perf >/dev/null || { log "BENCH_PERF: no perf on PATH"; return 0; }
    pids=$(pgrep -g "${SRV_PID[$srv]}" | paste -sd, -)
    log "perf: $name, $(t_label "$srv" "$name") ($pids)"
    timeout 60 perf record -q -F 499 -o "$TMP/perf.data" -p "$pids" -- sleep "$T_PERF_SECS" \
        >/dev/null 2>>"$TMP/perf.err" &
    ppid=$!
    "$@" >/dev/null 2>&1 || true
    wait "$ppid" || true
    timeout --foreground 60 perf report -i "$TMP/perf.data" --stdio --no-children --sort comm,dso,symbol \
        --percent-limit 1.5 2>/dev/null | grep -v -e '^#' -e '^$' | sed -E 's/( +-)+ *$//' |
        head -25 >"$TMP/perf-$name-$srv.txt" || true
}

t_echo_phase() {
    local srv cfg round
    SRV_PORT[ref]=$(free_port)
    start_server t-epoll-echo "$ECHO_REF" "${SRV_PORT[ref]}"
    SRV_PID[ref]=$SERVER_PID
    if ! wait_port "${SRV_PORT[ref]}" "$SERVER_PID" || ! load_works "$SERVER_PID" "${SRV_PORT[ref]}" -s "$SIZE"; then
        T_NOTE[ref]="epoll-echo did not start or failed the echo check"
        SRV_PID[ref]=
        STATUS=1
    fi
    for srv in $(t_servers); do
        [ "$srv" = ref ] || t_up "$srv" echo
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for cfg in $T_ECHO_CFGS; do
            for srv in $(t_servers); do
                [ -n "${SRV_PID[$srv]}" ] || continue
                measure t-echo "$srv" "$cfg" -s "$SIZE"
                round_keep "t-echo-$srv" "$cfg" "$round"
            done
        done
    done
    for cfg in $T_ECHO_CFGS; do
        for srv in $(t_servers); do
            rounds_median "t-echo-$srv" "$cfg"
        done
    done
    for srv in bm pm; do
        t_perf "$srv" echo "$LOADGEN" -c "$T_CONNS" -d "$T_PERF_SECS" -w 0 -s "$SIZE" 127.0.0.1 "${SRV_PORT[$srv]}"
    done
    stop_all "$TMP"/swx-techo-*.log
}

t_http_phase() {
    local srv round
    make_docroot
    NGINX_WCONN=$((IDLE_N + 1024))
    nginx_up
    [ -n "$NGINX_NOTE" ] && T_NOTE[ref]="nginx: $NGINX_NOTE"
    for srv in $(t_servers); do
        [ "$srv" = ref ] || t_up "$srv" http
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for srv in $(t_servers); do
            t_wrk "$srv" "$round"
            round_keep "t-wrk-$srv" 1 "$round"
        done
    done
    for srv in $(t_servers); do
        rounds_median "t-wrk-$srv" 1
    done
    for srv in $(t_servers); do
        [ -z "${SRV_PID[$srv]}" ] || measure t-lg "$srv" "$T_CONNS:1" --http /
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for srv in ref bm pm pd; do
            t_half "$srv"
            round_keep "t-half-$srv" "$T_CONNS:1" "$round"
        done
    done
    for srv in ref bm pm pd; do
        rounds_median "t-half-$srv" "$T_CONNS:1" p99_us
    done
    for srv in ref bm pm; do
        t_mem "$srv"
    done
    for srv in bm pm; do
        t_perf "$srv" http run_wrk "$T_PERF_SECS" "http://127.0.0.1:${SRV_PORT[$srv]}/"
    done
    stop_all "$TMP"/swx-thttp-*.log "$TMP/nginx/error.log"
    NGINX_WCONN=
}

# Sets WRK, installing Debian's wrk when there is none.
find_wrk() {
    WRK=${WRK:-$(command -v wrk || true)}
    [ -z "$WRK" ] || return 0
    log "wrk not found; installing it with apt-get"
    apt_install wrk || { apt-get update -q >&2 && apt_install wrk; } || true
    WRK=$(command -v wrk || true)
}

run_targets() {
    find_wrk
    [ -n "$WRK" ] || { log "wrk is not installed and apt-get could not install it"; exit 1; }
    t_echo_phase
    t_http_phase
    t_chart
}

# ---- the report ----

# t_ratio KEY NUM_LINE DEN_LINE: one field's ratio of two result lines.
t_ratio() {
    ratio "$(field "$2" "$1")" "$(field "$3" "$1")"
}

# t_check VALUE OP GOAL: whether VALUE meets "OP GOAL" (>= or <=), and
# by how much it misses.
t_check() {
    awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
        if (v !~ /^[0-9]+(\.[0-9]+)?$/) { print "not measured"; exit }
        if (op == ">=" && v + 0 >= g + 0 || op == "<=" && v + 0 <= g + 0) { print "**met**"; exit }
        if (op == ">=") printf("**missed**: %.0f%% short of the goal\n", 100 * (g - v) / g)
        else printf("**missed**: %.0f%% over the goal (%.2fx)\n", 100 * (v - g) / g, v / g) }'
}

# t_target TEXT VALUE OP GOAL [UNIT [NOTE]]: one row of the targets table;
# NOTE follows the value in its cell.
t_target() {
    echo "| $1 | $2${5:+ $5}${6:+ $6} | $3 $4${5:+ $5} | $(t_check "$2" "$3" "$4") |"
}

# t_paired TEXT FIELD NUM_KEY DEN_KEY IDX OP GOAL: a target that is a ratio
# of two servers: the median of the rounds' ratios (paired_ratio), their
# spread beside it.
t_paired() {
    local med lo hi n note=
    read -r med lo hi n <<<"$(paired_ratio "$2" "$3" "$4" "$5")"
    [ "${n:-1}" -le 1 ] || note="(rounds $lo–$hi)"
    t_target "$1" "${med:-n/a}" "$6" "$7" "" "$note"
}

# The figure the process mode's CPU target compares with: the baseline
# build's in this run, or the quoted one.
t_pre() {
    local line=${RES[$1-bl,$2]:-}
    if [ -n "$line" ]; then
        field "$line" cpu_us_per_req
    else
        echo "$3"
    fi
}

t_targets_table() {
    local w=t-wrk e=t-echo pp=$T_CONNS:1 pl=$T_CONNS:16 src="quoted figure of $PRE_COMMIT, below"
    [ "$BUILDS" = cur ] || src="the baseline build in this run"
    echo "### Targets"
    echo
    echo "| target | measured | goal | verdict |"
    echo "|---|---:|---:|---|"
    t_paired "base mode: HTTP hello requests/s / nginx's (wrk)" rps $w-bm $w-ref 1 ">=" 1.05
    t_paired "base mode: HTTP hello server CPU per request / nginx's (wrk)" cpu_us_per_req $w-bm $w-ref 1 "<=" 1.00
    t_paired "base mode: echo ping-pong requests/s / epoll-echo's" rps $e-bm $e-ref "$pp" ">=" 0.95
    t_paired "base mode: echo pipelined (16) requests/s / epoll-echo's" rps $e-bm $e-ref "$pl" ">=" 0.95
    t_paired "process mode: HTTP hello requests/s / nginx's (wrk)" rps $w-pm $w-ref 1 ">=" 0.85
    t_paired "process mode: echo ping-pong requests/s / epoll-echo's" rps $e-pm $e-ref "$pp" ">=" 0.85
    t_paired "process mode: echo pipelined (16) requests/s / epoll-echo's" rps $e-pm $e-ref "$pl" ">=" 0.85
    t_target "process mode, defaults: HTTP hello CPU per request / before the change ($src)" \
        "$(t_pre_http_ratio)" "<=" 0.70
    t_target "process mode, defaults: echo ping-pong CPU per request / before the change" \
        "$(ratio "$(field "${RES[$e-pd,$pp]:-}" cpu_us_per_req)" "$(t_pre t-echo "$pp" "$PRE_ECHO_CPU_PP")")" "<=" 0.70
    t_target "process mode, defaults: echo pipelined CPU per request / before the change" \
        "$(ratio "$(field "${RES[$e-pd,$pl]:-}" cpu_us_per_req)" "$(t_pre t-echo "$pl" "$PRE_ECHO_CPU_PL")")" "<=" 0.70
    t_target "base mode: RSS per idle keep-alive connection" "$(field "${RES[t-mem-bm,1]:-}" rss_per_conn)" "<=" 2048 bytes
    t_target "process mode: RSS per idle keep-alive connection" "$(field "${RES[t-mem-pm,1]:-}" rss_per_conn)" "<=" 2048 bytes
    t_target "base mode: HTTP hello p99 at half of peak load" "$(field "${RES[t-half-bm,$pp]:-}" p99_us)" "<=" 1000 µs
    t_target "process mode: HTTP hello p99 at half of peak load" "$(field "${RES[t-half-pm,$pp]:-}" p99_us)" "<=" 1000 µs
    echo
    [ "${BENCH_PERF:-0}" = 1 ] ||
        printf '%s\n\n' "Where the time goes: run with \`BENCH_PERF=1\` for a perf profile of each swx-server under load."
}

# The process mode's HTTP CPU per request against the figure before the
# change: the baseline's wrk row in this run; the quoted figure was
# measured with swx-loadgen, so without a baseline the process mode's
# swx-loadgen row is compared with it.
t_pre_http_ratio() {
    if [ -n "${RES[t-wrk-bl,1]:-}" ]; then
        t_ratio cpu_us_per_req "${RES[t-wrk-pd,1]:-}" "${RES[t-wrk-bl,1]}"
    else
        ratio "$(field "${RES[t-lg-pd,$T_CONNS:1]:-}" cpu_us_per_req)" "$PRE_HTTP_CPU"
    fi
}

# t_table TITLE KIND KEY CONFIG: one benchmark, every server, and the
# ratios of each swx row to the reference (and to the baseline).
t_table() {
    local srv key=$3 cfg=$4 r=${RES[$3-ref,$4]:-}
    printf '#### %s\n\n' "$1"
    echo "| server | requests/s | p50 µs | p99 µs | errors | other CPU % | server CPU µs/request |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for srv in $(t_servers); do
        row "$(t_label "$srv" "$2")" "${RES[$key-$srv,$cfg]:-}"
    done
    ratio_row "base mode / reference" "${RES[$key-bm,$cfg]:-}" "$r" "" rps
    ratio_row "process mode / reference" "${RES[$key-pm,$cfg]:-}" "$r" "" rps
    ratio_row "base mode, defaults / reference" "${RES[$key-bd,$cfg]:-}" "$r" "" rps
    ratio_row "process mode, defaults / reference" "${RES[$key-pd,$cfg]:-}" "$r" "" rps
    [ "$BUILDS" = cur ] ||
        ratio_row "process mode, defaults / baseline" "${RES[$key-pd,$cfg]:-}" "${RES[$key-bl,$cfg]:-}" "" cpu_us_per_req
    echo
}

t_half_table() {
    local srv l
    printf '#### HTTP hello at half of peak load (swx-loadgen -r, %s connections)\n\n' "$T_CONNS"
    echo "| server | peak requests/s (wrk) | paced at | requests/s | p50 µs | p99 µs | p99.9 µs | errors | server CPU µs/request |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for srv in ref bm pm pd; do
        l=${RES[t-half-$srv,$T_CONNS:1]:-}
        echo "| $(t_label "$srv" http) | $(rps_cell "${RES[t-wrk-$srv,1]:-}") | $(cell "$l" rate) | $(cell "$l" rps)" \
             "| $(cell "$l" p50_us) | $(range_cell "$l" p99_us) | $(cell "$l" p999_us) | $(cell "$l" errors) | $(cell "$l" cpu_us_per_req) |"
    done
    echo
}

t_mem_table() {
    local srv l
    printf '#### Memory per idle keep-alive connection (open-file limit %s)\n\n' "$(ulimit -n)"
    [ "$(ulimit -n)" -ge $((25000 + 1024)) ] || printf '%s\n%s\n\n' \
        "The open-file limit could not be raised to ${BENCH_NOFILE:-65536} (\`ulimit -n\`), so $IDLE_N" \
        "connections were opened, not 25000."
    echo "| server | connections | processes | RSS before MiB | RSS after MiB | RSS bytes/connection | PSS bytes/connection |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for srv in ref bm pm; do
        l=${RES[t-mem-$srv,1]:-}
        echo "| $(t_label "$srv" http) | $(cell "$l" connections) | $(cell "$l" server_procs)" \
             "| $(t_mib "$(field "$l" rss_before)") | $(t_mib "$(field "$l" rss_after)")" \
             "| $(cell "$l" rss_per_conn) | $(cell "$l" pss_per_conn) |"
        [ -z "$(field "$l" error)" ] || echo "| ${srv}: $(field "$l" error | tr _ ' ') | | | | | | |"
    done
    echo
}

t_mib() {
    awk -v b="$1" 'BEGIN { if (b ~ /^[0-9]+$/) printf("%.1f\n", b / 1048576); else print "n/a" }'
}

t_pre_text() {
    cat <<EOF
#### This tree's process mode before the change

The last full run before the faster process mode (commit \`$PRE_COMMIT\`,
2026-12-06 07:13 UTC, on this 2-CPU machine, swx-loadgen, 50 connections,
medians of 3 runs) measured the process mode's server CPU time per request:
HTTP \`GET /\` $PRE_HTTP_CPU µs (pipeline 1), echo $PRE_ECHO_CPU_PP µs
(ping-pong) and $PRE_ECHO_CPU_PL µs (pipeline 16). With \`BENCH_BASELINE\`
set to a build of that commit, the target compares with the baseline's rows
of the same run (wrk for HTTP); without it, with these figures (HTTP: this
run's swx-loadgen row, as the figure was measured with swx-loadgen), which
is only indicative: another day, $T_CONNS connections, not 50, another
load on the machine.

EOF
}

t_perf_text() {
    local f
    [ "${BENCH_PERF:-0}" = 1 ] || return 0
    printf '### Profiles (perf, %s s under load, symbols above 1.5%%)\n\n' "$T_PERF_SECS"
    for f in "$TMP"/perf-*.txt; do
        [ -s "$f" ] || continue
        f=${f##*/perf-}
        f=${f%.txt}
        printf '#### %s, %s\n\n```\n' "${f%%-*}" "$(t_label "${f#*-}" "${f%%-*}")"
        cat "$TMP/perf-$f.txt"
        printf '```\n\n'
    done
}

t_tables() {
    local k
    t_targets_table
    for k in "${!T_NOTE[@]}"; do
        printf '**Not measured: %s.** Its rows read n/a.\n\n' "${T_NOTE[$k]}"
    done
    [ ! -s "${OUT%.md}.png" ] || printf '![requests/s and server CPU per request](%s)\n\n' "$(basename "${OUT%.md}.png")"
    printf '### Side by side: base mode, process mode and the references\n\n'
    t_table "HTTP GET /, wrk -t1 -c$T_CONNS (keep-alive)" http t-wrk 1
    t_table "HTTP GET /, swx-loadgen, $T_CONNS connections, pipeline 1" http t-lg "$T_CONNS:1"
    t_table "Echo ping-pong, $T_CONNS connections, $SIZE-byte messages" echo t-echo "$T_CONNS:1"
    t_table "Echo pipelined, $T_CONNS connections, pipeline 16, $SIZE-byte messages" echo t-echo "$T_CONNS:16"
    t_half_table
    t_mem_table
    t_pre_text
    t_perf_text
}

# t_chart: requests/s and server CPU per request of each server, for HTTP
# (wrk) and both echo loads, as a PNG next to the report.
t_chart() {
    local dat=$TMP/chart.dat png=${OUT%.md}.png srv t k c
    command -v gnuplot >/dev/null || apt_install gnuplot-nox || true
    command -v gnuplot >/dev/null || { log "no gnuplot: no chart"; return 0; }
    : >"$dat"
    for t in "t-wrk 1 http" "t-echo $T_CONNS:1 echo" "t-echo $T_CONNS:16 echo"; do
        read -r k c _ <<<"$t"
        for srv in $(t_servers); do
            printf '"%s" %s %s\n' "$(t_chart_label "$srv" "${t##* }")" \
                "$(cell "${RES[$k-$srv,$c]:-}" rps)" "$(cell "${RES[$k-$srv,$c]:-}" cpu_us_per_req)" >>"$dat"
        done
        printf '\n\n' >>"$dat"
    done
    mkdir -p "$(dirname "$png")"
    timeout 60 gnuplot -e "dat='$dat'; out='$png'; conns=$T_CONNS" "$ROOT/bench/chart.gp" 2>>"$TMP/gnuplot.err" ||
        { log "gnuplot failed: $(tail -3 "$TMP/gnuplot.err")"; rm -f "$png"; }
}

t_chart_label() {
    case $1 in
    ref) [ "$2" = echo ] && echo "epoll" || echo "nginx" ;;
    bm) echo "base w$(t_shape "$1" "$2" | cut -d' ' -f3) batch" ;;
    bd) echo "base w$(t_shape "$1" "$2" | cut -d' ' -f3)" ;;
    pm | pd) echo "process r$(t_shape "$1" "$2" | cut -d' ' -f2)w$(t_shape "$1" "$2" | cut -d' ' -f3)" ;;
    bl) echo "baseline" ;;
    esac
}

t_intro() {
    suite_on targets || return 0
    cat <<EOF
- **targets**: the targets of the base-mode and faster-process-mode work,
  as ratios measured in the same run: swx-server in base mode
  (\`server.mode: "base"\`) and in process mode, side by side with the
  references, all idle but for the one measured. HTTP \`GET /\` is loaded by
  wrk (Debian's package, \`wrk -t1 -c$T_CONNS --latency\`, no Lua; a
  ${WARMUP} s warm-up run first) against nginx ($NCPU workers, keep-alive);
  the wrk and echo rows are measured in $ROUNDS rounds, each round every
  server once in the same order, and a row is its round with the median
  requests/s, the lowest and highest of the rounds in brackets, so that a
  moment when the machine (a VM sharing its host) stalls one run does not
  decide a ratio. A target that is a ratio of two servers is the median
  of the rounds' ratios, each of two runs made one after the other (the
  lowest and highest beside it): a slow spell of the machine that spans
  a round slows both alike, where the medians of two rows may come from
  different rounds; the ratio rows under each table divide its rows;
  the server's CPU time is its process group's utime + stime from /proc
  read before and after the wrk run, divided by the requests wrk counted.
  The same load comes from swx-loadgen too. Echo is loaded by swx-loadgen
  with $T_CONNS connections, ping-pong and 16-deep pipelined, against the
  bare epoll loop. The rows the targets are read from give swx as many
  event loops as the reference has: against nginx, base mode with
  worker_num $NCPU and process mode with reactor_num + worker_num = $NCPU;
  against the one-loop epoll server, base mode with worker_num 1 and
  process mode with one reactor thread and one worker. These process-mode
  rows set \`open_cpu_affinity\`: the reactor thread and the worker
  (both number 0) share one CPU, so that each hand-off between them is a
  wake-up on that CPU and the load generator keeps the other one (on this
  2-CPU machine, the same peak requests/s as unpinned, and a lower p99 at
  half of peak). The base-mode rows set \`"sched_policy": "batch"\`:
  the workers run as SCHED_BATCH, so a worker woken by a request on the
  CPU where the load generator runs waits for the generator's time slice
  instead of preempting it, and finds more requests when it runs (the rows
  marked "defaults" leave Linux's usual policy). On a machine whose
  CPUs the load generator shares, more runnable threads than CPUs cost
  every server context switches and smaller batches per wake-up, so equal
  loops is the like-for-like comparison. The rows marked "defaults" run
  worker_num and reactor_num = CPUs, as swx does when they are not set
  (and as the process mode's "before the change" figures were measured),
  for comparison. The HTTP configurations have no document_root: nginx
  answers its \`location = /\` without looking at the disk, and so does swx
  without a static handler. **Latency at half of peak**: swx-loadgen \`-r\` paces
  \`GET /\` at half the requests/s wrk reached against that server, evenly
  spaced over $T_CONNS connections and sent on ticks at most every 50 µs
  (the end of the generator's \`epoll_pwait2\` timeout, timer slack 1 ns;
  a timerfd, set and read every tick, took about a tenth of the
  generator's CPU time, which the server beside it then lacked, and
  nginx's p50 here was 130-700 µs with it against 60-80 µs without); a
  request's latency runs from when it was due, so the wait for that tick
  and behind a slow request count; nginx is measured the same way, for
  reference, and so is process mode with its defaults, for comparison
  (the target is read from the pinned row: at half of its higher peak
  its one CPU is nearly always busy). In these runs the generator is
  pinned (\`taskset\`) to the last CPU, for every server alike: the
  pinned process-mode row keeps the first CPU for itself, and left to the
  scheduler the generator ran on that CPU about a third of the time,
  oversubscribing it. These runs too are made in $ROUNDS rounds, and
  a row is its round with the median p99 (the lowest and highest in
  brackets): a stall of the whole machine of about 100 ms, which this
  virtual machine shows now and then, delays more than 1% of a run's
  requests by itself. **Memory**:
  \`bench/idle_conns.py\` opens as many keep-alive connections as the
  open-file limit allows (at most 25000, for the loopback port range; the
  limit is raised with \`ulimit -n\` where allowed), makes one request on
  each and leaves them idle; the RSS of every process of the server (from
  /proc/PID/smaps_rollup) is summed before and after, and the difference is
  divided by the connections. PSS, which splits shared pages among the
  processes that map them, is shown too. Kernel socket buffers are in
  neither. nginx allocates its connection structures for all of its
  \`worker_connections\` at start, so its "before" already holds most of
  what its connections use. With \`BENCH_PERF=1\`, \`perf record\` samples each swx-server
  for ${T_PERF_SECS} s under load and the page lists the top symbols.
EOF
}
