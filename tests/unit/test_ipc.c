/* test_ipc.c: the IPC transport: streams (chunking, reassembly, gather
 * sends, queueing), one-shot messages (inline and memfd payloads), and the
 * checks that keep a broken or hostile frame from being trusted. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http_msg.h"
#include "ipc/ipc.h"

#define BIG (16u * 1024 * 1024)
#define WORKER_MAX (64u * 1024 * 1024)

static char *pattern(size_t len, unsigned seed)
{
    char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (char)(x >> 16);
    }
    return p;
}

/* ---- the log: refusals must be written down ---- */

static char log_path[64];

/* Send warnings to a file of this test's own (each runs in a fork). */
static void log_capture(void)
{
    snprintf(log_path, sizeof(log_path), "/tmp/test_ipc.%d.log",
             (int)getpid());
    unlink(log_path);
    ck_assert_int_eq(log_open(log_path, SWX_LOG_WARNING), 0);
}

/* How many lines of the captured log contain what. */
static int log_count(const char *what)
{
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

static void log_release(void)
{
    unlink(log_path);
}

/* ---- streams ---- */

static void flush_all(ipc_t *c)
{
    while (ipc_flush(c) == -EAGAIN) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        ck_assert_int_ge(poll(&pfd, 1, 5000), 1);
    }
}

/* Receive one message, waiting for the socket as needed. */
static int recv_wait(ipc_t *c, ipc_msg_t *m)
{
    for (;;) {
        int rc = ipc_recv(c, m);
        if (rc != 0)
            return rc;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) != 1)
            return 0;
    }
}

/* The two ends of a channel: r as a reactor reads it, w as a worker. */
static void pair(ipc_t *r, ipc_t *w, size_t max)
{
    int fds[2];
    ck_assert_int_eq(ipc_socketpair(fds, IPC_STREAM_SOCKBUF), 0);
    ck_assert_int_eq(ipc_init(r, fds[0], max, IPC_TO_REACTOR), 0);
    ck_assert_int_eq(ipc_init(w, fds[1], max, IPC_TO_WORKER), 0);
}

static void unpair(ipc_t *a, ipc_t *b)
{
    close(a->fd);
    close(b->fd);
    ipc_free(a);
    ipc_free(b);
}

typedef struct sender {
    ipc_t *c;
    const struct iovec *iov;
    int n;
    int type;
    uint64_t session;
} sender_t;

static void *flush_thread(void *arg)
{
    flush_all(arg);
    return NULL;
}

static void *send_thread(void *arg)
{
    sender_t *s = arg;
    ck_assert_int_eq(ipc_sendv(s->c, s->type, 1, s->session, s->iov, s->n),
                     0);
    flush_all(s->c);
    return NULL;
}

/* Send iov[0..n) from one end in a thread and check what the other gets
 * is their bytes in order, whole. */
static void big_sendv(ipc_t *from, ipc_t *to, int type, uint64_t session,
                      const struct iovec *iov, int n)
{
    sender_t s = {from, iov, n, type, session};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, send_thread, &s), 0);
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(to, &m), 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(m.type, type);
    ck_assert_int_eq(m.listener, 1);
    ck_assert_uint_eq(m.session, session);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_uint_le(off + iov[i].iov_len, m.len);
        ck_assert(iov[i].iov_len == 0 ||
                  memcmp(m.data + off, iov[i].iov_base, iov[i].iov_len) == 0);
        off += iov[i].iov_len;
    }
    ck_assert_uint_eq(off, m.len);
}

static void big_one_way(ipc_t *from, ipc_t *to, int type, uint64_t session)
{
    char *data = pattern(BIG, (unsigned)session);
    struct iovec iov = {data, BIG};
    big_sendv(from, to, type, session, &iov, 1);
    free(data);
}

START_TEST(sixteen_mib_both_ways)
{
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    big_one_way(&r, &w, IPC_RECEIVE, 0x1234500);
    big_one_way(&w, &r, IPC_SEND, 0x1234500);
    unpair(&r, &w);
}
END_TEST

START_TEST(small_messages_keep_order_and_bounds)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    size_t sizes[] = {0, 1, IPC_CHUNK_MAX - 1, IPC_CHUNK_MAX,
                      IPC_CHUNK_MAX + 1, 3 * IPC_CHUNK_MAX};
    int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
    char *data = pattern(3 * IPC_CHUNK_MAX, 7);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, (uint64_t)i + 1, data,
                                  sizes[i]), 0);
    flush_all(&w);
    for (int i = 0; i < n; i++) {
        ipc_msg_t m;
        ck_assert_int_eq(recv_wait(&r, &m), 1);
        ck_assert_uint_eq(m.session, (uint64_t)i + 1);
        ck_assert_uint_eq(m.len, sizes[i]);
        ck_assert(m.len == 0 || memcmp(m.data, data, m.len) == 0);
    }
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&r, &m), 0);
    free(data);
    unpair(&r, &w);
}
END_TEST

static void raw_frame(int fd, ipc_hdr_t h, const void *payload, size_t len)
{
    static char frame[2 * IPC_FRAME_MAX];
    ck_assert_uint_le(sizeof(h) + len, sizeof(frame));
    memcpy(frame, &h, sizeof(h));
    if (len > 0)
        memcpy(frame + sizeof(h), payload, len);
    ck_assert_int_eq(send(fd, frame, sizeof(h) + len, 0),
                     (ssize_t)(sizeof(h) + len));
}

