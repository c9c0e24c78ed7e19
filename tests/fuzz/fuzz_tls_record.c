/* fuzz_tls_record.c: libFuzzer target for the TLS record path after the
 * handshake, through the engine as the server runs it: a real engine on
 * a TLS listener (net/tls.c's transport, HTTP/1.1, HTTP/2 or a raw
 * stream above it) accepts one end of a socketpair; a real client SSL on
 * memory BIOs completes a full handshake with it over the other end, and
 * then the input, as a short program of operations, sends application
 * records through the client, raw bytes of any shape (records that are
 * not the client's, cut, tampered), key updates, renegotiation attempts,
 * close_notify and half-closes, in socket writes of a size the input
 * picks. A sink answers requests as a worker would, some with a file
 * (the transport's sendfile without kTLS). Whatever the bytes, nothing
 * may crash, leak or read out of bounds, and the connection either
 * serves or closes.
 *
 * data[0]: bits 0-1 version and cipher (TLS 1.3 AES-128-GCM, TLS 1.3
 * ChaCha20, TLS 1.2 ECDHE-ECDSA-AES128-GCM, TLS 1.2 ECDHE-ECDSA-ChaCha20),
 * bit 2 the raw stream listener (else HTTP), bit 3 ALPN h2 (else
 * http/1.1), bit 4 resume the session of an earlier input. Then
 * operations: an opcode byte, a length byte, that many bytes (see op()). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fuzz_cert.h"
#include "http/http_msg.h"
#include "http/http_wire.h"
#include "net/conn.h"
#include "net/tls.h"
#include "protocol/http2_conn.h"

#define TX_MAX (256 * 1024) /* client bytes not yet written to the socket */
#define FILE_LEN 40000      /* the file some answers send: several records */
#define MAX_PENDING 16

static conn_engine_t eng;
static config_t cfg;
static shm_t *shm;
static loop_t *loop;
static SSL_CTX *client_ctx;
static SSL_SESSION *saved; /* for bit 4 of data[0] */
static char *file_path;
static struct stat file_st;

/* ---- the sink: a worker that answers at once, when told to ---- */

typedef struct pending {
    uint64_t session;
    uint32_t stream;
} pending_t;

static pending_t pending[MAX_PENDING];
static int npending;

static int sink_route(conn_t *c) { (void)c; return 0; }

/* Requests wait for an "answer" operation; raw stream bytes echo back. */
static void sink_submit(conn_t *c, int target, int type, const void *data,
                        size_t len, int input)
{
    (void)target;
    (void)input;
    if (type == HTTP_MSG_REQUEST) {
        if (npending < MAX_PENDING)
            pending[npending++] = (pending_t){
                .session = c->session,
                .stream = http_wire_stream(data, len)};
        return;
    }
    conn_msg_t m = {.type = IPC_SEND, .data = data, .len = len};
    conn_engine_deliver(&eng, c->session, CONN_DELIVER_SEND, &m);
}

static int sink_fixed(const conn_engine_t *e) { (void)e; return 0; }
static void sink_opened(conn_t *c, const swx_conninfo_t *ci)
{
    (void)c;
    (void)ci;
}
static void sink_closed(conn_t *c) { (void)c; }

static const conn_sink_t sink = {
    .name = "fuzz", .route = sink_route, .submit = sink_submit,
    .fixed = sink_fixed, .opened = sink_opened, .closed = sink_closed};

/* One message to the session; an HTTP/2 stream's goes in an envelope. */
static void deliver(const pending_t *p, int type, const void *data,
                    size_t len)
{
    char msg[512];
    conn_msg_t m = {.type = type, .data = data, .len = len};
    if (p->stream != 0) {
        http_msg_stream_t env = {.stream = p->stream, .type = (uint32_t)type};
        memcpy(msg, &env, sizeof(env));
        memcpy(msg + sizeof(env), data, len);
        m = (conn_msg_t){.type = HTTP_MSG_STREAM, .data = msg,
                         .len = sizeof(env) + len};
    } else if (type == IPC_SEND) {
        conn_engine_deliver(&eng, p->session, CONN_DELIVER_SEND, &m);
        return;
    }
    conn_engine_deliver(&eng, p->session, CONN_DELIVER_PROTOCOL, &m);
}

/* A short body, or the file through the transport's sendfile. */
static void answer(const pending_t *p, int with_file)
{
    char head[160];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
                     "text/plain\r\nContent-Length: %d\r\n\r\n",
                     with_file ? FILE_LEN : 5);
    deliver(p, IPC_SEND, head, (size_t)n);
    if (with_file) {
        char sf[sizeof(http_msg_sendfile_t) + 256];
        http_msg_sendfile_t s = {
            .offset = 0, .length = FILE_LEN,
            .dev = (uint64_t)file_st.st_dev, .ino = (uint64_t)file_st.st_ino};
        memcpy(sf, &s, sizeof(s));
        size_t plen = strlen(file_path) + 1;
        memcpy(sf + sizeof(s), file_path, plen);
        deliver(p, HTTP_MSG_SENDFILE, sf, sizeof(s) + plen);
    }
    char end[6] = {0, 'h', 'e', 'l', 'l', 'o'};
    deliver(p, HTTP_MSG_END, end, with_file ? 1 : sizeof(end));
}

