/* reactor.h: the master's reactor threads, which own client connections. */
#ifndef SWX_REACTOR_H
#define SWX_REACTOR_H

#include "proc/server.h"

/* Start reactor_num threads; 0 or -errno (logged). */
int reactor_start_all(server_t *srv);
/* Hand an accepted connection to a reactor thread (round robin). On
 * failure the fd is closed and -errno returned. */
int reactor_hand_over(int fd, int listener);
/* Stop reading from clients (replies are still written): the first step of
 * a graceful stop, so that workers can drain what they were sent. */
void reactor_quiesce_all(void);
/* Ask every reactor to flush what it holds and stop; join them. */
void reactor_stop_all(void);

#endif
