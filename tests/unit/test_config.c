/* test_config.c: Check suite for config.c (parsing, defaults, every kind of error). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

#include "swx_plugin.h"

#define FILE_NAME "conf/x.json"
#define PLUGINS "'plugins': [{'name': 'echo', 'path': 'echo.so'}]"
#define LISTENERS "'listeners': [{'port': 9501, 'plugin': 'echo'}]"
#define MINIMAL "{" PLUGINS ", " LISTENERS "}"

static config_t cfg;
static char err[1024];

/* The JSON with ' turned into ", so that the tests stay readable. */
static char *json(const char *text)
{
    char *s = strdup(text);

    ck_assert_ptr_nonnull(s);
    for (char *p = s; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static int parse_as(const char *text, const char *file)
{
    char *s = json(text);
    int rc = config_parse(s, file, &cfg, err, sizeof err);

    free(s);
    return rc;
}

static int parse(const char *text)
{
    return parse_as(text, FILE_NAME);
}

static void assert_zeroed(const config_t *c)
{
    static const config_t zero;

    ck_assert_msg(memcmp(c, &zero, sizeof zero) == 0,
                  "config not zeroed after a failure");
}

static void assert_contains(const char *part)
{
    ck_assert_msg(strstr(err, part) != NULL, "error \"%s\" lacks \"%s\"", err,
                  part);
}

/* Parsing text fails with a message that contains every part given. */
static void assert_bad(const char *text, const char *part1, const char *part2)
{
    ck_assert_int_eq(parse(text), -1);
    assert_zeroed(&cfg);
    ck_assert_msg(strncmp(err, FILE_NAME ": ", strlen(FILE_NAME) + 2) == 0,
                  "error \"%s\" does not start with the file", err);
    ck_assert_msg(strchr(err, '\n') == NULL, "error \"%s\" spans lines", err);
    assert_contains(part1);
    if (part2 != NULL)
        assert_contains(part2);
}

/* A config with a bad "server" section. */
static void assert_bad_server(const char *server, const char *part1,
                              const char *part2)
{
    char text[1024];

    snprintf(text, sizeof text, "{'server': %s, %s, %s}", server, PLUGINS,
             LISTENERS);
    assert_bad(text, part1, part2);
}

/* A config with a bad "listeners" section. */
static void assert_bad_listeners(const char *listeners, const char *part1,
                                 const char *part2)
{
    char text[1024];

    snprintf(text, sizeof text, "{%s, 'listeners': %s}", PLUGINS, listeners);
    assert_bad(text, part1, part2);
}

/* A config with a bad "plugins" section. */
static void assert_bad_plugins(const char *plugins, const char *part1,
                               const char *part2)
{
    char text[1024];

    snprintf(text, sizeof text, "{'plugins': %s, %s}", plugins, LISTENERS);
    assert_bad(text, part1, part2);
}

/* Writes text to a new temporary file; returns its malloc'd name. */
static char *temp_file(const char *text)
{
    char *name = strdup("/tmp/swx_test_config_XXXXXX");
    int fd;

    ck_assert_ptr_nonnull(name);
    fd = mkstemp(name);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return name;
}

static void teardown(void)
{
    config_free(&cfg);
}

/* ---- good configs ---- */

static const char full_config[] =
    "{\n"
    "  'server': { 'reactor_num': 2, 'worker_num': 4, 'max_request': 1000,\n"
    "              'dispatch_mode': 3, 'backlog': 128, 'max_conn': 500,\n"
    "              'buffer_output_size': 4096, 'log_level': 'warning',\n"
    "              'log_file': '/var/log/swx.log', 'max_wait_time': 10 },\n"
    "  'plugins': [\n"
    "    { 'name': 'echo', 'path': '../build/libswx_echo.so',\n"
    "      'config': { 'greeting': 'hi' } },\n"
    "    { 'name': 'other', 'path': '/opt/swx/other.so' } ],\n"
    "  'listeners': [\n"
    "    { 'type': 'tcp', 'host': '0.0.0.0', 'port': 9501, 'plugin': 'echo' },\n"
    "    { 'type': 'tcp6', 'host': '::', 'port': 9502, 'plugin': 'other' },\n"
    "    { 'port': 9503, 'plugin': 'echo' } ]\n"
    "}\n";

START_TEST(test_full)
{
    ck_assert_int_eq(parse(full_config), 0);
    ck_assert_str_eq(cfg.path, FILE_NAME);
    ck_assert_int_eq(cfg.reactor_num, 2);
    ck_assert_int_eq(cfg.worker_num, 4);
    ck_assert_int_eq(cfg.max_request, 1000);
    ck_assert_int_eq(cfg.dispatch_mode, 3);
    ck_assert_int_eq(cfg.backlog, 128);
    ck_assert_int_eq(cfg.max_conn, 500);
    ck_assert_uint_eq(cfg.buffer_output_size, 4096);
    ck_assert_int_eq(cfg.log_level, SWX_LOG_WARNING);
    ck_assert_str_eq(cfg.log_file, "/var/log/swx.log");
    ck_assert_int_eq(cfg.max_wait_time, 10);
    ck_assert_int_eq(cfg.nplugins, 2);
    ck_assert_str_eq(cfg.plugins[0].name, "echo");
    ck_assert_str_eq(cfg.plugins[0].path, "../build/libswx_echo.so");
    ck_assert_str_eq(cfg.plugins[1].name, "other");
    ck_assert_int_eq(cfg.nlisteners, 3);
    ck_assert_int_eq(cfg.listeners[0].type, LISTENER_TCP);
    ck_assert_str_eq(cfg.listeners[0].host, "0.0.0.0");
    ck_assert_int_eq(cfg.listeners[0].port, 9501);
    ck_assert_int_eq(cfg.listeners[0].plugin, 0);
    ck_assert_int_eq(cfg.listeners[1].type, LISTENER_TCP6);
    ck_assert_str_eq(cfg.listeners[1].host, "::");
    ck_assert_int_eq(cfg.listeners[1].port, 9502);
    ck_assert_int_eq(cfg.listeners[1].plugin, 1);
    ck_assert_str_eq(cfg.listeners[2].host, "127.0.0.1");
    ck_assert_int_eq(cfg.listeners[2].plugin, 0);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_limits_accepted)
{
    ck_assert_int_eq(
        parse("{'server': {'reactor_num': 256, 'worker_num': 1024,"
              " 'max_request': 2147483647, 'dispatch_mode': 1, 'backlog': 65535,"
              " 'max_conn': 1000000, 'buffer_output_size': 1073741824,"
              " 'log_level': 'error', 'max_wait_time': 3600}, " PLUGINS ","
              " 'listeners': [{'port': 65535, 'plugin': 'echo'},"
              " {'port': 1, 'plugin': 'echo'}]}"),
        0);
    ck_assert_int_eq(cfg.reactor_num, 256);
    ck_assert_int_eq(cfg.worker_num, 1024);
    ck_assert_int_eq(cfg.max_request, 2147483647L);
    ck_assert_int_eq(cfg.dispatch_mode, 1);
    ck_assert_int_eq(cfg.max_conn, 1000000);
    ck_assert_uint_eq(cfg.buffer_output_size, 1073741824u);
    ck_assert_int_eq(cfg.log_level, SWX_LOG_ERROR);
    ck_assert_int_eq(cfg.listeners[0].port, 65535);
    ck_assert_int_eq(cfg.listeners[1].port, 1);
}
END_TEST

START_TEST(test_log_levels)
{
    static const char *const names[] = { "debug", "info", "notice", "warning",
                                         "error" };
    char text[512];

    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "{'server': {'log_level': '%s'}, %s, %s}",
                 names[i], PLUGINS, LISTENERS);
        ck_assert_int_eq(parse(text), 0);
        ck_assert_int_eq(cfg.log_level, i);
        config_free(&cfg);
    }
}
END_TEST

