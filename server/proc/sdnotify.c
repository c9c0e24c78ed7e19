/* sdnotify.c: the systemd notification protocol (sd_notify(3)) without
 * libsystemd: one SOCK_DGRAM datagram per message to $NOTIFY_SOCKET, a
 * path or an abstract socket ('@'). */
#include "proc/sdnotify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static struct {
    int fd;                  /* -1: no NOTIFY_SOCKET */
    struct sockaddr_un addr;
    socklen_t addrlen;
    uint64_t watchdog_usec;
    int warned;              /* a failed send was logged */
} sd = {.fd = -1};

/* "/run/systemd/notify" or "@name" (abstract: a leading NUL); 0 or
 * -EINVAL for anything else (a relative path, too long). */
static int sdnotify_parse_addr(const char *v, struct sockaddr_un *a,
                               socklen_t *len)
{
    size_t n = strlen(v);
    if ((v[0] != '/' && v[0] != '@') || n < 2 || n >= sizeof(a->sun_path))
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path, v, n);
    if (v[0] == '@')
        a->sun_path[0] = '\0';
    /* An abstract name is exactly n bytes; a path ends with its NUL. */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                       (v[0] == '/'));
    return 0;
}

/* WATCHDOG_USEC applies when WATCHDOG_PID is absent or names us. */
static uint64_t sdnotify_parse_watchdog(const char *usec, const char *pid)
{
    if (usec == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0' || v == 0 ||
        usec[0] == '-') {
        log_warn("WATCHDOG_USEC=%s: not a positive number; no watchdog pings",
                 usec);
        return 0;
    }
    if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    return v;
}

int sdnotify_init(void)
{
    const char *v = getenv("NOTIFY_SOCKET");
    int rc = 0;
    if (v != NULL && sdnotify_parse_addr(v, &sd.addr, &sd.addrlen) < 0) {
        log_warn("NOTIFY_SOCKET=%s: expected an absolute path or @name; "
                 "systemd is not notified", v);
        rc = -EINVAL;
    } else if (v != NULL) {
        sd.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sd.fd < 0) {
            rc = -errno;
            log_warn("socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET: %s; "
                     "systemd is not notified", strerror(-rc));
        }
    }
    if (sd.fd >= 0)
        sd.watchdog_usec = sdnotify_parse_watchdog(getenv("WATCHDOG_USEC"),
                                                   getenv("WATCHDOG_PID"));
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return rc;
}

int sdnotify_enabled(void)
{
    return sd.fd >= 0;
}

uint64_t sdnotify_watchdog_usec(void)
{
    return sd.watchdog_usec;
}

static int sdnotify_vsend(const char *fmt, va_list ap)
{
    if (sd.fd < 0)
        return 0;
    char msg[1024];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(msg))
        n = (int)sizeof(msg) - 1; /* a STATUS cut short is still a status */
    struct iovec iov = {msg, (size_t)n};
    struct msghdr mh = {.msg_name = &sd.addr, .msg_namelen = sd.addrlen,
                        .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t w;
    do {
        w = sendmsg(sd.fd, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w >= 0) {
        sd.warned = 0;
        return 0;
    }
    int err = errno;
    if (!sd.warned)
        log_warn("sendmsg(NOTIFY_SOCKET): %s; systemd was not notified",
                 strerror(err));
    sd.warned = 1;
    return -err;
}

int sdnotify_send(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sdnotify_vsend(fmt, ap);
    va_end(ap);
    return rc;
}

int sdnotify_reloading(const char *status)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t usec = (uint64_t)ts.tv_sec * 1000000u +
                    (uint64_t)ts.tv_nsec / 1000u;
    return sdnotify_send("RELOADING=1\nMONOTONIC_USEC=%" PRIu64
                         "\nSTATUS=%s", usec, status);
}
