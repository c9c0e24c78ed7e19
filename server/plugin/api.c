/* api.c: the function table plugins call (swx_* in the SDK). */
#include "plugin/api.h"

#include <errno.h>
#include <stdlib.h>

#include "plugin/api_shared.h"
#include "http/http_api.h"
#include "http/http_response.h"
#include "core/log.h"
#include "plugin/task.h"
#include "plugin/plugin_io.h"
#include "plugin/coro_api.h"
#include "plugin/cosys_api.h"
#include "coro/chan.h"
#include "coro/dns.h"
#include "coro/fileio.h"
#include "coro/coro.h"
#include "coro/sock.h"
#include "coro/wait.h"
#include "coro/guard.h"

static const plugin_t *current;
const char *api_callback;
static int role_worker_id = -1;
static const api_ops_t *role_ops;

void api_set_role(int worker_id, const api_ops_t *ops)
{
    role_worker_id = worker_id;
    role_ops = ops;
}

const plugin_t *api_enter(const plugin_t *p)
{
    const plugin_t *prev = current;
    current = p;
    return prev;
}

const plugin_t *api_current(void)
{
    return current;
}

/* The variables a coroutine keeps its own copy of (coro_local). */
int api_coro_locals(void)
{
    if (coro_local(&current, sizeof(current)) < 0 ||
        coro_local(&api_callback, sizeof(api_callback)) < 0)
        return -ENOSPC;
    return 0;
}

/* For the guard page's report: reads memory only. */
static void api_namer(const char **plugin, const char **callback)
{
    *plugin = current != NULL ? current->name : NULL;
    *callback = api_callback;
}

void api_coro_namer(void)
{
    coro_set_namer(api_namer);
}

static int api_send(uint64_t session, const void *data, size_t len)
{
    return role_ops ? role_ops->send(session, data, len) : -ENOTSUP;
}

static int api_close(uint64_t session)
{
    return role_ops ? role_ops->close(session) : -ENOTSUP;
}

static int api_sendto(const swx_peer_t *peer, const void *data, size_t len)
{
    return role_ops ? role_ops->sendto(peer, data, len) : -ENOTSUP;
}

static int api_bind(uint64_t session, uint32_t uid)
{
    return role_ops ? role_ops->bind(session, uid) : -ENOTSUP;
}

static int api_listener(void)
{
    return role_ops ? role_ops->listener() : -1;
}

static int api_worker_id(void)
{
    return role_worker_id;
}

static void api_vlog(int level, const char *fmt, va_list ap)
{
    log_vmsg(level, fmt, ap);
}

static const char *api_config_json(void)
{
    return current ? current->cfg->config_json : "{}";
}

static const char *api_config_string(const char *key, const char *def)
{
    return current ? plugin_config_string(current, key, def) : def;
}

static long long api_config_int(const char *key, long long def)
{
    return current ? plugin_config_int(current, key, def) : def;
}

static int api_config_bool(const char *key, int def)
{
    return current ? plugin_config_bool(current, key, def) : def;
}

