/* rawsys.h: the system calls of the hot paths (a connection's reads and
 * writes, a channel's frames, the event loop's wait), made without glibc's
 * wrappers. In a process with threads (the master, with its reactor
 * threads) each of those wrappers is a cancellation point: it enables and
 * disables asynchronous cancellation around the call, some 45
 * instructions each, 90 per echoed message in a reactor thread. The
 * server never cancels a thread. Each returns what the glibc call would
 * (-1 with errno set on failure). */
#ifndef SWX_RAWSYS_H
#define SWX_RAWSYS_H

#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline ssize_t raw_recv(int fd, void *buf, size_t len, int flags)
{
    return syscall(SYS_recvfrom, (long)fd, buf, len, (long)flags, NULL, NULL);
}

static inline ssize_t raw_send(int fd, const void *buf, size_t len, int flags)
{
    return syscall(SYS_sendto, (long)fd, buf, len, (long)flags, NULL, 0L);
}

static inline ssize_t raw_sendmsg(int fd, const struct msghdr *mh, int flags)
{
    return syscall(SYS_sendmsg, (long)fd, mh, (long)flags);
}

/* epoll_wait is epoll_pwait with no signal mask (aarch64 has only the
 * latter). */
static inline int raw_epoll_wait(int epfd, struct epoll_event *evs, int n,
                                 int timeout_ms)
{
    return (int)syscall(SYS_epoll_pwait, (long)epfd, evs, (long)n,
                        (long)timeout_ms, NULL, (long)(_NSIG / 8));
}

#endif
