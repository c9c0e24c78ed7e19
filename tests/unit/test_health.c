/* test_health.c: the start-failure records (proc/startfail.c) and the
 * GET /health report built from them and the stop's state (net/health.c),
 * over a real shared mapping and a parsed config. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "event/clock.h"
#include "net/health.h"
#include "proc/startfail.h"

static server_t srv;

static void setup(void)
{
    char err[512];
    const char *text =
        "{\"server\": {\"worker_num\": 2, \"task_worker_num\": 1},"
        " \"plugins\": [{\"name\": \"a\", \"path\": \"/x/a.so\"},"
        "               {\"name\": \"b\", \"path\": \"/x/b.so\"}],"
        " \"listeners\": [{\"port\": 9, \"plugin\": \"a\"}]}";
    log_open("/dev/null", SWX_LOG_DEBUG);
    memset(&srv, 0, sizeof(srv));
    ck_assert_int_eq(config_parse(text, "t.json", &srv.cfg, err, sizeof err),
                     0);
    srv.nprocs = server_count_procs(&srv.cfg);
    srv.shm = shm_create(2, 1, srv.nprocs);
    ck_assert_ptr_nonnull(srv.shm);
    for (int i = 0; i < srv.nprocs; i++) /* all running, none failed */
        atomic_store(&srv.shm->workers[i].pid, 100 + i);
}

static void teardown(void)
{
    shm_destroy(srv.shm);
    config_free(&srv.cfg);
}

/* The report as JSON, and its HTTP status in *status. */
static json_t *report(int *status)
{
    char *body = NULL;
    *status = health_report(&srv, &body);
    ck_assert_ptr_nonnull(body);
    json_t *o = json_loads(body, 0, NULL);
    free(body);
    ck_assert_ptr_nonnull(o);
    return o;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int num(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    return (int)json_integer_value(path2 ? json_object_get(v, path2) : v);
}

START_TEST(ok_when_all_started)
{
    int status;
    json_t *o = report(&status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(str(o, "status"), "ok");
    ck_assert_int_eq(num(o, "workers", "up"), 2);
    ck_assert_int_eq(num(o, "workers", "expected"), 2);
    ck_assert_int_eq(num(o, "task_workers", "up"), 1);
    ck_assert_int_eq(num(o, "processes", "expected"), 0);
    ck_assert_int_eq(json_array_size(json_object_get(o, "failed_plugins")), 0);
    ck_assert_ptr_null(json_object_get(o, "draining_left_ms"));
    json_decref(o);
}
END_TEST

/* A non-zero return of plugin b in worker 1 and task worker 0: degraded,
 * b listed once, each process once; a later success clears one. */
START_TEST(returned_failure_is_degraded_until_a_start_succeeds)
{
    startfail_enter(srv.shm, 1, 1);
    startfail_returned(srv.shm, 1, 1, 7);
    startfail_enter(srv.shm, 2, 1);
    startfail_returned(srv.shm, 2, 1, -1);
    int status;
    json_t *o = report(&status);
    ck_assert_int_eq(status, 503);
    ck_assert_str_eq(str(o, "status"), "degraded");
    json_t *names = json_object_get(o, "failed_plugins");
    ck_assert_int_eq(json_array_size(names), 1);
    ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "b");
    json_t *starts = json_object_get(o, "failed_starts");
    ck_assert_int_eq(json_array_size(starts), 2);
    json_t *w1 = json_array_get(starts, 0);
    ck_assert_str_eq(str(w1, "process"), "worker 1");
    ck_assert_str_eq(str(w1, "path"), "/x/b.so");
    ck_assert_str_eq(str(w1, "failure"), "on_worker_start returned 7");
    ck_assert_str_eq(str(json_array_get(starts, 1), "process"),
                     "task worker 0");
    ck_assert_int_eq(num(o, "workers", "up"), 1);
    json_decref(o);

    startfail_started(srv.shm, 1);
    o = report(&status);
    ck_assert_int_eq(json_array_size(json_object_get(o, "failed_starts")), 1);
    ck_assert_int_eq(num(o, "workers", "up"), 2);
    json_decref(o);
    startfail_started(srv.shm, 2);
    o = report(&status);
    ck_assert_int_eq(status, 200);
    json_decref(o);
}
END_TEST

/* A real process that dies of SIGSEGV inside plugin a's on_worker_start:
 * the manager's view names a and the signal. */
START_TEST(death_inside_on_worker_start_is_recorded)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        startfail_enter(srv.shm, 0, 0);
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    startfail_reaped(&srv, 0, st);
    char how[128];
    int plugin = -2;
    ck_assert_int_eq(startfail_describe(&srv, 0, &plugin, how, sizeof how),
                     1);
    ck_assert_int_eq(plugin, 0);
    ck_assert_ptr_nonnull(strstr(how, "killed by signal 11"));
    ck_assert_ptr_nonnull(strstr(how, "in on_worker_start"));
    /* A process that ended after it started is not a start failure. */
    ck_assert_int_eq(startfail_describe(&srv, 1, &plugin, how, sizeof how),
                     0);
    startfail_reaped(&srv, 1, st);
    ck_assert_int_eq(startfail_describe(&srv, 1, &plugin, how, sizeof how),
                     0);
}
END_TEST

