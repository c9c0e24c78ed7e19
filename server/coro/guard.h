/* guard.h: what the guard page's SIGSEGV handler (guard.c) asks of the
 * scheduler and of the plugin layer, with async-signal-safe reads only. */
#ifndef SWX_CORO_GUARD_H
#define SWX_CORO_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Whether addr is in the running coroutine's guard page; then its id and
 * stack size (coro.c). */
int coro_fault(const void *addr, int64_t *id, size_t *stack_size);

/* Names the running plugin and callback for the report (plugin/api.c);
 * must only read memory. */
typedef void coro_namer_fn(const char **plugin, const char **callback);
void coro_set_namer(coro_namer_fn *fn);

#endif
