/* coro_api.c: the coroutine runtime as processes and plugins meet it: set
 * up from the config in every worker, task worker and user process, event
 * dispatch wrapped in coroutines (enable_coroutine), cancellation at stop,
 * and the SDK's swx_co_* calls that need more than a cast. */
#include "plugin/coro_api.h"

#include <errno.h>
#include <string.h>

#include "coro/aio.h"
#include "coro/chan.h"
#include "coro/coro.h"
#include "coro/dns.h"
#include "coro/wait.h"
#include "core/log.h"

_Static_assert(SWX_EVENT_READ == LOOP_READ && SWX_EVENT_WRITE == LOOP_WRITE &&
               SWX_EVENT_ERROR == LOOP_ERROR, "event bits are the loop's");

static int coro_ready;
static int stopped;
static int max_wait_ms;

int api_coro_init(loop_t *loop, const config_t *cfg)
{
    if (api_coro_locals() < 0) {
        log_error("coroutines: too many per-coroutine variables");
        return -1;
    }
    api_coro_namer();
    coro_wait_init(loop);
    int rc = coro_init(loop, cfg->coroutine_stack_size, cfg->max_coroutine,
                       cfg->enable_coroutine);
    if (rc < 0) {
        log_error("coroutines: cannot start the runtime: %s", strerror(-rc));
        return -1;
    }
    max_wait_ms = cfg->max_wait_time * 1000;
    if (coro_dns_init(loop, (size_t)cfg->dns_cache_capacity,
                      cfg->dns_cache_expire, cfg->dns_server) < 0)
        return -1;
    aio_init(loop, cfg->aio_worker_num); /* threads start on first use */
    aio_set_limits(cfg->aio_core_worker_num, cfg->aio_worker_num,
                   cfg->aio_max_wait_time, cfg->aio_max_idle_time);
    coro_ready = 1;
    return 0;
}

void api_coro_stop(void)
{
    if (!coro_ready || stopped)
        return;
    stopped = 1;
    coro_dns_stop(); /* its waiters wake with -ECANCELED */
    aio_cancel(); /* file jobs that run give up at their next chunk */
    coro_stats_t st;
    coro_get_stats(&st);
    if (st.live == 0)
        return;
    log_debug("stopping: cancelling %lld coroutine(s)", (long long)st.live);
    coro_cancel_all(loop_now() + max_wait_ms);
}

void api_coro_free(void)
{
    if (!coro_ready)
        return;
    coro_dns_free();
    aio_free(loop_now() + (max_wait_ms < 2000 ? max_wait_ms : 2000));
    coro_wait_free();
    coro_free();
}

/* ---- event dispatch ---- */

typedef struct dispatch {
    void (*handle)(const ipc_msg_t *m);
    ipc_msg_t msg;
} dispatch_t;

static void dispatch_run(void *arg)
{
    dispatch_t d = *(const dispatch_t *)arg; /* before any wait */
    d.handle(&d.msg);
}

void api_coro_dispatch(ipc_t *ch, const ipc_msg_t *m,
                       void (*handle)(const ipc_msg_t *m))
{
    dispatch_t d = {handle, *m};
    coro_t *co = coro_callback(dispatch_run, &d);
    if (co == NULL || m->len == 0)
        return;
    void *hold = ipc_detach(ch, m);
    /* The waiting callback still reads the message: without the hook it
     * is left allocated (logged), not freed under it. */
    if (hold != NULL && coro_hold(co, ipc_hold_free, hold) < 0)
        log_error("coroutines: out of memory keeping a message of %zu "
                  "bytes; it stays allocated", m->len);
}

int api_coro_callback(swx_co_fn *fn, void *arg)
{
    return coro_callback(fn, arg) != NULL;
}

/* ---- the SDK ---- */

int64_t api_co_id(void)
{
    return coro_id(coro_self());
}

int api_co_stats(swx_co_stats_t *out)
{
    coro_stats_t st;
    coro_get_stats(&st);
    *out = (swx_co_stats_t){st.live, st.peak, st.created, st.refused,
                            st.pooled, (int64_t)st.stack_size, st.max};
    return 0;
}

int api_co_wait_fd(int fd, int events, long timeout_ms)
{
    return coro_wait_fd(fd, events, timeout_ms);
}
