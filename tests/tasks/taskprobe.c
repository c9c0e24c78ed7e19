/* taskprobe.c: a test plugin that drives the ABI 1.2 API (tasks, taskwait,
 * messages, timers, fds, deferred calls, tables, atomics, stats, a user
 * process) through line commands, so integration tests can check each one
 * through the real binary.
 *
 * A client sends one command per line and gets one line back per command
 * (except where noted). Task workers run task "ops": the text of a task is
 * an op and its arguments; the result is "OP OUTPUT @tw=I pid=P src=S id=T"
 * where I counts task workers from 0.
 *
 * Worker commands:
 *   ping                 -> "pong WORKER_ID PID"
 *   sid                  -> "sid SESSION": this connection's session id
 *   task DST OP ARGS..   -> "task ID" at once (or "task ERR RC"), later
 *                           "finish ID RESULT" from on_finish
 *   wait MS DST OP ..    -> swx_taskwait: "wait RC RESULT"
 *   multi MS ITEM..      -> swx_taskwait_multi, ITEM = op:arg:arg@dst:
 *                           "multi DONE | STATUS RESULT | ..."
 *   big N [RESLEN]       -> a task of N bytes whose result is RESLEN bytes
 *                           (default N), both checked byte by byte:
 *                           "big ok N RESLEN", "big bad WHY", "big err RC"
 *   bigwait MS N [RESLEN] the same through swx_taskwait
 *   flood N SIZE DST     -> N tasks "noop" of SIZE bytes, no waiting:
 *                           "flood SENT EAGAIN OTHER"; results are counted
 *   quiet                -> "quiet N": results of flood/fire tasks so far
 *   fire DST             -> a task whose on_task never finishes: "fire ID"
 *   msg DST TEXT         -> swx_send_message: "msg RC"
 *   bigmsg DST N [tw]    -> a message of N bytes: "bigmsg RC"
 *   finwait N            -> a big task (as "big") whose on_finish calls
 *                           swx_taskwait before it checks its data:
 *                           "finwait RC VERDICT"
 *   timers N MAXMS       -> N timers of delays 0..MAXMS; once all fired:
 *                           "timers ok N" or "timers bad WHY"
 *   tclear               -> timers clearing themselves and each other:
 *                           "tclear ok" or "tclear bad WHY" (later)
 *   events               -> a socketpair of the plugin's own in the loop:
 *                           "events ok" or "events bad WHY" (later)
 *   defer                -> swx_event_defer order: "defer ok ORDER" (later)
 *   apierr               -> the error returns of the API: "apierr K=RC .."
 *   stats                -> "stats LEN" then LEN bytes of swx_stats_json
 *   st                   -> swx_stats() as "st key=value ..."
 *   any op below         -> "OP OUTPUT", run in the worker
 * Ops (worker commands and task text alike):
 *   echo ARGS, sleep MS ARGS, block TAG (waits for gate 1),
 *   nested (swx_task and swx_taskwait in a task worker),
 *   await MS (swx_atomic_wait "event"), send (swx_send),
 *   msgto DST SESSION TEXT, tset T KEY COL V, tsets T KEY COL STR,
 *   tget T KEY COL, tgets T KEY COL BUFSIZE, tincr T KEY COL N,
 *   tdel T KEY, tcount T, tkeys T, tfill T PREFIX N COL, aadd NAME N,
 *   acas NAME N, aget NAME, gate V, wakeup N, pid
 * Task-only ops: noop (result "noop"), nofinish (no result ever), finish2
 * (two swx_finish calls; the second's status is logged).
 *
 * Messages are "SESSION REPLY_TO TEXT". A worker that gets one with a
 * session sends "pipe ME SRC TEXT" to it (when TEXT starts with "tw:", it
 * first calls swx_taskwait, then reads the rest: "pipe ME SRC taskwait RC
 * REST"); a task worker or user process answers REPLY_TO with the message
 * "ack:ME:SRC:TEXT". "tick N" messages (from the user process) are only
 * counted, in table "counters" row "ticks-seen".
 *
 * The user process (on_process_start) ticks every 20 ms: it adds 1 to
 * counters/proc-ticks and every 5th tick sends "tick N" to worker 0.
 *
 * Built twice: with -DTP_NO_FINISH the plugin has no on_finish, so its
 * tasks want no result; on_task then logs what swx_finish returned.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

#define TP_LINE_MAX 4096
#define TP_OUT_MAX 2048
#define TP_BUCKETS 256
#define TP_MULTI_MAX 16
#define TP_BIG_HDR 32
#define TP_BIGR_HDR 33
#define TP_SEED_XOR UINT64_C(0x5bd1e9955bd1e995)
#define TP_BLOCK_MAX_MS 60000

/* ---------------------------------------------------------------- utils */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

__attribute__((format(printf, 2, 3))) static void
reply(uint64_t session, const char *fmt, ...)
{
    char buf[TP_OUT_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    int rc = swx_send(session, buf, (size_t)n);
    if (rc < 0 && rc != -ENOTCONN)
        swx_log(SWX_LOG_WARNING, "taskprobe: swx_send: %d", rc);
}

/* What snprintf wrote into a buffer of size bytes (it returns what it
 * would have written). */
static size_t written(int n, size_t size)
{
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Counts of the processes, from swx_stats (the same in every process). */
static int worker_num(void)
{
    swx_stats_t st;
    return swx_stats(&st) == 0 ? st.worker_num : 0;
}

static int is_worker(void)
{
    return swx_worker_id() >= 0 && swx_worker_id() < worker_num();
}

/* A copy of text with newlines turned into spaces, for one-line replies. */
static void one_line(char *dst, size_t size, const void *src, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (dst[i] == '\n' || dst[i] == '\0')
            dst[i] = ' ';
}

/* ------------------------------------------------- pseudo-random streams */

static uint64_t xs_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void stream_fill(char *p, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1, v = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0)
            v = xs_next(&s);
        p[i] = (char)(v >> (8 * (i % 8)));
    }
}

/* The index of the first byte that differs from the stream, or n. */
static size_t stream_check(const char *p, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1, v = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0)
            v = xs_next(&s);
        if (p[i] != (char)(v >> (8 * (i % 8))))
            return i;
    }
    return n;
}

/* "BIG:" SEED(16 hex) RESLEN(12 dec), then the stream of SEED. */
static char *big_make(size_t n, size_t reslen, uint64_t seed)
{
    char *p = malloc(n);
    char hdr[64];
    if (p == NULL)
        return NULL;
    snprintf(hdr, sizeof(hdr), "BIG:%016" PRIx64 "%012zu", seed, reslen);
    memcpy(p, hdr, TP_BIG_HDR);
    stream_fill(p + TP_BIG_HDR, n - TP_BIG_HDR, seed);
    return p;
}

