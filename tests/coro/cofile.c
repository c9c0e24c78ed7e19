/* cofile.c: the plugin the files-and-programs tests drive (swx_co_file_*,
 * swx_co_exec) with one-line commands over TCP, each answered with one line
 * of name=value words (data in hex), and an HTTP handler that streams with
 * swx_http_write for the slow-reader test. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

#define LINE_MAX_LEN 16384
#define HEX_MAX 4096 /* bytes of data shown in a reply */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(uint64_t session, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply(uint64_t session, const char *fmt, ...)
{
    char *line = malloc(LINE_MAX_LEN);
    if (line == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, LINE_MAX_LEN - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n > LINE_MAX_LEN - 2)
        n = LINE_MAX_LEN - 2;
    line[n++] = '\n';
    swx_send(session, line, (size_t)n);
    free(line);
}

/* hex of up to HEX_MAX bytes of p, in a static buffer ("-" when none). */
static const char *hex(const void *p, int64_t len)
{
    static char out[2 * HEX_MAX + 2];
    const unsigned char *b = p;
    if (p == NULL || len <= 0)
        return "-";
    if (len > HEX_MAX)
        len = HEX_MAX;
    for (int64_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return out;
}

/* Decode hex into a malloc'd buffer; its length in *len. */
static unsigned char *unhex(const char *s, size_t *len)
{
    size_t n = strcmp(s, "-") == 0 ? 0 : strlen(s) / 2;
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; b != NULL && i < n; i++) {
        unsigned v = 0;
        sscanf(s + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    *len = n;
    return b;
}

/* ---- files ---- */

static void cmd_readfile(uint64_t session, const char *path, long max,
                         long timeout)
{
    void *data = NULL;
    long long t0 = now_ms();
    int64_t rc = swx_co_file_read(path, (size_t)max, &data, timeout);
    int nul = rc >= 0 && data != NULL && ((char *)data)[rc] == '\0';
    reply(session, "readfile rc=%lld nul=%d ms=%lld hex=%s", (long long)rc,
          nul, now_ms() - t0, hex(data, rc));
    swx_free(data);
}

static void cmd_writefile(uint64_t session, const char *path, int flags,
                          const char *hexdata)
{
    size_t len;
    unsigned char *data = unhex(hexdata, &len);
    int64_t rc = swx_co_file_write(path, data, len, flags, -1);
    free(data);
    reply(session, "writefile rc=%lld", (long long)rc);
}

/* Range commands work on a file the plugin opens itself (a quick open of
 * a local file; the transfer is what waits). */
static void cmd_pread(uint64_t session, const char *path, long long off,
                      long len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = malloc((size_t)len + 1);
    int64_t rc = fd < 0 ? -errno
                        : swx_co_file_pread(fd, buf, (size_t)len, off, -1);
    reply(session, "pread rc=%lld hex=%s", (long long)rc, hex(buf, rc));
    free(buf);
    if (fd >= 0)
        close(fd);
}

static void cmd_pwrite(uint64_t session, const char *path, long long off,
                       const char *hexdata)
{
    size_t len;
    unsigned char *data = unhex(hexdata, &len);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    int64_t rc = fd < 0 ? -errno
                        : swx_co_file_pwrite(fd, data, len, off, -1);
    reply(session, "pwrite rc=%lld", (long long)rc);
    free(data);
    if (fd >= 0)
        close(fd);
}

/* pread of a pipe: refused (-ESPIPE), a thread could block on it. */
static void cmd_pipe(uint64_t session)
{
    int p[2];
    char b[8];
    if (pipe(p) < 0) {
        reply(session, "pipe rc=%d", -errno);
        return;
    }
    int64_t rc = swx_co_file_pread(p[0], b, sizeof(b), -1, 1000);
    close(p[0]);
    close(p[1]);
    reply(session, "pipe rc=%lld", (long long)rc);
}

/* Read the file n times (the pattern byte i = i % 251 checked at 4096
 * places each time); the loop serves others between and during reads. */
static void cmd_readloop(uint64_t session, const char *path, long n)
{
    long long t0 = now_ms();
    int64_t rc = 0, len = 0;
    long done = 0, bad = 0;
    for (; done < n; done++) {
        void *data = NULL;
        rc = swx_co_file_read(path, 0, &data, 60000);
        if (rc < 0)
            break;
        const unsigned char *b = data;
        for (int64_t i = 0; i < rc; i += rc / 4096 + 1)
            bad += b[i] != i % 251;
        bad += rc > 0 && b[rc - 1] != (rc - 1) % 251;
        len = rc;
        swx_free(data);
    }
    swx_log(SWX_LOG_NOTICE, "cofile: readloop ended rc=%lld after %ld",
            (long long)rc, done);
    reply(session, "readloop rc=%lld reads=%ld len=%lld bad=%ld ms=%lld",
          (long long)(rc < 0 ? rc : 0), done, (long long)len, bad,
          now_ms() - t0);
}

/* Read the file again and again for ms milliseconds: one coroutine that
 * keeps a pool thread busy, for the pool's growth and shrink test. */
static void cmd_readfor(uint64_t session, const char *path, long ms)
{
    long long t0 = now_ms();
    int64_t rc = 0;
    long reads = 0;
    while (now_ms() - t0 < ms) {
        void *data = NULL;
        rc = swx_co_file_read(path, 0, &data, 60000);
        swx_free(data);
        if (rc < 0)
            break;
        reads++;
    }
    reply(session, "readfor rc=%lld reads=%ld ms=%lld",
          (long long)(rc < 0 ? rc : 0), reads, now_ms() - t0);
}

/* A range read that times out at once into a buffer freed right after:
 * the thread must not write into it (AddressSanitizer would see it). */
static void cmd_abandon(uint64_t session, const char *path, long len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = malloc((size_t)len);
    int64_t a = fd < 0 ? -errno
                       : swx_co_file_pread(fd, buf, (size_t)len, 0, 0);
    free(buf);
    if (fd >= 0)
        close(fd);
    void *data = NULL;
    int64_t b = swx_co_file_read(path, 0, &data, 0);
    swx_free(data);
    reply(session, "abandon pread=%lld read=%lld", (long long)a,
          (long long)b);
}

/* ---- programs ---- */

static void cmd_exec(uint64_t session, long timeout, long max, int flags,
                     const char *command)
{
    swx_co_exec_result_t r;
    long long t0 = now_ms();
    int rc = swx_co_exec(command, flags, (size_t)max, timeout, &r);
    swx_log(SWX_LOG_NOTICE, "cofile: exec ended rc=%d signal=%d", rc,
            r.signal);
    reply(session, "exec rc=%d code=%d signal=%d len=%zu null=%d ms=%lld "
          "hex=%s", rc, r.code, r.signal, r.len, r.output == NULL,
          now_ms() - t0, hex(r.output, (int64_t)r.len));
    swx_free(r.output);
}

static void cmd_execv(uint64_t session, const char *prog)
{
    const char *argv[] = {prog, "x", NULL};
    swx_co_exec_result_t r;
    int rc = swx_co_execv(argv, 0, 100, 5000, &r);
    reply(session, "execv rc=%d code=%d", rc, r.code);
    swx_free(r.output);
}

/* ---- outside a coroutine: on_worker_start ---- */

static int on_worker_start(int worker_id)
{
    void *data = NULL;
    char b[4];
    swx_co_exec_result_t r;
    swx_log(SWX_LOG_NOTICE, "cofile: outside worker=%d read=%lld "
            "write=%lld pread=%lld pwrite=%lld exec=%d", worker_id,
            (long long)swx_co_file_read("/etc/hostname", 0, &data, -1),
            (long long)swx_co_file_write("/nonexistent/x", "x", 1, 0, -1),
            (long long)swx_co_file_pread(0, b, sizeof(b), 0, -1),
            (long long)swx_co_file_pwrite(1, "x", 1, -1, -1),
            swx_co_exec("true", 0, 10, -1, &r));
    return 0;
}

/* ---- commands ---- */

static void on_line(uint64_t session, char *line)
{
    char a[512], b[LINE_MAX_LEN];
    long x = 0, y = 0, z = 0;
    long long off = 0;
    int n = 0;
    if (sscanf(line, "readfile %511s %ld %ld", a, &x, &y) == 3)
        cmd_readfile(session, a, x, y);
    else if (sscanf(line, "writefile %511s %ld %16383s", a, &x, b) == 3)
        cmd_writefile(session, a, (int)x, b);
    else if (sscanf(line, "pread %511s %lld %ld", a, &off, &x) == 3)
        cmd_pread(session, a, off, x);
    else if (sscanf(line, "pwrite %511s %lld %16383s", a, &off, b) == 3)
        cmd_pwrite(session, a, off, b);
    else if (sscanf(line, "readloop %511s %ld", a, &x) == 2)
        cmd_readloop(session, a, x);
    else if (sscanf(line, "readfor %511s %ld", a, &x) == 2)
        cmd_readfor(session, a, x);
    else if (sscanf(line, "abandon %511s %ld", a, &x) == 2)
        cmd_abandon(session, a, x);
    else if (sscanf(line, "exec %ld %ld %ld %n", &x, &y, &z, &n) == 3 && n)
        cmd_exec(session, x, y, (int)z, line + n);
    else if (sscanf(line, "execv %511s", a) == 1)
        cmd_execv(session, a);
    else if (strcmp(line, "pipe") == 0)
        cmd_pipe(session);
    else if (strcmp(line, "ping") == 0)
        reply(session, "pong %d", (int)getpid());
    else
        reply(session, "unknown %s", line);
}

static void on_receive(uint64_t session, const void *data, size_t len)
{
    char *line = malloc(len + 1);
    if (line == NULL)
        return;
    memcpy(line, data, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    on_line(session, line);
    free(line);
}

/* ---- GET /stream?mb=N: N MiB with swx_http_write in 64 KiB writes ---- */

static void on_request(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    static char chunk[65536];
    char mb[16] = "1";
    swx_http_query_param(req, "mb", mb, sizeof(mb));
    memset(chunk, 'x', sizeof(chunk));
    long n = atol(mb) * 16;
    int rc = 0;
    long i = 0;
    for (; i < n && rc == 0; i++)
        rc = swx_http_write(resp, chunk, sizeof(chunk));
    swx_log(SWX_LOG_NOTICE, "cofile: stream rc=%d chunks=%ld of %ld", rc, i,
            n);
    swx_http_end(resp, NULL, 0);
}

SWX_PLUGIN(.name = "cofile", .on_worker_start = on_worker_start,
           .on_receive = on_receive, .on_request = on_request);
