/* config.c: loads the server's JSON config and validates it against tables of keys. */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "swx_plugin.h"
#include "core/session.h"
#include "plugin/table.h"
#include "http/access_fmt.h"
#include "coro/dns_name.h"

#define CFG_PATH_MAX 256        /* longest JSON path kept for a message */
#define CFG_TEXT_MAX 512        /* longest "expected ..." or key list */
#define CFG_FOUND_MAX 60        /* bytes of a value shown after "found" */
#define CFG_FILE_MAX (16 << 20) /* a bigger config file is refused */
#define CFG_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* What every step of the validation needs: where messages go, and the
 * config being filled (listeners look plugins up in it). */
typedef struct cfg_ctx {
    const char *file;
    char *err;
    size_t errlen;
    config_t *cfg;
} cfg_ctx_t;

enum cfg_type {
    CFG_INT,    /* JSON integer in [min, max], stored as int */
    CFG_LONG,   /* the same, stored as long */
    CFG_SIZE,   /* the same, stored as size_t */
    CFG_BOOL,   /* true or false, stored as int 0 or 1 */
    CFG_STRING, /* non-empty string, stored as a malloc'd char * */
    CFG_ENUM,   /* one of choices, stored as its index (int) */
    CFG_OBJECT, /* free-form object, stored as compact JSON text (char *) */
    CFG_CUSTOM, /* handed to the field's parse callback */
    CFG_DOUBLE, /* JSON number in [min, max], stored as double; def is in
                 * millionths (an integer field cannot hold 0.001) */
};

#define CFG_REQUIRED 0x1u /* missing key is an error */
#define CFG_CPUS 0x2u     /* default: online CPUs, clamped to [min, max] */

typedef struct cfg_field cfg_field_t;

/* Validates value (found at path) and stores it at slot. */
typedef int (*cfg_parse_cb)(cfg_ctx_t *ctx, const char *path, json_t *value,
                            void *slot);

struct cfg_field {
    const char *name;
    enum cfg_type type;
    unsigned flags;
    long long min, max;         /* integer types */
    long long def;              /* integer, bool and enum types */
    size_t offset;              /* where in the parent struct it is stored */
    const char *const *choices; /* CFG_ENUM: NULL-terminated */
    cfg_parse_cb parse;         /* CFG_CUSTOM */
};

typedef int (*cfg_store_cb)(cfg_ctx_t *ctx, const char *path,
                            const cfg_field_t *f, json_t *v, void *slot);

static int parse_server(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot);
static int parse_plugins(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot);
static int parse_listeners(cfg_ctx_t *ctx, const char *path, json_t *v,
                           void *slot);
static int parse_plugin_ref(cfg_ctx_t *ctx, const char *path, json_t *v,
                            void *slot);
static int parse_admin(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot);
static int parse_admin_mode(cfg_ctx_t *ctx, const char *path, json_t *v,
                            void *slot);
static int parse_admin_token(cfg_ctx_t *ctx, const char *path, json_t *v,
                             void *slot);
static int parse_tables(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot);
static int parse_processes(cfg_ctx_t *ctx, const char *path, json_t *v,
                           void *slot);
static int parse_locations(cfg_ctx_t *ctx, const char *path, json_t *v,
                           void *slot);
static int parse_index_files(cfg_ctx_t *ctx, const char *path, json_t *v,
                             void *slot);

static int parse_task_ipc_mode(cfg_ctx_t *ctx, const char *path, json_t *v,
                               void *slot);
static int parse_real_ip_from(cfg_ctx_t *ctx, const char *path, json_t *v,
                              void *slot);
static int parse_access_log_format(cfg_ctx_t *ctx, const char *path,
                                   json_t *v, void *slot);
static int parse_ssl_protocols(cfg_ctx_t *ctx, const char *path, json_t *v,
                               void *slot);
static int parse_ssl_alpn(cfg_ctx_t *ctx, const char *path, json_t *v,
                          void *slot);
static int parse_ssl_sni_certs(cfg_ctx_t *ctx, const char *path, json_t *v,
                               void *slot);
static int parse_dns_server(cfg_ctx_t *ctx, const char *path, json_t *v,
                            void *slot);

/* Indexed by enum swx_log_level. */
static const char *const log_levels[] = {
    "debug", "info", "notice", "warning", "error", NULL,
};

/* Indexed by enum config_server_mode. */
static const char *const server_modes[] = {
    "process", "base", NULL,
};

/* Indexed by enum config_sched_policy. */
static const char *const sched_policies[] = {
    "other", "batch", NULL,
};

/* Indexed by enum config_listener_protocol. */
static const char *const listener_protocols[] = {
    "raw", "http", "websocket", NULL,
};

/* Indexed by enum config_listener_type. */
static const char *const listener_types[] = {
    "tcp", "tcp6", "udp", "udp6", "unix", "unix_dgram", NULL,
};

#define SRV(m) offsetof(config_t, m)
#define PLG(m) offsetof(config_plugin_t, m)
#define LSN(m) offsetof(config_listener_t, m)

/* name, type, flags, min, max, default, offset, choices, parse */
static const cfg_field_t top_fields[] = {
    { "server", CFG_CUSTOM, 0, 0, 0, 0, 0, NULL, parse_server },
    { "plugins", CFG_CUSTOM, CFG_REQUIRED, 0, 0, 0, 0, NULL, parse_plugins },
    { "listeners", CFG_CUSTOM, CFG_REQUIRED, 0, 0, 0, 0, NULL, parse_listeners },
    { "admin", CFG_CUSTOM, 0, 0, 0, 0, 0, NULL, parse_admin },
    { "tables", CFG_CUSTOM, 0, 0, 0, 0, 0, NULL, parse_tables },
    { "processes", CFG_CUSTOM, 0, 0, 0, 0, 0, NULL, parse_processes },
};

