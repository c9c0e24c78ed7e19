/* swx_plugin.h: the one header a swx plugin is built against (ABI 1.8). */
#ifndef SWX_PLUGIN_H
#define SWX_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ABI versioning. The server refuses a plugin whose magic differs, whose
 * major differs, or whose minor is newer than the server's. Within one major,
 * swx_plugin_t and swx_api_t only ever grow at the end, so an older plugin
 * keeps working with a newer server. So do the structs the server fills and
 * a plugin only reads (swx_conninfo_t, swx_http_request_t): a plugin built
 * against an older minor never looks past the fields it knows.
 */
#define SWX_PLUGIN_MAGIC 0x50585753u /* "SWXP" little-endian */
#define SWX_ABI_MAJOR 1
#define SWX_ABI_MINOR 8

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
    char peer_addr[46];    /* numeric address, NUL-terminated: the client,
                              as a PROXY protocol header named it */
    int peer_port;
    /* ABI 1.4: the proxy the connection came through (the socket's own
     * peer) when a PROXY protocol header named the client; "" and 0
     * when peer_addr is the socket's peer. */
    char proxy_addr[46];
    int proxy_port;
    /* ABI 1.6: what a TLS connection negotiated (listeners with
     * ssl_cert_file); all "" and 0 on a plain connection. */
    char tls_version[16];  /* "TLSv1.2", "TLSv1.3" */
    char tls_cipher[64];   /* OpenSSL's name: "TLS_AES_128_GCM_SHA256" */
    char tls_sni[256];     /* the server name the client asked for */
    char tls_alpn[64];     /* the ALPN protocol chosen: "http/1.1", "h2" */
    char tls_client_subject[256]; /* the client certificate's subject
                                     (RFC 2253), "" without one */
    int tls_client_verified; /* 1: it chains to ssl_client_cert_file */
} swx_conninfo_t;

/* Bits for swx_event_add / swx_event_set, and what an event callback gets. */
#define SWX_EVENT_READ 1
#define SWX_EVENT_WRITE 2
#define SWX_EVENT_ERROR 4 /* reported only: an error or hang-up on the fd */

typedef void swx_timer_cb(int64_t timer_id, void *arg);
typedef void swx_event_cb(int fd, int events, void *arg);
typedef void swx_defer_cb(void *arg);

/* One task of swx_taskwait_multi, and what became of it. */
typedef struct swx_taskreq {
    const void *data;
    size_t len;
    int dst_task_worker;   /* 0 .. task_worker_num-1, or -1 for any */
} swx_taskreq_t;

typedef struct swx_taskres {
    int status;            /* 0 done, -ETIMEDOUT, or the send's error */
    int64_t task_id;
    void *data;            /* the result (swx_free it), NULL if none */
    size_t len;
} swx_taskres_t;

/* swx_stats(): Swoole's server figures. */
typedef struct swx_stats {
    int64_t start_time;        /* unix seconds */
    int64_t connection_num;
    int64_t accept_count;
    int64_t close_count;
    int worker_num;
    int idle_worker_num;
    int task_worker_num;
    int task_idle_worker_num;
    int64_t tasking_num;       /* tasks sent and not yet done */
    int64_t task_queue_num;    /* of those, not yet taken by a task worker */
    int64_t task_queue_full;   /* swx_task calls refused: queue full */
    int64_t request_count;
    int64_t dispatch_count;
    int64_t reload_count;
    int64_t worker_restarts;
} swx_stats_t;

typedef struct swx_table swx_table_t;
typedef struct swx_atomic swx_atomic_t;

/* Column types of a table. */
#define SWX_TABLE_INT 0
#define SWX_TABLE_FLOAT 1
#define SWX_TABLE_STRING 2

/* The sender of a datagram (on_packet), and where swx_sendto answers. */
typedef struct swx_peer {
    int listener;          /* index into the config's "listeners" */
    char addr[108];        /* numeric IP, or the socket path (unix_dgram) */
    int port;              /* 0 for unix_dgram */
    unsigned raw_len;      /* the address as the kernel gave it */
    unsigned char raw[128];
} swx_peer_t;

/* ---- HTTP/1.1 and WebSocket (ABI 1.2) ---- */

/* A request header as the client sent it (name in its case); both strings
 * are NUL-terminated. */
typedef struct swx_http_header {
    const char *name;
    size_t name_len;
    const char *value;     /* spaces around it removed */
    size_t value_len;
} swx_http_header_t;

/*
 * A request on a "protocol": "http" or "websocket" listener. Everything is
 * valid during the callback only (copy what you keep); every string is
 * NUL-terminated as well as counted.
 */
typedef struct swx_http_request {
    uint64_t session;      /* the connection */
    int listener;          /* index into the config's "listeners" */
    const char *method;    /* "GET", "POST", ... as sent */
    size_t method_len;
    const char *path;      /* as sent, not percent-decoded: "/a%20b" */
    size_t path_len;
    const char *query;     /* after '?', NULL when the target had no '?' */
    size_t query_len;
    int version;           /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    int keep_alive;        /* the connection stays open after the response */
    const swx_http_header_t *headers; /* in the order sent */
    size_t nheaders;
    const char *body;      /* decoded (chunked), "" when there is none */
    size_t body_len;
    char peer_addr[46];    /* the client's numeric address (after
                              proxy_protocol and real_ip_from) */
    int peer_port;         /* 0 when real_ip_header named the client */
    /* ABI 1.4: the connection's socket peer (a proxy, a load balancer)
     * when the client's address came from a PROXY protocol header or
     * from real_ip_header; "" and 0 when peer_addr is the socket's peer. */
    char proxy_addr[46];
    int proxy_port;
} swx_http_request_t;

/* One part of a multipart/form-data body (ABI 1.3, see
 * swx_http_multipart_next). The pointers are into the request's body: not
 * NUL-terminated, valid as long as the request. */
typedef struct swx_http_part {
    const char *name;      /* the form field's name, NULL if none */
    size_t name_len;
    const char *filename;  /* the uploaded file's name, NULL if not a file */
    size_t filename_len;
    const char *type;      /* the part's Content-Type, NULL when absent */
    size_t type_len;
    const void *data;      /* the content */
    size_t len;
} swx_http_part_t;

