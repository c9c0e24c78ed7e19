/* conn.h: the connection engine: a client connection, the three small
 * vtables it is made of (transport: how bytes move on its fd; protocol:
 * how bytes become messages; sink: where messages go and replies come
 * from), the engine that owns connections in one loop, and the services
 * protocols call (conn.c). Nothing here knows which thread, process or
 * mode it runs in: everything is found through the connection. */
#ifndef SWX_CONN_H
#define SWX_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/session.h"
#include "event/loop.h"
#include "event/timer.h"
#include "ipc/shm.h"
#include "net/outq.h"
#include "swx_plugin.h"

typedef struct conn conn_t;
typedef struct conn_engine conn_engine_t;

/* ---- transport: how bytes move on the fd ---- */

typedef struct conn_transport {
    const char *name;
    /* Bytes read (> 0), 0 at EOF, or -errno (-EAGAIN: nothing now). */
    ssize_t (*read)(conn_t *c, void *buf, size_t len);
    /* Bytes written (>= 0), or -errno (-EAGAIN: the socket is full). */
    ssize_t (*writev)(conn_t *c, const struct iovec *iov, int iovcnt);
    /* len bytes of file fd from *off: bytes sent (0: the file ended
     * early), or -errno. */
    ssize_t (*sendfile)(conn_t *c, int fd, off_t *off, size_t len);
    /* No more output: send what ends the stream (FIN). */
    void (*shutdown)(conn_t *c);
    /* Bytes written that the peer has not taken yet, or -1. */
    int (*unacked)(const conn_t *c);
    /* Release the fd. */
    void (*close)(conn_t *c);
    /* Optional, for transports with a handshake (TLS): while
     * c->handshaking, the engine calls this instead of reading: 1 done
     * (the connection starts), 0 not yet, -errno failed (logged; the
     * engine closes c). */
    int (*handshake)(conn_t *c);
    /* Optional: the fd events (LOOP_*) that serve the engine's wish ev:
     * a TLS read may need the socket writable and a write readable. */
    int (*interest)(const conn_t *c, int ev);
    /* Optional: fd events that fired, as the engine's: which of reading
     * and writing may go on now. */
    int (*ready)(const conn_t *c, int fired);
    /* Optional: what was negotiated, into ci's TLS fields; the version
     * ("TLSv1.3") and the ALPN protocol ("" for none). */
    void (*info)(const conn_t *c, swx_conninfo_t *ci);
    const char *(*version)(const conn_t *c);
    const char *(*alpn)(const conn_t *c);
    /* Optional: whether the transport holds input it read ahead of what
     * it returned, which the socket will not signal again (TLS records
     * OpenSSL read in one go). */
    int (*buffered)(const conn_t *c);
    /* Optional: an end without a lingering close (conn_end's linger 0):
     * what the stream says before the socket closes (TLS: close_notify). */
    void (*goodbye)(conn_t *c);
} conn_transport_t;

/* Plain sockets (plain.c), TLS (tls.c). */
extern const conn_transport_t plain_transport;
extern const conn_transport_t tls_transport;

/* ---- protocol: bytes into messages, replies into bytes ---- */

/* A message for a connection from its sink (a worker's reply other than
 * the bytes, close and bind every connection understands). */
typedef struct conn_msg {
    int type;
    const char *data;
    size_t len;
} conn_msg_t;

/* What the sink_backoff hook hears: a target (a worker) is waiting out a
 * crash back-off, so nothing sent to it is read before its replacement. */
typedef struct conn_backoff {
    int worker;      /* the target */
    int retry_after; /* seconds until its replacement starts, at least 1 */
    int refused;     /* a message of this connection for it was not sent */
    int lost;        /* an earlier process of it died holding requests it
                        had taken, and none asked after them: which of
                        those waiting it had is unknown */
} conn_backoff_t;

/* What the worker_lost hook hears: target worker's process died and was
 * replaced; requests it had taken may be gone with it. */
typedef struct conn_lost {
    int worker;
    int timeout;      /* it was killed past max_execution_time (else it
                         crashed): its clients are answered 504 or closed */
    uint64_t session; /* timeout: the session of the callback it was stuck
                         in, or 0 */
} conn_lost_t;

