/* probe.c: a test plugin that answers line commands, so integration tests can
 * see which worker served a request, delay a reply, move big payloads, and
 * watch workers start, fail and stop.
 *
 * Commands, one per line ("\n"):
 *   pid            -> "pid WORKER_ID PID\n"
 *   sleep MS TAG   -> sleeps MS ms in the callback, then "TAG\n"
 *   big N          -> N bytes of the pattern (i % 251) in one swx_send
 *   collect N      -> the next N bytes of the connection, sent back in one
 *                     swx_send once all have arrived
 *   close          -> swx_close
 *   session        -> "session SESSION_ID WORKER_ID\n"
 *   tell ID TEXT   -> swx_send(ID, "TEXT\n") to another session (whichever
 *                     worker owns it), then "told RC\n" here
 *   kick ID        -> swx_close(ID), then "kicked RC\n" here
 *   fork MS        -> fork(): the child keeps every fd of the worker for
 *                     MS ms, then exits; "forked PID\n"
 *   reap PID       -> waitpid(PID): "reaped RC\n"
 *   anything else  -> echoed back, newline included
 * on_connect and on_close log a debug line each.
 * A failed swx_send (other than to a closed session) is answered with
 * "ERR RC\n", e.g. "ERR -7" for -E2BIG.
 *
 * Config: "fail_start": true makes on_worker_start return 1; "crash_start":
 * true makes it raise SIGSEGV; "stop_file": PATH gets a line
 * "stop WORKER_ID PID" from on_worker_stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <swx_plugin.h>

#define PROBE_BUCKETS 256
/* A partial line longer than this is echoed as it is. */
#define PROBE_LINE_MAX (4u * 1024 * 1024)
#define PROBE_BIG_MAX (1024u * 1024 * 1024)
#define PROBE_SLEEP_MAX_MS 60000

/* What a connection has sent that is not answered yet. A session has an
 * entry only while it has a partial line or a collect in progress. */
typedef struct probe_sess {
    uint64_t session;
    struct probe_sess *next;
    char *line;           /* bytes after the last newline */
    size_t line_len;
    size_t line_cap;
    char *collect;        /* "collect N": the bytes so far */
    size_t collect_len;
    size_t collect_need;  /* N; 0 when not collecting */
} probe_sess_t;

static probe_sess_t *buckets[PROBE_BUCKETS];

static probe_sess_t **sess_slot(uint64_t session)
{
    probe_sess_t **p = &buckets[(session * 0x9E3779B97F4A7C15ull) >> 56];
    while (*p != NULL && (*p)->session != session)
        p = &(*p)->next;
    return p;
}

static probe_sess_t *sess_get(uint64_t session, int create)
{
    probe_sess_t **p = sess_slot(session);
    if (*p != NULL || !create)
        return *p;
    *p = calloc(1, sizeof(**p));
    if (*p == NULL) {
        swx_log(SWX_LOG_ERROR, "probe: session %llu: out of memory",
                (unsigned long long)session);
        return NULL;
    }
    (*p)->session = session;
    return *p;
}

static void sess_free(uint64_t session)
{
    probe_sess_t **p = sess_slot(session);
    probe_sess_t *s = *p;
    if (s == NULL)
        return;
    *p = s->next;
    free(s->line);
    free(s->collect);
    free(s);
}

/* Drop the entry once nothing is pending, so modes 1 and 3 (no on_close)
 * leave nothing behind. */
static void sess_trim(uint64_t session)
{
    probe_sess_t *s = sess_get(session, 0);
    if (s != NULL && s->line_len == 0 && s->collect_need == 0)
        sess_free(session);
}

static void probe_reply(uint64_t session, const void *data, size_t len)
{
    int rc = swx_send(session, data, len);
    if (rc == 0 || rc == -ENOTCONN)
        return;
    swx_log(SWX_LOG_WARNING, "probe: session %llu: swx_send(%zu bytes): %d",
            (unsigned long long)session, len, rc);
    char msg[32];
    int n = snprintf(msg, sizeof(msg), "ERR %d\n", rc);
    swx_send(session, msg, (size_t)n);
}

