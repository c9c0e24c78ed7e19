/* process.c: a plugin's own long-running process ("processes" in the
 * config, Swoole's addProcess): on_process_start, then its loop of timers,
 * fds and messages until it is stopped. */
#include "plugin/api.h"
#include "plugin/coro_api.h"
#include "proc/child.h"
#include "core/log.h"
#include "plugin/task.h"

typedef struct process_start {
    const plugin_t *p;
    int id, index;
    const char *name;
} process_start_t;

/* on_process_start, in a coroutine with enable_coroutine: a process
 * written top to bottom waits there without stopping its loop. */
static void process_start(void *arg)
{
    process_start_t s = *(const process_start_t *)arg;
    api_call(s.p, on_process_start, s.id, s.name, s.index);
}

void process_run(server_t *srv, int id, int notify_fd)
{
    child.update = task_update;
    if (child_init(srv, id, 0, notify_fd) < 0)
        child_exit(1, 0);
    api_set_role(id, NULL);
    if (child_load_plugins(0) < 0)
        child_exit(WORKER_EXIT_START_FAILED, 0);
    int index = 0, i = server_user_process(srv, id, &index);
    const config_process_t *cp = &srv->cfg.processes[i];
    const plugin_t *p = &child.plugins[cp->plugin];
    log_debug("started");
    if (p->desc.on_process_start == NULL) {
        log_error("plugin \"%s\" has no on_process_start for process \"%s\"",
                  p->name, cp->name);
        child_exit(WORKER_EXIT_START_FAILED, 0);
    }
    /* on_process_start may be the process's whole life: it has started
     * once it is called. */
    child_notify(WORKER_STARTED);
    process_start_t start = {p, id, index, cp->name};
    api_coro_callback(process_start, &start);
    while (!child.stopping && !child.draining)
        if (loop_run_once(child.loop, -1) < 0)
            break;
    child_exit(0, 0); /* no on_worker_start ran here, so no on_worker_stop */
}
