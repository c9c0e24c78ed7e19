/* taskworker.c: a task worker: synchronous, one task at a time, from its own
 * mailbox (task_ipc_mode 1) or the queue all task workers share (3). */
#include <stdatomic.h>
#include <string.h>

#include "plugin/api.h"
#include "plugin/coro_api.h"
#include "proc/child.h"
#include "proc/recycle.h"
#include "core/log.h"
#include "plugin/task.h"

static ipc_t queue;        /* task_ipc_mode 3 */
static int have_queue;
static long tasks;

static void taskworker_task(const ipc_msg_t *m)
{
    task_run(m);
    recycle_after(++tasks); /* task_max_request, reload_on_rss */
}

static void taskworker_update(void)
{
    if (have_queue)
        loop_mod(child.loop, queue.fd, child_taking_work() ? LOOP_READ : 0);
    task_update();
}

static void taskworker_queue_io(loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    ipc_msg_t m;
    /* One task per wakeup: the mailbox and the signals get their turn. */
    if (child_taking_work() && ipc_recv(&queue, &m) > 0) {
        child_count_event();
        api_coro_dispatch(&queue, &m, taskworker_task);
    }
    taskworker_update();
}

static int taskworker_setup_queue(void)
{
    server_t *s = child.srv;
    if (s->cfg.task_ipc_mode != 3)
        return 0;
    if (ipc_init(&queue, s->taskq_fds[0], s->cfg.task_max_size,
                 IPC_TO_TASKQ) < 0)
        return -1;
    have_queue = 1;
    return loop_add(child.loop, queue.fd, child_taking_work() ? LOOP_READ : 0,
                    taskworker_queue_io, NULL);
}

static void taskworker_loop(void)
{
    while (!child.stopping) {
        if (loop_run_once(child.loop, child.draining ? 0 : -1) < 0)
            break;
        /* Tasks are synchronous: nothing is half done between rounds. */
        if (child.draining)
            child.stopping = 1;
        if (child.retiring && !child.released) {
            child.released = 1;
            taskworker_update();
            child_notify(WORKER_RELEASED);
            child.stopping = 1;
        }
    }
}

void taskworker_run(server_t *srv, int id, int standby, int notify_fd)
{
    child.update = taskworker_update;
    task_on_task = taskworker_task;
    if (child_init(srv, id, standby, notify_fd) < 0 ||
        taskworker_setup_queue() < 0)
        child_exit(1, 0);
    api_set_role(id, NULL);
    if (child_load_plugins(1) < 0)
        child_exit(WORKER_EXIT_START_FAILED, 0);
    log_debug(standby ? "started in standby" : "started");
    child_notify(standby ? WORKER_READY : WORKER_STARTED);
    taskworker_loop();
    log_debug("exiting after %ld tasks", tasks);
    if (have_queue)
        ipc_free(&queue);
    child_exit(0, 1);
}