START_TEST(test_defaults)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    ck_assert_int_eq(parse(MINIMAL), 0);
    ck_assert_int_eq(cfg.reactor_num, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
    ck_assert_int_eq(cfg.worker_num, cpus < 1 ? 1 : cpus > 1024 ? 1024 : cpus);
    ck_assert_int_eq(cfg.max_request, 0);
    ck_assert_int_eq(cfg.dispatch_mode, 2);
    ck_assert_int_eq(cfg.backlog, 511);
    ck_assert_int_eq(cfg.max_conn, 10000);
    ck_assert_uint_eq(cfg.buffer_output_size, 2097152);
    ck_assert_int_eq(cfg.log_level, SWX_LOG_INFO);
    ck_assert_ptr_null(cfg.log_file);
    ck_assert_int_eq(cfg.max_wait_time, 3);
    ck_assert_str_eq(cfg.plugins[0].config_json, "{}");
    ck_assert_int_eq(cfg.listeners[0].type, LISTENER_TCP);
    ck_assert_str_eq(cfg.listeners[0].host, "127.0.0.1");
}
END_TEST

START_TEST(test_operations_defaults)
{
    ck_assert_int_eq(parse(MINIMAL), 0);
    ck_assert_int_eq(cfg.reload_async, 1);
    ck_assert_int_eq(cfg.daemonize, 0);
    ck_assert_ptr_null(cfg.pid_file);
    ck_assert_ptr_null(cfg.user);
    ck_assert_int_eq(cfg.heartbeat_check_interval, 0);
    ck_assert_int_eq(cfg.heartbeat_idle_time, 0);
    ck_assert_int_eq(cfg.open_tcp_nodelay, 1);
    ck_assert_int_eq(cfg.enable_reuse_port, 0);
    ck_assert_int_eq(cfg.admin.enabled, 0);
}
END_TEST

START_TEST(test_heartbeat_idle_default)
{
    char text[1024];
    snprintf(text, sizeof text, "{'server': {'heartbeat_check_interval': 5}, "
             "%s, %s}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.heartbeat_idle_time, 10);
}
END_TEST

/* max_request_grace: Swoole's default (half of max_request above 10), or
 * as given, 0 included; the other memory and overload settings. */
static void parse_server(const char *server)
{
    char text[1024];
    snprintf(text, sizeof text, "{'server': {%s}, %s, %s}", server, PLUGINS,
             LISTENERS);
    ck_assert_msg(parse(text) == 0, "%s: %s", server, err);
}

START_TEST(test_memory_settings)
{
    parse_server("'max_request': 100, 'task_max_request': 40");
    ck_assert_int_eq(cfg.max_request_grace, 50);
    ck_assert_int_eq(cfg.task_max_request_grace, 20);
    ck_assert_int_eq(cfg.reload_on_rss, 0);
    ck_assert_int_eq(cfg.max_concurrency, 0);
    config_free(&cfg);
    parse_server("'max_request': 10, 'task_max_request': 11");
    ck_assert_int_eq(cfg.max_request_grace, 0);
    ck_assert_int_eq(cfg.task_max_request_grace, 5);
    config_free(&cfg);
    parse_server("'max_request': 100, 'max_request_grace': 0, "
                 "'task_max_request_grace': 7, 'reload_on_rss': 512, "
                 "'max_concurrency': 64");
    ck_assert_int_eq(cfg.max_request_grace, 0);
    ck_assert_int_eq(cfg.task_max_request_grace, 7);
    ck_assert_int_eq(cfg.reload_on_rss, 512);
    ck_assert_int_eq(cfg.max_concurrency, 64);
}
END_TEST

START_TEST(test_bad_memory_settings)
{
    static const char *const bad[] = {
        "'reload_on_rss': -1", "'reload_on_rss': 1048577",
        "'max_request_grace': -1", "'max_request_grace': '5'",
        "'max_concurrency': -1", "'max_concurrency': 1000001",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{'server': {%s}, %s, %s}", bad[i],
                 PLUGINS, LISTENERS);
        ck_assert_msg(parse(text) == -1, "accepted %s", bad[i]);
        assert_contains("server.");
        assert_zeroed(&cfg);
    }
}
END_TEST

