/* stack.c: coroutine stacks (mmap with a guard page) and their first frame
 * for each architecture's coro_switch. */
#include "coro/stack.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"

/* The first instructions of every coroutine (switch_<arch>.S). */
void coro_boot(void);

size_t coro_page_size(void)
{
    static size_t page;
    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

int coro_stack_new(coro_stack_t *s, size_t size)
{
    size_t page = coro_page_size();
    /* MAP_NORESERVE: only the pages a coroutine touches cost memory. */
    char *map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (map == MAP_FAILED) {
        int err = errno;
        log_error("coroutine stack: mmap %zu bytes: %s", size + page,
                  strerror(err));
        return -err;
    }
    if (mprotect(map, page, PROT_NONE) < 0) {
        int err = errno;
        log_error("coroutine stack: mprotect guard page: %s", strerror(err));
        munmap(map, size + page);
        return -err;
    }
    *s = (coro_stack_t){map, size + page, map + page, size};
    return 0;
}

void coro_stack_del(coro_stack_t *s)
{
    if (s->map != NULL && munmap(s->map, s->map_len) < 0)
        log_error("coroutine stack: munmap: %s", strerror(errno));
    *s = (coro_stack_t){0};
}

#if defined(__x86_64__)
/* Popped by coro_switch: mxcsr and x87 control word, r15 r14 r13 r12 rbx
 * rbp, then the return address; the ret leaves rsp 16-byte aligned. */
void *coro_stack_frame(const coro_stack_t *s)
{
    uintptr_t top = ((uintptr_t)(s->lo + s->size)) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 80);
    memset(sp, 0, 80);
    uint32_t mxcsr = 0x1f80;     /* the ABI's initial SSE state */
    uint16_t fpucw = 0x037f;     /* and x87's */
    memcpy(&sp[0], &mxcsr, 4);
    memcpy((char *)&sp[0] + 4, &fpucw, 2);
    sp[7] = (uint64_t)(uintptr_t)coro_boot;
    return sp;
}
#elif defined(__aarch64__)
/* Loaded by coro_switch: x19-x28, x29 (0) and x30 (coro_boot), d8-d15. */
void *coro_stack_frame(const coro_stack_t *s)
{
    uintptr_t top = ((uintptr_t)(s->lo + s->size)) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 160);
    memset(sp, 0, 160);
    sp[11] = (uint64_t)(uintptr_t)coro_boot;
    return sp;
}
#else
#error "coroutines: no context switch for this architecture (x86-64, aarch64)"
#endif
