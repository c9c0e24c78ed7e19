/* proto_ws.h: handing an upgraded HTTP connection to the WebSocket
 * protocol (proto_ws.c). */
#ifndef SWX_PROTO_WS_H
#define SWX_PROTO_WS_H

#include "conn.h"

/*
 * Make c a WebSocket connection after the 101 response was queued and
 * CHAN_WS_OPEN went to worker w. Bytes already in c->in are the first
 * frames. 0, or -1 when the connection was closed.
 */
int proto_ws_start(conn_t *c, int w);

#endif