/* The response to one request: filled with swx_http_* (opaque). */
typedef struct swx_http_response swx_http_response_t;

/* WebSocket message opcodes (on_message, swx_ws_push). */
#define SWX_WS_TEXT 1
#define SWX_WS_BINARY 2

/* ---- coroutines (ABI 1.6): see "Coroutines" in docs/plugin-guide.md ---- */

typedef void swx_co_fn(void *arg);
typedef struct swx_co_chan swx_co_chan_t;
typedef struct swx_co_wg swx_co_wg_t;
typedef struct swx_co_sock swx_co_sock_t; /* ABI 1.7: a client socket */

/* swx_co_stats(): this process's coroutines. */
typedef struct swx_co_stats {
    int64_t live;          /* alive now (running or waiting) */
    int64_t peak;          /* most alive at once */
    int64_t created;       /* since the process started */
    int64_t refused;       /* creations refused: max_coroutine reached */
    int64_t pooled;        /* finished stacks kept for reuse */
    int64_t stack_size;    /* usable bytes of a stack (coroutine_stack_size) */
    int64_t max;           /* max_coroutine */
} swx_co_stats_t;

/* ABI 1.7: one address of a name (swx_co_dns_lookup). */
typedef struct swx_co_addr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network order: 4 bytes (AF_INET) or 16 */
    char ip[46];             /* the same as text, NUL-terminated */
} swx_co_addr_t;
/* ---- files and programs (ABI 1.7): the types; the functions are at the
 * end of the coroutines' section ---- */

/* swx_co_file_write: add to the end of the file instead of replacing it
 * (Swoole's FILE_APPEND). */
#define SWX_CO_FILE_APPEND 1

/* swx_co_exec: stderr goes into the output as well (Swoole's
 * get_error_stream); without it the program's stderr is the server's
 * (its log). */
#define SWX_CO_EXEC_STDERR 1