/*
 * A connection kind. Every call runs in the loop that owns the
 * connection. A hook that closes the connection (conn_close, or a service
 * that returned -1) must not touch it afterwards, and neither may its
 * caller: input and deliver return nothing, so the engine never does.
 */
typedef struct conn_proto {
    const char *name;
    /* Accepted: set up c->state. 0, or -errno to close it at once. */
    int (*open)(conn_t *c);
    /* Bytes read from the client. */
    void (*input)(conn_t *c, const char *data, size_t len);
    /* A message from the sink for this connection. */
    void (*deliver)(conn_t *c, const conn_msg_t *m);
    /* Optional: bytes from the sink were queued for the client. */
    void (*sent)(conn_t *c);
    /* Optional: a target's process died and was replaced. */
    void (*worker_lost)(conn_t *c, const conn_lost_t *l);
    /* Optional: a target is backing off (see conn_backoff_t): a
     * connection that waits on it or is bound to it, or whose message was
     * refused, must not wait for its replacement. Called from the loop,
     * never inside a service the protocol called. */
    void (*worker_backoff)(conn_t *c, const conn_backoff_t *b);
    /* The output queue was written out after it had to wait for the
     * socket. 0, or -1 when the hook closed the connection. */
    int (*drained)(conn_t *c);
    /* Optional: the server is stopping and no longer reads clients (see
     * conn_stopping); wind the connection down. */
    void (*quiesce)(conn_t *c);
    /* The connection is being closed: release c->state and its timers.
     * notify: the sink may still be told (not while the engine stops). */
    void (*close)(conn_t *c, int notify);
    /* Optional: bytes for the client were written or queued (conn_write;
     * data is NULL for len bytes of a file): what a protocol counts for
     * its access log. Touches nothing of the connection but its state. */
    void (*output)(conn_t *c, const void *data, size_t len);
    /* Optional: the engine's process leaves (conn_engine_leave): a
     * connection that can send its client elsewhere at once does (an
     * idle HTTP/2 one: GOAWAY). May close c. */
    void (*leave)(conn_t *c);
} conn_proto_t;

/* The protocols (protocol/stream.c, http_conn.c, ws_conn.c), and the
 * stage before a listener's protocol with proxy_protocol (proxy_conn.c). */
extern const conn_proto_t stream_proto;
extern const conn_proto_t http_conn_proto;
extern const conn_proto_t ws_conn_proto;
extern const conn_proto_t proxy_conn_proto;

/* ---- sink: where a complete message goes ---- */

/*
 * Process mode: a channel message to a worker, whose replies come back on
 * the channel (net/workers.c). A target is the sink's name for where a
 * message went (a worker); protocols keep it only to address follow-ups
 * about the same request.
 */
typedef struct conn_sink {
    const char *name;
    /* Where the next event of c goes; counted as a dispatch. */
    int (*route)(conn_t *c);
    /* A message about c for target. input: it carries what the client
     * sent (reading may pause while the target is backed up). */
    void (*submit)(conn_t *c, int target, int type, const void *data,
                   size_t len, int input);
    /* Do connection events (open, close) reach one fixed target? */
    int (*fixed)(const conn_engine_t *e);
    /* c was accepted (ci describes it) or is gone: tell the target. */
    void (*opened)(conn_t *c, const swx_conninfo_t *ci);
    void (*closed)(conn_t *c);
    /* Optional (send_yield): c's output passed buffer_high_watermark
     * (level 1), is back at buffer_low_watermark (0), or c is being
     * closed while it was full (-1). Called inside the engine's services:
     * tell, do not run plugin code. */
    void (*output)(conn_t *c, int level);
    /* Optional: the engine is done with one event of a connection (its
     * protocol's step is over, nothing of the engine is on the stack):
     * replies the sink held back until then may go now. */
    void (*settle)(conn_engine_t *e);
} conn_sink_t;

/* ---- the engine: the connections one loop owns ---- */

