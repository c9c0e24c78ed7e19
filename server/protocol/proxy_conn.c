/* proxy_conn.c: the first stage of a connection on a listener with
 * proxy_protocol: read the PROXY header (protocol/proxy.c) within a few
 * seconds, take the client's address from it, then hand the connection
 * and the bytes that followed the header to the listener's protocol.
 * Until then no worker knows of the connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "net/conn.h"
#include "protocol/proxy.h"

/* The whole header must arrive within this long of the connect. */
#define PROXY_CONN_TIMEOUT_MS 5000

typedef struct proxy_conn {
    int64_t timer;
    size_t n;                 /* bytes of a header begun in buf */
    char buf[PROXY_MAX];
} proxy_conn_t;

/* A connection that brought no valid header: closed, with why. */
static void proxy_conn_refuse(conn_t *c, const char *why)
{
    proxy_conn_t *p = c->state;
    p->n = 0; /* told here: the close hook has nothing to add */
    log_warn("session %llu (peer %s, listener %d): PROXY protocol header: "
             "%s; closing", (unsigned long long)c->session, c->peer,
             c->listener, why);
    conn_close(c, NULL);
}

static void proxy_conn_expired(int64_t id, void *arg)
{
    (void)id;
    conn_t *c = arg;
    proxy_conn_t *p = c->state;
    p->timer = 0;
    proxy_conn_refuse(c, p->n > 0 ? "incomplete after 5 s"
                                  : "none received in 5 s");
}

static int proxy_conn_open(conn_t *c)
{
    proxy_conn_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->n = 0;
    c->state = p;
    p->timer = conn_timer_add(c, PROXY_CONN_TIMEOUT_MS, proxy_conn_expired);
    return p->timer < 0 ? (int)p->timer : 0;
}

/* The header is whole: the client's address replaces the socket's peer
 * (which stays as the proxy's), and the listener's protocol takes over
 * with what followed the header. */
static void proxy_conn_done(conn_t *c, const proxy_header_t *h,
                            const char *rest, size_t len)
{
    proxy_conn_t *p = c->state;
    conn_timer_clear(c, p->timer);
    free(p);
    c->state = NULL;
    if (!h->local)
        conn_set_peer(c, h->src_addr, h->src_port);
    log_debug("session %llu: PROXY v%d header of %zu bytes: client %s%s%s",
              (unsigned long long)c->session, h->version, h->len, c->peer,
              c->proxy_addr[0] != '\0' ? " via " : " (LOCAL/UNKNOWN)",
              c->proxy_addr);
    conn_start(c, rest, len);
}

/* Bytes read: parsed where they are while no header is begun, else
 * appended to what was kept (at most PROXY_MAX bytes are ever kept:
 * the parser refuses a header that would be longer). */
static void proxy_conn_input(conn_t *c, const char *data, size_t len)
{
    proxy_conn_t *p = c->state;
    const char *buf = data;
    size_t old = p->n, n = len;
    if (old > 0) {
        size_t take = len < sizeof(p->buf) - old ? len : sizeof(p->buf) - old;
        memcpy(p->buf + old, data, take);
        buf = p->buf;
        n = old + take;
    }
    proxy_header_t h;
    int rc = proxy_parse(buf, n, &h);
    if (rc == PROXY_ERROR) {
        proxy_conn_refuse(c, h.error);
    } else if (rc == PROXY_MORE) {
        if (old == 0)
            memcpy(p->buf, data, len); /* len < PROXY_MAX when more */
        p->n = n;
    } else {
        size_t used = h.len - old; /* of data */
        proxy_conn_done(c, &h, data + used, len - used);
    }
}

static void proxy_conn_deliver(conn_t *c, const conn_msg_t *m)
{
    log_debug("session %llu: message type %d before the PROXY header "
              "dropped", (unsigned long long)c->session, m->type);
}

static int proxy_conn_drained(conn_t *c)
{
    (void)c;
    return 0;
}

/* Stopping: a connection that has not named its client yet goes. */
static void proxy_conn_quiesce(conn_t *c)
{
    conn_close(c, NULL);
}

/* A client that connects and leaves without a byte (a TCP health check)
 * goes quietly; one that leaves within a header is told of. */
static void proxy_conn_close(conn_t *c, int notify)
{
    proxy_conn_t *p = c->state;
    if (p == NULL)
        return;
    if (notify && p->n > 0)
        log_warn("session %llu (peer %s, listener %d): PROXY protocol "
                 "header: the connection ended within it (%zu bytes); "
                 "closing", (unsigned long long)c->session, c->peer,
                 c->listener, p->n);
    conn_timer_clear(c, p->timer);
    free(p);
    c->state = NULL;
}

const conn_proto_t proxy_conn_proto = {
    .name = "proxy",
    .open = proxy_conn_open,
    .input = proxy_conn_input,
    .deliver = proxy_conn_deliver,
    .drained = proxy_conn_drained,
    .quiesce = proxy_conn_quiesce,
    .close = proxy_conn_close,
};
