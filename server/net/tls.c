/* tls.c: the TLS transport of the connection engine: a non-blocking
 * handshake in the loop that owns the connection, then reads, writes and
 * files through OpenSSL (kTLS's SSL_sendfile where the kernel has it),
 * with OpenSSL's wants mapped to the loop's events. */
#include "net/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/log.h"

/* The largest plaintext of one record: a read stops before less room is
 * left, so no record is ever half taken (OpenSSL would hold the rest
 * where the loop cannot see it). */
#define TLS_RECORD 16384
/* Bytes of a file read for one SSL_write when kTLS is not there. */
#define TLS_FILE_CHUNK TLS_RECORD

typedef struct tls_conn {
    SSL *ssl;
    BIO *prefix;              /* bytes read before TLS began (after a PROXY
                                 header), read by OpenSSL before the
                                 socket; NULL once taken */
    int64_t timer;            /* ssl_handshake_timeout */
    unsigned read_wants_write : 1; /* a read (or the handshake) waits for
                                      the socket to be writable */
    unsigned write_wants_read : 1; /* a write waits for it readable */
    unsigned ktls : 1;        /* the kernel encrypts what is sent */
    unsigned pend_gathered : 1; /* the write that waits was gathered */
    unsigned more : 1;        /* sends are corked (MSG_MORE) */
    unsigned tickets : 2;     /* TLS 1.3 tickets owed (tls_tickets) */
    unsigned warm : 1;        /* in its engine's warm list (tls_warm) */
    size_t pend_len;          /* its length (0: no write waits) */
    struct tls_conn *warm_prev, *warm_next;
    unsigned warm_gen;        /* the engine's warm_gen when last used */
} tls_conn_t;

/* How long a connection owed its session tickets waits for the first
 * bytes they go out with before they go alone. */
#define TLS_TICKET_WAIT_MS 100

/* A file is read here for SSL_write: one buffer per loop thread. */
static _Thread_local unsigned char tls_file_buf[TLS_FILE_CHUNK];

/* An empty error queue before each call whose SSL_get_error reads it.
 * It is almost always empty already: clearing it, which walks all its
 * slots, would cost more than looking. */
static inline void tls_err_reset(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

/* OpenSSL's reason for what just failed, or the system's. */
static const char *tls_why(int err, char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        snprintf(buf, size, "%s", r != NULL ? r : "unknown TLS error");
    } else if (err == SSL_ERROR_SYSCALL && errno != 0) {
        snprintf(buf, size, "%s", strerror(errno));
    } else {
        snprintf(buf, size, "the client closed the connection");
    }
    ERR_clear_error();
    return buf;
}

/* ---- the handshake ---- */

static void tls_handshake_failed(conn_t *c, const char *why)
{
    atomic_fetch_add(&c->eng->shm->tls_handshakes_failed, 1);
    log_warn("session %llu (peer %s, listener %d): TLS handshake failed: "
             "%s; closing", (unsigned long long)c->session, c->peer,
             c->listener, why);
}

static void tls_handshake_expired(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    tls_conn_t *t = c->xport;
    char why[80];
    t->timer = 0;
    snprintf(why, sizeof(why), "not done in %d s (ssl_handshake_timeout)",
             conn_listener(c)->ssl_handshake_timeout);
    tls_handshake_failed(c, why);
    conn_close(c, NULL);
}

/* ---- the socket under OpenSSL ---- */

/* OpenSSL writes through this BIO: the socket's, with sends corked
 * (MSG_MORE) while t->more is set, so that records written one after
 * another (session tickets, then the response they wait for) leave in
 * one TCP segment; the uncorked send after them pushes all. Flushes
 * need nothing. Reads take the socket BIO. */
static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

/* The socket's descriptor, kept as descriptor + 1 (0: none). */
static int tls_bio_fd(BIO *b)
{
    return (int)(intptr_t)BIO_get_app_data(b) - 1;
}

