/* health.h: GET /health of the admin endpoint (the master's). */
#ifndef SWX_HEALTH_H
#define SWX_HEALTH_H

#include "proc/server.h"

/* The HTTP status (200 ok, 503 draining, stopping or degraded) and, in
 * *body (malloc'd, NULL when out of memory), the JSON report. */
int health_report(const server_t *srv, char **body);

#endif
