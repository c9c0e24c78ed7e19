/* task.c: tasks and messages between processes, and this process's mailbox:
 * results fire on_finish, messages on_pipe_message; swx_taskwait blocks on
 * the mailbox and keeps what else arrives for after the current callback. */
#include "plugin/task.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin/api.h"
#include "plugin/coro_api.h"
#include "coro/coro.h"
#include "proc/child.h"
#include "core/log.h"
#include "proc/watch.h"

#define TASK_MULTI_MAX 1024
#define TASK_MAILBOX_BATCH 64
/* How long a task worker waits for room in a busy worker's mailbox. */
#define TASK_FINISH_WAIT_MS 5000

/* A message that arrived while swx_taskwait waited for another. */
typedef struct backlog {
    ipc_msg_t msg;    /* its data is data */
    char *data;
    struct backlog *next;
} backlog_t;

/* The task whose on_task is running (task workers), on task_run's stack;
 * each coroutine has its own (coro_local). */
typedef struct task_cur {
    int finished;
    ipc_hdr_t hdr;
} task_cur_t;
static task_cur_t *current;

/* A coroutine in swx_taskwait: results reach it from the mailbox. */
typedef struct task_waiter {
    coro_t *co;
    swx_taskres_t *res;
    int n, pending, done;
    struct task_waiter *next;
} task_waiter_t;
static task_waiter_t *waiters;

static backlog_t *backlog, **backlog_tail = &backlog;
/* swx_taskwait's own reader of the mailbox: a callback may wait while the
 * message that called it still lives in child.inbox's buffers. */
static ipc_t wait_box;
static int backlog_scheduled;
static int64_t next_task_id = 1;
static unsigned task_rr;

void (*task_on_task)(const ipc_msg_t *m);

static const plugin_t *task_plugin(int index)
{
    if (index < 0 || index >= child.srv->cfg.nplugins)
        return NULL;
    return &child.plugins[index];
}

static int task_take_result(swx_taskres_t *res, int n, const ipc_msg_t *m);

/* A result for a coroutine in swx_taskwait: 1 when one took it (and is
 * woken when it has all of its results). */
static int task_deliver_waiter(const ipc_msg_t *m)
{
    for (task_waiter_t *w = waiters; w != NULL; w = w->next) {
        if (!task_take_result(w->res, w->n, m))
            continue;
        if (++w->done == w->pending)
            coro_wake(w->co, 0);
        return 1;
    }
    return 0;
}

/* A message for this process: a result, a message, or (mode 1) a task. */
static void task_dispatch(const ipc_msg_t *m)
{
    const ipc_hdr_t *h = &m->hdr;
    const plugin_t *p = task_plugin(h->index);
    child_count_event();
    if (p == NULL) {
        log_warn("mailbox: message for unknown plugin %u dropped", h->index);
    } else if (h->type == IPC_FINISH && h->pid != (uint32_t)getpid()) {
        log_debug("result of task %lld of an earlier process in this slot "
                  "(pid %u) discarded", (long long)h->id, h->pid);
    } else if (h->type == IPC_FINISH && (h->flags & IPC_WAIT) &&
               task_deliver_waiter(m)) {
        /* a coroutine in swx_taskwait took it */
    } else if (h->type == IPC_FINISH && (h->flags & IPC_WAIT)) {
        log_debug("result of task %lld came after its swx_taskwait gave up; "
                  "discarded", (long long)h->id);
    } else if (h->type == IPC_FINISH) {
        watch_begin(p, "on_finish", -1, 0);
        watch_detail("task %lld", (long long)h->id);
        api_call(p, on_finish, (int64_t)h->id, m->data, m->len);
        watch_end();
    } else if (h->type == IPC_PIPE) {
        watch_begin(p, "on_pipe_message", -1, 0);
        watch_detail("from process %d", h->src);
        api_call(p, on_pipe_message, h->src, m->data, m->len);
        watch_end();
    } else if (h->type == IPC_TASK && task_on_task != NULL) {
        task_on_task(m);
    } else {
        log_warn("mailbox: unexpected message type %u dropped", h->type);
    }
}