static const cfg_field_t server_fields[] = {
    { "reactor_num", CFG_INT, CFG_CPUS, 1, 256, 0, SRV(reactor_num), NULL, NULL },
    { "worker_num", CFG_INT, CFG_CPUS, 1, 1024, 0, SRV(worker_num), NULL, NULL },
    { "max_request", CFG_LONG, 0, 0, INT32_MAX, 0, SRV(max_request), NULL, NULL },
    { "dispatch_mode", CFG_INT, 0, 1, 5, 2, SRV(dispatch_mode), NULL, NULL },
    { "backlog", CFG_INT, 0, 1, 65535, 511, SRV(backlog), NULL, NULL },
    { "max_conn", CFG_INT, 0, 1, 1000000, 10000, SRV(max_conn), NULL, NULL },
    { "buffer_output_size", CFG_SIZE, 0, 4096, 1073741824, 2097152,
      SRV(buffer_output_size), NULL, NULL },
    { "log_level", CFG_ENUM, 0, 0, 0, SWX_LOG_INFO, SRV(log_level), log_levels,
      NULL },
    { "log_file", CFG_STRING, 0, 0, 0, 0, SRV(log_file), NULL, NULL },
    { "max_wait_time", CFG_INT, 0, 1, 3600, 3, SRV(max_wait_time), NULL, NULL },
    { "reload_async", CFG_BOOL, 0, 0, 0, 1, SRV(reload_async), NULL, NULL },
    { "daemonize", CFG_BOOL, 0, 0, 0, 0, SRV(daemonize), NULL, NULL },
    { "pid_file", CFG_STRING, 0, 0, 0, 0, SRV(pid_file), NULL, NULL },
    { "user", CFG_STRING, 0, 0, 0, 0, SRV(user), NULL, NULL },
    { "group", CFG_STRING, 0, 0, 0, 0, SRV(group), NULL, NULL },
    { "heartbeat_check_interval", CFG_INT, 0, 0, 86400, 0,
      SRV(heartbeat_check_interval), NULL, NULL },
    { "heartbeat_idle_time", CFG_INT, 0, 0, 86400 * 7, 0,
      SRV(heartbeat_idle_time), NULL, NULL },
    { "send_timeout", CFG_INT, 0, 0, 86400, 60, SRV(send_timeout), NULL,
      NULL },
    { "enable_reuse_port", CFG_BOOL, 0, 0, 0, 0, SRV(enable_reuse_port), NULL,
      NULL },
    { "open_tcp_nodelay", CFG_BOOL, 0, 0, 0, 1, SRV(open_tcp_nodelay), NULL,
      NULL },
    { "open_tcp_keepalive", CFG_BOOL, 0, 0, 0, 0, SRV(open_tcp_keepalive),
      NULL, NULL },
    { "tcp_keepidle", CFG_INT, 0, 1, 32767, 3600, SRV(tcp_keepidle), NULL,
      NULL },
    { "tcp_keepinterval", CFG_INT, 0, 1, 32767, 60, SRV(tcp_keepinterval),
      NULL, NULL },
    { "tcp_keepcount", CFG_INT, 0, 1, 127, 5, SRV(tcp_keepcount), NULL,
      NULL },
    { "tcp_defer_accept", CFG_INT, 0, 0, 3600, 0, SRV(tcp_defer_accept),
      NULL, NULL },
    { "open_cpu_affinity", CFG_BOOL, 0, 0, 0, 0, SRV(open_cpu_affinity),
      NULL, NULL },
    { "sched_policy", CFG_ENUM, 0, 0, 0, SCHED_POLICY_OTHER,
      SRV(sched_policy), sched_policies, NULL },
    { "task_worker_num", CFG_INT, 0, 0, 1024, 0, SRV(task_worker_num), NULL,
      NULL },
    { "task_max_request", CFG_LONG, 0, 0, INT32_MAX, 0, SRV(task_max_request),
      NULL, NULL },
    { "task_ipc_mode", CFG_CUSTOM, 0, 0, 0, 0, SRV(task_ipc_mode), NULL,
      parse_task_ipc_mode },
    { "task_max_size", CFG_SIZE, 0, 1024, 268435456, 8388608,
      SRV(task_max_size), NULL, NULL },
    /* the stop behind a load balancer */
    { "shutdown_delay", CFG_INT, 0, 0, 3600, 0, SRV(shutdown_delay), NULL,
      NULL },
    /* Memory and overload; a grace of -1 is resolved in parse_root. */
    { "reload_on_rss", CFG_LONG, 0, 0, 1048576, 0, SRV(reload_on_rss), NULL,
      NULL },
    { "max_request_grace", CFG_LONG, 0, 0, INT32_MAX, -1,
      SRV(max_request_grace), NULL, NULL },
    { "task_max_request_grace", CFG_LONG, 0, 0, INT32_MAX, -1,
      SRV(task_max_request_grace), NULL, NULL },
    { "max_concurrency", CFG_INT, 0, 0, 1000000, 0, SRV(max_concurrency),
      NULL, NULL },
    /* the access log */
    { "access_log", CFG_STRING, 0, 0, 0, 0, SRV(access_log), NULL, NULL },
    { "access_log_format", CFG_CUSTOM, 0, 0, 0, 0, SRV(access_log_format),
      NULL, parse_access_log_format },
    { "max_execution_time", CFG_INT, 0, 0, 86400, 0,
      SRV(max_execution_time), NULL, NULL },
    { "request_slowlog_timeout", CFG_INT, 0, 0, 86400, 0,
      SRV(request_slowlog_timeout), NULL, NULL },
    { "request_slowlog_file", CFG_STRING, 0, 0, 0, 0,
      SRV(request_slowlog_file), NULL, NULL },
    /* base mode */
    { "mode", CFG_ENUM, 0, 0, 0, SERVER_MODE_PROCESS, SRV(mode), server_modes,
      NULL },
    /* coroutines (coro/coro.h): Swoole's names and max_coroutine's default */
    { "enable_coroutine", CFG_BOOL, 0, 0, 0, 1, SRV(enable_coroutine), NULL,
      NULL },
    { "max_coroutine", CFG_LONG, 0, 1, 10000000, 100000, SRV(max_coroutine),
      NULL, NULL },
    { "coroutine_stack_size", CFG_SIZE, 0, 32768, 67108864, 262144,
      SRV(coroutine_stack_size), NULL, NULL },
    /* name lookup (coro/dns.c): Swoole's names and defaults */
    { "dns_server", CFG_CUSTOM, 0, 0, 0, 0, SRV(dns_server), NULL,
      parse_dns_server },
    { "dns_cache_expire", CFG_INT, 0, 0, 86400, 60, SRV(dns_cache_expire),
      NULL, NULL },
    { "dns_cache_capacity", CFG_LONG, 0, 0, 1000000, 1000,
      SRV(dns_cache_capacity), NULL, NULL },
    /* the coroutines' file threads (coro/aio.h): Swoole's name */
    { "aio_worker_num", CFG_INT, 0, 1, 256, 4, SRV(aio_worker_num), NULL,
      NULL },
    /* ... kept, started after a wait, ended when idle (Swoole's names;
     * the core count is checked against aio_worker_num in parse_root) */
    { "aio_core_worker_num", CFG_INT, 0, 1, 256, 1, SRV(aio_core_worker_num),
      NULL, NULL },
    { "aio_max_wait_time", CFG_DOUBLE, 0, 0, 3600, 1000,
      SRV(aio_max_wait_time), NULL, NULL },
    { "aio_max_idle_time", CFG_DOUBLE, 0, 0, 86400, 1000000,
      SRV(aio_max_idle_time), NULL, NULL },
    /* send_yield: a connection's output level (net/conn.c) */
    { "buffer_high_watermark", CFG_SIZE, 0, 0, 1073741824, 0,
      SRV(buffer_high_watermark), NULL, NULL },
    { "buffer_low_watermark", CFG_SIZE, 0, 0, 1073741824, 0,
      SRV(buffer_low_watermark), NULL, NULL },
};

static const cfg_field_t plugin_fields[] = {
    { "name", CFG_STRING, CFG_REQUIRED, 0, 0, 0, PLG(name), NULL, NULL },
    { "path", CFG_STRING, CFG_REQUIRED, 0, 0, 0, PLG(path), NULL, NULL },
    { "config", CFG_OBJECT, 0, 0, 0, 0, PLG(config_json), NULL, NULL },
};

static const cfg_field_t listener_fields[] = {
    { "type", CFG_ENUM, 0, 0, 0, LISTENER_TCP, LSN(type), listener_types, NULL },
    { "host", CFG_STRING, 0, 0, 0, 0, LSN(host), NULL, NULL },
    { "port", CFG_INT, 0, 1, 65535, 0, LSN(port), NULL, NULL },
    { "path", CFG_STRING, 0, 0, 0, 0, LSN(path), NULL, NULL },
    { "plugin", CFG_CUSTOM, CFG_REQUIRED, 0, 0, 0, LSN(plugin), NULL,
      parse_plugin_ref },
    { "open_eof_split", CFG_BOOL, 0, 0, 0, 0, LSN(open_eof_split), NULL, NULL },
    { "package_eof", CFG_STRING, 0, 0, 0, 0, LSN(package_eof), NULL, NULL },
    { "open_length_check", CFG_BOOL, 0, 0, 0, 0, LSN(open_length_check), NULL,
      NULL },
    { "package_length_type", CFG_STRING, 0, 0, 0, 0, LSN(package_length_type),
      NULL, NULL },
    { "package_length_offset", CFG_INT, 0, 0, 65535, 0,
      LSN(package_length_offset), NULL, NULL },
    { "package_body_offset", CFG_INT, 0, 0, 65535, 0, LSN(package_body_offset),
      NULL, NULL },
    { "package_max_length", CFG_SIZE, 0, 1, 1073741824, FRAMER_DEFAULT_MAX_LENGTH,
      LSN(package_max_length), NULL, NULL },
    { "protocol", CFG_ENUM, 0, 0, 0, PROTOCOL_RAW, LSN(protocol),
      listener_protocols, NULL },
    { "document_root", CFG_STRING, 0, 0, 0, 0, LSN(document_root), NULL,
      NULL },
    { "static_handler_locations", CFG_CUSTOM, 0, 0, 0, 0,
      LSN(static_handler_locations), NULL, parse_locations },
    { "http_index_files", CFG_CUSTOM, 0, 0, 0, 0, LSN(http_index_files), NULL,
      parse_index_files },
    { "http_autoindex", CFG_BOOL, 0, 0, 0, 0, LSN(http_autoindex), NULL,
      NULL },
    { "http_request_timeout", CFG_INT, 0, 1, 86400, 60,
      LSN(http_request_timeout), NULL, NULL },
    { "http_response_timeout", CFG_INT, 0, 0, 86400, 60,
      LSN(http_response_timeout), NULL, NULL },
    { "http_max_head_size", CFG_SIZE, 0, 1024, 1048576, HTTP_DEFAULT_MAX_HEAD,
      LSN(http_max_head_size), NULL, NULL },
    { "http_max_uri_size", CFG_SIZE, 0, 64, 1048576, HTTP_DEFAULT_MAX_URI,
      LSN(http_max_uri_size), NULL, NULL },
    { "http_compression", CFG_BOOL, 0, 0, 0, 1, LSN(http_compression), NULL,
      NULL },
    { "websocket_compression", CFG_BOOL, 0, 0, 0, 0,
      LSN(websocket_compression), NULL, NULL },
    { "http_compression_level", CFG_INT, 0, 1, 9, 1,
      LSN(http_compression_level), NULL, NULL },
    { "http_compression_min_length", CFG_SIZE, 0, 0, 1073741824, 20,
      LSN(http_compression_min_length), NULL, NULL },
    { "proxy_protocol", CFG_BOOL, 0, 0, 0, 0, LSN(proxy_protocol), NULL,
      NULL },
    { "real_ip_from", CFG_CUSTOM, 0, 0, 0, 0, LSN(real_ip_from), NULL,
      parse_real_ip_from },
    { "real_ip_header", CFG_STRING, 0, 0, 0, 0, LSN(real_ip_header), NULL,
      NULL },
    /* the access log */
    { "access_log", CFG_STRING, 0, 0, 0, 0, LSN(access_log), NULL, NULL },
    { "access_log_format", CFG_CUSTOM, 0, 0, 0, 0, LSN(access_log_format),
      NULL, parse_access_log_format },
    /* TLS */
    { "ssl_cert_file", CFG_STRING, 0, 0, 0, 0, LSN(ssl_cert_file), NULL,
      NULL },
    { "ssl_key_file", CFG_STRING, 0, 0, 0, 0, LSN(ssl_key_file), NULL, NULL },
    { "ssl_protocols", CFG_CUSTOM, 0, 0, 0, 0, LSN(ssl_protocols), NULL,
      parse_ssl_protocols },
    { "ssl_ciphers", CFG_STRING, 0, 0, 0, 0, LSN(ssl_ciphers), NULL, NULL },
    { "ssl_ecdh_curve", CFG_STRING, 0, 0, 0, 0, LSN(ssl_ecdh_curve), NULL,
      NULL },
    { "ssl_prefer_server_ciphers", CFG_BOOL, 0, 0, 0, 1,
      LSN(ssl_prefer_server_ciphers), NULL, NULL },
    { "ssl_sni_certs", CFG_CUSTOM, 0, 0, 0, 0, LSN(ssl_sni_certs), NULL,
      parse_ssl_sni_certs },
    { "ssl_verify_peer", CFG_BOOL, 0, 0, 0, 0, LSN(ssl_verify_peer), NULL,
      NULL },
    { "ssl_client_cert_file", CFG_STRING, 0, 0, 0, 0,
      LSN(ssl_client_cert_file), NULL, NULL },
    { "ssl_verify_depth", CFG_INT, 0, 1, 100, 1, LSN(ssl_verify_depth), NULL,
      NULL },
    { "ssl_alpn", CFG_CUSTOM, 0, 0, 0, 0, LSN(ssl_alpn), NULL,
      parse_ssl_alpn },
    { "ssl_handshake_timeout", CFG_INT, 0, 1, 3600, 10,
      LSN(ssl_handshake_timeout), NULL, NULL },
    /* -1: the server's (parse_listener). */
    { "max_execution_time", CFG_INT, 0, 0, 86400, -1,
      LSN(max_execution_time), NULL, NULL },
    { "request_slowlog_timeout", CFG_INT, 0, 0, 86400, -1,
      LSN(request_slowlog_timeout), NULL, NULL },
    /* HTTP/2 (Swoole's names and defaults) */
    { "open_http2_protocol", CFG_BOOL, 0, 0, 0, 0, LSN(open_http2_protocol),
      NULL, NULL },
    { "http2_header_table_size", CFG_SIZE, 0, 0, 4294967295LL, 4096,
      LSN(http2_header_table_size), NULL, NULL },
    { "http2_init_window_size", CFG_SIZE, 0, 0, 2147483647, 2147483647,
      LSN(http2_init_window_size), NULL, NULL },
    { "http2_max_concurrent_streams", CFG_INT, 0, 1, 2147483647, 128,
      LSN(http2_max_concurrent_streams), NULL, NULL },
    { "http2_max_frame_size", CFG_SIZE, 0, 16384, 16777215, 16384,
      LSN(http2_max_frame_size), NULL, NULL },
    { "http2_max_header_list_size", CFG_SIZE, 0, 0, 4294967295LL,
      4294967295LL, LSN(http2_max_header_list_size), NULL, NULL },
};

