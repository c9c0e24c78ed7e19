/* config.h: the server's configuration, parsed and validated from JSON. */
#ifndef SWX_CONFIG_H
#define SWX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/cidr.h"
#include "protocol/framer.h"
#include "protocol/http_parser.h"

enum config_listener_type {
    LISTENER_TCP = 0,        /* IPv4 */
    LISTENER_TCP6 = 1,
    LISTENER_UDP = 2,
    LISTENER_UDP6 = 3,
    LISTENER_UNIX = 4,       /* a stream socket at path */
    LISTENER_UNIX_DGRAM = 5,
};

/* What a stream listener speaks: bytes (framed or not), HTTP/1.1, or
 * HTTP/1.1 with WebSocket upgrades. */
enum config_listener_protocol {
    PROTOCOL_RAW = 0,
    PROTOCOL_HTTP = 1,
    PROTOCOL_WEBSOCKET = 2,
};

/* Datagram listeners: no connections, on_packet and swx_sendto. */
static inline int config_listener_is_dgram(int type)
{
    return type == LISTENER_UDP || type == LISTENER_UDP6 ||
           type == LISTENER_UNIX_DGRAM;
}

typedef struct config_plugin {
    char *name;        /* unique among plugins */
    char *path;        /* as written in the config */
    char *resolved;    /* relative paths resolved against the config's dir */
    char *config_json; /* the entry's "config" object as compact JSON, "{}" */
} config_plugin_t;

/* ssl_protocols: the TLS versions a listener offers. */
enum config_tls_version {
    CONFIG_TLSV1 = 1,
    CONFIG_TLSV1_1 = 2,
    CONFIG_TLSV1_2 = 4,
    CONFIG_TLSV1_3 = 8,
};

/* One entry of ssl_sni_certs: the certificate for one server name. */
typedef struct config_sni {
    char *name;        /* as the client sends it, lower case */
    char *cert_file;   /* resolved like plugin paths */
    char *key_file;
} config_sni_t;

typedef struct config_listener {
    int type;          /* enum config_listener_type */
    char *host;        /* numeric address (inet types) */
    int port;          /* 1..65535 (inet types) */
    char *path;        /* unix types */
    int plugin;        /* index into config_t.plugins */
    framer_cfg_t framer; /* how a stream is cut into messages */
    /* As written, for building framer: */
    int open_eof_split;
    char *package_eof;
    int open_length_check;
    char *package_length_type;
    int package_length_offset;
    int package_body_offset;
    size_t package_max_length;
    int protocol;        /* enum config_listener_protocol */
    char *document_root; /* static files (http, websocket): absolute, real */
    char **static_handler_locations; /* NULL-terminated path prefixes
                                        without the leading '/'; NULL: all */
    char **http_index_files; /* NULL-terminated; NULL: "index.html" */
    int http_autoindex;      /* list a directory that has no index file */
    int http_request_timeout; /* seconds to receive a whole request */
    int http_response_timeout; /* seconds a worker may stay silent; 0 none */
    size_t http_max_head_size; /* request line + fields, bytes */
    size_t http_max_uri_size;  /* request target, bytes */
    int http_compression;       /* gzip/deflate whole responses */
    int websocket_compression;  /* permessage-deflate when offered */
    int http_compression_level; /* zlib's 1..9 */
    size_t http_compression_min_length; /* smaller bodies go as they are */
    int proxy_protocol;     /* each connection starts with a PROXY header */
    cidr_list_t real_ip_from; /* peers trusted to name the client */
    char *real_ip_header;   /* the header that names it (http, websocket);
                               "X-Forwarded-For" when real_ip_from is set */

    /* The access log (http/access_log.h): the server's unless set here. */
    char *access_log;        /* a path or "off"; NULL: the server's */
    char *access_log_format; /* NULL: the server's */

    /* TLS (net/tls.h): on when ssl_cert_file is set (with ssl_key_file);
     * paths are resolved like plugin paths. */
    char *ssl_cert_file;
    char *ssl_key_file;
    int ssl_protocols;        /* enum config_tls_version bits; 1.2 + 1.3 */
    char *ssl_ciphers;        /* TLS 1.2 cipher list; NULL: forward-secret
                                 AEAD ciphers only */
    char *ssl_ecdh_curve;     /* key exchange groups; NULL: OpenSSL's */
    int ssl_prefer_server_ciphers;
    config_sni_t *ssl_sni_certs;
    int ssl_nsni_certs;
    int ssl_verify_peer;      /* mutual TLS: a client certificate is required */
    char *ssl_client_cert_file; /* CAs that client certificates chain to */
    int ssl_verify_depth;
    char **ssl_alpn;          /* NULL-terminated; NULL: tls_alpn_default */
    int ssl_handshake_timeout; /* seconds, default 10 */
    /* The server's, unless the listener sets its own: for the callbacks
     * of its events. Seconds, 0 = off. */
    int max_execution_time;
    int request_slowlog_timeout;

    /* HTTP/2 (protocol/http2_conn.c), with Swoole's names and defaults. */
    int open_http2_protocol;          /* h2c by prior knowledge and Upgrade */
    size_t http2_header_table_size;   /* HPACK dynamic table, bytes */
    size_t http2_init_window_size;    /* per stream, bytes we take unread */
    int http2_max_concurrent_streams; /* streams open at once */
    size_t http2_max_frame_size;      /* largest frame payload we take */
    size_t http2_max_header_list_size; /* decoded header list, bytes */
} config_listener_t;

