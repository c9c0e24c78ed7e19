/* dgram.c: reading a datagram listener: a batch of recvfrom calls per
 * wake-up, each datagram with its sender's address described for the
 * plugin (swx_peer_t), handed to the caller's sink. */
#include "net/dgram.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/log.h"

#define DGRAM_BATCH 64

/* p->addr and p->port from the raw address recvfrom gave. */
static void dgram_peer_describe(swx_peer_t *p)
{
    const struct sockaddr *sa = (const struct sockaddr *)p->raw;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, p->addr, sizeof(p->addr));
        p->port = ntohs(a->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, p->addr, sizeof(p->addr));
        p->port = ntohs(a->sin_port);
    } else if (p->raw_len > offsetof(struct sockaddr_un, sun_path)) {
        const struct sockaddr_un *u = (const struct sockaddr_un *)sa;
        snprintf(p->addr, sizeof(p->addr), "%.*s",
                 (int)(p->raw_len - offsetof(struct sockaddr_un, sun_path)),
                 u->sun_path);
    }
}

void dgram_read(int fd, int listener, char *buf, dgram_cb *cb, void *arg)
{
    swx_peer_t *p = (swx_peer_t *)buf;
    for (int i = 0; i < DGRAM_BATCH; i++) {
        memset(p, 0, sizeof(*p));
        socklen_t alen = sizeof(p->raw);
        ssize_t n = recvfrom(fd, buf + sizeof(*p), DGRAM_MAX, MSG_TRUNC,
                             (struct sockaddr *)p->raw, &alen);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_error("recvfrom on listeners[%d]: %s", listener,
                          strerror(errno));
            return;
        }
        p->listener = listener;
        p->raw_len = alen;
        if (n > DGRAM_MAX) {
            log_warn("listeners[%d]: a datagram of %zd bytes is over %d; "
                     "dropped", listener, n, DGRAM_MAX);
            continue;
        }
        dgram_peer_describe(p);
        cb(arg, p, (size_t)n);
    }
}