/* The next message on c is "good" for session id, and nothing follows. */
static void only_good_arrives(ipc_t *c, uint64_t id)
{
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(c, &m), 1);
    ck_assert_uint_eq(m.session, id);
    ck_assert_uint_eq(m.len, 4);
    ck_assert(memcmp(m.data, "good", 4) == 0);
    ck_assert_int_eq(ipc_recv(c, &m), 0);
}

START_TEST(bad_frames_are_dropped)
{
    ipc_t r, w;
    pair(&r, &w, 1000);
    char junk[16] = "0123456789abcdef";
    /* Shorter than a header. */
    ck_assert_int_eq(send(w.fd, junk, 5, 0), 5);
    /* Header length disagrees with the frame. */
    ipc_hdr_t h = {IPC_SEND, IPC_FIRST | IPC_LAST, 0, 10, 1, 10, 1, -1};
    raw_frame(w.fd, h, junk, 4);
    /* Unknown type. */
    h = (ipc_hdr_t){50, IPC_FIRST | IPC_LAST, 0, 4, 1, 4, 1, -1};
    raw_frame(w.fd, h, junk, 4);
    /* Over the receiver's limit. */
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 8, 1, 5000, 1, -1};
    raw_frame(w.fd, h, junk, 8);
    /* A middle frame whose start was never seen. */
    h = (ipc_hdr_t){IPC_SEND, 0, 0, 8, 2, 16, 1, -1};
    raw_frame(w.fd, h, junk, 8);
    /* A message cut short by the start of another: the first is lost. */
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 8, 3, 16, 1, -1};
    raw_frame(w.fd, h, junk, 8);
    /* Frames that overrun the announced total. */
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 8, 4, 12, 1, -1};
    raw_frame(w.fd, h, junk, 8);
    h = (ipc_hdr_t){IPC_SEND, IPC_LAST, 0, 8, 4, 12, 1, -1};
    raw_frame(w.fd, h, junk, 8);
    /* Finally a good one: the only message delivered. */
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 5, "good", 4), 0);
    only_good_arrives(&r, 5);
    unpair(&r, &w);
}
END_TEST

/* A worker and its replacement may both write to one channel: their
 * chunked messages interleave frame by frame and still arrive whole. */
START_TEST(two_senders_interleave)
{
    ipc_t r, w;
    pair(&r, &w, 1000);
    ipc_hdr_t h1 = {IPC_SEND, IPC_FIRST, 0, 4, 10, 8, 111, -1};
    ipc_hdr_t h2 = {IPC_SEND, IPC_FIRST, 0, 4, 20, 8, 222, -1};
    raw_frame(w.fd, h1, "aaaa", 4);
    raw_frame(w.fd, h2, "cccc", 4);
    h1.flags = IPC_LAST;
    h2.flags = IPC_LAST;
    raw_frame(w.fd, h2, "dddd", 4);
    raw_frame(w.fd, h1, "bbbb", 4);
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert_uint_eq(m.session, 20);
    ck_assert(m.len == 8 && memcmp(m.data, "ccccdddd", 8) == 0);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert_uint_eq(m.session, 10);
    ck_assert(m.len == 8 && memcmp(m.data, "aaaabbbb", 8) == 0);
    unpair(&r, &w);
}
END_TEST

START_TEST(peer_gone_is_epipe)
{
    ipc_t r, w;
    pair(&r, &w, 1000);
    close(w.fd);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&r, &m), -EPIPE);
    close(r.fd);
    ipc_free(&r);
    ipc_free(&w);
}
END_TEST

/* The manager's notice on a worker end: one frame, no session. */
START_TEST(notice_is_one_message)
{
    ipc_t r, w;
    pair(&r, &w, 1000);
    uint8_t flags = IPC_BACKOFF_LOST;
    ck_assert_int_eq(ipc_notice(w.fd, IPC_WORKER_BACKOFF, &flags, 1), 0);
    ck_assert_int_eq(ipc_notice(w.fd, IPC_WORKER_BACKOFF, NULL, 0), 0);
    ck_assert_int_eq(ipc_notice(w.fd, IPC_WORKER_BACKOFF, NULL,
                                IPC_CHUNK_MAX + 1), -EMSGSIZE);
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert_int_eq(m.type, IPC_WORKER_BACKOFF);
    ck_assert_uint_eq(m.session, 0);
    ck_assert(m.len == 1 && (uint8_t)m.data[0] == IPC_BACKOFF_LOST);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_int_eq(ipc_recv(&r, &m), 0);
    unpair(&r, &w);
}
END_TEST

/* What waits is dropped and counted by messages begun; the rest of a
 * message whose start was dropped is skipped by the next reader. */
START_TEST(discard_drops_whole_messages)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    char *data = pattern(3 * IPC_CHUNK_MAX, 3);
    ck_assert_int_eq(ipc_send(&r, IPC_RECEIVE, 0, 1, "x", 1), 0);
    ck_assert_int_eq(ipc_send(&r, IPC_RECEIVE, 0, 2, data,
                              3 * IPC_CHUNK_MAX), 0);
    ipc_hdr_t h = {IPC_RECEIVE, IPC_FIRST, 0, 4, 3, 8, 333, -1};
    raw_frame(r.fd, h, "aaaa", 4);
    flush_all(&r);
    ck_assert_int_eq(ipc_discard(w.fd), 3);
    ck_assert_int_eq(ipc_discard(w.fd), 0);
    h.flags = IPC_LAST;
    raw_frame(r.fd, h, "bbbb", 4);
    ck_assert_int_eq(ipc_send(&r, IPC_RECEIVE, 0, 4, "y", 1), 0);
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(&w, &m), 1);
    ck_assert_uint_eq(m.session, 4);
    ck_assert_int_eq(ipc_recv(&w, &m), 0);
    free(data);
    unpair(&r, &w);
}
END_TEST