static int tls_bio_write(BIO *b, const char *data, int len)
{
    const tls_conn_t *t = BIO_get_data(b);
    ssize_t n;
    BIO_clear_retry_flags(b);
    do {
        n = send(tls_bio_fd(b), data, (size_t)len,
                 MSG_NOSIGNAL | (t->more ? MSG_MORE : 0));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)n;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    switch (cmd) {
    case BIO_C_GET_FD:
        if (ptr != NULL)
            *(int *)ptr = tls_bio_fd(b);
        return tls_bio_fd(b);
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int tls_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void tls_bio_init_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
                                     BIO_TYPE_DESCRIPTOR, "swx socket");
    if (m == NULL || !BIO_meth_set_write(m, tls_bio_write) ||
        !BIO_meth_set_ctrl(m, tls_bio_ctrl) ||
        !BIO_meth_set_create(m, tls_bio_create)) {
        BIO_meth_free(m);
        return;
    }
    tls_bio_method = m;
}

/* The BIO OpenSSL writes with: the corking one, or with kTLS possible
 * (the kernel's tls module is there) the socket BIO, which kTLS needs. */
static BIO *tls_wbio(tls_conn_t *t, int fd)
{
#ifdef SSL_OP_ENABLE_KTLS
    if (SSL_get_options(t->ssl) & SSL_OP_ENABLE_KTLS)
        return BIO_new_socket(fd, BIO_NOCLOSE);
#endif
    pthread_once(&tls_bio_once, tls_bio_init_method);
    BIO *b = tls_bio_method != NULL ? BIO_new(tls_bio_method) : NULL;
    if (b == NULL)
        return BIO_new_socket(fd, BIO_NOCLOSE);
    BIO_set_data(b, t);
    BIO_set_app_data(b, (void *)(intptr_t)(fd + 1));
    return b;
}

/* ---- OpenSSL's buffers ---- */

/*
 * OpenSSL's read and write buffers (some 34 KiB a connection) stay while
 * a connection is in use. Given back after every record
 * (SSL_MODE_RELEASE_BUFFERS) they would cost a malloc and a free of each
 * per request. Each engine keeps the connections that hold them in a
 * list, least recently used first: every TLS_WARM_TICK_MS the ones not
 * used since the tick before give them back, and so does the least
 * recently used one when more than TLS_WARM_MAX hold them. An idle
 * connection holds none after at most two ticks; an engine holds at
 * most TLS_WARM_MAX sets however many connections it serves.
 */
#define TLS_WARM_TICK_MS 1000
#define TLS_WARM_MAX 256

static void tls_warm_unlink(conn_engine_t *e, tls_conn_t *t)
{
    if (!t->warm)
        return;
    if (t->warm_prev != NULL)
        t->warm_prev->warm_next = t->warm_next;
    else
        e->warm = t->warm_next;
    if (t->warm_next != NULL)
        t->warm_next->warm_prev = t->warm_prev;
    else
        e->warm_last = t->warm_prev;
    t->warm_prev = t->warm_next = NULL;
    t->warm = 0;
    e->warm_count--;
}

/* Out of the list, buffers freed. OpenSSL keeps them while they hold
 * bytes (a record begun, a write that waits): the next use of the
 * connection puts it back in the list. */
static void tls_cool(conn_engine_t *e, tls_conn_t *t)
{
    tls_warm_unlink(e, t);
    SSL_free_buffers(t->ssl);
}

static void tls_warm_tick(int64_t id, void *arg)
{
    conn_engine_t *e = arg;
    int idle = 0;
    while (e->warm != NULL && e->warm->warm_gen != e->warm_gen) {
        tls_cool(e, e->warm);
        idle++;
    }
    if (idle > 0 || e->warm_capped > 0)
        log_debug("TLS buffers: %d connections held them (at most %d at "
                  "once); given back by %d idle for a tick, by %d past the "
                  "%d most recently used; %d keep them", e->warm_count +
                  idle, e->warm_peak, idle, e->warm_capped, TLS_WARM_MAX,
                  e->warm_count);
    e->warm_capped = 0;
    e->warm_peak = e->warm_count;
    e->warm_gen++;
    if (e->warm == NULL) {
        timer_clear(loop_timers(e->loop), id);
        e->warm_timer = 0;
    }
}

