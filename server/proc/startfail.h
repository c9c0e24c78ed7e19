/* startfail.h: which plugin kept a process from starting, and how, kept in
 * shared memory per process (shm_worker_t.start) for the log and /health. */
#ifndef SWX_STARTFAIL_H
#define SWX_STARTFAIL_H

#include <stddef.h>

#include "proc/server.h"

/* In the starting process; shm NULL (a reload's standby) does nothing.
 * enter: plugin's on_worker_start is about to run; returned: it returned
 * rc (non-zero); load: plugin (-1 unknown) could not be loaded; started:
 * every plugin started, the record is cleared. */
void startfail_enter(shm_t *shm, int id, int plugin);
void startfail_returned(shm_t *shm, int id, int plugin, int rc);
void startfail_load(shm_t *shm, int id, int plugin);
void startfail_started(shm_t *shm, int id);

/* Manager: the serving process of slot id ended with status. One that
 * died inside a plugin's on_worker_start is recorded and logged, naming
 * the plugin, its file and the signal or exit status. */
void startfail_reaped(const server_t *srv, int id, int status);

/* "worker 3", "task worker 0", "process ticker 1", as in ps. */
const char *startfail_role(const server_t *srv, int id, char *buf,
                           size_t size);

/* How slot id's last start failed ("on_worker_start returned 1"), and
 * *plugin its config index (-1 unknown); 0 when it did not fail. */
int startfail_describe(const server_t *srv, int id, int *plugin, char *buf,
                       size_t size);

#endif