/* ---- messages ---- */

__attribute__((format(printf, 3, 4))) static void
write_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "FILE: PATH: message"; always returns -1. */
__attribute__((format(printf, 3, 4))) static int
cfg_fail(cfg_ctx_t *ctx, const char *path, const char *fmt, ...)
{
    char msg[CFG_TEXT_MAX + CFG_PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    write_err(ctx->err, ctx->errlen, "%s: %s: %s", ctx->file,
              path[0] != '\0' ? path : "top level", msg);
    return -1;
}

static int cfg_oom(cfg_ctx_t *ctx)
{
    write_err(ctx->err, ctx->errlen, "%s: out of memory", ctx->file);
    return -1;
}

/* The value as compact JSON on one line, cut after CFG_FOUND_MAX bytes
 * (never inside a UTF-8 sequence). */
static void render_value(const json_t *v, char *buf, size_t size)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15);
    char *s = json_dumps(v, flags);
    size_t n;

    if (s == NULL) {
        snprintf(buf, size, "(a value that cannot be shown)");
        return;
    }
    n = strlen(s);
    if (n <= CFG_FOUND_MAX) {
        snprintf(buf, size, "%s", s);
    } else {
        n = CFG_FOUND_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        snprintf(buf, size, "%.*s...", (int)n, s);
    }
    free(s);
}

/* "FILE: PATH: expected WHAT, found VALUE"; always returns -1. */
__attribute__((format(printf, 4, 5))) static int
cfg_expected(cfg_ctx_t *ctx, const char *path, const json_t *v,
             const char *fmt, ...)
{
    char what[CFG_TEXT_MAX], found[CFG_FOUND_MAX + 8];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    render_value(v, found, sizeof found);
    return cfg_fail(ctx, path, "expected %s, found %s", what, found);
}

/* ---- JSON paths ---- */

/* parent.key; control characters in the key become '?' so that the
 * message stays on one line. */
static void path_key(char *buf, size_t size, const char *parent, const char *key)
{
    size_t n = (size_t)snprintf(buf, size, "%s%s", parent,
                                parent[0] != '\0' ? "." : "");

    for (; n < size && *key != '\0'; key++)
        buf[n++] = (unsigned char)*key < 0x20 || *key == 0x7f ? '?' : *key;
    buf[n < size ? n : size - 1] = '\0';
}

static void path_index(char *buf, size_t size, const char *parent, size_t i)
{
    snprintf(buf, size, "%s[%zu]", parent, i);
}

/* ---- one value per field type ---- */

static int store_integer(cfg_ctx_t *ctx, const char *path,
                         const cfg_field_t *f, json_t *v, void *slot)
{
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;

    if (!json_is_integer(v) || n < f->min || n > f->max)
        return cfg_expected(ctx, path, v, "an integer from %lld to %lld",
                            f->min, f->max);
    if (f->type == CFG_INT)
        *(int *)slot = (int)n;
    else if (f->type == CFG_LONG)
        *(long *)slot = (long)n;
    else
        *(size_t *)slot = (size_t)n;
    return 0;
}

static int store_double(cfg_ctx_t *ctx, const char *path,
                        const cfg_field_t *f, json_t *v, void *slot)
{
    double d = json_is_number(v) ? json_number_value(v) : -1.0;

    if (!json_is_number(v) || !(d >= f->min && d <= f->max))
        return cfg_expected(ctx, path, v, "a number from %lld to %lld",
                            f->min, f->max);
    *(double *)slot = d;
    return 0;
}

static int store_bool(cfg_ctx_t *ctx, const char *path, const cfg_field_t *f,
                      json_t *v, void *slot)
{
    (void)f;
    if (!json_is_boolean(v))
        return cfg_expected(ctx, path, v, "true or false");
    *(int *)slot = json_is_true(v);
    return 0;
}

static int store_string(cfg_ctx_t *ctx, const char *path,
                        const cfg_field_t *f, json_t *v, void *slot)
{
    char *s;

    (void)f;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return cfg_expected(ctx, path, v, "a non-empty string");
    s = strdup(json_string_value(v));
    if (s == NULL)
        return cfg_oom(ctx);
    *(char **)slot = s;
    return 0;
}

/* Appends to buf[size] at *len, stopping quietly when it is full. */
__attribute__((format(printf, 4, 5))) static void
append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    *len += n > 0 ? (size_t)n : 0;
}

static int store_enum(cfg_ctx_t *ctx, const char *path, const cfg_field_t *f,
                      json_t *v, void *slot)
{
    char names[CFG_TEXT_MAX] = "";
    size_t len = 0;

    for (int i = 0; json_is_string(v) && f->choices[i] != NULL; i++) {
        if (strcmp(json_string_value(v), f->choices[i]) == 0) {
            *(int *)slot = i;
            return 0;
        }
    }
    for (int i = 0; f->choices[i] != NULL; i++)
        append(names, sizeof names, &len, "%s\"%s\"", i > 0 ? ", " : "",
               f->choices[i]);
    return cfg_expected(ctx, path, v, "one of %s", names);
}

static int store_object(cfg_ctx_t *ctx, const char *path,
                        const cfg_field_t *f, json_t *v, void *slot)
{
    char *s;

    (void)f;
    if (!json_is_object(v))
        return cfg_expected(ctx, path, v, "an object");
    s = json_dumps(v, JSON_COMPACT);
    if (s == NULL)
        return cfg_oom(ctx);
    *(char **)slot = s;
    return 0;
}

static int store_custom(cfg_ctx_t *ctx, const char *path,
                        const cfg_field_t *f, json_t *v, void *slot)
{
    return f->parse(ctx, path, v, slot);
}

static const cfg_store_cb store_by_type[] = {
    [CFG_INT] = store_integer,  [CFG_LONG] = store_integer,
    [CFG_SIZE] = store_integer, [CFG_BOOL] = store_bool,
    [CFG_STRING] = store_string, [CFG_ENUM] = store_enum,
    [CFG_OBJECT] = store_object, [CFG_CUSTOM] = store_custom,
    [CFG_DOUBLE] = store_double,
};

/* ---- objects described by a table ---- */

static const cfg_field_t *field_find(const cfg_field_t *fields, size_t n,
                                     const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static int check_unknown(cfg_ctx_t *ctx, const char *path, json_t *obj,
                         const cfg_field_t *fields, size_t n)
{
    char sub[CFG_PATH_MAX], names[CFG_TEXT_MAX] = "";
    size_t len = 0;

    for (void *it = json_object_iter(obj); it != NULL;
         it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);

        if (field_find(fields, n, key) != NULL)
            continue;
        for (size_t i = 0; i < n; i++)
            append(names, sizeof names, &len, "%s%s", i > 0 ? ", " : "",
                   fields[i].name);
        path_key(sub, sizeof sub, path, key);
        return cfg_fail(ctx, sub, "unknown key; expected one of %s", names);
    }
    return 0;
}

/* Integer, bool and enum defaults from the table; strings stay NULL. */
static void apply_defaults(const cfg_field_t *fields, size_t n, void *base)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    for (size_t i = 0; i < n; i++) {
        const cfg_field_t *f = &fields[i];
        long long def = f->def;
        char *slot = (char *)base + f->offset;

        if (f->flags & CFG_CPUS)
            def = cpus < f->min ? f->min : cpus > f->max ? f->max : cpus;
        if (f->type == CFG_INT || f->type == CFG_BOOL || f->type == CFG_ENUM)
            *(int *)slot = (int)def;
        else if (f->type == CFG_LONG)
            *(long *)slot = (long)def;
        else if (f->type == CFG_SIZE)
            *(size_t *)slot = (size_t)def;
        else if (f->type == CFG_DOUBLE)
            *(double *)slot = (double)def / 1e6;
    }
}

