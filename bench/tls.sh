# tls.sh: the "tls" suite of bench/run.sh (sourced by it): HTTPS keep-alive hello (wrk), new TLS connections per second (wrk, Connection: close) and HTTP/2 (h2load, 8 connections x 8 streams), swx-server in base and process mode against nginx, same certificate, version, cipher and group.
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2004,SC2154  # RES, SRV_PID... are run.sh's associative arrays

# What both servers and every client are pinned to: TLS 1.3 with
# AES-128-GCM, X25519, and one ECDSA P-256 certificate.
TLS_VERSION=TLSv1.3
TLS_SUITE=TLS_AES_128_GCM_SHA256
TLS_GROUP=X25519
TLS_H2_CONNS=8
TLS_H2_STREAMS=8
# wrk's threads for HTTPS keep-alive: the fewest with which wrk is not
# what limits a server's figure (measured by hand: tls_intro).
# With one, base mode's figure was wrk's ceiling; new connections keep
# one: a second lowered every server's figure.
TLS_KA_THREADS=2
TLS_DIR=
H2LOAD=
declare -A TLS_NOTE=()

tls_label() {
    local mode r w
    read -r mode r w <<<"$(t_shape "$1" http)"
    case $1 in
    ref) echo "nginx (reference)" ;;
    bm) t_label bm http ;;
    pm) echo "swx-server, process mode, reactor_num $r, worker_num $w" ;;
    esac
}

# The certificate both servers serve, and the OpenSSL configuration the
# clients (wrk, h2load, curl, openssl s_client) load: they offer only
# TLS 1.3, AES-128-GCM and X25519, so every handshake negotiates the same.
tls_setup() {
    TLS_DIR=$TMP/tls
    "$ROOT/scripts/make_cert.sh" "$TLS_DIR" >&2
    chmod 755 "$TLS_DIR"
    chmod 644 "$TLS_DIR/key.pem" # nginx's workers run as nobody (a throwaway key)
    cat >"$TLS_DIR/client.cnf" <<EOF
openssl_conf = swx_bench
[swx_bench]
ssl_conf = swx_bench_ssl
[swx_bench_ssl]
system_default = swx_bench_client
[swx_bench_client]
MinProtocol = $TLS_VERSION
MaxProtocol = $TLS_VERSION
Ciphersuites = $TLS_SUITE
Groups = $TLS_GROUP
EOF
}

# Runs a client command with the pinned OpenSSL configuration.
tls_client() {
    OPENSSL_CONF=$TLS_DIR/client.cnf "$@"
}

# tls_json MODE PLUGIN PORT DOCROOT: swx's configuration, base or process,
# with as many event loops as nginx has workers (bench/targets.sh, t_shape),
# and no document_root (nginx's "location = /" looks at no file either).
tls_json() {
    local mode r w
    read -r mode r w <<<"$(t_shape "$([ "$1" = base ] && echo bm || echo pm)" http)"
    if [ "$mode" = base ]; then
        mode="\"mode\": \"base\", $T_BM_SCHED"
    else
        mode="\"reactor_num\": $r"
    fi
    cat <<EOF
{ "server": { $mode, "worker_num": $w, "log_level": "warning" },
  "plugins": [ { "name": "http_hello", "path": "$2",
                 "config": { "greeting": "$GREETING" } } ],
  "listeners": [ { "type": "tcp", "host": "127.0.0.1", "port": $3, "plugin": "http_hello",
                   "protocol": "http", "open_http2_protocol": true,
                   "ssl_cert_file": "$TLS_DIR/cert.pem", "ssl_key_file": "$TLS_DIR/key.pem",
                   "ssl_protocols": ["$TLS_VERSION"], "ssl_ecdh_curve": "$TLS_GROUP" } ] }
EOF
}
tls_json_base() { tls_json base "$@"; }
tls_json_proc() { tls_json process "$@"; }

# nginx_tls_config PREFIX PORT DOCROOT: nginx's configuration, the HTTP
# suite's with TLS and HTTP/2 on its listener.
nginx_tls_config() {
    nginx_config "$@" | sed -e "s|listen 127.0.0.1:$2;|listen 127.0.0.1:$2 ssl http2;\\
        ssl_certificate $TLS_DIR/cert.pem;\\
        ssl_certificate_key $TLS_DIR/key.pem;\\
        ssl_protocols $TLS_VERSION;\\
        ssl_conf_command Ciphersuites $TLS_SUITE;\\
        ssl_ecdh_curve $TLS_GROUP;|"
}

