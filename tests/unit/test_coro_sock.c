/* test_coro_sock.c: coroutine client sockets on a real loop: the delimiter
 * scan, connect over a Unix path and TCP (refused, names refused), receive
 * up to a delimiter with the rest kept, exactly n, timeouts, close waking a
 * reader, and the calls outside a coroutine. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/sock.h"
#include "coro/wait.h"
#include "event/loop.h"

static loop_t *loop;
static char path[108];
static int lfd; /* the Unix listener the coroutines connect to */

static void setup(void)
{
    loop = loop_create();
    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(coro_init(loop, 64 * 1024, 1000, 1), 0);
    coro_wait_init(loop);
    snprintf(path, sizeof(path), "/tmp/swx-cosock-%d.sock", (int)getpid());
    unlink(path);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&un, sizeof(un)), 0);
    ck_assert_int_eq(listen(lfd, 8), 0);
}

static void teardown(void)
{
    coro_cancel_all(loop_now() + 1000);
    coro_wait_free();
    coro_free();
    loop_free(loop);
    close(lfd);
    unlink(path);
}

static void run_until_done(int ms)
{
    int64_t end = loop_now() + ms;
    coro_stats_t st;
    for (coro_get_stats(&st); st.live > 0 && loop_now() < end;
         coro_get_stats(&st))
        loop_run_once(loop, 10);
    ck_assert_int_eq(st.live, 0);
}

/* ---- the scan ---- */

START_TEST(scan_finds_the_first_delimiter_end)
{
    ck_assert_uint_eq(coro_sock_scan("", 0, "ab\ncd\n", 6, "\n", 1), 3);
    ck_assert_uint_eq(coro_sock_scan("", 0, "abcd", 4, "\n", 1), 0);
    ck_assert_uint_eq(coro_sock_scan("", 0, "a\r\n\r\nb", 6, "\r\n\r\n", 4),
                      5);
    /* across what the caller already holds and the new bytes */
    ck_assert_uint_eq(coro_sock_scan("head\r\n\r", 7, "\nbody", 5,
                                     "\r\n\r\n", 4), 1);
    ck_assert_uint_eq(coro_sock_scan("x\r", 2, "\n\r\n", 3, "\r\n\r\n", 4),
                      3);
    /* a last byte that is not the end of a delimiter */
    ck_assert_uint_eq(coro_sock_scan("", 0, "\n\n\r\n", 4, "\r\n", 2), 4);
    ck_assert_uint_eq(coro_sock_scan("ab", 2, "", 0, "b", 1), 0);
}
END_TEST

/* ---- sockets ---- */

typedef struct job {
    long r[8];
    char got[8][64];
} job_t;

static job_t job;

static void lines(void *arg)
{
    (void)arg;
    coro_sock_t *s;
    ck_assert_int_eq(coro_sock_connect(path, 0, 1000, &s), 0);
    for (int i = 0; i < 4; i++)
        job.r[i] = coro_sock_recv_until(s, "\r\n", 2, job.got[i], 8, 1000);
    job.r[4] = coro_sock_recv_exact(s, job.got[4], 5, 1000);
    job.r[5] = coro_sock_recv_until(s, "\n", 1, job.got[5], 8, 1000);
    job.r[6] = coro_sock_recv_until(s, "\n", 1, job.got[6], 8, 1000);
    ck_assert_int_eq(coro_sock_close(s), 0);
}