struct conn_engine {
    loop_t *loop;
    const config_t *cfg;
    shm_t *shm;                 /* connection counters */
    int id;                     /* its reactor, or in base mode its worker */
    int tag;                    /* in session ids: which engine owns one
                                   (its id; in base mode its lane) */
    uint64_t next_seq;
    session_table_t sessions;   /* session id -> conn_t */
    char *rbuf;                 /* CONN_READ_SIZE bytes for each read */
    buf_t scratch;              /* see conn_scratch */
    buf_t gather;               /* see conn_gather */
    const conn_sink_t *sink;
    void *sink_ctx;             /* the sink's own state */
    int quiesced;               /* stopping: no more reading from clients */
    int stopping;               /* closing everything */
    int leaving;                /* its process takes no new connections
                                   and exits once these are done (base
                                   mode: a reload, max_request) */
    int64_t heartbeat;          /* heartbeat_check_interval's timer */
    uint64_t seq_end;           /* with shared ids: the end of this
                                   engine's block of sequence numbers */
    char *in_pool[32];          /* CONN_IN_UNIT buffers no connection holds
                                   (conn_in_idle) */
    int in_pooled;
    struct tls_conn *warm;      /* TLS connections that keep OpenSSL's
                                   buffers between records, least
                                   recently used first (net/tls.c) */
    struct tls_conn *warm_last;
    int warm_count;
    int warm_peak;              /* the most since the last tick */
    int warm_capped;            /* cooled since then past TLS_WARM_MAX */
    unsigned warm_gen;          /* counts its ticks */
    int64_t warm_timer;         /* frees the buffers of those idle */
    size_t out_slack;           /* send_yield: what a full connection may
                                   take past buffer_output_size, the
                                   replies already on their way when its
                                   sink was told (set by the sink) */
};

/* One read takes at most this much. */
#define CONN_READ_SIZE (64 * 1024)
/* Input buffers keep at most this much capacity between messages. */
#define CONN_IN_KEEP (64 * 1024)
/* The size an input buffer starts at (buf_t's first allocation). */
#define CONN_IN_UNIT 4096

/* c's input buffer when nothing is in it: back to its engine (a few are
 * kept for the next connection to read, the rest freed), so that an idle
 * connection holds no input memory. */
void conn_in_idle(conn_t *c);
/* Before appending to c->in: a buffer from the engine's, when c has none
 * (what buf_append would otherwise malloc). */
void conn_in_ready(conn_t *c);

struct conn {
    conn_engine_t *eng;
    const conn_transport_t *transport;
    int fd;
    int listener;
    int worker;           /* the fixed dispatch modes: every event goes here */
    uint32_t uid;         /* dispatch_mode 5: swx_bind's uid, 0 until bound */
    uint64_t session;
    int64_t last_recv;    /* ms, for heartbeat_idle_time */
    buf_t in;             /* bytes of an unfinished message, for framing */
    size_t scan;          /* the framer's place in `in` */
    char peer[56];        /* "address:port", for log lines */
    char peer_addr[46];   /* numeric address, "unix" for a Unix socket: the
                             client, as a PROXY header named it */
    int peer_port;
    char proxy_addr[46];  /* the socket's peer when a PROXY header named
                             the client, else "" */
    int proxy_port;
    outq_t out;           /* what the client has not taken yet */
    const conn_proto_t *proto;
    void *state;          /* the protocol's */
    unsigned closing : 1; /* close once out is written */
    unsigned paused : 1;  /* not reading: the sink is backed up */
    unsigned held : 1;    /* not reading: the protocol waits for the sink */
    unsigned watch_hup : 1; /* held, but a client that leaves is closed */
    unsigned linger : 1;  /* closing: shut down writing first, see conn_end */
    unsigned lingering : 1; /* shut down: input is dropped until EOF */
    unsigned opened : 1;  /* the sink knows c (after a PROXY header) */
    unsigned handshaking : 1; /* the transport's handshake is not done:
                                 nothing is opened before it is */
    unsigned out_full : 1; /* output passed the high watermark, the sink
                              was told, and it has not drained yet */
    unsigned read_later : 1; /* a read of the transport's buffered input
                                waits for the end of the loop run */
    unsigned forks;       /* loop_fork_count() when fd was made: while it
                             is the same, no other process holds fd */
    int out_target;       /* the sink's: whom it told of out_full */
    void *xport;          /* the transport's state (TLS: tls_conn_t) */
    int64_t linger_timer;
    int64_t send_timer;   /* send_timeout, while output waits */
    int64_t send_moved;   /* ms: the output last moved (or began to wait) */
    int send_unacked;     /* bytes in the socket not yet taken, last look */
};

