/* clock.h: loop_now(), the one monotonic clock of the server: event loops,
 * their timers, deadlines, and the log's rate limit all read it. */
#ifndef SWX_CLOCK_H
#define SWX_CLOCK_H

#include <stdint.h>
#include <time.h>

/*
 * Monotonic milliseconds (CLOCK_MONOTONIC, truncated): never jumps with
 * the wall clock, comparable across the processes of one boot (the
 * manager stores back-off times the reactors read). It includes nothing
 * of the server, so core/log.c can use it without depending on the loop.
 */
static inline int64_t loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
