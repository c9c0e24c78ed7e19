/* worker_base.c: a worker in base mode (server.mode "base"): it accepts
 * from the listeners the master bound, owns the connections it accepted
 * in a connection engine of its own whose sink calls the plugin directly
 * (net/direct.c), reads the datagram listeners, routes replies for other
 * workers' sessions through their mailboxes, and on a reload, max_request
 * or stop stops accepting at once and serves its connections to the end. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/session.h"
#include "http/access_log.h"
#include "http/http_api.h"
#include "ipc/ipc.h"
#include "ipc/shm_http.h"
#include "net/conn.h"
#include "net/dgram.h"
#include "net/direct.h"
#include "net/listener.h"
#include "plugin/api.h"
#include "plugin/coro_api.h"
#include "plugin/task.h"
#include "proc/child.h"
#include "proc/recycle.h"
#include "proc/worker.h"

/* How long a worker that ends gives its connections' output. */
#define BASE_FLUSH_MS 2000
/* Out of fds: accepting pauses this long. */
#define BASE_ACCEPT_PAUSE_MS 100

typedef struct base {
    int running;         /* this process is a base-mode worker */
    conn_engine_t eng;
    direct_t direct;
    char *dbuf;          /* a datagram being read */
    buf_t fwd;           /* a routed message made one */
    ipc_t lane;          /* messages for this process's sessions from the
                            other workers, read until it exits */
    int lane_id;         /* its sessions' reactor byte (server_lane_id) */
    int accepting;       /* the listeners are watched */
    int paused;          /* accepting pauses after EMFILE */
    int64_t pause_timer;
    int leaving;         /* max_request or a reload: no more accepting;
                            serve what is open, then exit */
    long long deadline;  /* ms: when leaving, the connections left close */
    int64_t published;   /* connections added to the slot's shm count */
} base_t;

static base_t base;

int worker_base_running(void)
{
    return base.running;
}

/* The slot's count in shm follows this process's connections, so that
 * the manager can take a crashed worker's off connection_num. */
static void base_publish(void)
{
    int64_t now = (int64_t)base.eng.sessions.count;
    if (now == base.published)
        return;
    atomic_fetch_add_explicit(&child.srv->shm->workers[child.id].connections,
                              now - base.published, memory_order_relaxed);
    base.published = now;
}

/* ---- accepting ---- */

static void base_accept_io(loop_t *loop, int fd, int events, void *arg);
static void base_dgram_io(loop_t *loop, int fd, int events, void *arg);

/* Watch listener i: of the workers that wait on it, one is woken per
 * connection (EPOLLEXCLUSIVE), not all. */
static int base_watch_one(int i)
{
    const server_t *s = child.srv;
    int dgram = config_listener_is_dgram(s->cfg.listeners[i].type);
    int rc = loop_add(child.loop, s->listen_fds[i], LOOP_READ | LOOP_EXCLUSIVE,
                      dgram ? base_dgram_io : base_accept_io,
                      (void *)(intptr_t)i);
    if (rc < 0)
        log_error("epoll_ctl(listeners[%d]): %s", i, strerror(-rc));
    return rc;
}

static void base_watch(int on)
{
    const server_t *s = child.srv;
    if (on == base.accepting)
        return;
    base.accepting = on;
    for (int i = 0; i < s->cfg.nlisteners; i++) {
        if (s->listen_fds[i] < 0)
            continue;
        if (on)
            base_watch_one(i);
        else
            loop_del(child.loop, s->listen_fds[i]);
    }
}

/*
 * The kernel wakes the first idle worker in a listener's wait queue: left
 * there, one worker would take every connection of a quiet server. Moving
 * this worker to the end of the queue after a connection spreads them
 * over the idle workers in turn. It costs two epoll_ctl calls, so it is
 * done only where it matters (base_should_rotate).
 */
static void base_rotate(int fd, int listener)
{
    loop_del(child.loop, fd);
    if (base_watch_one(listener) < 0)
        base.accepting = 0; /* logged; the next update tries again */
}