/* Set up an engine on loop; 0 or -ENOMEM. The heartbeat timer starts
 * when cfg has heartbeat_check_interval. */
int conn_engine_init(conn_engine_t *e, loop_t *loop, const config_t *cfg,
                     shm_t *shm, int id, const conn_sink_t *sink,
                     void *sink_ctx);
void conn_engine_free(conn_engine_t *e);
/* Session ids from blocks that shm hands out, for an engine id that
 * several processes use in turn (a base-mode worker slot and its
 * replacements): an id is still never reused while the server runs. */
void conn_engine_share_ids(conn_engine_t *e);
/* A connection accepted on listener: it is the engine's from now on
 * (closed and counted off when it cannot be set up). Its address is asked
 * of the socket, and it is taken for shared with another process (its
 * close deletes it from epoll). */
void conn_engine_accept(conn_engine_t *e, int fd, int listener);
/* The same with the client's address as accept4 returned it (sa NULL or
 * len 0: asked of the socket with getpeername), and loop_fork_count() as
 * it was when accept4 made fd: while it stays so, no other process holds
 * fd, and its close needs no epoll_ctl (loop_forget). */
void conn_engine_accept_peer(conn_engine_t *e, int fd, int listener,
                             const struct sockaddr *sa, socklen_t len,
                             unsigned forks);
/* The connections, copied out (closing one reorders the table); free()
 * the list. NULL when out of memory. */
conn_t **conn_engine_list(conn_engine_t *e, size_t *n);
/* The stop begins: stop reading clients, let each protocol wind down. */
void conn_engine_quiesce(conn_engine_t *e);
/* Base mode: this process takes no new connections and exits once its
 * open ones are done (conn_engine_t.leaving); each protocol's leave hook
 * is told. */
void conn_engine_leave(conn_engine_t *e);
/* Close each connection once its output is written (conn_engine_idle
 * says when none is left). */
void conn_engine_begin_stop(conn_engine_t *e);
int conn_engine_idle(const conn_engine_t *e);
void conn_engine_close_all(conn_engine_t *e);
/* What the sink returns for c: bytes for the client, a close request, a
 * bind (dispatch_mode 5), or a protocol's message. */
void conn_engine_deliver(conn_engine_t *e, uint64_t session, int kind,
                         const conn_msg_t *m);

/* conn_engine_deliver's kinds. */
enum conn_delivery {
    CONN_DELIVER_SEND,      /* bytes for the client */
    CONN_DELIVER_CLOSE,     /* close once they are written */
    CONN_DELIVER_BIND,      /* uint32_t uid: every event to uid's target */
    CONN_DELIVER_PROTOCOL,  /* for the protocol's deliver hook */
};

/* ---- services, for protocols and sinks ---- */

const config_t *conn_config(const conn_t *c);
const config_listener_t *conn_listener(const conn_t *c);

/* Queue bytes for the client (written at once when nothing waits). 0, or
 * -1 when the connection was closed: a socket error, or buffer_output_size
 * would be exceeded. */
int conn_write(conn_t *c, const void *data, size_t len);
/* Queue len bytes of the file fd from off (sendfile); the queue owns fd.
 * 0, or -1 when the connection was closed. */
int conn_write_file(conn_t *c, int fd, off_t off, uint64_t len);
/* Output is waiting for the socket. */
int conn_pending(const conn_t *c);
/* A buffer of c's engine for a message being built (a request for a
 * worker): reused, so building one allocates nothing once it has grown.
 * Give it back with conn_scratch_done. */
buf_t *conn_scratch(conn_t *c);
void conn_scratch_done(buf_t *b);

/* The engine's buffer for output a protocol gathers before one
 * conn_write (HTTP/2 frames), apart from the scratch buffer, which a
 * caller up the stack may hold. Empty it (buf_reset, buf_trim) after. */
buf_t *conn_gather(conn_t *c);

