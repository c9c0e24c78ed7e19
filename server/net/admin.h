/* admin.h: the optional admin endpoint (GET /stats, POST /reload). */
#ifndef SWX_ADMIN_H
#define SWX_ADMIN_H

#include <stddef.h>

#include "event/loop.h"
#include "proc/server.h"

/* Bind the admin socket (before any fork); the fd, or -1 with err. A Unix
 * socket path must be free or hold a stale socket (see sockfile.h). */
int admin_open(const config_t *cfg, char *err, size_t errlen);
/* Serve it on the master's loop; on_reload runs for POST /reload. */
int admin_start(loop_t *loop, int fd, server_t *srv, void (*on_reload)(void));
/* Close it, and remove its socket file if that is still the one bound;
 * also after a failed start, when admin_start never ran. */
void admin_stop(const config_t *cfg);

#endif