/* Whether to move to the end of the queue after an accept: when this
 * worker was woken for the connection alone (it was idle: a quiet server,
 * whose next connection would come to it again), or holds more than its
 * share of the connections by an eighth. A busy worker is passed over by
 * the kernel's exclusive wake-up anyway (it is not waiting), so under load
 * the connections spread without the calls. */
static int base_should_rotate(void)
{
    if (loop_batch(child.loop) <= 1)
        return 1;
    long total = (long)atomic_load(&child.srv->shm->connection_num);
    long fair = total / child.srv->cfg.worker_num;
    return (long)base.eng.sessions.count > fair + fair / 8 + 1;
}

static void base_resume_accept(int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    base.pause_timer = 0;
    base.paused = 0;
    child.update();
}

/* Out of fds: stop accepting for a moment instead of spinning on it. */
static void base_pause_accept(int listener, int err)
{
    log_error("accept4 on listeners[%d]: %s; not accepting for %d ms",
              listener, strerror(err), BASE_ACCEPT_PAUSE_MS);
    base.paused = 1;
    base_watch(0);
    base.pause_timer = timer_add(loop_timers(child.loop), loop_now(),
                                 BASE_ACCEPT_PAUSE_MS, 0, base_resume_accept,
                                 NULL);
    if (base.pause_timer < 0) /* logged: better spin than stop accepting */
        base_resume_accept(0, NULL);
}

/* One connection from listener's queue: 1 taken (or another may be: see
 * listener_accept), 0 none waiting, -1 an error (logged). */
static int base_accept_one(int fd, int listener)
{
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    unsigned forks = loop_fork_count();
    int c = listener_accept(fd, listener, child.srv->shm,
                            child.srv->cfg.max_conn,
                            (struct sockaddr *)&peer, &plen);
    if (c == -EINTR)
        return 1;
    if (c < 0) {
        if (listener_accept_starved(c))
            base_pause_accept(listener, -c);
        return c == -EAGAIN ? 0 : -1;
    }
    conn_engine_accept_peer(&base.eng, c, listener, (struct sockaddr *)&peer,
                            plen, forks);
    base_publish();
    return 1;
}

static void base_accept_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    int listener = (int)(intptr_t)arg;
    if (base_accept_one(fd, listener) > 0 && base.accepting &&
        base_should_rotate())
        base_rotate(fd, listener);
}

static void base_packet(void *arg, swx_peer_t *p, size_t len)
{
    (void)arg;
    direct_packet(&base.direct, p, len);
}

static void base_dgram_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    dgram_read(fd, (int)(intptr_t)arg, base.dbuf, base_packet, NULL);
}

/* The stop: connections the kernel completed that no worker took yet
 * would be reset with the listener; take them, so that a request already
 * sent on one is served like those on older connections. */
static void base_accept_pending(void)
{
    const server_t *s = child.srv;
    for (int i = 0; i < s->cfg.nlisteners; i++) {
        if (s->listen_fds[i] < 0 ||
            config_listener_is_dgram(s->cfg.listeners[i].type))
            continue;
        while (base_accept_one(s->listen_fds[i], i) > 0)
            ;
    }
}

/* The stop: this worker's copies of the stream listeners close, so that
 * the port is free once every process has closed its own. */
static void base_close_listeners(void)
{
    server_t *s = child.srv;
    for (int i = 0; i < s->cfg.nlisteners; i++) {
        if (s->listen_fds[i] < 0 ||
            config_listener_is_dgram(s->cfg.listeners[i].type))
            continue;
        loop_del(child.loop, s->listen_fds[i]);
        close(s->listen_fds[i]);
        s->listen_fds[i] = -1;
    }
}

/* ---- replies and routed messages ---- */

/* To the worker on lane owner, which accepted the session. */
static int base_forward(int owner, uint64_t session, int type,
                        const struct iovec *iov, int n)
{
    buf_reset(&base.fwd);
    for (int i = 0; i < n; i++)
        if (buf_append(&base.fwd, iov[i].iov_base, iov[i].iov_len) < 0)
            return -ENOMEM;
    ipc_hdr_t h = {.type = IPC_ROUTED, .index = (uint16_t)type,
                   .id = session, .pid = (uint32_t)getpid(),
                   .src = child.id};
    int rc = ipc_box_send(child.srv->lane_fds[owner][1], &h,
                          buf_head(&base.fwd), buf_pending(&base.fwd));
    buf_trim(&base.fwd, 64 * 1024);
    if (rc < 0)
        log_warn("session %llu: cannot pass a message to worker %d, which "
                 "owns it: %s", (unsigned long long)session,
                 owner % child.srv->cfg.worker_num, strerror(-rc));
    return rc;
}

