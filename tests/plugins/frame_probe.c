/* frame_probe.c: a test plugin that shows exactly what each callback got, so
 * tests can check message boundaries (EOF and length framing), which worker
 * and which listener an event reached, and dispatch by IP or uid.
 *
 * Every on_receive and every on_packet is answered with one record:
 *   "M w=WORKER l=LISTENER b=BIND n=LEN\n" followed by the LEN bytes the
 *   callback received, unchanged.
 * LISTENER is swx_listener(). BIND is 0, or, when the message contains
 * "bind=UID" (UID decimal), the result of swx_bind(session, UID) made before
 * the record is sent. A datagram's record goes back to it with swx_sendto,
 * in one datagram.
 *
 * Config: "greet": true makes on_connect send
 *   "C w=WORKER l=LISTENER p=SERVER_PORT a=PEER_ADDR pp=PEER_PORT
 *    x=PROXY_ADDR:PROXY_PORT\n" (one line; x=- when there is no proxy)
 * with what swx_conninfo_t says, before any record of that connection.
 * "packet_sleep_ms": N makes on_packet sleep N ms first: a worker that
 * cannot keep up with a flood of datagrams.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <swx_plugin.h>

#define FRAME_HEAD_MAX 96

/* The uid after "bind=" in data, or -1 when there is none. */
static long long frame_bind_uid(const char *data, size_t len)
{
    static const char key[] = "bind=";
    const char *p = memmem(data, len, key, sizeof(key) - 1);
    if (p == NULL)
        return -1;
    p += sizeof(key) - 1;
    long long uid = 0;
    int digits = 0;
    while (p < data + len && *p >= '0' && *p <= '9' && digits < 10) {
        uid = uid * 10 + (*p - '0');
        p++;
        digits++;
    }
    return digits > 0 && uid <= 0xffffffffll ? uid : -1;
}

/* The record for data in a buffer of its own: head + data. */
static char *frame_record(const void *data, size_t len, int bind_rc,
                          size_t *out_len)
{
    char head[FRAME_HEAD_MAX];
    int n = snprintf(head, sizeof(head), "M w=%d l=%d b=%d n=%zu\n",
                     swx_worker_id(), swx_listener(), bind_rc, len);
    char *rec = malloc((size_t)n + len);
    if (rec == NULL)
        return NULL;
    memcpy(rec, head, (size_t)n);
    if (len > 0)
        memcpy(rec + n, data, len);
    *out_len = (size_t)n + len;
    return rec;
}

static void frame_receive(uint64_t session, const void *data, size_t len)
{
    int bind_rc = 0;
    long long uid = frame_bind_uid(data, len);
    if (uid >= 0)
        bind_rc = swx_bind(session, (uint32_t)uid);
    size_t rec_len;
    char *rec = frame_record(data, len, bind_rc, &rec_len);
    if (rec == NULL) {
        swx_log(SWX_LOG_ERROR, "frame_probe: session %llu: out of memory",
                (unsigned long long)session);
        swx_close(session);
        return;
    }
    int rc = swx_send(session, rec, rec_len);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "frame_probe: session %llu: swx_send: %d",
                (unsigned long long)session, rc);
    free(rec);
}

static void frame_sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void frame_packet(const swx_peer_t *peer, const void *data, size_t len)
{
    long long ms = swx_config_int("packet_sleep_ms", 0);
    if (ms > 0 && ms <= 1000)
        frame_sleep_ms(ms);
    size_t rec_len;
    char *rec = frame_record(data, len, 0, &rec_len);
    if (rec == NULL) {
        swx_log(SWX_LOG_ERROR, "frame_probe: datagram: out of memory");
        return;
    }
    int rc = swx_sendto(peer, rec, rec_len);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "frame_probe: reply to %s:%d (%zu bytes): "
                "%d", peer->addr, peer->port, rec_len, rc);
    free(rec);
}

static void frame_connect(uint64_t session, const swx_conninfo_t *info)
{
    if (!swx_config_bool("greet", 0))
        return;
    char line[FRAME_HEAD_MAX + 2 * sizeof(info->peer_addr)];
    char proxy[64] = "-";
    if (info->proxy_addr[0] != '\0')
        snprintf(proxy, sizeof(proxy), "%s:%d", info->proxy_addr,
                 info->proxy_port);
    int n = snprintf(line, sizeof(line), "C w=%d l=%d p=%d a=%s pp=%d x=%s\n",
                     swx_worker_id(), info->listener, info->server_port,
                     info->peer_addr, info->peer_port, proxy);
    int rc = swx_send(session, line, (size_t)n);
    if (rc < 0)
        swx_log(SWX_LOG_WARNING, "frame_probe: session %llu: greeting: %d",
                (unsigned long long)session, rc);
}

SWX_PLUGIN(.name = "frame_probe",
           .on_connect = frame_connect,
           .on_receive = frame_receive,
           .on_packet = frame_packet);
