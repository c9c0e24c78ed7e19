/* exec.h: run a program from a coroutine and collect its output and exit
 * status without blocking the loop (Swoole's Coroutine\System::exec). */
#ifndef SWX_CORO_EXEC_H
#define SWX_CORO_EXEC_H

#include <stddef.h>

/* coro_exec's flags: stderr goes into the output too (else it is the
 * process's own stderr, the server log's). */
#define CORO_EXEC_STDERR 1

typedef struct coro_exec_result {
    int code;      /* the exit status (0-255), or -1: a signal ended it */
    int signal;    /* the signal that ended it, else 0 */
    char *output;  /* malloc'd, NUL-terminated (free()); NULL: none */
    size_t len;
} coro_exec_result_t;

/*
 * Run argv (argv[0] looked up in PATH when it has no '/') with stdin from
 * /dev/null, stdout into a pipe read here (nothing captured when
 * max_output is 0: stdout goes to /dev/null), in a process group of its
 * own, with an empty signal mask and every signal's default action.
 * 0: it ended, out says how. -ETIMEDOUT: timeout_ms passed (-1: no
 * limit), its group was killed (SIGKILL) and reaped, out has the output
 * so far; -ECANCELED: the same when the process stops; -EMSGSIZE: it
 * wrote more than max_output bytes: the first max_output are in out and
 * the pipe was closed (the program usually dies of SIGPIPE), then it was
 * waited for; -ECHILD: someone else reaped it (a waitpid(-1) of the
 * plugin's); -EPERM (not in a coroutine), -EINVAL, -ENOMEM, and
 * posix_spawn's errors (-ENOENT: no such program, -EACCES...). out->output
 * is to be freed whatever the result.
 */
int coro_exec(const char *const argv[], int flags, size_t max_output,
              long timeout_ms, coro_exec_result_t *out);

#endif