/* One kept message, in a coroutine of its own (enable_coroutine): it
 * owns b. */
static void task_backlog_one(void *arg)
{
    backlog_t *b = arg;
    task_dispatch(&b->msg);
    free(b->data);
    free(b);
}

static void task_backlog_run(void *arg)
{
    (void)arg;
    backlog_scheduled = 0;
    while (backlog != NULL) {
        backlog_t *b = backlog;
        backlog = b->next;
        if (backlog == NULL)
            backlog_tail = &backlog;
        api_coro_callback(task_backlog_one, b);
    }
}

static void task_backlog_push(const ipc_msg_t *m)
{
    backlog_t *b = malloc(sizeof(*b));
    char *data = malloc(m->len ? m->len : 1);
    if (b == NULL || data == NULL) {
        log_error("out of memory keeping a message during swx_taskwait; "
                  "dropped");
        free(b);
        free(data);
        return;
    }
    memcpy(data, m->data, m->len);
    *b = (backlog_t){*m, data, NULL};
    b->msg.data = data;
    *backlog_tail = b;
    backlog_tail = &b->next;
    if (!backlog_scheduled && loop_defer(child.loop, task_backlog_run, NULL) == 0)
        backlog_scheduled = 1;
}

static void task_inbox_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    if (backlog != NULL)
        task_backlog_run(NULL);
    ipc_msg_t m;
    for (int i = 0; i < TASK_MAILBOX_BATCH && child_taking_work(); i++) {
        if (ipc_recv(&child.inbox, &m) <= 0)
            break;
        api_coro_dispatch(&child.inbox, &m, task_dispatch);
    }
}

void task_update(void)
{
    loop_mod(child.loop, child.inbox.fd, child_taking_work() ? LOOP_READ : 0);
}

int task_init(void)
{
    if (coro_local(&current, sizeof(current)) < 0)
        return -1;
    return loop_add(child.loop, child.inbox.fd,
                    child_taking_work() ? LOOP_READ : 0, task_inbox_io, NULL);
}

void task_free(void)
{
    ipc_free(&wait_box);
    while (backlog != NULL) {
        backlog_t *b = backlog;
        backlog = b->next;
        free(b->data);
        free(b);
    }
    backlog_tail = &backlog;
}

/* ---- sending ---- */

static int task_plugin_index(void)
{
    const plugin_t *p = api_current();
    return p != NULL ? (int)(p - child.plugins) : 0;
}

/* A task worker for dst -1 in mode 1: an idle one if there is one. */
static int task_pick(void)
{
    const server_t *s = child.srv;
    int n = s->cfg.task_worker_num, base = s->cfg.worker_num;
    for (int i = 0; i < n; i++) {
        int id = base + (int)((task_rr + (unsigned)i) % (unsigned)n);
        const shm_worker_t *w = &s->shm->workers[id];
        if (atomic_load(&w->pid) != 0 && !atomic_load(&w->busy)) {
            task_rr += (unsigned)i + 1;
            return id;
        }
    }
    return base + (int)(task_rr++ % (unsigned)n);
}

static int task_check_sender(size_t len, int dst)
{
    if (child.srv == NULL) /* the master or the manager */
        return -ENOTSUP;
    const config_t *c = &child.srv->cfg;
    if (c->task_worker_num == 0)
        return -ENOTSUP;
    if (child.kind == PROC_TASK) {
        log_error("swx_task called in a task worker: tasks are sent from "
                  "workers and processes only");
        return -EPERM;
    }
    if (dst < -1 || dst >= c->task_worker_num)
        return -EINVAL;
    return len > c->task_max_size ? -E2BIG : 0;
}

