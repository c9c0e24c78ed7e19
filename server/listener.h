/* listener.h: binding the sockets the config's listeners ask for. */
#ifndef SWX_LISTENER_H
#define SWX_LISTENER_H

#include <stddef.h>

#include "config.h"

/*
 * Bind and listen for listeners[index]; a non-blocking fd, or -1 with err
 * naming the JSON path, the address and the reason (port in use, ...).
 */
int listener_open(const config_t *cfg, int index, char *err, size_t errlen);

#endif