# tls_works SRV: GET / over HTTP/1.1 and HTTP/2 answers the greeting, and
# the handshake is the pinned one; 0 or 1, with the reason logged.
tls_works() {
    local port=${SRV_PORT[$1]} url out
    url="https://127.0.0.1:$port/"
    printf '%s\n' "$GREETING" >"$TMP/hello.expected"
    for v in --http1.1 --http2; do
        if ! tls_client curl -s -f -k "$v" --max-time 10 -o "$TMP/tls-$1.body" "$url" ||
            ! cmp -s "$TMP/tls-$1.body" "$TMP/hello.expected"; then
            log "$(tls_label "$1"): GET / $v over TLS failed"
            return 1
        fi
    done
    out=$(tls_client timeout 10 openssl s_client -connect "127.0.0.1:$port" -alpn h2 </dev/null 2>/dev/null |
        grep -m1 '^New, ')
    log "$(tls_label "$1"): $out"
    [[ $out == *"$TLS_VERSION, Cipher is $TLS_SUITE"* ]] ||
        { log "$(tls_label "$1"): not the pinned $TLS_VERSION $TLS_SUITE"; return 1; }
}

# tls_up SRV: starts swx-server (bm or pm) or nginx (ref) on a free port
# and checks it; sets SRV_PID[SRV], or TLS_NOTE[SRV] when it cannot.
tls_up() {
    local srv=$1 fn=tls_json_proc dir=$TMP/nginx-tls port
    SRV_PID[$srv]=
    if [ "$srv" = ref ]; then
        find_nginx
        [ -z "$NGINX_NOTE" ] || { TLS_NOTE[ref]="nginx: $NGINX_NOTE"; return 0; }
        mkdir -p "$dir"
        port=$(free_port)
        nginx_tls_config "$dir" "$port" "$TMP/www" >"$dir/nginx.conf"
        start_server nginx-tls "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;'
        wait_port "$port" "$SERVER_PID" && SRV_PID[ref]=$SERVER_PID && SRV_PORT[ref]=$port
    else
        [ "$srv" != bm ] || fn=tls_json_base
        swx_up cur "tls-$srv" "$HTTP_PLUGIN" "$fn"
        SRV_PID[$srv]=${SRV_PID[cur]}
        SRV_PORT[$srv]=${SRV_PORT[cur]}
        SRV_PID[cur]=
    fi
    [ -n "${SRV_PID[$srv]}" ] && tls_works "$srv" && return 0
    TLS_NOTE[$srv]="$(tls_label "$srv") did not start or failed the TLS check"
    log "${TLS_NOTE[$srv]}"
    SRV_PID[$srv]=
    STATUS=1
}

# tls_ticks_around KEY SRV CMD...: runs CMD (the measured load, its output
# in $TMP/load.out) between two readings of the server's CPU ticks and of
# the machine's; sets TLS_T0, TLS_T1 and TLS_OTHER.
tls_ticks_around() {
    local pid=${SRV_PID[$2]} c0 c1 o0 o1
    shift 2
    c0=$(cpu_jiffies | tr ' ' ,)
    o0=$(own_jiffies "$pid")
    TLS_T0=$(tree_ticks "$pid")
    "$@"
    TLS_T1=$(tree_ticks "$pid")
    c1=$(cpu_jiffies | tr ' ' ,)
    o1=$(own_jiffies "$pid")
    TLS_OTHER=$(other_cpu "$c0" "$c1" "$o0" "$o1")
}

# tls_wrk KEY SRV ROUND [WRK_ARGS...]: wrk over HTTPS after a warm-up run
# in the first round; RES[KEY-SRV,1].
tls_wrk() {
    local key=$1 srv=$2 round=$3 url
    shift 3
    [ -n "${SRV_PID[$srv]}" ] || return 0
    url="https://127.0.0.1:${SRV_PORT[$srv]}/"
    log "$key-$srv (round $round): wrk -t${WRK_THREADS:-1} -c$T_CONNS $* $url"
    [ "$WARMUP" -eq 0 ] || [ "$round" -gt 1 ] || tls_client run_wrk "$WARMUP" "$url" "$@"
    tls_ticks_around "$key" "$srv" tls_client run_wrk "$DURATION" "$url" --latency "$@"
    RES[$key-$srv,1]="$(wrk_line "$TMP/wrk.out" "$TLS_T0" "$TLS_T1") other_cpu=$TLS_OTHER"
    log "  ${RES[$key-$srv,1]}"
}

