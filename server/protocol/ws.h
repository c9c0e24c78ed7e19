/* ws.h: WebSocket (RFC 6455) server side: handshake, frame headers,
 * unmasking, message sequencing, UTF-8 and close payload checks. */
#ifndef SWX_WS_H
#define SWX_WS_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/http_parser.h"

enum ws_opcode {
    WS_CONT = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xa,
};

/* Close codes this module returns (negated) or reports. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005,    /* reported for an empty close payload */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_TRY_AGAIN = 1013,    /* "Try Again Later" (IANA registry) */
};

#define WS_MAX_HEADER 14          /* 2 + 8 length + 4 mask */
#define WS_MAX_CONTROL_PAYLOAD 125
#define WS_ACCEPT_LEN 28          /* ws_accept_key writes this + NUL */

typedef struct ws_frame {
    int fin;
    int rsv;               /* RSV1..RSV3 as bits 2..0 (0 unless allowed) */
    int opcode;            /* enum ws_opcode */
    int masked;            /* always 1 when parsed: clients must mask */
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;     /* payload starts here */
} ws_frame_t;

/*
 * Parse the frame header a client sent at buf[0..len). Returns the header
 * length (6..14) once the whole header is here and fills *f; the caller then
 * waits for header_len + payload_len bytes. 0 means more bytes are needed.
 * Negative close codes: -1002 for RSV bits (no extension is negotiated), a
 * reserved opcode, a control frame that is fragmented or longer than 125, an
 * unmasked frame, or a 64-bit length with its top bit set; -1009 when
 * payload_len > max_payload. An error is reported as soon as the bytes show
 * it, and a longer prefix never changes the answer. Lengths not in their
 * minimal encoding are accepted.
 */
int ws_frame_parse(const void *buf, size_t len, uint64_t max_payload,
                   ws_frame_t *f);

/* RSV1: a compressed message (permessage-deflate, RFC 7692). */
#define WS_RSV1 4

/* ws_frame_parse with the RSV bits of rsv_allowed accepted (WS_RSV1 once
 * permessage-deflate is negotiated: then only on the first frame of a
 * data message; -1002 on a continuation or control frame). */
int ws_frame_parse_ext(const void *buf, size_t len, uint64_t max_payload,
                       int rsv_allowed, ws_frame_t *f);

/*
 * XOR data[0..len) with the mask in place. offset is the position of
 * data[0] in the payload, so a payload can be unmasked piece by piece.
 */
void ws_unmask(void *data, size_t len, const uint8_t mask[4], uint64_t offset);

/*
 * Header for a server frame (never masked): FIN if fin, the opcode, and len
 * (below 2^63) in 7, 16 or 64-bit form. Returns its size: 2, 4 or 10.
 */
size_t ws_frame_header(int opcode, int fin, uint64_t len, uint8_t out[10]);
/* The same with RSV bits (WS_RSV1 for a compressed message). */
size_t ws_frame_header_rsv(int opcode, int fin, int rsv, uint64_t len,
                           uint8_t out[10]);

/* Incremental UTF-8 validation across fragments (RFC 3629, Unicode ch. 3). */
typedef struct ws_utf8 {
    uint8_t need;    /* continuation bytes still expected */
    uint8_t lo, hi;  /* range for the next continuation byte */
    uint8_t bad;     /* sticky */
} ws_utf8_t;

void ws_utf8_init(ws_utf8_t *u);
/* 0 while valid so far; -1007 at the first byte that cannot be UTF-8
 * (overlong, surrogate, above U+10FFFF, stray continuation). */
int ws_utf8_feed(ws_utf8_t *u, const void *data, size_t len);
/* 0 when the text ends on a character boundary, else -1007. */
int ws_utf8_finish(const ws_utf8_t *u);

/* A message being reassembled from data frames. */
typedef struct ws_msg {
    int active;       /* a fragmented message is in progress */
    int opcode;       /* WS_TEXT or WS_BINARY: the current or last message */
    uint64_t len;     /* its payload bytes so far */
    ws_utf8_t utf8;   /* reset at each message; feed text payloads here */
    int compressed;   /* its first frame had RSV1 (permessage-deflate) */
} ws_msg_t;

/*
 * Account a parsed frame against the message in progress (start with a
 * zeroed ws_msg_t). Control frames pass untouched. Returns 0; -1002 for a
 * continuation with no message started or a new data frame inside a
 * fragmented one; -1009 when the message would exceed max_message.
 */
int ws_msg_frame(ws_msg_t *m, const ws_frame_t *f, uint64_t max_message);

/* May this code appear in a close frame? 1000-1003, 1007-1014, 3000-4999. */
int ws_close_code_valid(unsigned code);

/*
 * Check a close frame's (unmasked) payload: empty gives code 1005 and no
 * reason; otherwise a valid code and a UTF-8 reason (pointing into
 * payload). 0, -1002 (1 byte, over 125, invalid code) or -1007.
 */
int ws_close_parse(const void *payload, size_t len, uint16_t *code,
                   const char **reason, size_t *reason_len);

/*
 * Sec-WebSocket-Accept for a client key: base64(SHA-1(key + GUID)) into
 * out (WS_ACCEPT_LEN chars + NUL). The key must be 24 base64 characters
 * decoding to 16 bytes. 0 or -EINVAL.
 */
int ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1]);

/*
 * Validate an opening handshake (RFC 6455 §4.2.1) and compute the accept
 * value. 0; -400 when it is not a GET/1.1 websocket upgrade or the key is
 * missing, repeated or malformed; -426 when Sec-WebSocket-Version is not
 * 13 (answer with "Sec-WebSocket-Version: 13").
 */
int ws_handshake(const http_request_t *req, char accept[WS_ACCEPT_LEN + 1]);

/*
 * permessage-deflate (RFC 7692): the first offer in the request's
 * Sec-WebSocket-Extensions that the server can take. 1 with *window_bits
 * (9..15: the client's server_max_window_bits, 15 when absent), or 0 when
 * there is none (no offer, unknown or repeated parameters, a window of 8
 * bits, which zlib cannot keep to). The server always answers with both
 * no_context_takeover parameters, so every message stands alone.
 */
int ws_deflate_negotiate(const http_request_t *req, int *window_bits);

#endif
