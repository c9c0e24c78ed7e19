/* worker.c: a worker process: runs the plugins' callbacks for the events the
 * reactors send, and carries their replies back. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plugin/api.h"
#include "plugin/coro_api.h"
#include "coro/chan.h"
#include "coro/coro.h"
#include "ipc/ipc.h"
#include "proc/child.h"
#include "proc/recycle.h"
#include "proc/worker.h"
#include "http/http_api.h"
#include "http/http_msg.h"
#include "core/log.h"
#include "plugin/plugin_io.h"
#include "core/session.h"
#include "plugin/task.h"
#include "proc/watch.h"

#define WORKER_CHAN_BATCH 32
/* Replies are batched while the worker takes the messages that are there
 * (ipc_batch_on); a reply waits at most about this long for the later
 * callbacks before its batch goes. */
#define WORKER_BATCH_WAIT_US 200
/* Incoming messages are bounded by what a reactor can frame. */
#define WORKER_MAX_MSG (64 * 1024 * 1024)

/* Swoole's send_yield: a coroutine's send waits while its channel to the
 * reactor holds more than this unsent, until it is down to the low mark,
 * instead of queueing without bound (the worker only knows its channel,
 * not the connection's output: see "Backpressure" in architecture.md). */
#define WORKER_SEND_HIGH (1024 * 1024)
#define WORKER_SEND_LOW (256 * 1024)

static ipc_t *chans;    /* [reactor] */
static int chans_shared; /* batching through srv->chan_shared (serving) */
static coro_waitq_t *drain_waiters; /* [reactor]: coroutines in a send */
static long requests;
static int current_listener = -1; /* of the event being handled */

/* A channel is read while the worker takes work; a retiring worker still
 * reads the rest of a message it has begun. */
static int worker_chan_reads(const ipc_t *ch)
{
    return child_taking_work() ||
           (child.retiring && !child.stopping && ipc_receiving(ch));
}

static int worker_chan_events(const ipc_t *ch)
{
    return (ipc_queued(ch) > 0 ? LOOP_WRITE : 0) |
           (worker_chan_reads(ch) ? LOOP_READ : 0);
}

static void worker_chan_update(ipc_t *ch)
{
    loop_mod(child.loop, ch->fd, worker_chan_events(ch));
}

static void worker_share_chans(void);

static void worker_update(void)
{
    if (!child.standby && !chans_shared && !child.released)
        worker_share_chans();
    for (int r = 0; r < child.srv->cfg.reactor_num; r++)
        worker_chan_update(&chans[r]);
    task_update();
}

