/* test_outq.c: a connection's output queue: bytes and file segments leave
 * in order, buffer accounting counts bytes only, files are closed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/outq.h"

#include <stdint.h>
#include <sys/sendfile.h>

/* The queue's bytes go to a socket, as the plain transport sends them. */
static ssize_t sock_write(void *arg, const void *data, size_t len)
{
    ssize_t n = send((int)(intptr_t)arg, data, len, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

static ssize_t sock_sendfile(void *arg, int fd, off_t *off, size_t len)
{
    ssize_t n = sendfile((int)(intptr_t)arg, fd, off, len);
    return n < 0 ? -errno : n;
}

static const outq_io_t sock_io = {sock_write, sock_sendfile};

static int flush(outq_t *q, int sock)
{
    return outq_flush(q, &sock_io, (void *)(intptr_t)sock);
}

static int sv[2];
static outq_t q;

static void setup(void)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    memset(&q, 0, sizeof(q));
}

static void teardown(void)
{
    outq_free(&q);
    close(sv[0]);
    close(sv[1]);
}

/* A temporary file holding data (already unlinked). */
static int temp_file(const char *data, size_t len)
{
    char path[] = "/tmp/swx-test-outq-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    return fd;
}

/* Flush into sv[0] while reading sv[1] until want bytes came. */
static char *drain(size_t want)
{
    char *got = malloc(want + 1);
    size_t n = 0;
    while (n < want) {
        int rc = flush(&q, sv[0]);
        ck_assert(rc == 0 || rc == -EAGAIN);
        struct pollfd p = {.fd = sv[1], .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, 5000), 1);
        ssize_t r = read(sv[1], got + n, want - n);
        ck_assert_int_gt(r, 0);
        n += (size_t)r;
    }
    ck_assert_int_eq(flush(&q, sv[0]), 0);
    return got;
}

START_TEST(test_bytes_and_files_in_order)
{
    int fd = temp_file("0123456789", 10);
    ck_assert_int_eq(outq_append(&q, "head:", 5), 0);
    ck_assert_int_eq(outq_append_file(&q, fd, 2, 5), 0);
    ck_assert_int_eq(outq_append(&q, ":tail", 5), 0);
    ck_assert_uint_eq(q.bytes, 10);
    ck_assert_int_eq(q.nfiles, 1);
    char *got = drain(15);
    ck_assert_int_eq(memcmp(got, "head:23456:tail", 15), 0);
    ck_assert(outq_empty(&q));
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_int_eq(q.nfiles, 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* closed once sent */
    free(got);
}
END_TEST

/* More than the socket buffer holds: EAGAIN, then the rest, in order. */
START_TEST(test_backpressure)
{
    size_t big = 4u << 20;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    int fd = temp_file(data, big);
    ck_assert_int_eq(outq_append_file(&q, fd, 0, big), 0);
    ck_assert_int_eq(outq_append(&q, data, 1000), 0);
    ck_assert_uint_eq(q.bytes, 1000); /* file bytes are not buffered */
    ck_assert_int_eq(flush(&q, sv[0]), -EAGAIN);
    char *got = drain(big + 1000);
    ck_assert_int_eq(memcmp(got, data, big), 0);
    ck_assert_int_eq(memcmp(got + big, data, 1000), 0);
    free(got);
    free(data);
}
END_TEST

START_TEST(test_file_shorter_than_announced)
{
    int fd = temp_file("abc", 3);
    ck_assert_int_eq(outq_append_file(&q, fd, 0, 10), 0);
    int rc;
    while ((rc = flush(&q, sv[0])) == -EAGAIN)
        ;
    ck_assert_int_eq(rc, -ENODATA);
    ck_assert_str_eq(outq_strerror(&q, rc), "the file shrank while being sent");
}
END_TEST

START_TEST(test_client_gone_during_file)
{
    int fd = temp_file("abcdef", 6);
    ck_assert_int_eq(outq_append(&q, "head", 4), 0);
    ck_assert_int_eq(outq_append_file(&q, fd, 0, 6), 0);
    close(sv[1]);
    sv[1] = -1;
    int rc = flush(&q, sv[0]);
    ck_assert_int_eq(rc, -EPIPE);
    ck_assert_str_eq(outq_strerror(&q, rc),
                     "the client went away during a file transfer");
    ck_assert_str_eq(outq_strerror(&q, -ECONNRESET),
                     "the client went away during a file transfer");
    outq_free(&q);
    /* Without a file it is the plain error. */
    ck_assert_str_eq(outq_strerror(&q, -EPIPE), strerror(EPIPE));
}
END_TEST

START_TEST(test_free_closes_files)
{
    int fd = temp_file("abc", 3);
    ck_assert_int_eq(outq_append(&q, "x", 1), 0);
    ck_assert_int_eq(outq_append_file(&q, fd, 0, 3), 0);
    outq_free(&q);
    ck_assert(outq_empty(&q));
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    int empty = temp_file("", 0);
    ck_assert_int_eq(outq_append_file(&q, empty, 0, 0), 0); /* closed */
    ck_assert(outq_empty(&q));
    ck_assert_int_eq(fcntl(empty, F_GETFD), -1);
}
END_TEST

static Suite *outq_suite(void)
{
    Suite *s = suite_create("outq");
    TCase *t = tcase_create("outq");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_bytes_and_files_in_order);
    tcase_add_test(t, test_backpressure);
    tcase_add_test(t, test_file_shorter_than_announced);
    tcase_add_test(t, test_client_gone_during_file);
    tcase_add_test(t, test_free_closes_files);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(outq_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
