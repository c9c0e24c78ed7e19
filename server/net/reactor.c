/* reactor.c: reactor threads. Each is a loop that owns connections (a
 * connection engine, net/conn.c) whose sink is this thread's channels to
 * the workers (net/workers.c); it takes the connections the main thread
 * accepted, reads its share of the datagram listeners, and carries out
 * the stop. Nothing is shared between threads on the data path. */
#include "net/reactor.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/affinity.h"
#include "core/log.h"
#include "event/loop.h"
#include "net/conn.h"
#include "net/dgram.h"
#include "net/workers.h"

/* A stopping reactor gives what it still has to write this long. */
#define REACTOR_STOP_FLUSH_MS 2000

typedef struct reactor reactor_t;

/* What the loop hands reactor_dgram_io: which reactor, which listener. */
typedef struct reactor_dgram {
    reactor_t *r;
    int listener;
} reactor_dgram_t;

struct reactor {
    int id;
    server_t *srv;
    pthread_t thread;
    loop_t *loop;
    int notify[2];       /* main thread -> reactor: handed-over fds */
    conn_engine_t eng;   /* the connections of this thread */
    workers_t workers;   /* their sink: the channels to the workers */
    char *dbuf;          /* swx_peer_t + a datagram */
    reactor_dgram_t *dgrams; /* [listener], for the datagram listeners */
};

typedef struct handover {
    int fd;       /* HANDOVER_STOP or HANDOVER_QUIESCE, or a connection */
    int listener;
    socklen_t peer_len; /* 0: not known (a unix socket's, or too long) */
    unsigned forks;     /* loop_fork_count() when fd was made */
    reactor_peer_t peer;
} handover_t;

#define HANDOVER_STOP (-1)
#define HANDOVER_QUIESCE (-2)

static reactor_t *reactors;
static int nreactors;
static int nstarted; /* threads running */
static _Atomic unsigned handover_rr;

/* Stop reading; deliver what the workers left; close each connection once
 * its output is written. */
static void reactor_begin_stop(reactor_t *r)
{
    workers_drain(&r->workers);
    conn_engine_begin_stop(&r->eng);
}

/* Handovers read at once: a read that returns fewer found the pipe
 * empty, and no read that says EAGAIN follows it. Each is written whole
 * (less than PIPE_BUF), so the pipe only ever holds whole ones. */
#define HANDOVER_BATCH 32

static void reactor_notify_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    reactor_t *r = arg;
    handover_t hs[HANDOVER_BATCH];
    ssize_t n;
    do {
        n = read(fd, hs, sizeof(hs));
        for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(hs[0]); i++) {
            const handover_t *h = &hs[i];
            if (h->fd == HANDOVER_STOP)
                reactor_begin_stop(r);
            else if (h->fd == HANDOVER_QUIESCE)
                conn_engine_quiesce(&r->eng);
            else
                conn_engine_accept_peer(&r->eng, h->fd, h->listener,
                                        &h->peer.sa, h->peer_len, h->forks);
        }
    } while (n == (ssize_t)sizeof(hs) || (n < 0 && errno == EINTR));
}

static void reactor_packet(void *arg, swx_peer_t *p, size_t len)
{
    reactor_t *r = arg;
    workers_packet(&r->workers, p, len);
}

static void reactor_dgram_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    const reactor_dgram_t *d = arg;
    dgram_read(fd, d->listener, d->r->dbuf, reactor_packet, d->r);
}

static void *reactor_main(void *arg)
{
    reactor_t *r = arg;
    log_set_role("reactor %d", r->id);
    char what[32];
    snprintf(what, sizeof(what), "reactor %d", r->id);
    if (r->srv->cfg.open_cpu_affinity)
        affinity_pin(r->id, what);
    affinity_sched(r->srv->cfg.sched_policy, what);
    int64_t deadline = 0;
    for (;;) {
        if (r->eng.stopping && deadline == 0)
            deadline = loop_now() + REACTOR_STOP_FLUSH_MS;
        if (r->eng.stopping &&
            (conn_engine_idle(&r->eng) || loop_now() >= deadline))
            break;
        int rc = loop_run_once(r->loop, r->eng.stopping ? 50 : -1);
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            break;
        }
    }
    conn_engine_close_all(&r->eng);
    return NULL;
}

