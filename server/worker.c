/* worker.c: a worker process: loads the plugins afresh, then runs their
 * callbacks for the events the reactors send, and carries their replies back. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "chan.h"
#include "log.h"
#include "loop.h"
#include "plugin.h"
#include "plugin_io.h"
#include "proctitle.h"
#include "server.h"
#include "session.h"

#define WORKER_CHAN_BATCH 32
/* Incoming messages are bounded by what a reactor can frame. */
#define WORKER_MAX_MSG (64 * 1024 * 1024)

typedef struct worker {
    int id;
    server_t *srv;
    loop_t *loop;
    chan_t *chans;         /* [reactor] */
    plugin_t *plugins;     /* [config plugin] */
    int sigfd;
    int notify_fd;         /* to the manager: worker_notice_t */
    long requests;
    int standby;           /* loaded, waiting for SIGUSR2 to serve */
    int retiring;          /* SIGUSR1: stop reading, finish, exit */
    int released;          /* retiring and no longer reading */
    int draining;          /* SIGTERM: serve what was sent, then stop */
    long long drain_deadline; /* ms */
    long handled;          /* messages handled, all kinds */
    int stopping;
} worker_t;

static worker_t self;

/* A channel is read unless the worker waits in standby or retires; a
 * retiring worker still reads the rest of a message it has begun. */
static int worker_chan_events(const chan_t *ch)
{
    int ev = chan_queued(ch) > 0 ? LOOP_WRITE : 0;
    if (!self.standby && !self.stopping &&
        (!self.retiring || chan_receiving(ch)))
        ev |= LOOP_READ;
    return ev;
}

static void worker_chan_update(chan_t *ch)
{
    loop_mod(self.loop, ch->fd, worker_chan_events(ch));
}