/* c is being used (a read, a write, the handshake): last in the list. */
static void tls_warm(conn_t *c)
{
    conn_engine_t *e = c->eng;
    tls_conn_t *t = c->xport;
    t->warm_gen = e->warm_gen;
    if (t->warm && e->warm_last == t)
        return;
    tls_warm_unlink(e, t);
    t->warm_prev = e->warm_last;
    if (e->warm_last != NULL)
        e->warm_last->warm_next = t;
    else
        e->warm = t;
    e->warm_last = t;
    t->warm = 1;
    e->warm_count++;
    if (e->warm_count > TLS_WARM_MAX) {
        tls_cool(e, e->warm);
        e->warm_capped++;
    }
    if (e->warm_count > e->warm_peak)
        e->warm_peak = e->warm_count;
    if (e->warm_timer == 0) {
        int64_t id = timer_add(loop_timers(e->loop), loop_now(),
                               TLS_WARM_TICK_MS, TLS_WARM_TICK_MS,
                               tls_warm_tick, e);
        e->warm_timer = id > 0 ? id : 0;
    }
}

/* ---- session tickets ---- */

/* TLS 1.3 tickets are not sent at the end of the handshake (the
 * contexts issue none by themselves, SSL_CTX_set_num_tickets 0) but
 * with the first bytes the server writes after it, corked with them:
 * the same sends, but one TCP segment for the client to take instead of
 * two or three. A connection that is written nothing gets
 * them alone after TLS_TICKET_WAIT_MS. As many as OpenSSL would send:
 * two after a full handshake, one after a resumption (a renewed one:
 * the client keeps the session of the connection it resumed). */
static void tls_tickets(conn_t *c, int corked)
{
    tls_conn_t *t = c->xport;
    unsigned n = t->tickets;
    t->tickets = 0;
    conn_timer_clear(c, t->timer);
    t->timer = 0;
    while (n-- > 0)
        if (SSL_new_session_ticket(t->ssl) != 1)
            break;
    tls_err_reset();
    t->more = corked ? 1 : 0;
    /* WANT_WRITE leaves the rest in OpenSSL, which sends it before the
     * next write's bytes. */
    SSL_do_handshake(t->ssl);
    t->more = 0;
    tls_err_reset();
}

static void tls_tickets_due(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    tls_conn_t *t = c->xport;
    t->timer = 0;
    if (t->tickets > 0) {
        tls_warm(c);
        tls_tickets(c, 0);
    }
}

/* kTLS for sending, where OpenSSL and the kernel set it up. */
static void tls_check_ktls(tls_conn_t *t)
{
#ifdef BIO_get_ktls_send
    t->ktls = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) ? 1 : 0;
#else
    t->ktls = 0;
#endif
}

/* The bytes that came before the handshake are taken: OpenSSL reads the
 * socket from now on (a record begun in them is kept by OpenSSL). */
static int tls_prefix_taken(tls_conn_t *t, int fd)
{
    if (t->prefix == NULL || BIO_ctrl_pending(t->prefix) > 0)
        return 0;
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    if (sock == NULL)
        return 0;
    SSL_set0_rbio(t->ssl, sock); /* frees the prefix */
    t->prefix = NULL;
    return 1;
}

