/* affinity.c: pinning a thread or process to one of its allowed CPUs, and
 * its scheduling policy. */
#include "core/affinity.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

int affinity_pin(int index, const char *what)
{
    cpu_set_t allowed, one;
    int rc = pthread_getaffinity_np(pthread_self(), sizeof(allowed),
                                    &allowed);
    int count = rc == 0 ? CPU_COUNT(&allowed) : 0;
    if (count > 0) {
        int want = index % count, cpu = 0;
        for (int seen = -1; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &allowed) && ++seen == want)
                break;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        rc = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
        if (rc == 0) {
            log_debug("%s pinned to CPU %d", what, cpu);
            return 0;
        }
    }
    log_warn("open_cpu_affinity: cannot pin %s: %s", what,
             strerror(rc != 0 ? rc : EINVAL));
    return -(rc != 0 ? rc : EINVAL);
}

int affinity_sched(int policy, const char *what)
{
    if (policy != SCHED_POLICY_BATCH)
        return 0;
    /* Linux applies it to the calling thread only: pid 0 is this thread,
     * and threads and processes started from it later inherit it. */
    struct sched_param sp = {.sched_priority = 0};
    if (sched_setscheduler(0, SCHED_BATCH, &sp) == 0) {
        log_debug("%s scheduled as SCHED_BATCH", what);
        return 0;
    }
    int err = errno;
    log_warn("sched_policy: cannot make %s SCHED_BATCH: %s", what,
             strerror(err));
    return -err;
}
