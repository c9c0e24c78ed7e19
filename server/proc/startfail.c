/* startfail.c: which plugin kept a process from starting, and how: a
 * record per process in shared memory, written by the process as it runs
 * each on_worker_start and by the manager when it died inside one, so
 * that the log names the plugin and GET /health reports it. */
#include "proc/startfail.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "core/log.h"

static shm_start_t *startfail_rec(shm_t *shm, int id)
{
    return &shm->workers[id].start;
}

void startfail_enter(shm_t *shm, int id, int plugin)
{
    if (shm != NULL)
        atomic_store(&startfail_rec(shm, id)->running, plugin + 1);
}

/* plugin and code first: a reader that sees fail sees them too. */
static void startfail_set(shm_start_t *st, int fail, int plugin, int code)
{
    atomic_store(&st->plugin, plugin);
    atomic_store(&st->code, code);
    atomic_store(&st->fail, fail);
    atomic_store(&st->running, 0);
    atomic_fetch_add(&st->failed, 1);
}

void startfail_returned(shm_t *shm, int id, int plugin, int rc)
{
    if (shm != NULL)
        startfail_set(startfail_rec(shm, id), START_FAIL_RETURNED, plugin,
                      rc);
}

void startfail_load(shm_t *shm, int id, int plugin)
{
    if (shm != NULL)
        startfail_set(startfail_rec(shm, id), START_FAIL_LOAD, plugin, 0);
}

void startfail_started(shm_t *shm, int id)
{
    shm_start_t *st = startfail_rec(shm, id);
    atomic_store(&st->fail, START_FAIL_NONE);
    atomic_store(&st->running, 0);
}

const char *startfail_role(const server_t *srv, int id, char *buf,
                           size_t size)
{
    int kind = server_kind(srv, id), index = 0;
    if (kind == PROC_WORKER) {
        snprintf(buf, size, "worker %d", id);
    } else if (kind == PROC_TASK) {
        snprintf(buf, size, "task worker %d", id - srv->cfg.worker_num);
    } else {
        int p = server_user_process(srv, id, &index);
        snprintf(buf, size, "process %s %d", srv->cfg.processes[p].name,
                 index);
    }
    return buf;
}

void startfail_reaped(const server_t *srv, int id, int status)
{
    shm_start_t *st = startfail_rec(srv->shm, id);
    int running = atomic_load(&st->running);
    if (running <= 0 || running > srv->cfg.nplugins)
        return;
    if (atomic_load(&srv->shm->stopping)) {
        atomic_store(&st->running, 0); /* stopped, not failed */
        return;
    }
    int sig = WIFSIGNALED(status);
    startfail_set(st, sig ? START_FAIL_SIGNAL : START_FAIL_EXIT, running - 1,
                  sig ? WTERMSIG(status) : WEXITSTATUS(status));
    char role[64], how[128];
    const config_plugin_t *p = &srv->cfg.plugins[running - 1];
    startfail_describe(srv, id, NULL, how, sizeof(how));
    log_error("%s: plugin \"%s\" (%s) failed to start: %s",
              startfail_role(srv, id, role, sizeof(role)), p->name,
              p->resolved, how);
}

int startfail_describe(const server_t *srv, int id, int *plugin, char *buf,
                       size_t size)
{
    const shm_start_t *st = startfail_rec(srv->shm, id);
    int fail = atomic_load(&st->fail), code = atomic_load(&st->code);
    if (plugin != NULL)
        *plugin = atomic_load(&st->plugin);
    if (fail == START_FAIL_RETURNED)
        snprintf(buf, size, "on_worker_start returned %d", code);
    else if (fail == START_FAIL_SIGNAL)
        snprintf(buf, size, "killed by signal %d (%s) in on_worker_start",
                 code, strsignal(code));
    else if (fail == START_FAIL_EXIT)
        snprintf(buf, size, "exit(%d) in on_worker_start", code);
    else if (fail == START_FAIL_LOAD)
        snprintf(buf, size, "could not be loaded");
    return fail != START_FAIL_NONE;
}