/* Frames still queued in the sender are dropped; its next message
 * arrives whole, replacing the one left unfinished. */
START_TEST(drop_queued_then_send_again)
{
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    char *data = pattern(BIG, 5);
    ck_assert_int_eq(ipc_send(&r, IPC_RECEIVE, 0, 1, data, BIG), 0);
    size_t queued = ipc_queued(&r);
    ck_assert_uint_gt(queued, 0);
    ck_assert_uint_eq(ipc_drop_queued(&r), queued);
    ck_assert_uint_eq(ipc_queued(&r), 0);
    ck_assert_int_eq(ipc_flush(&r), 0);
    ipc_msg_t m;
    while (ipc_recv(&w, &m) != 0)
        ck_abort_msg("a message arrived from a dropped queue");
    ck_assert_int_eq(ipc_send(&r, IPC_RECEIVE, 0, 2, "z", 1), 0);
    ck_assert_int_eq(recv_wait(&w, &m), 1);
    ck_assert(m.session == 2 && m.len == 1 && m.data[0] == 'z');
    free(data);
    unpair(&r, &w);
}
END_TEST

/* Every type arrives as itself at an end that takes it. */
START_TEST(each_type_round_trips)
{
    ipc_t r, w;
    pair(&r, &w, 1000);
    int to_worker[] = {IPC_CONNECT, IPC_RECEIVE, IPC_CLOSE, IPC_PACKET,
                       HTTP_MSG_REQUEST, HTTP_MSG_ABORT, HTTP_MSG_PROBE,
                       WS_MSG_OPEN, WS_MSG_MESSAGE, WS_MSG_CLOSE,
                       IPC_PROTO_MIN, IPC_PROTO_END - 1};
    int to_reactor[] = {IPC_SEND, IPC_CLOSE_REQ, IPC_BIND, IPC_WORKER_LOST,
                        IPC_WORKER_BACKOFF, HTTP_MSG_END, HTTP_MSG_SENDFILE,
                        HTTP_MSG_LOST, WS_MSG_PUSH, WS_MSG_CLOSE_REQ};
    ipc_msg_t m;
    for (size_t i = 0; i < sizeof(to_worker) / sizeof(int); i++) {
        ck_assert_int_eq(ipc_send(&r, to_worker[i], 3, i + 1, "abc", 3), 0);
        ck_assert_int_eq(recv_wait(&w, &m), 1);
        ck_assert_int_eq(m.type, to_worker[i]);
        ck_assert(m.listener == 3 && m.session == i + 1 && m.len == 3);
        ck_assert(memcmp(m.data, "abc", 3) == 0);
    }
    for (size_t i = 0; i < sizeof(to_reactor) / sizeof(int); i++) {
        ck_assert_int_eq(ipc_send(&w, to_reactor[i], 0, i + 1, "de", 2), 0);
        ck_assert_int_eq(recv_wait(&r, &m), 1);
        ck_assert_int_eq(m.type, to_reactor[i]);
        ck_assert(m.session == i + 1 && m.len == 2);
        ck_assert_int_eq(m.hdr.pid, (uint32_t)getpid());
    }
    unpair(&r, &w);
}
END_TEST

/* One frame as it is on the wire, read from fd while from's queue is
 * flushed. */
static ssize_t recv_frame(ipc_t *from, int fd, char *frame)
{
    ipc_flush(from);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
    return recv(fd, frame, IPC_FRAME_MAX, 0);
}

/* A message of many chunks: full frames but the last, FIRST on the first
 * only, LAST on the last only, every one announcing the total. */
START_TEST(chunks_across_many_frames)
{
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    size_t len = 40 * IPC_CHUNK_MAX + 123;
    char *data = pattern(len, 11);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 2, 9, data, len), 0);
    char *frame = malloc(IPC_FRAME_MAX);
    size_t got = 0;
    int frames = 0;
    ipc_hdr_t h;
    do {
        ssize_t n = recv_frame(&w, r.fd, frame);
        ck_assert_int_ge(n, (ssize_t)sizeof(h));
        memcpy(&h, frame, sizeof(h));
        ck_assert_uint_eq((size_t)n, sizeof(h) + h.len);
        ck_assert_uint_eq(h.total, len);
        ck_assert_int_eq(!!(h.flags & IPC_FIRST), frames == 0);
        ck_assert_int_eq(!!(h.flags & IPC_LAST), got + h.len == len);
        ck_assert(h.len == IPC_CHUNK_MAX || (h.flags & IPC_LAST));
        ck_assert(memcmp(frame + sizeof(h), data + got, h.len) == 0);
        got += h.len;
        frames++;
    } while (!(h.flags & IPC_LAST));
    ck_assert_int_eq(frames, 41);
    ck_assert_uint_eq(got, len);
    free(frame);
    free(data);
    unpair(&r, &w);
}
END_TEST