int worker_base_sendv(uint64_t session, int type, const struct iovec *iov,
                      int n)
{
    if (!base.running)
        return -ENOTSUP;
    const server_t *s = child.srv;
    int owner = session_reactor(session);
    if (session == 0 || owner >= s->lanes * s->cfg.worker_num)
        return -ENOTCONN;
    if (owner == base.lane_id)
        return direct_reply(&base.direct, session, type, iov, n);
    return base_forward(owner, session, type, iov, n);
}

/* Another worker's reply for a session of this one. */
static void base_routed(const ipc_msg_t *m)
{
    struct iovec iov = {(void *)m->data, m->len};
    int type = m->hdr.index;
    if (type == IPC_BIND || type < IPC_CONNECT) {
        log_warn("routed message of type %d dropped", type);
        return;
    }
    direct_reply(&base.direct, m->hdr.id, type, &iov, 1);
}

/* The lane: read while the process runs, retiring or not, as its
 * connections are served to the end. */
static void base_lane_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    ipc_msg_t m;
    for (int i = 0; i < 64; i++) {
        if (ipc_recv(&base.lane, &m) <= 0)
            break;
        base_routed(&m);
    }
}

/* ---- states ---- */

/* Leave: no more connections; what is open is served (HTTP responses say
 * Connection: close) until it closes or max_wait_time. */
void worker_base_leave(const char *why)
{
    if (base.leaving)
        return;
    base.leaving = 1;
    long long wait = child.srv->cfg.max_wait_time * 1000LL;
    base.deadline = loop_now() + wait - (wait >= 2000 ? 1000 : 250);
    base_watch(0);
    log_info("%s: not accepting; serving %zu open connection(s) to the end",
             why, base.eng.sessions.count);
    conn_engine_leave(&base.eng); /* idle HTTP/2 ones are sent away now */
}

/* child.update: the signals change what this worker takes. */
static void base_update(void)
{
    if (child.draining && !base.eng.quiesced) {
        base_accept_pending();
        base_watch(0);
        base_close_listeners();
        conn_engine_quiesce(&base.eng);
    }
    if (child.retiring && !child.released) {
        worker_base_leave("reload");
        /* The listeners are the successor's at once. */
        child.released = 1;
        child_notify(WORKER_RELEASED);
    }
    base_watch(child_taking_work() && !child.draining && !base.leaving &&
               !base.paused);
    task_update();
}

void worker_base_recycle(const char *why)
{
    if (base.leaving)
        return;
    worker_base_leave(why);
    /* The slot (its mailbox too) goes to a new worker at once: this one
     * retires as after a reload (base_update). */
    child.retiring = 1;
    base_update();
}

/* Every message the engine hands to the plugin, then the recycle rules
 * (max_request within its grace, reload_on_rss), as a worker does after
 * each message from a channel; past them it leaves (worker_base_recycle),
 * and the requests still coming on its open connections are served. */
static void base_handle(const ipc_msg_t *m)
{
    worker_handle(m);
    recycle_after(worker_requests());
}

/* Draining for a stop: nothing handled in the last turn, no response
 * open in the plugins, every connection's output written. */
static int base_drained(long handled_before)
{
    if (child.handled != handled_before || http_api_open() > 0)
        return 0;
    size_t n;
    conn_t **list = conn_engine_list(&base.eng, &n);
    int pending = 0;
    for (size_t i = 0; list != NULL && i < n && !pending; i++)
        pending = conn_pending(list[i]);
    free(list);
    return list != NULL && !pending;
}

static void base_turn(long before)
{
    base_publish();
    long long now = loop_now();
    if (child.draining &&
        (base_drained(before) || now >= child.drain_deadline))
        child.stopping = 1;
    if (base.leaving && (conn_engine_idle(&base.eng) || now >= base.deadline)) {
        if (child.released)
            worker_wind_down();
        child.stopping = 1;
    }
}