static void answer_pending(int with_file)
{
    for (int i = 0; i < npending; i++)
        answer(&pending[i], with_file && i == 0);
    npending = 0;
}

/* ---- set-up, once ---- */

static void setup_file(void)
{
    char *text = malloc(FILE_LEN + 1);
    if (text == NULL)
        abort();
    memset(text, 'f', FILE_LEN);
    text[FILE_LEN] = '\0';
    file_path = fuzz_write_temp(text);
    free(text);
    if (stat(file_path, &file_st) < 0)
        abort();
}

static void setup(void)
{
    static char *cert, *key; /* kept: reachable for the leak checker */
    char json[1024], err[256] = "";
    cert = fuzz_write_temp(cert_pem);
    key = fuzz_write_temp(key_pem);
    signal(SIGPIPE, SIG_IGN); /* as the server: a closed peer is EPIPE */
    snprintf(json, sizeof(json),
             "{\"plugins\": [{\"name\": \"p\", \"path\": \"/nonexistent.so\"}],"
             " \"server\": {\"worker_num\": 1}, \"listeners\": ["
             "{\"type\": \"tcp\", \"host\": \"127.0.0.1\", \"port\": 1,"
             " \"plugin\": \"p\", \"protocol\": \"http\","
             " \"open_http2_protocol\": true, \"package_max_length\": 4096,"
             " \"ssl_cert_file\": \"%s\", \"ssl_key_file\": \"%s\"},"
             "{\"type\": \"tcp\", \"host\": \"127.0.0.1\", \"port\": 2,"
             " \"plugin\": \"p\", \"ssl_cert_file\": \"%s\","
             " \"ssl_key_file\": \"%s\"}]}", cert, key, cert, key);
    shm = calloc(1, sizeof(*shm));
    loop = loop_create();
    if (config_parse(json, "/tmp/fuzz.json", &cfg, err, sizeof(err)) < 0 ||
        shm == NULL || loop == NULL || tls_init(&cfg, shm) < 0 ||
        conn_engine_init(&eng, loop, &cfg, shm, 0, &sink, NULL) < 0) {
        fprintf(stderr, "fuzz_tls_record: set-up failed: %s\n", err);
        abort();
    }
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (client_ctx == NULL)
        abort();
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
    setup_file();
}

/* ---- the client and the socket between them ---- */

typedef struct client {
    SSL *ssl;
    BIO *in, *out;           /* the client's rbio and wbio (memory) */
    int fd;                  /* its end of the socketpair */
    uint64_t session;        /* the server's connection */
    size_t chunk;            /* bytes per write(2) to the socket */
    unsigned char tx[TX_MAX];
    size_t txlen;
} client_t;

static client_t cl;

/* What the client SSL wrote, queued for the socket. */
static void take_output(void)
{
    int n;
    while (cl.txlen < TX_MAX &&
           (n = BIO_read(cl.out, cl.tx + cl.txlen,
                         (int)(TX_MAX - cl.txlen))) > 0)
        cl.txlen += (size_t)n;
    (void)BIO_reset(cl.out); /* past TX_MAX: dropped */
}

static void queue_raw(const uint8_t *p, size_t len)
{
    take_output(); /* the client's records first, in order */
    if (len > TX_MAX - cl.txlen)
        len = TX_MAX - cl.txlen;
    memcpy(cl.tx + cl.txlen, p, len);
    cl.txlen += len;
}

/* The queue to the socket in writes of cl.chunk; the server's bytes
 * back into the client, which reads (and discards) what it can. */
static void pump(void)
{
    char buf[16384];
    take_output();
    while (cl.txlen > 0) {
        size_t n = cl.txlen < cl.chunk ? cl.txlen : cl.chunk;
        ssize_t w = write(cl.fd, cl.tx, n);
        if (w <= 0)
            break;
        memmove(cl.tx, cl.tx + w, cl.txlen - (size_t)w);
        cl.txlen -= (size_t)w;
        loop_run_once(loop, 0);
    }
    loop_run_once(loop, 0);
    ssize_t r;
    while ((r = read(cl.fd, buf, sizeof(buf))) > 0)
        BIO_write(cl.in, buf, (int)r);
    while (SSL_read(cl.ssl, buf, sizeof(buf)) > 0)
        ;
    ERR_clear_error();
    take_output(); /* the client's answers (a key update's) */
}

static conn_t *server_conn(void)
{
    return session_get(&eng.sessions, cl.session);
}

/* ---- one input ---- */

static const char *const tls13_suites[] = {"TLS_AES_128_GCM_SHA256",
                                           "TLS_CHACHA20_POLY1305_SHA256"};
static const char *const tls12_ciphers[] = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"};