/* How a program ended, and what it wrote (swx_co_exec). */
typedef struct swx_co_exec_result {
    int code;      /* exit status (0-255), or -1: a signal ended it */
    int signal;    /* the signal that ended it, or 0 */
    char *output;  /* stdout, NUL-terminated; free with swx_free (NULL:
                    * nothing written) */
    size_t len;
} swx_co_exec_result_t;

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

    /* ---- ABI 1.2 ---- */

    /* A task sent with swx_task / swx_taskwait (task worker). Answer with
     * swx_finish, or not at all. src_worker is the sender's id. */
    void (*on_task)(int64_t task_id, int src_worker, const void *data,
                    size_t len);
    /* The result of a task this worker sent with swx_task (worker). */
    void (*on_finish)(int64_t task_id, const void *data, size_t len);
    /* A message from swx_send_message (any process but master, manager). */
    void (*on_pipe_message)(int src_worker, const void *data, size_t len);
    /* One of the plugin's own processes ("processes" in the config) has
     * started; index counts 0 .. count-1 among those with this name. It
     * runs its loop (timers, events, messages) after this returns. */
    void (*on_process_start)(int worker_id, const char *name, int index);
    /* A datagram on a udp, udp6 or unix_dgram listener (worker). */
    void (*on_packet)(const swx_peer_t *peer, const void *data, size_t len);
    /* An HTTP request on an http or websocket listener (worker). Answer
     * with resp now or later (swx_http_end); the next request on the same
     * connection waits until then. Without it every request gets 404. */
    void (*on_request)(const swx_http_request_t *req,
                       swx_http_response_t *resp);
    /* A WebSocket handshake succeeded (worker); req is the upgrade. */
    void (*on_open)(uint64_t session, const swx_http_request_t *req);
    /* A whole WebSocket message, reassembled from its fragments;
     * opcode SWX_WS_TEXT (valid UTF-8) or SWX_WS_BINARY (worker). */
    void (*on_message)(uint64_t session, int opcode, const void *data,
                       size_t len);
    /* The WebSocket session ended with this close code (1006 when the
     * connection ended without a close frame); on_close follows as for
     * any connection (worker). */
    void (*on_ws_close)(uint64_t session, int code);

    /* ---- ABI 1.5 ---- */

    /* The server was asked to stop (master; Swoole's onBeforeShutdown).
     * Runs first, while the listeners still accept and the workers serve:
     * the place to deregister from a load balancer or service registry.
     * With server.shutdown_delay the server keeps serving that many seconds
     * after it returns; then on_worker_stop, on_manager_stop and
     * on_shutdown follow as for any stop. It blocks the master's accepting
     * thread while it runs: keep it short. */
    void (*on_before_shutdown)(void);
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
    int64_t (*task)(const void *data, size_t len, int dst_task_worker);
    int (*taskwait)(const void *data, size_t len, int dst_task_worker,
                    int timeout_ms, void **result, size_t *result_len);
    int (*taskwait_multi)(const swx_taskreq_t *tasks, int n, int timeout_ms,
                          swx_taskres_t *results);
    int (*finish)(const void *data, size_t len);
    int (*send_message)(int dst_worker, const void *data, size_t len);
    void (*free)(void *p);
    int (*stats)(swx_stats_t *out);
    char *(*stats_json)(void);
    swx_table_t *(*table)(const char *name);
    int (*table_set_int)(swx_table_t *t, const char *key, const char *column,
                         int64_t v);
    int (*table_set_float)(swx_table_t *t, const char *key, const char *column,
                           double v);
    int (*table_set_string)(swx_table_t *t, const char *key,
                            const char *column, const char *v, size_t len);
    int (*table_get_int)(swx_table_t *t, const char *key, const char *column,
                         int64_t *out);
    int (*table_get_float)(swx_table_t *t, const char *key,
                           const char *column, double *out);
    int (*table_get_string)(swx_table_t *t, const char *key,
                            const char *column, char *buf, size_t size);
    int (*table_incr)(swx_table_t *t, const char *key, const char *column,
                      int64_t delta, int64_t *result);
    int (*table_incr_float)(swx_table_t *t, const char *key,
                            const char *column, double delta, double *result);
    int (*table_del)(swx_table_t *t, const char *key);
    int (*table_exists)(swx_table_t *t, const char *key);
    long (*table_count)(swx_table_t *t);
    int (*table_next)(swx_table_t *t, uint32_t *cursor, char key[64]);
    swx_atomic_t *(*atomic)(const char *name, int64_t initial);
    int64_t (*atomic_add)(swx_atomic_t *a, int64_t v);
    int64_t (*atomic_get)(swx_atomic_t *a);
    void (*atomic_set)(swx_atomic_t *a, int64_t v);
    int (*atomic_cmpset)(swx_atomic_t *a, int64_t expected, int64_t desired);
    int (*atomic_wait)(swx_atomic_t *a, int timeout_ms);
    int (*atomic_wakeup)(swx_atomic_t *a, int n);
    int (*sendto)(const swx_peer_t *peer, const void *data, size_t len);
    int (*bind)(uint64_t session, uint32_t uid);
    int (*listener)(void);
    const char *(*http_get_header)(const swx_http_request_t *req,
                                   const char *name, size_t *len);
    int (*http_status)(swx_http_response_t *resp, int status);
    int (*http_header)(swx_http_response_t *resp, const char *name,
                       const char *value);
    int (*http_write)(swx_http_response_t *resp, const void *data,
                      size_t len);
    int (*http_end)(swx_http_response_t *resp, const void *data, size_t len);
    int (*http_sendfile)(swx_http_response_t *resp, const char *path,
                         uint64_t offset, uint64_t length);
    int (*ws_push)(uint64_t session, const void *data, size_t len,
                   int opcode);
    int (*ws_close)(uint64_t session, int code);
    /* ABI 1.3 */
    int (*http_query_param)(const swx_http_request_t *req, const char *name,
                            char *out, size_t cap);
    int (*http_form_param)(const swx_http_request_t *req, const char *name,
                           char *out, size_t cap);
    int (*http_cookie)(const swx_http_request_t *req, const char *name,
                       char *out, size_t cap);
    int (*http_multipart_next)(const swx_http_request_t *req, size_t *cursor,
                               swx_http_part_t *part);
    /* ABI 1.6: coroutines */
    int64_t (*co_go)(swx_co_fn *fn, void *arg);
    int64_t (*co_id)(void);
    int (*co_yield)(void);
    int (*co_resume)(int64_t id);
    int (*co_sleep)(long ms);
    int (*co_defer)(swx_co_fn *fn, void *arg);
    int (*co_stats)(swx_co_stats_t *out);
    int (*co_wait_fd)(int fd, int events, long timeout_ms);
    swx_co_chan_t *(*co_chan_new)(size_t capacity);
    int (*co_chan_push)(swx_co_chan_t *ch, void *item, long timeout_ms);
    int (*co_chan_pop)(swx_co_chan_t *ch, void **item, long timeout_ms);
    int (*co_chan_close)(swx_co_chan_t *ch);
    size_t (*co_chan_length)(const swx_co_chan_t *ch);
    int (*co_chan_free)(swx_co_chan_t *ch);
    swx_co_wg_t *(*co_wg_new)(void);
    int (*co_wg_add)(swx_co_wg_t *wg, long n);
    int (*co_wg_wait)(swx_co_wg_t *wg, long timeout_ms);
    int (*co_wg_free)(swx_co_wg_t *wg);
    /* ABI 1.7: coroutine client sockets (swx_co_sock_*) */
    int (*co_sock_connect)(const char *host, int port, long timeout_ms,
                           swx_co_sock_t **out);
    ssize_t (*co_sock_send)(swx_co_sock_t *s, const void *buf, size_t len,
                            long timeout_ms);
    ssize_t (*co_sock_recv)(swx_co_sock_t *s, void *buf, size_t n,
                            long timeout_ms);
    ssize_t (*co_sock_recv_exact)(swx_co_sock_t *s, void *buf, size_t n,
                                  long timeout_ms);
    ssize_t (*co_sock_recv_until)(swx_co_sock_t *s, const char *delim,
                                  size_t dlen, void *buf, size_t max,
                                  long timeout_ms);
    int (*co_sock_close)(swx_co_sock_t *s);
    int (*co_sock_fd)(const swx_co_sock_t *s);
    /* ABI 1.7: name lookup (swx_co_dns_*) */
    int (*co_dns_lookup)(const char *name, int family,
                         swx_co_addr_t *out, size_t max,
                         long timeout_ms);
    int (*co_dns_cache_clear)(void);
    /* ABI 1.7: files and programs (swx_co_file_*, swx_co_exec) */
    int64_t (*co_file_read)(const char *path, size_t max, void **data,
                            long timeout_ms);
    int64_t (*co_file_write)(const char *path, const void *data, size_t len,
                             int flags, long timeout_ms);
    int64_t (*co_file_pread)(int fd, void *buf, size_t len, int64_t offset,
                             long timeout_ms);
    int64_t (*co_file_pwrite)(int fd, const void *buf, size_t len,
                              int64_t offset, long timeout_ms);
    int (*co_exec)(const char *const argv[], int flags, size_t max_output,
                   long timeout_ms, swx_co_exec_result_t *out);
    /* ABI 1.8: response trailers (swx_http_trailer) */
    int (*http_trailer)(swx_http_response_t *resp, const char *name,
                        const char *value);
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

/* ---- datagrams, listeners, dispatch ---- */

/* Answer a datagram, straight from this worker (no reactor hop). 0, or
 * -EINVAL (not a datagram peer), -EMSGSIZE, -EAGAIN, -errno of sendto. */
static inline int swx_sendto(const swx_peer_t *peer, const void *data,
                             size_t len)
{
    return swx_api_->sendto(peer, data, len);
}

/* dispatch_mode 5: from now on this connection's events go to worker
 * uid % worker_num (Swoole's bind). Once per connection: a later bind is
 * ignored (and logged). 0, or -EINVAL (uid 0), -ENOTCONN, -ENOTSUP in
 * another dispatch_mode. */
static inline int swx_bind(uint64_t session, uint32_t uid)
{
    return swx_api_->bind(session, uid);
}

/* The listener (index into the config's "listeners") of the event being
 * handled, or -1 outside an event callback. */
