/* watch.h: the callbacks a forked process runs, as the manager's watchdog
 * sees them (max_execution_time, request_slowlog_timeout): which one runs
 * and since when, in the process's shm_worker_t; a backtrace of itself
 * when asked (WATCH_SIGNAL); the slow log. */
#ifndef SWX_WATCH_H
#define SWX_WATCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "ipc/shm.h"
#include "plugin/plugin.h"

/* The manager asks a process for a backtrace of itself with this signal. */
#define WATCH_SIGNAL (SIGRTMIN + 2)

/* Whether cfg sets max_execution_time or request_slowlog_timeout anywhere
 * (the server or a listener). */
int watch_configured(const config_t *cfg);

/* This process (a worker, task worker or user process) publishes its
 * callbacks in sw and answers WATCH_SIGNAL; nothing when cfg sets no
 * limit. 0, or -errno (logged) when the signal cannot be handled. A slow
 * log that cannot be opened is logged, and the server log used. */
int watch_init(const config_t *cfg, shm_worker_t *sw);
/* Open request_slowlog_file again (SIGRTMIN, after logrotate). */
void watch_reopen(void);
void watch_free(void);

/*
 * A callback of plugin p begins or ends: name ("on_receive", "timer"),
 * the listener of its event (-1: none, the server's limits apply) and its
 * session (0: none). Nested calls (swx_taskwait inside a callback) count
 * as part of the outer one.
 */
void watch_begin(const plugin_t *p, const char *name, int listener,
                 uint64_t session);
/* What the running callback is about, for the log: "GET /path". */
void watch_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void watch_end(void);

/* " (session 5, GET /path)", " (session 5)", " (GET /x)" or "": what a
 * callback was about, for log lines. */
void watch_describe(uint64_t session, const char *detail, char *out,
                    size_t size);

#endif
