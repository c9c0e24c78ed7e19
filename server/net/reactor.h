/* reactor.h: the master's reactor threads, which own client connections. */
#ifndef SWX_REACTOR_H
#define SWX_REACTOR_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "proc/server.h"

/* A client's address as accept4 gives it (IPv4 or IPv6; a unix socket's
 * is asked of the socket). */
typedef union reactor_peer {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} reactor_peer_t;

/* Start reactor_num threads; 0 or -errno (logged). */
int reactor_start_all(server_t *srv);
/* Hand an accepted connection, and its client's address (peer_len 0 or
 * more than a reactor_peer_t: asked of the socket), and loop_fork_count()
 * as it was before accept4 made it, to a reactor thread (round robin). On
 * failure the fd is closed and -errno returned. */
int reactor_hand_over(int fd, int listener, const reactor_peer_t *peer,
                      socklen_t peer_len, unsigned forks);
/* Stop reading from clients (replies are still written): the first step of
 * a graceful stop, so that workers can drain what they were sent. */
void reactor_quiesce_all(void);
/* Ask every reactor to flush what it holds and stop; join them. */
void reactor_stop_all(void);

#endif