static inline int swx_listener(void)
{
    return swx_api_->listener();
}

/* ---- HTTP responses (ABI 1.2) ---- */

/*
 * A response is ended exactly once: by swx_http_end, swx_http_sendfile, or
 * by the server when the connection goes. Until it is ended the next
 * request on that connection waits (responses leave in request order).
 * resp stays valid until the end of the callback in which it was ended, or
 * until on_close of its connection returns (then the server frees it: drop
 * any pointer you kept, e.g. for a timer). In dispatch modes 1 and 3, which
 * have no on_close, it stays valid until you end it. Every function returns
 * 0, -EALREADY once the response is ended, or -ENOTCONN when the
 * connection has gone (the response is then ended), besides the errors
 * listed.
 */

/* The first request header named name (any case), or NULL; *len (may be
 * NULL) gets the value's length. */
static inline const char *swx_http_get_header(const swx_http_request_t *req,
                                              const char *name, size_t *len)
{
    return swx_api_->http_get_header(req, name, len);
}

/* ABI 1.3: the parameter name of the query string (?a=1&b=x+y),
 * percent-decoded with '+' as a space, into out (cap bytes, NUL-terminated).
 * Its length, or -ENOENT (absent), -ENOSPC (out too small), -EINVAL (a
 * malformed escape, or a NULL argument). The first of repeated names. */
static inline int swx_http_query_param(const swx_http_request_t *req,
                                       const char *name, char *out,
                                       size_t cap)
{
    return swx_api_->http_query_param(req, name, out, cap);
}

/* ABI 1.3: the same for a form body (Content-Type
 * application/x-www-form-urlencoded); -ENOTSUP when the body is not one. */
static inline int swx_http_form_param(const swx_http_request_t *req,
                                      const char *name, char *out,
                                      size_t cap)
{
    return swx_api_->http_form_param(req, name, out, cap);
}

/* ABI 1.3: the value of cookie name from the Cookie header(s), as sent
 * (not decoded; surrounding quotes removed). Its length, -ENOENT, -ENOSPC
 * or -EINVAL. */
static inline int swx_http_cookie(const swx_http_request_t *req,
                                  const char *name, char *out, size_t cap)
{
    return swx_api_->http_cookie(req, name, out, cap);
}

/* ABI 1.3: the parts of a multipart/form-data body (form fields and file
 * uploads), one per call: set *cursor to 0, then call until it returns 0.
 * 1 with *part (pointing into req->body), 0 after the last part, -ENOTSUP
 * when the body is not multipart/form-data, -EINVAL when it is malformed
 * (a missing boundary or delimiter) or for a NULL argument. */
static inline int swx_http_multipart_next(const swx_http_request_t *req,
                                          size_t *cursor,
                                          swx_http_part_t *part)
{
    return swx_api_->http_multipart_next(req, cursor, part);
}

/* The status (default 200). -EINVAL unless 200..599; -EALREADY once the
 * head is sent (by swx_http_write). */
static inline int swx_http_status(swx_http_response_t *resp, int status)
{
    return swx_api_->http_status(resp, status);
}

/* Add a header line. -EINVAL for a name that is not a token or a value
 * with CR, LF or NUL, for Transfer-Encoding (the server frames the body),
 * a Content-Length that is not a number, or a Connection other than
 * "close" (which closes the connection after the response); -E2BIG past
 * 64 KiB of headers; -EALREADY once the head is sent. A Content-Length
 * set here makes swx_http_write send the body as is, not chunked. */
static inline int swx_http_header(swx_http_response_t *resp, const char *name,
                                  const char *value)
{
    return swx_api_->http_header(resp, name, value);
}

/* Stream part of the body: the first call sends the head, with
 * Transfer-Encoding: chunked unless a Content-Length was set (an HTTP/1.0
 * client gets the body up to the close of the connection). Nothing of the
 * body goes out for HEAD. -E2BIG when len is over buffer_output_size;
 * -EINVAL when it would exceed the Content-Length set. */
static inline int swx_http_write(swx_http_response_t *resp, const void *data,
                                 size_t len)
{
    return swx_api_->http_write(resp, data, len);
}

/* End the response, with data as the (last part of the) body: before any
 * swx_http_write, the whole response goes out at once with a
 * Content-Length of len. -E2BIG when head and body are over
 * buffer_output_size (stream it, or use swx_http_sendfile); -EINVAL when
 * the body does not match the Content-Length set (the connection is then
 * closed after it). */
static inline int swx_http_end(swx_http_response_t *resp, const void *data,
                               size_t len)
{
    return swx_api_->http_end(resp, data, len);
}

/* End the response with length bytes of a file from offset (0: to its
 * end) as the body, sent by the server with sendfile(2): the bytes never
 * pass through the worker. The worker opens the file to check it; the
 * reactor sends that same file. Before any swx_http_write; Content-Type
 * follows the extension unless one was set. -ENOENT, -EACCES (the open's
 * errno), -EINVAL (not a regular file, or the range is outside it),
 * -EALREADY (after swx_http_write). */
static inline int swx_http_sendfile(swx_http_response_t *resp,
                                    const char *path, uint64_t offset,
                                    uint64_t length)
{
    return swx_api_->http_sendfile(resp, path, offset, length);
}

/* ABI 1.8: add a trailer field, sent after the body (Swoole's
 * Response::trailer): until swx_http_end, also after swx_http_write has
 * sent the head. HTTP/2 sends the trailers as a HEADERS frame that ends
 * the stream (after a whole, streamed, empty or sendfile body); HTTP/1.1
 * sends them in the trailer section of a chunked body (streamed with
 * swx_http_write, no Content-Length set). Any other HTTP/1.x response
 * (Content-Length, HTTP/1.0, swx_http_sendfile) and every response to
 * HEAD or with status 204 or 304 drops them silently. The names added
 * before the head goes out are announced in a Trailer header. -EINVAL
 * for a name that is not a token or a value with CR, LF or NUL, and for
 * a field that may not be a trailer (RFC 9110 6.5.1: framing, routing,
 * request modifiers, authentication, response controls, Content-Type,
 * -Encoding, -Range, Trailer, connection-specific fields; the list is in
 * docs/plugin-guide.md); -E2BIG past 64 KiB of trailers (or what
 * buffer_output_size leaves); -EALREADY once the response has ended. */
