/* activation.h: systemd socket activation: listeners take the sockets
 * passed as LISTEN_FDS (from fd 3 on) instead of binding their own. */
#ifndef SWX_ACTIVATION_H
#define SWX_ACTIVATION_H

#include "core/config.h"

/* The first fd systemd passes (SD_LISTEN_FDS_START). */
#define ACTIVATION_FD_START 3

/*
 * Take the sockets passed with LISTEN_FDS when LISTEN_PID is this process
 * (sd_listen_fds(3)), and remove LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES
 * from the environment so that no child takes them for its own. Each is
 * made close-on-exec and non-blocking. The number taken (0 when none were
 * passed, or they were meant for another process); bad variables are
 * logged and count as none. Once, before the listeners are opened and
 * before anything forks (main.c).
 */
int activation_init(void);
/*
 * The passed socket that matches listeners[index] (the socket type, and
 * the family, address and port, or the Unix path), listening, and removed
 * from the set: its fd; -ENOENT when there is none (the listener binds
 * its own); another -errno when it cannot listen (logged and closed).
 */
int activation_take(const config_t *cfg, int index);
/* Close the passed sockets no listener took, each logged. */
void activation_close_rest(void);

#endif
