/* proc_cpu.h: CPU time of a process and all of its descendants, read from /proc. */
#ifndef SWX_BENCH_PROC_CPU_H
#define SWX_BENCH_PROC_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_CPU_MAX_TREE 256 /* processes of one tree followed */

typedef struct proc_cpu {
    uint64_t ticks;                  /* utime + stime of the tree, clock ticks */
    int npids;
    pid_t pids[PROC_CPU_MAX_TREE];   /* the tree's processes, sorted */
} proc_cpu_t;

/* Samples root and its descendants (by parent pid, so a child that changed
 * its process group still counts). Returns 0, or -1 with errno set: ESRCH
 * when root is not running, else why /proc could not be read. */
int proc_cpu_sample(pid_t root, proc_cpu_t *out);

/* Whether two samples saw the same processes: when one left in between,
 * its CPU time left the sum with it and a difference means nothing. */
bool proc_cpu_same_tree(const proc_cpu_t *a, const proc_cpu_t *b);

#endif
