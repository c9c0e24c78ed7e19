/* cosys_api.h: the SDK's files and programs calls (swx_co_file_*,
 * swx_co_exec: Swoole's Coroutine\System) over coro/fileio.c and
 * coro/exec.c. */
#ifndef SWX_COSYS_API_H
#define SWX_COSYS_API_H

#include "swx_plugin.h"

/* coro_exec with the SDK's result type. */
int api_co_exec(const char *const argv[], int flags, size_t max_output,
                long timeout_ms, swx_co_exec_result_t *out);

#endif