/* Slices cut at odd places are framed as if they were one buffer: every
 * frame but the last is full, whatever the slices' edges. */
START_TEST(sendv_across_iovec_boundaries)
{
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    size_t sizes[] = {IPC_CHUNK_MAX - 1, 2, 2 * IPC_CHUNK_MAX + 5, 1, 0, 7,
                      IPC_CHUNK_MAX, 3};
    int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
    struct iovec iov[8];
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        iov[i] = (struct iovec){pattern(sizes[i], (unsigned)i), sizes[i]};
        total += sizes[i];
    }
    ck_assert_int_eq(ipc_sendv(&w, IPC_SEND, 0, 8, iov, n), 0);
    char *frame = malloc(IPC_FRAME_MAX);
    ipc_hdr_t h;
    size_t got = 0;
    do {
        ssize_t k = recv_frame(&w, r.fd, frame);
        ck_assert_int_ge(k, (ssize_t)sizeof(h));
        memcpy(&h, frame, sizeof(h));
        ck_assert(h.len == IPC_CHUNK_MAX || got + h.len == total);
        got += h.len;
    } while (!(h.flags & IPC_LAST));
    ck_assert_uint_eq(got, total);
    /* And reassembled, byte for byte. */
    big_sendv(&w, &r, IPC_SEND, 77, iov, n);
    for (int i = 0; i < n; i++)
        free(iov[i].iov_base);
    free(frame);
    unpair(&r, &w);
}
END_TEST

/* Hundreds of tiny slices and empty ones, and a message of nothing but
 * empty slices. */
START_TEST(sendv_many_small_and_empty_iovecs)
{
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    enum { N = 1000 };
    static struct iovec iov[N];
    char *data = pattern(4 * N, 13);
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)(i % 4); /* 0, 1, 2, 3 */
        iov[i] = (struct iovec){i % 7 == 0 ? NULL : data + off,
                                i % 7 == 0 ? 0 : len};
        off += iov[i].iov_len;
    }
    ck_assert_int_eq(ipc_sendv(&w, IPC_SEND, 0, 1, iov, N), 0);
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert_uint_eq(m.len, off);
    ck_assert(memcmp(m.data, data, off) == 0);
    struct iovec empty[3] = {{NULL, 0}, {data, 0}, {NULL, 0}};
    ck_assert_int_eq(ipc_sendv(&w, IPC_SEND, 0, 2, empty, 3), 0);
    ck_assert_int_eq(ipc_sendv(&w, IPC_SEND, 0, 3, NULL, 0), 0);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert(m.session == 2 && m.len == 0);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert(m.session == 3 && m.len == 0);
    ck_assert_int_eq(ipc_recv(&r, &m), 0);
    free(data);
    unpair(&r, &w);
}
END_TEST

/* A gather send the socket cannot take at once is queued, slices and all,
 * and still arrives whole after the messages before it. */
START_TEST(sendv_queued_when_full)
{
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    enum { N = 300 };
    static struct iovec iov[N];
    char *data = pattern(BIG, 17);
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        size_t len = i == N - 1 ? BIG - off : (size_t)(i * 97 + 13) % 90001;
        iov[i] = (struct iovec){data + off, len};
        off += len;
    }
    /* Written directly until the socket is full, the rest queued. */
    ck_assert_int_eq(ipc_sendv(&w, IPC_SEND, 1, 6, iov, N), 0);
    ck_assert_uint_gt(ipc_queued(&w), 0);
    /* Queued whole behind it. */
    ck_assert_int_eq(ipc_sendv(&w, IPC_SEND, 1, 7, iov, N), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, flush_thread, &w), 0);
    ipc_msg_t m;
    for (uint64_t id = 6; id <= 7; id++) {
        ck_assert_int_eq(recv_wait(&r, &m), 1);
        ck_assert(m.session == id && m.len == BIG);
        ck_assert(memcmp(m.data, data, BIG) == 0);
    }
    pthread_join(t, NULL);
    free(data);
    unpair(&r, &w);
}
END_TEST

/* A datagram longer than a frame can be: cut by the kernel, so never
 * used. */
START_TEST(truncated_frame_refused)
{
    log_capture();
    ipc_t r, w;
    pair(&r, &w, WORKER_MAX);
    size_t len = IPC_FRAME_MAX; /* header + this > IPC_FRAME_MAX */
    char *data = pattern(len, 19);
    ipc_hdr_t h = {IPC_SEND, IPC_FIRST | IPC_LAST, 0, (uint32_t)len, 1, len,
                   1, -1};
    raw_frame(w.fd, h, data, len);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 2, "good", 4), 0);
    only_good_arrives(&r, 2);
    ck_assert_int_eq(log_count("truncated frame"), 1);
    free(data);
    unpair(&r, &w);
    log_release();
}
END_TEST

/* A message over the reader's limit, announced in its first frame: the
 * whole of it is dropped, and logged once. */
START_TEST(oversized_frame_refused)
{
    log_capture();
    ipc_t r, w;
    pair(&r, &w, 100);
    char *data = pattern(200, 23);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 1, data, 101), 0);
    ipc_hdr_t h = {IPC_SEND, IPC_FIRST, 0, 50, 2, 150, 1, -1};
    raw_frame(w.fd, h, data, 50);
    h.flags = IPC_LAST;
    raw_frame(w.fd, h, data + 50, 100);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 3, "good", 4), 0);
    only_good_arrives(&r, 3);
    ck_assert_int_eq(log_count("exceeds the limit"), 2);
    free(data);
    unpair(&r, &w);
    log_release();
}
END_TEST