static void worker_notify(int event)
{
    worker_notice_t n = {self.id, event, (int32_t)getpid()};
    if (write(self.notify_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        log_error("cannot notify the manager: %s", strerror(errno));
}

static int api_send_msg(uint64_t session, int type, const void *data,
                        size_t len)
{
    int r = session_reactor(session);
    if (session == 0 || r >= self.srv->cfg.reactor_num)
        return -ENOTCONN;
    chan_t *ch = &self.chans[r];
    int rc = chan_send(ch, type, 0, session, data, len);
    worker_chan_update(ch);
    return rc;
}

static int worker_send(uint64_t session, const void *data, size_t len)
{
    if (len > self.srv->cfg.buffer_output_size)
        return -E2BIG;
    return api_send_msg(session, CHAN_SEND, data, len);
}

static int worker_close(uint64_t session)
{
    return api_send_msg(session, CHAN_CLOSE_REQ, NULL, 0);
}

static const api_ops_t worker_ops = {worker_send, worker_close};

static const plugin_t *worker_plugin_for(int listener)
{
    if (listener < 0 || listener >= self.srv->cfg.nlisteners)
        return NULL;
    return &self.plugins[self.srv->cfg.listeners[listener].plugin];
}

static void worker_handle(const chan_msg_t *m)
{
    const plugin_t *p = worker_plugin_for(m->listener);
    if (p == NULL) {
        log_warn("message for unknown listener %d dropped", m->listener);
        return;
    }
    shm_worker_t *sw = &self.srv->shm->workers[self.id];
    atomic_store_explicit(&sw->busy, 1, memory_order_relaxed);
    self.handled++;
    if (m->type == CHAN_RECEIVE) {
        self.requests++;
        atomic_fetch_add_explicit(&sw->requests, 1, memory_order_relaxed);
        api_call(p, on_receive, m->session, m->data, m->len);
    } else if (m->type == CHAN_CONNECT && m->len == sizeof(swx_conninfo_t)) {
        api_call(p, on_connect, m->session, (const swx_conninfo_t *)m->data);
    } else if (m->type == CHAN_CLOSE) {
        api_call(p, on_close, m->session);
    } else {
        log_warn("unexpected message type %d (%zu bytes) dropped", m->type,
                 m->len);
    }
    atomic_store_explicit(&sw->busy, 0, memory_order_relaxed);
}

static void worker_check_max_request(void)
{
    long max = self.srv->cfg.max_request;
    if (max > 0 && self.requests >= max && !self.stopping) {
        log_info("max_request (%ld) reached; exiting", max);
        self.stopping = 1;
    }
}

static void chan_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    chan_t *ch = arg;
    if (events & LOOP_WRITE)
        chan_flush(ch);
    chan_msg_t m;
    for (int i = 0; (events & LOOP_READ) && i < WORKER_CHAN_BATCH; i++) {
        if (!(worker_chan_events(ch) & LOOP_READ))
            break;
        int rc = chan_recv(ch, &m);
        if (rc < 0) {
            log_error("channel fd %d: %s; exiting", ch->fd, strerror(-rc));
            self.stopping = 1;
        }
        if (rc <= 0)
            break;
        worker_handle(&m);
        worker_check_max_request();
    }
    worker_chan_update(ch);
}

/* Retiring: once no channel is mid-message, hand them to the successor. */
static void worker_try_release(void)
{
    for (int r = 0; r < self.srv->cfg.reactor_num; r++)
        if (chan_receiving(&self.chans[r]))
            return;
    self.released = 1;
    for (int r = 0; r < self.srv->cfg.reactor_num; r++)
        worker_chan_update(&self.chans[r]);
    worker_notify(WORKER_RELEASED);
    log_debug("retiring: channels released after %ld requests",
              self.requests);
}

static void worker_take_over(void)
{
    if (!self.standby)
        return;
    self.standby = 0;
    log_debug("serving");
    for (int r = 0; r < self.srv->cfg.reactor_num; r++)
        worker_chan_update(&self.chans[r]);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The master stopped reading clients before this: what is in the channels
 * is all there will be. Serve it, within max_wait_time. */
static void worker_begin_drain(void)
{
    if (self.standby) {
        self.stopping = 1;
        return;
    }
    self.draining = 1;
    long long budget = self.srv->cfg.max_wait_time * 1000LL - 250;
    self.drain_deadline = now_ms() + (budget > 100 ? budget : 100);
}

static int worker_chans_idle(void)
{
    for (int r = 0; r < self.srv->cfg.reactor_num; r++)
        if (chan_queued(&self.chans[r]) > 0 || chan_receiving(&self.chans[r]))
            return 0;
    return 1;
}

static void signal_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM && !self.stopping && !self.draining) {
            log_debug("SIGTERM: draining, then stopping");
            worker_begin_drain();
        } else if (si.ssi_signo == SIGUSR1 && !self.standby) {
            self.retiring = 1;
        } else if (si.ssi_signo == SIGUSR2) {
            worker_take_over();
        } else if ((int)si.ssi_signo == SIGNAL_REOPEN) {
            log_reopen((uid_t)-1, (gid_t)-1);
        }
    }
}

/* Keep only this worker's ends of its channels. */
static void worker_close_foreign_fds(void)
{
    server_t *s = self.srv;
    for (int w = 0; w < s->cfg.worker_num; w++)
        for (int r = 0; r < s->cfg.reactor_num; r++)
            if (w != self.id)
                close(s->chan_fds[server_chan(s, w, r)][1]);
}

static int worker_setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGNAL_REOPEN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    self.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self.sigfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    return loop_add(self.loop, self.sigfd, LOOP_READ, signal_io, NULL);
}

static int worker_setup_chans(void)
{
    server_t *s = self.srv;
    self.chans = calloc((size_t)s->cfg.reactor_num, sizeof(chan_t));
    if (self.chans == NULL)
        return -1;
    for (int r = 0; r < s->cfg.reactor_num; r++) {
        int fd = s->chan_fds[server_chan(s, self.id, r)][1];
        if (chan_init(&self.chans[r], fd, WORKER_MAX_MSG) < 0 ||
            loop_add(self.loop, fd, worker_chan_events(&self.chans[r]),
                     chan_io, &self.chans[r]) < 0)
            return -1;
    }
    return 0;
}

