/* abi_1_7.c: an HTTP plugin as one built against ABI 1.7 is: its
 * description says minor 7, and it calls only what the 1.7 function
 * table had (ABI 1.8 appended http_trailer to it). The server must load
 * it and serve its responses: "v1.7:PATH", streamed with swx_http_write
 * and ended, with a header of its own. */
#include <string.h>

#include <swx_plugin.h>

/* The 1.7 table ended with co_exec: 1.8 only appended after it. */
_Static_assert(offsetof(swx_api_t, http_trailer) ==
                   offsetof(swx_api_t, co_exec) + sizeof(void (*)(void)),
               "ABI 1.8 appended http_trailer after the 1.7 table");

static void old_request(const swx_http_request_t *req,
                        swx_http_response_t *resp)
{
    swx_http_header(resp, "X-Abi", "1.7");
    swx_http_write(resp, "v1.7:", 5);
    swx_http_write(resp, req->path, req->path_len);
    swx_http_end(resp, "\n", 1);
}

/* swx_plugin_t did not change in 1.8: only the minor says 1.7. */
__attribute__((visibility("default"))) const swx_plugin_t swx_plugin = {
    .magic = SWX_PLUGIN_MAGIC,
    .abi_major = 1,
    .abi_minor = 7,
    .size = sizeof(swx_plugin_t),
    .name = "abi_1_7",
    .api_slot = &swx_api_,
    .on_request = old_request,
};
