/* guard.c: a coroutine that overflows its stack touches the guard page
 * below it; this SIGSEGV handler, on its own alternate stack, logs which
 * coroutine and which plugin callback it was, then lets the signal kill
 * the process so that the manager replaces it. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "coro/coro.h"
#include "coro/guard.h"
#include "coro/stack.h"
#include "core/log.h"

/* Room for the handler even in a sanitizer build. */
#define GUARD_ALTSTACK (64 * 1024)

static struct sigaction old_segv, old_bus;
static char altstack[GUARD_ALTSTACK] __attribute__((aligned(16)));
static int installed;
static coro_namer_fn *namer;

void coro_set_namer(coro_namer_fn *fn)
{
    namer = fn;
}

/* Async-signal-safe formatting: append s, or n in decimal. */
static size_t put_s(char *b, size_t at, size_t cap, const char *s)
{
    while (s != NULL && *s != '\0' && at + 1 < cap)
        b[at++] = *s++;
    return at;
}

static size_t put_u(char *b, size_t at, size_t cap, unsigned long long n)
{
    char d[24];
    int i = 0;
    do
        d[i++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    while (i > 0 && at + 1 < cap)
        b[at++] = d[--i];
    return at;
}

static void guard_report(int64_t id, size_t size)
{
    const char *plugin = NULL, *cb = NULL;
    if (namer != NULL)
        namer(&plugin, &cb);
    char b[512];
    size_t n = put_s(b, 0, sizeof(b), "swx[");
    n = put_u(b, n, sizeof(b), (unsigned long long)getpid());
    n = put_s(b, n, sizeof(b), "] FATAL: coroutine ");
    n = put_u(b, n, sizeof(b), (unsigned long long)id);
    n = put_s(b, n, sizeof(b), " overflowed its stack of ");
    n = put_u(b, n, sizeof(b), size);
    n = put_s(b, n, sizeof(b), " bytes (coroutine_stack_size): guard page "
              "hit in plugin \"");
    n = put_s(b, n, sizeof(b), plugin != NULL ? plugin : "?");
    n = put_s(b, n, sizeof(b), "\", callback ");
    n = put_s(b, n, sizeof(b), cb != NULL ? cb : "?");
    n = put_s(b, n, sizeof(b), "; the process dies of SIGSEGV\n");
    int fd = log_fileno();
    if (write(fd >= 0 ? fd : 2, b, n) < 0 && fd != 2)
        (void)!write(2, b, n);
}

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int64_t id;
    size_t size;
    int saved = errno;
    if (coro_fault(si->si_addr, &id, &size))
        guard_report(id, size);
    /* Back to what was there before (the default: die, or a sanitizer's
     * handler); returning re-runs the faulting access under it. A signal
     * sent by kill or raise re-runs nothing: send it again, delivered
     * under the old disposition once this handler returns. */
    sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
    if (si->si_code <= 0)
        raise(sig);
    errno = saved;
}

int coro_guard_install(void)
{
    if (installed)
        return 0;
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    if (sigaltstack(&ss, NULL) < 0) {
        int err = errno;
        log_error("coroutines: sigaltstack: %s", strerror(err));
        return -err;
    }
    struct sigaction sa = {.sa_sigaction = guard_handler,
                           .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0 ||
        sigaction(SIGBUS, &sa, &old_bus) < 0) {
        int err = errno;
        log_error("coroutines: sigaction SIGSEGV: %s", strerror(err));
        return -err;
    }
    installed = 1;
    return 0;
}
