/* taskdemo.c: a line-protocol TCP service that hands slow work to task
 * workers (swx_task), answers from on_finish, and keeps shared counters in
 * a table.
 *
 * Commands, one per line:
 *   sha256 TEXT   -> "sha256 HEX": SHA-256 of TEXT, then of that digest,
 *                    sha256_rounds times in all (a deliberately slow hash)
 *   primes N      -> "primes N COUNT": how many primes are below N
 *   stats         -> "stats JSON": the counters and swx_stats_json
 * Anything else gets "error ..." and the list of commands.
 *
 * The worker never computes: it sends "SESSION COMMAND ARG" to any task
 * worker and returns to its other clients; the task worker answers with
 * "SESSION REPLY" and on_finish sends REPLY to SESSION. Per command, the
 * table counts requests and bytes (in workers) and milliseconds of work
 * (in task workers); row "total" sums the commands.
 *
 * Config: "sha256_rounds" (default 100000), "primes_max" (default
 * 10000000), "table" (default "taskdemo"; columns requests, bytes and
 * task_ms, all int).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <swx_plugin.h>

#define DEMO_LINE_MAX 4096
#define DEMO_BUCKETS 64

/* ------------------------------------------------------------ SHA-256 */

typedef struct sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t used;
} sha256_t;

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(sha256_t *s, const uint8_t *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof(v));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(v[0]));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void sha256_init(sha256_t *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof(iv));
    s->len = 0;
    s->used = 0;
}

static void sha256_update(sha256_t *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->len += len;
    while (len > 0) {
        size_t n = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->buf + s->used, p, n);
        s->used += n;
        p += n;
        len -= n;
        if (s->used == 64) {
            sha256_block(s, s->buf);
            s->used = 0;
        }
    }
}

static void sha256_final(sha256_t *s, uint8_t out[32])
{
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    sha256_update(s, &pad, 1);
    while (s->used != 56)
        sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    sha256_t s;
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, out);
}

/* ------------------------------------------------------- the slow work */

