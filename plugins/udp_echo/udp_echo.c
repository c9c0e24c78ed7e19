/* udp_echo.c: the UDP echo plugin: every datagram goes back to its sender. */
#include <swx_plugin.h>

static void udp_echo_packet(const swx_peer_t *peer, const void *data,
                            size_t len)
{
    int rc = swx_sendto(peer, data, len);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "udp_echo: reply to %s:%d failed (%d)",
                peer->addr, peer->port, rc);
}

SWX_PLUGIN(.name = "udp_echo", .on_packet = udp_echo_packet);