/* The result of a big task: "BGR:" SEED2 GOTLEN(12) OK(1), then stream. */
static char *big_result(const char *task, size_t len, size_t *out_len)
{
    char hex[17] = {0}, dec[13] = {0};
    memcpy(hex, task + 4, 16);
    memcpy(dec, task + 20, 12);
    uint64_t seed = strtoull(hex, NULL, 16);
    size_t reslen = strtoull(dec, NULL, 10);
    int ok = stream_check(task + TP_BIG_HDR, len - TP_BIG_HDR, seed) ==
             len - TP_BIG_HDR;
    if (reslen < TP_BIGR_HDR)
        reslen = TP_BIGR_HDR;
    char *r = malloc(reslen);
    if (r == NULL)
        return NULL;
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "BGR:%016" PRIx64 "%012zu%c",
             seed ^ TP_SEED_XOR, len, ok ? '1' : '0');
    memcpy(r, hdr, TP_BIGR_HDR);
    stream_fill(r + TP_BIGR_HDR, reslen - TP_BIGR_HDR, seed ^ TP_SEED_XOR);
    *out_len = reslen;
    return r;
}

/* Check a big result: "ok N RESLEN" or "bad WHY" / "finish-err ..". */
static void big_verdict(const char *r, size_t len, size_t sent, uint64_t seed,
                        char *out, size_t size)
{
    char hex[17] = {0}, dec[13] = {0};
    if (len >= 4 && memcmp(r, "ERR:", 4) == 0) {
        one_line(out, size, r, len);
        return;
    }
    if (len < TP_BIGR_HDR || memcmp(r, "BGR:", 4) != 0) {
        snprintf(out, size, "bad header (%zu bytes)", len);
        return;
    }
    memcpy(hex, r + 4, 16);
    memcpy(dec, r + 20, 12);
    uint64_t seed2 = strtoull(hex, NULL, 16);
    size_t got = strtoull(dec, NULL, 10);
    size_t bad = stream_check(r + TP_BIGR_HDR, len - TP_BIGR_HDR, seed2);
    if (seed2 != (seed ^ TP_SEED_XOR) || got != sent)
        snprintf(out, size, "bad task seen as %zu bytes, sent %zu", got, sent);
    else if (r[32] != '1')
        snprintf(out, size, "bad task corrupted on the way");
    else if (bad != len - TP_BIGR_HDR)
        snprintf(out, size, "bad result corrupted at byte %zu",
                 bad + TP_BIGR_HDR);
    else
        snprintf(out, size, "ok %zu %zu", sent, len);
}

/* ------------------------------------------------------- task routing */

/* What to do with the result of a task this worker sent. */
enum { ROUTE_REPLY, ROUTE_QUIET, ROUTE_BIG, ROUTE_FINWAIT };

typedef struct route {
    int64_t task_id;
    uint64_t session;
    int kind;
    size_t sent;      /* ROUTE_BIG, ROUTE_FINWAIT */
    uint64_t seed;
    struct route *next;
} route_t;

static route_t *routes[TP_BUCKETS];
static long quiet_done;

static route_t **route_slot(int64_t id)
{
    route_t **p = &routes[(uint64_t)id % TP_BUCKETS];
    while (*p != NULL && (*p)->task_id != id)
        p = &(*p)->next;
    return p;
}

static void route_add(int64_t id, uint64_t session, int kind, size_t sent,
                      uint64_t seed)
{
    route_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return;
    *r = (route_t){id, session, kind, sent, seed, routes[id % TP_BUCKETS]};
    routes[id % TP_BUCKETS] = r;
}

/* Take the route of a task out of the map; NULL if there is none. */
static route_t *route_take(int64_t id)
{
    route_t **p = route_slot(id), *r = *p;
    if (r != NULL)
        *p = r->next;
    return r;
}

static void routes_free(void)
{
    for (int i = 0; i < TP_BUCKETS; i++)
        while (routes[i] != NULL) {
            route_t *r = routes[i];
            routes[i] = r->next;
            free(r);
        }
}

/* ------------------------------------------------------------------ ops */

/* An op: args is writable; out gets the output (no newline). */
typedef void op_fn(int64_t task_id, char *args, char *out, size_t size);

typedef struct op {
    const char *name;
    op_fn *fn;
} op_t;

static void op_echo(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    snprintf(out, size, "%s", args);
}

static void op_sleep(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *rest = NULL;
    long ms = strtol(args, &rest, 10);
    if (ms < 0 || ms > TP_BLOCK_MAX_MS)
        ms = 0;
    sleep_ms(ms);
    snprintf(out, size, "%s", rest != NULL ? rest + strspn(rest, " ") : "");
}

static swx_atomic_t *atomic_named(const char *name)
{
    swx_atomic_t *a = swx_atomic(name, 0);
    if (a == NULL)
        swx_log(SWX_LOG_ERROR, "taskprobe: swx_atomic(%s) is NULL", name);
    return a;
}

/* Wait (polling) until the atomic "gate" is non-zero, up to a minute. */
static void op_block(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_atomic_t *gate = atomic_named("gate");
    long long deadline = now_ms() + TP_BLOCK_MAX_MS;
    while (gate != NULL && swx_atomic_get(gate) == 0 && now_ms() < deadline)
        sleep_ms(2);
    snprintf(out, size, "%s gate=%" PRId64, args,
             gate != NULL ? swx_atomic_get(gate) : -1);
}

static void op_nested(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    (void)args;
    void *res = NULL;
    size_t len = 0;
    int64_t rc1 = swx_task("echo x", 6, -1);
    int rc2 = swx_taskwait("echo x", 6, -1, 100, &res, &len);
    snprintf(out, size, "%" PRId64 " %d", rc1, rc2);
    if (rc2 == 0)
        swx_free(res);
}

static void op_await(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_atomic_t *ev = atomic_named("event");
    int rc = ev != NULL ? swx_atomic_wait(ev, atoi(args)) : -EFAULT;
    snprintf(out, size, "%d", rc);
}

static void op_wakeup(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_atomic_t *ev = atomic_named("event");
    snprintf(out, size, "%d",
             ev != NULL ? swx_atomic_wakeup(ev, atoi(args)) : -EFAULT);
}

static void op_send(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    (void)args;
    snprintf(out, size, "%d", swx_send(1, "x", 1));
}

static void op_pid(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    (void)args;
    snprintf(out, size, "%d %d", swx_worker_id(), (int)getpid());
}