/* Totals that do not add up: a whole frame with fewer bytes than its
 * total, a continuation of another total, a last frame short of it. */
START_TEST(total_disagrees_refused)
{
    log_capture();
    ipc_t r, w;
    pair(&r, &w, 1000);
    ipc_hdr_t h = {IPC_SEND, IPC_FIRST | IPC_LAST, 0, 4, 1, 8, 1, -1};
    raw_frame(w.fd, h, "aaaa", 4);
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 4, 2, 8, 1, -1};
    raw_frame(w.fd, h, "bbbb", 4);
    h = (ipc_hdr_t){IPC_SEND, IPC_LAST, 0, 4, 2, 12, 1, -1};
    raw_frame(w.fd, h, "cccc", 4);
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 4, 3, 12, 1, -1};
    raw_frame(w.fd, h, "dddd", 4);
    h = (ipc_hdr_t){IPC_SEND, IPC_LAST, 0, 4, 3, 12, 1, -1};
    raw_frame(w.fd, h, "eeee", 4);
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 9, 4, 8, 1, -1};
    raw_frame(w.fd, h, "fffffffff", 9);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 5, "good", 4), 0);
    only_good_arrives(&r, 5);
    ck_assert_int_eq(log_count("a whole message whose total disagrees"), 1);
    ck_assert_int_eq(log_count("a frame of another message arrived"), 1);
    ck_assert_int_eq(log_count("last frame before the announced length"), 1);
    ck_assert_int_eq(log_count("its length exceeds the total"), 1);
    unpair(&r, &w);
    log_release();
}
END_TEST

/* Types no one sends this way, or no one sends at all. */
START_TEST(type_out_of_range_refused)
{
    log_capture();
    ipc_t r, w;
    pair(&r, &w, 1000);
    int bad[] = {0, IPC_TYPE_END, 50, IPC_PROTO_END, 255, IPC_TASK,
                 IPC_SEND, IPC_WORKER_BACKOFF};
    int n = (int)(sizeof(bad) / sizeof(bad[0]));
    for (int i = 0; i < n; i++) {
        ipc_hdr_t h = {(uint8_t)bad[i], IPC_FIRST | IPC_LAST, 0, 4, 1, 4, 1,
                       -1};
        raw_frame(r.fd, h, "xxxx", 4); /* to the worker end */
    }
    ck_assert_int_eq(ipc_send(&r, IPC_RECEIVE, 0, 6, "good", 4), 0);
    only_good_arrives(&w, 6);
    ck_assert_int_eq(log_count("a type this end does not take"), n);
    /* A worker's reply type is no task. */
    int fds[2];
    ipc_t box;
    ck_assert_int_eq(ipc_socketpair(fds, IPC_BOX_SOCKBUF), 0);
    ck_assert_int_eq(ipc_init(&box, fds[0], 1000, IPC_TO_TASKQ), 0);
    ipc_hdr_t t = {.type = IPC_PIPE};
    ck_assert_int_eq(ipc_box_send(fds[1], &t, "x", 1), 0);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&box, &m), 0);
    ck_assert_int_eq(log_count("a type this end does not take"), n + 1);
    ipc_free(&box);
    close(fds[0]);
    close(fds[1]);
    unpair(&r, &w);
    log_release();
}
END_TEST

/* Unknown flags, and the flags of one-shot messages on their own. */
START_TEST(bad_flags_refused)
{
    log_capture();
    ipc_t r, w;
    pair(&r, &w, 1000);
    ipc_hdr_t h = {IPC_SEND, IPC_FIRST | IPC_LAST | 0x80, 0, 4, 1, 4, 1, -1};
    raw_frame(w.fd, h, "xxxx", 4);
    h = (ipc_hdr_t){IPC_SEND, IPC_FIRST | IPC_LAST | IPC_MEMFD, 0, 0, 1, 4,
                    1, -1};
    raw_frame(w.fd, h, NULL, 0);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 2, "good", 4), 0);
    only_good_arrives(&r, 2);
    ck_assert_int_eq(log_count("unknown flags"), 1);
    ck_assert_int_eq(log_count("its memfd is missing"), 1);
    unpair(&r, &w);
    log_release();
}
END_TEST

/* ---- one-shot messages (mailboxes) ---- */

static int fds[2];
static ipc_t box;

static void box_setup(void)
{
    ck_assert_int_eq(ipc_socketpair(fds, IPC_BOX_SOCKBUF), 0);
    ck_assert_int_eq(ipc_init(&box, fds[0], 16u * 1024 * 1024,
                              IPC_TO_MAILBOX), 0);
}

static void box_teardown(void)
{
    ipc_free(&box);
    close(fds[0]);
    close(fds[1]);
}