/* Rejects unknown keys, then validates and stores each field of the table
 * in table order (so a later field may rely on an earlier one). */
static int fields_apply(cfg_ctx_t *ctx, const char *path, json_t *obj,
                        const cfg_field_t *fields, size_t n, void *base)
{
    char sub[CFG_PATH_MAX];

    if (check_unknown(ctx, path, obj, fields, n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const cfg_field_t *f = &fields[i];
        json_t *v = json_object_get(obj, f->name);

        path_key(sub, sizeof sub, path, f->name);
        if (v == NULL && (f->flags & CFG_REQUIRED))
            return cfg_fail(ctx, sub, "required key is missing");
        if (v != NULL &&
            store_by_type[f->type](ctx, sub, f, v, (char *)base + f->offset) < 0)
            return -1;
    }
    return 0;
}

/* A non-empty array whose length fits an int; returns its length or -1. */
static int array_length(cfg_ctx_t *ctx, const char *path, json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > INT_MAX)
        return cfg_expected(ctx, path, v, "a non-empty array of objects");
    return (int)json_array_size(v);
}

/* ---- "server" ---- */

static int parse_server(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot)
{
    (void)slot;
    if (!json_is_object(v))
        return cfg_expected(ctx, path, v, "an object");
    return fields_apply(ctx, path, v, server_fields, NELEM(server_fields),
                        ctx->cfg);
}

/* ---- "plugins" ---- */

/* Length of the directory part of file: 0 when it has no slash. */
static size_t dir_length(const char *file)
{
    const char *slash = file != NULL ? strrchr(file, '/') : NULL;

    if (slash == NULL)
        return 0;
    while (slash > file && slash[-1] == '/')
        slash--;
    return slash == file ? 1 : (size_t)(slash - file);
}

/* path if absolute, else path under the directory of the config file. */
static char *resolve_path(const char *file, const char *path)
{
    size_t n = dir_length(file), size;
    const char *dir = n > 0 ? file : ".";
    char *r;

    if (path[0] == '/')
        return strdup(path);
    if (n == 0)
        n = 1;
    size = n + 1 + strlen(path) + 1;
    r = malloc(size);
    if (r != NULL)
        snprintf(r, size, "%.*s%s%s", (int)n, dir,
                 dir[n - 1] == '/' ? "" : "/", path);
    return r;
}

static int check_plugin_name(cfg_ctx_t *ctx, const char *path, json_t *obj,
                             int i)
{
    const config_plugin_t *plugins = ctx->cfg->plugins;
    char sub[CFG_PATH_MAX];

    for (int j = 0; j < i; j++) {
        if (strcmp(plugins[j].name, plugins[i].name) == 0) {
            path_key(sub, sizeof sub, path, "name");
            return cfg_expected(ctx, sub, json_object_get(obj, "name"),
                                "a name not used by plugins[%d]", j);
        }
    }
    return 0;
}

static int parse_plugin(cfg_ctx_t *ctx, const char *path, json_t *v, int i)
{
    config_plugin_t *p = &ctx->cfg->plugins[i];

    if (!json_is_object(v))
        return cfg_expected(ctx, path, v, "an object");
    if (fields_apply(ctx, path, v, plugin_fields, NELEM(plugin_fields), p) < 0 ||
        check_plugin_name(ctx, path, v, i) < 0)
        return -1;
    if (p->config_json == NULL && (p->config_json = strdup("{}")) == NULL)
        return cfg_oom(ctx);
    p->resolved = resolve_path(ctx->cfg->path, p->path);
    return p->resolved != NULL ? 0 : cfg_oom(ctx);
}

static int parse_plugins(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot)
{
    config_t *cfg = ctx->cfg;
    char sub[CFG_PATH_MAX];
    int n = array_length(ctx, path, v);

    (void)slot;
    if (n < 0)
        return -1;
    cfg->plugins = calloc((size_t)n, sizeof *cfg->plugins);
    if (cfg->plugins == NULL)
        return cfg_oom(ctx);
    cfg->nplugins = n;
    for (int i = 0; i < n; i++) {
        path_index(sub, sizeof sub, path, (size_t)i);
        if (parse_plugin(ctx, sub, json_array_get(v, (size_t)i), i) < 0)
            return -1;
    }
    return 0;
}

/* ---- "listeners" ---- */

static int parse_plugin_ref(cfg_ctx_t *ctx, const char *path, json_t *v,
                            void *slot)
{
    const config_t *cfg = ctx->cfg;

    for (int i = 0; json_is_string(v) && i < cfg->nplugins; i++) {
        if (strcmp(cfg->plugins[i].name, json_string_value(v)) == 0) {
            *(int *)slot = i;
            return 0;
        }
    }
    return cfg_expected(ctx, path, v, "the name of a declared plugin");
}

static int listener_family(const config_listener_t *l)
{
    if (l->type == LISTENER_UNIX || l->type == LISTENER_UNIX_DGRAM)
        return AF_UNIX;
    return l->type == LISTENER_TCP6 || l->type == LISTENER_UDP6 ? AF_INET6
                                                                : AF_INET;
}

/* Fills in the default host or checks the given one is numeric. */
static int listener_host(cfg_ctx_t *ctx, const char *path, json_t *obj,
                         config_listener_t *l)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char sub[CFG_PATH_MAX];

    if (l->host == NULL) {
        l->host = strdup(listener_family(l) == AF_INET6 ? "::1" : "127.0.0.1");
        return l->host != NULL ? 0 : cfg_oom(ctx);
    }
    if (inet_pton(listener_family(l), l->host, addr) == 1)
        return 0;
    path_key(sub, sizeof sub, path, "host");
    return cfg_expected(ctx, sub, json_object_get(obj, "host"),
                        "a numeric %s address for type \"%s\"",
                        listener_family(l) == AF_INET6 ? "IPv6" : "IPv4",
                        listener_types[l->type]);
}

/* host and port for the inet types, path for the unix ones. */
static int listener_address(cfg_ctx_t *ctx, const char *path, json_t *obj,
                            config_listener_t *l)
{
    char sub[CFG_PATH_MAX];
    if (listener_family(l) == AF_UNIX) {
        const char *bad = l->host ? "host" : l->port ? "port" : NULL;
        if (bad != NULL) {
            path_key(sub, sizeof sub, path, bad);
            return cfg_fail(ctx, sub, "not used by type \"%s\" (it takes "
                            "\"path\")", listener_types[l->type]);
        }
        path_key(sub, sizeof sub, path, "path");
        if (l->path == NULL)
            return cfg_fail(ctx, sub, "required key is missing");
        if (strlen(l->path) >= 108)
            return cfg_expected(ctx, sub, json_object_get(obj, "path"),
                                "a socket path shorter than 108 bytes");
        return 0;
    }
    if (l->path != NULL) {
        path_key(sub, sizeof sub, path, "path");
        return cfg_fail(ctx, sub, "only the unix types take a path");
    }
    if (l->port == 0) {
        path_key(sub, sizeof sub, path, "port");
        return cfg_fail(ctx, sub, "required key is missing");
    }
    return listener_host(ctx, path, obj, l);
}

/* Swoole's open_eof_split / open_length_check, checked by the framer. */
static int listener_framing(cfg_ctx_t *ctx, const char *path, json_t *obj,
                            config_listener_t *l)
{
    char sub[CFG_PATH_MAX];
    const char *err = NULL;
    (void)obj;
    if (l->open_eof_split && l->open_length_check)
        return cfg_fail(ctx, path, "open_eof_split and open_length_check "
                        "exclude each other");
    if ((l->open_eof_split || l->open_length_check) &&
        config_listener_is_dgram(l->type))
        return cfg_fail(ctx, path, "a datagram listener has no stream to "
                        "frame");
    if (l->open_eof_split) {
        path_key(sub, sizeof sub, path, "package_eof");
        if (l->package_eof == NULL)
            return cfg_fail(ctx, sub, "required with open_eof_split");
        if (framer_cfg_eof(&l->framer, l->package_eof, strlen(l->package_eof),
                           l->package_max_length, &err) < 0)
            return cfg_fail(ctx, sub, "%s", err);
    } else if (l->open_length_check) {
        path_key(sub, sizeof sub, path, "package_length_type");
        if (l->package_length_type == NULL ||
            strlen(l->package_length_type) != 1)
            return cfg_fail(ctx, sub, "required with open_length_check: one "
                            "of Swoole's pack letters c C s S n N l L q Q");
        if (framer_cfg_length(&l->framer, l->package_length_type[0],
                              (size_t)l->package_length_offset,
                              (size_t)l->package_body_offset,
                              l->package_max_length, &err) < 0)
            return cfg_fail(ctx, path, "%s", err);
    } else {
        framer_cfg_raw(&l->framer);
        l->framer.package_max_length = l->package_max_length;
    }
    return 0;
}

/* document_root: resolved like a plugin path, then to its real path,
 * which must be a directory. */
static int listener_document_root(cfg_ctx_t *ctx, const char *path,
                                  json_t *obj, config_listener_t *l)
{
    char sub[CFG_PATH_MAX], real[PATH_MAX];
    struct stat st;
    char *abs = resolve_path(ctx->cfg->path, l->document_root);

    if (abs == NULL)
        return cfg_oom(ctx);
    path_key(sub, sizeof sub, path, "document_root");
    if (realpath(abs, real) == NULL || stat(real, &st) < 0 ||
        !S_ISDIR(st.st_mode)) {
        free(abs);
        return cfg_expected(ctx, sub, json_object_get(obj, "document_root"),
                            "an existing directory");
    }
    free(abs);
    free(l->document_root);
    l->document_root = strdup(real);
    return l->document_root != NULL ? 0 : cfg_oom(ctx);
}