# run_h2load SECONDS URL: one bounded h2load run, output in $TMP/h2load.out.
run_h2load() {
    local rc=0
    timeout --foreground -s INT "$(($1 + 30))" "$H2LOAD" -t1 -c"$TLS_H2_CONNS" -m"$TLS_H2_STREAMS" \
        -D "$1" "$2" >"$TMP/h2load.out" 2>&1 || rc=$?
    [ "$rc" -le 128 ] || { log "h2load stopped by a signal; stopping"; exit "$rc"; }
    [ "$rc" -eq 0 ] || log "h2load exited with $rc: $(tail -1 "$TMP/h2load.out")"
}

# h2load_line FILE TICKS_BEFORE TICKS_AFTER: h2load's summary as a result
# line (KEY=VALUE); h2load gives a mean latency, no percentiles.
h2load_line() {
    awk -v a="$2" -v b="$3" -v hz="$(getconf CLK_TCK)" '
        function us(s) {
            if (s ~ /us$/) return s + 0
            if (s ~ /ms$/) return s * 1000
            return s * 1e6
        }
        /^finished in / { d = $3; sub(/s,$/, "", d); rps = $4 }
        /^requests: / { req = $8; err = $10 + $12 + $14 }
        /^time for request:/ { mean = us($6) }
        END {
            split(a, x, " "); split(b, y, " ")
            printf "requests=%d duration=%.3f rps=%.0f mean_us=%.1f errors=%d", req, d, rps, mean, err
            cpu = (y[1] - x[1]) / hz
            if (req > 0 && x[2] == y[2]) printf " server_cpu_s=%.2f cpu_us_per_req=%.3f", cpu, cpu * 1e6 / req
            else printf " server_cpu_s=n/a cpu_us_per_req=n/a"
            print " load=h2load"
        }' "$1"
}

# tls_h2 SRV ROUND: h2load over TLS (ALPN h2) after a warm-up run in the
# first round; RES[tls-h2-SRV,1].
tls_h2() {
    local srv=$1 url
    [ -n "${SRV_PID[$srv]}" ] || return 0
    url="https://127.0.0.1:${SRV_PORT[$srv]}/"
    log "tls-h2-$srv (round $2): h2load -t1 -c$TLS_H2_CONNS -m$TLS_H2_STREAMS $url"
    [ "$WARMUP" -eq 0 ] || [ "$2" -gt 1 ] || tls_client run_h2load "$WARMUP" "$url"
    tls_ticks_around tls-h2 "$srv" tls_client run_h2load "$DURATION" "$url"
    RES[tls-h2-$srv,1]="$(h2load_line "$TMP/h2load.out" "$TLS_T0" "$TLS_T1") other_cpu=$TLS_OTHER"
    log "  ${RES[tls-h2-$srv,1]}"
}

# Sets H2LOAD, installing Debian's nghttp2-client when there is none.
find_h2load() {
    H2LOAD=${H2LOAD_BIN:-$(command -v h2load || true)}
    [ -z "$H2LOAD" ] || return 0
    log "h2load not found; installing nghttp2-client with apt-get"
    apt_install nghttp2-client || { apt-get update -q >&2 && apt_install nghttp2-client; } || true
    H2LOAD=$(command -v h2load || true)
}

# tls_rounds KEY FN [ARGS...]: BENCH_ROUNDS rounds of FN, each nginx, then
# base mode, then process mode (FN is called as FN [ARGS...] SRV ROUND
# for tls_h2, FN ARG1 SRV ROUND [ARGS...] for tls_wrk); each server's
# row is its median round.
tls_rounds() {
    local key=$1 fn=$2 round srv
    shift 2
    for ((round = 1; round <= ROUNDS; round++)); do
        for srv in ref bm pm; do
            if [ "$fn" = tls_wrk ]; then
                tls_wrk "$1" "$srv" "$round" "${@:2}"
            else
                "$fn" "$srv" "$round"
            fi
            round_keep "$key-$srv" 1 "$round"
        done
    done
    for srv in ref bm pm; do
        rounds_median "$key-$srv" 1
    done
}

