/* recycle.h: when a worker or task worker replaces itself (max_request
 * drawn within max_request_grace, reload_on_rss), and the resident memory
 * every process reports in the stats. */
#ifndef SWX_RECYCLE_H
#define SWX_RECYCLE_H

/* max plus a number drawn in [1, grace] (Swoole's rule); max itself when
 * either is 0. */
long recycle_draw(long max, long grace);

/* In a forked process (child_init): draw this process's max_request, open
 * /proc/self/statm, measure once and every second after. 0 or -errno
 * (logged); the server runs on without the figures. */
int recycle_init(void);
/* After each event a worker or task worker handled: done is its count of
 * requests (tasks). Past the drawn max_request or reload_on_rss, the
 * process stops taking work (child.stopping) and the cause is counted. */
void recycle_after(long done);
/* This process leaves the slot: its figure goes with it. */
void recycle_free(void);

#endif
