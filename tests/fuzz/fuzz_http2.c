/* fuzz_http2.c: libFuzzer target for HTTP/2 connections
 * (protocol/http2_conn.c): the input, after the client preface, is fed in
 * pieces to a real connection of a real engine whose transport writes to
 * memory and whose sink answers every request at once as a worker would
 * (a head, a body, the end, in HTTP_MSG_STREAM envelopes). Whatever the
 * frames, nothing may crash, leak or read out of bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_msg.h"
#include "http/http_wire.h"
#include "net/conn.h"
#include "protocol/http2_conn.h"

static const char config_json[] =
    "{\"plugins\": [{\"name\": \"p\", \"path\": \"/nonexistent.so\"}],"
    " \"server\": {\"worker_num\": 1},"
    " \"listeners\": [{\"type\": \"tcp\", \"host\": \"127.0.0.1\","
    " \"port\": 1, \"plugin\": \"p\", \"protocol\": \"http\","
    " \"open_http2_protocol\": true, \"package_max_length\": 4096,"
    " \"http2_max_concurrent_streams\": 8}]}";

static ssize_t mem_read(conn_t *c, void *buf, size_t len)
{
    (void)c;
    (void)buf;
    (void)len;
    return -EAGAIN;
}

/* The client takes everything at once. */
static ssize_t mem_writev(conn_t *c, const struct iovec *iov, int n)
{
    (void)c;
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return (ssize_t)len;
}

static ssize_t mem_sendfile(conn_t *c, int fd, off_t *off, size_t len)
{
    (void)c;
    (void)fd;
    *off += (off_t)len;
    return (ssize_t)len;
}

static void mem_shutdown(conn_t *c) { (void)c; }
static int mem_unacked(const conn_t *c) { (void)c; return 0; }
static void mem_close(conn_t *c) { close(c->fd); }

static const conn_transport_t mem_transport = {
    .name = "memory",
    .read = mem_read,
    .writev = mem_writev,
    .sendfile = mem_sendfile,
    .shutdown = mem_shutdown,
    .unacked = mem_unacked,
    .close = mem_close,
};

static conn_engine_t eng;

/* HTTP_MSG_END's flags, and trailers (every other stream) that end the
 * stream with a HEADERS frame after its DATA: the bytes written to p. */
static size_t answer_end(char *p, int trailers)
{
    static const char t[] = "X-Sum: 1\r\nGrpc-Status: 0\r\n";
    uint32_t tl = sizeof(t) - 1;
    p[0] = trailers ? HTTP_MSG_END_TRAILERS : 0;
    if (!trailers)
        return 1;
    memcpy(p + 1, &tl, sizeof(tl));
    memcpy(p + 1 + sizeof(tl), t, tl);
    return 1 + sizeof(tl) + tl;
}

/* A worker's answer to a stream's request, in envelopes. */
static void answer(uint64_t session, uint32_t stream, int odd)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nServer: swx\r\n"
                               "Content-Type: text/plain\r\n"
                               "Connection: keep-alive\r\n\r\nhello";
    char msg[256];
    http_msg_stream_t env = {stream, IPC_SEND};
    memcpy(msg, &env, sizeof(env));
    memcpy(msg + sizeof(env), head, sizeof(head) - 1);
    conn_msg_t m = {HTTP_MSG_STREAM, msg, sizeof(env) + sizeof(head) - 1};
    conn_engine_deliver(&eng, session, CONN_DELIVER_PROTOCOL, &m);
    env.type = HTTP_MSG_END;
    memcpy(msg, &env, sizeof(env));
    size_t at = answer_end(msg + sizeof(env), stream & 2);
    memcpy(msg + sizeof(env) + at, " world", 6);
    m.len = sizeof(env) + at + (odd ? 6 : 0);
    conn_engine_deliver(&eng, session, CONN_DELIVER_PROTOCOL, &m);
}

static uint64_t pending_session;
static uint32_t pending[16];
static int npending;

static int sink_route(conn_t *c) { (void)c; return 0; }

static void sink_submit(conn_t *c, int target, int type, const void *data,
                        size_t len, int input)
{
    (void)target;
    (void)input;
    if (type != HTTP_MSG_REQUEST || npending == 16)
        return;
    pending_session = c->session;
    pending[npending++] = http_wire_stream(data, len);
}

static int sink_fixed(const conn_engine_t *e) { (void)e; return 0; }
static void sink_opened(conn_t *c, const swx_conninfo_t *ci)
{
    (void)c;
    (void)ci;
}
static void sink_closed(conn_t *c) { (void)c; }

static const conn_sink_t sink = {
    .name = "fuzz",
    .route = sink_route,
    .submit = sink_submit,
    .fixed = sink_fixed,
    .opened = sink_opened,
    .closed = sink_closed,
};

static config_t cfg;
static shm_t *shm;
static loop_t *loop;

static void setup(void)
{
    char err[256];
    if (config_parse(config_json, "fuzz.json", &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_http2: %s\n", err);
        abort();
    }
    shm = calloc(1, sizeof(*shm));
    loop = loop_create();
    if (shm == NULL || loop == NULL ||
        conn_engine_init(&eng, loop, &cfg, shm, 0, &sink, NULL) < 0)
        abort();
}

/* Answers the sink took, delivered after the input that caused them (a
 * worker answers later, never inside the reactor's call). */
static void answer_pending(int odd)
{
    for (int i = 0; i < npending; i++)
        answer(pending_session, pending[i], odd);
    npending = 0;
    loop_run_deferred_now(loop); /* the flush after the answers */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (loop == NULL)
        setup();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        return 0;
    close(sv[1]);
    conn_engine_accept(&eng, sv[0], 0);
    size_t n;
    conn_t **list = conn_engine_list(&eng, &n);
    if (list == NULL || n != 1) {
        free(list);
        conn_engine_close_all(&eng);
        return 0;
    }
    conn_t *c = list[0];
    uint64_t session = c->session;
    free(list);
    c->transport = &mem_transport;
    c->proto->input(c, HTTP2_PREFACE, HTTP2_PREFACE_LEN);
    /* The first byte says how the rest is cut into reads. */
    size_t step = size > 0 ? (size_t)data[0] * 7 + 1 : 1;
    for (size_t off = 1; off < size; off += step) {
        c = session_get(&eng.sessions, session);
        if (c == NULL)
            break;
        size_t len = size - off < step ? size - off : step;
        c->proto->input(c, (const char *)data + off, len);
        answer_pending(off & 1);
    }
    npending = 0;
    loop_run_deferred_now(loop);
    conn_engine_close_all(&eng);
    return 0;
}
