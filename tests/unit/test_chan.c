/* test_chan.c: IPC channel framing: chunking, reassembly, and the checks
 * that keep a broken or hostile frame from being trusted. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/chan.h"
#include "core/log.h"

#define BIG (16u * 1024 * 1024)

static char *pattern(size_t len, unsigned seed)
{
    char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (char)(x >> 16);
    }
    return p;
}

static void flush_all(chan_t *c)
{
    while (chan_flush(c) == -EAGAIN) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        ck_assert_int_ge(poll(&pfd, 1, 5000), 1);
    }
}

/* Receive one message, waiting for the socket as needed. */
static int recv_wait(chan_t *c, chan_msg_t *m)
{
    for (;;) {
        int rc = chan_recv(c, m);
        if (rc != 0)
            return rc;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) != 1)
            return 0;
    }
}

typedef struct sender {
    chan_t *c;
    const char *data;
    size_t len;
    int type;
    uint64_t session;
} sender_t;

static void *send_thread(void *arg)
{
    sender_t *s = arg;
    ck_assert_int_eq(chan_send(s->c, s->type, 1, s->session, s->data, s->len), 0);
    flush_all(s->c);
    return NULL;
}

static void big_one_way(chan_t *from, chan_t *to, int type, uint64_t session)
{
    char *data = pattern(BIG, (unsigned)session);
    sender_t s = {from, data, BIG, type, session};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, send_thread, &s), 0);
    chan_msg_t m;
    ck_assert_int_eq(recv_wait(to, &m), 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(m.type, type);
    ck_assert_int_eq(m.listener, 1);
    ck_assert_uint_eq(m.session, session);
    ck_assert_uint_eq(m.len, BIG);
    ck_assert(memcmp(m.data, data, BIG) == 0);
    free(data);
}

static void pair(chan_t *a, chan_t *b, size_t max)
{
    int fds[2];
    ck_assert_int_eq(chan_socketpair(fds), 0);
    ck_assert_int_eq(chan_init(a, fds[0], max), 0);
    ck_assert_int_eq(chan_init(b, fds[1], max), 0);
}

static void unpair(chan_t *a, chan_t *b)
{
    close(a->fd);
    close(b->fd);
    chan_free(a);
    chan_free(b);
}

START_TEST(sixteen_mib_both_ways)
{
    chan_t a, b;
    pair(&a, &b, 64u * 1024 * 1024);
    big_one_way(&a, &b, CHAN_RECEIVE, 0x1234500);
    big_one_way(&b, &a, CHAN_SEND, 0x1234500);
    unpair(&a, &b);
}
END_TEST

START_TEST(small_messages_keep_order_and_bounds)
{
    chan_t a, b;
    pair(&a, &b, 1 << 20);
    size_t sizes[] = {0, 1, CHAN_CHUNK_MAX - 1, CHAN_CHUNK_MAX,
                      CHAN_CHUNK_MAX + 1, 3 * CHAN_CHUNK_MAX};
    int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
    char *data = pattern(3 * CHAN_CHUNK_MAX, 7);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(chan_send(&a, CHAN_SEND, 0, (uint64_t)i + 1, data,
                                   sizes[i]), 0);
    flush_all(&a);
    for (int i = 0; i < n; i++) {
        chan_msg_t m;
        ck_assert_int_eq(recv_wait(&b, &m), 1);
        ck_assert_uint_eq(m.session, (uint64_t)i + 1);
        ck_assert_uint_eq(m.len, sizes[i]);
        ck_assert(m.len == 0 || memcmp(m.data, data, m.len) == 0);
    }
    chan_msg_t m;
    ck_assert_int_eq(chan_recv(&b, &m), 0);
    free(data);
    unpair(&a, &b);
}
END_TEST

static void raw_frame(int fd, chan_hdr_t h, const void *payload, size_t len)
{
    char frame[CHAN_FRAME_MAX + 64];
    memcpy(frame, &h, sizeof(h));
    memcpy(frame + sizeof(h), payload, len);
    ck_assert_int_eq(send(fd, frame, sizeof(h) + len, 0),
                     (ssize_t)(sizeof(h) + len));
}