START_TEST(test_server_mode)
{
    char text[1024];
    snprintf(text, sizeof text, "{%s, %s}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.mode, SERVER_MODE_PROCESS);
    ck_assert_int_gt(cfg.reactor_num, 0);
    config_free(&cfg);
    /* Base mode: no reactor threads, whatever reactor_num said. */
    snprintf(text, sizeof text, "{'server': {'mode': 'base', 'reactor_num': "
             "4, 'worker_num': 256}, %s, %s}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.mode, SERVER_MODE_BASE);
    ck_assert_int_eq(cfg.reactor_num, 0);
    config_free(&cfg);
    snprintf(text, sizeof text, "{'server': {'mode': 'base', 'worker_num': "
             "257}, %s, %s}", PLUGINS, LISTENERS);
    assert_bad(text, "server.worker_num", "at most 256");
    snprintf(text, sizeof text, "{'server': {'mode': 'threads'}, %s, %s}",
             PLUGINS, LISTENERS);
    assert_bad(text, "server.mode", "\"process\"");
}
END_TEST

START_TEST(test_sched_policy)
{
    char text[1024];
    snprintf(text, sizeof text, "{%s, %s}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.sched_policy, SCHED_POLICY_OTHER);
    config_free(&cfg);
    snprintf(text, sizeof text, "{'server': {'sched_policy': 'batch'}, %s, "
             "%s}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.sched_policy, SCHED_POLICY_BATCH);
    config_free(&cfg);
    snprintf(text, sizeof text, "{'server': {'sched_policy': 'fifo'}, %s, "
             "%s}", PLUGINS, LISTENERS);
    assert_bad(text, "server.sched_policy",
               "expected one of \"other\", \"batch\", found \"fifo\"");
    snprintf(text, sizeof text, "{'server': {'sched_policy': 3}, %s, %s}",
             PLUGINS, LISTENERS);
    assert_bad(text, "server.sched_policy", "found 3");
}
END_TEST

/* Each of n "server" members is refused, naming the server's key. */
static void assert_server_bad(const char *const *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{'server': {%s}, %s, %s}", bad[i],
                 PLUGINS, LISTENERS);
        ck_assert_msg(parse(text) == -1, "accepted %s", bad[i]);
        assert_contains("server.");
    }
}

/* enable_coroutine, max_coroutine, coroutine_stack_size: Swoole's
 * defaults, values as given; a stack size off the page size is refused. */
START_TEST(test_coroutine_settings)
{
    parse_server("'worker_num': 1");
    ck_assert_int_eq(cfg.enable_coroutine, 1);
    ck_assert_int_eq(cfg.max_coroutine, 100000);
    ck_assert_uint_eq(cfg.coroutine_stack_size, 262144);
    config_free(&cfg);
    parse_server("'enable_coroutine': false, 'max_coroutine': 10, "
                 "'coroutine_stack_size': 1048576");
    ck_assert_int_eq(cfg.enable_coroutine, 0);
    ck_assert_int_eq(cfg.max_coroutine, 10);
    ck_assert_uint_eq(cfg.coroutine_stack_size, 1048576);
    config_free(&cfg);
    static const char *const bad[] = {
        "'coroutine_stack_size': 100000", "'coroutine_stack_size': 16384",
        "'coroutine_stack_size': 134217728", "'max_coroutine': 0",
        "'enable_coroutine': 1",
    };
    assert_server_bad(bad, sizeof bad / sizeof bad[0]);
    assert_contains("coroutine");
}
END_TEST

/* aio_worker_num: 4 unless given, 1 to 256; aio_core_worker_num 1, at
 * most aio_worker_num; aio_max_wait_time 0.001 s and aio_max_idle_time
 * 1 s (Swoole's), numbers (integer or not) from 0. */
START_TEST(test_aio_settings)
{
    parse_server("'worker_num': 1");
    ck_assert_int_eq(cfg.aio_worker_num, 4);
    ck_assert_int_eq(cfg.aio_core_worker_num, 1);
    ck_assert(cfg.aio_max_wait_time == 0.001);
    ck_assert(cfg.aio_max_idle_time == 1.0);
    config_free(&cfg);
    parse_server("'aio_worker_num': 16, 'aio_core_worker_num': 16, "
                 "'aio_max_wait_time': 0, 'aio_max_idle_time': 2.5");
    ck_assert_int_eq(cfg.aio_worker_num, 16);
    ck_assert_int_eq(cfg.aio_core_worker_num, 16);
    ck_assert(cfg.aio_max_wait_time == 0);
    ck_assert(cfg.aio_max_idle_time == 2.5);
    config_free(&cfg);
    static const char *const bad[] = {
        "'aio_worker_num': 0", "'aio_worker_num': 257",
        "'aio_worker_num': '4'",
    };
    assert_server_bad(bad, sizeof bad / sizeof bad[0]);
    assert_contains("server.aio_worker_num");
    static const char *const bad_pool[] = {
        "'aio_core_worker_num': 5", "'aio_core_worker_num': 0",
        "'aio_worker_num': 2, 'aio_core_worker_num': 3",
        "'aio_max_wait_time': -0.001", "'aio_max_wait_time': 3601",
        "'aio_max_idle_time': -1", "'aio_max_idle_time': true",
    };
    assert_server_bad(bad_pool, sizeof bad_pool / sizeof bad_pool[0]);
    assert_contains("server.aio_max_idle_time: expected a number from 0 to "
                    "86400, found true");
}
END_TEST

/* buffer_high_watermark, buffer_low_watermark (send_yield): half of
 * buffer_output_size and 0 unless given; high under buffer_output_size,
 * low under high. */
START_TEST(test_watermark_settings)
{
    parse_server("'buffer_output_size': 4194304");
    ck_assert_uint_eq(cfg.buffer_high_watermark, 2097152);
    ck_assert_uint_eq(cfg.buffer_low_watermark, 0);
    config_free(&cfg);
    parse_server("'buffer_high_watermark': 1048576, "
                 "'buffer_low_watermark': 262144");
    ck_assert_uint_eq(cfg.buffer_high_watermark, 1048576);
    ck_assert_uint_eq(cfg.buffer_low_watermark, 262144);
    config_free(&cfg);
    static const char *const bad[] = {
        "'buffer_high_watermark': 2097152",
        "'buffer_high_watermark': 1048576, 'buffer_low_watermark': 1048576",
        "'buffer_low_watermark': 1048576",
    };
    assert_server_bad(bad, sizeof bad / sizeof bad[0]);
    assert_contains("watermark");
}
END_TEST

START_TEST(test_admin_good)
{
    char text[1024];
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 9580, "
             "'token': 'abc'}}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.admin.enabled, 1);
    ck_assert_str_eq(cfg.admin.host, "127.0.0.1");
    ck_assert_int_eq(cfg.admin.port, 9580);
    ck_assert_str_eq(cfg.admin.token, "abc");
    config_free(&cfg);
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': '/tmp/a.sock'}}",
             PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_str_eq(cfg.admin.unix_path, "/tmp/a.sock");
    ck_assert_ptr_null(cfg.admin.token);
}
END_TEST

START_TEST(test_admin_token)
{
    char text[1024];
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': 'a.sock', "
             "'token': 'Az09-._~+/=='}}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_str_eq(cfg.admin.token, "Az09-._~+/==");
}
END_TEST

/* Messages about the token never show it. */
START_TEST(test_bad_admin_token)
{
    static const char *const bad[] = {
        "''", "'has space SECRET'", "'SECRET!'", "'SECRET\\u00e9'",
        "42", "null", "['SECRET']",
    };
    char text[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 9580, "
                 "'token': %s}}", PLUGINS, LISTENERS, bad[i]);
        assert_bad(text, "admin.token: expected a string", "not shown");
        ck_assert_msg(strstr(err, "SECRET") == NULL &&
                      strstr(err, "42") == NULL, "shown: %s", err);
    }
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 9580}}", PLUGINS,
             LISTENERS);
    assert_bad(text, "admin.token", "required");
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'token': 'SECRET'}}",
             PLUGINS, LISTENERS);
    assert_bad(text, "admin: expected either", "found neither");
    ck_assert_msg(strstr(err, "SECRET") == NULL, "shown: %s", err);
}
END_TEST

START_TEST(test_admin_mode)
{
    static const struct { const char *json; int mode; } cases[] = {
        {"", 0600}, {", 'mode': '0660'", 0660}, {", 'mode': '640'", 0640},
        {", 'mode': 384", 0600}, {", 'mode': '0'", 0}, {", 'mode': 511", 0777},
    };
    char text[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': 'a.sock'%s}}",
                 PLUGINS, LISTENERS, cases[i].json);
        ck_assert_int_eq(parse(text), 0);
        ck_assert_int_eq(cfg.admin.mode, cases[i].mode);
        config_free(&cfg);
    }
}
END_TEST

START_TEST(test_admin_idle_timeout)
{
    char text[1024];
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': 'a.sock'}}",
             PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.admin.idle_timeout, 10);
    config_free(&cfg);
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': 'a.sock', "
             "'idle_timeout': 1}}", PLUGINS, LISTENERS);
    ck_assert_int_eq(parse(text), 0);
    ck_assert_int_eq(cfg.admin.idle_timeout, 1);
    config_free(&cfg);
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': 'a.sock', "
             "'idle_timeout': 0}}", PLUGINS, LISTENERS);
    assert_bad(text, "admin.idle_timeout: expected an integer from 1 to 3600",
               "found 0");
}
END_TEST

START_TEST(test_bad_admin_mode)
{
    static const char *const bad[] = {
        "'0800'", "'abc'", "''", "'07777'", "'1000'", "'0o600'", "512", "-1",
        "6.0", "true", "null",
    };
    char text[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{%s, %s, 'admin': {'unix': 'a.sock', "
                 "'mode': %s}}", PLUGINS, LISTENERS, bad[i]);
        assert_bad(text, "admin.mode: expected a file mode", "found");
    }
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 9580, "
             "'mode': '0600'}}", PLUGINS, LISTENERS);
    assert_bad(text, "admin.mode", "only the Unix socket");
}
END_TEST