/* msgto DST SESSION TEXT: a message as a task worker or a worker. */
static void op_msgto(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    int dst = 0, off = 0;
    unsigned long long session = 0;
    char msg[TP_LINE_MAX];
    if (sscanf(args, "%d %llu %n", &dst, &session, &off) < 2) {
        snprintf(out, size, "usage");
        return;
    }
    int n = snprintf(msg, sizeof(msg), "%llu -1 %s", session, args + off);
    snprintf(out, size, "%d",
             swx_send_message(dst, msg, written(n, sizeof(msg))));
}

/* ---- tables */

/* The table, key and column of "T KEY COL ..."; rest gets what follows. */
static swx_table_t *table_key_col(char *args, char **key, char **col,
                                  char **rest)
{
    char *save = NULL;
    char *name = strtok_r(args, " ", &save);
    *key = strtok_r(NULL, " ", &save);
    *col = strtok_r(NULL, " ", &save);
    *rest = save != NULL ? save : (char *)"";
    if (name == NULL || *key == NULL || *col == NULL)
        return NULL;
    return swx_table(name);
}

static void op_tset(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *key, *col, *rest;
    swx_table_t *t = table_key_col(args, &key, &col, &rest);
    if (t == NULL || *rest == '\0') {
        snprintf(out, size, "usage");
        return;
    }
    snprintf(out, size, "%d",
             swx_table_set_int(t, key, col, strtoll(rest, NULL, 10)));
}

static void op_tsets(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *key, *col, *rest;
    swx_table_t *t = table_key_col(args, &key, &col, &rest);
    if (t == NULL) {
        snprintf(out, size, "usage");
        return;
    }
    snprintf(out, size, "%d",
             swx_table_set_string(t, key, col, rest, strlen(rest)));
}

static void op_tget(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *key, *col, *rest;
    swx_table_t *t = table_key_col(args, &key, &col, &rest);
    int64_t v = 0;
    double f = 0;
    if (t == NULL) {
        snprintf(out, size, "usage");
        return;
    }
    int rc = swx_table_get_int(t, key, col, &v);
    if (rc == -EINVAL && swx_table_get_float(t, key, col, &f) == 0)
        snprintf(out, size, "0 %g", f);
    else
        snprintf(out, size, "%d %" PRId64, rc, v);
}

static void op_tgets(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *key, *col, *rest, buf[256] = "";
    swx_table_t *t = table_key_col(args, &key, &col, &rest);
    size_t bufsize = strtoul(rest, NULL, 10);
    if (t == NULL || bufsize > sizeof(buf)) {
        snprintf(out, size, "usage");
        return;
    }
    int rc = swx_table_get_string(t, key, col, buf, bufsize);
    snprintf(out, size, "%d %s", rc, rc >= 0 ? buf : "");
}

static void op_tincr(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *key, *col, *rest;
    swx_table_t *t = table_key_col(args, &key, &col, &rest);
    long n = strtol(rest, NULL, 10);
    int64_t v = 0;
    int rc = t == NULL ? -EFAULT : 0;
    for (long i = 0; rc == 0 && i < n; i++)
        rc = swx_table_incr(t, key, col, 1, &v);
    snprintf(out, size, "%d %" PRId64, rc, v);
}

static void op_tdel(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *save = NULL;
    char *name = strtok_r(args, " ", &save);
    char *key = strtok_r(NULL, " ", &save);
    swx_table_t *t = name != NULL ? swx_table(name) : NULL;
    snprintf(out, size, "%d", t != NULL ? swx_table_del(t, key) : -EFAULT);
}

static void op_tcount(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_table_t *t = swx_table(args);
    snprintf(out, size, "%ld", t != NULL ? swx_table_count(t) : -EFAULT);
}

static void op_tkeys(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_table_t *t = swx_table(args);
    uint32_t cursor = 0;
    char key[64];
    size_t len = 0;
    out[0] = '\0';
    while (t != NULL && swx_table_next(t, &cursor, key) == 1 &&
           len + strlen(key) + 2 < size)
        len += (size_t)snprintf(out + len, size - len, "%s%s",
                                len > 0 ? " " : "", key);
}

/* tfill T PREFIX N COL: set PREFIX0.. to 1000+i until one fails. */
static void op_tfill(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char *save = NULL;
    char *name = strtok_r(args, " ", &save);
    char *prefix = strtok_r(NULL, " ", &save);
    char *count = strtok_r(NULL, " ", &save);
    char *col = strtok_r(NULL, " ", &save);
    swx_table_t *t = name != NULL ? swx_table(name) : NULL;
    if (t == NULL || col == NULL) {
        snprintf(out, size, "usage");
        return;
    }
    long n = strtol(count, NULL, 10), ok = 0;
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%s%ld", prefix, i);
        rc = swx_table_set_int(t, key, col, 1000 + i);
        ok += rc == 0;
    }
    snprintf(out, size, "%ld %d", ok, rc);
}

/* ---- atomics */

static void op_aadd(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char name[64];
    long n = 0;
    if (sscanf(args, "%63s %ld", name, &n) != 2) {
        snprintf(out, size, "usage");
        return;
    }
    swx_atomic_t *a = atomic_named(name);
    int64_t v = 0;
    for (long i = 0; a != NULL && i < n; i++)
        v = swx_atomic_add(a, 1);
    snprintf(out, size, "%" PRId64, v);
}

/* N increments, each a swx_atomic_cmpset loop; the last value and how
 * many cmpsets lost a race. */
static void op_acas(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    char name[64];
    long n = 0, lost = 0;
    if (sscanf(args, "%63s %ld", name, &n) != 2) {
        snprintf(out, size, "usage");
        return;
    }
    swx_atomic_t *a = atomic_named(name);
    int64_t v = 0;
    for (long i = 0; a != NULL && i < n; i++) {
        for (;;) {
            v = swx_atomic_get(a);
            if (swx_atomic_cmpset(a, v, v + 1))
                break;
            lost++;
        }
    }
    snprintf(out, size, "%" PRId64 " %ld", v + 1, lost);
}

static void op_aget(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_atomic_t *a = atomic_named(args);
    snprintf(out, size, "%" PRId64, a != NULL ? swx_atomic_get(a) : -1);
}

static void op_gate(int64_t id, char *args, char *out, size_t size)
{
    (void)id;
    swx_atomic_t *g = atomic_named("gate");
    if (g != NULL)
        swx_atomic_set(g, strtoll(args, NULL, 10));
    snprintf(out, size, "%" PRId64, g != NULL ? swx_atomic_get(g) : -1);
}

