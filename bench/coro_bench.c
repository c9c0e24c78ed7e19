/* coro_bench.c: the cost of the coroutine runtime in nanoseconds: create +
 * switch in + exit + switch out (from the pool, and with a fresh stack),
 * a yield/resume pair by id, and a park/wake pair (what every waiting
 * primitive pays), in CPU time of this process, so that other work on a
 * busy machine does not count. Run: ./build/bench/coro-bench [iterations]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coro/coro.h"
#include "event/loop.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void empty(void *arg)
{
    (void)arg;
}

static void yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        coro_yield();
}

static coro_t *parker_co;

static void parker(void *arg)
{
    long n = *(long *)arg;
    parker_co = coro_self();
    for (long i = 0; i < n; i++)
        coro_park(-1);
}

static void bench_create(long n)
{
    double t = now_ns();
    for (long i = 0; i < n; i++)
        coro_go(empty, NULL);
    printf("create + switch in + exit + switch out (pooled stack): %.1f ns\n",
           (now_ns() - t) / (double)n);
}

static void bench_fresh(long n)
{
    long once = 1;
    double t = now_ns();
    for (long i = 0; i < n; i++) /* each stays parked: no reuse */
        coro_go(yielder, &once);
    double per = (now_ns() - t) / (double)n;
    coro_cancel_all(loop_now() + 60000);
    printf("create + switch in + park + switch out (fresh mmap'd stack): "
           "%.1f ns\n", per);
}

static void bench_yield(long n)
{
    int64_t id = coro_go(yielder, &n);
    double t = now_ns();
    for (long i = 0; i < n; i++)
        coro_resume(id);
    printf("yield/resume pair by id (two switches): %.1f ns\n",
           (now_ns() - t) / (double)n);
}

static void bench_park(long n)
{
    coro_go(parker, &n);
    double t = now_ns();
    for (long i = 0; i < n; i++)
        coro_wake(parker_co, 0);
    printf("park/wake pair (two switches): %.1f ns\n",
           (now_ns() - t) / (double)n);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    loop_t *loop = loop_create();
    if (loop == NULL || n <= 0 ||
        coro_init(loop, CORO_STACK_DEFAULT, 10000000, 1) < 0)
        return 1;
    printf("%ld iterations, stacks of %d KiB\n", n, CORO_STACK_DEFAULT / 1024);
    bench_create(n);
    bench_yield(n);
    bench_park(n);
    bench_fresh(n / 100 > 0 ? n / 100 : 1);
    coro_free();
    loop_free(loop);
    return 0;
}
