/* access_log.h: the access log in the master (in base mode, in each
 * worker): lines made by the reactor threads (the worker's loop) into
 * per-thread buffers, written by one writer thread per process, so that a
 * slow disk never blocks a reactor or a worker; bounded, with lost lines
 * counted. */
#ifndef SWX_ACCESS_LOG_H
#define SWX_ACCESS_LOG_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "http/access_fmt.h"

/* Buffered per reactor thread and file: this many chunks of
 * ACCESS_LINE_MAX bytes (1 MiB) behind the disk before lines are dropped. */
#define ACCESS_LOG_CHUNKS 16
/* At the stop, the writer gets this many seconds to write what it holds. */
#define ACCESS_LOG_STOP_WAIT 10

/* Open every access_log of cfg (a listener's own, or the server's) and
 * compile the formats, for nthreads writing threads; start the writer.
 * 0 (also when no listener logs), or -1 logged with the file or format. */
int access_log_start(const config_t *cfg, int nthreads);
/* The same for threads numbered first .. first+nthreads-1 (a base-mode
 * worker: its id, 1), pid for $pid (the master's); the lines it drops are
 * also added to *dropped, if not NULL, as its writer finds them (shared
 * memory, for /metrics). */
int access_log_start_at(const config_t *cfg, int first, int nthreads,
                        int pid, _Atomic uint64_t *dropped);
/* Open and compile as access_log_start does, then close again: the
 * master's check in base mode, where the workers write. 0 or -1 logged. */
int access_log_check(const config_t *cfg);
/* The compiled format of listener's access log, or NULL when it has none. */
const access_fmt_t *access_log_format(int listener);
/* One line for listener from thread (0 .. nthreads-1): cap holds what
 * access_fmt_capture took from the request; r the response's side (its
 * clock and msec are filled in here). Never blocks on the disk. */
void access_log_line(int listener, int thread, const buf_t *cap,
                     access_resp_t *r);
/* Reopen every file (after logrotate moved it): the writer does it, after
 * writing what was made before. */
void access_log_reopen(void);
/* Write everything buffered, stop the writer, close the files. Call once
 * no thread makes lines any more. A writer stuck in write(2) for
 * ACCESS_LOG_STOP_WAIT seconds is left behind (logged) so the master can
 * exit. */
void access_log_stop(void);
/* The same, waiting ms at most for a stuck writer: a base-mode worker has
 * only what is left before the manager's SIGKILL at max_wait_time. */
void access_log_stop_within(long ms);
/* Lines dropped because the writer fell behind, since the start. */
uint64_t access_log_dropped(void);

/* The access_log and access_log_format settings of listener l (its own,
 * else the server's): path (NULL when off) and format. */
void access_log_settings(const config_t *cfg, int l, const char **path,
                         const char **format);

#endif