static const op_t ops[] = {
    {"echo", op_echo},     {"sleep", op_sleep},   {"block", op_block},
    {"nested", op_nested}, {"await", op_await},   {"wakeup", op_wakeup},
    {"send", op_send},     {"pid", op_pid},       {"msgto", op_msgto},
    {"tset", op_tset},     {"tsets", op_tsets},   {"tget", op_tget},
    {"tgets", op_tgets},   {"tincr", op_tincr},   {"tdel", op_tdel},
    {"tcount", op_tcount}, {"tkeys", op_tkeys},   {"tfill", op_tfill},
    {"aadd", op_aadd},     {"acas", op_acas},     {"aget", op_aget},
    {"gate", op_gate},
};

static const op_t *op_find(const char *name)
{
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

/* Split "NAME ARGS" in place; ARGS is "" when there are none. */
static char *split_word(char *s, char **rest)
{
    char *sp = strchr(s, ' ');
    if (sp == NULL) {
        *rest = s + strlen(s);
        return s;
    }
    *sp = '\0';
    *rest = sp + 1;
    return s;
}

/* ------------------------------------------------------------- on_task */

static void task_finish_text(int64_t id, int src, const char *name,
                             const char *out)
{
    char res[TP_OUT_MAX + 128];
    int n = snprintf(res, sizeof(res), "%s %s @tw=%d pid=%d src=%d id=%" PRId64,
                     name, out, swx_worker_id() - worker_num(), (int)getpid(),
                     src, id);
    int rc = swx_finish(res, written(n, sizeof(res)));
    if (rc < 0)
        swx_log(SWX_LOG_NOTICE, "taskprobe: swx_finish of task %" PRId64
                " returned %d", id, rc);
}

static void task_big(int64_t id, const char *data, size_t len)
{
    size_t rlen = 0;
    char *r = big_result(data, len, &rlen);
    if (r == NULL) {
        swx_finish("ERR: out of memory", 18);
        return;
    }
    int rc = swx_finish(r, rlen);
    free(r);
    if (rc < 0) {
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "ERR: finish %d", rc);
        swx_log(SWX_LOG_NOTICE, "taskprobe: big result of task %" PRId64
                " (%zu bytes): swx_finish returned %d", id, rlen, rc);
        swx_finish(msg, (size_t)n);
    }
}

/* finish2: two results for one task; the second must be refused. */
static void task_finish2(int64_t id, int src)
{
    task_finish_text(id, src, "finish2", "first");
    int rc = swx_finish("second", 6);
    swx_log(SWX_LOG_NOTICE, "taskprobe: second swx_finish of task %" PRId64
            " returned %d", id, rc);
}

static void tp_task(int64_t id, int src, const void *data, size_t len)
{
    if (len >= TP_BIG_HDR && memcmp(data, "BIG:", 4) == 0) {
        task_big(id, data, len);
        return;
    }
    char text[TP_LINE_MAX], out[TP_OUT_MAX], *args;
    one_line(text, sizeof(text), data, len);
    char *name = split_word(text, &args);
    const op_t *op = op_find(name);
#ifdef TP_NO_FINISH
    int rc = swx_finish("x", 1);
    swx_log(SWX_LOG_NOTICE, "taskprobe: task %" PRId64 " wants no result: "
            "swx_finish returned %d", id, rc);
    if (op != NULL && strcmp(name, "noop") != 0)
        op->fn(id, args, out, sizeof(out));
    return;
#endif
    if (strcmp(name, "nofinish") == 0) {
        swx_log(SWX_LOG_INFO, "taskprobe: task %" PRId64 " left unfinished "
                "on purpose", id);
    } else if (strcmp(name, "noop") == 0) {
        swx_finish("noop", 4);
    } else if (strcmp(name, "finish2") == 0) {
        task_finish2(id, src);
    } else if (op == NULL) {
        task_finish_text(id, src, name, "unknown-op");
    } else {
        op->fn(id, args, out, sizeof(out));
        task_finish_text(id, src, name, out);
    }
}

/* ----------------------------------------------------------- on_finish */

/* A swx_taskwait from inside another callback; its status. */
static int inner_taskwait(void)
{
    void *res = NULL;
    size_t len = 0;
    int rc = swx_taskwait("echo inner", 10, -1, 30000, &res, &len);
    if (rc == 0)
        swx_free(res);
    return rc;
}

/* Unused in the build without on_finish. */
__attribute__((unused)) static void tp_finish(int64_t id, const void *data,
                                              size_t len)
{
    route_t *r = route_take(id);
    char text[TP_OUT_MAX];
    if (r == NULL) {
        one_line(text, sizeof(text), data, len < 80 ? len : 80);
        swx_log(SWX_LOG_WARNING, "taskprobe: on_finish for task %" PRId64
                " that this process is not waiting for: %s", id, text);
        return;
    }
    if (r->kind == ROUTE_QUIET) {
        quiet_done++;
    } else if (r->kind == ROUTE_BIG) {
        big_verdict(data, len, r->sent, r->seed, text, sizeof(text));
        reply(r->session, "big %s", text);
    } else if (r->kind == ROUTE_FINWAIT) {
        /* data must stay valid for the whole call, taskwait or not. */
        int rc = inner_taskwait();
        big_verdict(data, len, r->sent, r->seed, text, sizeof(text));
        reply(r->session, "finwait %d %s", rc, text);
    } else {
        one_line(text, sizeof(text), data, len);
        reply(r->session, "finish %" PRId64 " %s", id, text);
    }
    free(r);
}

/* ----------------------------------------------------- worker commands */

typedef void cmd_fn(uint64_t session, char *args);

static void cmd_ping(uint64_t session, char *args)
{
    (void)args;
    reply(session, "pong %d %d", swx_worker_id(), (int)getpid());
}

static void cmd_sid(uint64_t session, char *args)
{
    (void)args;
    reply(session, "sid %llu", (unsigned long long)session);
}

static void cmd_task(uint64_t session, char *args)
{
    char *text = NULL;
    long dst = strtol(args, &text, 10);
    text += strspn(text, " ");
    int64_t id = swx_task(text, strlen(text), (int)dst);
    if (id < 0) {
        reply(session, "task ERR %" PRId64, id);
        return;
    }
    route_add(id, session, ROUTE_REPLY, 0, 0);
    reply(session, "task %" PRId64, id);
}

static void cmd_wait(uint64_t session, char *args)
{
    int ms = 0, dst = 0, off = 0;
    if (sscanf(args, "%d %d %n", &ms, &dst, &off) < 2) {
        reply(session, "wait usage");
        return;
    }
    void *res = NULL;
    size_t len = 0;
    char text[TP_OUT_MAX] = "";
    int rc = swx_taskwait(args + off, strlen(args + off), dst, ms, &res, &len);
    if (rc == 0) {
        one_line(text, sizeof(text), res, len);
        swx_free(res);
    }
    reply(session, "wait %d %s", rc, text);
}

