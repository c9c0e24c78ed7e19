/* sdmaster.h: what the master tells systemd and when: READY once every
 * process has started and the listeners accept, RELOADING and READY
 * around a reload, STOPPING, STATUS, MAINPID and the watchdog pings. */
#ifndef SWX_SDMASTER_H
#define SWX_SDMASTER_H

#include "event/loop.h"
#include "proc/server.h"

/* After daemonizing: this process is systemd's main process now. */
void sdmaster_daemonized(void);
/* The listeners accept: the watchdog and status timers start in the
 * master's loop (so a stuck loop stops the pings). 0, or -errno (logged;
 * the server runs without them). */
int sdmaster_start(loop_t *loop, const server_t *s);
/* A MANAGER_* event the manager sent with SIGNAL_MANAGER. */
void sdmaster_manager_event(int event);
/* The stop began (why: "SIGTERM", ...). */
void sdmaster_stopping(const char *why);
/* Start-up failed: the reason, for systemctl status. */
void sdmaster_failed(const char *why);

#endif