static inline int swx_http_trailer(swx_http_response_t *resp,
                                   const char *name, const char *value)
{
    return swx_api_->http_trailer(resp, name, value);
}

/* ---- WebSocket (ABI 1.2) ---- */

/* Send a message (one frame) on a WebSocket session: opcode SWX_WS_TEXT
 * or SWX_WS_BINARY. 0 once queued (dropped if the session has closed in
 * the meantime, as with swx_send); -EINVAL (opcode), -E2BIG (len over
 * buffer_output_size), -ENOTCONN (an id no connection had), -ENOTSUP
 * outside a worker. */
static inline int swx_ws_push(uint64_t session, const void *data, size_t len,
                              int opcode)
{
    return swx_api_->ws_push(session, data, len, opcode);
}

/* Start the closing handshake with code (1000 normal, 1001, 1008, 1011,
 * 3000-4999): the server sends the close frame, waits up to 5 s for the
 * client's, and closes; on_ws_close and on_close follow. -EINVAL for a
 * code that may not be sent, -ENOTCONN, -ENOTSUP. */
static inline int swx_ws_close(uint64_t session, int code)
{
    return swx_api_->ws_close(session, code);
}

/* ---- tasks (worker -> task worker) ---- */

/*
 * Hand data to a task worker and return at once: dst_task_worker 0 ..
 * task_worker_num-1, or -1 for an idle one (task_ipc_mode 1) or the shared
 * queue (3). The task id (> 0); the result fires on_finish with it, unless
 * the plugin has no on_finish (then none is wanted). -EAGAIN: the queue is
 * full (counted in swx_stats().task_queue_full); -E2BIG: over
 * task_max_size; -EINVAL: bad dst_task_worker; -EPERM: called in a task
 * worker; -ENOTSUP: there are no task workers.
 */
static inline int64_t swx_task(const void *data, size_t len, int dst_task_worker)
{
    return swx_api_->task(data, len, dst_task_worker);
}

/*
 * Send a task and wait for its result, up to timeout_ms: 0 with *result
 * (release it with swx_free) and *result_len, or -ETIMEDOUT (a result that
 * comes later is discarded), or an error of swx_task. Other events that
 * arrive meanwhile are handled after the current callback.
 */
static inline int swx_taskwait(const void *data, size_t len,
                               int dst_task_worker, int timeout_ms,
                               void **result, size_t *result_len)
{
    return swx_api_->taskwait(data, len, dst_task_worker, timeout_ms, result,
                              result_len);
}

/* Send n tasks and wait up to timeout_ms for all; results[i] tells each.
 * Returns how many finished in time, or a negative errno. */
static inline int swx_taskwait_multi(const swx_taskreq_t *tasks, int n,
                                     int timeout_ms, swx_taskres_t *results)
{
    return swx_api_->taskwait_multi(tasks, n, timeout_ms, results);
}

/* In on_task: send the result to the worker that sent the task. 0, or
 * -EINVAL (not in on_task, or the task wants no result), -EALREADY,
 * -E2BIG (over task_max_size). */
static inline int swx_finish(const void *data, size_t len)
{
    return swx_api_->finish(data, len);
}

/* on_pipe_message(my id, data, len) in process dst_worker: workers are 0 ..
 * worker_num-1, task workers follow, then the "processes". 0, or -EINVAL
 * (no such id, or yourself), -EAGAIN (its mailbox is full), -E2BIG. */
static inline int swx_send_message(int dst_worker, const void *data, size_t len)
{
    return swx_api_->send_message(dst_worker, data, len);
}

/* Release memory the server handed over (task results, stats JSON). */
static inline void swx_free(void *p)
{
    swx_api_->free(p);
}

/* ---- figures ---- */

static inline int swx_stats(swx_stats_t *out)
{
    return swx_api_->stats(out);
}

/* The same figures and per-worker request counts as JSON (swx_free it). */
static inline char *swx_stats_json(void)
{
    return swx_api_->stats_json();
}

/* ---- shared memory: tables declared in the config ---- */

/*
 * A table by its config name, or NULL. Rows are addressed by key (1 to 63
 * bytes); columns by name. Setting a column of a missing row creates the
 * row (other columns zero). Errors: -ENOENT (no such row), -EINVAL (no such
 * column, or of another type), -E2BIG (string longer than the column),
 * -ENOSPC (the table is full: no other row is touched), -ENAMETOOLONG.
 * Every call locks the row, so concurrent writers lose no update.
 */
static inline swx_table_t *swx_table(const char *name)
{
    return swx_api_->table(name);
}

static inline int swx_table_set_int(swx_table_t *t, const char *key,
                                    const char *column, int64_t v)
{
    return swx_api_->table_set_int(t, key, column, v);
}

static inline int swx_table_set_float(swx_table_t *t, const char *key,
                                      const char *column, double v)
{
    return swx_api_->table_set_float(t, key, column, v);
}

static inline int swx_table_set_string(swx_table_t *t, const char *key,
                                       const char *column, const char *v,
                                       size_t len)
{
    return swx_api_->table_set_string(t, key, column, v, len);
}

static inline int swx_table_get_int(swx_table_t *t, const char *key,
                                    const char *column, int64_t *out)
{
    return swx_api_->table_get_int(t, key, column, out);
}

static inline int swx_table_get_float(swx_table_t *t, const char *key,
                                      const char *column, double *out)
{
    return swx_api_->table_get_float(t, key, column, out);
}

/* Copies the value NUL-terminated; the length, or an error (-ENOBUFS when
 * size cannot hold it and its NUL). */
static inline int swx_table_get_string(swx_table_t *t, const char *key,
                                       const char *column, char *buf,
                                       size_t size)
{
    return swx_api_->table_get_string(t, key, column, buf, size);
}

/* Add delta (negative to subtract) to an int column; the new value in
 * *result (may be NULL). */
static inline int swx_table_incr(swx_table_t *t, const char *key,
                                 const char *column, int64_t delta,
                                 int64_t *result)
{
    return swx_api_->table_incr(t, key, column, delta, result);
}

