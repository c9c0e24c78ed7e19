/* worker_full.c: send_yield in a process-mode worker: the sessions whose
 * connection output a reactor reported over buffer_high_watermark
 * (IPC_OUTPUT_FULL), and the coroutines whose sends wait for them to drain
 * (IPC_OUTPUT_DRAINED), to close, or for send_timeout. */
#include <errno.h>
#include <stdint.h>

#include "core/log.h"
#include "coro/chan.h"
#include "coro/coro.h"
#include "coro/wait.h"
#include "http/http_msg.h"
#include "proc/child.h"
#include "proc/worker.h"

/* Sessions reported full at once: a worker streams to a few slow clients
 * at a time; one past this many does not wait (the reactor's
 * buffer_output_size still bounds it). */
#define WORKER_FULL_MAX 256

typedef struct worker_full {
    uint64_t session;  /* 0: free */
    int looking;       /* not reported full: held while the loop reads */
    coro_waitq_t q;    /* its senders; stays in place while they wait */
} worker_full_t;

static worker_full_t fulls[WORKER_FULL_MAX];
static int nfull; /* slots in use, to skip the scan when none is */
static size_t since_look; /* bytes sent since the loop last read */
static int look_deferred;

static worker_full_t *worker_full_find(uint64_t session)
{
    for (int i = 0; nfull > 0 && i < WORKER_FULL_MAX; i++)
        if (fulls[i].session == session)
            return &fulls[i];
    return NULL;
}

/* The messages that carry bytes for the client wait; a close, a bind or
 * an answer to the reactor never does. */
static int worker_full_waits(int type)
{
    return type == IPC_SEND || type == HTTP_MSG_END ||
           type == HTTP_MSG_STREAM || type == WS_MSG_PUSH;
}

/* A coroutine that streams without ever waiting would read no notice
 * until its channel is full: after this much it holds the session for
 * WORKER_FULL_PAUSE_MS while the loop sends what it gathered and reads
 * its channels, which gives the reactor time to report the connection
 * full (a stream to a fast client goes at most 512 MB/s per coroutine). */
#define WORKER_FULL_LOOK (512 * 1024)
#define WORKER_FULL_PAUSE_MS 1

static worker_full_t *worker_full_take(uint64_t session, int looking);
static void worker_full_release(uint64_t session, int rc);

/* The loop's next run, after it sent its batches and read its channels:
 * the sessions held for a look that no notice reported full go on. */
static void worker_full_look_done(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    look_deferred = 0;
    for (int i = 0; nfull > 0 && i < WORKER_FULL_MAX; i++)
        if (fulls[i].session != 0 && fulls[i].looking)
            worker_full_release(fulls[i].session, 0);
}

/* Hold session's sends (this one and any other coroutine's, in order)
 * until the loop has read its channels: a notice that it is full may be
 * there. Held, not slept: a later callback must not send to it first. */
static void worker_full_look(uint64_t session)
{
    if (worker_full_find(session) != NULL ||
        worker_full_take(session, 1) == NULL)
        return;
    /* A timer, not loop_defer: the end of this run comes before the
     * batch holding what was sent is flushed, so the reactor could not
     * have answered yet. */
    if (!look_deferred &&
        timer_add(loop_timers(child.loop), loop_now(), WORKER_FULL_PAUSE_MS,
                  0, worker_full_look_done, NULL) > 0)
        look_deferred = 1;
    else if (!look_deferred)
        worker_full_release(session, 0); /* no memory: do not hold it */
}

int worker_full_wait(uint64_t session, int type, size_t len,
                     int timeout_secs)
{
    if (coro_self() == NULL || !worker_full_waits(type))
        return 0;
    since_look += len;
    if (since_look >= WORKER_FULL_LOOK) {
        since_look = 0;
        worker_full_look(session);
    }
    worker_full_t *f;
    while ((f = worker_full_find(session)) != NULL) {
        int rc = coro_waitq_wait(&f->q, timeout_secs > 0
                                            ? timeout_secs * 1000L : -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The session is no longer full: its senders go on (rc 0), or learn
 * that the connection is gone (-ENOTCONN). */
static void worker_full_release(uint64_t session, int rc)
{
    worker_full_t *f = worker_full_find(session);
    if (f == NULL)
        return;
    f->session = 0;
    nfull--;
    coro_waitq_wake_all(&f->q, rc);
}

/* A free slot for session, or NULL (logged once). */
static worker_full_t *worker_full_take(uint64_t session, int looking)
{
    static int warned;
    for (int i = 0; i < WORKER_FULL_MAX; i++) {
        if (fulls[i].session == 0 && coro_waitq_empty(&fulls[i].q)) {
            fulls[i].session = session;
            fulls[i].looking = looking;
            nfull++;
            return &fulls[i];
        }
    }
    if (!warned++)
        log_warn("more than %d sessions with a full output at once: the "
                 "senders of session %llu do not wait",
                 WORKER_FULL_MAX, (unsigned long long)session);
    return NULL;
}

static void worker_full_mark(uint64_t session)
{
    worker_full_t *f = worker_full_find(session);
    if (f != NULL)
        f->looking = 0; /* held for a look: now for the drained notice */
    else
        worker_full_take(session, 0);
}

void worker_full_notice(const ipc_msg_t *m)
{
    if (m->type == IPC_OUTPUT_FULL && m->len == 0) {
        worker_full_mark(m->session);
    } else if (m->type == IPC_OUTPUT_DRAINED && m->len == 1) {
        int gone = (m->data[0] & IPC_DRAINED_CLOSED) != 0;
        worker_full_release(m->session, gone ? -ENOTCONN : 0);
    } else {
        log_warn("channel: output notice of type %d and %zu bytes dropped",
                 m->type, m->len);
    }
}

void worker_full_looked(void)
{
    since_look = 0;
}

void worker_full_gone(uint64_t session)
{
    worker_full_release(session, -ENOTCONN);
}