/* Accept the coroutine's connection (it waits on its first read). */
static int accept_one(void)
{
    int fd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static void put(int fd, const char *s)
{
    ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    for (int i = 0; i < 3; i++)
        loop_run_once(loop, 5);
}

START_TEST(recv_until_keeps_the_rest_and_exact_waits)
{
    memset(&job, 0, sizeof(job));
    ck_assert_int_gt(coro_go(lines, NULL), 0);
    int fd = accept_one();
    put(fd, "ab\r\ncd\r");         /* a line and half a delimiter */
    put(fd, "\nefgh\r\n12345678"); /* ends it; one more; too long */
    put(fd, "9\r\n0123");          /* exact 5 over two writes */
    put(fd, "4tail");              /* then EOF without a delimiter */
    close(fd);
    run_until_done(2000);
    ck_assert_int_eq(job.r[0], 4);
    ck_assert_str_eq(job.got[0], "ab\r\n");
    ck_assert_int_eq(job.r[1], 4);
    ck_assert_str_eq(job.got[1], "cd\r\n");
    ck_assert_int_eq(job.r[2], 6);
    ck_assert_str_eq(job.got[2], "efgh\r\n");
    ck_assert_int_eq(job.r[3], -EMSGSIZE); /* "12345678" and no \r\n */
    ck_assert_int_eq(job.r[4], 5);         /* "9\r\n01": the dropped 8 */
    ck_assert_int_eq(memcmp(job.got[4], "9\r\n01", 5), 0);
    ck_assert_int_eq(job.r[5], 7); /* "234tail" then EOF */
    ck_assert_str_eq(job.got[5], "234tail");
    ck_assert_int_eq(job.r[6], 0);
}
END_TEST

static void sender(void *arg)
{
    (void)arg;
    coro_sock_t *s;
    static char big[1 << 20];
    ck_assert_int_eq(coro_sock_connect("unix:", 0, 1000, &s), -EINVAL);
    ck_assert_int_eq(coro_sock_connect("unix:/nonexistent/x", 0, 1000, &s),
                     -ENOENT);
    char spec[120];
    snprintf(spec, sizeof(spec), "unix:%s", path);
    ck_assert_int_eq(coro_sock_connect(spec, 0, 1000, &s), 0);
    job.r[0] = coro_sock_send(s, big, sizeof(big), 5000);
    job.r[1] = coro_sock_recv(s, job.got[0], sizeof(job.got[0]), 50);
    coro_sock_close(s);
}

START_TEST(send_all_waits_for_room_and_recv_times_out)
{
    memset(&job, 0, sizeof(job));
    ck_assert_int_gt(coro_go(sender, NULL), 0);
    int fd = accept_one();
    static char sink[65536];
    size_t total = 0;
    int64_t end = loop_now() + 5000;
    while (total < (1 << 20) && loop_now() < end) {
        loop_run_once(loop, 1);
        ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        total += r > 0 ? (size_t)r : 0;
    }
    ck_assert_uint_eq(total, 1 << 20);
    run_until_done(2000);
    ck_assert_int_eq(job.r[0], 1 << 20);
    ck_assert_int_eq(job.r[1], -ETIMEDOUT);
    close(fd);
}
END_TEST

static coro_sock_t *shared;

static void blocked_reader(void *arg)
{
    (void)arg;
    char b[8];
    ck_assert_int_eq(coro_sock_connect(path, 0, 1000, &shared), 0);
    job.r[0] = coro_sock_recv(shared, b, sizeof(b), -1);
    job.r[1] = coro_sock_recv(shared, b, sizeof(b), -1);
    job.r[2] = coro_sock_close(shared); /* the closer owns it */
}

START_TEST(close_wakes_a_waiting_reader)
{
    memset(&job, 0, sizeof(job));
    ck_assert_int_gt(coro_go(blocked_reader, NULL), 0);
    int fd = accept_one();
    loop_run_once(loop, 5);
    ck_assert_int_eq(coro_sock_close(shared), 0); /* outside: allowed */
    run_until_done(1000);
    ck_assert_int_eq(job.r[0], -ECANCELED);
    ck_assert_int_eq(job.r[1], -EBADF);
    ck_assert_int_eq(job.r[2], -EBADF);
    close(fd);
}
END_TEST

static void tcp_errors(void *arg)
{
    (void)arg;
    coro_sock_t *s;
    int port = (int)(intptr_t)arg;
    job.r[0] = coro_sock_connect("127.0.0.1", port, 1000, &s);
    job.r[1] = coro_sock_connect("example.com", 80, 1000, &s);
    job.r[2] = coro_sock_connect("127.0.0.1", 0, 1000, &s);
    job.r[3] = coro_sock_connect("[::1", 80, 1000, &s);
}

/* A loopback port nothing listens on: bound, never listening. */
static int closed_port(int *fd)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    socklen_t len = sizeof(in);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)&in, len), 0);
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&in, &len), 0);
    return ntohs(in.sin_port);
}

START_TEST(connect_errors)
{
    int fd;
    memset(&job, 0, sizeof(job));
    coro_go(tcp_errors, (void *)(intptr_t)closed_port(&fd));
    run_until_done(2000);
    ck_assert_int_eq(job.r[0], -ECONNREFUSED);
    ck_assert_int_eq(job.r[1], -EINVAL); /* names need a lookup */
    ck_assert_int_eq(job.r[2], -EINVAL);
    ck_assert_int_eq(job.r[3], -EINVAL);
    close(fd);
}
END_TEST

/* Connect, read one line, and leave the socket (and "b\n") to the test. */
static void keeper(void *arg)
{
    (void)arg;
    char b[8];
    ck_assert_int_eq(coro_sock_connect(path, 0, 1000, &shared), 0);
    job.r[0] = coro_sock_recv_until(shared, "\n", 1, b, sizeof(b), 1000);
}

START_TEST(outside_a_coroutine_is_eperm)
{
    coro_sock_t *s = (coro_sock_t *)1;
    char b[4];
    ck_assert_int_eq(coro_sock_connect(path, 0, 100, &s), -EPERM);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(coro_sock_send(NULL, b, 1, 100), -EPERM);
    ck_assert_int_eq(coro_sock_close(NULL), -EINVAL);
    /* a real socket, its data buffered: still no call outside */
    memset(&job, 0, sizeof(job));
    coro_go(keeper, NULL);
    int fd = accept_one();
    put(fd, "a\nb\n");
    run_until_done(1000);
    ck_assert_int_eq(job.r[0], 2);
    ck_assert_int_eq(coro_sock_send(shared, b, 1, 100), -EPERM);
    ck_assert_int_eq(coro_sock_recv(shared, b, 1, 100), -EPERM);
    ck_assert_int_eq(coro_sock_recv_exact(shared, b, 1, 100), -EPERM);
    ck_assert_int_eq(coro_sock_recv_until(shared, "\n", 1, b, 4, 100),
                     -EPERM);
    ck_assert_int_ge(coro_sock_fd(shared), 0);
    ck_assert_int_eq(coro_sock_close(shared), 0);
    close(fd);
    ck_assert_int_eq(coro_sock_fd(NULL), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coro_sock");
    TCase *tc = tcase_create("coro_sock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, scan_finds_the_first_delimiter_end);
    tcase_add_test(tc, recv_until_keeps_the_rest_and_exact_waits);
    tcase_add_test(tc, send_all_waits_for_room_and_recv_times_out);
    tcase_add_test(tc, close_wakes_a_waiting_reader);
    tcase_add_test(tc, connect_errors);
    tcase_add_test(tc, outside_a_coroutine_is_eperm);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
