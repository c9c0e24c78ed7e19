/* plugin.c: loading plugin shared objects and checking their ABI. */
#include "plugin/plugin.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* The size of swx_plugin_t at each minor of ABI major 1. */
static const uint32_t plugin_size_by_minor[] = {
    [0] = offsetof(swx_plugin_t, on_worker_exit),
    [1] = offsetof(swx_plugin_t, on_task),
    [2] = offsetof(swx_plugin_t, on_before_shutdown),
    [3] = offsetof(swx_plugin_t, on_before_shutdown), /* 1.3 added functions
                                                         only */
    [4] = offsetof(swx_plugin_t, on_before_shutdown), /* 1.4 grew
                                   swx_conninfo_t and swx_http_request_t */
    [5] = sizeof(swx_plugin_t),
    [6] = sizeof(swx_plugin_t), /* 1.6 added the coroutine functions and
                                   grew swx_conninfo_t (TLS) */
    [7] = sizeof(swx_plugin_t), /* 1.7 added coroutine I/O functions */
    [8] = sizeof(swx_plugin_t), /* 1.8 added swx_http_trailer */
};

#define PLUGIN_HEAD_SIZE (offsetof(swx_plugin_t, size) + sizeof(uint32_t))

int plugin_abi_check(const swx_plugin_t *d, char *err, size_t errlen)
{
    if (d->magic != SWX_PLUGIN_MAGIC) {
        snprintf(err, errlen, "symbol swx_plugin has magic 0x%08x, not "
                 "0x%08x: not a swx plugin description", d->magic,
                 SWX_PLUGIN_MAGIC);
        return -1;
    }
    if (d->abi_major != SWX_ABI_MAJOR || d->abi_minor > SWX_ABI_MINOR) {
        snprintf(err, errlen, "plugin ABI %u.%u, server ABI %d.%d: rebuild "
                 "the plugin against this server's swx_plugin.h",
                 d->abi_major, d->abi_minor, SWX_ABI_MAJOR, SWX_ABI_MINOR);
        return -1;
    }
    if (d->size != plugin_size_by_minor[d->abi_minor]) {
        snprintf(err, errlen, "plugin ABI %u.%u declares a description of %u "
                 "bytes, ABI %u.%u has %u: rebuild the plugin against this "
                 "server's swx_plugin.h", d->abi_major, d->abi_minor, d->size,
                 d->abi_major, d->abi_minor,
                 plugin_size_by_minor[d->abi_minor]);
        return -1;
    }
    if (d->api_slot == NULL) {
        snprintf(err, errlen, "api_slot is NULL: declare the plugin with "
                 "SWX_PLUGIN(...)");
        return -1;
    }
    return 0;
}

/* The ELF size of the symbol, so we never read past the plugin's object. */
static size_t plugin_symbol_size(const void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 ||
        sym == NULL)
        return 0;
    return sym->st_size;
}

static int plugin_fail(plugin_t *p, char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "plugin \"%s\" (%s): %s", p->cfg->name,
             p->cfg->resolved, why);
    plugin_unload(p);
    return -1;
}

static int plugin_bind(plugin_t *p, const swx_plugin_t *d, char *err,
                       size_t errlen)
{
    char why[512];
    size_t symsize = plugin_symbol_size(d);
    if (symsize < PLUGIN_HEAD_SIZE || symsize < d->size) {
        snprintf(why, sizeof(why), "symbol swx_plugin is %zu bytes, too "
                 "small for the swx plugin description it claims to be",
                 symsize);
        return plugin_fail(p, err, errlen, why);
    }
    if (plugin_abi_check(d, why, sizeof(why)) < 0)
        return plugin_fail(p, err, errlen, why);
    memset(&p->desc, 0, sizeof(p->desc));
    memcpy(&p->desc, d, d->size < sizeof(p->desc) ? d->size : sizeof(p->desc));
    p->name = p->desc.name ? p->desc.name : p->cfg->name;
    return 0;
}

int plugin_load(plugin_t *p, const config_plugin_t *cfg, const swx_api_t *api,
                char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->handle = dlopen(cfg->resolved, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL)
        return plugin_fail(p, err, errlen, dlerror());
    dlerror();
    const swx_plugin_t *d = dlsym(p->handle, "swx_plugin");
    if (d == NULL) {
        const char *e = dlerror();
        return plugin_fail(p, err, errlen,
                           e ? e : "symbol swx_plugin is NULL");
    }
    if (plugin_bind(p, d, err, errlen) < 0)
        return -1;
    p->config = json_loads(cfg->config_json, 0, NULL);
    *p->desc.api_slot = api;
    return 0;
}

void plugin_unload(plugin_t *p)
{
    if (p->config != NULL)
        json_decref(p->config);
    if (p->handle != NULL)
        dlclose(p->handle);
    p->config = NULL;
    p->handle = NULL;
}

int plugin_check_all(const config_t *cfg, const swx_api_t *api, char *err,
                     size_t errlen)
{
    for (int i = 0; i < cfg->nplugins; i++) {
        plugin_t p;
        if (plugin_load(&p, &cfg->plugins[i], api, err, errlen) < 0)
            return -1;
        log_debug("plugin \"%s\" (%s): ABI %u.%u, checked", p.name,
                  cfg->plugins[i].resolved, p.desc.abi_major,
                  p.desc.abi_minor);
        plugin_unload(&p);
        /* A library marked NODELETE stays mapped, and workers would inherit
         * this copy instead of reading the file again on reload. */
        void *still = dlopen(cfg->plugins[i].resolved,
                             RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
        if (still != NULL) {
            log_warn("plugin \"%s\" (%s) stays mapped after dlclose; workers "
                     "inherit this copy", cfg->plugins[i].name,
                     cfg->plugins[i].resolved);
            dlclose(still);
        }
    }
    return 0;
}

static json_t *plugin_member(const plugin_t *p, const char *key)
{
    return p->config ? json_object_get(p->config, key) : NULL;
}

const char *plugin_config_string(const plugin_t *p, const char *key,
                                 const char *def)
{
    json_t *v = plugin_member(p, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

long long plugin_config_int(const plugin_t *p, const char *key, long long def)
{
    json_t *v = plugin_member(p, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

int plugin_config_bool(const plugin_t *p, const char *key, int def)
{
    json_t *v = plugin_member(p, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}
