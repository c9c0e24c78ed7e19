/* task.h: tasks and messages between processes (swx_task, swx_taskwait,
 * swx_finish, swx_send_message) and this process's mailbox. */
#ifndef SWX_TASK_H
#define SWX_TASK_H

#include "ipc/ipc.h"
#include "swx_plugin.h"

/* Watch this process's mailbox (child.inbox) in its loop. */
int task_init(void);
void task_free(void);
/* Re-read whether the mailbox is read (the child's state changed). */
void task_update(void);

/* Task workers: run on_task for a task message; the result, if any, goes
 * back with swx_finish. */
void task_run(const ipc_msg_t *m);
/* Task workers, task_ipc_mode 1: tasks arrive in the mailbox too. */
extern void (*task_on_task)(const ipc_msg_t *m);

int64_t task_send(const void *data, size_t len, int dst_task_worker);
int task_wait(const void *data, size_t len, int dst_task_worker,
              int timeout_ms, void **result, size_t *result_len);
int task_wait_multi(const swx_taskreq_t *tasks, int n, int timeout_ms,
                    swx_taskres_t *results);
int task_finish(const void *data, size_t len);
int task_send_message(int dst, const void *data, size_t len);

#endif