START_TEST(test_bad_admin)
{
    char text[1024];
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 9580, "
             "'host': '0.0.0.0'}}", PLUGINS, LISTENERS);
    assert_bad(text, "admin.host", "loopback");
    snprintf(text, sizeof text, "{%s, %s, 'admin': {}}", PLUGINS, LISTENERS);
    assert_bad(text, "admin", "either");
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 1, 'unix': 'x'}}",
             PLUGINS, LISTENERS);
    assert_bad(text, "admin", "either");
    snprintf(text, sizeof text, "{%s, %s, 'admin': {'port': 1, 'bind': 1}}",
             PLUGINS, LISTENERS);
    assert_bad(text, "admin.bind", "unknown key");
    assert_bad_server("{'heartbeat_idle_time': 3}", "server.heartbeat_idle_time",
                      "heartbeat_check_interval");
    assert_bad_server("{'reload_async': 1}", "server.reload_async", "found 1");
}
END_TEST

START_TEST(test_empty_server)
{
    ck_assert_int_eq(parse("{'server': {}, " PLUGINS ", " LISTENERS "}"), 0);
    ck_assert_int_eq(cfg.dispatch_mode, 2);
    ck_assert_int_eq(cfg.backlog, 511);
    ck_assert_int_ge(cfg.worker_num, 1);
}
END_TEST

START_TEST(test_tcp6_default_host)
{
    ck_assert_int_eq(parse("{" PLUGINS ", 'listeners': [{'type': 'tcp6',"
                           " 'port': 9501, 'plugin': 'echo'}]}"),
                     0);
    ck_assert_int_eq(cfg.listeners[0].type, LISTENER_TCP6);
    ck_assert_str_eq(cfg.listeners[0].host, "::1");
}
END_TEST

START_TEST(test_same_port_other_host_or_type)
{
    ck_assert_int_eq(
        parse("{" PLUGINS ", 'listeners': ["
              "{'port': 9501, 'plugin': 'echo'},"
              "{'host': '127.0.0.2', 'port': 9501, 'plugin': 'echo'},"
              "{'type': 'tcp6', 'port': 9501, 'plugin': 'echo'}]}"),
        0);
    ck_assert_int_eq(cfg.nlisteners, 3);
}
END_TEST

/* ---- plugin paths and config ---- */

static const char *resolve(const char *file, const char *path)
{
    char text[512];

    snprintf(text, sizeof text,
             "{'plugins': [{'name': 'echo', 'path': '%s'}], %s}", path,
             LISTENERS);
    config_free(&cfg);
    ck_assert_int_eq(parse_as(text, file), 0);
    return cfg.plugins[0].resolved;
}

START_TEST(test_relative_path)
{
    ck_assert_str_eq(resolve("conf/x.json", "../build/libswx_echo.so"),
                     "conf/../build/libswx_echo.so");
    ck_assert_str_eq(cfg.plugins[0].path, "../build/libswx_echo.so");
    ck_assert_str_eq(resolve("/etc/swx/x.json", "echo.so"),
                     "/etc/swx/echo.so");
    ck_assert_str_eq(resolve("a//b.json", "echo.so"), "a/echo.so");
    ck_assert_str_eq(resolve("/x.json", "echo.so"), "/echo.so");
}
END_TEST

START_TEST(test_path_without_directory)
{
    ck_assert_str_eq(resolve("x.json", "echo.so"), "./echo.so");
    config_free(&cfg);
    ck_assert_int_eq(config_parse("{\"plugins\": [{\"name\": \"e\", \"path\":"
                                  " \"e.so\"}], \"listeners\": [{\"port\": 1,"
                                  " \"plugin\": \"e\"}]}",
                                  NULL, &cfg, err, sizeof err),
                     0);
    ck_assert_ptr_null(cfg.path);
    ck_assert_str_eq(cfg.plugins[0].resolved, "./e.so");
}
END_TEST

START_TEST(test_absolute_path)
{
    ck_assert_str_eq(resolve("conf/x.json", "/opt/swx/libswx_echo.so"),
                     "/opt/swx/libswx_echo.so");
}
END_TEST

START_TEST(test_plugin_config_json)
{
    ck_assert_int_eq(
        parse("{'plugins': [{'name': 'echo', 'path': 'e.so', 'config':"
              " {'greeting': 'hi', 'n': [1, 2.5, true, null],"
              " 'nested': {'any key': {}}}}], " LISTENERS "}"),
        0);
    ck_assert_str_eq(cfg.plugins[0].config_json,
                     "{\"greeting\":\"hi\",\"n\":[1,2.5,true,null],"
                     "\"nested\":{\"any key\":{}}}");
}
END_TEST

START_TEST(test_free_zeroes)
{
    ck_assert_int_eq(parse(full_config), 0);
    config_free(&cfg);
    assert_zeroed(&cfg);
    config_free(&cfg);
    config_free(NULL);
}
END_TEST

/* ---- files ---- */

START_TEST(test_load_file)
{
    char *text = json(MINIMAL);
    char *name = temp_file(text);

    ck_assert_int_eq(config_load(name, &cfg, err, sizeof err), 0);
    ck_assert_str_eq(cfg.path, name);
    ck_assert_str_eq(cfg.plugins[0].resolved, "/tmp/echo.so");
    unlink(name);
    free(name);
    free(text);
}
END_TEST

START_TEST(test_syntax_error)
{
    char *name = temp_file("{\n  \"plugins\": [],\n  \"listeners\": [}\n}\n");
    char want[256];

    ck_assert_int_eq(config_load(name, &cfg, err, sizeof err), -1);
    assert_zeroed(&cfg);
    snprintf(want, sizeof want, "%s:3:17: ", name);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "error \"%s\" does not start with \"%s\"", err, want);
    unlink(name);
    free(name);
}
END_TEST

START_TEST(test_syntax_error_string)
{
    ck_assert_int_eq(parse("{'plugins': [1,]}"), -1);
    assert_zeroed(&cfg);
    assert_contains(FILE_NAME ":1:");
    ck_assert_int_eq(parse(""), -1);
    assert_contains(FILE_NAME ":");
    ck_assert_int_eq(parse(MINIMAL " trailing"), -1);
    assert_contains(FILE_NAME ":1:");
}
END_TEST

START_TEST(test_duplicate_json_key)
{
    ck_assert_int_eq(parse("{" PLUGINS ", " LISTENERS ", " PLUGINS "}"), -1);
    assert_zeroed(&cfg);
    assert_contains(FILE_NAME ":1:");
    assert_contains("duplicate");
}
END_TEST

START_TEST(test_unreadable_file)
{
    const char *name = "/tmp/swx_test_config_does_not_exist.json";
    char want[256];

    unlink(name);
    ck_assert_int_eq(config_load(name, &cfg, err, sizeof err), -1);
    assert_zeroed(&cfg);
    snprintf(want, sizeof want, "%s: cannot read: %s", name, strerror(ENOENT));
    ck_assert_str_eq(err, want);

    ck_assert_int_eq(config_load("/tmp", &cfg, err, sizeof err), -1);
    assert_zeroed(&cfg);
    snprintf(want, sizeof want, "/tmp: cannot read: %s", strerror(EISDIR));
    ck_assert_str_eq(err, want);
}
END_TEST

/* ---- bad structure ---- */

START_TEST(test_top_not_object)
{
    assert_bad("[1, 2]", FILE_NAME ": top level: expected an object, found [1,2]",
               NULL);
    assert_bad("42", "expected an object, found 42", NULL);
    assert_bad("'text'", "expected an object, found \"text\"", NULL);
}
END_TEST