# The servers run side by side, idle but for the one measured; each
# benchmark runs against nginx, then base mode, then process mode.
run_tls() {
    local srv
    find_wrk
    find_h2load
    [ -n "$WRK" ] || { log "wrk is not installed and apt-get could not install it"; exit 1; }
    tls_setup
    make_docroot
    for srv in ref bm pm; do
        tls_up "$srv"
    done
    WRK_THREADS=$TLS_KA_THREADS tls_rounds tls-ka tls_wrk tls-ka
    tls_rounds tls-new tls_wrk tls-new -H "Connection: close"
    if [ -n "$H2LOAD" ]; then
        tls_rounds tls-h2 tls_h2
    else
        TLS_NOTE[h2]="h2load is not installed and apt-get could not install it: no HTTP/2 rows"
    fi
    stop_all "$TMP"/swx-tls-*.log "$TMP/nginx-tls/error.log"
}

# ---- the report ----

# tls_goals KEY WHAT GOAL_BASE GOAL_PROCESS: one benchmark's two rows of
# the targets table, base mode and process mode against nginx.
tls_goals() {
    local srv mode=base goal=$3
    for srv in bm pm; do
        [ "$srv" = bm ] || { mode=process; goal=$4; }
        t_paired "$mode mode: $2 / nginx's" rps "$1-$srv" "$1-ref" 1 ">=" "$goal"
    done
}

tls_targets_table() {
    echo "### TLS targets"
    echo
    echo "| target | measured | goal | verdict |"
    echo "|---|---:|---:|---|"
    tls_goals tls-ka "HTTPS keep-alive hello requests/s (wrk -t$TLS_KA_THREADS)" 1.00 0.85
    tls_goals tls-new "new TLS connections/s (wrk -t1, Connection: close)" 0.95 0.95
    tls_goals tls-h2 "HTTP/2 requests/s (h2load, $TLS_H2_CONNS x $TLS_H2_STREAMS streams)" 0.90 0.90
    echo
}

# tls_table TITLE KEY [COLUMN LABEL]: one benchmark, the three servers and
# the ratios of each swx row to nginx's; COLUMN (titled LABEL) replaces
# p50 and p99.
tls_table() {
    local srv l mid r=${RES[$2-ref,1]:-} head="p50 µs | p99 µs" gap="| | |" sep="---:|---:|"
    [ -z "${3:-}" ] || { head=$4; gap="| |"; sep="---:|"; }
    printf '#### %s\n\n' "$1"
    echo "| server | requests/s | $head | errors | other CPU % | server CPU µs/request |"
    echo "|---|---:|$sep---:|---:|---:|"
    for srv in ref bm pm; do
        l=${RES[$2-$srv,1]:-}
        mid="$(cell "$l" p50_us) | $(cell "$l" p99_us)"
        [ -z "${3:-}" ] || mid=$(cell "$l" "$3")
        echo "| $(tls_label "$srv") | $(rps_cell "$l") | $mid | $(cell "$l" errors) | $(cell "$l" other_cpu)" \
             "| $(cell "$l" cpu_us_per_req) |"
    done
    for srv in bm pm; do
        echo "| **$(tls_label "$srv" | sed 's/swx-server, //') / nginx** |" \
             "**$(t_ratio rps "${RES[$2-$srv,1]:-}" "$r")** $gap | | $(t_ratio cpu_us_per_req "${RES[$2-$srv,1]:-}" "$r") |"
    done
    echo
}

tls_tables() {
    local k
    tls_targets_table
    for k in "${!TLS_NOTE[@]}"; do
        printf '**Not measured: %s.** Its rows read n/a.\n\n' "${TLS_NOTE[$k]}"
    done
    printf '### TLS: base mode, process mode and nginx (%s, %s, %s, ECDSA P-256)\n\n' \
        "$TLS_VERSION" "$TLS_SUITE" "$TLS_GROUP"
    tls_table "HTTPS GET /, wrk -t$TLS_KA_THREADS -c$T_CONNS (keep-alive)" tls-ka
    tls_table "New TLS connections: HTTPS GET / with Connection: close, wrk -t1 -c$T_CONNS (a handshake per request, resumed by ticket)" tls-new
    tls_table "HTTP/2 over TLS, GET /, h2load -t1 -c$TLS_H2_CONNS -m$TLS_H2_STREAMS ($((TLS_H2_CONNS * TLS_H2_STREAMS)) streams at once)" \
        tls-h2 mean_us "mean latency µs"
}