/* One ITEM of multi, "op:a:b@dst", made into a request. */
static void multi_item(char *item, swx_taskreq_t *req)
{
    char *at = strrchr(item, '@');
    req->dst_task_worker = -1;
    if (at != NULL) {
        *at = '\0';
        req->dst_task_worker = atoi(at + 1);
    }
    for (char *p = item; *p; p++)
        if (*p == ':')
            *p = ' ';
    req->data = item;
    req->len = strlen(item);
}

static void cmd_multi(uint64_t session, char *args)
{
    swx_taskreq_t req[TP_MULTI_MAX];
    swx_taskres_t res[TP_MULTI_MAX];
    char *save = NULL, out[TP_OUT_MAX], text[512];
    char *first = strtok_r(args, " ", &save);
    int ms = first != NULL ? atoi(first) : 0, n = 0;
    for (char *it; n < TP_MULTI_MAX && (it = strtok_r(NULL, " ", &save));)
        multi_item(it, &req[n++]);
    int done = swx_taskwait_multi(req, n, ms, res);
    size_t len = (size_t)snprintf(out, sizeof(out), "multi %d", done);
    for (int i = 0; done >= 0 && i < n; i++) {
        text[0] = '\0';
        if (res[i].data != NULL)
            one_line(text, sizeof(text), res[i].data, res[i].len);
        if (len < sizeof(out))
            len += (size_t)snprintf(out + len, sizeof(out) - len,
                                    " | %d %s", res[i].status, text);
        swx_free(res[i].data);
    }
    reply(session, "%s", out);
}

static uint64_t big_seed(void)
{
    static uint64_t counter;
    return ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^ ++counter;
}

/* Parse "N [RESLEN]"; 0 when N is too small to hold the header. */
static size_t big_args(const char *args, size_t *reslen)
{
    unsigned long long n = 0, r = 0;
    int k = sscanf(args, "%llu %llu", &n, &r);
    if (k < 1 || n < TP_BIG_HDR)
        return 0;
    *reslen = k == 2 ? (size_t)r : (size_t)n;
    return (size_t)n;
}

static void cmd_big(uint64_t session, char *args)
{
    size_t reslen = 0, n = big_args(args, &reslen);
    uint64_t seed = big_seed();
    char *p = n > 0 ? big_make(n, reslen, seed) : NULL;
    if (p == NULL) {
        reply(session, "big usage");
        return;
    }
    int64_t id = swx_task(p, n, -1);
    free(p);
    if (id < 0)
        reply(session, "big err %" PRId64, id);
    else
        route_add(id, session, ROUTE_BIG, n, seed);
}

/* finwait N: a big task whose on_finish calls swx_taskwait before it
 * checks its data. */
static void cmd_finwait(uint64_t session, char *args)
{
    size_t reslen = 0, n = big_args(args, &reslen);
    uint64_t seed = big_seed();
    char *p = n > 0 ? big_make(n, reslen, seed) : NULL;
    if (p == NULL) {
        reply(session, "finwait usage");
        return;
    }
    int64_t id = swx_task(p, n, -1);
    free(p);
    if (id < 0)
        reply(session, "finwait err %" PRId64, id);
    else
        route_add(id, session, ROUTE_FINWAIT, n, seed);
}

static void cmd_bigwait(uint64_t session, char *args)
{
    char *rest = NULL;
    int ms = (int)strtol(args, &rest, 10);
    size_t reslen = 0, n = big_args(rest, &reslen);
    uint64_t seed = big_seed();
    char *p = n > 0 ? big_make(n, reslen, seed) : NULL, text[256];
    if (p == NULL) {
        reply(session, "bigwait usage");
        return;
    }
    void *res = NULL;
    size_t len = 0;
    int rc = swx_taskwait(p, n, -1, ms, &res, &len);
    free(p);
    if (rc < 0) {
        reply(session, "bigwait err %d", rc);
        return;
    }
    big_verdict(res, len, n, seed, text, sizeof(text));
    swx_free(res);
    reply(session, "bigwait %s", text);
}

static void cmd_flood(uint64_t session, char *args)
{
    long n = 0, size = 0;
    int dst = -1;
    if (sscanf(args, "%ld %ld %d", &n, &size, &dst) != 3 || size < 5) {
        reply(session, "flood usage");
        return;
    }
    char *p = malloc((size_t)size);
    if (p == NULL)
        return;
    memset(p, 'x', (size_t)size);
    memcpy(p, "noop ", 5);
    long sent = 0, eagain = 0, other = 0;
    for (long i = 0; i < n; i++) {
        int64_t id = swx_task(p, (size_t)size, dst);
        if (id > 0)
            route_add(id, session, ROUTE_QUIET, 0, 0);
        sent += id > 0;
        eagain += id == -EAGAIN;
        other += id < 0 && id != -EAGAIN;
    }
    free(p);
    reply(session, "flood %ld %ld %ld", sent, eagain, other);
}

static void cmd_quiet(uint64_t session, char *args)
{
    (void)args;
    reply(session, "quiet %ld", quiet_done);
}

static void cmd_fire(uint64_t session, char *args)
{
    int64_t id = swx_task("nofinish", 8, atoi(args));
    if (id > 0)
        route_add(id, session, ROUTE_QUIET, 0, 0);
    reply(session, "fire %" PRId64, id);
}

static void cmd_msg(uint64_t session, char *args)
{
    char *text = NULL, msg[TP_LINE_MAX];
    long dst = strtol(args, &text, 10);
    text += strspn(text, " ");
    int n = snprintf(msg, sizeof(msg), "%llu %d %s",
                     (unsigned long long)session, swx_worker_id(), text);
    reply(session, "msg %d",
          swx_send_message((int)dst, msg, written(n, sizeof(msg))));
}

/* bigmsg DST N: "SESSION ME bigmsg:" then N bytes of the stream of N. */
static void cmd_bigmsg(uint64_t session, char *args)
{
    int dst = 0;
    unsigned long long n = 0;
    char tw[8] = "";
    if (sscanf(args, "%d %llu %7s", &dst, &n, tw) < 2) {
        reply(session, "bigmsg usage");
        return;
    }
    char hdr[64];
    int h = snprintf(hdr, sizeof(hdr), "%llu %d %sbigmsg:",
                     (unsigned long long)session, swx_worker_id(),
                     strcmp(tw, "tw") == 0 ? "tw:" : "");
    char *p = malloc((size_t)h + n);
    if (p == NULL)
        return;
    memcpy(p, hdr, (size_t)h);
    stream_fill(p + h, n, n);
    reply(session, "bigmsg %d", swx_send_message(dst, p, (size_t)h + n));
    free(p);
}

