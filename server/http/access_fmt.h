/* access_fmt.h: access_log_format compiled once into a list of operations,
 * and an access log line rendered from it: the request's side captured
 * when its head is read (its bytes are gone by the response's end), the
 * response's side added when the line is made. Values from the client are
 * escaped as nginx does (", \, control and non-ASCII bytes as \xHH). */
#ifndef SWX_ACCESS_FMT_H
#define SWX_ACCESS_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "protocol/http_parser.h"

/* nginx's "combined". */
#define ACCESS_FMT_COMBINED                                                  \
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "        \
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\""

/* A line is cut to this (its newline kept). */
#define ACCESS_LINE_MAX (64 * 1024)

typedef struct access_op {
    uint8_t var;     /* enum access_var (access_fmt.c) */
    uint8_t request; /* its value is captured from the request */
    uint16_t slot;   /* request values: index among them */
    uint32_t off;    /* literal text or header name, in text */
    uint32_t len;
} access_op_t;

typedef struct access_fmt {
    access_op_t *ops;
    int nops;
    int nslots;      /* request values per line */
    size_t fixed;    /* literal bytes per line */
    char *text;      /* literals and header names ("user-agent\0") */
} access_fmt_t;

/* What the request side reads, when the head has been parsed. req is NULL
 * when none was (a malformed head answered 400): its values are "-". */
typedef struct access_req {
    const http_request_t *req;
    const char *remote_addr; /* the client (a PROXY header or a trusted
                                X-Forwarded-For named it) */
    int remote_port;         /* 0: unknown (X-Forwarded-For) */
    const char *proxy_addr;  /* the proxy that named it, or NULL */
} access_req_t;

/* The time of a line, formatted once a second per thread. */
typedef struct access_clock {
    time_t sec;
    char local[64];   /* 06/Dec/2026:07:40:00 +0000 */
    char iso[64];     /* 2026-12-06T07:40:00+00:00 */
} access_clock_t;

/* What the response side reads, when the line is made. */
typedef struct access_resp {
    int status;                 /* 0: none was sent */
    uint64_t bytes_sent;        /* head and body */
    uint64_t body_bytes_sent;
    uint64_t request_length;    /* head and body as read */
    int64_t request_us;         /* first byte in to the response's end */
    int64_t response_us;        /* dispatch to the response's end */
    int64_t msec;               /* wall clock, ms since the epoch */
    const access_clock_t *clock;
    int pid;
    int worker_id;              /* -1: none (the reactor answered) */
    uint64_t connection;        /* the session id */
    uint64_t connection_requests; /* this one included */
    const char *ssl_protocol;   /* NULL: "-" (no TLS yet) */
} access_resp_t;

/* Compile src; 0, or -1 with a message in err naming the variable or the
 * place that is wrong. */
int access_fmt_compile(access_fmt_t *f, const char *src, char *err,
                       size_t errlen);
void access_fmt_free(access_fmt_t *f);

/* Whether f needs anything of the request's (else capture is a no-op). */
static inline int access_fmt_wants_request(const access_fmt_t *f)
{
    return f->nslots > 0;
}

/* The request's values for f, escaped, into cap (reset first; its memory
 * is kept for the next request). 0 or -ENOMEM. */
int access_fmt_capture(const access_fmt_t *f, const access_req_t *r,
                       buf_t *cap);
/* The most bytes a line of f with the captured cap can take, newline
 * included (before ACCESS_LINE_MAX). */
size_t access_fmt_bound(const access_fmt_t *f, const buf_t *cap);
/* Render one line, with its newline, into out[0..size): its length, at
 * most size (a line that does not fit is cut, its newline kept). cap may
 * be empty (no capture): its values are then "-". size >= 1. */
size_t access_fmt_render(const access_fmt_t *f, const buf_t *cap,
                         const access_resp_t *r, char *out, size_t size);
/* Fill clock for the wall-clock second sec (localtime). */
void access_clock_set(access_clock_t *clock, time_t sec);

#endif