tls_intro() {
    suite_on tls || return 0
    cat <<EOF
- **tls**: swx-server in base mode and in process mode against nginx
  ($NCPU workers), over TLS, all three idle but for the one measured, each
  swx-server with as many event loops as nginx has workers (as in the
  targets suite: in process mode the reactor threads, which do the TLS
  work, and the workers together), each
  benchmark against nginx first. Same certificate (one ECDSA P-256
  self-signed certificate made by \`scripts/make_cert.sh\`), same version,
  cipher and group on every handshake: the servers are set to $TLS_VERSION
  and $TLS_GROUP (nginx also to \`ssl_conf_command Ciphersuites
  $TLS_SUITE\`; swx-server has no TLS 1.3 suite setting), and the clients
  load an OpenSSL configuration (\`OPENSSL_CONF\`) that offers only
  $TLS_VERSION, $TLS_SUITE and $TLS_GROUP; the check before measuring
  asks each server with \`openssl s_client\` and stops a server that
  negotiates anything else. Both servers' listener has HTTP/2 on; wrk
  offers no ALPN, so it speaks HTTP/1.1. **HTTPS keep-alive**: \`wrk -t$TLS_KA_THREADS
  -c$T_CONNS --latency\` on \`GET /\`, over TLS: the targets suite's
  run with $TLS_KA_THREADS threads, the fewest with which wrk is not what
  limits a server's figure. Measured by hand, 8 alternating runs of 4 s
  each: with one thread (which then takes a whole CPU) base mode's
  median was 93 600 requests/s and nginx's 94 000; with two, base mode
  went up to 102 200 (+9%) and nginx down to 89 800 (−4%). Base mode,
  needing less CPU per request, was held at wrk's ceiling and left CPU
  idle; nginx was not.
  **New TLS connections per second**: \`wrk -t1 -c$T_CONNS --latency
  -H 'Connection: close'\`, one thread: with two, every server's figure
  went down (measured by hand, nginx 3 840 to some 3 420, base mode
  3 740 to some 3 490: the CPUs, not wrk, are the limit). Both
  servers close after each response and wrk opens a new connection, with a handshake, for each request; requests/s is then new
  connections per second. wrk reuses its SSL object (\`SSL_clear\`), which
  keeps the session of the connection before, so each handshake resumes
  it with the TLS 1.3 ticket that connection brought (an X25519 exchange,
  no certificate and no signature), as long as the server sends a new
  ticket on every resumption, as both do. wrk was chosen over \`openssl s_time\` (one connection at a
  time: it measures the client's round trip, not what the server can
  take), h2load (it does not reconnect per request) and swx-loadgen (no
  TLS): it keeps $T_CONNS handshakes in flight and counts only whole
  responses, the same client against both servers. **HTTP/2**: \`h2load
  -t1 -c$TLS_H2_CONNS -m$TLS_H2_STREAMS -D $DURATION\`: $TLS_H2_CONNS
  connections with up to $TLS_H2_STREAMS concurrent streams each, so
  $((TLS_H2_CONNS * TLS_H2_STREAMS)) requests in flight, ALPN h2; h2load
  gives a mean latency and no percentiles. Each benchmark runs in
  $ROUNDS rounds, each nginx, base mode and process mode once, and a row
  is its round with the median requests/s (the lowest and highest in
  brackets); a target is the median of the rounds' ratios of swx to nginx
  (paired by round, the lowest and highest beside it), while the ratio
  rows under each table divide its rows; a ${WARMUP} s warm-up run comes
  before each server's first round; the server's CPU time is its process group's
  utime + stime from /proc around the measured run. The suite measures
  the current build only (\`BENCH_BASELINE\` does not apply to it).
EOF
}

# shellcheck disable=SC2016  # the backquotes are Markdown's
tls_configs() {
    suite_on tls || return 0
    printf '\nswx-server, tls, in base mode (process mode has `"reactor_num": %s` in place of `"mode": "base", "sched_policy": "batch"` and worker_num %s):\n\n```json\n%s\n```\n' \
        "$(t_shape pm http | cut -d' ' -f2)" "$(t_shape pm http | cut -d' ' -f3)" "$(tls_json base "<build>/$HTTP_PLUGIN" "<free port>" "<tmp>/www" | sed "s|$TMP|<tmp>|g")"
    printf '\nnginx, tls (the HTTP one with TLS and HTTP/2 on its listener):\n\n```nginx\n%s\n```\n' \
        "$(nginx_tls_config "<tmp>/nginx-tls" "<free port>" "<tmp>/www" | sed "s|$TMP|<tmp>|g")"
    printf '\nThe clients'"'"' OpenSSL configuration (`OPENSSL_CONF`):\n\n```ini\n%s\n```\n' \
        "$(cat "$TLS_DIR/client.cnf" 2>/dev/null)"
}