static inline int swx_table_decr(swx_table_t *t, const char *key,
                                 const char *column, int64_t delta,
                                 int64_t *result)
{
    return swx_api_->table_incr(t, key, column, -delta, result);
}

static inline int swx_table_incr_float(swx_table_t *t, const char *key,
                                       const char *column, double delta,
                                       double *result)
{
    return swx_api_->table_incr_float(t, key, column, delta, result);
}

static inline int swx_table_del(swx_table_t *t, const char *key)
{
    return swx_api_->table_del(t, key);
}

/* 1, 0, or an error. */
static inline int swx_table_exists(swx_table_t *t, const char *key)
{
    return swx_api_->table_exists(t, key);
}

static inline long swx_table_count(swx_table_t *t)
{
    return swx_api_->table_count(t);
}

/* Iterate: start with *cursor = 0; 1 with the next key, 0 at the end.
 * Rows changed meanwhile may be missed or seen. */
static inline int swx_table_next(swx_table_t *t, uint32_t *cursor,
                                 char key[64])
{
    return swx_api_->table_next(t, cursor, key);
}

/* ---- shared memory: named 64-bit counters ---- */

/* The counter with this name (1 to 47 bytes), created with initial by the
 * first process that asks; NULL when the name is bad or all 1024 counters
 * of the server are taken. */
static inline swx_atomic_t *swx_atomic(const char *name, int64_t initial)
{
    return swx_api_->atomic(name, initial);
}

/* The new value. */
static inline int64_t swx_atomic_add(swx_atomic_t *a, int64_t v)
{
    return swx_api_->atomic_add(a, v);
}

static inline int64_t swx_atomic_sub(swx_atomic_t *a, int64_t v)
{
    return swx_api_->atomic_add(a, -v);
}

static inline int64_t swx_atomic_get(swx_atomic_t *a)
{
    return swx_api_->atomic_get(a);
}

static inline void swx_atomic_set(swx_atomic_t *a, int64_t v)
{
    swx_api_->atomic_set(a, v);
}

/* 1 if the value was expected and is now desired, else 0. */
static inline int swx_atomic_cmpset(swx_atomic_t *a, int64_t expected,
                                    int64_t desired)
{
    return swx_api_->atomic_cmpset(a, expected, desired);
}

/* Swoole's Atomic::wait: while the value is 0, sleep until another process
 * calls swx_atomic_wakeup or timeout_ms passes (-1: no limit); a value of 1
 * is taken (set back to 0). 0, -ETIMEDOUT, -EINVAL (value not 0 or 1). It
 * blocks the whole process. */
static inline int swx_atomic_wait(swx_atomic_t *a, int timeout_ms)
{
    return swx_api_->atomic_wait(a, timeout_ms);
}

/* Set a value of 0 to 1 and wake up to n waiters; how many woke. */
static inline int swx_atomic_wakeup(swx_atomic_t *a, int n)
{
    return swx_api_->atomic_wakeup(a, n);
}

/* ---- coroutines (ABI 1.6) ----
 *
 * Every worker, task worker and user process runs coroutines on its event
 * loop. With enable_coroutine (the default) every event callback already
 * runs in one, so it may wait; swx_go starts more. Every wait takes a
 * timeout in milliseconds (-1: no limit) and fails with -EPERM outside a
 * coroutine and -ECANCELED when the process stops or reloads (clean up
 * and return). Never call blocking libc functions in a coroutine: the
 * whole process waits. docs/plugin-guide.md, "Coroutines", has it all. */

/* Start fn(arg) in a new coroutine and run it now until it first waits or
 * ends (Swoole's go). Its id (> 0), or -EAGAIN (max_coroutine coroutines
 * alive; counted as refused), -ENOMEM, -EINVAL (fn NULL), -ENOTSUP (no
 * loop: the master, the manager). */
static inline int64_t swx_go(swx_co_fn *fn, void *arg)
{
    return swx_api_->co_go(fn, arg);
}

/* The running coroutine's id, or -1 outside one. */
static inline int64_t swx_co_id(void)
{
    return swx_api_->co_id();
}

/* Suspend until swx_co_resume(this id). 0, -ECANCELED, -EPERM. */
static inline int swx_co_yield(void)
{
    return swx_api_->co_yield();
}

/* Resume a coroutine suspended in swx_co_yield, running it now until it
 * waits or ends. 0, or -ENOENT (no coroutine with that id is in
 * swx_co_yield: it ended, runs, or waits in another call). */
static inline int swx_co_resume(int64_t id)
{
    return swx_api_->co_resume(id);
}

/* Sleep ms milliseconds (0: let the loop run once). 0, -ECANCELED,
 * -EPERM, -EINVAL (ms < 0). */
static inline int swx_co_sleep(long ms)
{
    return swx_api_->co_sleep(ms);
}

/* Run fn(arg) when the running coroutine ends, the last registered first
 * (Swoole's defer). 0, -EPERM, -EINVAL, -ENOMEM. */
static inline int swx_co_defer(swx_co_fn *fn, void *arg)
{
    return swx_api_->co_defer(fn, arg);
}

/* This process's coroutine figures. 0. */
static inline int swx_co_stats(swx_co_stats_t *out)
{
    return swx_api_->co_stats(out);
}

/*
 * Wait until fd is ready for events (SWX_EVENT_READ and/or
 * SWX_EVENT_WRITE): the one primitive that adapts any non-blocking
 * library (set the fd O_NONBLOCK; on EAGAIN wait, then retry). One
 * coroutine may wait to read and another to write the same fd. The events
 * that fired (SWX_EVENT_ERROR too on an error or hang-up: try the I/O to
 * learn which), or -ETIMEDOUT, -ECANCELED, -EPERM, -EINVAL, -EBUSY
 * (another coroutine waits for that event on fd), -EEXIST (fd is
 * registered with swx_event_add).
 */
static inline int swx_co_wait_fd(int fd, int events, long timeout_ms)
{
    return swx_api_->co_wait_fd(fd, events, timeout_ms);
}

