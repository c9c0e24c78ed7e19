/* affinity.h: where and how the event loops run: open_cpu_affinity
 * (Swoole's setting: reactor threads and worker processes each pinned to
 * one CPU) and sched_policy (Linux's scheduling policy for them). */
#ifndef SWX_AFFINITY_H
#define SWX_AFFINITY_H

/* Pin the calling thread to the index-th CPU (modulo their number) of
 * those the process may run on. what names it in the log line on failure.
 * 0, or -errno (logged; the thread keeps running where it may). */
int affinity_pin(int index, const char *what);

/* Give the calling thread the scheduling policy of server.sched_policy
 * (enum config_sched_policy); SCHED_POLICY_OTHER leaves it as it is.
 * what names it in the log line on failure. 0, or -errno (logged; the
 * thread keeps the policy it had). */
int affinity_sched(int policy, const char *what);

#endif