START_TEST(bad_frames_are_dropped)
{
    chan_t a, b;
    pair(&a, &b, 1000);
    char junk[16] = "0123456789abcdef";
    /* Shorter than a header. */
    ck_assert_int_eq(send(a.fd, junk, 5, 0), 5);
    /* Header length disagrees with the frame. */
    chan_hdr_t h = {CHAN_SEND, CHAN_FIRST | CHAN_LAST, 0, 10, 1, 10, 1, 0};
    raw_frame(a.fd, h, junk, 4);
    /* Unknown type. */
    h = (chan_hdr_t){99, CHAN_FIRST | CHAN_LAST, 0, 4, 1, 4, 1, 0};
    raw_frame(a.fd, h, junk, 4);
    /* Over the receiver's limit. */
    h = (chan_hdr_t){CHAN_SEND, CHAN_FIRST, 0, 8, 1, 5000, 1, 0};
    raw_frame(a.fd, h, junk, 8);
    /* A middle frame whose start was never seen. */
    h = (chan_hdr_t){CHAN_SEND, 0, 0, 8, 2, 16, 1, 0};
    raw_frame(a.fd, h, junk, 8);
    /* A message cut short by the start of another: the first is lost. */
    h = (chan_hdr_t){CHAN_SEND, CHAN_FIRST, 0, 8, 3, 16, 1, 0};
    raw_frame(a.fd, h, junk, 8);
    /* Frames that overrun the announced total. */
    h = (chan_hdr_t){CHAN_SEND, CHAN_FIRST, 0, 8, 4, 12, 1, 0};
    raw_frame(a.fd, h, junk, 8);
    h = (chan_hdr_t){CHAN_SEND, CHAN_LAST, 0, 8, 4, 12, 1, 0};
    raw_frame(a.fd, h, junk, 8);
    /* Finally a good one: the only message delivered. */
    ck_assert_int_eq(chan_send(&a, CHAN_SEND, 0, 5, "good", 4), 0);
    chan_msg_t m;
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert_uint_eq(m.session, 5);
    ck_assert_uint_eq(m.len, 4);
    ck_assert(memcmp(m.data, "good", 4) == 0);
    ck_assert_int_eq(chan_recv(&b, &m), 0);
    unpair(&a, &b);
}
END_TEST

/* A worker and its replacement may both write to one channel: their
 * chunked messages interleave frame by frame and still arrive whole. */
START_TEST(two_senders_interleave)
{
    chan_t a, b;
    pair(&a, &b, 1000);
    chan_hdr_t h1 = {CHAN_SEND, CHAN_FIRST, 0, 4, 10, 8, 111, 0};
    chan_hdr_t h2 = {CHAN_SEND, CHAN_FIRST, 0, 4, 20, 8, 222, 0};
    raw_frame(a.fd, h1, "aaaa", 4);
    raw_frame(a.fd, h2, "cccc", 4);
    h1.flags = CHAN_LAST;
    h2.flags = CHAN_LAST;
    raw_frame(a.fd, h2, "dddd", 4);
    raw_frame(a.fd, h1, "bbbb", 4);
    chan_msg_t m;
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert_uint_eq(m.session, 20);
    ck_assert(m.len == 8 && memcmp(m.data, "ccccdddd", 8) == 0);
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert_uint_eq(m.session, 10);
    ck_assert(m.len == 8 && memcmp(m.data, "aaaabbbb", 8) == 0);
    unpair(&a, &b);
}
END_TEST

START_TEST(peer_gone_is_epipe)
{
    chan_t a, b;
    pair(&a, &b, 1000);
    close(a.fd);
    chan_msg_t m;
    ck_assert_int_eq(chan_recv(&b, &m), -EPIPE);
    close(b.fd);
    chan_free(&a);
    chan_free(&b);
}
END_TEST

