/* aio_policy.c: the pool's growth and shrink decisions (aio_policy.h). */
#include "coro/aio_policy.h"

#define NS_PER_S 1000000000LL

/* Seconds to nanoseconds; anything not above 0 (or NaN) is 0, anything
 * past a day a day (the config allows no more). */
static int64_t seconds_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 86400)
        s = 86400;
    int64_t ns = (int64_t)(s * (double)NS_PER_S);
    return ns > 0 ? ns : 1; /* a tiny time is not "off" */
}

aio_limits_t aio_limits(int core, int max, int max_cap, double max_wait_s,
                        double max_idle_s)
{
    aio_limits_t l;
    l.max = max < 1 ? 1 : max > max_cap ? max_cap : max;
    l.core = core < 1 ? 1 : core > l.max ? l.max : core;
    l.max_wait_ns = seconds_ns(max_wait_s);
    l.max_idle_ns = seconds_ns(max_idle_s);
    return l;
}

int aio_should_grow(const aio_limits_t *l, int queued, int idle,
                    int nthreads, int64_t oldest_wait_ns)
{
    if (nthreads >= l->max || queued == 0)
        return 0;
    /* Swoole's two reasons: more jobs than idle threads to take them, or
     * the oldest job waited too long although some thread looked idle
     * (woken and not yet running: a busy CPU). */
    if (queued > idle)
        return 1;
    return l->max_wait_ns > 0 && oldest_wait_ns > l->max_wait_ns;
}

int aio_should_retire(const aio_limits_t *l, int queued, int nthreads)
{
    return l->max_idle_ns > 0 && queued == 0 && nthreads > l->core;
}

struct timespec aio_timespec_after(const struct timespec *now,
                                   int64_t after_ns)
{
    struct timespec at = *now;
    at.tv_sec += (time_t)(after_ns / NS_PER_S);
    at.tv_nsec += (long)(after_ns % NS_PER_S);
    if (at.tv_nsec >= NS_PER_S) {
        at.tv_sec++;
        at.tv_nsec -= NS_PER_S;
    }
    return at;
}
