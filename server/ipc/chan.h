/* chan.h: the IPC channel between a reactor thread and a worker: typed,
 * size-checked frames on a SOCK_SEQPACKET socketpair, large messages split
 * into chunks and reassembled. */
#ifndef SWX_CHAN_H
#define SWX_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum chan_type {
    CHAN_CONNECT = 1, /* reactor -> worker: swx_conninfo_t */
    CHAN_RECEIVE,     /* reactor -> worker: bytes from the client */
    CHAN_CLOSE,       /* reactor -> worker: the connection is gone */
    CHAN_SEND,        /* worker -> reactor: bytes for the client */
    CHAN_CLOSE_REQ,   /* worker -> reactor: close the connection */
    CHAN_PACKET,      /* reactor -> worker: swx_peer_t, then a datagram */
    CHAN_BIND,        /* worker -> reactor: uint32_t uid (dispatch_mode 5) */
    CHAN_HTTP_REQUEST, /* reactor -> worker: a request (http_wire.h) */
    CHAN_HTTP_END,    /* worker -> reactor: uint8_t CHAN_HTTP_END_* flags,
                         then the response's last bytes (its others were
                         CHAN_SEND): the response is complete */
    CHAN_HTTP_SENDFILE, /* worker -> reactor: chan_sendfile_t, then the path
                         and its NUL: the file is part of the response */
    CHAN_HTTP_ABORT,  /* reactor -> worker: the connection of the request
                         this worker holds closed (sent when CHAN_CLOSE
                         does not reach that worker) */
    CHAN_WS_OPEN,     /* reactor -> worker: the handshake (http_wire.h) */
    CHAN_WS_MESSAGE,  /* reactor -> worker: uint8_t opcode, then the data */
    CHAN_WS_CLOSE,    /* reactor -> worker: uint16_t close code */
    CHAN_WS_PUSH,     /* worker -> reactor: uint8_t opcode, then the data */
    CHAN_WS_CLOSE_REQ, /* worker -> reactor: uint16_t close code */
    CHAN_WORKER_LOST, /* worker -> reactor, no session: the process before
                         this one in the slot died; ask after its requests */
    CHAN_HTTP_PROBE,  /* reactor -> worker: uint64_t request number: do you
                         hold this session's request? */
    CHAN_HTTP_LOST,   /* worker -> reactor: the probe's number: no, so the
                         process that took it died with it */
    CHAN_WORKER_BACKOFF, /* manager -> reactor on the worker's end, no
                         session: uint8_t CHAN_BACKOFF_* flags: the worker
                         is waiting out a crash back-off (shm
                         backoff_until); what was sent to it is dropped */
    CHAN_TYPE_END
};

/* CHAN_WORKER_BACKOFF: an earlier process of the worker died holding
 * requests it had taken, and no replacement has asked after them. */
#define CHAN_BACKOFF_LOST 0x01

/* CHAN_HTTP_END: close the connection after this response. */
#define CHAN_HTTP_END_CLOSE 0x01

/* CHAN_HTTP_SENDFILE: the worker opened the file to check it and tells
 * which it saw, so the reactor (which may run as another user) sends only
 * that same file. */
typedef struct chan_sendfile {
    uint64_t offset;
    uint64_t length;
    uint64_t dev;
    uint64_t ino;
} chan_sendfile_t;

#define CHAN_FIRST 0x01
#define CHAN_LAST 0x02

typedef struct chan_hdr {
    uint8_t type;     /* enum chan_type */
    uint8_t flags;    /* CHAN_FIRST, CHAN_LAST */
    uint16_t listener;
    uint32_t len;     /* payload bytes in this frame */
    uint64_t session;
    uint64_t total;   /* bytes in the whole message, in every frame */
    uint32_t sender;  /* pid of the writer: frames of one writer are in
                         order, but two writers (a worker and its
                         replacement) may interleave */
    uint32_t reserved;
} chan_hdr_t;

/* One frame fits a socket buffer comfortably; bigger messages are chunked. */
#define CHAN_FRAME_MAX (64 * 1024)
#define CHAN_CHUNK_MAX (CHAN_FRAME_MAX - sizeof(chan_hdr_t))

/* A complete message; data stays valid until the next chan_recv. */
typedef struct chan_msg {
    int type;
    int listener;
    uint64_t session;
    const char *data;
    size_t len;
} chan_msg_t;

/* A message being reassembled from one sender's frames. */
typedef struct chan_partial {
    int active;
    chan_hdr_t hdr;   /* of its first frame */
    buf_t buf;
} chan_partial_t;

/* Writers that can have a chunked message in flight at once. */
#define CHAN_SENDERS 4

typedef struct chan {
    int fd;
    uint32_t sender;  /* this process's id in frames it writes */
    size_t max_msg;   /* longer incoming messages are discarded */
    buf_t out;        /* frames not yet sent, each as [uint32 size][frame] */
    chan_partial_t part[CHAN_SENDERS];
    char *rx;         /* CHAN_FRAME_MAX bytes of receive scratch */
} chan_t;

/* A socketpair for one reactor/worker pair, non-blocking on both ends. */
int chan_socketpair(int fds[2]);
int chan_init(chan_t *c, int fd, size_t max_msg);
void chan_free(chan_t *c);

/*
 * Send a message, chunked as needed. What the socket does not take now is
 * queued; call chan_flush when the fd is writable. 0 or -errno.
 */
int chan_send(chan_t *c, int type, int listener, uint64_t session,
              const void *data, size_t len);
/* 0 when the queue is empty, -EAGAIN when frames remain, or -errno. */
int chan_flush(chan_t *c);

static inline size_t chan_queued(const chan_t *c)
{
    return buf_pending(&c->out);
}

/* Drop the frames queued for sending (their reader is gone for good);
 * the bytes dropped. */
size_t chan_drop_queued(chan_t *c);

/* For a process without a chan_t on fd (the manager, which holds the
 * worker ends): send one message of type with no session, in one frame
 * (len <= CHAN_CHUNK_MAX). 0, -EAGAIN when the socket is full, or -errno
 * (logged). */
int chan_notice(int fd, int type, const void *data, size_t len);
/* Read and drop every frame waiting on fd; the number of messages whose
 * first frame was among them. */
long chan_discard(int fd);

/* 1 while a chunked message has begun arriving and not yet ended. */
int chan_receiving(const chan_t *c);

/*
 * Read frames until one message is complete: 1 with *msg filled, 0 when the
 * socket has nothing more, -EPIPE when the peer is gone, or -errno. Frames
 * that fail a check are logged and dropped, never trusted.
 */
int chan_recv(chan_t *c, chan_msg_t *msg);

#endif