static void round_trip(int type, size_t len)
{
    char *data = pattern(len, (unsigned)len);
    ipc_hdr_t h = {.type = (uint8_t)type, .flags = IPC_WAIT, .index = 3,
                   .id = 42, .pid = 1234, .src = 7};
    ck_assert_int_eq(ipc_box_send(fds[1], &h, data, len), 0);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&box, &m), 1);
    ck_assert_int_eq(m.type, type);
    ck_assert_int_eq(m.hdr.type, type);
    ck_assert_int_eq(m.hdr.flags & IPC_WAIT, IPC_WAIT);
    ck_assert_int_eq(m.hdr.index, 3);
    ck_assert_int_eq(m.hdr.src, 7);
    ck_assert_int_eq(m.hdr.id, 42);
    ck_assert_int_eq(m.hdr.pid, 1234);
    ck_assert_uint_eq(m.hdr.total, len);
    ck_assert_uint_eq(m.len, len);
    ck_assert(len == 0 || memcmp(m.data, data, len) == 0);
    ck_assert_int_eq(ipc_recv(&box, &m), 0);
    free(data);
}

START_TEST(inline_payloads)
{
    round_trip(IPC_TASK, 0);
    round_trip(IPC_FINISH, 1);
    round_trip(IPC_PIPE, IPC_INLINE_MAX);
}
END_TEST

START_TEST(memfd_payloads)
{
    round_trip(IPC_TASK, IPC_INLINE_MAX + 1);
    round_trip(IPC_FINISH, 8u * 1024 * 1024);
    round_trip(IPC_PIPE, 3u * 1024 * 1024 + 7);
}
END_TEST

/* The memfd travels as the header alone, its payload mapped read-only. */
START_TEST(memfd_frame_is_one_header)
{
    char *data = pattern(IPC_INLINE_MAX + 10, 29);
    ipc_hdr_t h = {.type = IPC_TASK};
    ck_assert_int_eq(ipc_box_send(fds[1], &h, data, IPC_INLINE_MAX + 10), 0);
    ipc_hdr_t got;
    ck_assert_int_eq(recv(fds[0], &got, sizeof(got), MSG_DONTWAIT),
                     (ssize_t)sizeof(got));
    ck_assert_int_eq(got.flags & IPC_MEMFD, IPC_MEMFD);
    ck_assert_uint_eq(got.len, 0);
    ck_assert_uint_eq(got.total, IPC_INLINE_MAX + 10);
    free(data);
}
END_TEST

START_TEST(oversized_dropped)
{
    ipc_t small;
    ck_assert_int_eq(ipc_init(&small, fds[0], 100, IPC_TO_MAILBOX), 0);
    char *data = pattern(200, 1);
    ipc_hdr_t h = {.type = IPC_PIPE};
    ck_assert_int_eq(ipc_box_send(fds[1], &h, data, 200), 0);
    ck_assert_int_eq(ipc_box_send(fds[1], &h, data, 50), 0);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&small, &m), 1);
    ck_assert_uint_eq(m.len, 50);
    ipc_free(&small);
    free(data);
}
END_TEST

START_TEST(malformed_dropped)
{
    char junk[64] = {0};
    ck_assert_int_eq(send(fds[1], junk, 5, 0), 5); /* short */
    ipc_hdr_t h = {.type = 77, .flags = IPC_FIRST | IPC_LAST}; /* a type no
                                                      mailbox takes */
    ck_assert_int_eq(send(fds[1], &h, sizeof(h), 0), (ssize_t)sizeof(h));
    h = (ipc_hdr_t){.type = IPC_PIPE, .flags = IPC_FIRST | IPC_LAST,
                    .len = 10, .total = 10}; /* length lies */
    memcpy(junk, &h, sizeof(h));
    ck_assert_int_eq(send(fds[1], junk, sizeof(h) + 4, 0),
                     (ssize_t)(sizeof(h) + 4));
    h = (ipc_hdr_t){.type = IPC_PIPE,
                    .flags = IPC_FIRST | IPC_LAST | IPC_MEMFD, .total = 10};
    ck_assert_int_eq(send(fds[1], &h, sizeof(h), 0), (ssize_t)sizeof(h));
    ipc_hdr_t good = {.type = IPC_FINISH, .id = 9};
    ck_assert_int_eq(ipc_box_send(fds[1], &good, "ok", 2), 0);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&box, &m), 1);
    ck_assert_int_eq(m.hdr.id, 9);
    ck_assert_int_eq(ipc_recv(&box, &m), 0);
}
END_TEST

/* Pass fd with a one-shot header h, by hand. */
static void send_with_fd(int sock, const ipc_hdr_t *h, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct iovec iov = {(void *)h, sizeof(*h)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cm.buf,
                        .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ck_assert_int_eq(sendmsg(sock, &mh, 0), (ssize_t)sizeof(*h));
}

static int memfd_of(size_t len, int seal)
{
    int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
    if (seal)
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
                                                    F_SEAL_WRITE), 0);
    return fd;
}

/* A memfd its writer could still change, one of another size than the
 * header says, and an fd nobody announced: none is used. */
START_TEST(bad_memfd_refused)
{
    log_capture();
    ipc_hdr_t h = {.type = IPC_PIPE, .flags = IPC_FIRST | IPC_LAST | IPC_MEMFD,
                   .total = 100000};
    int fd = memfd_of(100000, 0);
    send_with_fd(fds[1], &h, fd);
    close(fd);
    fd = memfd_of(99999, 1);
    send_with_fd(fds[1], &h, fd);
    close(fd);
    h.flags = IPC_FIRST | IPC_LAST;
    h.total = 0;
    fd = memfd_of(10, 1);
    send_with_fd(fds[1], &h, fd);
    close(fd);
    ipc_hdr_t good = {.type = IPC_FINISH, .id = 9};
    ck_assert_int_eq(ipc_box_send(fds[1], &good, "ok", 2), 0);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&box, &m), 1);
    ck_assert_int_eq(m.hdr.id, 9);
    ck_assert_int_eq(ipc_recv(&box, &m), 0);
    ck_assert_int_eq(log_count("not in a sealed memfd"), 2);
    ck_assert_int_eq(log_count("an fd came unasked"), 1);
    log_release();
}
END_TEST