START_TEST(test_unknown_top_key)
{
    assert_bad("{" PLUGINS ", " LISTENERS ", 'servers': {}}",
               FILE_NAME ": servers: unknown key; expected one of server, "
                         "plugins, listeners",
               NULL);
}
END_TEST

START_TEST(test_unknown_server_key)
{
    assert_bad_server("{'wrker_num': 4}",
                      FILE_NAME ": server.wrker_num: unknown key; expected one "
                                "of reactor_num, worker_num, max_request,",
                      "log_file, max_wait_time");
}
END_TEST

START_TEST(test_unknown_listener_key)
{
    assert_bad_listeners("[{'port': 1, 'plugin': 'echo', 'prot': 2}]",
                         "listeners[0].prot: unknown key; expected one of "
                         "type, host, port, path, plugin",
                         NULL);
}
END_TEST

START_TEST(test_unknown_plugin_key)
{
    assert_bad_plugins("[{'name': 'echo', 'path': 'e.so', 'conf': {}}]",
                       "plugins[0].conf: unknown key; expected one of name, "
                       "path, config",
                       NULL);
}
END_TEST

START_TEST(test_unknown_key_control_chars)
{
    assert_bad_server("{'a\\nb': 1}", "server.a?b: unknown key", NULL);
}
END_TEST

START_TEST(test_missing_required)
{
    assert_bad("{" LISTENERS "}", FILE_NAME ": plugins: required key is missing",
               NULL);
    assert_bad("{" PLUGINS "}", FILE_NAME ": listeners: required key is missing",
               NULL);
    assert_bad_plugins("[{'name': 'echo'}]",
                       "plugins[0].path: required key is missing", NULL);
    assert_bad_plugins("[{'path': 'e.so'}]",
                       "plugins[0].name: required key is missing", NULL);
    assert_bad_listeners("[{'plugin': 'echo'}]",
                         "listeners[0].port: required key is missing", NULL);
    assert_bad_listeners("[{'port': 1, 'plugin': 'echo'}, {'port': 2}]",
                         "listeners[1].plugin: required key is missing", NULL);
}
END_TEST

START_TEST(test_empty_arrays)
{
    assert_bad_plugins("[]",
                       "plugins: expected a non-empty array of objects, found []",
                       NULL);
    assert_bad_listeners("[]",
                         "listeners: expected a non-empty array of objects, "
                         "found []",
                         NULL);
}
END_TEST

START_TEST(test_wrong_section_types)
{
    assert_bad_server("[]", "server: expected an object, found []", NULL);
    assert_bad_plugins("{'name': 'echo'}",
                       "plugins: expected a non-empty array of objects, "
                       "found {\"name\":\"echo\"}",
                       NULL);
    assert_bad_plugins("['echo']", "plugins[0]: expected an object, found \"echo\"",
                       NULL);
    assert_bad_listeners("[{'port': 1, 'plugin': 'echo'}, 9501]",
                         "listeners[1]: expected an object, found 9501", NULL);
}
END_TEST

/* ---- bad values ---- */

START_TEST(test_wrong_type)
{
    assert_bad_server("{'worker_num': 'four'}",
                      FILE_NAME ": server.worker_num: expected an integer from 1 "
                                "to 1024, found \"four\"",
                      NULL);
    assert_bad_server("{'worker_num': 1.5}", "server.worker_num: expected an "
                      "integer from 1 to 1024, found 1.5", NULL);
    assert_bad_server("{'worker_num': 2.0}", "found 2.0", NULL);
    assert_bad_server("{'backlog': true}", "server.backlog: expected an integer "
                      "from 1 to 65535, found true", NULL);
    assert_bad_server("{'max_conn': null}", "server.max_conn: expected an integer "
                      "from 1 to 1000000, found null", NULL);
    assert_bad_server("{'log_file': 7}", "server.log_file: expected a non-empty "
                      "string, found 7", NULL);
    assert_bad_server("{'log_file': ''}", "server.log_file: expected a non-empty "
                      "string, found \"\"", NULL);
    assert_bad_listeners("[{'port': '9501', 'plugin': 'echo'}]",
                         "listeners[0].port: expected an integer from 1 to "
                         "65535, found \"9501\"", NULL);
    assert_bad_plugins("[{'name': 'echo', 'path': 'e.so', 'config': 'x'}]",
                       "plugins[0].config: expected an object, found \"x\"",
                       NULL);
    assert_bad_plugins("[{'name': '', 'path': 'e.so'}]",
                       "plugins[0].name: expected a non-empty string, found \"\"",
                       NULL);
}
END_TEST

START_TEST(test_out_of_range)
{
    assert_bad_listeners("[{'port': 0, 'plugin': 'echo'}]",
                         FILE_NAME ": listeners[0].port: expected an integer "
                                   "from 1 to 65535, found 0",
                         NULL);
    assert_bad_listeners("[{'port': 70000, 'plugin': 'echo'}]",
                         FILE_NAME ": listeners[0].port: expected an integer "
                                   "from 1 to 65535, found 70000",
                         NULL);
    assert_bad_server("{'dispatch_mode': 9}", "server.dispatch_mode: expected an "
                      "integer from 1 to 5, found 9", NULL);
    assert_bad_server("{'buffer_output_size': 4095}", "server.buffer_output_size: "
                      "expected an integer from 4096 to 1073741824, found 4095",
                      NULL);
    assert_bad_server("{'max_request': -1}", "server.max_request: expected an "
                      "integer from 0 to 2147483647, found -1", NULL);
    assert_bad_server("{'max_request': 2147483648}", "found 2147483648", NULL);
    assert_bad_server("{'worker_num': 9223372036854775807}",
                      "found 9223372036854775807", NULL);
    assert_bad_server("{'worker_num': -9223372036854775808}",
                      "found -9223372036854775808", NULL);
    assert_bad_server("{'max_wait_time': 0}", "server.max_wait_time: expected an "
                      "integer from 1 to 3600, found 0", NULL);
}
END_TEST

START_TEST(test_integer_too_big_for_json)
{
    ck_assert_int_eq(parse("{'server': {'worker_num': 99999999999999999999}, "
                           PLUGINS ", " LISTENERS "}"),
                     -1);
    assert_zeroed(&cfg);
    assert_contains(FILE_NAME ":1:");
}
END_TEST

START_TEST(test_bad_log_level)
{
    assert_bad_server("{'log_level': 'loud'}",
                      "server.log_level: expected one of \"debug\", \"info\", "
                      "\"notice\", \"warning\", \"error\", found \"loud\"",
                      NULL);
    assert_bad_server("{'log_level': 1}", "server.log_level: expected one of",
                      "found 1");
    assert_bad_server("{'log_level': 'INFO'}", "found \"INFO\"", NULL);
}
END_TEST

START_TEST(test_bad_listener_type)
{
    assert_bad_listeners("[{'type': 'sctp', 'port': 1, 'plugin': 'echo'}]",
                         "listeners[0].type: expected one of \"tcp\", \"tcp6\", "
                         "\"udp\", \"udp6\", \"unix\", \"unix_dgram\", "
                         "found \"sctp\"",
                         NULL);
}
END_TEST