static int reactor_init(reactor_t *r, server_t *srv, int id)
{
    r->id = id;
    r->srv = srv;
    r->notify[0] = r->notify[1] = -1;
    r->loop = loop_create();
    r->dbuf = malloc(DGRAM_BUF_SIZE);
    r->dgrams = calloc((size_t)srv->cfg.nlisteners, sizeof(*r->dgrams));
    if (r->loop == NULL || r->dbuf == NULL || r->dgrams == NULL ||
        conn_engine_init(&r->eng, r->loop, &srv->cfg, srv->shm, id,
                         &workers_sink, &r->workers) < 0 ||
        workers_init(&r->workers, &r->eng, srv, id) < 0)
        return -ENOMEM;
    if (pipe2(r->notify, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        log_error("pipe2: %s", strerror(err));
        return -err;
    }
    if (loop_add(r->loop, r->notify[0], LOOP_READ, reactor_notify_io, r) < 0)
        return -ENOMEM;
    for (int i = 0; i < srv->cfg.nlisteners; i++) {
        r->dgrams[i] = (reactor_dgram_t){r, i};
        if (config_listener_is_dgram(srv->cfg.listeners[i].type) &&
            i % srv->cfg.reactor_num == id &&
            loop_add(r->loop, srv->listen_fds[i], LOOP_READ, reactor_dgram_io,
                     &r->dgrams[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

int reactor_start_all(server_t *srv)
{
    nreactors = srv->cfg.reactor_num;
    reactors = calloc((size_t)nreactors, sizeof(*reactors));
    if (reactors == NULL)
        return -ENOMEM;
    for (int i = 0; i < nreactors; i++) {
        int rc = reactor_init(&reactors[i], srv, i);
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < nreactors; i++) {
        int rc = pthread_create(&reactors[i].thread, NULL, reactor_main,
                                &reactors[i]);
        if (rc != 0) {
            log_error("pthread_create(reactor %d): %s", i, strerror(rc));
            return -rc;
        }
        nstarted++;
    }
    return 0;
}

int reactor_hand_over(int fd, int listener, const reactor_peer_t *peer,
                      socklen_t peer_len, unsigned forks)
{
    unsigned i = atomic_fetch_add(&handover_rr, 1) % (unsigned)nreactors;
    handover_t h = {fd, listener, 0, forks, {.sa = {.sa_family = AF_UNSPEC}}};
    if (peer != NULL && peer_len <= sizeof(h.peer)) {
        memcpy(&h.peer, peer, peer_len);
        h.peer_len = peer_len;
    }
    if (write(reactors[i].notify[1], &h, sizeof(h)) != (ssize_t)sizeof(h)) {
        int err = errno;
        log_warn("fd %d: reactor %u is not keeping up (%s); closing", fd, i,
                 strerror(err));
        close(fd);
        return -err;
    }
    return 0;
}

static void reactor_free(reactor_t *r)
{
    workers_free(&r->workers);
    conn_engine_free(&r->eng);
    free(r->dbuf);
    free(r->dgrams);
    loop_free(r->loop);
    if (r->notify[0] >= 0) {
        close(r->notify[0]);
        close(r->notify[1]);
    }
}

static void reactor_tell_all(int what)
{
    handover_t h = {what, -1, 0, 0, {.sa = {.sa_family = AF_UNSPEC}}};
    for (int i = 0; i < nstarted; i++)
        if (write(reactors[i].notify[1], &h, sizeof(h)) < 0)
            log_error("reactor %d: cannot pass on %d: %s", i, what,
                      strerror(errno));
}

void reactor_quiesce_all(void)
{
    reactor_tell_all(HANDOVER_QUIESCE);
}

void reactor_stop_all(void)
{
    reactor_tell_all(HANDOVER_STOP);
    for (int i = 0; i < nreactors; i++) {
        if (i < nstarted)
            pthread_join(reactors[i].thread, NULL);
        if (reactors[i].srv != NULL)
            reactor_free(&reactors[i]);
    }
    nstarted = 0;
    free(reactors);
    reactors = NULL;
    nreactors = 0;
}