enum config_column_type {
    COLUMN_INT = 0,   /* int64 */
    COLUMN_FLOAT = 1, /* double */
    COLUMN_STRING = 2,
};

typedef struct config_column {
    char *name;
    int type;          /* enum config_column_type */
    int size;          /* string columns: the longest value, bytes */
} config_column_t;

/* A shared-memory table (Swoole\Table), created before any fork. */
typedef struct config_table {
    char *name;
    int size;          /* rows */
    config_column_t *columns;
    int ncolumns;
} config_table_t;

/* A long-running process of a plugin's (Swoole's addProcess). */
typedef struct config_process {
    char *name;
    int plugin;        /* index into config_t.plugins */
    int count;
} config_process_t;

typedef struct config_admin {
    int enabled;
    char *unix_path;   /* a Unix socket, or NULL for host/port */
    char *host;        /* numeric; loopback unless allow_public */
    int port;
    int allow_public;
    int mode;          /* the Unix socket's permissions, default 0600 */
    int idle_timeout;  /* seconds a connection may stay silent */
    char *token;       /* bearer token every request must carry, or NULL */
} config_admin_t;

/* server.mode: who owns the connections. */
enum config_server_mode {
    SERVER_MODE_PROCESS, /* reactor threads in the master */
    SERVER_MODE_BASE,    /* each worker, the ones it accepted */
};

/* server.sched_policy: how Linux schedules the event loops. */
enum config_sched_policy {
    SCHED_POLICY_OTHER, /* SCHED_OTHER: a woken loop may preempt */
    SCHED_POLICY_BATCH, /* SCHED_BATCH: it waits for the running task */
};

