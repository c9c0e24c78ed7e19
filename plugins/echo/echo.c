/* echo.c: the TCP echo plugin: every byte a client sends comes back. */
#include <swx_plugin.h>

static void echo_receive(uint64_t session, const void *data, size_t len)
{
    int rc = swx_send(session, data, len);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "echo: session %llu: send failed (%d)",
                (unsigned long long)session, rc);
}

SWX_PLUGIN(.name = "echo", .on_receive = echo_receive);