/* A non-empty array of non-empty strings, each checked by ok (NULL when
 * it is fine, else what was expected), stored NULL-terminated in *slot;
 * skip leading characters of each by skip_lead. */
static int parse_strings(cfg_ctx_t *ctx, const char *path, json_t *v,
                         char ***slot, const char *(*ok)(const char *),
                         char skip_lead)
{
    char sub[CFG_PATH_MAX];
    int n = array_length(ctx, path, v);
    if (n < 0)
        return -1;
    char **list = calloc((size_t)n + 1, sizeof(*list));
    if (list == NULL)
        return cfg_oom(ctx);
    *slot = list;
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        path_index(sub, sizeof sub, path, (size_t)i);
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;
        const char *bad = s == NULL || *s == '\0' ||
                                  strlen(s) != json_string_length(e)
                              ? "a non-empty string without NUL"
                              : ok(s);
        if (bad != NULL)
            return cfg_expected(ctx, sub, e, "%s", bad);
        while (skip_lead != '\0' && *s == skip_lead)
            s++;
        if ((list[i] = strdup(s)) == NULL)
            return cfg_oom(ctx);
    }
    return 0;
}

static const char *location_ok(const char *s)
{
    return s[0] != '/' || strstr(s, "/../") != NULL ||
                   strstr(s, "/./") != NULL ||
                   (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0)
               ? "a path that starts with '/' (\"/static\"), without "
                 "\".\" or \"..\" segments"
               : NULL;
}

static const char *index_file_ok(const char *s)
{
    return strchr(s, '/') != NULL || strcmp(s, ".") == 0 ||
                   strcmp(s, "..") == 0
               ? "a file name (\"index.html\"), without '/'"
               : NULL;
}

static int parse_locations(cfg_ctx_t *ctx, const char *path, json_t *v,
                           void *slot)
{
    return parse_strings(ctx, path, v, slot, location_ok, '/');
}

static int parse_index_files(cfg_ctx_t *ctx, const char *path, json_t *v,
                             void *slot)
{
    return parse_strings(ctx, path, v, slot, index_file_ok, '\0');
}

/* real_ip_from: each entry an address or network (cidr.c). */
static int parse_real_ip_from(cfg_ctx_t *ctx, const char *path, json_t *v,
                              void *slot)
{
    cidr_list_t *list = slot;
    char sub[CFG_PATH_MAX];
    int n = json_is_array(v) ? (int)json_array_size(v) : 0;
    if (n == 0)
        return cfg_expected(ctx, path, v, "a non-empty array of addresses "
                            "or networks");
    list->v = calloc((size_t)n, sizeof(*list->v));
    if (list->v == NULL)
        return cfg_oom(ctx);
    list->n = (size_t)n;
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        const char *why = "a string";
        path_index(sub, sizeof sub, path, (size_t)i);
        if (!json_is_string(e) ||
            cidr_parse(json_string_value(e), &list->v[i], &why) < 0)
            return cfg_expected(ctx, sub, e, "%s", why);
    }
    return 0;
}

/* access_log_format: compiled here so that a bad variable is found by
 * swx-server -t, with its JSON path. */
static int parse_access_log_format(cfg_ctx_t *ctx, const char *path,
                                   json_t *v, void *slot)
{
    char why[200];
    access_fmt_t f;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return cfg_expected(ctx, path, v, "a non-empty string");
    if (access_fmt_compile(&f, json_string_value(v), why, sizeof(why)) < 0)
        return cfg_fail(ctx, path, "%s", why);
    access_fmt_free(&f);
    *(char **)slot = strdup(json_string_value(v));
    return *(char **)slot != NULL ? 0 : cfg_oom(ctx);
}

/* real_ip_header: a header name, and only with peers trusted to send it. */
static int listener_real_ip(cfg_ctx_t *ctx, const char *path, json_t *obj,
                            config_listener_t *l)
{
    char sub[CFG_PATH_MAX];
    const char *h = l->real_ip_header;
    path_key(sub, sizeof sub, path, "real_ip_header");
    if (h != NULL && l->real_ip_from.n == 0)
        return cfg_fail(ctx, sub, "needs real_ip_from, the peers trusted to "
                        "send it");
    for (size_t i = 0; h != NULL && h[i] != '\0'; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '_')
            return cfg_expected(ctx, sub, json_object_get(obj,
                                                          "real_ip_header"),
                                "a header name (\"X-Forwarded-For\")");
    if (h == NULL && l->real_ip_from.n > 0 &&
        (l->real_ip_header = strdup("X-Forwarded-For")) == NULL)
        return cfg_oom(ctx);
    return 0;
}

/* protocol "http" / "websocket": HTTP framing on a stream listener. */
static int listener_protocol(cfg_ctx_t *ctx, const char *path, json_t *obj,
                             config_listener_t *l)
{
    static const char *const http_keys[] = {
        "document_root", "static_handler_locations", "http_index_files",
        "http_autoindex",
        "http_request_timeout", "http_response_timeout",
        "http_max_head_size", "http_max_uri_size", "http_compression",
        "websocket_compression",
        "http_compression_level", "http_compression_min_length",
        "real_ip_from", "real_ip_header", "access_log", "access_log_format",
        "open_http2_protocol", "http2_header_table_size",
        "http2_init_window_size", "http2_max_concurrent_streams",
        "http2_max_frame_size", "http2_max_header_list_size",
    };
    char sub[CFG_PATH_MAX];
    const char *http_only = NULL;
    for (size_t i = 0; i < sizeof(http_keys) / sizeof(http_keys[0]); i++)
        if (http_only == NULL && json_object_get(obj, http_keys[i]) != NULL)
            http_only = http_keys[i];

    if (l->protocol == PROTOCOL_RAW) {
        if (http_only == NULL)
            return 0;
        path_key(sub, sizeof sub, path, http_only);
        return cfg_fail(ctx, sub, "only for protocol \"http\" or "
                        "\"websocket\"");
    }
    path_key(sub, sizeof sub, path, "protocol");
    if (config_listener_is_dgram(l->type))
        return cfg_fail(ctx, sub, "a datagram listener has no stream for "
                        "HTTP");
    if (l->open_eof_split || l->open_length_check)
        return cfg_fail(ctx, sub, "HTTP frames requests itself: drop "
                        "open_eof_split and open_length_check");
    if (l->http_max_uri_size > l->http_max_head_size) {
        path_key(sub, sizeof sub, path, "http_max_uri_size");
        return cfg_fail(ctx, sub, "%zu is over http_max_head_size (%zu): "
                        "the request line is part of the head",
                        l->http_max_uri_size, l->http_max_head_size);
    }
    if (listener_real_ip(ctx, path, obj, l) < 0)
        return -1;
    return l->document_root != NULL
               ? listener_document_root(ctx, path, obj, l) : 0;
}

/* ---- a listener's TLS ---- */

static const char *const ssl_protocol_names[] = {
    "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL,
};

static int ssl_protocol_bit(const char *name)
{
    for (int i = 0; ssl_protocol_names[i] != NULL; i++)
        if (strcmp(name, ssl_protocol_names[i]) == 0)
            return 1 << i;
    return 0;
}

/* ssl_protocols: ["TLSv1.2", "TLSv1.3"], or nginx's "TLSv1.2 TLSv1.3". */
static int parse_ssl_protocols(cfg_ctx_t *ctx, const char *path, json_t *v,
                               void *slot)
{
    static const char *want = "TLS versions: an array of \"TLSv1\", "
                              "\"TLSv1.1\", \"TLSv1.2\", \"TLSv1.3\" "
                              "(or one string of them)";
    char buf[128], *save = NULL;
    int bits = 0;
    if (json_is_string(v) && json_string_length(v) < sizeof(buf)) {
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
        for (char *t = strtok_r(buf, " ,", &save); t != NULL;
             t = strtok_r(NULL, " ,", &save)) {
            if (ssl_protocol_bit(t) == 0)
                return cfg_expected(ctx, path, v, "%s", want);
            bits |= ssl_protocol_bit(t);
        }
    }
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        int bit = json_is_string(e) ? ssl_protocol_bit(json_string_value(e))
                                    : 0;
        if (bit == 0)
            return cfg_expected(ctx, path, v, "%s", want);
        bits |= bit;
    }
    if (bits == 0)
        return cfg_expected(ctx, path, v, "%s", want);
    *(int *)slot = bits;
    return 0;
}

static const char *alpn_ok(const char *s)
{
    return strlen(s) > 255 ? "a protocol name of at most 255 bytes "
                             "(\"h2\", \"http/1.1\")" : NULL;
}

static int parse_ssl_alpn(cfg_ctx_t *ctx, const char *path, json_t *v,
                          void *slot)
{
    return parse_strings(ctx, path, v, slot, alpn_ok, '\0');
}

