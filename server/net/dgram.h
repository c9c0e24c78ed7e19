/* dgram.h: reading a datagram listener (udp, udp6, unix_dgram): each
 * datagram with its sender described, for a sink to pass on (dgram.c). */
#ifndef SWX_DGRAM_H
#define SWX_DGRAM_H

#include <stddef.h>

#include "swx_plugin.h"

/* The largest datagram passed on; a longer one is dropped with a warning. */
#define DGRAM_MAX 65536
/* The buffer dgram_read fills: a swx_peer_t, then the datagram. */
#define DGRAM_BUF_SIZE (sizeof(swx_peer_t) + DGRAM_MAX)

/* One datagram: p (its sender, listener and address filled in), then len
 * bytes right after it. */
typedef void dgram_cb(void *arg, swx_peer_t *p, size_t len);

/* Read what fd (listeners[listener]) holds, a batch at most, into buf
 * (DGRAM_BUF_SIZE bytes), and hand each datagram to cb. */
void dgram_read(int fd, int listener, char *buf, dgram_cb *cb, void *arg);

#endif
