/* test_mbox.c: mailbox messages (task packing): inline and memfd payloads,
 * size checks, a full mailbox, and malformed frames dropped. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "ipc/mbox.h"

static int fds[2];
static mbox_t box;

static void setup(void)
{
    ck_assert_int_eq(mbox_socketpair(fds), 0);
    ck_assert_int_eq(mbox_init(&box, fds[0], 16u * 1024 * 1024), 0);
}

static void teardown(void)
{
    mbox_free(&box);
    close(fds[0]);
    close(fds[1]);
}

static char *pattern(size_t len)
{
    char *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 131 + (i >> 9));
    return p;
}

static void round_trip(size_t len)
{
    char *data = pattern(len);
    mbox_hdr_t h = {.type = MBOX_TASK, .plugin = 3, .src = 7, .task_id = 42,
                    .task_pid = 1234};
    ck_assert_int_eq(mbox_send(fds[1], &h, data, len), 0);
    mbox_msg_t m;
    ck_assert_int_eq(mbox_recv(&box, &m), 1);
    ck_assert_int_eq(m.hdr.type, MBOX_TASK);
    ck_assert_int_eq(m.hdr.plugin, 3);
    ck_assert_int_eq(m.hdr.src, 7);
    ck_assert_int_eq(m.hdr.task_id, 42);
    ck_assert_int_eq(m.hdr.task_pid, 1234);
    ck_assert_uint_eq(m.len, len);
    ck_assert(len == 0 || memcmp(m.data, data, len) == 0);
    ck_assert_int_eq(mbox_recv(&box, &m), 0);
    free(data);
}

START_TEST(inline_payloads)
{
    round_trip(0);
    round_trip(1);
    round_trip(MBOX_INLINE_MAX);
}
END_TEST

START_TEST(memfd_payloads)
{
    round_trip(MBOX_INLINE_MAX + 1);
    round_trip(8u * 1024 * 1024);
}
END_TEST

START_TEST(oversized_dropped)
{
    mbox_t small;
    ck_assert_int_eq(mbox_init(&small, fds[0], 100), 0);
    char *data = pattern(200);
    mbox_hdr_t h = {.type = MBOX_PIPE};
    ck_assert_int_eq(mbox_send(fds[1], &h, data, 200), 0);
    ck_assert_int_eq(mbox_send(fds[1], &h, data, 50), 0);
    mbox_msg_t m;
    ck_assert_int_eq(mbox_recv(&small, &m), 1);
    ck_assert_uint_eq(m.len, 50);
    mbox_free(&small);
    free(data);
}
END_TEST

START_TEST(malformed_dropped)
{
    char junk[64] = {0};
    ck_assert_int_eq(send(fds[1], junk, 5, 0), 5); /* short */
    mbox_hdr_t h = {.type = 77, .len = 0};         /* unknown type */
    ck_assert_int_eq(send(fds[1], &h, sizeof(h), 0), (ssize_t)sizeof(h));
    h = (mbox_hdr_t){.type = MBOX_PIPE, .len = 10}; /* length lies */
    memcpy(junk, &h, sizeof(h));
    ck_assert_int_eq(send(fds[1], junk, sizeof(h) + 4, 0),
                     (ssize_t)(sizeof(h) + 4));
    h = (mbox_hdr_t){.type = MBOX_PIPE, .flags = MBOX_MEMFD, .len = 10};
    ck_assert_int_eq(send(fds[1], &h, sizeof(h), 0), (ssize_t)sizeof(h));
    mbox_hdr_t good = {.type = MBOX_FINISH, .task_id = 9};
    ck_assert_int_eq(mbox_send(fds[1], &good, "ok", 2), 0);
    mbox_msg_t m;
    ck_assert_int_eq(mbox_recv(&box, &m), 1);
    ck_assert_int_eq(m.hdr.task_id, 9);
    ck_assert_int_eq(mbox_recv(&box, &m), 0);
}
END_TEST

START_TEST(full_mailbox_is_eagain)
{
    char *data = pattern(MBOX_INLINE_MAX);
    mbox_hdr_t h = {.type = MBOX_TASK};
    int rc = 0, sent = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = mbox_send(fds[1], &h, data, MBOX_INLINE_MAX);
        sent += rc == 0;
    }
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert_int_gt(sent, 0);
    free(data);
}
END_TEST

int main(void)
{
    log_open(NULL, SWX_LOG_ERROR + 1); /* the drops log on purpose */
    Suite *s = suite_create("mbox");
    TCase *tc = tcase_create("messages");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, inline_payloads);
    tcase_add_test(tc, memfd_payloads);
    tcase_add_test(tc, oversized_dropped);
    tcase_add_test(tc, malformed_dropped);
    tcase_add_test(tc, full_mailbox_is_eagain);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