/* In a coroutine: wait for room in the channel to reactor r. */
static int worker_send_yield(int r)
{
    if (coro_self() == NULL || drain_waiters == NULL)
        return 0;
    int secs = child.srv->cfg.send_timeout;
    while (ipc_pending(&chans[r]) > WORKER_SEND_HIGH) {
        int rc = coro_waitq_wait(&drain_waiters[r], secs > 0 ? secs * 1000L
                                                            : -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The channel drained: let waiting senders go on while there is room. */
static void worker_send_resume(ipc_t *ch)
{
    coro_waitq_t *q = drain_waiters != NULL ? &drain_waiters[ch - chans]
                                            : NULL;
    while (q != NULL && ipc_pending(ch) <= WORKER_SEND_LOW &&
           coro_waitq_wake_one(q, 0))
        ;
}

int worker_sendv(uint64_t session, int type, const struct iovec *iov, int n)
{
    if (child.srv != NULL && child.srv->cfg.mode == SERVER_MODE_BASE)
        return worker_base_sendv(session, type, iov, n);
    if (chans == NULL)
        return -ENOTSUP;
    int r = session_reactor(session);
    if (session == 0 || r >= child.srv->cfg.reactor_num)
        return -ENOTCONN;
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    int rc = worker_send_yield(r);
    if (rc == 0)
        rc = worker_full_wait(session, type, len,
                              child.srv->cfg.send_timeout);
    if (rc < 0)
        return rc;
    ipc_t *ch = &chans[r];
    int queued = ipc_queued(ch) > 0;
    rc = ipc_sendv(ch, type, 0, session, iov, n);
    /* Most sends are batched: the loop's interest stays as it was. */
    if ((ipc_queued(ch) > 0) != queued)
        worker_chan_update(ch);
    return rc;
}

int worker_send_msg(uint64_t session, int type, const void *data,
                    size_t len)
{
    struct iovec iov = {(void *)data, len};
    return worker_sendv(session, type, &iov, 1);
}

static int worker_send(uint64_t session, const void *data, size_t len)
{
    if (len > child.srv->cfg.buffer_output_size)
        return -E2BIG;
    return worker_send_msg(session, IPC_SEND, data, len);
}

static int worker_close(uint64_t session)
{
    return worker_send_msg(session, IPC_CLOSE_REQ, NULL, 0);
}

static int worker_sendto(const swx_peer_t *peer, const void *data,
                         size_t len)
{
    const config_t *c = &child.srv->cfg;
    if (peer == NULL || peer->listener < 0 || peer->listener >= c->nlisteners ||
        !config_listener_is_dgram(c->listeners[peer->listener].type) ||
        peer->raw_len > sizeof(peer->raw))
        return -EINVAL;
    ssize_t n = sendto(child.srv->listen_fds[peer->listener], data, len,
                       MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)peer->raw,
                       (socklen_t)peer->raw_len);
    return n < 0 ? -errno : 0;
}

static int worker_bind(uint64_t session, uint32_t uid)
{
    if (child.srv->cfg.dispatch_mode != 5 ||
        child.srv->cfg.mode == SERVER_MODE_BASE)
        return -ENOTSUP;
    if (uid == 0)
        return -EINVAL;
    return worker_send_msg(session, IPC_BIND, &uid, sizeof(uid));
}

static int worker_listener(void)
{
    return current_listener;
}

size_t worker_output_max(void)
{
    return chans != NULL || worker_base_running()
               ? child.srv->cfg.buffer_output_size
               : 0;
}

long worker_requests(void)
{
    return requests;
}

const api_ops_t worker_ops = {
    worker_send, worker_close, worker_sendto, worker_bind, worker_listener,
};

static const plugin_t *worker_plugin_for(int listener)
{
    if (listener < 0 || listener >= child.srv->cfg.nlisteners)
        return NULL;
    return &child.plugins[child.srv->cfg.listeners[listener].plugin];
}

/* A delivery that counts towards max_request. */
static void worker_count(shm_worker_t *sw)
{
    requests++;
    atomic_fetch_add_explicit(&sw->requests, 1, memory_order_relaxed);
}

static void worker_dispatch(const plugin_t *p, const ipc_msg_t *m,
                            shm_worker_t *sw)
{
    if (m->type == HTTP_MSG_REQUEST || m->type == WS_MSG_MESSAGE)
        worker_count(sw);
    if (m->type == IPC_PACKET && m->len >= sizeof(swx_peer_t)) {
        worker_count(sw);
        api_call(p, on_packet, (const swx_peer_t *)m->data,
                 m->data + sizeof(swx_peer_t), m->len - sizeof(swx_peer_t));
    } else if (m->type == IPC_RECEIVE) {
        worker_count(sw);
        api_call(p, on_receive, m->session, m->data, m->len);
    } else if (m->type == IPC_CONNECT && m->len == sizeof(swx_conninfo_t)) {
        api_call(p, on_connect, m->session, (const swx_conninfo_t *)m->data);
    } else if (m->type == IPC_CLOSE) {
        worker_full_gone(m->session);
        http_api_gone(m->session);
        api_call(p, on_close, m->session);
        http_api_release(m->session);
    } else if (!http_api_handle(p, m)) {
        log_warn("unexpected message type %d (%zu bytes) dropped", m->type,
                 m->len);
    }
}

/* The callback a message is for, as the watchdog names it. */
static const char *worker_callback(int type)
{
    switch (type) {
    case IPC_CONNECT: return "on_connect";
    case IPC_RECEIVE: return "on_receive";
    case IPC_CLOSE: return "on_close";
    case IPC_PACKET: return "on_packet";
    case HTTP_MSG_REQUEST: return "on_request";
    case WS_MSG_OPEN: return "on_open";
    case WS_MSG_MESSAGE: return "on_message";
    case WS_MSG_CLOSE: return "on_ws_close";
    default: return "a message";
    }
}

void worker_handle(const ipc_msg_t *m)
{
    const plugin_t *p = worker_plugin_for(m->listener);
    if (p == NULL) {
        log_warn("message for unknown listener %d dropped", m->listener);
        return;
    }
    shm_worker_t *sw = &child.srv->shm->workers[child.id];
    atomic_store_explicit(&sw->busy, 1, memory_order_relaxed);
    child_count_event();
    current_listener = m->listener;
    watch_begin(p, worker_callback(m->type), m->listener, m->session);
    if (m->type == IPC_PACKET && m->len >= sizeof(swx_peer_t))
        watch_detail("from %s:%d", ((const swx_peer_t *)m->data)->addr,
                     ((const swx_peer_t *)m->data)->port);
    worker_dispatch(p, m, sw);
    watch_end();
    current_listener = -1;
    atomic_store_explicit(&sw->busy, 0, memory_order_relaxed);
}

/* Replies batched for the reactors go out (before the loop waits, and
 * before anything else waits: child.flush). */
static void worker_flush_batches(void)
{
    for (int r = 0; chans != NULL && r < child.srv->cfg.reactor_num; r++) {
        ipc_t *ch = &chans[r];
        if (ipc_pending(ch) == ipc_queued(ch))
            continue;
        int rc = ipc_flush(ch);
        if (rc < 0 && rc != -EAGAIN && rc != -EPIPE)
            log_error("channel to reactor %d: %s", r, strerror(-rc));
        /* No worker_send_resume here: it may run a coroutine, whose
         * sends this flush would miss before the loop waits. Senders wait
         * for the queue, which the writable fd drains. */
        worker_chan_update(ch);
    }
}

static void worker_prepare(void *arg)
{
    (void)arg;
    worker_flush_batches();
}

/* Microseconds, to bound how long a reply waits in its batch. */
static int64_t worker_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void worker_chan_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    ipc_t *ch = arg;
    if (events & LOOP_WRITE)
        ipc_flush(ch);
    if (events & LOOP_READ) {
        worker_full_looked();
        ipc_wake(ch);
    }
    ipc_msg_t m;
    int64_t since = worker_now_us();
    /* The records of a batch already read are taken whatever the count:
     * no fd event would come back for them. A process on its way out
     * (max_request) leaves them to its replacement (ipc_share). */
    for (int i = 0; (events & LOOP_READ) &&
                    (i < WORKER_CHAN_BATCH || ipc_buffered(ch)); i++) {
        if (!worker_chan_reads(ch))
            break;
        int rc = ipc_recv(ch, &m);
        if (rc < 0) {
            log_error("channel fd %d: %s; exiting", ch->fd, strerror(-rc));
            child.stopping = 1;
        }
        if (rc <= 0)
            break;
        if (m.type == IPC_OUTPUT_FULL || m.type == IPC_OUTPUT_DRAINED) {
            worker_full_notice(&m); /* no callback: not an event */
            continue;
        }
        api_coro_dispatch(ch, &m, worker_handle);
        /* A callback that waits (a coroutine) leaves the worker idle for
         * dispatch_mode 3 and the stats until it runs again. */
        atomic_store_explicit(&child.srv->shm->workers[child.id].busy, 0,
                              memory_order_relaxed);
        recycle_after(requests); /* max_request, reload_on_rss */
        /* Slow callbacks: the replies of the earlier ones do not wait. */
        int64_t now = worker_now_us();
        if (now - since >= WORKER_BATCH_WAIT_US) {
            worker_flush_batches();
            since = now;
        }
    }
    /* Senders go on after the messages read: an IPC_OUTPUT_FULL among
     * them stops a stream before it sends more. */
    if (events & LOOP_WRITE)
        worker_send_resume(ch);
    worker_chan_update(ch);
}

/* Retiring: once no channel is mid-message, hand them to the successor,
 * with nothing left in their shared batches. */
static void worker_try_release(void)
{
    for (int r = 0; r < child.srv->cfg.reactor_num; r++)
        if (ipc_receiving(&chans[r]))
            return;
    worker_flush_batches();
    for (int r = 0; r < child.srv->cfg.reactor_num; r++)
        ipc_unshare(&chans[r]);
    chans_shared = 0;
    child.released = 1;
    worker_update();
    child_notify(WORKER_RELEASED);
    log_debug("retiring: channels released after %ld requests", requests);
}

static int worker_chans_idle(void)
{
    for (int r = 0; r < child.srv->cfg.reactor_num; r++)
        if (ipc_pending(&chans[r]) > 0 || ipc_receiving(&chans[r]))
            return 0;
    return 1;
}

static int worker_setup_chans(void)
{
    server_t *s = child.srv;
    chans = calloc((size_t)s->cfg.reactor_num, sizeof(ipc_t));
    drain_waiters = calloc((size_t)s->cfg.reactor_num, sizeof(coro_waitq_t));
    if (chans == NULL || drain_waiters == NULL)
        return -1;
    for (int r = 0; r < s->cfg.reactor_num; r++) {
        int fd = s->chan_fds[server_chan(s, child.id, r)][1];
        if (ipc_init(&chans[r], fd, WORKER_MAX_MSG, IPC_TO_WORKER) < 0)
            return -1;
        ipc_one_frame(&chans[r]);
        if (loop_add(child.loop, fd, worker_chan_events(&chans[r]),
                     worker_chan_io, &chans[r]) < 0)
            return -1;
    }
    child.flush = worker_flush_batches;
    return loop_prepare(child.loop, worker_prepare, NULL);
}

/* Messages an earlier process of this slot had read and not taken. */
static void worker_take_left(void *arg)
{
    (void)arg;
    for (int r = 0; r < child.srv->cfg.reactor_num; r++)
        if (ipc_buffered(&chans[r]))
            worker_chan_io(child.loop, chans[r].fd, LOOP_READ, &chans[r]);
}

/*
 * Serving (at start, or when a standby process is told to): the channels
 * batch through the slot's shared memory, where the process before may
 * have left replies (sent now, before anything else) and messages (taken
 * first). Never while another process of the slot still serves.
 */
static void worker_share_chans(void)
{
    server_t *s = child.srv;
    int left = 0;
    for (int r = 0; r < s->cfg.reactor_num; r++)
        left |= ipc_share(&chans[r],
                          &s->chan_shared[server_chan(s, child.id, r)]);
    chans_shared = 1;
    worker_flush_batches();
    if (left) {
        log_info("taking the messages the process before had read");
        loop_defer(child.loop, worker_take_left, NULL);
    }
}

/* Write out queued replies before exiting, for up to max_wait_time. */
static void worker_flush(void)
{
    long long deadline = loop_now() + child.srv->cfg.max_wait_time * 1000LL;
    for (int r = 0; r < child.srv->cfg.reactor_num; r++) {
        ipc_t *ch = &chans[r];
        while (ipc_flush(ch) == -EAGAIN) {
            long long left = deadline - loop_now();
            if (left <= 0) {
                log_warn("max_wait_time passed with %zu bytes of replies "
                         "unsent", ipc_pending(ch));
                return;
            }
            struct pollfd pfd = {.fd = ch->fd, .events = POLLOUT};
            poll(&pfd, 1, (int)left);
        }
    }
}

/*
 * Reload: the channels are handed over; what the plugins still have in the
 * loop (timers, their own fds) runs on, with on_worker_exit after each
 * round so they can wind it down, until none is left or max_wait_time.
 */
void worker_wind_down(void)
{
    long long deadline =
        loop_now() + child.srv->cfg.max_wait_time * 1000LL - 250;
    api_coro_stop();
    for (;;) {
        for (int i = 0; i < child.srv->cfg.nplugins; i++)
            api_call(&child.plugins[i], on_worker_exit, child.id);
        if (pio_active() == 0 || child.stopping)
            return;
        long long left = deadline - loop_now();
        if (left <= 0) {
            log_warn("reload: %d timer(s) or fd(s) still active after "
                     "max_wait_time; exiting", pio_active());
            return;
        }
        loop_run_once(child.loop, left < 100 ? (int)left : 100);
    }
}

/* The process before this one died: every reactor asks this one about
 * the requests it had sent to the slot (HTTP_MSG_PROBE). */
static void worker_report_lost(void)
{
    /* Killed past max_execution_time: the reactors answer its requests
     * 504 and close its stream clients (ipc_lost_t). */
    shm_worker_t *sw = &child.srv->shm->workers[child.id];
    ipc_lost_t lost = {atomic_load(&sw->stuck_session), 1, {0}};
    size_t len = atomic_exchange(&sw->stuck_killed, 0) ? sizeof(lost) : 0;
    for (int r = 0; r < child.srv->cfg.reactor_num; r++) {
        if (ipc_send(&chans[r], IPC_WORKER_LOST, 0, 0, &lost, len) < 0)
            log_warn("cannot tell reactor %d of the lost worker", r);
        worker_chan_update(&chans[r]);
    }
}

static void worker_loop(void)
{
    while (!child.stopping) {
        long before = child.handled;
        int rc = loop_run_once(child.loop, child.draining ? 100 : -1);
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            break;
        }
        if (child.draining &&
            ((child.handled == before && worker_chans_idle() &&
              http_api_open() == 0) ||
             loop_now() >= child.drain_deadline))
            child.stopping = 1;
        if (child.retiring && !child.released && !child.stopping)
            worker_try_release();
        if (child.released) {
            worker_wind_down();
            child.stopping = 1;
        }
    }
}

