/* test_watch.c: what max_execution_time and the slow log rest on: return
 * addresses named from /proc/PID/maps and ELF symbol tables (static
 * functions too), malformed images refused without a read outside them,
 * the watchdog's copy of a published callback (a seqlock), the text naming
 * a callback's session, and the settings (a listener inherits the
 * server's, or sets its own). */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/symbols.h"
#include "proc/watch.h"
#include "proc/watchdog.h"

/* A static function: only .symtab names it. */
static __attribute__((noinline)) int unit_marker(int x)
{
    /* Some 40 bytes of code, so that +8 lies inside it. */
    volatile int acc = x;
    for (int i = 0; i < x; i++)
        acc = acc * 3 + i;
    return acc;
}

START_TEST(test_describe_static_function)
{
    volatile int keep = unit_marker(2);
    (void)keep;
    uintptr_t addrs[2] = {(uintptr_t)&unit_marker + 4,
                          (uintptr_t)&unit_marker + 8};
    char out[2048];
    int n = symbols_describe(getpid(), addrs, 2, "  ", out, sizeof(out));
    ck_assert_int_eq(n, 2);
    ck_assert_msg(strstr(out, "  #0 ") == out, "%s", out);
    ck_assert_msg(strstr(out, "test_watch(unit_marker+0x4) [0x") != NULL,
                  "%s", out);
    /* A caller's address is named as is, though looked up one byte
     * before. */
    ck_assert_msg(strstr(out, "\n  #1 ") != NULL &&
                  strstr(out, "(unit_marker+0x8) [0x") != NULL, "%s", out);
}
END_TEST

START_TEST(test_describe_outside_files)
{
    uintptr_t addrs[1] = {0x10};
    char out[256];
    ck_assert_int_eq(symbols_describe(getpid(), addrs, 1, "", out,
                                      sizeof(out)), 1);
    ck_assert_str_eq(out, "#0 [0x10]");
}
END_TEST

START_TEST(test_describe_cut_to_fit)
{
    uintptr_t addrs[3] = {(uintptr_t)&unit_marker, (uintptr_t)&unit_marker,
                          (uintptr_t)&unit_marker};
    char out[120];
    int n = symbols_describe(getpid(), addrs, 3, "    ", out, sizeof(out));
    ck_assert_int_lt(n, 3);
    ck_assert_uint_lt(strlen(out), sizeof(out));
    ck_assert_int_eq(symbols_describe(getpid(), addrs, 3, "", out, 0), 0);
}
END_TEST

/* This test binary's bytes, malloc'd. */
static char *self_image(size_t *size)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    struct stat st;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    char *p = malloc((size_t)st.st_size);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *size = (size_t)st.st_size;
    return p;
}

START_TEST(test_elf_malformed)
{
    char name[64];
    uint64_t delta;
    size_t size;
    char *img = self_image(&size);
    /* Every truncation of the headers, garbage, and fields that point
     * outside the image: refused, and (under ASan) nothing read outside. */
    for (size_t cut = 0; cut < 256; cut += 7) {
        char *part = malloc(cut + 1);
        memcpy(part, img, cut);
        ck_assert_int_eq(symbols_elf_find(part, cut, 0x1000, name,
                                          sizeof(name), &delta), -ENOENT);
        free(part);
    }
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof(eh));
    eh.e_shoff = (uint64_t)-64;
    memcpy(img, &eh, sizeof(eh));
    ck_assert_int_eq(symbols_elf_find(img, size, 0x1000, name, sizeof(name),
                                      &delta), -ENOENT);
    eh.e_phnum = 0xffff;
    eh.e_phoff = size - 8;
    memcpy(img, &eh, sizeof(eh));
    ck_assert_int_eq(symbols_elf_find(img, size, 0x1000, name, sizeof(name),
                                      &delta), -ENOENT);
    memset(img, 0x7f, 4096);
    ck_assert_int_eq(symbols_elf_find(img, size, 0x1000, name, sizeof(name),
                                      &delta), -ENOENT);
    free(img);
}
END_TEST

