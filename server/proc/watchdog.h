/* watchdog.h: the manager's watch over the callbacks its processes run:
 * one past request_slowlog_timeout is asked for a backtrace (for its slow
 * log entry); one past max_execution_time is logged with its backtrace and
 * killed, and its replacement told to answer its clients. */
#ifndef SWX_WATCHDOG_H
#define SWX_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event/loop.h"
#include "proc/server.h"

/* What the manager tells the watchdog about its processes. */
typedef struct watchdog_ops {
    /* The pid serving slot id, 0 when none. */
    pid_t (*pid_of)(int id);
    /* "worker 3", "task worker 0", "process ticker 1". */
    const char *(*role)(int id, char *buf, size_t size);
} watchdog_ops_t;

/* Check every process on a timer of loop while the config sets a limit.
 * 0, or -errno (logged). */
int watchdog_start(server_t *srv, loop_t *loop, const watchdog_ops_t *ops);
/* In a forked child: forget the manager's state. */
void watchdog_free(void);

/* Process pid of slot id was reaped: 1 when the watchdog killed it past
 * max_execution_time, with the session of the callback it was stuck in
 * (or 0) in *session; else 0. */
int watchdog_reaped(int id, pid_t pid, uint64_t *session);

/* Pure: the snapshot of a published callback (shm_worker_t's cb_*
 * block), or 0 while none runs or the record is being written. */
typedef struct watchdog_cb {
    int64_t start;
    pid_t pid;
    int limit_ms;
    int slow_ms;
    int plugin;
    uint64_t session;
    char name[24];
    char detail[96];
} watchdog_cb_t;

int watchdog_read(const shm_worker_t *sw, watchdog_cb_t *out);

#endif