/* A channel of up to capacity (>= 1) pointers between the coroutines of
 * this process (Swoole's Coroutine\Channel); NULL: capacity 0 or no
 * memory. */
static inline swx_co_chan_t *swx_co_chan_new(size_t capacity)
{
    return swx_api_->co_chan_new(capacity);
}

/* Push, waiting for room. 0, -ETIMEDOUT, -EPIPE (closed), -ECANCELED,
 * -EPERM (full and outside a coroutine). */
static inline int swx_co_chan_push(swx_co_chan_t *ch, void *item,
                                   long timeout_ms)
{
    return swx_api_->co_chan_push(ch, item, timeout_ms);
}

/* Pop the oldest item, waiting for one. 0, -ETIMEDOUT, -EPIPE (closed and
 * empty), -ECANCELED, -EPERM (empty and outside a coroutine). */
static inline int swx_co_chan_pop(swx_co_chan_t *ch, void **item,
                                  long timeout_ms)
{
    return swx_api_->co_chan_pop(ch, item, timeout_ms);
}

/* Close: waiters wake with -EPIPE; items already in it can still be
 * popped. 0, or -EPIPE (already closed). */
static inline int swx_co_chan_close(swx_co_chan_t *ch)
{
    return swx_api_->co_chan_close(ch);
}

static inline size_t swx_co_chan_length(const swx_co_chan_t *ch)
{
    return swx_api_->co_chan_length(ch);
}

/* Free a channel nobody waits on (items in it are not freed). 0, or
 * -EBUSY. */
static inline int swx_co_chan_free(swx_co_chan_t *ch)
{
    return swx_api_->co_chan_free(ch);
}

/* A wait group (Swoole's Coroutine\WaitGroup): add before starting work,
 * done when each piece ends, wait for all. NULL: no memory. */
static inline swx_co_wg_t *swx_co_wg_new(void)
{
    return swx_api_->co_wg_new();
}

/* 0, or -EINVAL (the count would go below 0). */
static inline int swx_co_wg_add(swx_co_wg_t *wg, long n)
{
    return swx_api_->co_wg_add(wg, n);
}

static inline int swx_co_wg_done(swx_co_wg_t *wg)
{
    return swx_api_->co_wg_add(wg, -1);
}

/* Wait until the count is 0. 0, -ETIMEDOUT, -ECANCELED, -EPERM. */
static inline int swx_co_wg_wait(swx_co_wg_t *wg, long timeout_ms)
{
    return swx_api_->co_wg_wait(wg, timeout_ms);
}

/* 0, or -EBUSY (coroutines wait on it). */
static inline int swx_co_wg_free(swx_co_wg_t *wg)
{
    return swx_api_->co_wg_free(wg);
}

/* ---- client sockets (ABI 1.7): swx_co_sock_connect, _send, _recv,
 * _recv_exact, _recv_until, _close, _fd ----
 *
 * Stream sockets that wait in the coroutine, never the process (Swoole's
 * Coroutine\Client / Coroutine\Socket). Every call but close and fd
 * fails with -EPERM outside a coroutine and -ECANCELED when the process
 * stops or reloads (or another coroutine closes the socket); timeout_ms
 * bounds the whole call (-1: no limit) and -ETIMEDOUT says it passed.
 * One coroutine at a time may read a socket, and one write it (-EBUSY).
 * After an error other than -ETIMEDOUT of swx_co_sock_recv, close it. */

/* Connect to host:port: host a numeric IPv4 or IPv6 address ("::1" or
 * "[::1]") or "localhost", or a Unix socket ("unix:/path" or "/path";
 * port ignored). Names need a lookup first. 0 and *out set, or -EINVAL
 * (bad port, or host is a name), -ENAMETOOLONG (the Unix path),
 * -ETIMEDOUT, -ECONNREFUSED, -ENOENT (no such Unix socket), -EAGAIN (its
 * backlog is full), -ECANCELED, -EPERM, another connect(2) error. */
static inline int swx_co_sock_connect(const char *host, int port,
                                      long timeout_ms, swx_co_sock_t **out)
{
    return swx_api_->co_sock_connect(host, port, timeout_ms, out);
}

/* Send all len bytes, waiting while the socket buffer is full. len, or
 * -ETIMEDOUT, -EPIPE / -ECONNRESET (the peer went), -ECANCELED, -EPERM,
 * -EBADF (being closed). */
static inline ssize_t swx_co_sock_send(swx_co_sock_t *s, const void *buf,
                                       size_t len, long timeout_ms)
{
    return swx_api_->co_sock_send(s, buf, len, timeout_ms);
}

/* Receive 1 to n bytes (what is there, else what one read brings). The
 * count, 0 at EOF, or -ETIMEDOUT, -ECONNRESET, -ECANCELED, -EPERM,
 * -EBADF. */
static inline ssize_t swx_co_sock_recv(swx_co_sock_t *s, void *buf, size_t n,
                                       long timeout_ms)
{
    return swx_api_->co_sock_recv(s, buf, n, timeout_ms);
}

/* Receive exactly n bytes. n, fewer at EOF (all that came), or the errors
 * of swx_co_sock_recv (what was read before is lost). */
static inline ssize_t swx_co_sock_recv_exact(swx_co_sock_t *s, void *buf,
                                             size_t n, long timeout_ms)
{
    return swx_api_->co_sock_recv_exact(s, buf, n, timeout_ms);
}

/* Receive up to and including the first delim (dlen bytes), at most max
 * bytes; what came after it is kept for the next call. The length, or at
 * EOF what came without a delimiter (0: nothing), -EMSGSIZE (max bytes
 * and no delimiter: they are dropped), -EINVAL, or the errors of
 * swx_co_sock_recv. */
static inline ssize_t swx_co_sock_recv_until(swx_co_sock_t *s,
                                             const char *delim, size_t dlen,
                                             void *buf, size_t max,
                                             long timeout_ms)
{
    return swx_api_->co_sock_recv_until(s, delim, dlen, buf, max,
                                        timeout_ms);
}

/* Close and free s; a coroutine waiting on it wakes with -ECANCELED. Also
 * outside a coroutine. 0, -EINVAL (NULL), -EBADF (already being
 * closed). */