static void probe_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void cmd_pid(uint64_t session)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "pid %d %d\n", swx_worker_id(),
                     (int)getpid());
    probe_reply(session, msg, (size_t)n);
}

/* A plugin that forks: its child holds copies of the worker's sockets. */
static void cmd_fork(uint64_t session, long ms)
{
    if (ms < 0 || ms > PROBE_SLEEP_MAX_MS)
        ms = PROBE_SLEEP_MAX_MS;
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        _exit(0);
    }
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "forked %d\n", (int)pid);
    probe_reply(session, msg, (size_t)n);
}

static void cmd_reap(uint64_t session, pid_t pid)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "reaped %d\n",
                     (int)waitpid(pid, NULL, 0));
    probe_reply(session, msg, (size_t)n);
}

static void cmd_sleep(uint64_t session, long ms, const char *tag)
{
    if (ms < 0 || ms > PROBE_SLEEP_MAX_MS)
        ms = PROBE_SLEEP_MAX_MS;
    swx_log(SWX_LOG_INFO, "probe: session %llu: sleeping %ld ms",
            (unsigned long long)session, ms);
    probe_sleep_ms(ms);
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "%.200s\n", tag);
    probe_reply(session, msg, (size_t)n);
}

static void cmd_big(uint64_t session, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (p == NULL) {
        probe_reply(session, "ERR -12\n", 8);
        return;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i % 251);
    probe_reply(session, p, n);
    free(p);
}

static void cmd_collect(uint64_t session, size_t n)
{
    if (n == 0)
        return;
    probe_sess_t *s = sess_get(session, 1);
    if (s == NULL)
        return;
    s->collect = malloc(n);
    if (s->collect == NULL) {
        probe_reply(session, "ERR -12\n", 8);
        return;
    }
    s->collect_len = 0;
    s->collect_need = n;
}

static void cmd_session(uint64_t session)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "session %llu %d\n",
                     (unsigned long long)session, swx_worker_id());
    probe_reply(session, msg, (size_t)n);
}

/* tell and kick: act on another session, answer here with the result. */
static void cmd_other(uint64_t session, const char *what, uint64_t other,
                      const char *text)
{
    char msg[256];
    int rc;
    if (text != NULL) {
        int n = snprintf(msg, sizeof(msg), "%.200s\n", text);
        rc = swx_send(other, msg, (size_t)n);
    } else {
        rc = swx_close(other);
    }
    int n = snprintf(msg, sizeof(msg), "%s %d\n", what, rc);
    probe_reply(session, msg, (size_t)n);
}

/* One complete line, newline included. */
static void probe_line(uint64_t session, const char *line, size_t len)
{
    char cmd[256];
    size_t n = len - 1 < sizeof(cmd) - 1 ? len - 1 : sizeof(cmd) - 1;
    memcpy(cmd, line, n);
    cmd[n] = '\0';
    long ms;
    unsigned long long size;
    char tag[201];
    if (strcmp(cmd, "pid") == 0)
        cmd_pid(session);
    else if (sscanf(cmd, "sleep %ld %200s", &ms, tag) == 2)
        cmd_sleep(session, ms, tag);
    else if (sscanf(cmd, "big %llu", &size) == 1 && size <= PROBE_BIG_MAX)
        cmd_big(session, (size_t)size);
    else if (sscanf(cmd, "collect %llu", &size) == 1 && size <= PROBE_BIG_MAX)
        cmd_collect(session, (size_t)size);
    else if (strcmp(cmd, "close") == 0)
        swx_close(session);
    else if (strcmp(cmd, "session") == 0)
        cmd_session(session);
    else if (sscanf(cmd, "tell %llu %200s", &size, tag) == 2)
        cmd_other(session, "told", (uint64_t)size, tag);
    else if (sscanf(cmd, "fork %ld", &ms) == 1)
        cmd_fork(session, ms);
    else if (sscanf(cmd, "reap %ld", &ms) == 1)
        cmd_reap(session, (pid_t)ms);
    else if (sscanf(cmd, "kick %llu", &size) == 1)
        cmd_other(session, "kicked", (uint64_t)size, NULL);
    else
        probe_reply(session, line, len);
}

