/* ipc.h: the one IPC transport between swx's processes and threads: typed,
 * size-checked frames on SOCK_SEQPACKET socketpairs, sent as chunked
 * streams (a reactor and a worker) or as one-shot messages (mailboxes,
 * whose large payloads travel in a sealed memfd). */
#ifndef SWX_IPC_H
#define SWX_IPC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/buf.h"

/* The transport's own message types. Protocols number theirs in
 * [IPC_PROTO_MIN, IPC_PROTO_END) (HTTP and WebSocket: http/http_msg.h). */
enum ipc_type {
    IPC_CONNECT = 1,  /* reactor -> worker: swx_conninfo_t */
    IPC_RECEIVE,      /* reactor -> worker: bytes from the client */
    IPC_CLOSE,        /* reactor -> worker: the connection is gone */
    IPC_SEND,         /* worker -> reactor: bytes for the client */
    IPC_CLOSE_REQ,    /* worker -> reactor: close the connection */
    IPC_PACKET,       /* reactor -> worker: swx_peer_t, then a datagram */
    IPC_BIND,         /* worker -> reactor: uint32_t uid (dispatch_mode 5) */
    IPC_WORKER_LOST,  /* worker -> reactor, no session: the process before
                         this one in the slot died; ask after its requests */
    IPC_WORKER_BACKOFF, /* manager -> reactor on the worker's end, no
                         session: uint8_t IPC_BACKOFF_* flags: the worker
                         is waiting out a crash back-off (shm
                         backoff_until); what was sent to it is dropped */
    IPC_TASK,         /* mailbox: worker or process -> task worker */
    IPC_FINISH,       /* mailbox: task worker -> the task's sender: a
                         task's result */
    IPC_PIPE,         /* mailbox: any process -> any: swx_send_message */
    IPC_ROUTED,       /* lane, base mode: worker -> the worker that owns
                         session hdr.id: a message of type hdr.index for
                         it (IPC_SEND, IPC_CLOSE_REQ, a protocol's) */
    IPC_OUTPUT_FULL,  /* reactor -> the worker whose reply passed it: the
                         session's output is over buffer_high_watermark */
    IPC_OUTPUT_DRAINED, /* reactor -> that worker: back at
                         buffer_low_watermark; uint8_t IPC_DRAINED_CLOSED
                         when it drained because the connection closed */
    IPC_TYPE_END
};

/* The range of types the transport leaves to the protocols. */
#define IPC_PROTO_MIN 64
#define IPC_PROTO_END 128
_Static_assert(IPC_TYPE_END <= IPC_PROTO_MIN, "transport types below 64");

/* IPC_OUTPUT_DRAINED: the connection is gone. */
#define IPC_DRAINED_CLOSED 0x01

/* IPC_WORKER_BACKOFF: an earlier process of the worker died holding
 * requests it had taken, and no replacement has asked after them. */
#define IPC_BACKOFF_LOST 0x01

/* IPC_WORKER_LOST's payload when the process before was killed past
 * max_execution_time (after a crash there is none). */
typedef struct ipc_lost {
    uint64_t session; /* the session of the callback it was stuck in, 0 */
    uint8_t timeout;  /* 1 */
    uint8_t pad[7];
} ipc_lost_t;

/* Header flags. */
#define IPC_FIRST 0x01   /* the first frame of a message */
#define IPC_LAST 0x02    /* its last (a one-frame message has both) */
#define IPC_MEMFD 0x04   /* the payload is in the memfd passed with it */
#define IPC_NOREPLY 0x10 /* task: the sender wants no result */
#define IPC_WAIT 0x20    /* task, result: swx_taskwait is waiting for it */
#define IPC_FLAGS_KNOWN                                                      \
    (IPC_FIRST | IPC_LAST | IPC_MEMFD | IPC_NOREPLY | IPC_WAIT)

