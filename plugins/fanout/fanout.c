/* fanout.c: the coroutine example plugin: every HTTP request fetches the
 * upstreams of the plugin's config (host:port/path) at once, each in a
 * coroutine of its own with swx_co_sock_* (fetch.c), and answers with one
 * JSON object: per upstream its status, body bytes and time, or its error.
 * The request takes as long as the slowest upstream, not their sum, and
 * the worker serves other clients meanwhile. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <swx_plugin.h>

#include "fetch.h"

#define UPSTREAMS_MAX 32

typedef struct upstream {
    char spec[300]; /* as configured: host:port/path */
    char host[64];
    int port;
    const char *path; /* into spec */
} upstream_t;

static upstream_t ups[UPSTREAMS_MAX];
static int nups;
static long timeout_ms;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the config ---- */

/* "127.0.0.1:8080/path", "[::1]:80/", "localhost:81": 0 or -EINVAL. */
static int upstream_parse(const char *spec, upstream_t *u)
{
    if (snprintf(u->spec, sizeof(u->spec), "%s", spec) >=
        (int)sizeof(u->spec))
        return -EINVAL;
    const char *slash = strchr(u->spec, '/');
    u->path = slash != NULL ? slash : "/";
    size_t hostport = slash != NULL ? (size_t)(slash - u->spec)
                                    : strlen(u->spec);
    const char *colon = u->spec[0] == '['
                            ? strstr(u->spec, "]:")
                            : memchr(u->spec, ':', hostport);
    if (colon == NULL || colon >= u->spec + hostport)
        return -EINVAL;
    colon += u->spec[0] == '['; /* past the ']' */
    size_t hlen = (size_t)(colon - u->spec);
    if (hlen == 0 || hlen >= sizeof(u->host))
        return -EINVAL;
    memcpy(u->host, u->spec, hlen);
    u->host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end != u->spec + hostport || port <= 0 || port > 65535)
        return -EINVAL;
    u->port = (int)port;
    return 0;
}

/* "upstreams": [...] and "timeout_ms" from this plugin's config. */
static int config_load(void)
{
    json_t *cfg = json_loads(swx_config_json(), 0, NULL);
    json_t *list = json_object_get(cfg, "upstreams");
    size_t i;
    json_t *v;
    int rc = json_is_array(list) ? 0 : -EINVAL;
    json_array_foreach(list, i, v) {
        if (rc < 0 || nups == UPSTREAMS_MAX || !json_is_string(v) ||
            upstream_parse(json_string_value(v), &ups[nups]) < 0) {
            swx_log(SWX_LOG_ERROR, "fanout: upstreams[%zu]: expected "
                    "\"host:port/path\" (at most %d)", i, UPSTREAMS_MAX);
            rc = -EINVAL;
            break;
        }
        nups++;
    }
    if (list == NULL)
        swx_log(SWX_LOG_ERROR, "fanout: config: \"upstreams\" is missing");
    json_decref(cfg);
    timeout_ms = (long)swx_config_int("timeout_ms", 3000);
    return rc;
}

/* ---- one request ---- */

typedef struct job {
    const upstream_t *up;
    fetch_result_t res;
    int rc;
    long long ms;
} job_t;

/* What a request's coroutines share: the last one out frees it, so a
 * handler that stops waiting (cancelled) leaves no coroutine writing
 * into freed memory. */
typedef struct round {
    swx_co_wg_t *wg;
    int refs;
    job_t jobs[];
} round_t;

static void round_unref(round_t *r)
{
    if (--r->refs > 0)
        return;
    swx_co_wg_free(r->wg);
    free(r);
}

typedef struct work {
    round_t *round;
    job_t *job;
} work_t;

static void fetch_job(void *arg)
{
    work_t w = *(work_t *)arg; /* arg is the creator's, gone after a wait */
    long long t0 = now_ms();
    const upstream_t *u = w.job->up;
    w.job->rc = fetch_get(u->host, u->port, u->path, timeout_ms, &w.job->res);
    w.job->ms = now_ms() - t0;
    swx_co_wg_done(w.round->wg);
    round_unref(w.round);
}

/* Start one coroutine per upstream; the round, or NULL (no memory). */
static round_t *round_start(void)
{
    round_t *r = calloc(1, sizeof(*r) + (size_t)nups * sizeof(job_t));
    if (r == NULL || (r->wg = swx_co_wg_new()) == NULL) {
        free(r);
        return NULL;
    }
    r->refs = 1;
    for (int i = 0; i < nups; i++) {
        work_t w = {r, &r->jobs[i]};
        r->jobs[i].up = &ups[i];
        swx_co_wg_add(r->wg, 1);
        r->refs++;
        if (swx_go(fetch_job, &w) < 0) { /* max_coroutine reached */
            r->jobs[i].rc = -EAGAIN;
            r->jobs[i].res.error = "no coroutine: max_coroutine reached";
            swx_co_wg_done(r->wg);
            r->refs--;
        }
    }
    return r;
}

/* ---- the answer ---- */

static json_t *job_json(const job_t *j)
{
    json_t *o = json_pack("{s:s}", "upstream", j->up->spec);
    if (j->res.status > 0)
        json_object_set_new(o, "status", json_integer(j->res.status));
    if (j->rc == 0)
        json_object_set_new(o, "bytes", json_integer(j->res.bytes));
    else
        json_object_set_new(o, "error", json_string(j->res.error != NULL
                                                        ? j->res.error
                                                        : strerror(-j->rc)));
    json_object_set_new(o, "ms", json_integer(j->ms));
    return o;
}

static void answer(swx_http_response_t *resp, const round_t *r, int rc,
                   long long ms)
{
    json_t *list = json_array();
    for (int i = 0; i < nups; i++)
        json_array_append_new(list, job_json(&r->jobs[i]));
    json_t *o = json_pack("{s:o, s:I, s:i}", "upstreams", list, "ms",
                          (json_int_t)ms, "worker", swx_worker_id());
    if (rc < 0)
        json_object_set_new(o, "error", json_string(strerror(-rc)));
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    size_t n = text != NULL ? strlen(text) : 0;
    char *body = text != NULL ? realloc(text, n + 2) : NULL;
    if (body == NULL) {
        free(text);
        swx_http_status(resp, 500);
        swx_http_end(resp, "out of memory\n", 14);
        return;
    }
    body[n++] = '\n'; /* curl's prompt on a line of its own */
    swx_http_header(resp, "Content-Type", "application/json");
    swx_http_end(resp, body, n);
    free(body);
}

static void on_request(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    (void)req;
    long long t0 = now_ms();
    round_t *r = round_start();
    if (r == NULL) {
        swx_http_status(resp, 503);
        swx_http_end(resp, "out of memory\n", 14);
        return;
    }
    /* every fetch ends by its own timeout; the margin is for the loop */
    int rc = swx_co_wg_wait(r->wg, timeout_ms + 1000);
    answer(resp, r, rc, now_ms() - t0);
    round_unref(r);
}

static int on_worker_start(int worker_id)
{
    (void)worker_id;
    nups = 0;
    return config_load() < 0 ? -1 : 0;
}

SWX_PLUGIN(.name = "fanout", .on_request = on_request,
           .on_worker_start = on_worker_start);
