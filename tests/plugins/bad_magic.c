/* bad_magic.c: a "swx_plugin" symbol whose magic is wrong, as when the
 * name is taken by something that is not a swx plugin description. */
#include <swx_plugin.h>

static void bad_magic_receive(uint64_t session, const void *data, size_t len)
{
    swx_send(session, data, len);
}

__attribute__((visibility("default"))) const swx_plugin_t swx_plugin = {
    .magic = 0x0badf00du,
    .abi_major = SWX_ABI_MAJOR,
    .abi_minor = SWX_ABI_MINOR,
    .size = sizeof(swx_plugin_t),
    .name = "bad_magic",
    .api_slot = &swx_api_,
    .on_receive = bad_magic_receive,
};