/* dlopen every plugin now, in this process, so a rebuilt file is used. */
static int worker_load_plugins(void)
{
    const config_t *cfg = &self.srv->cfg;
    if (api_load_plugins(cfg, &self.plugins) < 0)
        return -1;
    for (int i = 0; i < cfg->nplugins; i++) {
        const plugin_t *p = &self.plugins[i];
        if (p->desc.on_worker_start == NULL)
            continue;
        const plugin_t *prev = api_enter(p);
        int rc = p->desc.on_worker_start(self.id);
        api_enter(prev);
        if (rc != 0) {
            log_error("plugin \"%s\": on_worker_start returned %d", p->name, rc);
            return -1;
        }
    }
    return 0;
}


/* Write out queued replies before exiting, for up to max_wait_time. */
static void worker_drain(void)
{
    long long deadline = now_ms() + self.srv->cfg.max_wait_time * 1000LL;
    for (int r = 0; r < self.srv->cfg.reactor_num; r++) {
        chan_t *ch = &self.chans[r];
        while (chan_flush(ch) == -EAGAIN) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                log_warn("max_wait_time passed with %zu bytes of replies "
                         "unsent", chan_queued(ch));
                return;
            }
            struct pollfd pfd = {.fd = ch->fd, .events = POLLOUT};
            poll(&pfd, 1, (int)left);
        }
    }
}

static void worker_stop_plugins(void)
{
    for (int i = 0; i < self.srv->cfg.nplugins; i++)
        api_call(&self.plugins[i], on_worker_stop, self.id);
    worker_drain();
    api_unload_plugins(&self.srv->cfg, self.plugins);
    self.plugins = NULL;
}

__attribute__((noreturn)) static void worker_exit(int status)
{
    atomic_store(&self.srv->shm->workers[self.id].busy, 0);
    if (self.chans != NULL)
        for (int r = 0; r < self.srv->cfg.reactor_num; r++)
            chan_free(&self.chans[r]);
    free(self.chans);
    pio_free();
    loop_free(self.loop);
    config_free(&self.srv->cfg);
    exit(status);
}

/*
 * Reload: the channels are handed over; what the plugins still have in the
 * loop (timers, their own fds) runs on, with on_worker_exit after each
 * round so they can wind it down, until none is left or max_wait_time.
 */
static void worker_wind_down(void)
{
    long long deadline = now_ms() + self.srv->cfg.max_wait_time * 1000LL - 250;
    do {
        for (int i = 0; i < self.srv->cfg.nplugins; i++)
            api_call(&self.plugins[i], on_worker_exit, self.id);
        if (pio_active() == 0 || self.stopping)
            return;
        long long left = deadline - now_ms();
        if (left <= 0) {
            log_warn("reload: %d timer(s) or fd(s) still active after "
                     "max_wait_time; exiting", pio_active());
            return;
        }
        loop_run_once(self.loop, left < 100 ? (int)left : 100);
    } while (1);
}

static void worker_loop(void)
{
    while (!self.stopping) {
        long before = self.handled;
        int rc = loop_run_once(self.loop, self.draining ? 100 : -1);
        if (rc < 0) {
            log_error("epoll_wait: %s", strerror(-rc));
            break;
        }
        if (self.draining && ((self.handled == before && worker_chans_idle()) ||
                              now_ms() >= self.drain_deadline))
            self.stopping = 1;
        if (self.retiring && !self.released && !self.stopping)
            worker_try_release();
        if (self.released) {
            worker_wind_down();
            self.stopping = 1;
        }
    }
}

void worker_run(server_t *srv, int id, int standby, int notify_fd)
{
    self.id = id;
    self.srv = srv;
    self.standby = standby;
    self.notify_fd = notify_fd;
    log_set_role("worker %d", id);
    proctitle_set("swx-server: worker %d", id);
    worker_close_foreign_fds();
    self.loop = loop_create();
    pio_init(self.loop);
    if (self.loop == NULL || worker_setup_signals() < 0 ||
        worker_setup_chans() < 0)
        worker_exit(1);
    api_set_role(id, &worker_ops);
    if (worker_load_plugins() < 0) {
        api_unload_plugins(&srv->cfg, self.plugins);
        worker_exit(WORKER_EXIT_START_FAILED);
    }
    log_debug(standby ? "started in standby" : "started");
    if (standby)
        worker_notify(WORKER_READY);
    worker_loop();
    worker_stop_plugins();
    log_debug("exiting after %ld requests", self.requests);
    worker_exit(0);
}
