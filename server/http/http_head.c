/* http_head.c: the one writer of HTTP/1.1 response heads. */
#include "http/http_head.h"

#include <errno.h>
#include <string.h>

#include "protocol/http_text.h"

/* The head is laid out into the room reserved for a usual head; one
 * longer than that is laid out again, into room for exactly its bytes,
 * counted the first time. */
typedef struct head_out {
    char *at;   /* where it goes */
    size_t cap; /* bytes of room at at: past it, only counted */
    size_t len; /* bytes so far; past HTTP_HEAD_MAX it stops counting */
} head_out_t;

/* A head of a few fields fits: laid out once. */
#define HEAD_ROOM 512

static void out_put(head_out_t *o, const char *s, size_t len)
{
    if (o->len > HTTP_HEAD_MAX || len > HTTP_HEAD_MAX) {
        o->len = HTTP_HEAD_MAX + 1; /* too big, and never wraps */
        return;
    }
    if (len <= o->cap - o->len && o->len <= o->cap)
        memcpy(o->at + o->len, s, len);
    o->len += len;
}

static void out_str(head_out_t *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static void out_uint(head_out_t *o, uint64_t v)
{
    char digits[20];
    size_t n = sizeof(digits);
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    out_put(o, digits + n, sizeof(digits) - n);
}

static int head_interim(const http_head_t *h)
{
    return h->status < 200 && h->status != 101;
}

static int head_bodyless(const http_head_t *h)
{
    return h->status < 200 || h->status == 204 || h->status == 304;
}

static void head_framing(head_out_t *o, const http_head_t *h)
{
    if (head_bodyless(h))
        return;
    if (h->framing == HTTP_HEAD_LENGTH) {
        out_str(o, "Content-Length: ");
        out_uint(o, h->length);
        out_put(o, "\r\n", 2);
    } else if (h->framing == HTTP_HEAD_CHUNKED) {
        out_str(o, "Transfer-Encoding: chunked\r\n");
    }
}

static void head_connection(head_out_t *o, const http_head_t *h)
{
    if (head_interim(h))
        return;
    if (h->conn == HTTP_HEAD_CLOSE)
        out_str(o, "Connection: close\r\n");
    else if (h->conn == HTTP_HEAD_UPGRADE)
        out_str(o, "Connection: Upgrade\r\n");
    else if (h->http10)
        out_str(o, "Connection: keep-alive\r\n");
}

static void head_lay_out(head_out_t *o, const http_head_t *h,
                         const char *date)
{
    char code[4] = {(char)('0' + h->status / 100),
                    (char)('0' + h->status / 10 % 10),
                    (char)('0' + h->status % 10), ' '};
    out_str(o, "HTTP/1.1 ");
    out_put(o, code, sizeof(code));
    out_str(o, http_reason(h->status));
    out_put(o, "\r\n", 2);
    if (!h->own_server)
        out_str(o, "Server: swx\r\n");
    if (!h->own_date) {
        out_str(o, "Date: ");
        out_put(o, date, HTTP_DATE_LEN);
        out_put(o, "\r\n", 2);
    }
    for (size_t i = 0; i < h->nlines; i++) {
        const http_head_lines_t *l = &h->lines[i];
        if (l->text != NULL)
            out_put(o, l->text, l->len > 0 ? l->len : strlen(l->text));
    }
    head_framing(o, h);
    head_connection(o, h);
    out_put(o, "\r\n", 2);
}

int http_head_append(buf_t *b, const http_head_t *h)
{
    if (h->status < 100 || h->status > 599)
        return -EINVAL;
    const char *date = h->own_date ? NULL : http_head_date(time(NULL));
    char *room = buf_room(b, HEAD_ROOM);
    if (room == NULL)
        return -ENOMEM;
    head_out_t o = {room, HEAD_ROOM, 0};
    head_lay_out(&o, h, date);
    if (o.len > HTTP_HEAD_MAX)
        return -E2BIG;
    if (o.len > HEAD_ROOM) {
        size_t want = o.len;
        room = buf_room(b, want);
        if (room == NULL)
            return -ENOMEM;
        o = (head_out_t){room, want, 0};
        head_lay_out(&o, h, date);
    }
    b->len += o.len;
    return 0;
}

/* One formatting a second per thread: the reactor threads, a worker, the
 * admin endpoint's thread each keep their own. */
static __thread time_t date_second = -1;
static __thread char date_text[HTTP_DATE_LEN + 1];

const char *http_head_date(time_t now)
{
    if (now != date_second) {
        http_date(now, date_text);
        date_second = now;
    }
    return date_text;
}
