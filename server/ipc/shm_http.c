/* shm_http.c: the HTTP figures' shared mapping and their counting. */
#include "ipc/shm_http.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log.h"

static const int64_t shm_http_bounds[SHM_HTTP_BOUNDS] = SHM_HTTP_BOUNDS_US;

static size_t shm_http_size(int nlisteners, int nthreads)
{
    return sizeof(shm_http_t) +
           (size_t)nlisteners * (size_t)nthreads * sizeof(shm_http_row_t);
}

shm_http_t *shm_http_create(int nlisteners, int nthreads)
{
    size_t size = shm_http_size(nlisteners, nthreads);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_error("mmap(%zu bytes, MAP_SHARED): %s", size, strerror(errno));
        return NULL;
    }
    shm_http_t *m = p; /* zeroed */
    m->nlisteners = nlisteners;
    m->nthreads = nthreads;
    return m;
}

void shm_http_destroy(shm_http_t *m)
{
    if (m != NULL)
        munmap(m, shm_http_size(m->nlisteners, m->nthreads));
}

static void shm_http_add(_Atomic uint64_t *v, uint64_t n)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void shm_http_count(shm_http_t *m, int listener, int thread, int status,
                    int64_t us)
{
    if (m == NULL || listener < 0 || listener >= m->nlisteners ||
        thread < 0 || thread >= m->nthreads)
        return;
    shm_http_row_t *r = &m->rows[listener * m->nthreads + thread];
    if (status >= 100 && status < 600)
        shm_http_add(&r->status[status / 100 - 1], 1);
    if (us < 0)
        us = 0;
    int b = 0;
    while (b < SHM_HTTP_BOUNDS && us > shm_http_bounds[b])
        b++;
    shm_http_add(&r->bucket[b], 1);
    shm_http_add(&r->sum_us, (uint64_t)us);
    shm_http_add(&r->count, 1);
}
