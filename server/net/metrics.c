/* metrics.c: GET /metrics: connections, HTTP requests by listener and
 * status class, the request duration histogram, worker states, restarts
 * by cause, tasks, memory per process, in Prometheus's text format 0.0.4,
 * read from shared memory (ipc/shm.h, ipc/shm_http.h) in the master. */
#include "net/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "core/log.h"
#include "http/access_log.h"
#include "http/http_head.h"
#include "ipc/shm_http.h"
#include "plugin/api_shared.h"

__attribute__((format(printf, 2, 3))) static int mx_printf(buf_t *b,
                                                           const char *fmt,
                                                           ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -EINVAL;
    return buf_append(b, line, (size_t)n);
}

/* # HELP and # TYPE of a metric. */
static int mx_head(buf_t *b, const char *name, const char *type,
                   const char *help)
{
    return mx_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                     type);
}

/* A metric of one sample, without labels. */
static int mx_one(buf_t *b, const char *name, const char *type,
                  const char *help, long long v)
{
    int rc = mx_head(b, name, type, help);
    return rc == 0 ? mx_printf(b, "%s %lld\n", name, v) : rc;
}

/* The master's writer's drops, and in base mode the workers'. */
static long long mx_access_log_dropped(const server_t *srv)
{
    const shm_http_t *m = srv->shm->http;
    uint64_t n = access_log_dropped();
    if (m != NULL)
        n += atomic_load_explicit(&m->access_log_dropped,
                                  memory_order_relaxed);
    return (long long)n;
}

static int mx_server(buf_t *b, const swx_stats_t *s, const server_t *srv)
{
    int rc = mx_one(b, "swx_uptime_seconds", "gauge",
                    "Seconds since the server started.",
                    (long long)(time(NULL) - s->start_time));
    if (rc == 0)
        rc = mx_one(b, "swx_connections", "gauge",
                    "Client connections open now.", (long long)s->connection_num);
    if (rc == 0)
        rc = mx_one(b, "swx_connections_accepted_total", "counter",
                    "Client connections accepted.", (long long)s->accept_count);
    if (rc == 0)
        rc = mx_one(b, "swx_connections_closed_total", "counter",
                    "Client connections closed.", (long long)s->close_count);
    if (rc == 0)
        rc = mx_one(b, "swx_dispatch_total", "counter",
                    "Events handed to workers.", (long long)s->dispatch_count);
    if (rc == 0)
        rc = mx_one(b, "swx_reloads_total", "counter",
                    "Reloads of the workers completed.",
                    (long long)s->reload_count);
    if (rc == 0)
        rc = mx_one(b, "swx_access_log_dropped_total", "counter",
                    "Access log lines dropped: the disk did not keep up.",
                    mx_access_log_dropped(srv));
    return rc;
}

static int mx_tasks(buf_t *b, const swx_stats_t *s)
{
    int rc = mx_one(b, "swx_tasking", "gauge",
                    "Tasks sent and not yet done.", (long long)s->tasking_num);
    if (rc == 0)
        rc = mx_one(b, "swx_task_queue", "gauge",
                    "Tasks not yet taken by a task worker.",
                    (long long)s->task_queue_num);
    if (rc == 0)
        rc = mx_one(b, "swx_task_queue_full_total", "counter",
                    "Tasks refused because the queue was full.",
                    (long long)s->task_queue_full);
    return rc;
}

/* ---- processes ---- */

enum { MX_IDLE, MX_BUSY, MX_DOWN, MX_BACKOFF, MX_STATES };
static const char *const mx_state_names[MX_STATES] = {"idle", "busy", "down",
                                                      "backoff"};

/* As the stats say it (api_shared.c): back-off first, then running. */
static int mx_state(const shm_worker_t *w)
{
    if (atomic_load(&w->backoff_until) != 0)
        return MX_BACKOFF;
    if (atomic_load(&w->pid) == 0)
        return MX_DOWN;
    return atomic_load(&w->busy) ? MX_BUSY : MX_IDLE;
}

static const char *mx_kind(const shm_t *shm, int id)
{
    return id < shm->worker_num ? "worker"
           : id < shm->worker_num + shm->task_worker_num ? "task"
                                                         : "process";
}

/* name{state=...}: the processes from..from+n by state. */
static int mx_states(buf_t *b, const shm_t *shm, const char *name,
                     const char *help, int from, int n)
{
    int count[MX_STATES] = {0};
    for (int i = from; i < from + n; i++)
        count[mx_state(&shm->workers[i])]++;
    int rc = mx_head(b, name, "gauge", help);
    for (int s = 0; s < MX_STATES && rc == 0; s++)
        rc = mx_printf(b, "%s{state=\"%s\"} %d\n", name, mx_state_names[s],
                       count[s]);
    return rc;
}

