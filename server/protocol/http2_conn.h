/* http2_conn.h: HTTP/2 connections in the reactor (libnghttp2's server
 * session): how a connection becomes one (the client preface by prior
 * knowledge, an HTTP/1.1 Upgrade: h2c, or TLS's ALPN "h2"), and what it
 * shares with the HTTP/1.1 connection it may start as. */
#ifndef SWX_HTTP2_CONN_H
#define SWX_HTTP2_CONN_H

#include <stddef.h>

#include "http/http_wire.h"
#include "net/conn.h"
#include "protocol/http_parser.h"
#include "protocol/real_ip.h"

extern const conn_proto_t http2_conn_proto;

/* The client connection preface every HTTP/2 connection starts with. */
#define HTTP2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HTTP2_PREFACE_LEN 24

/* 1 when data[0..len) starts with the whole preface, 0 when it is a
 * beginning of it (more bytes decide), -1 when it is not HTTP/2. */
int http2_preface_match(const char *data, size_t len);

/*
 * Make c, a fresh connection of an HTTP listener, an HTTP/2 one: the
 * protocol it had is closed without telling the sink (its close hook with
 * notify 0; so TLS may call this right after ALPN chose "h2", whatever
 * the listener's protocol opened, before any application byte went to
 * it), the server's SETTINGS are queued, and what c->in holds is taken as
 * the first bytes (the client preface first). 0, or -1 when the
 * connection was closed.
 */
int http2_conn_start(conn_t *c);

/* Serve "h2" when TLS's ALPN chose it (before any loop runs). 0 or
 * -errno. */
int http2_conn_init(void);

/*
 * HTTP/1.1 Upgrade: h2c (RFC 7540 3.2) on c, whose request req (a body-
 * less head of head_len bytes at the front of c->in) carried settings,
 * the HTTP2-Settings value: the 101 is written, the request becomes
 * stream 1, and the bytes after the head are the first HTTP/2 ones.
 * c->state must be free already. 0, or -1 when the connection was closed.
 */
int http2_conn_upgrade(conn_t *c, const http_request_t *req, size_t head_len,
                       const char *settings, size_t settings_len);

/* Shared with protocol/http_conn.c. */

/* Who sent req (the connection's peer, or the client a trusted peer names
 * in real_ip_header), as the worker is told. */
http_wire_peer_t http_conn_peer(const conn_t *c, const http_request_t *req,
                                char client[REAL_IP_LEN]);
/* max_concurrency: 1 when a slot for a request going to a worker was
 * taken (give it back with http_conn_slot_release), 0 when refused (the
 * refusal is counted and logged). */
int http_conn_slot_take(conn_t *c);
void http_conn_slot_release(conn_t *c);

#endif
