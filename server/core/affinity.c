/* affinity.c: pinning a thread or process to one of its allowed CPUs. */
#include "core/affinity.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

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
