/* workers.h: the process-mode sink: a reactor's channels to the workers
 * (workers.c). */
#ifndef SWX_WORKERS_H
#define SWX_WORKERS_H

#include "ipc/ipc.h"
#include "net/conn.h"
#include "proc/server.h"

typedef struct workers workers_t;

/* What the loop hands workers_io: whose channel to which worker. */
typedef struct workers_slot {
    workers_t *ws;
    int worker;
} workers_slot_t;

struct workers {
    conn_engine_t *eng;
    shm_t *shm;
    int nworkers;
    ipc_t *chans;           /* [worker]: this reactor's end */
    workers_slot_t *slots;   /* [worker] */
    unsigned rr;             /* round-robin cursor */
    int npaused;             /* connections paused for a backed-up worker */
    buf_t refused;           /* workers_refusal_t: messages not sent to a
                                worker that is backing off, for their hooks */
    int refused_deferred;    /* workers_run_refused is due */
    int delivering;          /* the worker whose reply is being delivered,
                                or -1: whom a full connection tells */
};

extern const conn_sink_t workers_sink;

/* The channels of reactor to every worker, read in e's loop. 0 or
 * -ENOMEM. */
int workers_init(workers_t *ws, conn_engine_t *e, server_t *srv, int reactor);
void workers_free(workers_t *ws);
/* One datagram (p, then len bytes) to a worker: by client address in the
 * fixed modes. */
void workers_packet(workers_t *ws, swx_peer_t *p, size_t len);
/* The conn_engine_deliver kind of a worker's message of type (ipc/ipc.h,
 * http/http_msg.h): bytes, a close, a bind or the protocol's. */
int workers_delivery(int type);
/* Deliver every reply the workers left in the channels (the stop). */
void workers_drain(workers_t *ws);

#endif
