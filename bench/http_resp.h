/* http_resp.h: incremental HTTP/1.1 response parser for the load generator. */
#ifndef SWX_BENCH_HTTP_RESP_H
#define SWX_BENCH_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_RESP_LINE_MAX 1024 /* longest status, header or chunk-size line */

enum http_resp_rc {
    HTTP_RESP_BAD = -1, /* malformed: the stream cannot be followed any more */
    HTTP_RESP_MORE = 0, /* every byte given was used; the response goes on */
    HTTP_RESP_DONE = 1, /* one whole response ended; bytes may be left over */
};

enum http_resp_state {
    HR_STATUS, HR_HEADER, HR_BODY, HR_CHUNK_SIZE, HR_CHUNK_DATA,
    HR_CHUNK_END, HR_TRAILER, HR_DONE,
};

typedef struct http_resp {
    enum http_resp_state state;
    int status;          /* of the response being read or just ended */
    int chunked;
    int have_length;
    uint64_t length;     /* Content-Length */
    uint64_t left;       /* body or chunk bytes still to come */
    uint64_t bytes;      /* bytes of this response so far, head included */
    size_t line_len;
    char line[HTTP_RESP_LINE_MAX];
} http_resp_t;

/* Reads buf[0..len) up to the end of one response at most. *used says how
 * many bytes were taken; after HTTP_RESP_DONE, status and bytes describe
 * the response, and the next call starts on a new one. */
enum http_resp_rc http_resp_feed(http_resp_t *r, const unsigned char *buf, size_t len,
                                 size_t *used);

#endif
