/* cosys_api.c: the SDK's files and programs calls (Swoole's
 * Coroutine\System) where the server's types differ from the SDK's; the
 * file calls go into the table as they are (plugin/api.c). */
#include "plugin/cosys_api.h"

#include "coro/exec.h"
#include "coro/fileio.h"

_Static_assert(SWX_CO_FILE_APPEND == CORO_FILE_APPEND &&
               SWX_CO_EXEC_STDERR == CORO_EXEC_STDERR,
               "the SDK's flags are the server's");

int api_co_exec(const char *const argv[], int flags, size_t max_output,
                long timeout_ms, swx_co_exec_result_t *out)
{
    if (out == NULL)
        return coro_exec(argv, flags, max_output, timeout_ms, NULL);
    coro_exec_result_t r;
    int rc = coro_exec(argv, flags, max_output, timeout_ms, &r);
    *out = (swx_co_exec_result_t){r.code, r.signal, r.output, r.len};
    return rc;
}
