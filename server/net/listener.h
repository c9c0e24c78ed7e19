/* listener.h: binding the sockets the config's listeners ask for. */
#ifndef SWX_LISTENER_H
#define SWX_LISTENER_H

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/config.h"
#include "ipc/shm.h"
#include "net/sockfile.h"

/*
 * Bind and listen for listeners[index]; a non-blocking fd, or -1 with err
 * naming the JSON path, the address and the reason (port in use, ...). A
 * Unix socket path must be free or hold a stale socket (see sockfile.h);
 * the file bound is recorded in *file, for sockfile_remove at stop.
 */
int listener_open(const config_t *cfg, int index, sockfile_t *file,
                  char *err, size_t errlen);

/* The address a listener binds (inet: host and port; unix: the path), for
 * bind(2) and for recognising a socket systemd passed (activation.c). */
socklen_t listener_addr(const config_listener_t *l,
                        struct sockaddr_storage *ss);

/*
 * One connection from a stream listener's queue (accept4: non-blocking,
 * close-on-exec), counted in shm->accept_count and admitted against
 * max_conn (shm->connection_num, which the caller gives back if it cannot
 * keep the connection). The fd, with peer and *peer_len filled; or
 * -EAGAIN when none waits; -EINTR when none was taken but another may be
 * (an interrupted call, a connection its client aborted, or one refused
 * at max_conn: closed, with a warning); -EMFILE, -ENFILE, -ENOBUFS or
 * -ENOMEM when out of fds or memory (listener_accept_starved: the caller
 * stops accepting for a while, and logs it); another -errno, logged.
 */
int listener_accept(int fd, int listener, shm_t *shm, int max_conn,
                    struct sockaddr *peer, socklen_t *peer_len);

static inline int listener_accept_starved(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

#endif
