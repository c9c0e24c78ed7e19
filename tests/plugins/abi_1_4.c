/* abi_1_4.c: a plugin as one built against ABI 1.4 is: its description
 * ends after on_ws_close, before the on_before_shutdown that 1.5 appended.
 * The server must load it, read the missing callback as NULL, serve it and
 * stop cleanly. It echoes every read with "v1.4:" in front, and its
 * on_shutdown logs a line, so a test sees it ran in full. */
#include <stddef.h>
#include <string.h>

#include <swx_plugin.h>

typedef void (*fn_t)(void);

/* swx_plugin_t as ABI 1.4 defined it: the header, then every callback up
 * to on_ws_close (those this plugin does not use as plain pointers). */
typedef struct plugin_1_4 {
    uint32_t magic;
    uint16_t abi_major, abi_minor;
    uint32_t size;
    const char *name;
    const struct swx_api **api_slot;
    int (*on_worker_start)(int worker_id);
    fn_t on_worker_stop, on_connect;
    void (*on_receive)(uint64_t session, const void *data, size_t len);
    fn_t on_close, on_worker_exit, on_worker_error, on_start;
    void (*on_shutdown)(void);
    fn_t on_manager_start, on_manager_stop, on_task, on_finish,
        on_pipe_message, on_process_start, on_packet, on_request, on_open,
        on_message, on_ws_close;
} plugin_1_4_t;

_Static_assert(sizeof(plugin_1_4_t) ==
                   offsetof(swx_plugin_t, on_before_shutdown),
               "the 1.4 description ends where on_before_shutdown begins");
_Static_assert(offsetof(plugin_1_4_t, on_shutdown) ==
                   offsetof(swx_plugin_t, on_shutdown),
               "the 1.4 layout is the 1.5 one up to its end");

static void old_receive(uint64_t session, const void *data, size_t len)
{
    char reply[4096];
    if (len > sizeof(reply) - 5)
        len = sizeof(reply) - 5;
    memcpy(reply, "v1.4:", 5);
    memcpy(reply + 5, data, len);
    swx_send(session, reply, len + 5);
}

static void old_shutdown(void)
{
    swx_log(SWX_LOG_NOTICE, "abi 1.4 plugin: on_shutdown");
}

__attribute__((visibility("default"))) const plugin_1_4_t swx_plugin = {
    .magic = SWX_PLUGIN_MAGIC,
    .abi_major = 1,
    .abi_minor = 4,
    .size = sizeof(plugin_1_4_t),
    .name = "abi_1_4",
    .api_slot = &swx_api_,
    .on_receive = old_receive,
    .on_shutdown = old_shutdown,
};
