/* swx_plugin.h: the one header a swx plugin is built against (ABI 1.2). */
#ifndef SWX_PLUGIN_H
#define SWX_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ABI versioning. The server refuses a plugin whose magic differs, whose
 * major differs, or whose minor is newer than the server's. Within one major,
 * swx_plugin_t and swx_api_t only ever grow at the end, so an older plugin
 * keeps working with a newer server.
 */
#define SWX_PLUGIN_MAGIC 0x50585753u /* "SWXP" little-endian */
#define SWX_ABI_MAJOR 1
#define SWX_ABI_MINOR 2

/* Log levels for swx_log(), the same scale as the server's log_level. */
enum swx_log_level {
    SWX_LOG_DEBUG = 0,
    SWX_LOG_INFO = 1,
    SWX_LOG_NOTICE = 2,
    SWX_LOG_WARNING = 3,
    SWX_LOG_ERROR = 4,
};

/* What on_connect learns about a new connection. */
typedef struct swx_conninfo {
    int listener;          /* index into the config's "listeners" */
    int server_port;       /* local port of that listener */
    char peer_addr[46];    /* numeric address, NUL-terminated */
    int peer_port;
} swx_conninfo_t;

/* Bits for swx_event_add / swx_event_set, and what an event callback gets. */
#define SWX_EVENT_READ 1
#define SWX_EVENT_WRITE 2
#define SWX_EVENT_ERROR 4 /* reported only: an error or hang-up on the fd */

typedef void swx_timer_cb(int64_t timer_id, void *arg);
typedef void swx_event_cb(int fd, int events, void *arg);
typedef void swx_defer_cb(void *arg);

struct swx_api;

/*
 * The description a plugin exports under the symbol "swx_plugin" (use the
 * SWX_PLUGIN macro). Every callback is optional. Callbacks run in worker
 * processes, one at a time: a worker is single-threaded.
 */
typedef struct swx_plugin {
    uint32_t magic;       /* SWX_PLUGIN_MAGIC */
    uint16_t abi_major;   /* SWX_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;   /* SWX_ABI_MINOR the plugin was built with */
    uint32_t size;        /* sizeof(swx_plugin_t) the plugin was built with */
    const char *name;     /* for log lines; the config's name is used if NULL */
    const struct swx_api **api_slot; /* where the server stores its table */

    /* Worker start; return 0, or non-zero to make the worker exit (the
     * manager restarts it with back-off). */
    int (*on_worker_start)(int worker_id);
    /* Worker is about to exit (stop, max_request). */
    void (*on_worker_stop)(int worker_id);
    /* A client connected (not called with dispatch_mode 1 or 3). */
    void (*on_connect)(uint64_t session, const swx_conninfo_t *info);
    /* Bytes arrived from a client. data is valid during the call only. */
    void (*on_receive)(uint64_t session, const void *data, size_t len);
    /* The connection is gone (not called with dispatch_mode 1 or 3). */
    void (*on_close)(uint64_t session);

    /* ---- ABI 1.1 ---- */

    /* Reload: the worker no longer receives events and exits once it has
     * written what it holds (worker). */
    void (*on_worker_exit)(int worker_id);
    /* A worker died abnormally: exit_code when it exited non-zero, signo
     * when a signal killed it (manager). */
    void (*on_worker_error)(int worker_id, int pid, int exit_code, int signo);
    /* The server is up / about to exit (master). */
    void (*on_start)(void);
    void (*on_shutdown)(void);
    /* The manager started / is about to exit (manager). */
    void (*on_manager_start)(void);
    void (*on_manager_stop)(void);
} swx_plugin_t;

/*
 * The server's function table. Plugins do not use it directly: call the
 * swx_* functions below. Functions return 0 or a negative errno.
 */
typedef struct swx_api {
    uint32_t size;
    int (*send)(uint64_t session, const void *data, size_t len);
    int (*close)(uint64_t session);
    int (*worker_id)(void);
    void (*vlog)(int level, const char *fmt, va_list ap);
    const char *(*config_json)(void);
    const char *(*config_string)(const char *key, const char *def);
    long long (*config_int)(const char *key, long long def);
    int (*config_bool)(const char *key, int def);
    /* ABI 1.2 */
    int64_t (*timer_add)(long ms, int repeat, swx_timer_cb *cb, void *arg);
    int (*timer_clear)(int64_t timer_id);
    int (*event_add)(int fd, int events, swx_event_cb *cb, void *arg);
    int (*event_set)(int fd, int events);
    int (*event_del)(int fd);
    int (*event_defer)(swx_defer_cb *cb, void *arg);
} swx_api_t;

