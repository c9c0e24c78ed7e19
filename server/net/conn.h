/* conn.h: a client connection as its reactor thread holds it, the small
 * vtable through which the listener's protocol (stream, HTTP, WebSocket)
 * handles it, and the reactor services a protocol calls (reactor.c). */
#ifndef SWX_CONN_H
#define SWX_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "ipc/ipc.h"
#include "core/config.h"
#include "net/outq.h"
#include "event/timer.h"

typedef struct conn conn_t;

/* What the worker_backoff hook hears: a worker is waiting out a crash
 * back-off, so nothing sent to it is read before its replacement. */
typedef struct conn_backoff {
    int worker;      /* the worker */
    int retry_after; /* seconds until its replacement starts, at least 1 */
    int refused;     /* a message of this connection for it was not sent */
    int lost;        /* an earlier process of it died holding requests it
                        had taken, and none asked after them: which of
                        those waiting it had is unknown */
} conn_backoff_t;

/*
 * A connection kind. Every call runs in the reactor thread that owns the
 * connection. A hook that closes the connection (conn_close, or a service
 * that returned -1) must not touch it afterwards, and neither may its
 * caller: input and deliver return nothing, so the reactor never does.
 */
typedef struct conn_proto {
    const char *name;
    /* Accepted: set up c->state. 0, or -errno to close it at once. */
    int (*open)(conn_t *c);
    /* Bytes read from the client. */
    void (*input)(conn_t *c, const char *data, size_t len);
    /* A worker's message other than IPC_SEND, IPC_CLOSE_REQ, IPC_BIND. */
    void (*deliver)(conn_t *c, const ipc_msg_t *m);
    /* Optional: a worker's IPC_SEND bytes were queued for the client. */
    void (*sent)(conn_t *c);
    /* Optional: worker w's process died and was replaced. */
    void (*worker_lost)(conn_t *c, int w);
    /* Optional: a worker is backing off (see conn_backoff_t): a
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
     * notify: workers may still be told (not while the reactor stops). */
    void (*close)(conn_t *c, int notify);
} conn_proto_t;

/* Input buffers keep at most this much capacity between messages. */
#define CONN_IN_KEEP (64 * 1024)

struct conn {
    int fd;
    int listener;
    int worker;           /* the fixed dispatch modes: every event goes here */
    uint32_t uid;         /* dispatch_mode 5: swx_bind's uid, 0 until bound */
    uint64_t session;
    long long last_recv;  /* ms, for heartbeat_idle_time */
    buf_t in;             /* bytes of an unfinished message, for framing */
    size_t scan;          /* the framer's place in `in` */
    char peer[56];        /* "address:port", for log lines */
    char peer_addr[46];   /* numeric address, "unix" for a Unix socket */
    int peer_port;
    outq_t out;           /* what the client has not taken yet */
    const conn_proto_t *proto;
    void *state;          /* the protocol's */
    unsigned closing : 1; /* close once out is written */
    unsigned paused : 1;  /* not reading: a worker channel is backed up */
    unsigned held : 1;    /* not reading: the protocol waits for a worker */
    unsigned watch_hup : 1; /* held, but a client that leaves is closed */
    unsigned linger : 1;  /* closing: shut down writing first, see conn_end */
    unsigned lingering : 1; /* shut down: input is dropped until EOF */
    int64_t linger_timer;
    int64_t send_timer;   /* send_timeout, while output waits */
    int64_t send_moved;   /* ms: the output last moved (or began to wait) */
    int send_unacked;     /* bytes in the socket not yet taken, last look */
};

/* The protocols (stream.c, http_conn.c, ws_conn.c). */
extern const conn_proto_t stream_proto;
extern const conn_proto_t http_conn_proto;
extern const conn_proto_t ws_conn_proto;

const config_t *conn_config(void);
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
/* A buffer of the calling reactor thread for a message being built (a
 * request for a worker): reused, so building one allocates nothing once
 * it has grown. Give it back with conn_scratch_done. */
buf_t *conn_scratch(void);
void conn_scratch_done(buf_t *b);

/* The worker for the next event of c, by dispatch mode; counts it. */
int conn_dispatch_worker(conn_t *c);
/* Send a message about c to worker w. Reading pauses while the channel is
 * backed up if input is set (the message carries what the client sent).
 * A message with input, or IPC_CONNECT, is not sent to a worker that is
 * backing off: the protocol's worker_backoff hook hears of it instead,
 * from the loop, once the caller has returned. */
void conn_to_worker(conn_t *c, int w, int type, const void *data, size_t len,
                    int input);
/* Do the connection events (on_connect, on_close) reach one worker? */
int conn_fixed_worker(void);

/* Whether the reactor reads c. */
enum conn_reading {
    CONN_READ,       /* read and hand bytes to the protocol */
    CONN_HOLD,       /* leave them in the socket */
    CONN_HOLD_WATCH, /* the same, but close c when the client shuts down
                        its side (it left: nothing will read a response) */
};

void conn_hold(conn_t *c, enum conn_reading how);
/* Close c once its output is written; nothing more is read for it, and
 * workers' messages for it are dropped. With linger, the reactor then
 * shuts down writing and reads and drops input until EOF (at most 2 s)
 * before it closes: closing with unread input would reset the connection
 * and could destroy the last response at the client. 0, or -1 when the
 * connection was closed now. */
int conn_end(conn_t *c, int linger);
/* The server is stopping: clients are no longer read (conn_read_once
 * excepted), workers finish what they were sent. */
int conn_stopping(const conn_t *c);
/* Read once what the client has already sent, even while stopping. 0, or
 * -1 when the connection was closed meanwhile. */
int conn_read_once(conn_t *c);
/* Close c now; why is logged when not NULL. */
void conn_close(conn_t *c, const char *why);
/* Switch c to another protocol (an upgrade); p->open is not called. */
void conn_set_proto(conn_t *c, const conn_proto_t *p, void *state);

/* A one-shot timer in the reactor's loop: cb(id, c) after ms. The id, or
 * -errno. Clear it before the connection goes (in the close hook). */
int64_t conn_timer_add(conn_t *c, long ms, timer_cb *cb);
void conn_timer_clear(int64_t id);

#endif
