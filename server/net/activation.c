/* activation.c: systemd socket activation (sd_listen_fds(3) semantics,
 * in-tree): the sockets passed from fd 3 on, matched to the config's
 * listeners by type and address. */
#include "net/activation.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listener.h"

/* More would be a mistake in the unit; it also bounds the table. */
#define ACTIVATION_MAX 256

static struct {
    int n;                      /* fds ACTIVATION_FD_START .. + n - 1 */
    int taken[ACTIVATION_MAX];  /* 1: a listener took it, or it is closed */
    char names[ACTIVATION_MAX][64]; /* LISTEN_FDNAMES, "" when none */
} act;

/* A positive decimal that fits an int, or -1. */
static long activation_number(const char *v)
{
    char *end;
    errno = 0;
    long n = v != NULL ? strtol(v, &end, 10) : -1;
    if (v == NULL || errno != 0 || end == v || *end != '\0' || n < 0 ||
        n > INT_MAX)
        return -1;
    return n;
}

/* LISTEN_FDNAMES: colon-separated, one per fd; only for log lines. */
static void activation_names(const char *v)
{
    for (int i = 0; v != NULL && i < act.n; i++) {
        size_t len = strcspn(v, ":");
        snprintf(act.names[i], sizeof(act.names[i]), "%.*s", (int)len, v);
        v = v[len] == ':' ? v + len + 1 : NULL;
    }
}

/* Close-on-exec, so no program a plugin runs inherits a listener, and
 * non-blocking, as the master's accept loop needs. */
static int activation_prepare(int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || fl < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

int activation_init(void)
{
    long pid = activation_number(getenv("LISTEN_PID"));
    long n = activation_number(getenv("LISTEN_FDS"));
    const char *names = getenv("LISTEN_FDNAMES");
    act.n = 0;
    if (pid == (long)getpid() && n > 0) {
        act.n = n > ACTIVATION_MAX ? ACTIVATION_MAX : (int)n;
        if (n > ACTIVATION_MAX)
            log_warn("LISTEN_FDS=%ld: only the first %d are used", n,
                     ACTIVATION_MAX);
        activation_names(names);
    } else if (getenv("LISTEN_FDS") != NULL && pid != (long)getpid()) {
        log_info("LISTEN_FDS is set for pid %s, not this process; ignored",
                 getenv("LISTEN_PID") ? getenv("LISTEN_PID") : "(none)");
    }
    for (int i = 0; i < act.n; i++) {
        act.taken[i] = 0;
        if (activation_prepare(ACTIVATION_FD_START + i) < 0) {
            log_warn("socket activation: fd %d is not a socket; ignored",
                     ACTIVATION_FD_START + i);
            act.taken[i] = 1;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return act.n;
}

/* Same family and address: inet address and port, or the Unix path. */
static int activation_same_addr(const struct sockaddr_storage *a,
                                const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) ==
                   0;
    }
    if (a->ss_family == AF_UNIX) {
        const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;
        /* An unnamed or abstract socket has no path to compare. */
        return x->sun_path[0] != '\0' &&
               strncmp(x->sun_path, y->sun_path, sizeof(x->sun_path)) == 0;
    }
    return 0;
}

static int activation_matches(int fd, int type,
                              const struct sockaddr_storage *want)
{
    int t = 0;
    socklen_t tl = sizeof(t);
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    memset(&got, 0, sizeof(got));
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) < 0 || t != type ||
        getsockname(fd, (struct sockaddr *)&got, &gl) < 0)
        return 0;
    return activation_same_addr(&got, want);
}

/* "fd 3 (\"web\")" or "fd 3". */
static const char *activation_label(int i, char *buf, size_t size)
{
    if (act.names[i][0] != '\0')
        snprintf(buf, size, "fd %d (\"%s\")", ACTIVATION_FD_START + i,
                 act.names[i]);
    else
        snprintf(buf, size, "fd %d", ACTIVATION_FD_START + i);
    return buf;
}

/* A stream socket systemd passed listens already (ListenStream=); one
 * that does not is made to, with the config's backlog. */
static int activation_listen(const config_t *cfg, int fd, int type)
{
    int on = 0;
    socklen_t len = sizeof(on);
    if (type != SOCK_STREAM)
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
        return 0;
    return listen(fd, cfg->backlog) < 0 ? -errno : 0;
}

int activation_take(const config_t *cfg, int index)
{
    const config_listener_t *l = &cfg->listeners[index];
    int type = config_listener_is_dgram(l->type) ? SOCK_DGRAM : SOCK_STREAM;
    struct sockaddr_storage want;
    listener_addr(l, &want);
    for (int i = 0; i < act.n; i++) {
        int fd = ACTIVATION_FD_START + i;
        if (act.taken[i] || !activation_matches(fd, type, &want))
            continue;
        act.taken[i] = 1;
        char label[96];
        activation_label(i, label, sizeof(label));
        int rc = activation_listen(cfg, fd, type);
        if (rc < 0) {
            log_error("listeners[%d]: listen on the socket systemd passed "
                      "(%s): %s; closed", index, label, strerror(-rc));
            close(fd);
            return rc;
        }
        log_info("listeners[%d]: the socket systemd passed (%s)", index,
                 label);
        return fd;
    }
    return -ENOENT;
}

void activation_close_rest(void)
{
    for (int i = 0; i < act.n; i++) {
        if (act.taken[i])
            continue;
        char label[96];
        log_warn("socket activation: %s matches no listener in the config "
                 "(type, address and port or path); closed",
                 activation_label(i, label, sizeof(label)));
        close(ACTIVATION_FD_START + i);
        act.taken[i] = 1;
    }
}
