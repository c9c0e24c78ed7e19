/* tls.h: TLS on stream listeners: the listeners' OpenSSL contexts
 * (tls_ctx.c: certificates, SNI, ALPN, session tickets, reloads) and the
 * TLS transport of the connection engine (tls.c). */
#ifndef SWX_TLS_H
#define SWX_TLS_H

#include <stddef.h>
#include <time.h>

#include "core/config.h"
#include "ipc/shm.h"
#include "net/conn.h"

struct ssl_ctx_st;

/* A listener with ssl_cert_file speaks TLS. */
static inline int tls_listener_on(const config_listener_t *l)
{
    return l->ssl_cert_file != NULL;
}

/* Build every TLS listener's context from its certificates, and draw the
 * session ticket secret in shm the first time. In the master before any
 * fork (the processes that fork from it inherit both). 0, or -1 with each
 * failure logged by its JSON path. */
int tls_init(const config_t *cfg, shm_t *shm);
/* swx-server -t: load every certificate of every listener; each failure
 * printed to stderr by its JSON path with OpenSSL's reason. 0, or -1. */
int tls_check(const config_t *cfg);
/* Re-read every TLS listener's certificates: new handshakes use the new
 * context, connections keep theirs. A listener whose new certificate
 * fails to load keeps the old one; why is logged. */
void tls_reload(void);
void tls_free(void);
/* The wall clock the ticket keys follow (time(2); NULL restores it): for
 * tests of their rotation. */
void tls_set_clock(time_t (*now)(time_t *));

/* A reference to listener's current context (SSL_CTX_free it), or NULL
 * when it has none. Any thread. */
struct ssl_ctx_st *tls_ctx_get(int listener);

/* ALPN protocols a listener offers when ssl_alpn is not set, into out
 * (NULL-terminated, at most max - 1 names): "http/1.1" on HTTP and
 * WebSocket listeners, none on raw ones. HTTP/2 puts "h2" first where a
 * listener enables it. */
void tls_alpn_default(const config_listener_t *l, const char **out,
                      size_t max);

/* c was accepted on a TLS listener: its handshake starts, bounded by
 * ssl_handshake_timeout; c->handshaking until it is done. data: bytes
 * already read from the socket that belong to TLS (what followed a PROXY
 * header), or len 0. 0 or -errno. */
int tls_conn_attach(conn_t *c, const char *data, size_t len);

#endif