static inline int swx_co_sock_close(swx_co_sock_t *s)
{
    return swx_api_->co_sock_close(s);
}

/* The socket's fd, for setsockopt or getpeername (never close it). */
static inline int swx_co_sock_fd(const swx_co_sock_t *s)
{
    return swx_api_->co_sock_fd(s);
}

/* ---- name lookup (ABI 1.7): swx_co_dns_lookup, swx_co_dns_cache_clear ----
 * Swoole's Coroutine\System::getaddrinfo and dnsLookup: c-ares on the
 * process's loop, the hosts file first, answers cached for their TTL.
 * docs/plugin-guide.md, "Name lookup". */

/* The addresses of name (family AF_INET, AF_INET6 or AF_UNSPEC), at most
 * max of them into out, waiting up to timeout_ms (-1: c-ares' own
 * timeouts only). The count written (>= 1), or -ENOENT (no such name, or
 * no address of that family), -ETIMEDOUT, -ECANCELED (the process stops
 * or reloads), -EPERM (outside a coroutine), -EINVAL (a bad name, family,
 * out or max), -ECONNREFUSED (no DNS server listens), -EIO (the server
 * failed: SERVFAIL, REFUSED, a bad answer), -EAGAIN (4096 questions in
 * flight in this process), -ENOMEM. Swoole's dnsLookup
 * is swx_co_dns_lookup(name, AF_INET, &addr, 1, timeout_ms). */
static inline int swx_co_dns_lookup(const char *name, int family,
                                    swx_co_addr_t *out, size_t max,
                                    long timeout_ms)
{
    return swx_api_->co_dns_lookup(name, family, out, max, timeout_ms);
}

/* Forget every cached answer of this process (Swoole's
 * swoole_clear_dns_cache). 0. */
static inline int swx_co_dns_cache_clear(void)
{
    return swx_api_->co_dns_cache_clear();
}

/* ---- files and programs (ABI 1.7): swx_co_file_read, swx_co_file_write,
 * swx_co_file_pread, swx_co_file_pwrite, swx_co_execv, swx_co_exec ----
 *
 * Swoole's Coroutine\System::readFile, writeFile, fread, fwrite and exec.
 * File calls run in a small pool of threads of this process
 * (aio_worker_num) while the calling coroutine waits; the loop and the
 * other coroutines go on. A call that times out (or is cancelled at stop)
 * returns at once, but the thread finishes its system call: it works on
 * its own copy of the data and its own dup of the fd, so the caller may
 * free its buffer or close its fd. Besides the errors named, each returns
 * -ETIMEDOUT, -ECANCELED, -EPERM (not in a coroutine), -EINVAL, -ENOMEM,
 * and the system call's own -errno. "Files and programs" in
 * docs/plugin-guide.md has it all. */

/* Read the whole file at path (Swoole's readFile) into *data: malloc'd,
 * with a NUL after the last byte; free it with swx_free. max: the most
 * bytes accepted, 0 for no limit. The length, or -EFBIG (longer than
 * max), -ENOENT, -EACCES, -EISDIR, -EAGAIN (a FIFO with nothing in it). */
static inline int64_t swx_co_file_read(const char *path, size_t max,
                                       void **data, long timeout_ms)
{
    return swx_api_->co_file_read(path, max, data, timeout_ms);
}

/* Write len bytes to the file at path (Swoole's writeFile), created with
 * mode 0666 less the umask, truncated first unless flags has
 * SWX_CO_FILE_APPEND. len, or -ENOENT (no such directory), -EACCES,
 * -ENOSPC... */
static inline int64_t swx_co_file_write(const char *path, const void *data,
                                        size_t len, int flags,
                                        long timeout_ms)
{
    return swx_api_->co_file_write(path, data, len, flags, timeout_ms);
}

/* Read up to len bytes of fd from offset (< 0: from the fd's position,
 * which then moves) into buf (Swoole's fread): fewer only at the end of
 * the file. The count, or -EBADF, -ESPIPE (a pipe or socket: use
 * swx_co_wait_fd for those), -EISDIR. */
static inline int64_t swx_co_file_pread(int fd, void *buf, size_t len,
                                        int64_t offset, long timeout_ms)
{
    return swx_api_->co_file_pread(fd, buf, len, offset, timeout_ms);
}

/* Write len bytes of buf to fd at offset (< 0: at the fd's position, or
 * its end with O_APPEND) (Swoole's fwrite). len, or the errors above. */
static inline int64_t swx_co_file_pwrite(int fd, const void *buf, size_t len,
                                         int64_t offset, long timeout_ms)
{
    return swx_api_->co_file_pwrite(fd, buf, len, offset, timeout_ms);
}

/*
 * Run argv[0] (looked up in PATH without a '/') with arguments argv
 * (NULL-terminated) and wait for it. It gets stdin from /dev/null, an
 * empty signal mask and every signal's default action, its own process
 * group, and none of the server's fds; up to max_output bytes of its
 * stdout are kept (0: stdout goes to /dev/null). 0: it ended, *out says
 * how. -ETIMEDOUT after timeout_ms (-1: no limit) or -ECANCELED when the
 * process stops: its group was killed (SIGKILL) and reaped, *out has the
 * output so far. -EMSGSIZE: it wrote more than max_output: *out has the
 * first max_output bytes; the pipe was closed (its next write fails, or
 * SIGPIPE ends it) and it was waited for. -ENOENT / -EACCES: it could
 * not be run. -ECHILD: something else of this process reaped it (a
 * waitpid(-1)). Free out->output in every case.
 */
static inline int swx_co_execv(const char *const argv[], int flags,
                               size_t max_output, long timeout_ms,
                               swx_co_exec_result_t *out)
{
    return swx_api_->co_exec(argv, flags, max_output, timeout_ms, out);
}

/* Run command with /bin/sh -c (Swoole's exec), as swx_co_execv. */
static inline int swx_co_exec(const char *command, int flags,
                              size_t max_output, long timeout_ms,
                              swx_co_exec_result_t *out)
{
    const char *argv[] = {"/bin/sh", "-c", command, NULL};
    return swx_api_->co_exec(argv, flags, max_output, timeout_ms, out);
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