/* Feed bytes to a collect in progress; how many were taken. */
static size_t probe_feed_collect(uint64_t session, probe_sess_t *s,
                                 const char *data, size_t len)
{
    size_t want = s->collect_need - s->collect_len;
    size_t n = len < want ? len : want;
    memcpy(s->collect + s->collect_len, data, n);
    s->collect_len += n;
    if (s->collect_len == s->collect_need) {
        probe_reply(session, s->collect, s->collect_len);
        free(s->collect);
        s->collect = NULL;
        s->collect_len = s->collect_need = 0;
    }
    return n;
}

static int probe_append_line(probe_sess_t *s, const char *data, size_t len)
{
    if (s->line_len + len > s->line_cap) {
        size_t cap = s->line_cap ? s->line_cap : 256;
        while (cap < s->line_len + len)
            cap *= 2;
        char *p = realloc(s->line, cap);
        if (p == NULL)
            return -1;
        s->line = p;
        s->line_cap = cap;
    }
    memcpy(s->line + s->line_len, data, len);
    s->line_len += len;
    return 0;
}

/* Feed bytes as lines; how many were taken (up to and including one
 * newline, or all of them when there is none). */
static size_t probe_feed_lines(uint64_t session, const char *data, size_t len)
{
    const char *nl = memchr(data, '\n', len);
    size_t n = nl ? (size_t)(nl - data) + 1 : len;
    probe_sess_t *s = sess_get(session, 0);
    if ((s == NULL || s->line_len == 0) && nl != NULL) {
        probe_line(session, data, n);
        return n;
    }
    if (s == NULL && (s = sess_get(session, 1)) == NULL)
        return n;
    if (probe_append_line(s, data, n) < 0) {
        swx_log(SWX_LOG_ERROR, "probe: session %llu: out of memory",
                (unsigned long long)session);
        return n;
    }
    if (nl == NULL && s->line_len <= PROBE_LINE_MAX)
        return n;
    /* The line is complete (or too long to wait for): take it out first,
     * since the command may change the session's state. */
    char *line = s->line;
    size_t line_len = s->line_len;
    s->line = NULL;
    s->line_len = s->line_cap = 0;
    if (nl != NULL)
        probe_line(session, line, line_len);
    else
        probe_reply(session, line, line_len);
    free(line);
    return n;
}

static void probe_receive(uint64_t session, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        probe_sess_t *s = sess_get(session, 0);
        size_t n = s != NULL && s->collect_need > 0
                       ? probe_feed_collect(session, s, p, len)
                       : probe_feed_lines(session, p, len);
        p += n;
        len -= n;
    }
    sess_trim(session);
}

static void probe_connect(uint64_t session, const swx_conninfo_t *info)
{
    swx_log(SWX_LOG_DEBUG, "probe: session %llu: connect from %s:%d on "
            "listener %d (port %d)", (unsigned long long)session,
            info->peer_addr, info->peer_port, info->listener,
            info->server_port);
}

static void probe_close(uint64_t session)
{
    swx_log(SWX_LOG_DEBUG, "probe: session %llu: close",
            (unsigned long long)session);
    sess_free(session);
}

static int probe_worker_start(int worker_id)
{
    swx_log(SWX_LOG_INFO, "probe: worker %d (pid %d) starting", worker_id,
            (int)getpid());
    if (swx_config_bool("crash_start", 0))
        raise(SIGSEGV);
    if (swx_config_bool("fail_start", 0))
        return 1;
    return 0;
}

static void probe_worker_stop(int worker_id)
{
    const char *path = swx_config_string("stop_file", NULL);
    if (path != NULL) {
        char line[64];
        int n = snprintf(line, sizeof(line), "stop %d %d\n", worker_id,
                         (int)getpid());
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, line, (size_t)n) != n)
            swx_log(SWX_LOG_ERROR, "probe: %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    for (int i = 0; i < PROBE_BUCKETS; i++)
        while (buckets[i] != NULL)
            sess_free(buckets[i]->session);
}

SWX_PLUGIN(.name = "probe",
           .on_worker_start = probe_worker_start,
           .on_worker_stop = probe_worker_stop,
           .on_connect = probe_connect,
           .on_receive = probe_receive,
           .on_close = probe_close);
