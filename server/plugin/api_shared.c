/* api_shared.c: the plugin API over shared memory (swx_table_*, swx_atomic_*)
 * and the server's figures (swx_stats, swx_stats_json). */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin/api.h"
#include "plugin/api_shared.h"

static server_t *srv;

void api_shared_init(server_t *s)
{
    srv = s;
}

/* ---- tables ---- */

swx_table_t *api_table(const char *name)
{
    for (int i = 0; srv != NULL && name != NULL && i < srv->cfg.ntables; i++)
        if (strcmp(srv->cfg.tables[i].name, name) == 0)
            return (swx_table_t *)srv->tables[i];
    return NULL;
}

static int api_col(swx_table_t *t, const char *column)
{
    return t != NULL && column != NULL ? table_column((table_t *)t, column)
                                       : -EINVAL;
}

static int api_set(swx_table_t *t, const char *key, table_field_t *f)
{
    if (f->col < 0)
        return f->col;
    return table_set((table_t *)t, key, f, 1);
}

int api_table_set_int(swx_table_t *t, const char *key, const char *column,
                      int64_t v)
{
    table_field_t f = {.col = api_col(t, column), .type = TABLE_INT, .i = v};
    return api_set(t, key, &f);
}

int api_table_set_float(swx_table_t *t, const char *key, const char *column,
                        double v)
{
    table_field_t f = {.col = api_col(t, column), .type = TABLE_FLOAT, .f = v};
    return api_set(t, key, &f);
}

int api_table_set_string(swx_table_t *t, const char *key, const char *column,
                         const char *v, size_t len)
{
    table_field_t f = {.col = api_col(t, column), .type = TABLE_STRING};
    f.str = v;
    f.len = len;
    return api_set(t, key, &f);
}

/* The row of key, copied under its lock into a buffer kept for reuse. */
static void *api_row(swx_table_t *t, const char *key, int *rc)
{
    static void *buf;
    static size_t cap;
    size_t need = table_row_size((table_t *)t);
    if (need > cap) {
        void *p = NULL;
        if (posix_memalign(&p, 8, need) != 0) {
            *rc = -ENOMEM;
            return NULL;
        }
        free(buf);
        buf = p;
        cap = need;
    }
    *rc = table_get((table_t *)t, key, buf);
    return *rc < 0 ? NULL : buf;
}

int api_table_get_int(swx_table_t *t, const char *key, const char *column,
                      int64_t *out)
{
    int col = api_col(t, column), rc;
    if (col < 0)
        return col;
    void *row = api_row(t, key, &rc);
    return row ? table_row_int((table_t *)t, row, col, out) : rc;
}

int api_table_get_float(swx_table_t *t, const char *key, const char *column,
                        double *out)
{
    int col = api_col(t, column), rc;
    if (col < 0)
        return col;
    void *row = api_row(t, key, &rc);
    return row ? table_row_float((table_t *)t, row, col, out) : rc;
}

int api_table_get_string(swx_table_t *t, const char *key, const char *column,
                         char *buf, size_t size)
{
    int col = api_col(t, column), rc;
    const char *s;
    size_t len;
    if (col < 0)
        return col;
    void *row = api_row(t, key, &rc);
    if (row == NULL)
        return rc;
    if ((rc = table_row_str((table_t *)t, row, col, &s, &len)) < 0)
        return rc;
    if (size == 0 || len >= size)
        return -ENOBUFS;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return (int)len;
}

int api_table_incr(swx_table_t *t, const char *key, const char *column,
                   int64_t delta, int64_t *result)
{
    int col = api_col(t, column);
    return col < 0 ? col : table_incr((table_t *)t, key, col, delta, result);
}

int api_table_incr_float(swx_table_t *t, const char *key, const char *column,
                         double delta, double *result)
{
    int col = api_col(t, column);
    return col < 0 ? col
                   : table_incr_float((table_t *)t, key, col, delta, result);
}

int api_table_del(swx_table_t *t, const char *key)
{
    return t ? table_del((table_t *)t, key) : -EINVAL;
}

int api_table_exists(swx_table_t *t, const char *key)
{
    return t ? table_exists((table_t *)t, key) : -EINVAL;
}

long api_table_count(swx_table_t *t)
{
    return t ? (long)table_count((table_t *)t) : -EINVAL;
}

int api_table_next(swx_table_t *t, uint32_t *cursor, char key[64])
{
    return t ? table_iter_next((table_t *)t, cursor, key, NULL) : -EINVAL;
}

/* ---- named counters ---- */

swx_atomic_t *api_atomic(const char *name, int64_t initial)
{
    atomics_counter_t *c = NULL;
    if (srv == NULL || atomics_open(srv->atomics, name, initial, &c) < 0)
        return NULL;
    return (swx_atomic_t *)c;
}

int64_t api_atomic_add(swx_atomic_t *a, int64_t v)
{
    return atomics_add((atomics_counter_t *)a, v);
}

int64_t api_atomic_get(swx_atomic_t *a)
{
    return atomics_get((atomics_counter_t *)a);
}

void api_atomic_set(swx_atomic_t *a, int64_t v)
{
    atomics_set((atomics_counter_t *)a, v);
}

int api_atomic_cmpset(swx_atomic_t *a, int64_t expected, int64_t desired)
{
    return atomics_cmpset((atomics_counter_t *)a, expected, desired);
}

int api_atomic_wait(swx_atomic_t *a, int timeout_ms)
{
    return atomics_wait((atomics_counter_t *)a, timeout_ms);
}

int api_atomic_wakeup(swx_atomic_t *a, int n)
{
    return atomics_wakeup((atomics_counter_t *)a, n);
}