START_TEST(test_listener_kinds)
{
    ck_assert_int_eq(parse("{" PLUGINS ", 'listeners': ["
                           "{'type': 'udp', 'port': 9, 'plugin': 'echo'},"
                           "{'type': 'unix', 'path': '/tmp/s', 'plugin': 'echo'},"
                           "{'type': 'tcp', 'port': 9, 'plugin': 'echo', "
                           "'open_eof_split': true, 'package_eof': '\\r\\n'},"
                           "{'type': 'tcp', 'port': 10, 'plugin': 'echo', "
                           "'open_length_check': true, "
                           "'package_length_type': 'N', "
                           "'package_length_offset': 0, "
                           "'package_body_offset': 4}]}"), 0);
    ck_assert_int_eq(cfg.listeners[0].type, LISTENER_UDP);
    ck_assert_str_eq(cfg.listeners[1].path, "/tmp/s");
    ck_assert_int_eq(cfg.listeners[2].framer.kind, FRAMER_EOF);
    ck_assert_uint_eq(cfg.listeners[2].framer.package_eof_len, 2);
    ck_assert_int_eq(cfg.listeners[3].framer.kind, FRAMER_LENGTH);
    ck_assert_uint_eq(cfg.listeners[3].framer.package_max_length,
                      FRAMER_DEFAULT_MAX_LENGTH);
}
END_TEST

START_TEST(test_bad_listener_framing)
{
    assert_bad_listeners("[{'type': 'unix', 'plugin': 'echo'}]",
                         "listeners[0].path", "required key is missing");
    assert_bad_listeners("[{'type': 'unix', 'path': '/x', 'port': 3, "
                         "'plugin': 'echo'}]", "listeners[0].port",
                         "not used by type");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'open_eof_split': true}]",
                         "listeners[0].package_eof", "required");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'open_eof_split': true, 'package_eof': '123456789'}]",
                         "listeners[0].package_eof", NULL);
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'open_length_check': true, "
                         "'package_length_type': 'x'}]",
                         "listeners[0]", NULL);
    assert_bad_listeners("[{'type': 'udp', 'port': 3, 'plugin': 'echo', "
                         "'open_eof_split': true, 'package_eof': 'x'}]",
                         "listeners[0]", "datagram");
}
END_TEST

/* A directory with www/ (a document root), file.txt and link -> www. */
static char *make_root_dir(void)
{
    char tmpl[] = "/tmp/swx-test-config-XXXXXX", path[512];
    char *dir = mkdtemp(tmpl) ? realpath(tmpl, NULL) : NULL;

    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/www", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/file.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/link", dir);
    ck_assert_int_eq(symlink("www", path), 0);
    return dir;
}

static void remove_root_dir(char *dir)
{
    char path[512];
    const char *names[] = {"link", "file.txt", "www", ""};

    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        remove(path);
    }
    free(dir);
}

START_TEST(test_listener_protocols)
{
    char *dir = make_root_dir(), file[512], www[512];

    snprintf(file, sizeof file, "%s/swx.json", dir);
    snprintf(www, sizeof www, "%s/www", dir);
    ck_assert_int_eq(parse_as("{" PLUGINS ", 'listeners': ["
                              "{'port': 9, 'plugin': 'echo'},"
                              "{'port': 10, 'plugin': 'echo', "
                              "'protocol': 'http', 'document_root': 'link'},"
                              "{'port': 11, 'plugin': 'echo', "
                              "'protocol': 'websocket', "
                              "'http_request_timeout': 5, "
                              "'package_max_length': 1000}]}", file), 0);
    ck_assert_int_eq(cfg.listeners[0].protocol, PROTOCOL_RAW);
    ck_assert_ptr_null(cfg.listeners[0].document_root);
    ck_assert_int_eq(cfg.listeners[1].protocol, PROTOCOL_HTTP);
    /* Relative to the config's directory, symlinks resolved. */
    ck_assert_str_eq(cfg.listeners[1].document_root, www);
    ck_assert_int_eq(cfg.listeners[1].http_request_timeout, 60);
    ck_assert_int_eq(cfg.listeners[2].protocol, PROTOCOL_WEBSOCKET);
    ck_assert_int_eq(cfg.listeners[2].http_request_timeout, 5);
    ck_assert_uint_eq(cfg.listeners[2].package_max_length, 1000);
    config_free(&cfg);
    ck_assert_int_eq(parse("{" PLUGINS ", 'listeners': [{'port': 9, "
                           "'plugin': 'echo', 'protocol': 'http', "
                           "'document_root': '/'}]}"), 0);
    ck_assert_str_eq(cfg.listeners[0].document_root, "/");
    remove_root_dir(dir);
}
END_TEST

START_TEST(test_real_client_address)
{
    ck_assert_int_eq(parse("{" PLUGINS ", 'listeners': [{'port': 9, "
                           "'plugin': 'echo', 'proxy_protocol': true}, "
                           "{'port': 10, 'plugin': 'echo', 'protocol': "
                           "'http', 'real_ip_from': ['127.0.0.1', "
                           "'10.1.0.0/16', 'fd00::/8', 'unix:']}, "
                           "{'port': 11, 'plugin': 'echo', 'protocol': "
                           "'websocket', 'real_ip_from': ['::/0'], "
                           "'real_ip_header': 'X-Real-IP'}]}"), 0);
    ck_assert_int_eq(cfg.listeners[0].proxy_protocol, 1);
    ck_assert_ptr_null(cfg.listeners[0].real_ip_header);
    const config_listener_t *l = &cfg.listeners[1];
    ck_assert_int_eq(l->proxy_protocol, 0);
    ck_assert_str_eq(l->real_ip_header, "X-Forwarded-For");
    ck_assert_uint_eq(l->real_ip_from.n, 4);
    const cidr_list_t *t = &l->real_ip_from;
    ck_assert(cidr_match(t->v, t->n, "127.0.0.1"));
    ck_assert(!cidr_match(t->v, t->n, "127.0.0.2"));
    ck_assert(cidr_match(t->v, t->n, "10.1.255.3"));
    ck_assert(!cidr_match(t->v, t->n, "10.2.0.1"));
    ck_assert(cidr_match(t->v, t->n, "::ffff:10.1.0.9"));
    ck_assert(cidr_match(t->v, t->n, "fd12::1"));
    ck_assert(!cidr_match(t->v, t->n, "fe80::1"));
    ck_assert(cidr_match(t->v, t->n, "unix"));
    ck_assert(!cidr_match(t->v, t->n, "garbage"));
    ck_assert_str_eq(cfg.listeners[2].real_ip_header, "X-Real-IP");
    config_free(&cfg);
}
END_TEST

/* open_http2_protocol and the http2_* limits: Swoole's defaults, bounds,
 * HTTP listeners only. */
START_TEST(test_http2)
{
    ck_assert_int_eq(parse("{" PLUGINS ", 'listeners': [{'port': 9, "
                           "'plugin': 'echo', 'protocol': 'http', "
                           "'open_http2_protocol': true}, {'port': 10, "
                           "'plugin': 'echo', 'protocol': 'http', "
                           "'http2_max_concurrent_streams': 16, "
                           "'http2_max_frame_size': 65536}]}"), 0);
    const config_listener_t *l = &cfg.listeners[0];
    ck_assert_int_eq(l->open_http2_protocol, 1);
    ck_assert_int_eq(l->http2_max_concurrent_streams, 128);
    ck_assert_uint_eq(l->http2_header_table_size, 4096);
    ck_assert_uint_eq(l->http2_init_window_size, 2147483647);
    ck_assert_uint_eq(l->http2_max_frame_size, 16384);
    ck_assert_uint_eq(l->http2_max_header_list_size, 4294967295u);
    ck_assert_int_eq(cfg.listeners[1].open_http2_protocol, 0);
    ck_assert_int_eq(cfg.listeners[1].http2_max_concurrent_streams, 16);
    ck_assert_uint_eq(cfg.listeners[1].http2_max_frame_size, 65536);
    config_free(&cfg);
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'open_http2_protocol': true}]",
                         "listeners[0].open_http2_protocol",
                         "only for protocol");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'http2_max_frame_size': 1000}]",
                         "listeners[0].http2_max_frame_size", "16384");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'http2_max_concurrent_streams': 0}]",
                         "listeners[0].http2_max_concurrent_streams", NULL);
}
END_TEST

