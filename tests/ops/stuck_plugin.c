/* stuck_plugin.c: a test plugin whose callbacks loop forever or run slowly
 * on request, for max_execution_time and the slow log.
 *
 * Raw TCP (on_receive), one line at a time:
 *   "spin\n"       loops forever in stuck_spin_forever()
 *   "slow\n"       waits "slow_ms" (default 1500) in stuck_slow_wait(), then
 *                  answers "slow done\n"
 *   "task spin\n"  swx_taskwait of a task that loops forever, waiting
 *                  "task_wait_ms" (default 1500): "task rc=RC\n"
 *   "task ping\n"  swx_taskwait of "ping": "task pong\n" or "task rc=RC\n"
 *   "proc spin\n"  tells the user process "stuckproc" to loop forever in
 *                  on_pipe_message: "sent\n"
 *   "pid\n"        "pid WORKER PID\n"
 *   anything else  "ok:" and the line
 * UDP (on_packet): "spin" loops forever, anything else is answered "ok:"
 * and the datagram.
 * HTTP (on_request): /spin loops forever, /begun sends part of a chunked
 * response and then loops, /slow waits like "slow", anything else is
 * answered "ok WORKER PID\n".
 * WebSocket (on_message): "spin" loops forever, anything else is echoed
 * with "ok:" before it.
 * Tasks (on_task): "spin" loops forever, "ping" is answered "pong".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

static long slow_ms;
static long task_wait_ms;

/* The function a backtrace of a stuck process must name: static and
 * hidden, so only the ELF symbol table knows it. */
static __attribute__((noinline)) void stuck_spin_forever(void)
{
    volatile unsigned long n = 0;
    for (;;)
        n++;
}

/* Sleeps ms in all, whatever signals interrupt it. */
static __attribute__((noinline)) void stuck_slow_wait(long ms)
{
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    do {
        struct timespec step = {0, 20 * 1000000L};
        nanosleep(&step, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec < end.tv_sec ||
             (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
}

static int stuck_start(int worker_id)
{
    (void)worker_id;
    slow_ms = (long)swx_config_int("slow_ms", 1500);
    task_wait_ms = (long)swx_config_int("task_wait_ms", 1500);
    return 0;
}

static void stuck_reply(uint64_t session, const char *text)
{
    swx_send(session, text, strlen(text));
}

static void stuck_task(uint64_t session, const char *what)
{
    void *res = NULL;
    size_t len = 0;
    char out[128];
    int rc = swx_taskwait(what, strlen(what), -1, (int)task_wait_ms, &res,
                          &len);
    if (rc == 0)
        snprintf(out, sizeof(out), "task %.*s\n", (int)len,
                 (const char *)res);
    else
        snprintf(out, sizeof(out), "task rc=%d\n", rc);
    swx_free(res);
    stuck_reply(session, out);
}

/* "ok:" and what came (at most 200 bytes) into out[256]; its length. */
static size_t stuck_ok(char *out, const void *data, size_t len)
{
    return (size_t)snprintf(out, 256, "ok:%.*s", (int)(len < 200 ? len : 200),
                            (const char *)data);
}

static int stuck_is(const void *data, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(data, word, len) == 0;
}

static void stuck_receive(uint64_t session, const void *data, size_t len)
{
    char out[256];
    if (stuck_is(data, len, "spin\n")) {
        stuck_spin_forever();
    } else if (stuck_is(data, len, "slow\n")) {
        stuck_slow_wait(slow_ms);
        stuck_reply(session, "slow done\n");
    } else if (stuck_is(data, len, "task spin\n")) {
        stuck_task(session, "spin");
    } else if (stuck_is(data, len, "task ping\n")) {
        stuck_task(session, "ping");
    } else if (stuck_is(data, len, "proc spin\n")) {
        int rc = swx_send_message(swx_config_int("proc_id", 0), "spin", 4);
        snprintf(out, sizeof(out), rc == 0 ? "sent\n" : "send rc=%d\n", rc);
        stuck_reply(session, out);
    } else if (stuck_is(data, len, "pid\n")) {
        snprintf(out, sizeof(out), "pid %d %d\n", swx_worker_id(),
                 (int)getpid());
        stuck_reply(session, out);
    } else {
        swx_send(session, out, stuck_ok(out, data, len));
    }
}

static void stuck_packet(const swx_peer_t *peer, const void *data,
                         size_t len)
{
    char out[256];
    if (stuck_is(data, len, "spin"))
        stuck_spin_forever();
    swx_sendto(peer, out, stuck_ok(out, data, len));
}

static int stuck_path(const swx_http_request_t *req, const char *path)
{
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

static void stuck_request(const swx_http_request_t *req,
                          swx_http_response_t *resp)
{
    char out[64];
    if (stuck_path(req, "/spin"))
        stuck_spin_forever();
    if (stuck_path(req, "/begun")) {
        swx_http_write(resp, "partial\n", 8);
        stuck_spin_forever();
    }
    if (stuck_path(req, "/slow")) {
        stuck_slow_wait(slow_ms);
        swx_http_end(resp, "slow done\n", 10);
        return;
    }
    int n = snprintf(out, sizeof(out), "ok %d %d\n", swx_worker_id(),
                     (int)getpid());
    swx_http_end(resp, out, (size_t)n);
}

static void stuck_message(uint64_t session, int opcode, const void *data,
                          size_t len)
{
    char out[256];
    if (stuck_is(data, len, "spin"))
        stuck_spin_forever();
    swx_ws_push(session, out, stuck_ok(out, data, len), opcode);
}

static void stuck_on_task(int64_t task_id, int src, const void *data,
                          size_t len)
{
    (void)task_id;
    (void)src;
    if (stuck_is(data, len, "spin"))
        stuck_spin_forever();
    if (stuck_is(data, len, "ping"))
        swx_finish("pong", 4);
}

static void stuck_pipe(int src, const void *data, size_t len)
{
    (void)src;
    if (stuck_is(data, len, "spin"))
        stuck_spin_forever();
}

static void stuck_process_start(int id, const char *name, int index)
{
    swx_log(SWX_LOG_INFO, "stuck: process %s %d is process id %d", name,
            index, id);
}

SWX_PLUGIN(.name = "stuck",
           .on_worker_start = stuck_start,
           .on_receive = stuck_receive,
           .on_packet = stuck_packet,
           .on_request = stuck_request,
           .on_message = stuck_message,
           .on_task = stuck_on_task,
           .on_pipe_message = stuck_pipe,
           .on_process_start = stuck_process_start);
