/* worker.h: a worker's own send path, for the server code that runs in it
 * (HTTP responses, WebSocket pushes): messages about a session go straight
 * to the channel of the reactor that owns it. Plugins use swx_send. */
#ifndef SWX_WORKER_H
#define SWX_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Send a message of type (ipc/ipc.h, http/http_msg.h) made of the bytes of
 * iov[0..n), without copying them into one buffer first. 0, -ENOTCONN for
 * a session of no reactor, -ENOTSUP outside a worker, or -errno. */
int worker_sendv(uint64_t session, int type, const struct iovec *iov, int n);
/* The same for one buffer. */
int worker_send_msg(uint64_t session, int type, const void *data,
                    size_t len);
/* buffer_output_size: the largest message a reactor takes; 0 outside a
 * worker. */
size_t worker_output_max(void);

#endif
