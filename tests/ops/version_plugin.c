/* version_plugin.c: a test plugin built several times with a different
 * VERSION, so that the operations tests can see which build of a plugin
 * file served a request after a reload.
 *
 * Every delivery is answered with "vVERSION:" followed by the bytes received
 * (clients send one short line at a time, which arrives in one read), with
 * two exceptions:
 *   "pid\n"      -> "vVERSION:pid WORKER_ID PID\n"
 *   "log TEXT\n" -> writes "version VERSION: log TEXT" to the server log with
 *                   swx_log, then answers like any other line.
 * Config: "start_delay_ms": N makes on_worker_start sleep N ms first (a wide
 * reload window); "with_pid": true puts "PID:" after "vVERSION:" in every
 * answer.
 * Built with -DFAIL_START, on_worker_start returns 1: a build that must
 * never replace a working one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

#ifndef VERSION
#define VERSION 1
#endif

#define VERSION_MAX_REPLY 65536

static int with_pid;

static void version_sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int version_prefix(char *buf, size_t cap)
{
    if (with_pid)
        return snprintf(buf, cap, "v%d:%d:", VERSION, (int)getpid());
    return snprintf(buf, cap, "v%d:", VERSION);
}

static void version_receive(uint64_t session, const void *data, size_t len)
{
    static char reply[VERSION_MAX_REPLY + 64];
    int n = version_prefix(reply, 64);
    if (len == 4 && memcmp(data, "pid\n", 4) == 0) {
        n += snprintf(reply + n, 64, "pid %d %d\n", swx_worker_id(),
                      (int)getpid());
    } else {
        if (len > VERSION_MAX_REPLY)
            len = VERSION_MAX_REPLY;
        if (len > 4 && memcmp(data, "log ", 4) == 0)
            swx_log(SWX_LOG_NOTICE, "version %d: %.*s", VERSION,
                    (int)(len - 1), (const char *)data);
        memcpy(reply + n, data, len);
        n += (int)len;
    }
    int rc = swx_send(session, reply, (size_t)n);
    if (rc < 0 && rc != -ENOTCONN)
        swx_log(SWX_LOG_WARNING, "version %d: swx_send: %d", VERSION, rc);
}

static int version_worker_start(int worker_id)
{
    long long delay = swx_config_int("start_delay_ms", 0);
    with_pid = swx_config_bool("with_pid", 0);
    if (delay > 0)
        version_sleep_ms(delay);
    swx_log(SWX_LOG_INFO, "version %d: worker %d (pid %d) started", VERSION,
            worker_id, (int)getpid());
#ifdef FAIL_START
    swx_log(SWX_LOG_ERROR, "version %d: refusing to start (built with "
            "FAIL_START)", VERSION);
    return 1;
#else
    return 0;
#endif
}

SWX_PLUGIN(.name = "version",
           .on_worker_start = version_worker_start,
           .on_receive = version_receive);