static void cmd_stats(uint64_t session, char *args)
{
    (void)args;
    char *json = swx_stats_json();
    if (json == NULL) {
        reply(session, "stats 0");
        return;
    }
    reply(session, "stats %zu", strlen(json));
    swx_send(session, json, strlen(json));
    swx_free(json);
}

static void cmd_st(uint64_t session, char *args)
{
    (void)args;
    swx_stats_t s;
    int rc = swx_stats(&s);
    reply(session, "st rc=%d worker_num=%d idle_worker_num=%d "
          "task_worker_num=%d task_idle_worker_num=%d tasking_num=%" PRId64
          " task_queue_num=%" PRId64 " task_queue_full=%" PRId64
          " request_count=%" PRId64 " connection_num=%" PRId64
          " start_time=%" PRId64, rc, s.worker_num, s.idle_worker_num,
          s.task_worker_num, s.task_idle_worker_num, s.tasking_num,
          s.task_queue_num, s.task_queue_full, s.request_count,
          s.connection_num, s.start_time);
}

/* ---- timers: N timers, checked for order (due time, then creation) */

typedef struct tentry {
    long long made_lo, made_hi; /* now_ms() just before and after adding */
    long delay;
    int fired;
    struct trun *run;
} tentry_t;

typedef struct trun {
    uint64_t session;
    int n, fired;
    tentry_t *e;
    tentry_t *last;
    char bad[256];
} trun_t;

static trun_t *trun;

static void timers_done(trun_t *r)
{
    if (r->bad[0] != '\0')
        reply(r->session, "timers bad %s", r->bad);
    else
        reply(r->session, "timers ok %d", r->fired);
    free(r->e);
    free(r);
    trun = NULL;
}

/* Whether b may run after a: b is not certainly due before a, and if
 * both are certainly due at the same millisecond, b was made later. */
static int timer_order_ok(const tentry_t *a, const tentry_t *b)
{
    long long a_lo = a->made_lo + a->delay, b_hi = b->made_hi + b->delay;
    if (b_hi < a_lo)
        return 0;
    int exact = a->made_lo == a->made_hi && b->made_lo == b->made_hi;
    if (exact && a_lo == b_hi && b < a)
        return 0;
    return 1;
}

static void timer_fired(int64_t id, void *arg)
{
    (void)id;
    tentry_t *e = arg;
    trun_t *r = e->run;
    long long now = now_ms();
    if (e->fired++ && r->bad[0] == '\0')
        snprintf(r->bad, sizeof(r->bad), "timer %td fired twice", e - r->e);
    if (now < e->made_lo + e->delay && r->bad[0] == '\0')
        snprintf(r->bad, sizeof(r->bad), "timer %td fired %lld ms early",
                 e - r->e, e->made_lo + e->delay - now);
    if (r->last != NULL && !timer_order_ok(r->last, e) && r->bad[0] == '\0')
        snprintf(r->bad, sizeof(r->bad), "timer %td (delay %ld) ran after "
                 "timer %td (delay %ld)", e - r->e, e->delay, r->last - r->e,
                 r->last->delay);
    r->last = e;
    if (++r->fired == r->n)
        timers_done(r);
}

static void cmd_timers(uint64_t session, char *args)
{
    int n = 0;
    long maxms = 0;
    if (sscanf(args, "%d %ld", &n, &maxms) != 2 || n < 1 || maxms < 0 ||
        trun != NULL) {
        reply(session, "timers usage-or-busy");
        return;
    }
    trun_t *r = calloc(1, sizeof(*r));
    tentry_t *e = calloc((size_t)n, sizeof(*e));
    if (r == NULL || e == NULL) {
        free(r);
        free(e);
        reply(session, "timers nomem");
        return;
    }
    *r = (trun_t){.session = session, .n = n, .e = e};
    trun = r;
    for (int i = 0; i < n; i++) {
        /* Spread over 0..maxms with many ties; not in creation order. */
        e[i].delay = (long)(((unsigned long)i * 7919u) % (maxms + 1));
        e[i].run = r;
        e[i].made_lo = now_ms();
        int64_t id = swx_timer_after(e[i].delay, timer_fired, &e[i]);
        e[i].made_hi = now_ms();
        if (id <= 0) {
            snprintf(r->bad, sizeof(r->bad), "swx_timer_after: %" PRId64, id);
            r->n = i;
            break;
        }
    }
    if (r->n == 0)
        timers_done(r);
}

/* ---- tclear: a tick clears itself on its 3rd run; a one-shot clears
 * itself and a pending victim; a check 100 ms later sees the counts. */

static struct {
    uint64_t session;
    int active;
    int ticks, once_runs, victim_runs, retries;
    int64_t tick_id, once_id, victim_id;
    int rc_self_tick, rc_self_once, rc_victim, rc_again;
} tc;

static void tc_tick(int64_t id, void *arg)
{
    (void)arg;
    if (++tc.ticks == 3)
        tc.rc_self_tick = swx_timer_clear(id);
}

static void tc_victim(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    tc.victim_runs++;
}

static void tc_once(int64_t id, void *arg)
{
    (void)arg;
    tc.once_runs++;
    tc.rc_self_once = swx_timer_clear(id);
    tc.rc_victim = swx_timer_clear(tc.victim_id);
}

static void tc_check(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    /* A loop held up for long runs a tick at most once per pass. */
    if (tc.ticks < 3 && ++tc.retries < 100) {
        swx_timer_after(50, tc_check, NULL);
        return;
    }
    tc.rc_again = swx_timer_clear(tc.tick_id);
    int ok = tc.ticks == 3 && tc.once_runs == 1 && tc.victim_runs == 0 &&
             tc.rc_self_tick == 0 && tc.rc_self_once == 0 &&
             tc.rc_victim == 0 && tc.rc_again == -ENOENT;
    reply(tc.session, "tclear %s ticks=%d once=%d victim=%d self_tick=%d "
          "self_once=%d victim_clear=%d again=%d", ok ? "ok" : "bad",
          tc.ticks, tc.once_runs, tc.victim_runs, tc.rc_self_tick,
          tc.rc_self_once, tc.rc_victim, tc.rc_again);
    tc.active = 0;
}

static void cmd_tclear(uint64_t session, char *args)
{
    (void)args;
    if (tc.active) {
        reply(session, "tclear busy");
        return;
    }
    memset(&tc, 0, sizeof(tc));
    tc.session = session;
    tc.active = 1;
    tc.tick_id = swx_timer_tick(5, tc_tick, NULL);
    tc.victim_id = swx_timer_after(40, tc_victim, NULL);
    tc.once_id = swx_timer_after(10, tc_once, NULL);
    swx_timer_after(150, tc_check, NULL);
}