typedef struct ipc_hdr {
    uint8_t type;     /* enum ipc_type, or a protocol's */
    uint8_t flags;    /* IPC_FIRST, IPC_LAST, IPC_MEMFD, IPC_NOREPLY, ... */
    uint16_t index;   /* the listener (streams), the plugin (mailboxes) */
    uint32_t len;     /* payload bytes in this frame (0 with IPC_MEMFD) */
    uint64_t id;      /* the session (streams), the task id (mailboxes) */
    uint64_t total;   /* payload bytes of the whole message */
    uint32_t pid;     /* the writer's: frames of one writer are in order,
                         two writers' (a worker and its replacement) may
                         interleave. A task's result carries its task's
                         sender's instead: a slot's mailbox outlives the
                         process, whose task ids do not. */
    int32_t src;      /* mailboxes: the sender's process id (worker, task
                         worker, user process); -1 in streams */
} ipc_hdr_t;

_Static_assert(sizeof(ipc_hdr_t) == 32, "ipc_hdr_t is 32 bytes");

/* One frame fits a socket buffer comfortably; bigger stream messages are
 * chunked. */
#define IPC_FRAME_MAX (64 * 1024)
#define IPC_CHUNK_MAX (IPC_FRAME_MAX - sizeof(ipc_hdr_t))
/* A one-shot payload up to this size goes inline, a larger one in a
 * memfd. */
#define IPC_INLINE_MAX (60 * 1024)

/* Socket buffers: a reactor/worker channel, a mailbox. */
#define IPC_STREAM_SOCKBUF (2 * 1024 * 1024)
#define IPC_BOX_SOCKBUF (4 * 1024 * 1024)

/* The types a reader takes (ipc_init): a bit per transport type, and
 * IPC_PROTOCOLS for the protocols' whole range (bit 0: no type is 0). */
#define IPC_BIT(type) (UINT64_C(1) << (type))
#define IPC_PROTOCOLS IPC_BIT(0)
#define IPC_TO_WORKER                                                        \
    (IPC_BIT(IPC_CONNECT) | IPC_BIT(IPC_RECEIVE) | IPC_BIT(IPC_CLOSE) |      \
     IPC_BIT(IPC_PACKET) | IPC_BIT(IPC_OUTPUT_FULL) |                        \
     IPC_BIT(IPC_OUTPUT_DRAINED) | IPC_PROTOCOLS)
#define IPC_TO_REACTOR                                                       \
    (IPC_BIT(IPC_SEND) | IPC_BIT(IPC_CLOSE_REQ) | IPC_BIT(IPC_BIND) |        \
     IPC_BIT(IPC_WORKER_LOST) | IPC_BIT(IPC_WORKER_BACKOFF) | IPC_PROTOCOLS)
#define IPC_TO_MAILBOX                                                       \
    (IPC_BIT(IPC_TASK) | IPC_BIT(IPC_FINISH) | IPC_BIT(IPC_PIPE))
/* Base mode: a worker process's lane (proc/server.h lane_fds). */
#define IPC_TO_LANE IPC_BIT(IPC_ROUTED)
#define IPC_TO_TASKQ IPC_BIT(IPC_TASK)

/* A complete message. */
typedef struct ipc_msg {
    int type;
    int listener;     /* hdr.index */
    uint64_t session; /* hdr.id */
    const char *data; /* valid until the next ipc_recv on this end */
    size_t len;
    ipc_hdr_t hdr;    /* as its first frame had it; len above is the
                         message's length */
} ipc_msg_t;

/* A message being reassembled from one writer's frames. */
typedef struct ipc_partial {
    int active;
    ipc_hdr_t hdr;    /* of its first frame */
    buf_t buf;
} ipc_partial_t;

/* Writers that can have a chunked message in flight at once. */
#define IPC_SENDERS 4

/*
 * A worker's end of a reactor channel, kept where the process that
 * replaces it finds it (shared memory mapped before the fork): the records
 * of a batch it had read and not yet taken, and the replies it had
 * batched and not yet sent. A worker that crashes, is killed or reaches
 * max_request loses neither: its replacement sends the replies first and
 * takes the records next, as if they had stayed in the socket.
 */
