/* plugin.h: loading plugin shared objects and checking their ABI. */
#ifndef SWX_PLUGIN_LOADER_H
#define SWX_PLUGIN_LOADER_H

#include <jansson.h>
#include <stddef.h>

#include "core/config.h"
#include "swx_plugin.h"

typedef struct plugin {
    const config_plugin_t *cfg;
    void *handle;
    swx_plugin_t desc; /* the plugin's description, zero-extended */
    const char *name;  /* desc.name, or the config's name */
    json_t *config;    /* the entry's "config" object */
} plugin_t;

/* Check a description's magic, version and size against this server's ABI.
 * 0, or -1 with err saying what differs and what to do. */
int plugin_abi_check(const swx_plugin_t *desc, char *err, size_t errlen);

/* dlopen (RTLD_NOW | RTLD_LOCAL) and check; hand the plugin api. 0, or -1
 * with err naming the file and the reason (dlerror, ABI). */
int plugin_load(plugin_t *p, const config_plugin_t *cfg,
                const swx_api_t *api, char *err, size_t errlen);
void plugin_unload(plugin_t *p);

/* Load and check every plugin of cfg, then unload them all so that workers
 * map each file afresh. 0, or -1 with err. */
int plugin_check_all(const config_t *cfg, const swx_api_t *api, char *err,
                     size_t errlen);

/* The plugin's config members, for the swx_config_* functions. */
const char *plugin_config_string(const plugin_t *p, const char *key,
                                 const char *def);
long long plugin_config_int(const plugin_t *p, const char *key, long long def);
int plugin_config_bool(const plugin_t *p, const char *key, int def);

#endif