/* ---- events: a socketpair; s[1] writable -> write "ping" and stop
 * watching it; s[0] readable -> read; then close s[1] -> s[0] sees EOF. */

static struct {
    uint64_t session;
    int active;
    int fd[2];
    char got[64];
    size_t got_len;
    int write_events, read_events, error_seen;
} ev;

static void ev_end(const char *verdict)
{
    swx_event_del(ev.fd[0]);
    swx_event_del(ev.fd[1]);
    close(ev.fd[0]);
    if (ev.fd[1] >= 0)
        close(ev.fd[1]);
    reply(ev.session, "events %s got=%.*s writes=%d reads=%d error=%d",
          verdict, (int)ev.got_len, ev.got, ev.write_events, ev.read_events,
          ev.error_seen);
    ev.active = 0;
}

static void ev_writable(int fd, int events, void *arg)
{
    (void)arg;
    ev.write_events++;
    if (!(events & SWX_EVENT_WRITE) || write(fd, "ping", 4) != 4) {
        ev_end("bad write");
        return;
    }
    swx_event_del(fd);
}

static void ev_readable(int fd, int events, void *arg)
{
    (void)arg;
    ev.read_events++;
    ev.error_seen |= (events & SWX_EVENT_ERROR) != 0;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0 && ev.got_len + (size_t)n <= sizeof(ev.got)) {
        memcpy(ev.got + ev.got_len, buf, (size_t)n);
        ev.got_len += (size_t)n;
        if (ev.got_len == 4) {
            close(ev.fd[1]); /* the peer hangs up: EOF next */
            ev.fd[1] = -1;
        }
    } else if (n == 0) {
        ev_end(ev.got_len == 4 && memcmp(ev.got, "ping", 4) == 0 ? "ok"
                                                                 : "bad");
    } else if (n < 0 && errno != EAGAIN) {
        ev_end("bad read");
    }
}

static void cmd_events(uint64_t session, char *args)
{
    (void)args;
    if (ev.active) {
        reply(session, "events busy");
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.session = session;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   ev.fd) < 0) {
        reply(session, "events bad socketpair");
        return;
    }
    ev.active = 1;
    int rc1 = swx_event_add(ev.fd[0], SWX_EVENT_READ, ev_readable, NULL);
    int rc2 = swx_event_add(ev.fd[1], SWX_EVENT_WRITE, ev_writable, NULL);
    if (rc1 < 0 || rc2 < 0) {
        reply(session, "events add %d %d", rc1, rc2);
        ev_end("bad add");
    }
}

/* ---- defer: the order of the current callback, two deferred calls and
 * one deferred from a deferred call. */

static struct {
    uint64_t session;
    int active;
    char order[64];
} df;

static void df_mark(const char *what)
{
    size_t n = strlen(df.order);
    snprintf(df.order + n, sizeof(df.order) - n, "%s%s", n ? "," : "", what);
}

static void df_last(void *arg)
{
    (void)arg;
    df_mark("inner");
    int ok = strcmp(df.order, "cmd,d1,d2,inner") == 0;
    reply(df.session, "defer %s %s", ok ? "ok" : "bad", df.order);
    df.active = 0;
}

static void df_call(void *arg)
{
    df_mark(arg);
    if (strcmp(arg, "d1") == 0)
        swx_event_defer(df_last, NULL);
}

static void cmd_defer(uint64_t session, char *args)
{
    (void)args;
    if (df.active) {
        reply(session, "defer busy");
        return;
    }
    memset(&df, 0, sizeof(df));
    df.session = session;
    df.active = 1;
    swx_event_defer(df_call, "d1");
    swx_event_defer(df_call, "d2");
    df_mark("cmd");
}

static void nop_timer(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
}

static void nop_event(int fd, int events, void *arg)
{
    (void)fd;
    (void)events;
    (void)arg;
}

/* The documented error returns of the API, from a worker. */
static void cmd_apierr(uint64_t session, char *args)
{
    (void)args;
    int fd[2] = {-1, -1};
    if (pipe(fd) < 0)
        return;
    int add1 = swx_event_add(fd[0], SWX_EVENT_READ, nop_event, NULL);
    int add2 = swx_event_add(fd[0], SWX_EVENT_READ, nop_event, NULL);
    int badev = swx_event_add(fd[1], SWX_EVENT_ERROR, nop_event, NULL);
    int del1 = swx_event_del(fd[0]);
    int del2 = swx_event_del(fd[0]);
    int set2 = swx_event_set(fd[0], SWX_EVENT_READ);
    close(fd[0]);
    close(fd[1]);
    swx_stats_t st;
    swx_stats(&st);
    reply(session, "apierr tick0=%" PRId64 " after_neg=%" PRId64
          " null_cb=%" PRId64 " clear_unknown=%d add=%d add_again=%d "
          "add_errbit=%d add_negfd=%d del=%d del_again=%d set_unwatched=%d "
          "defer_null=%d task_dst_high=%" PRId64 " task_dst_neg=%" PRId64
          " msg_self=%d msg_high=%d msg_neg=%d finish_outside=%d "
          "multi_zero=%d table_missing=%d atomic_empty=%d",
          swx_timer_tick(0, nop_timer, NULL),
          swx_timer_after(-1, nop_timer, NULL),
          swx_timer_after(1, NULL, NULL), swx_timer_clear(987654321), add1,
          add2, badev, swx_event_add(-1, SWX_EVENT_READ, nop_event, NULL),
          del1, del2, set2, swx_event_defer(NULL, NULL),
          swx_task("x", 1, st.task_worker_num), swx_task("x", 1, -2),
          swx_send_message(swx_worker_id(), "x", 1),
          swx_send_message(1000000, "x", 1), swx_send_message(-1, "x", 1),
          swx_finish("x", 1), swx_taskwait_multi(NULL, 0, 10, NULL),
          swx_table("no-such-table") == NULL, swx_atomic("", 0) == NULL);
}

static const struct {
    const char *name;
    cmd_fn *fn;
} cmds[] = {
    {"ping", cmd_ping},     {"sid", cmd_sid},         {"task", cmd_task},
    {"wait", cmd_wait},     {"multi", cmd_multi},     {"big", cmd_big},
    {"bigwait", cmd_bigwait}, {"flood", cmd_flood},   {"quiet", cmd_quiet},
    {"fire", cmd_fire},     {"msg", cmd_msg},         {"bigmsg", cmd_bigmsg},
    {"stats", cmd_stats},   {"st", cmd_st},           {"timers", cmd_timers},
    {"tclear", cmd_tclear}, {"events", cmd_events},   {"defer", cmd_defer},
    {"apierr", cmd_apierr}, {"finwait", cmd_finwait},
};

