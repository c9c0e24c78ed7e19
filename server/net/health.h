/* health.h: GET /health of the admin endpoint (the master's). */
#ifndef SWX_HEALTH_H
#define SWX_HEALTH_H

#include <stdint.h>

#include "proc/server.h"

/* The master is within shutdown_delay until until_ms (loop_now). */
void health_set_draining(int64_t until_ms);

/* The HTTP status (200 ok, 503 draining, stopping or degraded) and, in
 * *body (malloc'd, NULL when out of memory), the JSON report. */
int health_report(const server_t *srv, char **body);

#endif