const swx_api_t server_api = {
    .size = sizeof(swx_api_t),
    .send = api_send,
    .close = api_close,
    .worker_id = api_worker_id,
    .vlog = api_vlog,
    .config_json = api_config_json,
    .config_string = api_config_string,
    .config_int = api_config_int,
    .config_bool = api_config_bool,
    .timer_add = pio_timer_add,
    .timer_clear = pio_timer_clear,
    .event_add = pio_event_add,
    .event_set = pio_event_set,
    .event_del = pio_event_del,
    .event_defer = pio_defer,
    .task = task_send,
    .taskwait = task_wait,
    .taskwait_multi = task_wait_multi,
    .finish = task_finish,
    .send_message = task_send_message,
    .free = free,
    .stats = api_stats,
    .stats_json = api_stats_json,
    .table = api_table,
    .table_set_int = api_table_set_int,
    .table_set_float = api_table_set_float,
    .table_set_string = api_table_set_string,
    .table_get_int = api_table_get_int,
    .table_get_float = api_table_get_float,
    .table_get_string = api_table_get_string,
    .table_incr = api_table_incr,
    .table_incr_float = api_table_incr_float,
    .table_del = api_table_del,
    .table_exists = api_table_exists,
    .table_count = api_table_count,
    .table_next = api_table_next,
    .atomic = api_atomic,
    .atomic_add = api_atomic_add,
    .atomic_get = api_atomic_get,
    .atomic_set = api_atomic_set,
    .atomic_cmpset = api_atomic_cmpset,
    .atomic_wait = api_atomic_wait,
    .atomic_wakeup = api_atomic_wakeup,
    .sendto = api_sendto,
    .bind = api_bind,
    .listener = api_listener,
    .http_get_header = http_api_get_header,
    .http_status = http_response_status,
    .http_header = http_response_header,
    .http_write = http_response_write,
    .http_end = http_response_end,
    .http_sendfile = http_response_sendfile,
    .ws_push = http_api_ws_push,
    .ws_close = http_api_ws_close,
    .http_query_param = http_api_query_param,
    .http_form_param = http_api_form_param,
    .http_cookie = http_api_cookie,
    .http_multipart_next = http_api_multipart_next,
    .co_go = coro_go,
    .co_id = api_co_id,
    .co_yield = coro_yield,
    .co_resume = coro_resume,
    .co_sleep = coro_sleep,
    .co_defer = coro_defer,
    .co_stats = api_co_stats,
    .co_wait_fd = api_co_wait_fd,
    .co_chan_new = coro_chan_new,
    .co_chan_push = coro_chan_push,
    .co_chan_pop = coro_chan_pop,
    .co_chan_close = coro_chan_close,
    .co_chan_length = coro_chan_length,
    .co_chan_free = coro_chan_free,
    .co_wg_new = coro_wg_new,
    .co_wg_add = coro_wg_add,
    .co_wg_wait = coro_wg_wait,
    .co_wg_free = coro_wg_free,
    /* ABI 1.7: client sockets */
    .co_sock_connect = coro_sock_connect,
    .co_sock_send = coro_sock_send,
    .co_sock_recv = coro_sock_recv,
    .co_sock_recv_exact = coro_sock_recv_exact,
    .co_sock_recv_until = coro_sock_recv_until,
    .co_sock_close = coro_sock_close,
    .co_sock_fd = coro_sock_fd,
    /* ABI 1.7: name lookup */
    .co_dns_lookup = coro_dns_lookup,
    .co_dns_cache_clear = coro_dns_cache_clear,
    /* files and programs (ABI 1.7) */
    .co_file_read = coro_file_read,
    .co_file_write = coro_file_write,
    .co_file_pread = coro_file_pread,
    .co_file_pwrite = coro_file_pwrite,
    .co_exec = api_co_exec,
    /* ABI 1.8: response trailers */
    .http_trailer = http_response_trailer,
};

/* The config index of the plugin the last failed api_load_plugins call
 * stopped at; -1 when none (or it ran out of memory). */
static int load_failed = -1;

int api_load_failed(void)
{
    return load_failed;
}

int api_load_plugins(const config_t *cfg, plugin_t **plugins)
{
    load_failed = -1;
    *plugins = calloc((size_t)cfg->nplugins, sizeof(plugin_t));
    if (*plugins == NULL) {
        log_error("out of memory loading plugins");
        return -1;
    }
    for (int i = 0; i < cfg->nplugins; i++) {
        char err[1024];
        if (plugin_load(&(*plugins)[i], &cfg->plugins[i], &server_api, err,
                        sizeof(err)) < 0) {
            log_error("%s", err);
            load_failed = i;
            api_unload_plugins(cfg, *plugins);
            *plugins = NULL;
            return -1;
        }
    }
    return 0;
}

void api_unload_plugins(const config_t *cfg, plugin_t *plugins)
{
    for (int i = 0; plugins != NULL && i < cfg->nplugins; i++)
        plugin_unload(&plugins[i]);
    free(plugins);
}