typedef struct ipc_shared {
    _Atomic uint64_t rx_span;  /* rx_at | rx_end << 32 of the copy in rx */
    _Atomic uint32_t tx_len;   /* bytes of whole records in tx */
    char rx[IPC_FRAME_MAX];    /* the last batch read, as it came */
    char tx[IPC_FRAME_MAX];    /* the batch being gathered */
} ipc_shared_t;

/* One end of a socketpair as this process uses it. */
typedef struct ipc {
    int fd;
    uint32_t pid;     /* this process's, in the frames it writes */
    size_t max_msg;   /* longer incoming messages are refused */
    uint64_t accept;  /* the types it reads: IPC_TO_* */
    buf_t out;        /* frames not yet sent, each as [uint32 size][frame] */
    char *tx;         /* ipc_batch_on: small whole messages gathered into
                         one frame of IPC_FRAME_MAX bytes at most, sent by
                         ipc_flush; in sh when shared */
    size_t tx_len;
    int batching;
    ipc_shared_t *sh; /* ipc_share: kept for a replacement, or NULL */
    ipc_partial_t part[IPC_SENDERS];
    int nparts;       /* of them, those active */
    char *rx;         /* IPC_FRAME_MAX bytes of receive scratch */
    size_t rx_at;     /* the records of the frame in rx not yet taken: */
    size_t rx_end;    /* [rx_at, rx_end) */
    int rx_fd;        /* the fd that came with that frame, or -1 */
    int rx_mirror;    /* that frame is a batch copied to sh->rx */
    int rx_one;       /* ipc_one_frame: one frame per wake-up */
    int rx_spent;     /* that frame was read in this wake-up */
    void *map;        /* the last memfd payload, mapped */
    size_t map_len;
} ipc_t;

/* A non-blocking, close-on-exec SOCK_SEQPACKET pair with sockbuf-byte
 * socket buffers (IPC_STREAM_SOCKBUF, IPC_BOX_SOCKBUF; past wmem_max only
 * as root). 0 or -errno (logged). */
int ipc_socketpair(int fds[2], int sockbuf);
/* Use fd, reading messages of the types in accept up to max_msg bytes. 0
 * or -ENOMEM. */
int ipc_init(ipc_t *c, int fd, size_t max_msg, uint64_t accept);
void ipc_free(ipc_t *c);

/*
 * Streams (ipc_stream.c). Send a message, chunked as needed. What the
 * socket does not take now is queued, after which the frames of every
 * later message queue too; call ipc_flush when the fd is writable. 0 or
 * -errno (logged, but -EPIPE: the other side is gone, which the caller
 * judges).
 */
int ipc_send(ipc_t *c, int type, int listener, uint64_t session,
             const void *data, size_t len);
/* The same for the bytes of iov[0..n) in order, as one message: frames are
 * cut across the slices and written with them, never copied into one
 * buffer first (only a frame that has to be queued is copied). Empty
 * slices are skipped. */
int ipc_sendv(ipc_t *c, int type, int listener, uint64_t session,
              const struct iovec *iov, int n);
/* Write the batch (below) and the queue: 0 when both are empty, -EAGAIN
 * when frames remain queued, or -errno. */
int ipc_flush(ipc_t *c);

/*
 * Batching, for the busy channels between reactors and workers: from now
 * on a whole message of at most IPC_BATCH_MSG bytes is copied into a
 * batch and sent with the others of the batch as one frame (a sequence of
 * records, each a header and its payload) by the next ipc_flush, or
 * before a larger message, which keeps them in order. One system call and
 * one wake-up of the reader then carry many messages. The owner calls
 * ipc_flush before its loop waits (loop_prepare) and before anything else
 * that may wait.
 */
#define IPC_BATCH_MSG 4096
/* A record's size in a batch: its payload padded to 8 bytes, so that the
 * next record's header and payload are aligned as a frame's are (a plugin
 * reads swx_conninfo_t and others in place). */
