/* shm_http.h: the HTTP figures for /metrics: requests by listener and
 * status class, and a request duration histogram, in a shared mapping of
 * their own (shm_t.http). Each reactor thread (in base mode, each worker
 * slot) has its own row per listener, which only it writes, so a count
 * costs no locked instruction and no cache line moves between threads; a
 * reader sums the rows. */
#ifndef SWX_SHM_HTTP_H
#define SWX_SHM_HTTP_H

#include <stdatomic.h>
#include <stdint.h>

/* Upper bounds of the duration buckets, microseconds (Prometheus's
 * defaults); one more bucket, +Inf, follows them. */
#define SHM_HTTP_BOUNDS 11
#define SHM_HTTP_BOUNDS_US                                                  \
    {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,  \
     5000000, 10000000}

typedef struct shm_http_row {
    _Atomic uint64_t status[5];   /* responses by class: 1xx .. 5xx */
    _Atomic uint64_t bucket[SHM_HTTP_BOUNDS + 1]; /* by duration, each its
                                     own (not cumulative); the last +Inf */
    _Atomic uint64_t sum_us;      /* durations, microseconds */
    _Atomic uint64_t count;       /* durations counted */
} __attribute__((aligned(64))) shm_http_row_t;

typedef struct shm_http {
    int nlisteners;
    int nthreads;                 /* reactor threads, or base-mode workers */
    _Atomic uint64_t access_log_dropped; /* base mode: the workers' */
    shm_http_row_t rows[];        /* [listener * nthreads + thread] */
} shm_http_t;

/* A zeroed shared mapping for them, before any fork; NULL (logged). */
shm_http_t *shm_http_create(int nlisteners, int nthreads);
void shm_http_destroy(shm_http_t *m);

/* A response of listener, made by thread, with its status and the
 * request's duration (first byte in to last byte out, microseconds). The
 * row has one writer, so a relaxed load and store are the increment. */
void shm_http_count(shm_http_t *m, int listener, int thread, int status,
                    int64_t us);

#endif