#ifndef SWX_SERVER_INTERNAL

/* Filled by the server after the ABI check, before any callback runs. One
 * per plugin: weak so every file of a plugin shares it, hidden so plugins
 * never see each other's. */
__attribute__((weak, visibility("hidden"))) const swx_api_t *swx_api_;

/* Queue data for a client. 0 once queued: if the connection has closed in
 * the meantime, the data is dropped (a session id is never reused, so it
 * never reaches another client). -E2BIG if len exceeds buffer_output_size,
 * -ENOTCONN for an id no connection ever had, -ENOTSUP outside a worker. */
static inline int swx_send(uint64_t session, const void *data, size_t len)
{
    return swx_api_->send(session, data, len);
}

/* Close a connection once what was sent before is written. */
static inline int swx_close(uint64_t session)
{
    return swx_api_->close(session);
}

/* This worker's id, 0 .. worker_num-1. */
static inline int swx_worker_id(void)
{
    return swx_api_->worker_id();
}

/* A line in the server's log, with time, level, pid and role. */
__attribute__((format(printf, 2, 3), unused)) static void
swx_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    swx_api_->vlog(level, fmt, ap);
    va_end(ap);
}

/* This plugin's "config" object from the server config, as JSON text
 * ("{}" when the entry has none). */
static inline const char *swx_config_json(void)
{
    return swx_api_->config_json();
}

/* A top-level member of this plugin's config, or def when it is absent or
 * of another type. */
static inline const char *swx_config_string(const char *key, const char *def)
{
    return swx_api_->config_string(key, def);
}

static inline long long swx_config_int(const char *key, long long def)
{
    return swx_api_->config_int(key, def);
}

static inline int swx_config_bool(const char *key, int def)
{
    return swx_api_->config_bool(key, def);
}

/*
 * Timers run in the loop of the process that made them (worker, task
 * worker, user process), with millisecond resolution; callbacks run between
 * events, never inside another callback. swx_timer_after runs cb once after
 * ms (0 allowed); swx_timer_tick every ms (>= 1). Both return a timer id
 * (> 0, never reused in the process) or -EINVAL, -ENOMEM, or -ENOTSUP in
 * the master or manager. swx_timer_clear: 0 or -ENOENT; a timer may clear
 * itself from its own callback.
 */
static inline int64_t swx_timer_after(long ms, swx_timer_cb *cb, void *arg)
{
    return swx_api_->timer_add(ms, 0, cb, arg);
}

static inline int64_t swx_timer_tick(long ms, swx_timer_cb *cb, void *arg)
{
    return swx_api_->timer_add(ms, 1, cb, arg);
}

static inline int swx_timer_clear(int64_t timer_id)
{
    return swx_api_->timer_clear(timer_id);
}

/*
 * A file descriptor of the plugin's own (an outbound connection, a pipe) in
 * the process's loop: cb(fd, events, arg) when it is readable or writable as
 * asked (SWX_EVENT_READ | SWX_EVENT_WRITE), with SWX_EVENT_ERROR added on an
 * error or hang-up. The fd should be non-blocking; the plugin closes it,
 * after swx_event_del. 0, or -EINVAL, -EEXIST (already watched), -ENOENT
 * (not watched: set, del), -ENOMEM, -ENOTSUP.
 */
static inline int swx_event_add(int fd, int events, swx_event_cb *cb, void *arg)
{
    return swx_api_->event_add(fd, events, cb, arg);
}

static inline int swx_event_set(int fd, int events)
{
    return swx_api_->event_set(fd, events);
}

static inline int swx_event_del(int fd)
{
    return swx_api_->event_del(fd);
}

/* cb(arg) once, after the current callback and the events at hand. */
static inline int swx_event_defer(swx_defer_cb *cb, void *arg)
{
    return swx_api_->event_defer(cb, arg);
}

#define SWX_PLUGIN_HEADER_                                                   \
    .magic = SWX_PLUGIN_MAGIC, .abi_major = SWX_ABI_MAJOR,                   \
    .abi_minor = SWX_ABI_MINOR, .size = sizeof(swx_plugin_t),                \
    .api_slot = &swx_api_

/* Declare the plugin: SWX_PLUGIN(.name = "echo", .on_receive = my_cb); */
#define SWX_PLUGIN(...)                                                      \
    __attribute__((visibility("default"))) const swx_plugin_t swx_plugin = { \
        SWX_PLUGIN_HEADER_, __VA_ARGS__}

#endif /* SWX_SERVER_INTERNAL */

#ifdef __cplusplus
}
#endif

#endif