/* TLS keys: defaults, both spellings of ssl_protocols, SNI names lower
 * case, paths resolved against the config's directory. */
START_TEST(test_tls_settings)
{
    ck_assert_int_eq(parse_as("{" PLUGINS ", 'listeners': [{'port': 9, "
                              "'plugin': 'echo', 'ssl_cert_file': 'c.pem', "
                              "'ssl_key_file': '/k.pem', 'ssl_sni_certs': "
                              "{'A.Example': {'ssl_cert_file': 'a.pem', "
                              "'ssl_key_file': 'a.key'}}}, {'port': 10, "
                              "'plugin': 'echo', 'ssl_cert_file': 'c', "
                              "'ssl_key_file': 'k', 'ssl_protocols': "
                              "'TLSv1.3', 'ssl_alpn': ['h2', 'http/1.1'], "
                              "'ssl_verify_peer': true, "
                              "'ssl_client_cert_file': 'ca.pem'}, "
                              "{'port': 11, 'plugin': 'echo'}]}",
                              "/etc/swx/s.json"), 0);
    const config_listener_t *l = &cfg.listeners[0];
    ck_assert_str_eq(l->ssl_cert_file, "/etc/swx/c.pem");
    ck_assert_str_eq(l->ssl_key_file, "/k.pem");
    ck_assert_int_eq(l->ssl_protocols, CONFIG_TLSV1_2 | CONFIG_TLSV1_3);
    ck_assert_int_eq(l->ssl_handshake_timeout, 10);
    ck_assert_int_eq(l->ssl_prefer_server_ciphers, 1);
    ck_assert_int_eq(l->ssl_nsni_certs, 1);
    ck_assert_str_eq(l->ssl_sni_certs[0].name, "a.example");
    ck_assert_str_eq(l->ssl_sni_certs[0].key_file, "/etc/swx/a.key");
    l = &cfg.listeners[1];
    ck_assert_int_eq(l->ssl_protocols, CONFIG_TLSV1_3);
    ck_assert_str_eq(l->ssl_alpn[0], "h2");
    ck_assert_ptr_null(l->ssl_alpn[2]);
    ck_assert_str_eq(l->ssl_client_cert_file, "/etc/swx/ca.pem");
    ck_assert_ptr_null(cfg.listeners[2].ssl_cert_file);
    config_free(&cfg);
}
END_TEST

START_TEST(test_bad_tls_settings)
{
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'ssl_cert_file': 'c'}]",
                         "listeners[0].ssl_key_file",
                         "required with ssl_cert_file");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'ssl_ciphers': 'HIGH'}]",
                         "listeners[0].ssl_ciphers",
                         "needs ssl_cert_file and ssl_key_file");
    assert_bad_listeners("[{'type': 'udp', 'port': 3, 'plugin': 'echo', "
                         "'ssl_cert_file': 'c', 'ssl_key_file': 'k'}]",
                         "listeners[0].ssl_cert_file", "datagram");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'ssl_cert_file': 'c', 'ssl_key_file': 'k', "
                         "'ssl_verify_peer': true}]",
                         "listeners[0].ssl_verify_peer",
                         "needs ssl_client_cert_file");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'ssl_cert_file': 'c', 'ssl_key_file': 'k', "
                         "'ssl_protocols': ['TLSv1.2', 'SSLv3']}]",
                         "listeners[0].ssl_protocols", "TLS versions");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'ssl_cert_file': 'c', 'ssl_key_file': 'k', "
                         "'ssl_sni_certs': {'a.test': {'ssl_cert_file': "
                         "'a'}}}]",
                         "listeners[0].ssl_sni_certs.a.test",
                         "ssl_cert_file and ssl_key_file");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'ssl_cert_file': 'c', 'ssl_key_file': 'k', "
                         "'ssl_handshake_timeout': 0}]",
                         "listeners[0].ssl_handshake_timeout", "1 to 3600");
}
END_TEST

START_TEST(test_bad_real_client_address)
{
    assert_bad_listeners("[{'type': 'udp', 'port': 3, 'plugin': 'echo', "
                         "'proxy_protocol': true}]",
                         "listeners[0].proxy_protocol", "datagram");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'real_ip_from': ['10.0.0.0/8']}]",
                         "listeners[0].real_ip_from", "only for protocol");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': ['10.0.0.0/33']}]",
                         "listeners[0].real_ip_from[0]",
                         "a prefix length of 0 to 32, found \"10.0.0.0/33\"");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': ['::1', 'fd00::/129']}]",
                         "listeners[0].real_ip_from[1]", "0 to 128");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': ['10.0.0/8']}]",
                         "listeners[0].real_ip_from[0]", "numeric");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': ['10.0.0.0/']}]",
                         "listeners[0].real_ip_from[0]", "prefix length");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': []}]",
                         "listeners[0].real_ip_from", "non-empty array");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': [7]}]",
                         "listeners[0].real_ip_from[0]", "a string");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_header': 'X-Forwarded-For'}]",
                         "listeners[0].real_ip_header", "needs real_ip_from");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'real_ip_from': ['::1'], 'real_ip_header': 'a b'}]",
                         "listeners[0].real_ip_header", "a header name");
}
END_TEST

START_TEST(test_bad_listener_protocol)
{
    char *dir = make_root_dir(), text[600];

    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'ws'}]",
                         "listeners[0].protocol: expected one of \"raw\", "
                         "\"http\", \"websocket\", found \"ws\"", NULL);
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'open_eof_split': true, 'package_eof': 'x'}]",
                         "listeners[0].protocol", "open_eof_split");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'protocol': 'websocket', 'open_length_check': true, "
                         "'package_length_type': 'N'}]",
                         "listeners[0].protocol", "open_length_check");
    assert_bad_listeners("[{'type': 'udp', 'port': 3, 'plugin': 'echo', "
                         "'protocol': 'http'}]",
                         "listeners[0].protocol", "datagram");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'document_root': '/'}]",
                         "listeners[0].document_root",
                         "only for protocol \"http\" or \"websocket\"");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', "
                         "'http_request_timeout': 5}]",
                         "listeners[0].http_request_timeout", "only for");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'http_request_timeout': 0}]",
                         "listeners[0].http_request_timeout",
                         "expected an integer from 1 to 86400, found 0");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'document_root': '/nonexistent/swx'}]",
                         "listeners[0].document_root: expected an existing "
                         "directory, found \"/nonexistent/swx\"", NULL);
    snprintf(text, sizeof text, "[{'port': 3, 'plugin': 'echo', "
             "'protocol': 'http', 'document_root': '%s/file.txt'}]", dir);
    assert_bad_listeners(text, "listeners[0].document_root",
                         "expected an existing directory");
    assert_bad_listeners("[{'port': 3, 'plugin': 'echo', 'protocol': 'http', "
                         "'document_root': ''}]",
                         "listeners[0].document_root",
                         "expected a non-empty string");
    remove_root_dir(dir);
}
END_TEST