/* ---- figures ---- */

static void api_count_idle(const shm_t *shm, int from, int n, int *idle)
{
    *idle = 0;
    for (int i = from; i < from + n; i++)
        *idle += atomic_load(&shm->workers[i].pid) != 0 &&
                 !atomic_load(&shm->workers[i].busy);
}

int api_stats(swx_stats_t *o)
{
    if (srv == NULL || srv->shm == NULL || o == NULL)
        return -EINVAL;
    const shm_t *shm = srv->shm;
    memset(o, 0, sizeof(*o));
    o->start_time = (int64_t)atomic_load(&shm->start_time);
    o->connection_num = atomic_load(&shm->connection_num);
    o->accept_count = (int64_t)atomic_load(&shm->accept_count);
    o->close_count = (int64_t)atomic_load(&shm->close_count);
    o->worker_num = shm->worker_num;
    o->task_worker_num = shm->task_worker_num;
    api_count_idle(shm, 0, shm->worker_num, &o->idle_worker_num);
    api_count_idle(shm, shm->worker_num, shm->task_worker_num,
                   &o->task_idle_worker_num);
    o->tasking_num = atomic_load(&shm->tasking_num);
    int busy_tasks = o->task_worker_num - o->task_idle_worker_num;
    o->task_queue_num = o->tasking_num > busy_tasks ? o->tasking_num - busy_tasks
                                                    : 0;
    o->task_queue_full = (int64_t)atomic_load(&shm->task_queue_full);
    for (int i = 0; i < shm->worker_num; i++)
        o->request_count += (int64_t)atomic_load(&shm->workers[i].requests);
    o->dispatch_count = (int64_t)atomic_load(&shm->dispatch_count);
    o->reload_count = (int64_t)atomic_load(&shm->reload_count);
    o->worker_restarts = (int64_t)atomic_load(&shm->worker_restarts);
    return 0;
}

static const char *api_state(const shm_worker_t *w)
{
    if (atomic_load(&w->backoff_until) != 0)
        return "backoff";
    if (atomic_load(&w->pid) == 0)
        return "down";
    return atomic_load(&w->busy) ? "busy" : "idle";
}

static json_t *api_procs_json(const shm_t *shm)
{
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < shm->nprocs; i++) {
        const shm_worker_t *w = &shm->workers[i];
        const char *kind = i < shm->worker_num ? "worker"
                           : i < shm->worker_num + shm->task_worker_num
                               ? "task"
                               : "process";
        json_array_append_new(
            arr, json_pack("{s:i, s:s, s:i, s:s, s:I, s:I, s:I}", "id", i,
                           "kind", kind, "pid", atomic_load(&w->pid), "state",
                           api_state(w), "request_count",
                           (json_int_t)atomic_load(&w->requests), "starts",
                           (json_int_t)atomic_load(&w->starts), "rss",
                           (json_int_t)atomic_load(&w->rss)));
    }
    return arr;
}

/* Processes replaced, by cause (enum shm_restart_cause). */
static json_t *api_restarts_json(const shm_t *shm)
{
    static const char *const causes[RESTART_CAUSES] = {
        [RESTART_CRASH] = "crash",
        [RESTART_MAX_REQUEST] = "max_request",
        [RESTART_RSS] = "rss",
        [RESTART_TIMEOUT] = "timeout",
    };
    json_t *o = json_object();
    for (int i = 0; o != NULL && i < RESTART_CAUSES; i++)
        json_object_set_new(o, causes[i], json_integer((json_int_t)
                            atomic_load(&shm->restarts[i])));
    return o;
}

/* max_concurrency: HTTP requests at workers now, and those refused. */
static void api_concurrency_json(json_t *o, const shm_t *shm)
{
    json_object_set_new(o, "concurrency",
                        json_integer(atomic_load(&shm->concurrency)));
    json_object_set_new(o, "concurrency_rejected",
                        json_integer((json_int_t)atomic_load(
                            &shm->concurrency_rejected)));
}

char *api_stats_json(void)
{
    swx_stats_t s;
    if (api_stats(&s) < 0)
        return NULL;
    json_t *o = json_pack(
        "{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, "
        "s:I, s:I, s:I, s:I, s:I, s:o}",
        "version", SWX_VERSION, "master_pid", (int)srv->master_pid,
        "manager_pid", (int)srv->manager_pid, "start_time",
        (json_int_t)s.start_time, "uptime",
        (json_int_t)(time(NULL) - s.start_time), "connection_num",
        (json_int_t)s.connection_num, "accept_count",
        (json_int_t)s.accept_count, "close_count", (json_int_t)s.close_count,
        "request_count", (json_int_t)s.request_count, "worker_num",
        s.worker_num, "idle_worker_num", s.idle_worker_num, "task_worker_num",
        s.task_worker_num, "task_idle_worker_num", s.task_idle_worker_num,
        "tasking_num", (json_int_t)s.tasking_num, "task_queue_num",
        (json_int_t)s.task_queue_num, "task_queue_full",
        (json_int_t)s.task_queue_full, "dispatch_count",
        (json_int_t)s.dispatch_count, "reload_count",
        (json_int_t)s.reload_count, "workers", api_procs_json(srv->shm));
    if (o != NULL) {
        json_object_set_new(o, "worker_restarts",
                            json_integer((json_int_t)s.worker_restarts));
        json_object_set_new(o, "restarts", api_restarts_json(srv->shm));
        api_concurrency_json(o, srv->shm);
        json_object_set_new(o, "stuck_clients", json_integer((json_int_t)
                            atomic_load(&srv->shm->stuck_clients)));
    }
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    return text;
}
