/* plugin_io.h: a plugin's timers, file descriptors and deferred calls in its
 * process's event loop (swx_timer_*, swx_event_*). */
#ifndef SWX_PLUGIN_IO_H
#define SWX_PLUGIN_IO_H

#include "event/loop.h"
#include "swx_plugin.h"

/* Attach to this process's loop (worker, task worker, user process). */
void pio_init(loop_t *loop);
/* Drop every timer and watched fd (the fds are not closed). */
void pio_free(void);
/* Timers and fds a plugin still has in the loop. */
int pio_active(void);

int64_t pio_timer_add(long ms, int repeat, swx_timer_cb *cb, void *arg);
int pio_timer_clear(int64_t id);
int pio_event_add(int fd, int events, swx_event_cb *cb, void *arg);
int pio_event_set(int fd, int events);
int pio_event_del(int fd);
int pio_defer(swx_defer_cb *cb, void *arg);

#endif
