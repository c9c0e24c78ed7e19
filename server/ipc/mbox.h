/* mbox.h: mailboxes between processes (tasks, results, messages): any process
 * drops a whole message into another's mailbox with one send; a payload
 * bigger than a frame travels in a sealed memfd passed along with it. */
#ifndef SWX_MBOX_H
#define SWX_MBOX_H

#include <stddef.h>
#include <stdint.h>

enum mbox_type {
    MBOX_TASK = 1,   /* worker -> task worker */
    MBOX_FINISH,     /* task worker -> worker: a task's result */
    MBOX_PIPE,       /* any -> any: swx_send_message */
    MBOX_TYPE_END
};

#define MBOX_NOREPLY 0x01 /* task: the sender wants no result */
#define MBOX_WAIT 0x02    /* task/finish: swx_taskwait is waiting for it */
#define MBOX_MEMFD 0x04   /* the payload is in the attached fd */

typedef struct mbox_hdr {
    uint8_t type;
    uint8_t flags;
    uint16_t plugin;  /* the plugin whose callback gets it (config index) */
    int32_t src;      /* the sender's process id (worker, task worker, ...) */
    int64_t task_id;
    uint64_t len;     /* payload bytes */
    int32_t task_pid; /* task/finish: the process that sent the task; a
                         slot's mailbox outlives it, its ids do not */
    int32_t reserved;
} mbox_hdr_t;

/* Payloads up to this size go inline in the frame. */
#define MBOX_INLINE_MAX (60 * 1024)

typedef struct mbox_msg {
    mbox_hdr_t hdr;
    const char *data; /* valid until the next mbox_recv on this mailbox */
    size_t len;
} mbox_msg_t;

typedef struct mbox {
    int fd;           /* the end this process reads */
    size_t max_len;   /* longer payloads are dropped */
    char *rx;         /* inline frames */
    void *map;        /* the last memfd payload, mapped */
    size_t map_len;
} mbox_t;

/* fds[0] is read by the owner, fds[1] written by everyone else. */
int mbox_socketpair(int fds[2]);
int mbox_init(mbox_t *m, int fd, size_t max_len);
void mbox_free(mbox_t *m);

/* One message, never partial: 0, -EAGAIN when the mailbox is full,
 * -E2BIG over max, or -errno. */
int mbox_send(int fd, const mbox_hdr_t *h, const void *data, size_t len);

/* 1 with *msg, 0 when empty, or -errno. Malformed messages are logged and
 * dropped. */
int mbox_recv(mbox_t *m, mbox_msg_t *msg);

#endif
