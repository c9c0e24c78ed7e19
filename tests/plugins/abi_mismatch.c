/* abi_mismatch.c: a plugin built as if against the next major ABI; the
 * server must refuse it before calling anything of it. */
#include <swx_plugin.h>

static void mismatch_receive(uint64_t session, const void *data, size_t len)
{
    swx_send(session, data, len);
}

/* Filled by hand, not with SWX_PLUGIN, to claim another major. */
__attribute__((visibility("default"))) const swx_plugin_t swx_plugin = {
    .magic = SWX_PLUGIN_MAGIC,
    .abi_major = SWX_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(swx_plugin_t),
    .name = "abi_mismatch",
    .api_slot = &swx_api_,
    .on_receive = mismatch_receive,
};