/* One server name of ssl_sni_certs: {"ssl_cert_file", "ssl_key_file"}. */
static int parse_sni_cert(cfg_ctx_t *ctx, const char *path, const char *name,
                          json_t *v, config_sni_t *e)
{
    static const char *const keys[] = {"ssl_cert_file", "ssl_key_file"};
    char sub[CFG_PATH_MAX];
    char **dst[] = {&e->cert_file, &e->key_file};
    if ((e->name = strdup(name)) == NULL)
        return cfg_oom(ctx);
    for (char *p = e->name; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!json_is_object(v) || json_object_size(v) != 2)
        return cfg_expected(ctx, path, v, "an object with ssl_cert_file and "
                            "ssl_key_file");
    for (int i = 0; i < 2; i++) {
        json_t *f = json_object_get(v, keys[i]);
        path_key(sub, sizeof sub, path, keys[i]);
        if (!json_is_string(f) || json_string_length(f) == 0)
            return cfg_expected(ctx, sub, f != NULL ? f : v,
                                "a file name (a non-empty string)");
        *dst[i] = resolve_path(ctx->cfg->path, json_string_value(f));
        if (*dst[i] == NULL)
            return cfg_oom(ctx);
    }
    return 0;
}

/* ssl_sni_certs: {"host.example": {"ssl_cert_file", "ssl_key_file"}}, as
 * Swoole has it. The count is stored beside the list. */
static int parse_ssl_sni_certs(cfg_ctx_t *ctx, const char *path, json_t *v,
                               void *slot)
{
    config_listener_t *l = (config_listener_t *)((char *)slot -
                                                 LSN(ssl_sni_certs));
    char sub[CFG_PATH_MAX];
    const char *name;
    json_t *e;
    if (!json_is_object(v) || json_object_size(v) == 0)
        return cfg_expected(ctx, path, v, "an object of server names, each "
                            "{\"ssl_cert_file\", \"ssl_key_file\"}");
    l->ssl_sni_certs = calloc(json_object_size(v), sizeof(config_sni_t));
    if (l->ssl_sni_certs == NULL)
        return cfg_oom(ctx);
    json_object_foreach(v, name, e) {
        path_key(sub, sizeof sub, path, name);
        if (parse_sni_cert(ctx, sub, name, e,
                           &l->ssl_sni_certs[l->ssl_nsni_certs++]) < 0)
            return -1;
    }
    return 0;
}

/* A TLS key other than the two files, set without them. */
static const char *listener_ssl_stray(json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (strncmp(key, "ssl_", 4) == 0 &&
            strcmp(key, "ssl_cert_file") != 0 &&
            strcmp(key, "ssl_key_file") != 0)
            return key;
    }
    return NULL;
}

/* The two files, resolved against the config's directory. */
static int listener_ssl_files(cfg_ctx_t *ctx, config_listener_t *l)
{
    char **f[] = {&l->ssl_cert_file, &l->ssl_key_file,
                  &l->ssl_client_cert_file};
    for (size_t i = 0; i < NELEM(f); i++) {
        if (*f[i] == NULL)
            continue;
        char *r = resolve_path(ctx->cfg->path, *f[i]);
        if (r == NULL)
            return cfg_oom(ctx);
        free(*f[i]);
        *f[i] = r;
    }
    return 0;
}

/* ssl_*: both files or neither, on a stream listener; mutual TLS needs
 * the CAs to check clients against. */
static int listener_ssl(cfg_ctx_t *ctx, const char *path, json_t *obj,
                        config_listener_t *l)
{
    char sub[CFG_PATH_MAX];
    const char *stray = listener_ssl_stray(obj);
    if (l->ssl_cert_file == NULL && l->ssl_key_file == NULL) {
        if (stray == NULL)
            return 0;
        path_key(sub, sizeof sub, path, stray);
        return cfg_fail(ctx, sub, "needs ssl_cert_file and ssl_key_file");
    }
    path_key(sub, sizeof sub, path, l->ssl_cert_file == NULL
                                        ? "ssl_cert_file" : "ssl_key_file");
    if (l->ssl_cert_file == NULL || l->ssl_key_file == NULL)
        return cfg_fail(ctx, sub, "required with %s", l->ssl_cert_file == NULL
                        ? "ssl_key_file" : "ssl_cert_file");
    path_key(sub, sizeof sub, path, "ssl_cert_file");
    if (config_listener_is_dgram(l->type))
        return cfg_fail(ctx, sub, "a datagram listener has no stream for "
                        "TLS");
    if (l->ssl_protocols == 0)
        l->ssl_protocols = CONFIG_TLSV1_2 | CONFIG_TLSV1_3;
    path_key(sub, sizeof sub, path, "ssl_verify_peer");
    if (l->ssl_verify_peer && l->ssl_client_cert_file == NULL)
        return cfg_fail(ctx, sub, "needs ssl_client_cert_file, the CAs "
                        "that client certificates chain to");
    return listener_ssl_files(ctx, l);
}

/* Same type, port and address (compared as binary, so "::1" equals
 * "0::1"). Both hosts were validated already. */
static bool listener_same(const config_listener_t *a,
                          const config_listener_t *b)
{
    unsigned char x[sizeof(struct in6_addr)] = { 0 };
    unsigned char y[sizeof(struct in6_addr)] = { 0 };

    if (a->type != b->type || a->port != b->port)
        return false;
    if (listener_family(a) == AF_UNIX)
        return strcmp(a->path, b->path) == 0;
    inet_pton(listener_family(a), a->host, x);
    inet_pton(listener_family(b), b->host, y);
    return memcmp(x, y, sizeof x) == 0;
}

static int check_listener_unique(cfg_ctx_t *ctx, const char *path, int i)
{
    const config_listener_t *ls = ctx->cfg->listeners;

    for (int j = 0; j < i; j++) {
        if (listener_same(&ls[j], &ls[i]))
            return cfg_fail(ctx, path,
                            "duplicate listener: type \"%s\", %s \"%s\", "
                            "port %d is already used by listeners[%d]",
                            listener_types[ls[i].type],
                            ls[i].path ? "path" : "host",
                            ls[i].path ? ls[i].path : ls[i].host, ls[i].port,
                            j);
    }
    return 0;
}

static int parse_listener(cfg_ctx_t *ctx, const char *path, json_t *v, int i)
{
    config_listener_t *l = &ctx->cfg->listeners[i];

    if (!json_is_object(v))
        return cfg_expected(ctx, path, v, "an object");
    apply_defaults(listener_fields, NELEM(listener_fields), l);
    if (fields_apply(ctx, path, v, listener_fields, NELEM(listener_fields),
                     l) < 0 ||
        listener_address(ctx, path, v, l) < 0 ||
        listener_framing(ctx, path, v, l) < 0 ||
        listener_protocol(ctx, path, v, l) < 0 ||
        listener_ssl(ctx, path, v, l) < 0)
        return -1;
    /* "server" is parsed before "listeners" (top_fields' order). */
    if (l->max_execution_time < 0)
        l->max_execution_time = ctx->cfg->max_execution_time;
    if (l->request_slowlog_timeout < 0)
        l->request_slowlog_timeout = ctx->cfg->request_slowlog_timeout;
    if (l->proxy_protocol && config_listener_is_dgram(l->type)) {
        char sub[CFG_PATH_MAX];
        path_key(sub, sizeof sub, path, "proxy_protocol");
        return cfg_fail(ctx, sub, "a datagram listener has no stream to "
                        "start with a PROXY header");
    }
    return check_listener_unique(ctx, path, i);
}

static int parse_listeners(cfg_ctx_t *ctx, const char *path, json_t *v,
                           void *slot)
{
    config_t *cfg = ctx->cfg;
    char sub[CFG_PATH_MAX];
    int n = array_length(ctx, path, v);

    (void)slot;
    if (n < 0)
        return -1;
    cfg->listeners = calloc((size_t)n, sizeof *cfg->listeners);
    if (cfg->listeners == NULL)
        return cfg_oom(ctx);
    cfg->nlisteners = n;
    for (int i = 0; i < n; i++) {
        path_index(sub, sizeof sub, path, (size_t)i);
        if (parse_listener(ctx, sub, json_array_get(v, (size_t)i), i) < 0)
            return -1;
    }
    return 0;
}

/* ---- "server.task_ipc_mode" ---- */

/* Swoole's 1 (a socket per task worker) or 3 (one queue they compete for);
 * 2 is a message-queue variant of 1 that swx does not have. */
static int parse_task_ipc_mode(cfg_ctx_t *ctx, const char *path, json_t *v,
                               void *slot)
{
    if (!json_is_integer(v) ||
        (json_integer_value(v) != 1 && json_integer_value(v) != 3))
        return cfg_expected(ctx, path, v, "1 or 3");
    *(int *)slot = (int)json_integer_value(v);
    return 0;
}

/* dns_server: Swoole's "host[:port]", or several separated by commas. */
static int parse_dns_server(cfg_ctx_t *ctx, const char *path, json_t *v,
                            void *slot)
{
    dns_server_t s[DNS_SERVERS_MAX];
    char why[128];
    if (!json_is_string(v))
        return cfg_expected(ctx, path, v, "a string \"host[:port]\"");
    if (dns_servers_parse(json_string_value(v), s, DNS_SERVERS_MAX, why,
                          sizeof(why)) < 0)
        return cfg_fail(ctx, path, "expected numeric \"host[:port]\" "
                        "addresses separated by commas (at most %d): %s",
                        DNS_SERVERS_MAX, why);
    *(char **)slot = strdup(json_string_value(v));
    return *(char **)slot != NULL ? 0 : cfg_fail(ctx, path, "out of memory");
}

/* ---- "tables" ---- */

static const char *const column_types[] = { "int", "float", "string", NULL };

#define TBL(m) offsetof(config_table_t, m)
#define COL(m) offsetof(config_column_t, m)

static int parse_columns(cfg_ctx_t *ctx, const char *path, json_t *v,
                         void *slot);

