/* sdnotify.h: the systemd notification protocol (sd_notify(3)), in-tree:
 * READY, RELOADING, STOPPING, STATUS, MAINPID and WATCHDOG datagrams to
 * $NOTIFY_SOCKET. */
#ifndef SWX_SDNOTIFY_H
#define SWX_SDNOTIFY_H

#include <stdint.h>

/*
 * Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once and remove them
 * from the environment, so that no child (a worker, a program a plugin
 * runs) talks to systemd in the server's name. Without NOTIFY_SOCKET
 * every other function here does nothing. 0, or -errno when the variable
 * is set but unusable (logged; the server runs without notifications).
 * Once, before anything forks (main.c).
 */
int sdnotify_init(void);
/* Whether NOTIFY_SOCKET was set and usable. */
int sdnotify_enabled(void);
/*
 * Send one message ("READY=1\nSTATUS=...", without a trailing newline
 * needed) as one datagram. 0, or -errno; a failure is logged once, not at
 * every watchdog ping.
 */
int sdnotify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC (systemd >= 253's Type=notify-reload
 * drops a RELOADING=1 without it), and a STATUS line. */
int sdnotify_reloading(const char *status);
/* The watchdog period systemd asked for (WATCHDOG_USEC), in microseconds,
 * or 0 when there is none for this process (WATCHDOG_PID names another). */
uint64_t sdnotify_watchdog_usec(void);

#endif
