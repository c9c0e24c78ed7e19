/* shm.h: state shared by the master, the manager and every worker, mapped
 * before any fork. */
#ifndef SWX_SHM_H
#define SWX_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* How the last start of a process failed (shm_worker_t.start): the
 * plugin and the cause, for the log and the admin GET /health. */
enum shm_start_fail {
    START_FAIL_NONE = 0, /* it started, or never failed */
    START_FAIL_RETURNED, /* on_worker_start returned code (non-zero) */
    START_FAIL_SIGNAL,   /* killed by signal code inside on_worker_start */
    START_FAIL_EXIT,     /* exit(code) inside on_worker_start */
    START_FAIL_LOAD,     /* the plugin could not be loaded (dlopen, ABI) */
};

/* Written by the process while it starts (serving starts only, not a
 * reload's standby), and by the manager when it died inside a plugin's
 * on_worker_start (proc/startfail.c). */
typedef struct shm_start {
    _Atomic int running;     /* 1 + the plugin whose on_worker_start runs
                                now; 0 when none */
    _Atomic int fail;        /* enum shm_start_fail of its last start */
    _Atomic int plugin;      /* config index of the plugin that failed */
    _Atomic int code;        /* what it returned, its signal or status */
    _Atomic uint64_t failed; /* failed starts, all lives */
} shm_start_t;
/* Frames of a backtrace kept for the watchdog (shm_worker_t.trace). */
#define SHM_TRACE_MAX 48

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
    shm_start_t start;         /* which plugin failed its last start */

    /* max_execution_time and the slow log (proc/watch.c writes, the
     * manager's proc/watchdog.c reads): the callback running now. The
     * process makes cb_seq odd, writes the fields, publishes cb_start and
     * makes cb_seq even; a reader whose cb_seq did not change across its
     * copy has a whole record. */
    _Atomic uint32_t cb_seq;
    _Atomic int64_t cb_start;  /* ms (loop_now) it began; 0: none runs */
    _Atomic int cb_pid;        /* the process running it */
    _Atomic int cb_limit_ms;   /* its max_execution_time; 0: none */
    _Atomic int cb_slow_ms;    /* its request_slowlog_timeout; 0: none */
    _Atomic int cb_plugin;     /* config index of its plugin */
    _Atomic uint64_t cb_session; /* the session it is about, or 0 */
    char cb_name[24];          /* "on_receive", "timer", ... */
    char cb_detail[96];        /* "GET /path", "from 127.0.0.1:5353", "" */
    /* A backtrace the process took of itself on SIGNAL_TRACE: return
     * addresses, innermost first; trace_count counts the traces taken. */
    _Atomic uint32_t trace_count;
    _Atomic int trace_n;
    uintptr_t trace[SHM_TRACE_MAX];
    /* Set by the manager with lost when it killed the slot's process
     * past max_execution_time, for the replacement's IPC_WORKER_LOST. */
    _Atomic int stuck_killed;
    _Atomic uint64_t stuck_session;
    /* base mode */
    _Atomic int64_t connections; /* connections its processes own; what a
                                  crashed one held is taken off
                                  connection_num when it is reaped */
    _Atomic int64_t concurrency; /* its HTTP requests counted in
                                  shm_t.concurrency (max_concurrency); a
                                  crashed process's are taken off too */
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
    _Atomic int64_t draining_until; /* ms (CLOCK_MONOTONIC) when
                                  shutdown_delay ends; 0 when not draining */
    /* max_concurrency: HTTP requests between their dispatch to a worker
     * and the end of their response, and those refused with 503 */
    _Atomic int64_t concurrency;
    _Atomic uint64_t concurrency_rejected;
    /* TLS (net/tls.c): handshakes by outcome, and the secret every
     * listener's session ticket keys are derived from (drawn before any
     * fork, so every thread and process encrypts and decrypts alike) */
    _Atomic uint64_t tls_handshakes;
    _Atomic uint64_t tls_handshakes_failed;
    unsigned char tls_ticket_secret[32];
    _Atomic int tls_ticket_secret_set;
    struct shm_http *http;     /* HTTP figures for /metrics (shm_http.h):
                                  a mapping of their own, made before any
                                  fork, so the same address everywhere */
    /* Clients of processes killed past max_execution_time: HTTP requests
     * answered 504 (or closed, their response begun), stream and
     * WebSocket connections closed. */
    _Atomic uint64_t stuck_clients;
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