static const cfg_field_t table_fields[] = {
    { "name", CFG_STRING, CFG_REQUIRED, 0, 0, 0, TBL(name), NULL, NULL },
    { "size", CFG_INT, CFG_REQUIRED, 1, 1 << 30, 0, TBL(size), NULL, NULL },
    { "columns", CFG_CUSTOM, CFG_REQUIRED, 0, 0, 0, TBL(columns), NULL,
      parse_columns },
};

static const cfg_field_t column_fields[] = {
    { "name", CFG_STRING, CFG_REQUIRED, 0, 0, 0, COL(name), NULL, NULL },
    { "type", CFG_ENUM, CFG_REQUIRED, 0, 0, 0, COL(type), column_types, NULL },
    { "size", CFG_INT, 0, 1, 1 << 20, 0, COL(size), NULL, NULL },
};

static int parse_column(cfg_ctx_t *ctx, const char *path, json_t *v,
                        config_table_t *t, int i)
{
    config_column_t *c = &t->columns[i];
    char sub[CFG_PATH_MAX];
    if (!json_is_object(v))
        return cfg_expected(ctx, path, v, "an object");
    if (fields_apply(ctx, path, v, column_fields, NELEM(column_fields), c) < 0)
        return -1;
    path_key(sub, sizeof sub, path, "size");
    if (c->type == COLUMN_STRING && c->size == 0)
        return cfg_fail(ctx, sub, "required key is missing (the longest "
                        "string the column holds, in bytes)");
    if (c->type != COLUMN_STRING && c->size != 0)
        return cfg_fail(ctx, sub, "only string columns have a size");
    path_key(sub, sizeof sub, path, "name");
    if (strlen(c->name) > TABLE_NAME_MAX)
        return cfg_expected(ctx, sub, json_object_get(v, "name"),
                            "a column name of at most %d bytes",
                            TABLE_NAME_MAX);
    for (int j = 0; j < i; j++)
        if (strcmp(t->columns[j].name, c->name) == 0)
            return cfg_expected(ctx, sub, json_object_get(v, "name"),
                                "a name not used by columns[%d]", j);
    return 0;
}

/* slot is the table's columns member. */
static int parse_columns(cfg_ctx_t *ctx, const char *path, json_t *v,
                         void *slot)
{
    config_table_t *t = (config_table_t *)((char *)slot - TBL(columns));
    char sub[CFG_PATH_MAX];
    int n = array_length(ctx, path, v);
    if (n < 0)
        return -1;
    if (n > TABLE_MAX_COLUMNS)
        return cfg_expected(ctx, path, v, "at most %d columns",
                            TABLE_MAX_COLUMNS);
    t->columns = calloc((size_t)n, sizeof(config_column_t));
    if (t->columns == NULL)
        return cfg_oom(ctx);
    t->ncolumns = n;
    for (int i = 0; i < n; i++) {
        path_index(sub, sizeof sub, path, (size_t)i);
        if (parse_column(ctx, sub, json_array_get(v, (size_t)i), t, i) < 0)
            return -1;
    }
    return 0;
}

/*
 * An optional array of objects validated by fields into a calloc'd array of
 * item_size elements, whose first member is a name unique among them.
 */
static int parse_named_array(cfg_ctx_t *ctx, const char *path, json_t *v,
                             const cfg_field_t *fields, size_t nfields,
                             size_t item_size, void **items, int *count)
{
    char sub[CFG_PATH_MAX], key[CFG_PATH_MAX];
    int n = array_length(ctx, path, v);
    if (n < 0)
        return -1;
    char *arr = calloc((size_t)n, item_size);
    if (arr == NULL)
        return cfg_oom(ctx);
    *items = arr;
    *count = n;
    for (int i = 0; i < n; i++) {
        json_t *o = json_array_get(v, (size_t)i);
        char *item = arr + (size_t)i * item_size;
        path_index(sub, sizeof sub, path, (size_t)i);
        if (!json_is_object(o))
            return cfg_expected(ctx, sub, o, "an object");
        apply_defaults(fields, nfields, item);
        if (fields_apply(ctx, sub, o, fields, nfields, item) < 0)
            return -1;
        for (int j = 0; j < i; j++) {
            if (strcmp(*(char **)(arr + (size_t)j * item_size),
                       *(char **)item) != 0)
                continue;
            path_key(key, sizeof key, sub, "name");
            return cfg_expected(ctx, key, json_object_get(o, "name"),
                                "a name not used by %s[%d]", path, j);
        }
    }
    return 0;
}

static int parse_tables(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot)
{
    (void)slot;
    return parse_named_array(ctx, path, v, table_fields, NELEM(table_fields),
                             sizeof(config_table_t), (void **)&ctx->cfg->tables,
                             &ctx->cfg->ntables);
}

/* ---- "processes" ---- */

#define PRC(m) offsetof(config_process_t, m)

static const cfg_field_t process_fields[] = {
    { "name", CFG_STRING, CFG_REQUIRED, 0, 0, 0, PRC(name), NULL, NULL },
    { "plugin", CFG_CUSTOM, CFG_REQUIRED, 0, 0, 0, PRC(plugin), NULL,
      parse_plugin_ref },
    { "count", CFG_INT, 0, 1, 256, 1, PRC(count), NULL, NULL },
};

static int parse_processes(cfg_ctx_t *ctx, const char *path, json_t *v,
                           void *slot)
{
    (void)slot;
    return parse_named_array(ctx, path, v, process_fields,
                             NELEM(process_fields), sizeof(config_process_t),
                             (void **)&ctx->cfg->processes,
                             &ctx->cfg->nprocesses);
}

/* ---- "admin" ---- */

#define ADM(m) offsetof(config_admin_t, m)

static const cfg_field_t admin_fields[] = {
    { "unix", CFG_STRING, 0, 0, 0, 0, ADM(unix_path), NULL, NULL },
    { "host", CFG_STRING, 0, 0, 0, 0, ADM(host), NULL, NULL },
    { "port", CFG_INT, 0, 1, 65535, 0, ADM(port), NULL, NULL },
    { "allow_public", CFG_BOOL, 0, 0, 0, 0, ADM(allow_public), NULL, NULL },
    { "mode", CFG_CUSTOM, 0, 0, 0, 0, ADM(mode), NULL, parse_admin_mode },
    { "idle_timeout", CFG_INT, 0, 1, 3600, 10, ADM(idle_timeout), NULL, NULL },
    { "token", CFG_CUSTOM, 0, 0, 0, 0, ADM(token), NULL, parse_admin_token },
};

/* RFC 6750's b64token, without its rule that '=' only ends it. */
#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
                    "0123456789-._~+/="
#define TOKEN_MAX 1024

/* The bearer token; a secret, so no message shows the value. */
static int parse_admin_token(cfg_ctx_t *ctx, const char *path, json_t *v,
                             void *slot)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t n = json_is_string(v) ? json_string_length(v) : 0;

    if (n == 0 || n > TOKEN_MAX || strspn(s, TOKEN_CHARS) != n)
        return cfg_fail(ctx, path, "expected a string of 1 to %d of the "
                        "characters A-Z a-z 0-9 - . _ ~ + / = (the value "
                        "found is not shown)", TOKEN_MAX);
    if ((*(char **)slot = strdup(s)) == NULL)
        return cfg_oom(ctx);
    return 0;
}

/* The value of 1 to 4 octal digits, or -1. */
static long octal_value(const char *s)
{
    size_t n = strlen(s);
    long v = 0;

    if (n == 0 || n > 4 || strspn(s, "01234567") != n)
        return -1;
    for (; *s != '\0'; s++)
        v = v * 8 + (*s - '0');
    return v;
}

/* The Unix socket's mode: octal digits in a string ("0600"), or an
 * integer (384), at most 0777. */
static int parse_admin_mode(cfg_ctx_t *ctx, const char *path, json_t *v,
                            void *slot)
{
    long mode = -1;

    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= 0777)
        mode = (long)json_integer_value(v);
    else if (json_is_string(v) && strlen(json_string_value(v)) ==
                                      json_string_length(v))
        mode = octal_value(json_string_value(v));
    if (mode < 0 || mode > 0777)
        return cfg_expected(ctx, path, v, "a file mode from \"0000\" to "
                            "\"0777\" (octal digits in a string) or an "
                            "integer from 0 to 511");
    *(int *)slot = (int)mode;
    return 0;
}

static bool host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The admin endpoint: a Unix socket, or a loopback port unless told. */
static int parse_admin(cfg_ctx_t *ctx, const char *path, json_t *v, void *slot)
{
    config_admin_t *a = &ctx->cfg->admin;
    char sub[CFG_PATH_MAX];
    unsigned char addr[sizeof(struct in6_addr)];

    (void)slot;
    if (!json_is_object(v))
        return cfg_expected(ctx, path, v, "an object");
    apply_defaults(admin_fields, NELEM(admin_fields), a);
    a->mode = 0600;
    if (fields_apply(ctx, path, v, admin_fields, NELEM(admin_fields), a) < 0)
        return -1;
    /* Not cfg_expected: the object shown would show the token. */
    if ((a->unix_path != NULL) == (a->port != 0))
        return cfg_fail(ctx, path, "expected either \"unix\" (a socket "
                        "path) or \"port\" (with an optional \"host\"), "
                        "found %s", a->port != 0 ? "both" : "neither");
    a->enabled = 1;
    if (a->unix_path != NULL)
        return 0;
    if (json_object_get(v, "mode") != NULL) {
        path_key(sub, sizeof sub, path, "mode");
        return cfg_fail(ctx, sub, "only the Unix socket (\"unix\") takes a "
                        "mode");
    }
    if (a->host == NULL && (a->host = strdup("127.0.0.1")) == NULL)
        return cfg_oom(ctx);
    path_key(sub, sizeof sub, path, "host");
    if (inet_pton(AF_INET, a->host, addr) != 1 &&
        inet_pton(AF_INET6, a->host, addr) != 1)
        return cfg_expected(ctx, sub, json_object_get(v, "host"),
                            "a numeric IPv4 or IPv6 address");
    if (!a->allow_public && !host_is_loopback(a->host))
        return cfg_expected(ctx, sub, json_object_get(v, "host"),
                            "a loopback address (set admin.allow_public to "
                            "bind another)");
    path_key(sub, sizeof sub, path, "token");
    if (a->token == NULL)
        return cfg_fail(ctx, sub, "required when the endpoint listens on a "
                        "TCP port: every request must then carry "
                        "\"Authorization: Bearer TOKEN\"");
    return 0;
}

