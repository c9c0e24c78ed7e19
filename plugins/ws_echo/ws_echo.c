/* ws_echo.c: the WebSocket example plugin: every message goes back to its
 * sender with its opcode (text as text, binary as binary). */
#include <swx_plugin.h>

static void ws_echo_open(uint64_t session, const swx_http_request_t *req)
{
    swx_log(SWX_LOG_DEBUG, "ws_echo: session %llu opened %.*s from %s",
            (unsigned long long)session, (int)req->path_len, req->path,
            req->peer_addr);
}

static void ws_echo_message(uint64_t session, int opcode, const void *data,
                            size_t len)
{
    int rc = swx_ws_push(session, data, len, opcode);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "ws_echo: session %llu: push failed (%d)",
                (unsigned long long)session, rc);
}

static void ws_echo_close(uint64_t session, int code)
{
    swx_log(SWX_LOG_DEBUG, "ws_echo: session %llu closed with %d",
            (unsigned long long)session, code);
}

SWX_PLUGIN(.name = "ws_echo",
           .on_open = ws_echo_open,
           .on_message = ws_echo_message,
           .on_ws_close = ws_echo_close);
