/* shm.h: state shared by the master, the manager and every worker, mapped
 * before any fork. */
#ifndef SWX_SHM_H
#define SWX_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct shm_worker {
    _Atomic int pid;           /* 0 while not running */
    _Atomic int busy;          /* inside a callback (dispatch_mode 3) */
    _Atomic uint64_t requests; /* handled by this worker id, all lives */
    _Atomic uint64_t starts;   /* how many times it was started */
    _Atomic int lost;          /* its last process died with no other of
                                  its slot alive: requests it had taken are
                                  lost (see IPC_WORKER_LOST) */
    _Atomic int64_t backoff_until; /* ms (CLOCK_MONOTONIC) when the manager
                                  starts its replacement after a crash
                                  back-off; 0 when it is not backing off */
    _Atomic uint64_t rss;      /* bytes resident, as the process last
                                  measured itself; 0 while unknown */
    /* base mode */
    _Atomic int64_t connections; /* connections its processes own; what a
                                  crashed one held is taken off
                                  connection_num when it is reaped */
} shm_worker_t;

/* Why a process was replaced (counted in shm_t.restarts, shown in the
 * stats and /metrics). */
enum shm_restart_cause {
    RESTART_CRASH = 0,   /* died on its own: a signal or a bad exit */
    RESTART_MAX_REQUEST, /* recycled after max_request */
    RESTART_RSS,         /* recycled past reload_on_rss */
    RESTART_TIMEOUT,     /* killed past max_execution_time */
    RESTART_CAUSES
};

typedef struct shm {
    _Atomic uint64_t start_time;
    _Atomic int64_t connection_num;
    _Atomic uint64_t accept_count;
    _Atomic uint64_t close_count;
    _Atomic uint64_t dispatch_count;
    _Atomic int stopping;      /* the master is shutting down */
    _Atomic uint64_t reload_count;    /* reloads completed */
    _Atomic uint64_t worker_restarts; /* workers that died abnormally */
    _Atomic int64_t tasking_num;      /* tasks sent and not yet done */
    _Atomic uint64_t task_queue_full; /* swx_task refused: queue full */
    _Atomic uint64_t restarts[RESTART_CAUSES]; /* by enum shm_restart_cause */
    _Atomic uint64_t session_blocks; /* base mode: blocks of session
                                  sequence numbers handed out (net/conn.c) */
    int worker_num;
    int task_worker_num;
    int nprocs;                /* workers, task workers, user processes */
    shm_worker_t workers[];    /* [nprocs], by process id */
} shm_t;

/* A mutex for memory shared by processes: process-shared and robust, so
 * the next locker learns (EOWNERDEAD) when a holder died. 0 or -errno. */
int shm_mutex_init(pthread_mutex_t *m);

/* An anonymous shared mapping; NULL (logged) on failure. */
shm_t *shm_create(int worker_num, int task_worker_num, int nprocs);
void shm_destroy(shm_t *shm);

#endif
