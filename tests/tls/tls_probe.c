/* tls_probe.c: the TLS test plugin: on_connect greets each connection with
 * what it negotiated (the ABI 1.6 fields of swx_conninfo_t) as one line,
 * "T v=VERSION c=CIPHER s=SNI a=ALPN sub=SUBJECT ok=VERIFIED p=PEER\n"
 * ("-" for what is empty), then every byte received is echoed. */
#include <stdio.h>

#include <swx_plugin.h>

static const char *or_dash(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

static void tls_probe_connect(uint64_t session, const swx_conninfo_t *ci)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "T v=%s c=%s s=%s a=%s sub=%s "
                     "ok=%d p=%s\n", or_dash(ci->tls_version),
                     or_dash(ci->tls_cipher), or_dash(ci->tls_sni),
                     or_dash(ci->tls_alpn), or_dash(ci->tls_client_subject),
                     ci->tls_client_verified, ci->peer_addr);
    if (swx_send(session, line, (size_t)n) < 0)
        swx_log(SWX_LOG_WARNING, "tls_probe: session %llu: greeting failed",
                (unsigned long long)session);
}

static void tls_probe_receive(uint64_t session, const void *data, size_t len)
{
    if (swx_send(session, data, len) < 0)
        swx_log(SWX_LOG_WARNING, "tls_probe: session %llu: echo failed",
                (unsigned long long)session);
}

SWX_PLUGIN(.name = "tls_probe",
           .on_connect = tls_probe_connect,
           .on_receive = tls_probe_receive);