static void base_loop(void)
{
    while (!child.stopping) {
        long before = child.handled;
        int busy = child.draining || base.leaving;
        int rc = loop_run_once(child.loop, busy ? 100 : -1);
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            break;
        }
        base_turn(before);
    }
}

/* What is still open closes once its output is written (2 s at most). */
static void base_close_all(void)
{
    base_watch(0);
    conn_engine_begin_stop(&base.eng);
    long long deadline = loop_now() + BASE_FLUSH_MS;
    while (!conn_engine_idle(&base.eng) && loop_now() < deadline)
        loop_run_once(child.loop, 50);
    conn_engine_close_all(&base.eng);
    base_publish();
}

/* The access log's writer writes what it holds; a writer stuck on its
 * disk is given up before the manager's SIGKILL at max_wait_time, which
 * the stop and a leaving worker's deadline keep a second (250 ms) ahead
 * of. */
static void base_log_stop(void)
{
    long long deadline = child.draining ? child.drain_deadline
                         : base.leaving ? base.deadline
                                        : loop_now() + 1000;
    long long wait = child.srv->cfg.max_wait_time * 1000LL;
    long long left = deadline + (wait >= 2000 ? 500 : 100) - loop_now();
    access_log_stop_within(left > 100 ? (long)left : 100);
}

/* ---- set-up ---- */

static int base_setup(void)
{
    server_t *s = child.srv;
    base.running = 1;
    base.lane_id = server_lane_id(s, child.id, s->lane);
    base.lane.fd = -1;
    base.dbuf = malloc(DGRAM_BUF_SIZE);
    if (base.dbuf == NULL ||
        conn_engine_init(&base.eng, child.loop, &s->cfg, s->shm, child.id,
                         &direct_sink, &base.direct) < 0 ||
        ipc_init(&base.lane, s->lane_fds[base.lane_id][0],
                 s->cfg.task_max_size, IPC_TO_LANE) < 0 ||
        loop_add(child.loop, base.lane.fd, LOOP_READ, base_lane_io, NULL) < 0)
        return -1;
    base.eng.tag = base.lane_id; /* its sessions name its lane */
    conn_engine_share_ids(&base.eng);
    /* This worker's lines, written by a thread of its own. */
    if (access_log_start_at(&s->cfg, child.id, 1, (int)s->master_pid,
                            &s->shm->http->access_log_dropped) < 0)
        return -1;
    direct_init(&base.direct, &base.eng, base_handle);
    return 0;
}

static void base_free(void)
{
    if (base.pause_timer > 0)
        timer_clear(loop_timers(child.loop), base.pause_timer);
    direct_free(&base.direct);
    conn_engine_free(&base.eng);
    if (base.lane.fd >= 0) {
        loop_del(child.loop, base.lane.fd);
        ipc_free(&base.lane);
    }
    buf_free(&base.fwd);
    free(base.dbuf);
    base.dbuf = NULL;
}

void worker_base_run(server_t *srv, int id, int standby, int notify_fd)
{
    child.update = base_update;
    if (child_init(srv, id, standby, notify_fd) < 0 || base_setup() < 0)
        child_exit(1, 0);
    api_set_role(id, &worker_ops);
    worker_coro_setup();
    if (child_load_plugins(1) < 0) {
        base_free();
        child_exit(WORKER_EXIT_START_FAILED, 0);
    }
    log_debug(standby ? "started in standby (base mode)"
                      : "started (base mode)");
    base_update(); /* watching the listeners before saying it started */
    child_notify(standby ? WORKER_READY : WORKER_STARTED);
    base_loop();
    api_coro_stop(); /* waiting callbacks end while their clients remain */
    base_close_all();
    base_log_stop(); /* every connection's last line is in */
    for (int i = 0; i < srv->cfg.nplugins; i++)
        api_call(&child.plugins[i], on_worker_stop, id);
    log_debug("exiting after %ld requests", worker_requests());
    http_api_free();
    base_free();
    child_exit(0, 0);
}
