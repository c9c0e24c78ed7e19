/* ws_conn.h: handing an upgraded HTTP connection to the WebSocket
 * protocol (ws_conn.c). */
#ifndef SWX_PROTO_WS_H
#define SWX_PROTO_WS_H

#include "net/conn.h"

/*
 * Make c a WebSocket connection after the 101 response was queued and
 * WS_MSG_OPEN went to worker w. Bytes already in c->in are the first
 * frames. deflate_bits: 0, or the window (9..15) of the permessage-deflate
 * the 101 accepted. 0, or -1 when the connection was closed.
 */
int ws_conn_start(conn_t *c, int w, int deflate_bits);

#endif
