/* wait.h: what a coroutine waits for on its process's loop: time, and an fd
 * becoming readable or writable (the primitive that adapts any non-blocking
 * library). */
#ifndef SWX_CORO_WAIT_H
#define SWX_CORO_WAIT_H

#include "event/loop.h"

/* Sleep ms milliseconds. 0, -ECANCELED, -EPERM (not in a coroutine),
 * -EINVAL (ms < 0). */
int coro_sleep(long ms);

/*
 * Wait until fd is ready for events (LOOP_READ and/or LOOP_WRITE) or
 * timeout_ms passes (-1: no limit). One coroutine may wait to read and
 * another to write the same fd. The events that fired (LOOP_READ,
 * LOOP_WRITE, LOOP_ERROR for an error or hang-up), or -ETIMEDOUT,
 * -ECANCELED, -EPERM (not in a coroutine), -EINVAL, -EBUSY (another
 * coroutine waits for the same event on fd), -EEXIST (fd is watched by
 * something else in this process's loop, e.g. swx_event_add).
 */
int coro_wait_fd(int fd, int events, long timeout_ms);

/* Set the loop the waits use (coro_init's). */
void coro_wait_init(loop_t *loop);
/* Free the fd table (at exit). */
void coro_wait_free(void);

#endif