/* Send a task; its id, or -errno. */
static int64_t task_post(const void *data, size_t len, int dst, int flags)
{
    int rc = task_check_sender(len, dst);
    if (rc < 0)
        return rc;
    server_t *s = child.srv;
    int fd;
    if (dst >= 0)
        fd = s->mbox_fds[s->cfg.worker_num + dst][1];
    else if (s->cfg.task_ipc_mode == 3)
        fd = s->taskq_fds[1];
    else
        fd = s->mbox_fds[task_pick()][1];
    ipc_hdr_t h = {.type = IPC_TASK, .flags = (uint8_t)flags,
                   .index = (uint16_t)task_plugin_index(),
                   .id = (uint64_t)next_task_id, .pid = (uint32_t)getpid(),
                   .src = child.id};
    rc = ipc_box_send(fd, &h, data, len);
    if (rc == -EAGAIN) {
        static long long last_warned;
        uint64_t n = atomic_fetch_add(&s->shm->task_queue_full, 1) + 1;
        if (loop_now() - last_warned >= 1000) {
            last_warned = loop_now();
            log_warn("swx_task: the task queue is full; task refused (%llu "
                     "refused in all)", (unsigned long long)n);
        }
    }
    if (rc < 0)
        return rc;
    atomic_fetch_add(&s->shm->tasking_num, 1);
    return next_task_id++;
}

int64_t task_send(const void *data, size_t len, int dst)
{
    const plugin_t *p = api_current();
    int flags = p != NULL && p->desc.on_finish != NULL ? 0 : IPC_NOREPLY;
    return task_post(data, len, dst, flags);
}

/* ---- waiting ---- */

static int task_take_result(swx_taskres_t *res, int n, const ipc_msg_t *m)
{
    for (int i = 0; i < n; i++) {
        if (res[i].task_id != (int64_t)m->hdr.id ||
            res[i].status != -ETIMEDOUT)
            continue;
        res[i].data = malloc(m->len ? m->len : 1);
        if (res[i].data == NULL) {
            res[i].status = -ENOMEM;
            return 1;
        }
        memcpy(res[i].data, m->data, m->len);
        res[i].len = m->len;
        res[i].status = 0;
        return 1;
    }
    return 0;
}

/* Read the mailbox until nothing is left: results for res count, the rest
 * waits in the backlog. The number of results taken. */
static int task_collect(swx_taskres_t *res, int n)
{
    int got = 0;
    ipc_msg_t m;
    if (wait_box.rx == NULL &&
        ipc_init(&wait_box, child.inbox.fd, child.inbox.max_msg,
                 child.inbox.accept) < 0)
        return 0;
    while (ipc_recv(&wait_box, &m) > 0) {
        if (m.hdr.type == IPC_FINISH && (m.hdr.flags & IPC_WAIT) &&
            m.hdr.pid == (uint32_t)getpid() &&
            task_take_result(res, n, &m))
            got++;
        else
            task_backlog_push(&m);
    }
    return got;
}