typedef struct config {
    char *path;        /* the file this came from */

    /* "server" */
    int reactor_num;        /* default: number of CPUs */
    int worker_num;         /* default: number of CPUs */
    long max_request;       /* 0 = never recycle */
    int dispatch_mode;      /* 1 round robin, 2 fixed (default), 3 preemptive */
    int backlog;            /* listen(2) backlog, default 511 */
    int max_conn;           /* concurrent connections, default 10000 */
    size_t buffer_output_size; /* per-connection output cap, default 2 MiB */
    int log_level;          /* enum swx_log_level, default info */
    char *log_file;         /* NULL = stderr */
    int max_wait_time;      /* seconds a stopping worker gets, default 3 */
    int reload_async;       /* replace workers all at once (default 1) */
    int daemonize;          /* detach from the terminal (default 0) */
    char *pid_file;         /* NULL = none */
    char *user;             /* workers drop to this user, NULL = stay */
    char *group;
    int heartbeat_check_interval; /* seconds, 0 = off */
    int heartbeat_idle_time;      /* seconds, default 2 x interval */
    int send_timeout;             /* seconds output may not move; 0 = off */
    int enable_reuse_port;  /* SO_REUSEPORT on listeners (default 0) */
    int open_tcp_nodelay;   /* TCP_NODELAY on connections (default 1) */
    int open_tcp_keepalive; /* SO_KEEPALIVE on TCP connections */
    int tcp_keepidle;       /* seconds idle before the first probe */
    int tcp_keepinterval;   /* seconds between probes */
    int tcp_keepcount;      /* unanswered probes before the reset */
    int tcp_defer_accept;   /* seconds; TCP_DEFER_ACCEPT, 0 off */
    int open_cpu_affinity;  /* reactors and workers pinned to one CPU */
    int sched_policy;       /* enum config_sched_policy, default other */

    int task_worker_num;    /* default 0 */
    long task_max_request;  /* 0 = never recycle */
    int task_ipc_mode;      /* 1 a socket per task worker, 3 a shared queue */
    size_t task_max_size;   /* largest task or result, default 8 MiB */

    /* the stop behind a load balancer */
    int shutdown_delay;     /* seconds still served after SIGTERM; 0 off */
    /* "server": memory and overload guards */
    long reload_on_rss;     /* MiB resident before a worker recycles; 0 off */
    long max_request_grace; /* max_request drawn in [N+1, N+grace]; 0 none */
    long task_max_request_grace; /* the same for task_max_request */
    int max_concurrency;    /* HTTP requests at workers at once; 0 any */
    /* The access log of HTTP listeners (http/access_log.h). */
    char *access_log;        /* a path, or NULL / "off": none */
    char *access_log_format; /* NULL: nginx's "combined" */
    /* A callback running longer is killed with its process (seconds,
     * 0 = off); one running past request_slowlog_timeout is logged with
     * a backtrace to request_slowlog_file (NULL: the server log). */
    int max_execution_time;
    int request_slowlog_timeout;
    char *request_slowlog_file;
    int mode;               /* enum config_server_mode, default process */
    /* "server": coroutines (coro/) */
    int enable_coroutine;    /* event callbacks run in coroutines; default 1 */
    long max_coroutine;      /* alive at once per process; default 100000 */
    size_t coroutine_stack_size; /* bytes, a page multiple; default 256 KiB */
    /* "server": name lookup (coro/dns.c) */
    char *dns_server;        /* "host[:port],...", NULL: resolv.conf's */
    int dns_cache_expire;    /* seconds an answer is kept at most; 60 */
    long dns_cache_capacity; /* answers kept per process; 1000; 0 none */
    /* "server": the coroutines' file threads (coro/aio.c) */
    int aio_worker_num;      /* threads per process at most; default 4 */
    int aio_core_worker_num; /* kept however idle; default 1, <= the above */
    double aio_max_wait_time; /* s a job waits before one more thread; 0 off */
    double aio_max_idle_time; /* s idle before a thread above core ends; 1 */
    /* "server": send_yield's marks on a connection's output (Swoole's
     * names); resolved in parse_root: high 0 -> buffer_output_size / 2 */
    size_t buffer_high_watermark; /* over it: senders in coroutines wait */
    size_t buffer_low_watermark;  /* at or under it again: they go on */

    config_admin_t admin;
    config_table_t *tables;
    int ntables;
    config_process_t *processes;
    int nprocesses;

    config_plugin_t *plugins;
    int nplugins;
    config_listener_t *listeners;
    int nlisteners;
} config_t;

/*
 * Load and validate a config file. On success returns 0 and fills *out.
 * On failure returns -1 and writes one line into err: the file, the JSON path
 * (e.g. "listeners[0].port"), what was expected and what was found; a syntax
 * error names file:line:column.
 */
int config_load(const char *path, config_t *out, char *err, size_t errlen);

/* The same from a string; path is used for messages and relative paths. */
int config_parse(const char *text, const char *path, config_t *out, char *err,
                 size_t errlen);

void config_free(config_t *cfg);

#endif
