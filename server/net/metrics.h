/* metrics.h: GET /metrics of the admin endpoint: the server's figures in
 * Prometheus's text exposition format 0.0.4. */
#ifndef SWX_METRICS_H
#define SWX_METRICS_H

#include "core/buf.h"
#include "proc/server.h"

/* The exposition of srv's figures, appended to out. 0 or -ENOMEM. */
int metrics_render(const server_t *srv, buf_t *out);
/* Answer a request for /metrics with method on the admin connection fd
 * (200 with the exposition, 405 for another method), then the caller
 * closes it. */
void metrics_serve(int fd, const char *method, const server_t *srv);

#endif