static int client_new(uint8_t flags)
{
    cl.ssl = SSL_new(client_ctx);
    cl.in = BIO_new(BIO_s_mem());
    cl.out = BIO_new(BIO_s_mem());
    if (cl.ssl == NULL || cl.in == NULL || cl.out == NULL)
        abort();
    BIO_set_mem_eof_return(cl.in, -1);
    SSL_set_bio(cl.ssl, cl.in, cl.out);
    int v = (flags & 2) ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_set_min_proto_version(cl.ssl, v);
    SSL_set_max_proto_version(cl.ssl, v);
    if (v == TLS1_3_VERSION)
        SSL_set_ciphersuites(cl.ssl, tls13_suites[flags & 1]);
    else
        SSL_set_cipher_list(cl.ssl, tls12_ciphers[flags & 1]);
    static const unsigned char h2[] = "\x02h2", h1[] = "\x08http/1.1";
    if (flags & 8)
        SSL_set_alpn_protos(cl.ssl, h2, sizeof(h2) - 1);
    else
        SSL_set_alpn_protos(cl.ssl, h1, sizeof(h1) - 1);
    if ((flags & 16) && saved != NULL)
        SSL_set_session(cl.ssl, saved);
    SSL_set_connect_state(cl.ssl);
    cl.chunk = 16384;
    cl.txlen = 0;
    return 0;
}

/* The full handshake, both sides driven until both are done. */
static int handshake(void)
{
    for (int i = 0; i < 64; i++) {
        conn_t *c = server_conn();
        if (c == NULL)
            return -1;
        int rc = SSL_do_handshake(cl.ssl);
        if (rc == 1 && !c->handshaking)
            return 0;
        if (rc != 1 && SSL_get_error(cl.ssl, rc) != SSL_ERROR_WANT_READ)
            return -1;
        pump();
    }
    return -1;
}

/* One operation; how many bytes of p it took. */
static size_t op(const uint8_t *p, size_t left)
{
    if (left < 2)
        return left;
    size_t len = p[1] < left - 2 ? p[1] : left - 2;
    const uint8_t *d = p + 2;
    switch (p[0] % 8) {
    case 0: /* application data: whole, valid records */
        if (len > 0 && SSL_write(cl.ssl, d, (int)len) <= 0)
            ERR_clear_error();
        break;
    case 1: /* any bytes, as records or not */
        queue_raw(d, len);
        break;
    case 2: /* the size of the socket writes: records cut anywhere */
        cl.chunk = 1 + (len > 0 ? d[0] : 0) * (len > 1 ? 1 + d[1] : 1);
        break;
    case 3: /* TLS 1.3 key update; TLS 1.2 renegotiation (refused) */
        if (SSL_version(cl.ssl) == TLS1_3_VERSION)
            SSL_key_update(cl.ssl, len > 0 && (d[0] & 1)
                                       ? SSL_KEY_UPDATE_REQUESTED
                                       : SSL_KEY_UPDATE_NOT_REQUESTED);
        else if (SSL_renegotiate(cl.ssl) == 1)
            SSL_do_handshake(cl.ssl);
        ERR_clear_error();
        break;
    case 4: /* the worker answers what it holds */
        answer_pending(len > 0 && (d[0] & 1));
        break;
    case 5: /* close_notify */
        SSL_shutdown(cl.ssl);
        ERR_clear_error();
        break;
    case 6: /* a half-close: the client's FIN */
        take_output();
        pump();
        shutdown(cl.fd, SHUT_WR);
        break;
    default: /* a byte of what is queued changed: a tampered record */
        take_output();
        if (cl.txlen > 0 && len >= 2)
            cl.tx[(size_t)(d[0] | d[1] << 8) % cl.txlen] ^= 1 + d[len - 1];
        break;
    }
    pump();
    return 2 + len;
}

static void keep_session(void)
{
    SSL_SESSION *s = SSL_get1_session(cl.ssl);
    if (s != NULL && SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(saved);
        saved = s;
    } else {
        SSL_SESSION_free(s);
    }
}

static void run(const uint8_t *data, size_t size)
{
    if (handshake() < 0)
        return;
    keep_session();
    const unsigned char *alpn;
    unsigned int alen;
    SSL_get0_alpn_selected(cl.ssl, &alpn, &alen);
    if (alen == 2 && memcmp(alpn, "h2", 2) == 0)
        SSL_write(cl.ssl, HTTP2_PREFACE, HTTP2_PREFACE_LEN);
    for (size_t off = 0; off < size && server_conn() != NULL;)
        off += op(data + off, size - off);
    answer_pending(1);
    for (int i = 0; i < 8 && server_conn() != NULL; i++)
        pump();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (loop == NULL)
        setup();
    int sv[2];
    if (size < 1 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        return 0;
    conn_engine_accept(&eng, sv[0], (data[0] & 4) ? 1 : 0);
    size_t n;
    conn_t **list = conn_engine_list(&eng, &n);
    if (list != NULL && n == 1) {
        cl.fd = sv[1];
        cl.session = list[0]->session;
        client_new(data[0]);
        run(data + 1, size - 1);
        SSL_free(cl.ssl);
    }
    free(list);
    npending = 0;
    conn_engine_close_all(&eng);
    close(sv[1]);
    ERR_clear_error();
    return 0;
}
