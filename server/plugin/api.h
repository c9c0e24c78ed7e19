/* api.h: the function table plugins call (swx_* in the SDK), shared by every
 * process role; each role plugs in what it can do. */
#ifndef SWX_API_H
#define SWX_API_H

#include "plugin/plugin.h"
#include "swx_plugin.h"

/* What only a worker can do; NULL elsewhere (calls return -ENOTSUP). */
typedef struct api_ops {
    int (*send)(uint64_t session, const void *data, size_t len);
    int (*close)(uint64_t session);
    int (*sendto)(const swx_peer_t *peer, const void *data, size_t len);
    int (*bind)(uint64_t session, uint32_t uid);
    int (*listener)(void);
} api_ops_t;

extern const swx_api_t server_api;

/* This process's role: worker id (-1 in the master and the manager) and
 * worker-only operations. */
void api_set_role(int worker_id, const api_ops_t *ops);

/* Call a plugin's callback with it as the current plugin, so that
 * swx_config_* read its config. Expands to a statement. With
 * enable_coroutine the caller runs in a coroutine already (coro_api.h):
 * the event's dispatch is wrapped, not each call. */
#define api_call(p, cb, ...)                                                 \
    do {                                                                     \
        const plugin_t *api_p_ = (p);                                        \
        if (api_p_->desc.cb != NULL) {                                       \
            const plugin_t *api_prev_ = api_enter(api_p_);                   \
            const char *api_cb_prev_ = api_callback;                         \
            api_callback = #cb;                                              \
            api_p_->desc.cb(__VA_ARGS__);                                    \
            api_callback = api_cb_prev_;                                     \
            api_enter(api_prev_);                                            \
        }                                                                    \
    } while (0)

/* The name of the plugin callback running (api_call), for the report of a
 * coroutine's stack overflow; each coroutine has its own. */
extern const char *api_callback;

/* Make p the current plugin; returns the previous one. */
const plugin_t *api_enter(const plugin_t *p);
/* The plugin whose callback is running, or NULL. */
const plugin_t *api_current(void);

/* Load every plugin of cfg into plugins[] (calloc'd); 0, or -1 logged. */
int api_load_plugins(const config_t *cfg, plugin_t **plugins);
void api_unload_plugins(const config_t *cfg, plugin_t *plugins);
/* After api_load_plugins failed: the index of the plugin that could not be
 * loaded, or -1 (out of memory). */
int api_load_failed(void);

#endif