START_TEST(test_undeclared_plugin)
{
    assert_bad_listeners("[{'port': 1, 'plugin': 'nope'}]",
                         FILE_NAME ": listeners[0].plugin: expected the name of "
                                   "a declared plugin, found \"nope\"",
                         NULL);
    assert_bad_listeners("[{'port': 1, 'plugin': 0}]",
                         "listeners[0].plugin: expected the name of a declared "
                         "plugin, found 0",
                         NULL);
}
END_TEST

START_TEST(test_duplicate_plugin)
{
    assert_bad_plugins("[{'name': 'echo', 'path': 'a.so'},"
                       " {'name': 'other', 'path': 'b.so'},"
                       " {'name': 'echo', 'path': 'c.so'}]",
                       FILE_NAME ": plugins[2].name: expected a name not used "
                                 "by plugins[0], found \"echo\"",
                       NULL);
}
END_TEST

START_TEST(test_duplicate_listener)
{
    assert_bad_listeners("[{'port': 9501, 'plugin': 'echo'},"
                         " {'host': '127.0.0.1', 'port': 9501, 'plugin': 'echo'}]",
                         FILE_NAME ": listeners[1]: duplicate listener",
                         "is already used by listeners[0]");
    assert_bad_listeners("[{'type': 'tcp6', 'host': '::1', 'port': 1,"
                         " 'plugin': 'echo'},"
                         " {'port': 2, 'plugin': 'echo'},"
                         " {'type': 'tcp6', 'host': '0:0::1', 'port': 1,"
                         " 'plugin': 'echo'}]",
                         "listeners[2]: duplicate listener",
                         "listeners[0]");
}
END_TEST

START_TEST(test_bad_host)
{
    assert_bad_listeners("[{'host': 'localhost', 'port': 1, 'plugin': 'echo'}]",
                         "listeners[0].host: expected a numeric IPv4 address",
                         "found \"localhost\"");
    assert_bad_listeners("[{'host': '::1', 'port': 1, 'plugin': 'echo'}]",
                         "listeners[0].host: expected a numeric IPv4 address",
                         "found \"::1\"");
    assert_bad_listeners("[{'type': 'tcp6', 'host': '127.0.0.1', 'port': 1,"
                         " 'plugin': 'echo'}]",
                         "listeners[0].host: expected a numeric IPv6 address",
                         "found \"127.0.0.1\"");
    assert_bad_listeners("[{'host': '', 'port': 1, 'plugin': 'echo'}]",
                         "listeners[0].host: expected a non-empty string", NULL);
}
END_TEST

START_TEST(test_long_value_truncated)
{
    char text[1024], big[301];

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(text, sizeof text, "{'server': {'log_level': '%s'}, %s, %s}", big,
             PLUGINS, LISTENERS);
    assert_bad(text, "found \"aaaa", "...");
    ck_assert_uint_lt(strlen(err), 300);
}
END_TEST

START_TEST(test_small_error_buffer)
{
    char small[16];
    char *s = json("{'server': {'worker_num': 0}, " PLUGINS ", " LISTENERS "}");

    ck_assert_int_eq(config_parse(s, FILE_NAME, &cfg, small, sizeof small), -1);
    ck_assert_str_eq(small, "conf/x.json: se");
    ck_assert_int_eq(config_parse(s, FILE_NAME, &cfg, NULL, 0), -1);
    assert_zeroed(&cfg);
    free(s);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *good = tcase_create("good");
    TCase *files = tcase_create("files");
    TCase *bad = tcase_create("bad");

    tcase_add_checked_fixture(good, NULL, teardown);
    tcase_add_test(good, test_full);
    tcase_add_test(good, test_limits_accepted);
    tcase_add_test(good, test_log_levels);
    tcase_add_test(good, test_defaults);
    tcase_add_test(good, test_empty_server);
    tcase_add_test(good, test_operations_defaults);
    tcase_add_test(good, test_heartbeat_idle_default);
    tcase_add_test(good, test_memory_settings);
    tcase_add_test(good, test_server_mode);
    tcase_add_test(good, test_sched_policy);
    tcase_add_test(good, test_admin_good);
    tcase_add_test(good, test_admin_mode);
    tcase_add_test(good, test_admin_idle_timeout);
    tcase_add_test(good, test_admin_token);
    tcase_add_test(good, test_tcp6_default_host);
    tcase_add_test(good, test_same_port_other_host_or_type);
    tcase_add_test(good, test_relative_path);
    tcase_add_test(good, test_path_without_directory);
    tcase_add_test(good, test_absolute_path);
    tcase_add_test(good, test_plugin_config_json);
    tcase_add_test(good, test_free_zeroes);
    suite_add_tcase(s, good);

    tcase_add_checked_fixture(files, NULL, teardown);
    tcase_add_test(files, test_load_file);
    tcase_add_test(files, test_syntax_error);
    tcase_add_test(files, test_syntax_error_string);
    tcase_add_test(files, test_duplicate_json_key);
    tcase_add_test(files, test_unreadable_file);
    suite_add_tcase(s, files);

    tcase_add_checked_fixture(bad, NULL, teardown);
    tcase_add_test(bad, test_top_not_object);
    tcase_add_test(bad, test_bad_memory_settings);
    tcase_add_test(bad, test_unknown_top_key);
    tcase_add_test(bad, test_unknown_server_key);
    tcase_add_test(bad, test_unknown_listener_key);
    tcase_add_test(bad, test_unknown_plugin_key);
    tcase_add_test(bad, test_unknown_key_control_chars);
    tcase_add_test(bad, test_missing_required);
    tcase_add_test(bad, test_empty_arrays);
    tcase_add_test(bad, test_wrong_section_types);
    tcase_add_test(bad, test_wrong_type);
    tcase_add_test(bad, test_out_of_range);
    tcase_add_test(bad, test_integer_too_big_for_json);
    tcase_add_test(bad, test_bad_log_level);
    tcase_add_test(bad, test_bad_listener_type);
    tcase_add_test(bad, test_bad_listener_framing);
    tcase_add_test(good, test_listener_kinds);
    tcase_add_test(good, test_listener_protocols);
    tcase_add_test(bad, test_bad_listener_protocol);
    tcase_add_test(bad, test_bad_real_client_address);
    tcase_add_test(bad, test_real_client_address);
    tcase_add_test(bad, test_tls_settings);
    tcase_add_test(bad, test_undeclared_plugin);
    tcase_add_test(bad, test_duplicate_plugin);
    tcase_add_test(bad, test_duplicate_listener);
    tcase_add_test(bad, test_bad_host);
    tcase_add_test(bad, test_long_value_truncated);
    tcase_add_test(bad, test_small_error_buffer);
    tcase_add_test(bad, test_bad_admin);
    tcase_add_test(bad, test_coroutine_settings);
    tcase_add_test(bad, test_aio_settings);
    tcase_add_test(bad, test_watermark_settings);
    tcase_add_test(bad, test_bad_tls_settings);
    tcase_add_test(bad, test_bad_admin_mode);
    tcase_add_test(bad, test_bad_admin_token);
    tcase_add_test(bad, test_http2);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