static int tls_handshake(conn_t *c)
{
    tls_conn_t *t = c->xport;
    char why[200];
    int rc;
    tls_warm(c);
    do {
        tls_err_reset();
        errno = 0;
        rc = SSL_do_handshake(t->ssl);
    } while (rc != 1 && SSL_get_error(t->ssl, rc) == SSL_ERROR_WANT_READ &&
             tls_prefix_taken(t, c->fd));
    if (rc == 1) {
        conn_timer_clear(c, t->timer);
        t->timer = 0;
        t->read_wants_write = 0;
        tls_check_ktls(t);
        if (SSL_version(t->ssl) == TLS1_3_VERSION &&
            SSL_get_num_tickets(t->ssl) == 0) {
            t->tickets = SSL_session_reused(t->ssl) ? 1 : 2;
            t->timer = conn_timer_add(c, TLS_TICKET_WAIT_MS, tls_tickets_due);
            if (t->timer < 0) {
                t->timer = 0;
                tls_tickets(c, 0);
            }
        }
        atomic_fetch_add(&c->eng->shm->tls_handshakes, 1);
        log_debug("session %llu: TLS handshake done: %s %s%s", (unsigned
                  long long)c->session, SSL_get_version(t->ssl),
                  SSL_get_cipher_name(t->ssl), t->ktls ? " (kTLS)" : "");
        return 1;
    }
    int err = SSL_get_error(t->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        t->read_wants_write = err == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    if (BIO_number_read(SSL_get_rbio(t->ssl)) == 0 && t->prefix == NULL) {
        /* Gone before a byte of TLS: a port check, not a handshake. */
        log_debug("session %llu (peer %s): closed before the handshake",
                  (unsigned long long)c->session, c->peer);
        return -ECONNRESET;
    }
    tls_handshake_failed(c, tls_why(err, why, sizeof(why)));
    return -EPROTO;
}

/* A protocol for the time of the handshake: nothing is opened, nothing
 * is read for it, and closing has nothing of it to release. */
static void tls_hs_input(conn_t *c, const char *data, size_t len)
{
    (void)c;
    (void)data;
    (void)len;
}

static void tls_hs_deliver(conn_t *c, const conn_msg_t *m)
{
    (void)c;
    (void)m;
}

static int tls_hs_drained(conn_t *c)
{
    (void)c;
    return 0;
}

static void tls_hs_close(conn_t *c, int notify)
{
    (void)c;
    (void)notify;
}

static const conn_proto_t tls_hs_proto = {
    .name = "tls-handshake",
    .input = tls_hs_input,
    .deliver = tls_hs_deliver,
    .drained = tls_hs_drained,
    .close = tls_hs_close,
};

/* OpenSSL reads data first (a memory BIO), then the socket; it writes
 * with tls_wbio. */
static int tls_set_input(tls_conn_t *t, int fd, const char *data,
                         size_t len)
{
    BIO *w = tls_wbio(t, fd);
    BIO *r = len == 0 ? BIO_new_socket(fd, BIO_NOCLOSE) : BIO_new(BIO_s_mem());
    if (w == NULL || r == NULL ||
        (len > 0 && BIO_write(r, data, (int)len) != (int)len)) {
        BIO_free(w);
        BIO_free(r);
        return -ENOMEM;
    }
    if (len > 0) {
        t->prefix = r;
        BIO_set_mem_eof_return(r, -1); /* empty: "try again" */
    }
    SSL_set_bio(t->ssl, r, w);
    return 0;
}

int tls_conn_attach(conn_t *c, const char *data, size_t len)
{
    tls_conn_t *t = calloc(1, sizeof(*t));
    SSL_CTX *ctx = tls_ctx_get(c->listener);
    if (t == NULL || ctx == NULL) {
        free(t);
        SSL_CTX_free(ctx);
        return t == NULL ? -ENOMEM : -ENOTCONN;
    }
    t->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (t->ssl == NULL || tls_set_input(t, c->fd, data, len) < 0) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_set_accept_state(t->ssl);
    c->xport = t;
    c->transport = &tls_transport;
    c->proto = &tls_hs_proto;
    c->handshaking = 1;
    t->timer = conn_timer_add(c, conn_listener(c)->ssl_handshake_timeout *
                                     1000L, tls_handshake_expired);
    return t->timer < 0 ? (int)t->timer : 0;
}

/* ---- reading and writing ---- */

/* An SSL_read or SSL_write that did not go: -EAGAIN (waiting for what
 * the socket must do first), 0 at the client's close_notify, -errno. */
static ssize_t tls_error(conn_t *c, int rc, int reading)
{
    tls_conn_t *t = c->xport;
    char why[200];
    int err = SSL_get_error(t->ssl, rc);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        if (!reading)
            t->write_wants_read = 1;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            t->read_wants_write = 1;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return reading ? 0 : -EPIPE;
    case SSL_ERROR_SYSCALL:
        if (errno != 0 && ERR_peek_error() == 0)
            return -errno;
        return reading ? 0 : -EPIPE; /* EOF */
    default:
        log_info("session %llu (peer %s): TLS: %s", (unsigned long long)
                 c->session, c->peer, tls_why(err, why, sizeof(why)));
        return -EPROTO;
    }
}