static void tp_command(uint64_t session, char *line)
{
    char *args, out[TP_OUT_MAX];
    char *name = split_word(line, &args);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmds[i].name, name) == 0) {
            cmds[i].fn(session, args);
            return;
        }
    const op_t *op = op_find(name);
    if (op == NULL) {
        reply(session, "unknown %s", name);
        return;
    }
    op->fn(0, args, out, sizeof(out));
    reply(session, "%s %s", name, out);
}

/* ---------------------------------------------------- per-session lines */

typedef struct sess {
    uint64_t session;
    size_t len;
    char buf[TP_LINE_MAX];
    struct sess *next;
} sess_t;

static sess_t *sessions[TP_BUCKETS];

static sess_t **sess_slot(uint64_t session)
{
    sess_t **p = &sessions[(session * 0x9E3779B97F4A7C15ull) >> 56];
    while (*p != NULL && (*p)->session != session)
        p = &(*p)->next;
    return p;
}

static void sess_drop(uint64_t session)
{
    sess_t **p = sess_slot(session), *s = *p;
    if (s != NULL) {
        *p = s->next;
        free(s);
    }
}

static void sessions_free(void)
{
    for (int i = 0; i < TP_BUCKETS; i++)
        while (sessions[i] != NULL)
            sess_drop(sessions[i]->session);
}

static void tp_receive(uint64_t session, const void *data, size_t len)
{
    const char *p = data;
    for (size_t i = 0; i < len; i++) {
        sess_t **slot = sess_slot(session);
        if (*slot == NULL && (*slot = calloc(1, sizeof(sess_t))) != NULL)
            (*slot)->session = session;
        sess_t *s = *slot;
        if (s == NULL)
            return;
        if (p[i] != '\n') {
            if (s->len < sizeof(s->buf) - 1)
                s->buf[s->len++] = p[i];
            continue;
        }
        char line[TP_LINE_MAX];
        memcpy(line, s->buf, s->len);
        line[s->len] = '\0';
        if (s->len > 0 && line[s->len - 1] == '\r')
            line[s->len - 1] = '\0';
        s->len = 0;
        tp_command(session, line);
    }
}

static void tp_close(uint64_t session)
{
    sess_drop(session);
}

/* ---------------------------------------------------- on_pipe_message */

static void count_tick(void)
{
    swx_table_t *t = swx_table("counters");
    if (t != NULL)
        swx_table_incr(t, "ticks-seen", "n", 1, NULL);
}

/* "bigmsg:" then the stream of its length: check it. */
static void pipe_text(const char *text, size_t len, char *out, size_t size)
{
    if (len >= 7 && memcmp(text, "bigmsg:", 7) == 0) {
        size_t n = len - 7;
        snprintf(out, size, "bigmsg %zu %s", n,
                 stream_check(text + 7, n, n) == n ? "ok" : "bad");
        return;
    }
    one_line(out, size, text, len);
}

static void tp_pipe(int src, const void *data, size_t len)
{
    const char *p = data;
    unsigned long long session = 0;
    int reply_to = -1, off = 0;
    char head[64], text[TP_OUT_MAX];
    one_line(head, sizeof(head), p, len < 63 ? len : 63);
    if (sscanf(head, "%llu %d %n", &session, &reply_to, &off) < 2) {
        swx_log(SWX_LOG_WARNING, "taskprobe: bad message from %d", src);
        return;
    }
    int inner = 1;
    if (is_worker() && len - (size_t)off >= 3 &&
        memcmp(p + off, "tw:", 3) == 0) {
        /* data must stay valid for the whole call, taskwait or not. */
        inner = inner_taskwait();
        off += 3;
    }
    pipe_text(p + off, len - (size_t)off, text, sizeof(text));
    if (inner != 1) {
        char with[TP_OUT_MAX];
        snprintf(with, sizeof(with), "taskwait %d %.2000s", inner, text);
        memcpy(text, with, sizeof(text));
    }
    if (strncmp(text, "tick ", 5) == 0) {
        count_tick();
        return;
    }
    int me = swx_worker_id();
    swx_log(SWX_LOG_INFO, "taskprobe: %d got message from %d: %.80s", me,
            src, text);
    if (is_worker() && session != 0) {
        reply(session, "pipe %d %d %s", me, src, text);
    } else if (reply_to >= 0) {
        char msg[TP_OUT_MAX + 64];
        int n = snprintf(msg, sizeof(msg), "%llu -1 ack:%d:%d:%s", session,
                         me, src, text);
        int rc = swx_send_message(reply_to, msg, written(n, sizeof(msg)));
        if (rc < 0)
            swx_log(SWX_LOG_WARNING, "taskprobe: ack to %d: %d", reply_to, rc);
    }
}

/* ---------------------------------------------------- the user process */

static struct {
    int id;
    long ticks;
    int64_t timer;
} proc;

static void proc_tick(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    swx_table_t *t = swx_table("counters");
    if (t != NULL)
        swx_table_incr(t, "proc-ticks", "n", 1, NULL);
    if (++proc.ticks % 5 == 0) {
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "0 -1 tick %ld", proc.ticks);
        swx_send_message(0, msg, (size_t)n);
    }
}

static void tp_process_start(int id, const char *name, int index)
{
    proc.id = id;
    proc.timer = swx_timer_tick(20, proc_tick, NULL);
    swx_log(SWX_LOG_INFO, "taskprobe: process %s %d started (id %d, pid %d, "
            "timer %" PRId64 ")", name, index, id, (int)getpid(), proc.timer);
}

/* ------------------------------------------------------------ lifecycle */

static int tp_worker_start(int id)
{
    swx_log(SWX_LOG_DEBUG, "taskprobe: %d starting (pid %d)", id,
            (int)getpid());
    return 0;
}

static void tp_worker_stop(int id)
{
    (void)id;
    sessions_free();
    routes_free();
    if (trun != NULL) {
        free(trun->e);
        free(trun);
        trun = NULL;
    }
    if (ev.active) {
        close(ev.fd[0]);
        if (ev.fd[1] >= 0)
            close(ev.fd[1]);
        ev.active = 0;
    }
}

#ifdef TP_NO_FINISH
#define TP_ON_FINISH NULL
#else
#define TP_ON_FINISH tp_finish
#endif

SWX_PLUGIN(.name = "taskprobe",
           .on_worker_start = tp_worker_start,
           .on_worker_stop = tp_worker_stop,
           .on_receive = tp_receive,
           .on_close = tp_close,
           .on_task = tp_task,
           .on_finish = TP_ON_FINISH,
           .on_pipe_message = tp_pipe,
           .on_process_start = tp_process_start);