/* SHA-256 of text, then of each digest, `rounds` digests in all. */
static void work_sha256(const char *text, long rounds, char hex[65])
{
    uint8_t d[32];
    sha256(text, strlen(text), d);
    for (long i = 1; i < rounds; i++)
        sha256(d, sizeof(d), d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* Primes below n, by a sieve of Eratosthenes; -1 without memory. */
static long work_primes(long n)
{
    if (n < 3)
        return 0;
    char *composite = calloc((size_t)n, 1);
    if (composite == NULL)
        return -1;
    long count = 0;
    for (long i = 2; i < n; i++) {
        if (composite[i])
            continue;
        count++;
        if (i <= (n - 1) / i)
            for (long j = i * i; j < n; j += i)
                composite[j] = 1;
    }
    free(composite);
    return count;
}

/* ------------------------------------------------------------ counters */

static swx_table_t *demo_table(void)
{
    return swx_table(swx_config_string("table", "taskdemo"));
}

/* Add to a column of the command's row and of row "total". */
static void count(const char *cmd, const char *column, int64_t n)
{
    swx_table_t *t = demo_table();
    if (t == NULL)
        return;
    int rc = swx_table_incr(t, cmd, column, n, NULL);
    if (rc == 0)
        rc = swx_table_incr(t, "total", column, n, NULL);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "taskdemo: counting %s.%s: %s", cmd, column,
                strerror(-rc));
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------- task worker: on_task */

/* The reply to "COMMAND ARG", computed here, in a task worker. */
static void demo_compute(const char *cmd, const char *arg, char *out,
                         size_t size)
{
    if (strcmp(cmd, "sha256") == 0) {
        char hex[65];
        work_sha256(arg, (long)swx_config_int("sha256_rounds", 100000), hex);
        snprintf(out, size, "sha256 %s", hex);
        return;
    }
    long n = strtol(arg, NULL, 10);
    long max = (long)swx_config_int("primes_max", 10000000);
    if (n < 0 || n > max) {
        snprintf(out, size, "error primes: N must be 0 to %ld", max);
        return;
    }
    long c = work_primes(n);
    if (c < 0)
        snprintf(out, size, "error primes: out of memory");
    else
        snprintf(out, size, "primes %ld %ld", n, c);
}

static void demo_task(int64_t task_id, int src_worker, const void *data,
                      size_t len)
{
    char text[DEMO_LINE_MAX + 64], cmd[16], out[256];
    unsigned long long session;
    int off = 0;
    (void)src_worker;
    snprintf(text, sizeof(text), "%.*s", (int)len, (const char *)data);
    if (sscanf(text, "%llu %15s %n", &session, cmd, &off) < 2) {
        swx_log(SWX_LOG_WARNING, "taskdemo: task %" PRId64 " malformed",
                task_id);
        return;
    }
    long long t0 = now_ms();
    demo_compute(cmd, text + off, out, sizeof(out));
    count(cmd, "task_ms", now_ms() - t0);
    char res[300];
    int n = snprintf(res, sizeof(res), "%llu %s", session, out);
    int rc = swx_finish(res, (size_t)n);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "taskdemo: swx_finish: %s", strerror(-rc));
}

/* ----------------------------------------------------- worker: on_finish */

static void demo_send_line(uint64_t session, const char *text)
{
    size_t len = strlen(text);
    char *line = malloc(len + 1);
    if (line == NULL)
        return;
    memcpy(line, text, len);
    line[len] = '\n';
    swx_send(session, line, len + 1); /* a closed session drops it */
    free(line);
}

static void demo_finish(int64_t task_id, const void *data, size_t len)
{
    char text[300];
    unsigned long long session;
    int off = 0;
    snprintf(text, sizeof(text), "%.*s", (int)len, (const char *)data);
    if (sscanf(text, "%llu %n", &session, &off) < 1 || off == 0) {
        swx_log(SWX_LOG_WARNING, "taskdemo: result of task %" PRId64
                " malformed", task_id);
        return;
    }
    demo_send_line(session, text + off);
}

/* ---------------------------------------------------- worker: commands */

/* swx_stats_json with its indentation taken out: one line. */
static char *stats_compact(void)
{
    char *json = swx_stats_json();
    if (json == NULL)
        return NULL;
    char *w = json;
    for (const char *r = json; *r; r++) {
        if (*r == '\n') {
            while (r[1] == ' ')
                r++;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
    return json;
}

/* {"sha256":{"requests":N,"bytes":N,"task_ms":N},...} into out. */
static size_t counters_json(char *out, size_t size)
{
    static const char *const rows[] = {"sha256", "primes", "stats", "total"};
    static const char *const cols[] = {"requests", "bytes", "task_ms"};
    swx_table_t *t = demo_table();
    size_t n = (size_t)snprintf(out, size, "{");
    for (size_t i = 0; i < 4 && n < size; i++) {
        n += (size_t)snprintf(out + n, size - n, "%s\"%s\":{", i ? "," : "",
                              rows[i]);
        for (size_t j = 0; j < 3 && n < size; j++) {
            int64_t v = 0;
            if (t != NULL)
                swx_table_get_int(t, rows[i], cols[j], &v);
            n += (size_t)snprintf(out + n, size - n, "%s\"%s\":%" PRId64,
                                  j ? "," : "", cols[j], v);
        }
        if (n < size)
            n += (size_t)snprintf(out + n, size - n, "}");
    }
    if (n < size)
        n += (size_t)snprintf(out + n, size - n, "}");
    return n < size ? n : size - 1;
}

static void cmd_stats(uint64_t session)
{
    char counters[1024];
    counters_json(counters, sizeof(counters));
    char *server = stats_compact();
    size_t len = strlen(counters) + (server ? strlen(server) : 4) + 64;
    char *line = malloc(len);
    if (line != NULL) {
        snprintf(line, len, "stats {\"commands\":%s,\"server\":%s}", counters,
                 server != NULL ? server : "null");
        demo_send_line(session, line);
    }
    free(line);
    swx_free(server);
}

static void cmd_offload(uint64_t session, const char *cmd, const char *arg)
{
    char task[DEMO_LINE_MAX + 64];
    int n = snprintf(task, sizeof(task), "%llu %s %s",
                     (unsigned long long)session, cmd, arg);
    int64_t id = swx_task(task, (size_t)n, -1);
    if (id == -EAGAIN) {
        demo_send_line(session, "busy: the task queue is full, try again");
    } else if (id < 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "error: swx_task: %s", strerror((int)-id));
        demo_send_line(session, msg);
    }
}

static void demo_line(uint64_t session, char *line, size_t len)
{
    char *arg = strchr(line, ' ');
    if (arg != NULL)
        *arg++ = '\0';
    else
        arg = line + strlen(line);
    if (strcmp(line, "sha256") == 0 || strcmp(line, "primes") == 0) {
        count(line, "requests", 1);
        count(line, "bytes", (int64_t)len);
        cmd_offload(session, line, arg);
    } else if (strcmp(line, "stats") == 0) {
        count(line, "requests", 1);
        count(line, "bytes", (int64_t)len);
        cmd_stats(session);
    } else {
        demo_send_line(session, "error: unknown command; try sha256 TEXT, "
                       "primes N or stats");
    }
}

/* ------------------------------------------- worker: lines per session */

typedef struct sess {
    uint64_t session;
    size_t len;
    int overflow;         /* the current line is too long: skip it */
    char buf[DEMO_LINE_MAX];
    struct sess *next;
} sess_t;

static sess_t *sessions[DEMO_BUCKETS];

static sess_t **sess_slot(uint64_t session)
{
    sess_t **p = &sessions[session % DEMO_BUCKETS];
    while (*p != NULL && (*p)->session != session)
        p = &(*p)->next;
    return p;
}

static void sess_line_end(uint64_t session, sess_t *s)
{
    if (s->overflow) {
        demo_send_line(session, "error: line too long");
    } else {
        size_t n = s->len;
        if (n > 0 && s->buf[n - 1] == '\r')
            n--;
        s->buf[n] = '\0';
        demo_line(session, s->buf, n + 1);
    }
    s->len = 0;
    s->overflow = 0;
}

static void demo_receive(uint64_t session, const void *data, size_t len)
{
    sess_t **slot = sess_slot(session);
    if (*slot == NULL && (*slot = calloc(1, sizeof(sess_t))) != NULL)
        (*slot)->session = session;
    sess_t *s = *slot;
    if (s == NULL)
        return;
    for (const char *p = data; len > 0; p++, len--) {
        if (*p == '\n')
            sess_line_end(session, s);
        else if (s->len < DEMO_LINE_MAX - 1)
            s->buf[s->len++] = *p;
        else
            s->overflow = 1;
    }
}

static void sess_free(uint64_t session)
{
    sess_t **slot = sess_slot(session), *s = *slot;
    if (s != NULL) {
        *slot = s->next;
        free(s);
    }
}

static void demo_close(uint64_t session)
{
    sess_free(session);
}

static int demo_worker_start(int worker_id)
{
    if (demo_table() == NULL)
        swx_log(SWX_LOG_WARNING, "taskdemo: no table \"%s\" in the config; "
                "counters are off", swx_config_string("table", "taskdemo"));
    swx_log(SWX_LOG_DEBUG, "taskdemo: %d ready", worker_id);
    return 0;
}

static void demo_worker_stop(int worker_id)
{
    (void)worker_id;
    for (int i = 0; i < DEMO_BUCKETS; i++)
        while (sessions[i] != NULL)
            sess_free(sessions[i]->session);
}

SWX_PLUGIN(.name = "taskdemo",
           .on_worker_start = demo_worker_start,
           .on_worker_stop = demo_worker_stop,
           .on_receive = demo_receive,
           .on_close = demo_close,
           .on_task = demo_task,
           .on_finish = demo_finish);