static void task_waiter_unlink(task_waiter_t *w)
{
    for (task_waiter_t **p = &waiters; *p != NULL; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

/* In a coroutine: park until every result came through the mailbox, the
 * timeout, or a cancellation; only this coroutine waits. */
static int task_wait_co(swx_taskres_t *res, int n, int pending,
                        int timeout_ms)
{
    task_waiter_t w = {coro_self(), res, n, pending, 0, waiters};
    waiters = &w;
    long long deadline = loop_now() + (timeout_ms < 0 ? 0 : timeout_ms);
    while (w.done < w.pending) {
        long long left = deadline - loop_now();
        if (timeout_ms >= 0 && left <= 0)
            break;
        if (coro_park(timeout_ms < 0 ? -1 : (long)left) == -ECANCELED)
            break;
    }
    task_waiter_unlink(&w);
    return w.done;
}

int task_wait_multi(const swx_taskreq_t *tasks, int n, int timeout_ms,
                    swx_taskres_t *res)
{
    if (n <= 0 || n > TASK_MULTI_MAX || tasks == NULL || res == NULL)
        return -EINVAL;
    int pending = 0, done = 0;
    for (int i = 0; i < n; i++) {
        int64_t id = task_post(tasks[i].data, tasks[i].len,
                               tasks[i].dst_task_worker, IPC_WAIT);
        res[i] = (swx_taskres_t){id < 0 ? (int)id : -ETIMEDOUT,
                                 id < 0 ? 0 : id, NULL, 0};
        pending += id > 0;
    }
    if (coro_self() != NULL && pending > 0)
        return task_wait_co(res, n, pending, timeout_ms);
    if (child.flush != NULL && pending > 0)
        child.flush(); /* replies already made do not wait for the tasks */
    long long deadline = loop_now() + (timeout_ms < 0 ? 0 : timeout_ms);
    while (done < pending) {
        long long left = deadline - loop_now();
        if (timeout_ms >= 0 && left <= 0)
            break;
        struct pollfd pfd = {.fd = child.inbox.fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms < 0 ? 1000 : (int)left) < 0 &&
            errno != EINTR)
            break;
        done += task_collect(res, n);
    }
    return done;
}

int task_wait(const void *data, size_t len, int dst, int timeout_ms,
              void **result, size_t *result_len)
{
    swx_taskreq_t req = {data, len, dst};
    swx_taskres_t res;
    int rc = task_wait_multi(&req, 1, timeout_ms, &res);
    if (rc < 0)
        return rc;
    if (res.status == 0) {
        *result = res.data;
        *result_len = res.len;
    }
    return res.status;
}

/* ---- task workers ---- */

/* Deliver to a worker's mailbox, waiting a while for room: a result is
 * not dropped because its worker is busy for a moment. */
static int task_deliver(int fd, const ipc_hdr_t *h, const void *data,
                        size_t len)
{
    long long deadline = loop_now() + TASK_FINISH_WAIT_MS;
    int rc;
    while ((rc = ipc_box_send(fd, h, data, len)) == -EAGAIN &&
           loop_now() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        poll(&pfd, 1, 50);
    }
    return rc;
}

int task_finish(const void *data, size_t len)
{
    if (current == NULL)
        return -EINVAL;
    if (current->hdr.flags & IPC_NOREPLY) {
        log_error("swx_finish: task %lld from worker %d wants no result "
                  "(its plugin has no on_finish)",
                  (long long)current->hdr.id, current->hdr.src);
        return -EINVAL;
    }
    if (current->finished)
        return -EALREADY;
    if (len > child.srv->cfg.task_max_size)
        return -E2BIG;
    ipc_hdr_t h = current->hdr;
    h.type = IPC_FINISH;
    h.flags &= IPC_WAIT;
    int src = h.src;
    h.src = child.id;
    int rc = task_deliver(child.srv->mbox_fds[src][1], &h, data, len);
    if (rc < 0)
        log_error("swx_finish: the result of task %lld could not reach "
                  "worker %d: %s", (long long)h.id, src, strerror(-rc));
    current->finished = 1;
    return rc;
}

void task_run(const ipc_msg_t *m)
{
    const plugin_t *p = task_plugin(m->hdr.index);
    shm_worker_t *w = &child.srv->shm->workers[child.id];
    atomic_store(&w->busy, 1);
    task_cur_t cur = {0, m->hdr};
    task_cur_t *prev = current;
    current = &cur;
    if (p != NULL && p->desc.on_task != NULL) {
        watch_begin(p, "on_task", -1, 0);
        watch_detail("task %lld from worker %d", (long long)m->hdr.id,
                     m->hdr.src);
        api_call(p, on_task, (int64_t)m->hdr.id, m->hdr.src, m->data,
                 m->len);
        watch_end();
    } else
        log_warn("task %lld from worker %d: no on_task in plugin %u; "
                 "dropped", (long long)m->hdr.id, m->hdr.src, m->hdr.index);
    current = prev;
    atomic_fetch_add(&w->requests, 1);
    atomic_fetch_sub(&child.srv->shm->tasking_num, 1);
    atomic_store(&w->busy, 0);
}

/* ---- messages ---- */

int task_send_message(int dst, const void *data, size_t len)
{
    server_t *s = child.srv;
    if (s == NULL)
        return -ENOTSUP;
    if (dst < 0 || dst >= s->nprocs || dst == child.id)
        return -EINVAL;
    if (len > s->cfg.task_max_size)
        return -E2BIG;
    ipc_hdr_t h = {.type = IPC_PIPE, .index = (uint16_t)task_plugin_index(),
                   .pid = (uint32_t)getpid(), .src = child.id};
    return ipc_box_send(s->mbox_fds[dst][1], &h, data, len);
}