/* fn(c) at the end of the current loop run, if c is still open then (it
 * is found again by its session id). 0, or -ENOMEM (nothing deferred). */
int conn_defer(conn_t *c, void (*fn)(conn_t *c));

/* The sink's target for the next event of c; counts it. */
int conn_route(conn_t *c);
/* Hand the sink a message about c for target. Reading pauses while the
 * target is backed up if input is set (the message carries what the
 * client sent). A message with input, or an open, is not handed to a
 * target that is backing off: the protocol's worker_backoff hook hears of
 * it instead, from the loop, once the caller has returned. */
void conn_submit(conn_t *c, int target, int type, const void *data,
                 size_t len, int input);
/* Do the connection events (on_connect, on_close) reach one target? */
int conn_fixed(const conn_t *c);

/* Whether the engine reads c. */
enum conn_reading {
    CONN_READ,       /* read and hand bytes to the protocol */
    CONN_HOLD,       /* leave them in the socket */
    CONN_HOLD_WATCH, /* the same, but close c when the client shuts down
                        its side (it left: nothing will read a response) */
};

void conn_hold(conn_t *c, enum conn_reading how);
/* Reading paused or resumed by the sink (backpressure). */
void conn_pause(conn_t *c, int paused);
/* Close c once its output is written; nothing more is read for it, and
 * the sink's messages for it are dropped. With linger, the engine then
 * shuts down writing and reads and drops input until EOF (at most 2 s)
 * before it closes: closing with unread input would reset the connection
 * and could destroy the last response at the client. Without linger the
 * socket is closed once the output is written (after the transport's
 * goodbye: TLS's close_notify), for a protocol that knows the client sends
 * nothing more. 0, or -1 when the connection was closed now. */
int conn_end(conn_t *c, int linger);
/* The server is stopping: clients are no longer read (conn_read_once
 * excepted), the sink finishes what it was given. */
int conn_stopping(const conn_t *c);
/* c's engine is leaving (conn_engine_t.leaving): a connection that could
 * be kept alive ends after its current request. */
int conn_leaving(const conn_t *c);
/* Read once what the client has already sent, even while stopping. 0, or
 * -1 when the connection was closed meanwhile. */
int conn_read_once(conn_t *c);
/* c was waiting on, or bound to, a worker killed past max_execution_time
 * (conn_lost_t): counted in the stats (shm stuck_clients). */
void conn_count_stuck(conn_t *c);
/* Close c now; why is logged when not NULL. */
void conn_close(conn_t *c, const char *why);
/* The client is at addr:port, as the proxy that is c's socket peer says:
 * that peer is kept as c's proxy. */
void conn_set_peer(conn_t *c, const char *addr, int port);
/* c's client is known: tell the sink (on_connect, dispatch_mode 4), open
 * the listener's protocol and hand it data, bytes already read. */
void conn_start(conn_t *c, const char *data, size_t len);
/* The protocol the client chose by ALPN in the TLS handshake ("h2"),
 * NULL on plain connections or when none was chosen; and the TLS version
 * ("TLSv1.3"), NULL on plain connections. */
const char *conn_alpn(const conn_t *c);
const char *conn_tls_version(const conn_t *c);
/* A protocol another module provides for an ALPN name: a connection whose
 * client chose name starts with p (p->open is called) instead of its
 * listener's protocol. Register before connections are accepted (at
 * start-up, before the loops run). 0, or -ENOSPC when the table is
 * full. */
int conn_alpn_register(const char *name, const conn_proto_t *p);
/* Switch c to another protocol (an upgrade); p->open is not called. */
void conn_set_proto(conn_t *c, const conn_proto_t *p, void *state);

/* A one-shot timer in c's loop: cb(id, c) after ms. The id, or -errno.
 * Clear it before the connection goes (in the close hook). */
int64_t conn_timer_add(conn_t *c, long ms, timer_cb *cb);
/* The same from now_ms, a loop_now() the caller read a moment ago (one
 * clock read less). */
int64_t conn_timer_add_at(conn_t *c, int64_t now_ms, long ms, timer_cb *cb);
void conn_timer_clear(conn_t *c, int64_t id);

#endif
