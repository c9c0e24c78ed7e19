/* listener.c: binding the sockets the config's listeners ask for. */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "net/sockfile.h"

socklen_t listener_addr(const config_listener_t *l,
                        struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (l->path != NULL) {
        struct sockaddr_un *u = (struct sockaddr_un *)ss;
        u->sun_family = AF_UNIX;
        snprintf(u->sun_path, sizeof(u->sun_path), "%s", l->path);
        return sizeof(*u);
    }
    if (l->type == LISTENER_TCP6 || l->type == LISTENER_UDP6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)l->port);
        inet_pton(AF_INET6, l->host, &a->sin6_addr);
        return sizeof(*a);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)l->port);
    inet_pton(AF_INET, l->host, &a->sin_addr);
    return sizeof(*a);
}

/* SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, TCP_DEFER_ACCEPT as they
 * apply; NULL or the option that failed. */
static const char *listener_options(const config_t *cfg,
                                    const config_listener_t *l, int fd,
                                    int family)
{
    int one = 1;
    if (family == AF_UNIX)
        return NULL;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return "setsockopt(SO_REUSEADDR)";
    if (cfg->enable_reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        return "setsockopt(SO_REUSEPORT)";
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        return "setsockopt(IPV6_V6ONLY)";
    int secs = cfg->tcp_defer_accept;
    if (secs > 0 && !config_listener_is_dgram(l->type) &&
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) < 0)
        return "setsockopt(TCP_DEFER_ACCEPT)";
    return NULL;
}

static void listener_fail(const config_t *cfg, int index, const char *what,
                          char *err, size_t errlen)
{
    const config_listener_t *l = &cfg->listeners[index];
    int e = errno;
    if (l->path != NULL)
        snprintf(err, errlen, "%s: listeners[%d].path: %s %s: %s", cfg->path,
                 index, what, l->path, strerror(e));
    else
        snprintf(err, errlen, "%s: listeners[%d].port: %s %s%s%s:%d: %s",
                 cfg->path, index, what, strchr(l->host, ':') ? "[" : "",
                 l->host, strchr(l->host, ':') ? "]" : "", l->port,
                 strerror(e));
}

/* A path that holds anything but a stale socket is refused, untouched. */
static int listener_claim(const config_t *cfg, int index, int type,
                          char *err, size_t errlen)
{
    char where[512];
    snprintf(where, sizeof(where), "%s: listeners[%d].path", cfg->path,
             index);
    return sockfile_claim(cfg->listeners[index].path, type, where, err,
                          errlen);
}

/* bind(2); a Unix socket's file is recorded in *file. */
static int listener_bind(int fd, const struct sockaddr_storage *ss,
                         socklen_t slen, sockfile_t *file, const char **what)
{
    *what = "bind";
    if (ss->ss_family == AF_UNIX) {
        int rc = sockfile_bind(fd, (const struct sockaddr_un *)ss, -1, file,
                               what);
        errno = -rc;
        return rc;
    }
    return bind(fd, (const struct sockaddr *)ss, slen);
}

int listener_open(const config_t *cfg, int index, sockfile_t *file,
                  char *err, size_t errlen)
{
    const config_listener_t *l = &cfg->listeners[index];
    int dgram = config_listener_is_dgram(l->type);
    int type = dgram ? SOCK_DGRAM : SOCK_STREAM;
    struct sockaddr_storage ss;
    socklen_t slen = listener_addr(l, &ss);
    const char *what = "socket";
    if (l->path != NULL && listener_claim(cfg, index, type, err, errlen) < 0)
        return -1;
    int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if ((what = listener_options(cfg, l, fd, ss.ss_family)) != NULL)
        goto fail;
    if (listener_bind(fd, &ss, slen, file, &what) < 0)
        goto fail;
    what = "listen";
    if (!dgram && listen(fd, cfg->backlog) < 0)
        goto fail;
    return fd;
fail:
    listener_fail(cfg, index, what, err, errlen);
    if (fd >= 0)
        close(fd);
    return -1;
}

int listener_accept(int fd, int listener, shm_t *shm, int max_conn,
                    struct sockaddr *peer, socklen_t *peer_len)
{
    int c = accept4(fd, peer, peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        int err = errno;
        if (err == EINTR || err == ECONNABORTED)
            return -EINTR;
        if (err != EAGAIN && !listener_accept_starved(-err))
            log_error("accept4 on listeners[%d]: %s", listener,
                      strerror(err));
        return -err;
    }
    atomic_fetch_add(&shm->accept_count, 1);
    if (atomic_fetch_add(&shm->connection_num, 1) >= max_conn) {
        atomic_fetch_sub(&shm->connection_num, 1);
        log_warn("max_conn (%d) reached; connection on listeners[%d] "
                 "refused", max_conn, listener);
        close(c);
        return -EINTR;
    }
    return c;
}