static void worker_free_chans(void)
{
    for (int r = 0; chans != NULL && r < child.srv->cfg.reactor_num; r++)
        ipc_free(&chans[r]);
    free(chans);
    chans = NULL;
    free(drain_waiters);
    drain_waiters = NULL;
}

void worker_coro_setup(void)
{
    coro_local(&current_listener, sizeof(current_listener));
}

void worker_run(server_t *srv, int id, int standby, int notify_fd)
{
    if (srv->cfg.mode == SERVER_MODE_BASE)
        worker_base_run(srv, id, standby, notify_fd);
    child.update = worker_update;
    if (child_init(srv, id, standby, notify_fd) < 0 ||
        worker_setup_chans() < 0)
        child_exit(1, 0);
    api_set_role(id, &worker_ops);
    worker_coro_setup();
    if (child_load_plugins(1) < 0) {
        worker_free_chans();
        child_exit(WORKER_EXIT_START_FAILED, 0);
    }
    log_debug(standby ? "started in standby" : "started");
    if (!standby)
        worker_share_chans();
    child_notify(standby ? WORKER_READY : WORKER_STARTED);
    if (!standby && atomic_exchange(&srv->shm->workers[id].lost, 0))
        worker_report_lost();
    atomic_store(&srv->shm->workers[id].stuck_killed, 0);
    worker_loop();
    api_coro_stop(); /* waiting coroutines clean up before on_worker_stop */
    for (int i = 0; i < srv->cfg.nplugins; i++)
        api_call(&child.plugins[i], on_worker_stop, id);
    worker_flush();
    log_debug("exiting after %ld requests", requests);
    http_api_free();
    worker_free_chans();
    child_exit(0, 0);
}
