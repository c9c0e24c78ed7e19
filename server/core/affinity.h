/* affinity.h: open_cpu_affinity: reactor threads and worker processes each
 * pinned to one CPU (Swoole's setting). */
#ifndef SWX_AFFINITY_H
#define SWX_AFFINITY_H

/* Pin the calling thread to the index-th CPU (modulo their number) of
 * those the process may run on. what names it in the log line on failure.
 * 0, or -errno (logged; the thread keeps running where it may). */
int affinity_pin(int index, const char *what);

#endif