static int mx_restarts(buf_t *b, const shm_t *shm)
{
    static const char *const causes[RESTART_CAUSES] = {
        [RESTART_CRASH] = "crash", [RESTART_MAX_REQUEST] = "max_request",
        [RESTART_RSS] = "rss", [RESTART_TIMEOUT] = "timeout"};
    int rc = mx_head(b, "swx_worker_restarts_total", "counter",
                     "Processes replaced, by cause.");
    for (int i = 0; i < RESTART_CAUSES && rc == 0; i++)
        rc = mx_printf(b, "swx_worker_restarts_total{cause=\"%s\"} %llu\n",
                       causes[i],
                       (unsigned long long)atomic_load(&shm->restarts[i]));
    return rc;
}

static int mx_procs(buf_t *b, const shm_t *shm)
{
    int rc = mx_head(b, "swx_process_resident_memory_bytes", "gauge",
                     "Resident memory of each process, as it last measured "
                     "itself (0: not yet).");
    for (int i = 0; i < shm->nprocs && rc == 0; i++)
        rc = mx_printf(b, "swx_process_resident_memory_bytes{id=\"%d\","
                       "kind=\"%s\"} %llu\n", i, mx_kind(shm, i),
                       (unsigned long long)atomic_load(&shm->workers[i].rss));
    if (rc == 0)
        rc = mx_head(b, "swx_requests_total", "counter",
                     "Requests handled by each worker id, all its processes.");
    for (int i = 0; i < shm->worker_num && rc == 0; i++)
        rc = mx_printf(b, "swx_requests_total{worker=\"%d\"} %llu\n", i,
                       (unsigned long long)atomic_load(
                           &shm->workers[i].requests));
    if (rc == 0)
        rc = mx_states(b, shm, "swx_workers", "Workers by state.", 0,
                       shm->worker_num);
    if (rc == 0)
        rc = mx_states(b, shm, "swx_task_workers", "Task workers by state.",
                       shm->worker_num, shm->task_worker_num);
    return rc == 0 ? mx_restarts(b, shm) : rc;
}

/* ---- HTTP ---- */

/* Listener l's rows summed over the reactor threads. */
static void mx_sum(const shm_http_t *m, int l, uint64_t status[5],
                   uint64_t bucket[SHM_HTTP_BOUNDS + 1], uint64_t *sum_us,
                   uint64_t *count)
{
    memset(status, 0, 5 * sizeof(*status));
    memset(bucket, 0, (SHM_HTTP_BOUNDS + 1) * sizeof(*bucket));
    *sum_us = *count = 0;
    for (int t = 0; t < m->nthreads; t++) {
        const shm_http_row_t *r = &m->rows[l * m->nthreads + t];
        for (int i = 0; i < 5; i++)
            status[i] += atomic_load_explicit(&r->status[i],
                                              memory_order_relaxed);
        for (int i = 0; i <= SHM_HTTP_BOUNDS; i++)
            bucket[i] += atomic_load_explicit(&r->bucket[i],
                                              memory_order_relaxed);
        *sum_us += atomic_load_explicit(&r->sum_us, memory_order_relaxed);
        *count += atomic_load_explicit(&r->count, memory_order_relaxed);
    }
}

/* The histogram's lines for listener l: cumulative buckets ending in
 * +Inf, whose count is _count (read from the same sums, so they agree
 * even while requests are being counted). */
static int mx_histogram(buf_t *b, int l, const uint64_t *bucket,
                        uint64_t sum_us)
{
    static const int64_t bounds[SHM_HTTP_BOUNDS] = SHM_HTTP_BOUNDS_US;
    const char *name = "swx_http_request_duration_seconds";
    uint64_t cum = 0;
    int rc = 0;
    for (int i = 0; i <= SHM_HTTP_BOUNDS && rc == 0; i++) {
        char le[16] = "+Inf";
        cum += bucket[i];
        if (i < SHM_HTTP_BOUNDS)
            snprintf(le, sizeof(le), "%g", (double)bounds[i] / 1e6);
        rc = mx_printf(b, "%s_bucket{listener=\"%d\",le=\"%s\"} %llu\n",
                       name, l, le, (unsigned long long)cum);
    }
    if (rc == 0)
        rc = mx_printf(b, "%s_sum{listener=\"%d\"} %.6f\n%s_count{listener="
                       "\"%d\"} %llu\n", name, l, (double)sum_us / 1e6, name,
                       l, (unsigned long long)cum);
    return rc;
}

