/* listener.h: binding the sockets the config's listeners ask for. */
#ifndef SWX_LISTENER_H
#define SWX_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/config.h"
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

#endif
