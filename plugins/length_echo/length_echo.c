/* length_echo.c: a length-framed service: each message is a 4-byte
 * big-endian body length and the body (listener: open_length_check,
 * package_length_type "N", package_body_offset 4); it answers each with the
 * same framing and the body upper-cased, one reply per message however the
 * bytes arrived. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <swx_plugin.h>

static void length_echo_receive(uint64_t session, const void *data, size_t len)
{
    if (len < 4)
        return;
    unsigned char *out = malloc(len);
    if (out == NULL) {
        swx_close(session);
        return;
    }
    memcpy(out, data, 4);
    for (size_t i = 4; i < len; i++)
        out[i] = (unsigned char)toupper(((const unsigned char *)data)[i]);
    swx_send(session, out, len);
    free(out);
}

SWX_PLUGIN(.name = "length_echo", .on_receive = length_echo_receive);