/* Killed while starting because the server stops: not a failure. */
START_TEST(stop_during_start_is_not_a_failure)
{
    startfail_enter(srv.shm, 0, 1);
    atomic_store(&srv.shm->stopping, 1);
    startfail_reaped(&srv, 0, SIGTERM); /* as a wait status: signalled */
    char how[128];
    ck_assert_int_eq(startfail_describe(&srv, 0, NULL, how, sizeof how), 0);
    ck_assert_int_eq(atomic_load(&srv.shm->workers[0].start.running), 0);
}
END_TEST

/* A standby (shm NULL) writes nothing. */
START_TEST(standby_writes_nothing)
{
    startfail_enter(NULL, 0, 1);
    startfail_returned(NULL, 0, 1, 3);
    startfail_load(NULL, 0, 1);
    char how[128];
    ck_assert_int_eq(startfail_describe(&srv, 0, NULL, how, sizeof how), 0);
}
END_TEST

START_TEST(backoff_is_degraded)
{
    atomic_store(&srv.shm->workers[0].backoff_until, loop_now() + 1000);
    int status;
    json_t *o = report(&status);
    ck_assert_int_eq(status, 503);
    ck_assert_str_eq(str(o, "status"), "degraded");
    ck_assert_int_eq(num(o, "backing_off", NULL), 1);
    json_decref(o);
}
END_TEST

/* Draining wins over degraded, and stopping over both. */
START_TEST(draining_then_stopping)
{
    startfail_load(srv.shm, 0, -1);
    atomic_store(&srv.shm->draining_until, loop_now() + 5000);
    int status;
    json_t *o = report(&status);
    ck_assert_int_eq(status, 503);
    ck_assert_str_eq(str(o, "status"), "draining");
    int left = num(o, "draining_left_ms", NULL);
    ck_assert(left > 4000 && left <= 5000);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(o, "failed_plugins"), 0)),
                     "(unknown)");
    json_decref(o);
    atomic_store(&srv.shm->stopping, 1);
    o = report(&status);
    ck_assert_int_eq(status, 503);
    ck_assert_str_eq(str(o, "status"), "stopping");
    ck_assert_ptr_null(json_object_get(o, "draining_left_ms"));
    json_decref(o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("health");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ok_when_all_started);
    tcase_add_test(tc, returned_failure_is_degraded_until_a_start_succeeds);
    tcase_add_test(tc, death_inside_on_worker_start_is_recorded);
    tcase_add_test(tc, stop_during_start_is_not_a_failure);
    tcase_add_test(tc, standby_writes_nothing);
    tcase_add_test(tc, backoff_is_degraded);
    tcase_add_test(tc, draining_then_stopping);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
