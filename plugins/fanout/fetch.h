/* fetch.h: a plain HTTP/1.1 GET on the coroutine client sockets, for the
 * fanout example: the status and how many body bytes came. */
#ifndef FANOUT_FETCH_H
#define FANOUT_FETCH_H

typedef struct fetch_result {
    int status;        /* the response's status code */
    long long bytes;   /* body bytes received (decoded when chunked) */
    const char *error; /* NULL, or why there is no complete response */
} fetch_result_t;

/* GET path from host:port (a numeric address or "localhost") with
 * "Connection: close", within timeout_ms in all. 0, or -errno with
 * out->error set (-EPROTO: the answer is not HTTP as we know it). Call in
 * a coroutine. */
int fetch_get(const char *host, int port, const char *path, long timeout_ms,
              fetch_result_t *out);

#endif
