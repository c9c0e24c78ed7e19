/* proxy.h: the PROXY protocol header (versions 1 and 2) that a load
 * balancer sends before a client's bytes, parsed from a buffer: no
 * state, no allocation, every length checked. */
#ifndef SWX_PROXY_H
#define SWX_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* A version 1 line is at most this long, its CRLF included. */
#define PROXY_V1_MAX 107
/* The fixed part of a version 2 header. */
#define PROXY_V2_HEAD 16
/* The longest version 2 header accepted: the addresses and TLVs a load
 * balancer sends take far less. */
#define PROXY_MAX (PROXY_V2_HEAD + 2032)

enum proxy_result {
    PROXY_ERROR = -1, /* not a valid header: see proxy_header_t.error */
    PROXY_MORE = 0,   /* a valid start: more bytes are needed */
    PROXY_DONE = 1,   /* a whole header: see proxy_header_t.len */
};

typedef struct proxy_header {
    size_t len;          /* PROXY_DONE: the header's bytes */
    int version;         /* 1 or 2 */
    /* The connection's own addresses stand: v1 UNKNOWN, v2 LOCAL, or v2
     * with an unspecified family. The address fields are then empty. */
    int local;
    int family;          /* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC */
    char src_addr[46];   /* numeric; "unix" for AF_UNIX */
    char dst_addr[46];
    int src_port;        /* 0 for AF_UNIX */
    int dst_port;
    const char *error;   /* PROXY_ERROR: why, for a log line */
} proxy_header_t;

/*
 * Parse the header at the start of data[0..len). PROXY_MORE means every
 * byte so far fits a header and len < PROXY_MAX; a header that cannot be
 * complete within its bounds is PROXY_ERROR at once.
 */
int proxy_parse(const void *data, size_t len, proxy_header_t *h);

#endif
