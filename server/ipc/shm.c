/* shm.c: the shared state mapping, created in the master before any fork. */
#include "ipc/shm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/log.h"

static size_t shm_size(int nprocs)
{
    return sizeof(shm_t) + (size_t)nprocs * sizeof(shm_worker_t);
}

int shm_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc == 0)
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0)
        log_error("robust process-shared mutex: %s", strerror(rc));
    return -rc;
}

shm_t *shm_create(int worker_num, int task_worker_num, int nprocs)
{
    void *p = mmap(NULL, shm_size(nprocs), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_error("mmap(%zu bytes, MAP_SHARED): %s", shm_size(nprocs),
                  strerror(errno));
        return NULL;
    }
    shm_t *shm = p; /* mmap memory is zeroed */
    shm->worker_num = worker_num;
    shm->task_worker_num = task_worker_num;
    shm->nprocs = nprocs;
    atomic_store(&shm->start_time, (uint64_t)time(NULL));
    return shm;
}

void shm_destroy(shm_t *shm)
{
    if (shm != NULL)
        munmap(shm, shm_size(shm->nprocs));
}