START_TEST(full_mailbox_is_eagain)
{
    char *data = pattern(IPC_INLINE_MAX, 2);
    ipc_hdr_t h = {.type = IPC_TASK};
    int rc = 0, sent = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = ipc_box_send(fds[1], &h, data, IPC_INLINE_MAX);
        sent += rc == 0;
    }
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert_int_gt(sent, 0);
    free(data);
}
END_TEST


/* ---- batches ---- */

static void send_sized(ipc_t *c, int type, int count, const char *data)
{
    for (int i = 0; i < count; i++)
        ck_assert_int_eq(ipc_send(c, type, 0, (uint64_t)i + 1, data,
                                  (size_t)(i * 5)), 0);
}

/* Batched, 100 small messages (28 KiB in all) go out as one frame, and
 * only when flushed. */
START_TEST(batch_is_few_frames)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    ipc_batch_on(&r);
    char *data = pattern(1000, 9);
    send_sized(&r, IPC_RECEIVE, 100, data);
    char *frame = malloc(IPC_FRAME_MAX);
    ck_assert_int_lt(recv(w.fd, frame, 1, MSG_PEEK | MSG_DONTWAIT), 0);
    ck_assert_uint_gt(ipc_pending(&r), 0);
    ck_assert_uint_eq(ipc_queued(&r), 0);
    flush_all(&r);
    ck_assert_uint_eq(ipc_pending(&r), 0);
    size_t want = 0, got = 0;
    for (int i = 0; i < 100; i++)
        want += ipc_record_size((size_t)(i * 5));
    int frames = 0;
    ssize_t n;
    while ((n = recv(w.fd, frame, IPC_FRAME_MAX, MSG_DONTWAIT)) > 0) {
        ck_assert_uint_le((size_t)n, IPC_FRAME_MAX);
        got += (size_t)n;
        frames++;
    }
    ck_assert_uint_eq(got, want);
    ck_assert_int_eq(frames, 1);
    free(frame);
    free(data);
    unpair(&r, &w);
}
END_TEST

/* ... and arrive one by one, in order, each whole. */
START_TEST(batch_arrives_in_order)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    ipc_batch_on(&r);
    char *data = pattern(1000, 9);
    send_sized(&r, IPC_RECEIVE, 200, data);
    flush_all(&r);
    for (int i = 0; i < 200; i++) {
        ipc_msg_t m;
        ck_assert_int_eq(recv_wait(&w, &m), 1);
        ck_assert_int_eq(m.type, IPC_RECEIVE);
        ck_assert_uint_eq(m.session, (uint64_t)i + 1);
        ck_assert_uint_eq(m.len, (size_t)(i * 5));
        ck_assert(m.len == 0 || memcmp(m.data, data, m.len) == 0);
        ck_assert_uint_eq((uintptr_t)m.data % 8, 0); /* read in place */
    }
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&w, &m), 0);
    free(data);
    unpair(&r, &w);
}
END_TEST

/* A message too big to batch goes after what was batched before it. */
START_TEST(batch_then_large_keeps_order)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    ipc_batch_on(&w);
    size_t sizes[] = {1, IPC_BATCH_MSG, IPC_BATCH_MSG + 1, 2, 3 * IPC_CHUNK_MAX,
                      0, 7};
    int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
    char *data = pattern(3 * IPC_CHUNK_MAX, 4);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, (uint64_t)i + 1, data,
                                  sizes[i]), 0);
    flush_all(&w);
    for (int i = 0; i < n; i++) {
        ipc_msg_t m;
        ck_assert_int_eq(recv_wait(&r, &m), 1);
        ck_assert_uint_eq(m.session, (uint64_t)i + 1);
        ck_assert_uint_eq(m.len, sizes[i]);
        ck_assert(m.len == 0 || memcmp(m.data, data, m.len) == 0);
    }
    free(data);
    unpair(&r, &w);
}
END_TEST

static size_t put_record(char *at, ipc_hdr_t h, const char *payload)
{
    memset(at, 0, ipc_record_size(h.len));
    memcpy(at, &h, sizeof(h));
    memcpy(at + sizeof(h), payload, h.len);
    return ipc_record_size(h.len);
}

/* A record of a batch that fails a check drops the rest of its frame
 * (where the next record starts cannot be trusted), not what came
 * before it nor the next frame. */