/* ---- loading ---- */

static int syntax_error(cfg_ctx_t *ctx, const json_error_t *jerr)
{
    if (jerr->line > 0)
        write_err(ctx->err, ctx->errlen, "%s:%d:%d: %s", ctx->file,
                  jerr->line, jerr->column, jerr->text);
    else
        write_err(ctx->err, ctx->errlen, "%s: %s", ctx->file, jerr->text);
    return -1;
}

/* Swoole's default grace when none is given: half of max_request, once
 * that is above 10 (SW_WORKER_MIN_REQUEST). */
static long default_grace(long grace, long max_request)
{
    if (grace >= 0)
        return grace;
    return max_request > 10 ? max_request / 2 : 0;
}

/* send_yield's marks: under buffer_output_size, the low under the high. */
static int check_watermarks(cfg_ctx_t *ctx, config_t *c)
{
    if (c->buffer_high_watermark == 0)
        c->buffer_high_watermark = c->buffer_output_size / 2;
    if (c->buffer_high_watermark >= c->buffer_output_size)
        return cfg_fail(ctx, "server.buffer_high_watermark",
                        "must be less than buffer_output_size (%zu)",
                        c->buffer_output_size);
    if (c->buffer_low_watermark >= c->buffer_high_watermark)
        return cfg_fail(ctx, "server.buffer_low_watermark",
                        "must be less than buffer_high_watermark (%zu)",
                        c->buffer_high_watermark);
    return 0;
}

/* The file pool keeps at most the threads it may start. */
static int check_aio(cfg_ctx_t *ctx, const config_t *c)
{
    if (c->aio_core_worker_num > c->aio_worker_num)
        return cfg_fail(ctx, "server.aio_core_worker_num",
                        "expected at most server.aio_worker_num (%d), "
                        "found %d", c->aio_worker_num,
                        c->aio_core_worker_num);
    return 0;
}

static int parse_root(cfg_ctx_t *ctx, json_t *root)
{
    if (!json_is_object(root))
        return cfg_expected(ctx, "", root, "an object");
    apply_defaults(server_fields, NELEM(server_fields), ctx->cfg);
    ctx->cfg->task_ipc_mode = 1;
    if (fields_apply(ctx, "", root, top_fields, NELEM(top_fields), ctx->cfg) < 0)
        return -1;
    config_t *c = ctx->cfg;
    if (c->heartbeat_idle_time > 0 && c->heartbeat_check_interval == 0)
        return cfg_fail(ctx, "server.heartbeat_idle_time",
                        "needs server.heartbeat_check_interval as well");
    if (c->heartbeat_check_interval > 0 && c->heartbeat_idle_time == 0)
        c->heartbeat_idle_time = 2 * c->heartbeat_check_interval;
    c->max_request_grace = default_grace(c->max_request_grace,
                                         c->max_request);
    c->task_max_request_grace = default_grace(c->task_max_request_grace,
                                              c->task_max_request);
    /* A session id names its worker in 8 bits (core/session.h). */
    if (c->mode == SERVER_MODE_BASE && c->worker_num > SESSION_MAX_REACTORS)
        return cfg_fail(ctx, "server.worker_num",
                        "at most 256 with server.mode \"base\"");
    /* The workers own the connections: no reactor thread, no channel. */
    if (c->mode == SERVER_MODE_BASE)
        c->reactor_num = 0;
    if (check_watermarks(ctx, c) < 0 || check_aio(ctx, c) < 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0 && c->coroutine_stack_size % (size_t)page != 0)
        return cfg_fail(ctx, "server.coroutine_stack_size",
                        "must be a multiple of the page size (%ld bytes)",
                        page);
    return 0;
}

/* Both entry points end here: buf holds len bytes of JSON. */
static int parse_buffer(const char *buf, size_t len, const char *path,
                        config_t *out, char *err, size_t errlen)
{
    cfg_ctx_t ctx = { path != NULL ? path : "<string>", err, errlen, out };
    json_error_t jerr;
    json_t *root;
    int rc;

    write_err(err, errlen, "%s", "");
    root = json_loadb(buf, len, CFG_JSON_FLAGS, &jerr);
    if (root == NULL)
        return syntax_error(&ctx, &jerr);
    if (path != NULL && (out->path = strdup(path)) == NULL)
        rc = cfg_oom(&ctx);
    else
        rc = parse_root(&ctx, root);
    json_decref(root);
    if (rc < 0)
        config_free(out);
    return rc;
}

/* Doubles *cap (from 4 KiB), up to CFG_FILE_MAX; errno set on failure. */
static int grow(char **buf, size_t *cap)
{
    size_t size = *cap == 0 ? 4096 : *cap * 2;
    char *p;

    if (*cap >= CFG_FILE_MAX) {
        errno = EFBIG;
        return -1;
    }
    p = realloc(*buf, size);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = size;
    return 0;
}

/* Reads fd to the end into a malloc'd buffer; errno set on failure. */
static int read_all(int fd, char **bufp, size_t *lenp)
{
    size_t cap = 0, len = 0;
    char *buf = NULL;
    ssize_t n;
    int saved;

    for (;;) {
        if (len == cap && grow(&buf, &cap) < 0)
            goto fail;
        n = read(fd, buf + len, cap - len);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            goto fail;
        len += n > 0 ? (size_t)n : 0;
    }
    *bufp = buf;
    *lenp = len;
    return 0;
fail:
    saved = errno;
    free(buf);
    errno = saved;
    return -1;
}

static int read_file(const char *path, char **bufp, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc, saved;

    if (fd < 0)
        return -1;
    rc = read_all(fd, bufp, lenp);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- public ---- */

int config_load(const char *path, config_t *out, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (path == NULL) {
        write_err(err, errlen, "no config file given");
        return -1;
    }
    if (read_file(path, &buf, &len) < 0) {
        write_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    rc = parse_buffer(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

int config_parse(const char *text, const char *path, config_t *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (text == NULL) {
        write_err(err, errlen, "%s: no config text given",
                  path != NULL ? path : "<string>");
        return -1;
    }
    return parse_buffer(text, strlen(text), path, out, err, errlen);
}

static void config_free_strings(char **list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        free(list[i]);
    free(list);
}

static void config_free_tls(config_listener_t *l)
{
    free(l->ssl_cert_file);
    free(l->ssl_key_file);
    free(l->ssl_ciphers);
    free(l->ssl_ecdh_curve);
    free(l->ssl_client_cert_file);
    config_free_strings(l->ssl_alpn);
    for (int i = 0; l->ssl_sni_certs != NULL && i < l->ssl_nsni_certs; i++) {
        free(l->ssl_sni_certs[i].name);
        free(l->ssl_sni_certs[i].cert_file);
        free(l->ssl_sni_certs[i].key_file);
    }
    free(l->ssl_sni_certs);
}

void config_free(config_t *cfg)
{
    if (cfg == NULL)
        return;
    for (int i = 0; cfg->plugins != NULL && i < cfg->nplugins; i++) {
        free(cfg->plugins[i].name);
        free(cfg->plugins[i].path);
        free(cfg->plugins[i].resolved);
        free(cfg->plugins[i].config_json);
    }
    for (int i = 0; cfg->listeners != NULL && i < cfg->nlisteners; i++) {
        free(cfg->listeners[i].host);
        free(cfg->listeners[i].path);
        free(cfg->listeners[i].package_eof);
        free(cfg->listeners[i].package_length_type);
        free(cfg->listeners[i].document_root);
        free(cfg->listeners[i].real_ip_from.v);
        free(cfg->listeners[i].real_ip_header);
        free(cfg->listeners[i].access_log);
        free(cfg->listeners[i].access_log_format);
        config_free_strings(cfg->listeners[i].static_handler_locations);
        config_free_strings(cfg->listeners[i].http_index_files);
        config_free_tls(&cfg->listeners[i]);
    }
    free(cfg->plugins);
    free(cfg->listeners);
    free(cfg->path);
    free(cfg->log_file);
    free(cfg->access_log);
    free(cfg->access_log_format);
    free(cfg->pid_file);
    free(cfg->user);
    free(cfg->group);
    free(cfg->request_slowlog_file);
    free(cfg->dns_server);
    free(cfg->admin.unix_path);
    free(cfg->admin.host);
    free(cfg->admin.token);
    for (int i = 0; cfg->tables != NULL && i < cfg->ntables; i++) {
        for (int j = 0; cfg->tables[i].columns != NULL &&
                        j < cfg->tables[i].ncolumns; j++)
            free(cfg->tables[i].columns[j].name);
        free(cfg->tables[i].columns);
        free(cfg->tables[i].name);
    }
    free(cfg->tables);
    for (int i = 0; cfg->processes != NULL && i < cfg->nprocesses; i++)
        free(cfg->processes[i].name);
    free(cfg->processes);
    memset(cfg, 0, sizeof *cfg);
}