static inline size_t ipc_record_size(uint64_t len)
{
    return sizeof(ipc_hdr_t) + (size_t)((len + 7) & ~(uint64_t)7);
}
/* 0 or -ENOMEM. */
int ipc_batch_on(ipc_t *c);
/* Batch through sh (a worker's end): what an earlier process left there
 * is taken over (ipc_flush sends its replies; ipc_recv returns its
 * records first). 1 when records were left, else 0. */
int ipc_share(ipc_t *c, ipc_shared_t *sh);
/* Stop batching and sharing (a retiring worker that has handed its
 * channels over): call ipc_flush first. */
void ipc_unshare(ipc_t *c);
/* For the manager, when a worker died and no replacement takes over (a
 * back-off): its batched replies are sent on fd, its unread records
 * dropped; their number. */
long ipc_shared_settle(ipc_shared_t *sh, int fd);

/* Bytes of frames queued because the socket was full: the owner watches
 * the fd for writing while there are any. */
static inline size_t ipc_queued(const ipc_t *c)
{
    return buf_pending(&c->out);
}

/* Bytes not yet sent: the queue and the batch (backpressure, idleness). */
static inline size_t ipc_pending(const ipc_t *c)
{
    return buf_pending(&c->out) + c->tx_len;
}

/* Drop the frames queued for sending and the batch (their reader is gone
 * for good); the bytes dropped. */
size_t ipc_drop_queued(ipc_t *c);

/* For a process without an ipc_t on fd (the manager, which holds the
 * worker ends): send one message of type with no session, in one frame
 * (len <= IPC_CHUNK_MAX). 0, -EAGAIN when the socket is full, or -errno
 * (logged). */
int ipc_notice(int fd, int type, const void *data, size_t len);

/*
 * One-shot messages (ipc_box.c): h's type, flags, index, id, pid and src
 * with data as one datagram, never partial and never queued, the payload
 * inline up to IPC_INLINE_MAX and in a sealed memfd above, so that several
 * writers never interleave. 0, -EAGAIN when the mailbox is full, or
 * -errno.
 */
int ipc_box_send(int fd, const ipc_hdr_t *h, const void *data, size_t len);

/* Reading (ipc.c). 1 while records of a batch that was read wait in c
 * (no fd event will tell of them: read them on), or a chunked message
 * has begun arriving and not yet ended. */
int ipc_receiving(const ipc_t *c);

static inline int ipc_buffered(const ipc_t *c)
{
    return c->rx_end - c->rx_at >= sizeof(ipc_hdr_t);
}

/*
 * One frame per wake-up, for a channel its owner's loop watches
 * level-triggered: once the records of a frame are taken, ipc_recv
 * returns 0 without another read (unless a chunked message is mid-way),
 * and the loop reports the fd again if more waits. A wake-up then costs
 * no read that finds nothing (EAGAIN) when one frame was all there was,
 * the usual case below full load; under load a frame carries many
 * records. The owner calls ipc_wake when its fd is reported readable.
 */
static inline void ipc_one_frame(ipc_t *c)
{
    c->rx_one = 1;
}
static inline void ipc_wake(ipc_t *c)
{
    c->rx_spent = 0;
}

/* Take the memory holding m's data (the last message ipc_recv gave) away
 * from c, so that it outlives the next ipc_recv: a coroutine that waits in
 * the callback it was given to still reads it. c gets fresh memory. What
 * to release it with (ipc_hold_free), or NULL (no memory: logged). */
void *ipc_detach(ipc_t *c, const ipc_msg_t *m);
void ipc_hold_free(void *hold);
/*
 * Read frames until one message is complete: 1 with *msg filled, 0 when
 * the socket has nothing more, -EPIPE when the peer is gone, or -errno.
 * A frame that fails a check (truncated, a length or total that disagrees
 * with what arrived, a type this end does not take, over max_msg) is
 * logged and dropped with the message it belonged to, never trusted; in a
 * batch, the records after one that fails cannot be found and are dropped
 * too.
 */
int ipc_recv(ipc_t *c, ipc_msg_t *msg);
/* Read and drop every frame waiting on fd; the number of messages whose
 * first frame was among them (each record of a batch counts). */
long ipc_discard(int fd);

#endif