START_TEST(batch_bad_record_drops_rest)
{
    log_capture();
    ipc_t r, w;
    pair(&r, &w, 1000);
    char frame[512];
    size_t len = 0;
    len += put_record(frame + len, (ipc_hdr_t){IPC_SEND, IPC_FIRST | IPC_LAST,
                                               0, 3, 1, 3, 1, -1}, "one");
    len += put_record(frame + len, (ipc_hdr_t){50, IPC_FIRST | IPC_LAST, 0, 3,
                                               2, 3, 1, -1}, "bad");
    len += put_record(frame + len, (ipc_hdr_t){IPC_SEND, IPC_FIRST | IPC_LAST,
                                               0, 3, 3, 3, 1, -1}, "two");
    ck_assert_int_eq(send(w.fd, frame, len, 0), (ssize_t)len);
    /* A chunk of a message cannot be part of a batch. */
    len = put_record(frame, (ipc_hdr_t){IPC_SEND, IPC_FIRST | IPC_LAST, 0, 3,
                                        4, 3, 1, -1}, "tri");
    len += put_record(frame + len, (ipc_hdr_t){IPC_SEND, IPC_FIRST, 0, 3, 5,
                                               6, 1, -1}, "abc");
    ck_assert_int_eq(send(w.fd, frame, len, 0), (ssize_t)len);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 6, "good", 4), 0);
    ipc_msg_t m;
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert(m.session == 1 && m.len == 3 && memcmp(m.data, "one", 3) == 0);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert(m.session == 4 && m.len == 3 && memcmp(m.data, "tri", 3) == 0);
    only_good_arrives(&r, 6);
    ck_assert_int_eq(log_count("a type this end does not take"), 1);
    ck_assert_int_eq(log_count("a record of a batch that is not a whole"), 1);
    unpair(&r, &w);
    log_release();
}
END_TEST

/* A message kept past the next receive (a waiting coroutine) leaves the
 * rest of its batch readable. */
START_TEST(batch_detach_keeps_rest)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    ipc_batch_on(&w);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 1, "first", 5), 0);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 2, "second", 6), 0);
    ck_assert_int_eq(ipc_send(&w, IPC_SEND, 0, 3, "third", 5), 0);
    flush_all(&w);
    ipc_msg_t m1, m;
    ck_assert_int_eq(recv_wait(&r, &m1), 1);
    void *hold = ipc_detach(&r, &m1);
    ck_assert_ptr_nonnull(hold);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert(m.session == 2 && m.len == 6 && memcmp(m.data, "second", 6) == 0);
    ck_assert_int_eq(recv_wait(&r, &m), 1);
    ck_assert(m.session == 3 && m.len == 5 && memcmp(m.data, "third", 5) == 0);
    ck_assert(memcmp(m1.data, "first", 5) == 0);
    ipc_hold_free(hold);
    ck_assert_int_eq(ipc_recv(&r, &m), 0);
    unpair(&r, &w);
}
END_TEST

/* The manager's count of what it discards counts each batched message;
 * dropping the queue drops the batch. */
START_TEST(batch_discard_and_drop)
{
    ipc_t r, w;
    pair(&r, &w, 1 << 20);
    ipc_batch_on(&r);
    char *data = pattern(1000, 2);
    send_sized(&r, IPC_RECEIVE, 50, data);
    flush_all(&r);
    ck_assert_int_eq(ipc_discard(w.fd), 50);
    send_sized(&r, IPC_RECEIVE, 5, data);
    ck_assert_uint_gt(ipc_drop_queued(&r), 0);
    ck_assert_uint_eq(ipc_pending(&r), 0);
    flush_all(&r);
    ipc_msg_t m;
    ck_assert_int_eq(ipc_recv(&w, &m), 0);
    free(data);
    unpair(&r, &w);
}
END_TEST

int main(void)
{
    log_open(NULL, SWX_LOG_ERROR + 1); /* the drops log on purpose */
    Suite *s = suite_create("ipc");
    TCase *tc = tcase_create("streams");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sixteen_mib_both_ways);
    tcase_add_test(tc, small_messages_keep_order_and_bounds);
    tcase_add_test(tc, bad_frames_are_dropped);
    tcase_add_test(tc, two_senders_interleave);
    tcase_add_test(tc, peer_gone_is_epipe);
    tcase_add_test(tc, notice_is_one_message);
    tcase_add_test(tc, discard_drops_whole_messages);
    tcase_add_test(tc, drop_queued_then_send_again);
    tcase_add_test(tc, each_type_round_trips);
    tcase_add_test(tc, chunks_across_many_frames);
    tcase_add_test(tc, sendv_across_iovec_boundaries);
    tcase_add_test(tc, sendv_many_small_and_empty_iovecs);
    tcase_add_test(tc, sendv_queued_when_full);
    tcase_add_test(tc, truncated_frame_refused);
    tcase_add_test(tc, oversized_frame_refused);
    tcase_add_test(tc, total_disagrees_refused);
    tcase_add_test(tc, type_out_of_range_refused);
    tcase_add_test(tc, bad_flags_refused);
    tcase_add_test(tc, batch_is_few_frames);
    tcase_add_test(tc, batch_arrives_in_order);
    tcase_add_test(tc, batch_then_large_keeps_order);
    tcase_add_test(tc, batch_bad_record_drops_rest);
    tcase_add_test(tc, batch_detach_keeps_rest);
    tcase_add_test(tc, batch_discard_and_drop);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("mailboxes");
    tcase_add_checked_fixture(tb, box_setup, box_teardown);
    tcase_set_timeout(tb, 60);
    tcase_add_test(tb, inline_payloads);
    tcase_add_test(tb, memfd_payloads);
    tcase_add_test(tb, memfd_frame_is_one_header);
    tcase_add_test(tb, oversized_dropped);
    tcase_add_test(tb, malformed_dropped);
    tcase_add_test(tb, bad_memfd_refused);
    tcase_add_test(tb, full_mailbox_is_eagain);
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