static int mx_is_http(const config_listener_t *l)
{
    return l->protocol == PROTOCOL_HTTP || l->protocol == PROTOCOL_WEBSOCKET;
}

static int mx_http(buf_t *b, const server_t *srv)
{
    const shm_http_t *m = srv->shm->http;
    uint64_t status[5], bucket[SHM_HTTP_BOUNDS + 1], sum_us, count;
    int rc = mx_head(b, "swx_http_requests_total", "counter",
                     "HTTP responses by listener and status class.");
    for (int l = 0; m != NULL && l < m->nlisteners && rc == 0; l++) {
        if (!mx_is_http(&srv->cfg.listeners[l]))
            continue;
        mx_sum(m, l, status, bucket, &sum_us, &count);
        for (int i = 0; i < 5 && rc == 0; i++)
            rc = mx_printf(b, "swx_http_requests_total{listener=\"%d\","
                           "status=\"%dxx\"} %llu\n", l, i + 1,
                           (unsigned long long)status[i]);
    }
    if (rc == 0)
        rc = mx_head(b, "swx_http_request_duration_seconds", "histogram",
                     "HTTP request duration, from its first byte to its "
                     "response's last.");
    for (int l = 0; m != NULL && l < m->nlisteners && rc == 0; l++) {
        if (!mx_is_http(&srv->cfg.listeners[l]))
            continue;
        mx_sum(m, l, status, bucket, &sum_us, &count);
        rc = mx_histogram(b, l, bucket, sum_us);
    }
    return rc;
}

/* TLS handshakes by outcome (net/tls.c). */
static int mx_tls(buf_t *b, const shm_t *shm)
{
    int rc = mx_head(b, "swx_tls_handshakes_total", "counter",
                     "TLS handshakes, done or failed (refused, timed out).");
    if (rc == 0)
        rc = mx_printf(b, "swx_tls_handshakes_total{result=\"ok\"} %llu\n"
                       "swx_tls_handshakes_total{result=\"failed\"} %llu\n",
                       (unsigned long long)atomic_load(&shm->tls_handshakes),
                       (unsigned long long)atomic_load(
                           &shm->tls_handshakes_failed));
    return rc;
}

int metrics_render(const server_t *srv, buf_t *out)
{
    swx_stats_t s;
    if (api_stats(&s) < 0)
        return -EINVAL;
    int rc = mx_server(out, &s, srv);
    if (rc == 0)
        rc = mx_http(out, srv);
    if (rc == 0)
        rc = mx_tasks(out, &s);
    if (rc == 0)
        rc = mx_procs(out, srv->shm);
    if (rc == 0)
        rc = mx_tls(out, srv->shm);
    return rc;
}

/* ---- the admin endpoint's answer ---- */

/* Head and body in one sendmsg: the exposition of a few hundred
 * processes fits the socket buffer, and a client that cannot take it is
 * not waited for (the admin runs in the master's main thread). */
static void mx_send(int fd, int status, const char *type, const buf_t *body)
{
    http_head_lines_t lines[] = {{type, 0}, {"Allow: GET\r\n", 0}};
    http_head_t h = {.status = status, .framing = HTTP_HEAD_LENGTH,
                     .length = buf_pending(body), .conn = HTTP_HEAD_CLOSE,
                     .lines = lines, .nlines = status == 405 ? 2 : 1};
    buf_t head = {0};
    if (http_head_append(&head, &h) < 0) {
        log_debug("admin: /metrics not sent: out of memory");
        return;
    }
    struct iovec iov[2] = {{buf_head(&head), buf_pending(&head)},
                           {buf_head(body), buf_pending(body)}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 || (size_t)n != iov[0].iov_len + iov[1].iov_len)
        log_warn("admin: /metrics: %s", n < 0 ? strerror(errno)
                 : "the client took only part of it");
    buf_free(&head);
}

void metrics_serve(int fd, const char *method, const server_t *srv)
{
    buf_t body = {0};
    if (strcmp(method, "GET") != 0) {
        buf_append(&body, "GET /metrics\n", 13);
        mx_send(fd, 405, "Content-Type: text/plain; charset=utf-8\r\n",
                &body);
    } else if (metrics_render(srv, &body) < 0) {
        buf_reset(&body);
        buf_append(&body, "out of memory\n", 14);
        mx_send(fd, 500, "Content-Type: text/plain; charset=utf-8\r\n",
                &body);
    } else {
        mx_send(fd, 200, "Content-Type: text/plain; version=0.0.4; "
                "charset=utf-8\r\n", &body);
    }
    buf_free(&body);
}
