/* loop.h: a small epoll event loop (one per reactor thread or process). */
#ifndef SWX_LOOP_H
#define SWX_LOOP_H

#define LOOP_READ 1
#define LOOP_WRITE 2
#define LOOP_ERROR 4 /* reported only: EPOLLERR or EPOLLHUP */
#define LOOP_RDHUP 8 /* the peer shut down writing (EPOLLRDHUP); watch it
                        alone to notice a client leave without reading */
#define LOOP_EXCLUSIVE 16 /* loop_add only (EPOLLEXCLUSIVE): of the loops
                        that watch one fd this way, an event wakes one that
                        waits, not all; loop_mod cannot keep it */

#include "event/clock.h"
#include "event/timer.h"

typedef struct loop loop_t;

/* events: LOOP_* bits that fired. */
typedef void loop_io_cb(loop_t *loop, int fd, int events, void *arg);

/* The new loop, or NULL (logged). The functions below return 0 or -errno
 * without logging: their callers know what the fd is for and say so. */
loop_t *loop_create(void);
void loop_free(loop_t *loop);
/* Watch fd for events (LOOP_READ|LOOP_WRITE|LOOP_RDHUP; 0 for none but
 * errors); 0 or -errno (-EEXIST: already watched). cb gets only the events
 * of this registration: none reported for an fd of the same number that
 * was removed earlier, even in the same batch. */
int loop_add(loop_t *loop, int fd, int events, loop_io_cb *cb, void *arg);
/* Change what fd is watched for; 0 or -errno (-ENOENT: not watched). */
int loop_mod(loop_t *loop, int fd, int events);
/* Stop watching fd (before closing it); 0 or -errno (-ENOENT: not
 * watched). Nothing more is delivered for it, even from the current
 * batch. */
int loop_del(loop_t *loop, int fd);
/* Stop watching fd that the caller closes next and that no other process
 * holds (made after loop_fork_count last changed): its close takes it out
 * of epoll, so no epoll_ctl is made here. As loop_del otherwise. */
int loop_forget(loop_t *loop, int fd);
/* How many times this process has forked (pthread_atfork, counted in the
 * parent): an fd made since the count last changed is in no child. */
unsigned loop_fork_count(void);
/* The number of events the current loop_run_once is dispatching. */
int loop_batch(const loop_t *loop);
/* Events fd is watched for, or -1 when it is not watched. */
int loop_events(const loop_t *loop, int fd);
/* The loop's timers, on the clock of loop_now() (event/clock.h):
 * loop_run_once waits no longer than the next one is due and runs the due
 * ones after the I/O events. */
timer_heap_t *loop_timers(loop_t *loop);

typedef void loop_defer_cb(void *arg);
/* Run cb(arg) once, at the end of the current (or next) loop_run_once.
 * 0 or -ENOMEM. */
int loop_defer(loop_t *loop, loop_defer_cb *cb, void *arg);
/* Runs the calls deferred so far now, as the end of a run would (for
 * code that drives an engine without running its loop: the fuzzers). */
void loop_run_deferred_now(loop_t *loop);

/* Run cb(arg) at the start of every loop_run_once, before it waits: for
 * output gathered during the last run (ipc batches). At most
 * LOOP_PREPARE_MAX per loop; 0 or -ENOSPC. */
#define LOOP_PREPARE_MAX 4
int loop_prepare(loop_t *loop, loop_defer_cb *cb, void *arg);

/* Wait up to timeout_ms (-1: forever) and dispatch; the number of events
 * handled, or -errno (EINTR is returned as 0). */
int loop_run_once(loop_t *loop, int timeout_ms);

#endif