/* The manager's notice on a worker end: one frame, no session. */
START_TEST(notice_is_one_message)
{
    chan_t a, b;
    pair(&a, &b, 1000);
    uint8_t flags = CHAN_BACKOFF_LOST;
    ck_assert_int_eq(chan_notice(a.fd, CHAN_WORKER_BACKOFF, &flags, 1), 0);
    ck_assert_int_eq(chan_notice(a.fd, CHAN_WORKER_BACKOFF, NULL, 0), 0);
    ck_assert_int_eq(chan_notice(a.fd, CHAN_WORKER_BACKOFF, NULL,
                                 CHAN_CHUNK_MAX + 1), -EMSGSIZE);
    chan_msg_t m;
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert_int_eq(m.type, CHAN_WORKER_BACKOFF);
    ck_assert_uint_eq(m.session, 0);
    ck_assert(m.len == 1 && (uint8_t)m.data[0] == CHAN_BACKOFF_LOST);
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_int_eq(chan_recv(&b, &m), 0);
    unpair(&a, &b);
}
END_TEST

/* What waits is dropped and counted by messages begun; the rest of a
 * message whose start was dropped is skipped by the next reader. */
START_TEST(discard_drops_whole_messages)
{
    chan_t a, b;
    pair(&a, &b, 1 << 20);
    char *data = pattern(3 * CHAN_CHUNK_MAX, 3);
    ck_assert_int_eq(chan_send(&a, CHAN_RECEIVE, 0, 1, "x", 1), 0);
    ck_assert_int_eq(chan_send(&a, CHAN_RECEIVE, 0, 2, data,
                               3 * CHAN_CHUNK_MAX), 0);
    chan_hdr_t h = {CHAN_RECEIVE, CHAN_FIRST, 0, 4, 3, 8, 333, 0};
    raw_frame(a.fd, h, "aaaa", 4);
    flush_all(&a);
    ck_assert_int_eq(chan_discard(b.fd), 3);
    ck_assert_int_eq(chan_discard(b.fd), 0);
    h.flags = CHAN_LAST;
    raw_frame(a.fd, h, "bbbb", 4);
    ck_assert_int_eq(chan_send(&a, CHAN_RECEIVE, 0, 4, "y", 1), 0);
    chan_msg_t m;
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert_uint_eq(m.session, 4);
    ck_assert_int_eq(chan_recv(&b, &m), 0);
    free(data);
    unpair(&a, &b);
}
END_TEST

/* Frames still queued in the sender are dropped; its next message
 * arrives whole, replacing the one left unfinished. */
START_TEST(drop_queued_then_send_again)
{
    chan_t a, b;
    pair(&a, &b, 64u * 1024 * 1024);
    char *data = pattern(BIG, 5);
    ck_assert_int_eq(chan_send(&a, CHAN_RECEIVE, 0, 1, data, BIG), 0);
    size_t queued = chan_queued(&a);
    ck_assert_uint_gt(queued, 0);
    ck_assert_uint_eq(chan_drop_queued(&a), queued);
    ck_assert_uint_eq(chan_queued(&a), 0);
    ck_assert_int_eq(chan_flush(&a), 0);
    chan_msg_t m;
    while (chan_recv(&b, &m) != 0)
        ck_abort_msg("a message arrived from a dropped queue");
    ck_assert_int_eq(chan_send(&a, CHAN_RECEIVE, 0, 2, "z", 1), 0);
    ck_assert_int_eq(recv_wait(&b, &m), 1);
    ck_assert(m.session == 2 && m.len == 1 && m.data[0] == 'z');
    free(data);
    unpair(&a, &b);
}
END_TEST

int main(void)
{
    log_open(NULL, SWX_LOG_ERROR + 1); /* the drops log on purpose */
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("framing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sixteen_mib_both_ways);
    tcase_add_test(tc, small_messages_keep_order_and_bounds);
    tcase_add_test(tc, bad_frames_are_dropped);
    tcase_add_test(tc, two_senders_interleave);
    tcase_add_test(tc, peer_gone_is_epipe);
    tcase_add_test(tc, notice_is_one_message);
    tcase_add_test(tc, discard_drops_whole_messages);
    tcase_add_test(tc, drop_queued_then_send_again);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
