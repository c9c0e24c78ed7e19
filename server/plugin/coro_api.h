/* coro_api.h: the coroutine runtime as processes and plugins meet it: set
 * up per process from the config, event dispatch wrapped in coroutines
 * (enable_coroutine), cancellation at stop, and the SDK's swx_co_* calls. */
#ifndef SWX_CORO_API_H
#define SWX_CORO_API_H

#include <stdint.h>

#include "core/config.h"
#include "event/loop.h"
#include "ipc/ipc.h"
#include "swx_plugin.h"

/* Set up this process's runtime on loop from cfg. 0 or -1 (logged). */
int api_coro_init(loop_t *loop, const config_t *cfg);
/* Stopping or reloading: wake every waiting coroutine with -ECANCELED and
 * let it finish, for up to max_wait_time. Idempotent. */
void api_coro_stop(void);
void api_coro_free(void);

/* Handle m (read from ch) with handle(m): in a coroutine when
 * enable_coroutine is on. One that waits keeps m's memory (ipc_detach)
 * until it ends, so its callback's pointers stay valid. */
void api_coro_dispatch(ipc_t *ch, const ipc_msg_t *m,
                       void (*handle)(const ipc_msg_t *m));
/* Run fn(arg) as an event callback: in a coroutine when enable_coroutine
 * is on; fn copies *arg before it first waits. 1 when it still waits. */
int api_coro_callback(swx_co_fn *fn, void *arg);

/* In plugin/api.c: the per-coroutine variables and the overflow namer. */
int api_coro_locals(void);
void api_coro_namer(void);

/* The SDK's table entries. */
int64_t api_co_id(void);
int api_co_stats(swx_co_stats_t *out);
int api_co_wait_fd(int fd, int events, long timeout_ms);

#endif
