/* http_msg.h: the messages HTTP and WebSocket connections exchange between
 * a reactor and a worker, numbered in the protocols' range of the IPC
 * transport (ipc/ipc.h); the rest goes as IPC_SEND, IPC_CLOSE and kin. */
#ifndef SWX_HTTP_MSG_H
#define SWX_HTTP_MSG_H

#include <stdint.h>

#include "ipc/ipc.h"

enum http_msg_type {
    HTTP_MSG_REQUEST = IPC_PROTO_MIN, /* reactor -> worker: a request
                                         (http_wire.h) */
    HTTP_MSG_END,      /* worker -> reactor: uint8_t HTTP_MSG_END_* flags,
                          [with HTTP_MSG_END_TRAILERS: uint32_t length and
                          the trailer lines,] then the response's last
                          bytes (its others were IPC_SEND): the response
                          is complete (http_wire_end_decode) */
    HTTP_MSG_SENDFILE, /* worker -> reactor: http_msg_sendfile_t, then the
                          path and its NUL: the file is part of the
                          response */
    HTTP_MSG_ABORT,    /* reactor -> worker: the connection of the request
                          this worker holds closed (sent when IPC_CLOSE
                          does not reach that worker) */
    HTTP_MSG_PROBE,    /* reactor -> worker: uint64_t request number: do
                          you hold this session's request? */
    HTTP_MSG_LOST,     /* worker -> reactor: the probe's number: no, so the
                          process that took it died with it */
    WS_MSG_OPEN,       /* reactor -> worker: the handshake (http_wire.h) */
    WS_MSG_MESSAGE,    /* reactor -> worker: uint8_t opcode, then the data */
    WS_MSG_CLOSE,      /* reactor -> worker: uint16_t close code */
    WS_MSG_PUSH,       /* worker -> reactor: uint8_t opcode, then the data */
    WS_MSG_CLOSE_REQ,  /* worker -> reactor: uint16_t close code */
    /* HTTP/2 (protocol/http2_conn.c): several requests of one session at
     * once, each told apart by its stream id. */
    HTTP_MSG_STREAM,   /* worker -> reactor: http_msg_stream_t, then what
                          IPC_SEND, HTTP_MSG_END or HTTP_MSG_SENDFILE would
                          carry for an HTTP/1.1 response */
    HTTP_MSG_STREAM_ABORT, /* reactor -> worker: uint32_t stream id: the
                              client reset that stream */
    HTTP_MSG_TYPE_END
};

_Static_assert(HTTP_MSG_TYPE_END <= IPC_PROTO_END,
               "HTTP messages fit the protocols' range");

/* HTTP_MSG_STREAM's header: which stream, and the inner message's type
 * (IPC_SEND, HTTP_MSG_END or HTTP_MSG_SENDFILE). */
typedef struct http_msg_stream {
    uint32_t stream;
    uint32_t type;
} http_msg_stream_t;

/* HTTP_MSG_END: close the connection after this response. */
#define HTTP_MSG_END_CLOSE 0x01
/* HTTP_MSG_END: trailer fields follow the flags, "Name: value\r\n" lines
 * (HTTP/2 only: an HTTP/1.1 worker writes them into its last chunk). */
#define HTTP_MSG_END_TRAILERS 0x02

/* HTTP_MSG_SENDFILE: the worker opened the file to check it and tells
 * which it saw, so the reactor (which may run as another user) sends only
 * that same file. */
typedef struct http_msg_sendfile {
    uint64_t offset;
    uint64_t length;
    uint64_t dev;
    uint64_t ino;
} http_msg_sendfile_t;

#endif
