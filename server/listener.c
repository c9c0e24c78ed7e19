/* listener.c: binding the sockets the config's listeners ask for. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t listener_addr(const config_listener_t *l,
                               struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (l->type == LISTENER_TCP6) {
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

int listener_open(const config_t *cfg, int index, char *err, size_t errlen)
{
    const config_listener_t *l = &cfg->listeners[index];
    struct sockaddr_storage ss;
    socklen_t slen = listener_addr(l, &ss);
    const char *what = "socket";
    int one = 1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    what = "setsockopt(SO_REUSEADDR)";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    what = "setsockopt(SO_REUSEPORT)";
    if (cfg->enable_reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (ss.ss_family == AF_INET6) {
        what = "setsockopt(IPV6_V6ONLY)";
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
            goto fail;
    }
    what = "bind";
    if (bind(fd, (struct sockaddr *)&ss, slen) < 0)
        goto fail;
    what = "listen";
    if (listen(fd, cfg->backlog) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    snprintf(err, errlen, "%s: listeners[%d].port: %s %s%s%s:%d: %s",
             cfg->path, index, what, l->type == LISTENER_TCP6 ? "[" : "",
             l->host, l->type == LISTENER_TCP6 ? "]" : "", l->port,
             strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}
