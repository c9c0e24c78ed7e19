/* leak_plugin.c: a test plugin that leaks memory on purpose, for
 * reload_on_rss: every HTTP request (and every task) takes "leak_mb" MiB
 * (default 10) with malloc, touches every byte so it is resident, and
 * frees it only as the process exits.
 *
 * Routes:
 *   /leak    leaks in the worker; answers "PID LEAKED_MIB" (this
 *            process's pid and what it leaked so far, this request's
 *            included)
 *   /task    the same done by a task worker (swx_taskwait); answers its
 *            "PID LEAKED_MIB"
 *   /pid     leaks nothing; answers "PID 0"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <swx_plugin.h>

static long leak_mb = 10;
static long leaked_mb;

static int leak_start(int worker_id)
{
    (void)worker_id;
    leak_mb = (long)swx_config_int("leak_mb", 10);
    return 0;
}

/* Every block taken, never used again and freed only as the process
 * exits (on_worker_stop, before the plugin is unloaded), so that a
 * sanitizer's leak check at exit stays quiet: the leak. */
#define LEAK_MAX_BLOCKS 4096
static char *blocks[LEAK_MAX_BLOCKS];
static int nblocks;

/* "PID MIB" into out; the memory stays allocated for good. */
static int leak_now(char *out, size_t size)
{
    size_t n = (size_t)leak_mb * 1024 * 1024;
    char *p = nblocks < LEAK_MAX_BLOCKS ? malloc(n) : NULL;
    if (p == NULL)
        return snprintf(out, size, "%d failed", (int)getpid());
    /* A write to every byte through a volatile pointer: resident, and
     * not optimised away. */
    volatile char *v = p;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(i | 1);
    blocks[nblocks++] = p;
    leaked_mb += leak_mb;
    return snprintf(out, size, "%d %ld", (int)getpid(), leaked_mb);
}

static void leak_stop(int worker_id)
{
    (void)worker_id;
    while (nblocks > 0)
        free(blocks[--nblocks]);
}

static int route(const swx_http_request_t *req, const char *path)
{
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

static void reply(swx_http_response_t *resp, int status, const void *body,
                  size_t len)
{
    swx_http_status(resp, status);
    swx_http_end(resp, body, len);
}

static void leak_task(swx_http_response_t *resp)
{
    void *res = NULL;
    size_t len = 0;
    int rc = swx_taskwait("leak", 4, -1, 10000, &res, &len);
    if (rc < 0) {
        char out[64];
        int n = snprintf(out, sizeof(out), "taskwait %d\n", rc);
        reply(resp, 500, out, (size_t)n);
        return;
    }
    reply(resp, 200, res, len);
    swx_free(res);
}

static void leak_request(const swx_http_request_t *req,
                         swx_http_response_t *resp)
{
    char out[64];
    if (route(req, "/leak")) {
        int n = leak_now(out, sizeof(out));
        reply(resp, 200, out, (size_t)n);
    } else if (route(req, "/task")) {
        leak_task(resp);
    } else if (route(req, "/pid")) {
        int n = snprintf(out, sizeof(out), "%d 0", (int)getpid());
        reply(resp, 200, out, (size_t)n);
    } else {
        reply(resp, 404, "no route", 8);
    }
}

static void leak_on_task(int64_t task_id, int src_worker, const void *data,
                         size_t len)
{
    (void)task_id;
    (void)src_worker;
    (void)data;
    (void)len;
    char out[64];
    int n = leak_now(out, sizeof(out));
    swx_finish(out, (size_t)n);
}

SWX_PLUGIN(.name = "leak", .on_worker_start = leak_start,
           .on_worker_stop = leak_stop, .on_request = leak_request,
           .on_task = leak_on_task);
