/* test_plugin.c: the plugin ABI check and the loader's error messages. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin.h"

static const swx_api_t *slot;

static swx_plugin_t good(void)
{
    swx_plugin_t d = {
        .magic = SWX_PLUGIN_MAGIC,
        .abi_major = SWX_ABI_MAJOR,
        .abi_minor = SWX_ABI_MINOR,
        .size = sizeof(swx_plugin_t),
        .name = "t",
        .api_slot = &slot,
    };
    return d;
}

START_TEST(accepts_this_abi)
{
    char err[512] = "";
    swx_plugin_t d = good();
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(refuses_wrong_magic)
{
    char err[512];
    swx_plugin_t d = good();
    d.magic = 0xdeadbeef;
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "magic 0xdeadbeef"));
}
END_TEST

START_TEST(refuses_other_major)
{
    char err[512];
    swx_plugin_t d = good();
    d.abi_major = SWX_ABI_MAJOR + 1;
    d.abi_minor = 0;
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "server ABI %d.%d", SWX_ABI_MAJOR,
             SWX_ABI_MINOR);
    ck_assert_ptr_nonnull(strstr(err, "plugin ABI 2.0"));
    ck_assert_ptr_nonnull(strstr(err, want));
    ck_assert_ptr_nonnull(strstr(err, "rebuild the plugin"));
}
END_TEST

START_TEST(refuses_newer_minor)
{
    char err[512];
    swx_plugin_t d = good();
    d.abi_minor = SWX_ABI_MINOR + 1;
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "plugin ABI 1.%d", SWX_ABI_MINOR + 1);
    ck_assert_ptr_nonnull(strstr(err, want));
}
END_TEST

/* A plugin built against ABI 1.0 has the shorter description. */
START_TEST(accepts_older_minor)
{
    char err[512] = "";
    swx_plugin_t d = good();
    d.abi_minor = 0;
    d.size = offsetof(swx_plugin_t, on_worker_exit);
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), 0);
    d.size = sizeof(swx_plugin_t);
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
}
END_TEST

/* ABI 1.4 grew the structs the server fills at their ends only: a plugin
 * built against 1.3 reads every field it knows where it always was. */
START_TEST(grown_structs_keep_old_fields)
{
    ck_assert_uint_eq(offsetof(swx_conninfo_t, peer_addr), 2 * sizeof(int));
    ck_assert_uint_eq(offsetof(swx_conninfo_t, peer_port), 2 * sizeof(int) + 48);
    ck_assert_uint_ge(offsetof(swx_conninfo_t, proxy_addr),
                      offsetof(swx_conninfo_t, peer_port) + sizeof(int));
    ck_assert_uint_gt(offsetof(swx_http_request_t, proxy_addr),
                      offsetof(swx_http_request_t, peer_port));
    ck_assert_uint_gt(offsetof(swx_http_request_t, peer_port),
                      offsetof(swx_http_request_t, body_len));
    /* A 1.3 plugin's description has the 1.3 size and is accepted. */
    char err[512] = "";
    swx_plugin_t d = good();
    d.abi_minor = 3;
    d.size = offsetof(swx_plugin_t, on_before_shutdown);
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), 0);
}
END_TEST

/* ABI 1.5 appended on_before_shutdown: a 1.4 description ends before it
 * (and is accepted); one claiming 1.4 with the 1.5 size is refused. */
START_TEST(abi_1_4_is_shorter)
{
    char err[512] = "";
    swx_plugin_t d = good();
    d.abi_minor = 4;
    d.size = offsetof(swx_plugin_t, on_before_shutdown);
    ck_assert_uint_eq(d.size, offsetof(swx_plugin_t, on_ws_close) +
                                  sizeof(void (*)(void)));
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), 0);
    d.size = sizeof(swx_plugin_t);
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "ABI 1.4 has"));
}
END_TEST

START_TEST(refuses_wrong_size)
{
    char err[512];
    swx_plugin_t d = good();
    d.size = sizeof(swx_plugin_t) - sizeof(void *);
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bytes"));
    ck_assert_ptr_nonnull(strstr(err, "rebuild"));
}
END_TEST

START_TEST(refuses_missing_api_slot)
{
    char err[512];
    swx_plugin_t d = good();
    d.api_slot = NULL;
    ck_assert_int_eq(plugin_abi_check(&d, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "SWX_PLUGIN"));
}
END_TEST

START_TEST(missing_file_quotes_dlerror)
{
    config_plugin_t cfg = {.name = "gone", .path = "gone.so",
                           .resolved = "/nonexistent/gone.so",
                           .config_json = "{}"};
    plugin_t p;
    char err[1024];
    ck_assert_int_eq(plugin_load(&p, &cfg, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "plugin \"gone\" (/nonexistent/gone.so)"));
    ck_assert_ptr_nonnull(strstr(err, "cannot open shared object file"));
}
END_TEST

START_TEST(missing_symbol_quotes_dlerror)
{
    /* libm is a real shared object without a swx_plugin symbol. */
    config_plugin_t cfg = {.name = "m", .path = "libm.so.6",
                           .resolved = "libm.so.6", .config_json = "{}"};
    plugin_t p;
    char err[1024];
    ck_assert_int_eq(plugin_load(&p, &cfg, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "swx_plugin"));
    ck_assert_ptr_nonnull(strstr(err, "undefined symbol"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin");
    TCase *tc = tcase_create("abi");
    tcase_add_test(tc, accepts_this_abi);
    tcase_add_test(tc, refuses_wrong_magic);
    tcase_add_test(tc, refuses_other_major);
    tcase_add_test(tc, refuses_newer_minor);
    tcase_add_test(tc, accepts_older_minor);
    tcase_add_test(tc, refuses_wrong_size);
    tcase_add_test(tc, grown_structs_keep_old_fields);
    tcase_add_test(tc, abi_1_4_is_shorter);
    tcase_add_test(tc, refuses_missing_api_slot);
    tcase_add_test(tc, missing_file_quotes_dlerror);
    tcase_add_test(tc, missing_symbol_quotes_dlerror);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