START_TEST(test_watchdog_read)
{
    shm_worker_t *sw = calloc(1, sizeof(*sw));
    watchdog_cb_t cb;
    ck_assert_int_eq(watchdog_read(sw, &cb), 0); /* none runs */
    atomic_store(&sw->cb_seq, 2);
    atomic_store(&sw->cb_start, 12345);
    atomic_store(&sw->cb_pid, 77);
    atomic_store(&sw->cb_limit_ms, 2000);
    atomic_store(&sw->cb_slow_ms, 1000);
    atomic_store(&sw->cb_plugin, 1);
    atomic_store(&sw->cb_session, 513);
    memset(sw->cb_name, 'n', sizeof(sw->cb_name)); /* no NUL */
    snprintf(sw->cb_detail, sizeof(sw->cb_detail), "GET /x");
    ck_assert_int_eq(watchdog_read(sw, &cb), 1);
    ck_assert_int_eq(cb.start, 12345);
    ck_assert_int_eq(cb.pid, 77);
    ck_assert_int_eq(cb.limit_ms, 2000);
    ck_assert_int_eq(cb.slow_ms, 1000);
    ck_assert_int_eq(cb.plugin, 1);
    ck_assert_uint_eq(cb.session, 513);
    ck_assert_uint_eq(strlen(cb.name), sizeof(cb.name) - 1);
    ck_assert_str_eq(cb.detail, "GET /x");
    atomic_store(&sw->cb_seq, 3); /* being written */
    ck_assert_int_eq(watchdog_read(sw, &cb), 0);
    atomic_store(&sw->cb_seq, 4);
    atomic_store(&sw->cb_start, 0); /* ended */
    ck_assert_int_eq(watchdog_read(sw, &cb), 0);
    free(sw);
}
END_TEST

START_TEST(test_watch_describe)
{
    char out[64];
    watch_describe(5, "GET /a", out, sizeof(out));
    ck_assert_str_eq(out, " (session 5, GET /a)");
    watch_describe(5, "", out, sizeof(out));
    ck_assert_str_eq(out, " (session 5)");
    watch_describe(0, "task 3 from worker 1", out, sizeof(out));
    ck_assert_str_eq(out, " (task 3 from worker 1)");
    watch_describe(0, "", out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

static int parse(const char *server, const char *listener, config_t *cfg,
                 char *err, size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"server\": {%s}, \"plugins\": [{\"name\": \"p\", \"path\": "
             "\"p.so\"}], \"listeners\": [{\"port\": 9000, \"plugin\": \"p\""
             "%s}, {\"port\": 9001, \"plugin\": \"p\"}]}",
             server, listener);
    return config_parse(text, "t.json", cfg, err, errlen);
}

START_TEST(test_config_inherit_and_override)
{
    config_t cfg;
    char err[512];
    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(parse("", "", &cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.max_execution_time, 0);
    ck_assert_int_eq(cfg.listeners[0].max_execution_time, 0);
    ck_assert_ptr_null(cfg.request_slowlog_file);
    ck_assert_int_eq(watch_configured(&cfg), 0);
    config_free(&cfg);
    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(parse("\"max_execution_time\": 30, "
                           "\"request_slowlog_timeout\": 5, "
                           "\"request_slowlog_file\": \"/tmp/s.log\"",
                           ", \"max_execution_time\": 0", &cfg, err,
                           sizeof(err)), 0);
    ck_assert_int_eq(cfg.listeners[0].max_execution_time, 0);
    ck_assert_int_eq(cfg.listeners[0].request_slowlog_timeout, 5);
    ck_assert_int_eq(cfg.listeners[1].max_execution_time, 30);
    ck_assert_str_eq(cfg.request_slowlog_file, "/tmp/s.log");
    ck_assert_int_eq(watch_configured(&cfg), 1);
    config_free(&cfg);
    memset(&cfg, 0, sizeof(cfg));
    /* Only a listener sets one. */
    ck_assert_int_eq(parse("", ", \"request_slowlog_timeout\": 2", &cfg, err,
                           sizeof(err)), 0);
    ck_assert_int_eq(watch_configured(&cfg), 1);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_refused)
{
    config_t cfg;
    char err[512];
    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(parse("", ", \"max_execution_time\": -1", &cfg, err,
                           sizeof(err)), -1);
    ck_assert_msg(strstr(err, "listeners[0].max_execution_time") != NULL,
                  "%s", err);
    ck_assert_int_eq(parse("\"request_slowlog_timeout\": \"5\"", "", &cfg,
                           err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "server.request_slowlog_timeout") != NULL,
                  "%s", err);
    ck_assert_int_eq(parse("\"max_execution_time\": 86401", "", &cfg, err,
                           sizeof(err)), -1);
    ck_assert_int_eq(parse("\"request_slowlog_file\": \"\"", "", &cfg, err,
                           sizeof(err)), -1);
}
END_TEST

static Suite *watch_suite(void)
{
    Suite *s = suite_create("watch");
    TCase *t = tcase_create("symbols");
    tcase_add_test(t, test_describe_static_function);
    tcase_add_test(t, test_describe_outside_files);
    tcase_add_test(t, test_describe_cut_to_fit);
    tcase_add_test(t, test_elf_malformed);
    suite_add_tcase(s, t);
    t = tcase_create("watch");
    tcase_add_test(t, test_watchdog_read);
    tcase_add_test(t, test_watch_describe);
    tcase_add_test(t, test_config_inherit_and_override);
    tcase_add_test(t, test_config_refused);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(watch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
