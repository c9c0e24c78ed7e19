/* health.c: GET /health of the admin endpoint: whether this instance
 * should get traffic ("ok", 200) or not ("draining" within shutdown_delay,
 * "stopping", "degraded" when a process cannot start; 503), with the
 * processes up and expected and the plugins that failed to start, as JSON
 * for load balancers' health checks and for operators. */
#include "net/health.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event/clock.h"
#include "proc/startfail.h"

/* Processes of each kind: expected, and up (running and started). */
static json_t *health_counts(const server_t *srv, int kind)
{
    int up = 0, expected = 0;
    for (int i = 0; i < srv->shm->nprocs; i++) {
        const shm_worker_t *w = &srv->shm->workers[i];
        if (server_kind(srv, i) != kind)
            continue;
        expected++;
        up += atomic_load(&w->pid) != 0 &&
              atomic_load(&w->start.running) == 0 &&
              atomic_load(&w->start.fail) == START_FAIL_NONE;
    }
    return json_pack("{s:i, s:i}", "up", up, "expected", expected);
}

/* A process whose last start failed: which, the plugin, how, how often. */
static json_t *health_failure(const server_t *srv, int id, int plugin,
                              const char *how)
{
    char role[64];
    const config_plugin_t *p =
        plugin >= 0 && plugin < srv->cfg.nplugins ? &srv->cfg.plugins[plugin]
                                                  : NULL;
    return json_pack("{s:s, s:s?, s:s?, s:s, s:I}", "process",
                     startfail_role(srv, id, role, sizeof(role)), "plugin",
                     p ? p->name : NULL, "path", p ? p->resolved : NULL,
                     "failure", how, "failed_starts",
                     (json_int_t)atomic_load(&srv->shm->workers[id]
                                                 .start.failed));
}

static int health_listed(json_t *names, const char *name)
{
    size_t k;
    json_t *v;
    json_array_foreach(names, k, v)
        if (strcmp(json_string_value(v), name) == 0)
            return 1;
    return 0;
}

/* The failed starts, and the names of their plugins once each; the
 * number of processes waiting out a back-off in *backoff. */
static void health_failures(const server_t *srv, json_t *starts,
                            json_t *names, int *backoff)
{
    *backoff = 0;
    for (int i = 0; i < srv->shm->nprocs; i++) {
        char how[128];
        int plugin = -1;
        *backoff += atomic_load(&srv->shm->workers[i].backoff_until) != 0;
        if (!startfail_describe(srv, i, &plugin, how, sizeof(how)))
            continue;
        json_array_append_new(starts, health_failure(srv, i, plugin, how));
        const char *name = plugin >= 0 && plugin < srv->cfg.nplugins
                               ? srv->cfg.plugins[plugin].name
                               : "(unknown)";
        if (!health_listed(names, name))
            json_array_append_new(names, json_string(name));
    }
}

static const char *health_status(const server_t *srv, int degraded)
{
    if (atomic_load(&srv->shm->stopping))
        return "stopping";
    if (atomic_load(&srv->shm->draining_until) != 0)
        return "draining";
    return degraded ? "degraded" : "ok";
}

int health_report(const server_t *srv, char **body)
{
    json_t *starts = json_array(), *names = json_array();
    int backoff = 0;
    if (starts != NULL && names != NULL)
        health_failures(srv, starts, names, &backoff);
    int degraded = json_array_size(starts) > 0 || backoff > 0;
    const char *status = health_status(srv, degraded);
    json_t *o = json_pack(
        "{s:s, s:I, s:o, s:o, s:o, s:i, s:o*, s:o*}", "status", status,
        "uptime",
        (json_int_t)(time(NULL) - (time_t)atomic_load(&srv->shm->start_time)),
        "workers", health_counts(srv, PROC_WORKER), "task_workers",
        health_counts(srv, PROC_TASK), "processes",
        health_counts(srv, PROC_USER), "backing_off", backoff,
        "failed_plugins", names, "failed_starts", starts);
    if (o != NULL && strcmp(status, "draining") == 0) {
        int64_t left = atomic_load(&srv->shm->draining_until) - loop_now();
        json_object_set_new(o, "draining_left_ms",
                            json_integer(left > 0 ? left : 0));
    }
    *body = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    return strcmp(status, "ok") == 0 ? 200 : 503;
}
