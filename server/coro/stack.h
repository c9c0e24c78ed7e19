/* stack.h: coroutine stacks: mmap'd, a PROT_NONE guard page below each, and
 * the first frame that boots a coroutine (the switch is in switch_*.S). */
#ifndef SWX_CORO_STACK_H
#define SWX_CORO_STACK_H

#include <stddef.h>

typedef struct coro_stack {
    char *map;      /* the mapping: guard page, then the stack */
    size_t map_len;
    char *lo;       /* the usable stack: [lo, lo + size) */
    size_t size;
} coro_stack_t;

/* Save the running context's stack pointer in *save_sp and continue on
 * load_sp (switch_<arch>.S). */
void coro_switch(void **save_sp, void *load_sp);

size_t coro_page_size(void);
/* Map a stack of size bytes (a page multiple) above a guard page. 0 or
 * -errno (logged). */
int coro_stack_new(coro_stack_t *s, size_t size);
void coro_stack_del(coro_stack_t *s);
/* The stack pointer whose first coro_switch enters coro_entry() on s. */
void *coro_stack_frame(const coro_stack_t *s);
/* Whether addr is in s's guard page. */
static inline int coro_stack_guard_hit(const coro_stack_t *s, const void *addr)
{
    const char *a = addr;
    return s->map != NULL && a >= s->map && a < s->lo;
}

/* Report an overflow of the running coroutine's stack into its guard page
 * (SIGSEGV on an alternate stack), then let the process die of the
 * signal so that its manager replaces it. 0 or -errno (logged). */
int coro_guard_install(void);

#endif