/* Records while a whole one fits and OpenSSL holds more: one read of the
 * socket per call. */
static ssize_t tls_read(conn_t *c, void *buf, size_t len)
{
    tls_conn_t *t = c->xport;
    size_t got = 0;
    t->read_wants_write = 0;
    tls_warm(c);
    /* After the first record, only what OpenSSL already holds (read
     * ahead): another read of the socket would mostly find nothing, a
     * wasted syscall per request; the loop's next event brings the rest. */
    while (got == 0 || (len - got >= TLS_RECORD && SSL_has_pending(t->ssl))) {
        tls_err_reset();
        errno = 0;
        int n = SSL_read(t->ssl, (char *)buf + got, (int)(len - got));
        if (n <= 0) {
            ssize_t rc = tls_error(c, n, 1);
            return got > 0 && rc != -EPROTO ? (ssize_t)got : rc;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static ssize_t tls_write(conn_t *c, const void *data, size_t len)
{
    tls_conn_t *t = c->xport;
    if (t->tickets > 0 && len > 0)
        tls_tickets(c, 1);
    tls_warm(c);
    tls_err_reset();
    errno = 0;
    int n = SSL_write(t->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0) {
        t->write_wants_read = 0;
        return n;
    }
    return tls_error(c, n, 0);
}

/* Pieces shorter than this are gathered with the ones after them into
 * one SSL_write (one record, one send) of up to TLS_RECORD bytes: a
 * response's head and body, several pipelined responses. */
#define TLS_GATHER 4096
static _Thread_local char tls_gather_buf[TLS_RECORD];

/* Up to TLS_RECORD bytes from iov[*i] + *off on, at least min; the
 * cursor moves past them. */
static size_t tls_gather(const struct iovec *iov, int iovcnt, int *i,
                         size_t *off, size_t min)
{
    size_t len = 0;
    while (*i < iovcnt && len < sizeof(tls_gather_buf)) {
        size_t left = iov[*i].iov_len - *off;
        /* Past min, a long piece goes out by itself. */
        if (len >= min && len > 0 && left >= TLS_GATHER)
            break;
        size_t take = left < sizeof(tls_gather_buf) - len
                          ? left : sizeof(tls_gather_buf) - len;
        memcpy(tls_gather_buf + len, (const char *)iov[*i].iov_base + *off,
               take);
        len += take;
        *off += take;
        if (*off == iov[*i].iov_len) {
            (*i)++;
            *off = 0;
        }
    }
    return len;
}

/* A write that waited (EAGAIN) is retried with the same bytes first, as
 * OpenSSL requires: the output queue keeps them at its head, and a
 * gathered one is gathered again, at least as long. */
static ssize_t tls_writev(conn_t *c, const struct iovec *iov, int iovcnt)
{
    tls_conn_t *t = c->xport;
    size_t done = 0, off = 0;
    int i = 0;
    while (i < iovcnt) {
        if (iov[i].iov_len == off) {
            i++;
            off = 0;
            continue;
        }
        const char *data;
        size_t len;
        int gathered = t->pend_len > 0 ? t->pend_gathered
                                       : iov[i].iov_len - off < TLS_GATHER;
        if (gathered) {
            len = tls_gather(iov, iovcnt, &i, &off, t->pend_len);
            data = tls_gather_buf;
        } else {
            data = (const char *)iov[i].iov_base + off;
            len = iov[i].iov_len - off;
            i++;
            off = 0;
        }
        ssize_t n = tls_write(c, data, len);
        if (n == -EAGAIN) {
            t->pend_gathered = gathered ? 1 : 0;
            t->pend_len = len;
        } else {
            t->pend_len = 0;
        }
        if (n < 0)
            return done > 0 ? (ssize_t)done : n;
        done += (size_t)n;
        if ((size_t)n < len)
            break;
    }
    return (ssize_t)done;
}

/* Why a connection's files do not go out with kTLS, for the log. */
static const char *tls_no_ktls_why(void)
{
#ifdef BIO_get_ktls_send
    char ulp[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
    if (f != NULL) {
        if (fgets(ulp, sizeof(ulp), f) == NULL)
            ulp[0] = '\0';
        fclose(f);
    }
    for (char *save, *w = strtok_r(ulp, " \n", &save); w != NULL;
         w = strtok_r(NULL, " \n", &save))
        if (strcmp(w, "tls") == 0)
            return "OpenSSL did not hand this connection's encryption to "
                   "the kernel (its version or cipher)";
    return "the kernel's tls module is not loaded (modprobe tls)";
#else
    return "this OpenSSL was built without kTLS";
#endif
}

/* Which way files go over TLS, logged once per process for each way. */
static void tls_log_file_path(const conn_t *c, const tls_conn_t *t)
{
    static atomic_int logged[2];
    if (atomic_exchange(&logged[t->ktls], 1) != 0)
        return;
    if (t->ktls)
        log_debug("session %llu: TLS files go out with SSL_sendfile: kTLS, "
                  "the kernel encrypts (%s %s)", (unsigned long long)
                  c->session, SSL_get_version(t->ssl),
                  SSL_get_cipher_name(t->ssl));
    else
        log_debug("session %llu: TLS files are read and sent with SSL_write "
                  "(%s %s): no kTLS: %s", (unsigned long long)c->session,
                  SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
                  tls_no_ktls_why());
}

#ifdef BIO_get_ktls_send
/* The kernel encrypts the file's pages as it sends them. SSL_sendfile
 * reports sendfile(2)'s errno (its OpenSSL reason says nothing). */
static ssize_t tls_ktls_sendfile(conn_t *c, int fd, off_t *off, size_t len)
{
    tls_conn_t *t = c->xport;
    if (t->tickets > 0)
        tls_tickets(c, 0);
    tls_warm(c);
    tls_err_reset();
    errno = 0;
    ossl_ssize_t n = SSL_sendfile(t->ssl, fd, *off, len, 0);
    int e = errno;
    tls_err_reset();
    if (n >= 0) {
        *off += n;
        return n;
    }
    if (e == EAGAIN || e == EINTR || e == EBUSY)
        return -EAGAIN;
    return e != 0 ? -e : -EPROTO;
}
#endif

/* With kTLS, SSL_sendfile; without, a record's worth is read and written
 * at a time (a retry after EAGAIN reads the same bytes again from the
 * same offset). */
static ssize_t tls_sendfile(conn_t *c, int fd, off_t *off, size_t len)
{
    tls_conn_t *t = c->xport;
    tls_log_file_path(c, t);
#ifdef BIO_get_ktls_send
    if (t->ktls)
        return tls_ktls_sendfile(c, fd, off, len);
#endif
    size_t want = len < sizeof(tls_file_buf) ? len : sizeof(tls_file_buf);
    ssize_t r;
    do {
        r = pread(fd, tls_file_buf, want, *off);
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return r < 0 ? -errno : 0;
    ssize_t n = tls_write(c, tls_file_buf, (size_t)r);
    if (n > 0)
        *off += n;
    return n;
}

/* close_notify (what the close of the socket then follows). */
static void tls_goodbye(conn_t *c)
{
    tls_conn_t *t = c->xport;
    if (!c->handshaking) {
        tls_err_reset();
        SSL_shutdown(t->ssl);
        tls_err_reset();
    }
}

/* close_notify, then FIN. */
static void tls_shutdown(conn_t *c)
{
    tls_goodbye(c);
    shutdown(c->fd, SHUT_WR);
}

static int tls_unacked(const conn_t *c)
{
    return plain_transport.unacked(c);
}

static void tls_close(conn_t *c)
{
    tls_conn_t *t = c->xport;
    conn_timer_clear(c, t->timer);
    tls_warm_unlink(c->eng, t);
    SSL_free(t->ssl);
    free(t);
    c->xport = NULL;
    close(c->fd);
}

/* ---- OpenSSL's wants and the loop's events ---- */

static int tls_interest(const conn_t *c, int ev)
{
    const tls_conn_t *t = c->xport;
    int out = ev & ~(LOOP_READ | LOOP_WRITE);
    if (ev & LOOP_READ)
        out |= t->read_wants_write ? LOOP_WRITE : LOOP_READ;
    if (ev & LOOP_WRITE)
        out |= t->write_wants_read ? LOOP_READ : LOOP_WRITE;
    return out;
}

static int tls_ready(const conn_t *c, int fired)
{
    const tls_conn_t *t = c->xport;
    int out = fired & ~(LOOP_READ | LOOP_WRITE);
    if (fired & LOOP_READ)
        out |= t->write_wants_read ? LOOP_WRITE | LOOP_READ : LOOP_READ;
    if (fired & LOOP_WRITE)
        out |= t->read_wants_write ? LOOP_READ | LOOP_WRITE : LOOP_WRITE;
    return out;
}

/* ---- what was negotiated ---- */

static const char *tls_version(const conn_t *c)
{
    const tls_conn_t *t = c->xport;
    return c->handshaking ? NULL : SSL_get_version(t->ssl);
}

static const char *tls_alpn(const conn_t *c)
{
    const tls_conn_t *t = c->xport;
    const unsigned char *p;
    unsigned int n;
    static _Thread_local char name[256];
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    memcpy(name, p != NULL ? p : (const unsigned char *)"", n);
    name[n] = '\0';
    return name;
}

static void tls_subject(X509 *x, char *out, size_t size)
{
    BIO *m = BIO_new(BIO_s_mem());
    int n = 0;
    if (m != NULL && X509_NAME_print_ex(m, X509_get_subject_name(x), 0,
                                        XN_FLAG_RFC2253) >= 0)
        n = BIO_read(m, out, (int)size - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(m);
}

static void tls_info(const conn_t *c, swx_conninfo_t *ci)
{
    const tls_conn_t *t = c->xport;
    const char *sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(ci->tls_version, sizeof(ci->tls_version), "%s",
             SSL_get_version(t->ssl));
    snprintf(ci->tls_cipher, sizeof(ci->tls_cipher), "%s",
             SSL_get_cipher_name(t->ssl));
    snprintf(ci->tls_sni, sizeof(ci->tls_sni), "%s", sni ? sni : "");
    const char *alpn = tls_alpn(c);
    size_t n = strnlen(alpn, sizeof(ci->tls_alpn) - 1);
    memcpy(ci->tls_alpn, alpn, n);
    ci->tls_alpn[n] = '\0';
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    if (peer != NULL) {
        tls_subject(peer, ci->tls_client_subject,
                    sizeof(ci->tls_client_subject));
        ci->tls_client_verified = SSL_get_verify_result(t->ssl) ==
                                  X509_V_OK;
    }
}

/* Records OpenSSL read ahead and holds (whole or not). A partial record
 * held here costs one deferred read that finds nothing (-EAGAIN, which
 * defers nothing more) and then waits for the socket. */
static int tls_buffered(const conn_t *c)
{
    const tls_conn_t *t = c->xport;
    return t != NULL && t->ssl != NULL && SSL_has_pending(t->ssl);
}

const conn_transport_t tls_transport = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .sendfile = tls_sendfile,
    .shutdown = tls_shutdown,
    .unacked = tls_unacked,
    .close = tls_close,
    .handshake = tls_handshake,
    .interest = tls_interest,
    .ready = tls_ready,
    .info = tls_info,
    .version = tls_version,
    .alpn = tls_alpn,
    .buffered = tls_buffered,
    .goodbye = tls_goodbye,
};
